/* scansnap — train 1-layer transformers and watch how they learn (Tian et al., "Scan and Snap").
 *
 * The public API of libscansnap: this header is the whole of it (the headers under scansnap/
 * are the library's own and are not installed). README, "Using scansnap from programs".
 *
 *   ss_err    *e   = ss_err_new();
 *   ss_config *cfg = ss_config_new();                 the built-in defaults = Figure 4
 *   ss_config_set(cfg, "opt.lr_z", "2", e);           the CLI's dotted keys and aliases
 *   ss_run *run = ss_run_new();
 *   if (ss_run_train(run, cfg, e) != SS_OK) fprintf(stderr, "%s\n", ss_err_message(e));
 *   int64_t n; const double *H = ss_run_column(run, "entropy", &n);   H[n-1]
 *   ss_run_free(run); ss_config_free(cfg); ss_err_free(e);
 *
 * Conventions
 * - Handles (ss_err, ss_config, ss_run, ss_grid, ss_comparison) are opaque, made by *_new and
 *   released by *_free (NULL is accepted by every *_free).
 * - A function that can fail returns a status (SS_OK or an SS_E* code) and takes an ss_err *
 *   as its last argument, which receives the code and a one-line message (the same text the
 *   command line prints). err may be NULL.
 * - Results are plain arrays owned by their handle: valid until the handle is freed, never to
 *   be freed by the caller. Multi-dimensional arrays are C order (row-major).
 * - The library never prints, never exits, never installs signal handlers and never changes
 *   the program's process-wide settings. Runs are stopped by ss_run_request_stop (any thread,
 *   async-signal-safe) or by a callback that returns nonzero.
 * - One handle is used by one thread at a time (except ss_*_request_stop); separate handles
 *   may run concurrently in separate threads. Same configuration and seed give bit-identical
 *   results, whatever the number of threads (the key `threads`). */
#ifndef SCANSNAP_H
#define SCANSNAP_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SS_API __attribute__((visibility("default")))
#else
#define SS_API
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (the SONAME is libscansnap.so.MAJOR). */
SS_API const char *ss_version(void);

/* ---- status codes ------------------------------------------------------------------------- */
enum {
  SS_OK = 0,
  SS_ERUN = 1,     /* the run itself failed (I/O, a worker that died) */
  SS_EINPUT = 2,   /* bad input: key, value, file; found before anything is created */
  SS_EDIVERGE = 3, /* the run diverged (NaN/Inf or a runaway loss); the last checkpoint is kept */
  SS_ESTOP = 4     /* stopped on request at a step boundary; a training run wrote a checkpoint */
};

/* ---- errors ------------------------------------------------------------------------------- */
typedef struct ss_err ss_err;
SS_API ss_err *ss_err_new(void);
SS_API void ss_err_free(ss_err *err);
/* The last failure's code (SS_OK when none) and message ("" when none). */
SS_API int ss_err_code(const ss_err *err);
SS_API const char *ss_err_message(const ss_err *err);

/* ---- configurations ----------------------------------------------------------------------
 * Every knob has a dotted name (`scansnap --help` lists them; ss_config_nkeys/_key_* below),
 * the paper's names are aliases (L, d, H, dataset2.*, model2.*). A new configuration holds the
 * built-in defaults (the paper's Figure-4 run); YAML files and single keys go on top, in the
 * order given, as on the command line. Values are text, parsed by the key's type. */
typedef struct ss_config ss_config;
SS_API ss_config *ss_config_new(void);
SS_API ss_config *ss_config_copy(const ss_config *cfg);
SS_API void ss_config_free(ss_config *cfg);
/* One key. An unknown key names the nearest valid one; a bad value says what was expected. */
SS_API int ss_config_set(ss_config *cfg, const char *key, const char *value, ss_err *err);
/* A YAML file of nested keys (configs/fig4.yaml is one). */
SS_API int ss_config_load_yaml(ss_config *cfg, const char *path, ss_err *err);
/* The value of a key (canonical name or alias) as text, NUL-terminated in buf[0..n); a
 * buffer too small is SS_EINPUT saying how many bytes it needs. */
SS_API int ss_config_get(const ss_config *cfg, const char *key, char *buf, size_t n, ss_err *err);
/* The keys: i in [0, ss_config_nkeys()); NULL for i out of range. type is one of "int",
 * "float", "bool", "text", "choice" (one of the help's choices). */
SS_API int ss_config_nkeys(void);
SS_API const char *ss_config_key_name(int i);
SS_API const char *ss_config_key_type(int i);
SS_API const char *ss_config_key_default(int i);
SS_API const char *ss_config_key_help(int i);

/* ---- runs ----------------------------------------------------------------------------------
 * A run handle holds one run: made empty by ss_run_new, given a callback, then filled by
 * exactly one of ss_run_train / _theory / _resume / _verify / _open. The run goes into the
 * directory of the key `out`, or runs/<command>-<UTC time> below the working directory, and
 * writes the same files as the command line (README, "What a run writes"); the results below
 * are read back from them, so a run opened later gives the very same arrays.
 *
 * Return values: SS_OK; SS_EINPUT (nothing was created); SS_EDIVERGE; SS_ERUN; SS_ESTOP (the
 * callback returned nonzero or ss_run_request_stop was called: a training run stopped at the
 * next step boundary with a checkpoint, resumable with ss_run_resume). After SS_EDIVERGE and
 * SS_ESTOP the rows recorded so far are readable. */
typedef struct ss_run ss_run;
/* Called after every step of a run (train, theory, resume) with the step reached, the run's
 * niter, the loss of that step and the seconds since the call began; nonzero = stop. Runs on
 * the thread that called ss_run_train & co. */
typedef int (*ss_run_callback)(void *user, int64_t step, int64_t total, double loss, double seconds);

SS_API ss_run *ss_run_new(void);
SS_API void ss_run_free(ss_run *run);
SS_API void ss_run_set_callback(ss_run *run, ss_run_callback fn, void *user);
/* Asks the running (or next) run of this handle to stop at the next step boundary. Safe from
 * any thread and from a signal handler. */
SS_API void ss_run_request_stop(ss_run *run);

/* A training run (`scansnap train`): the Y/Z model or a transformer, synthetic classes or
 * real text. cfg is copied. */
SS_API int ss_run_train(ss_run *run, const ss_config *cfg, ss_err *err);
/* The population dynamics of the same configuration (`scansnap theory`; snap.json too). */
SS_API int ss_run_theory(ss_run *run, const ss_config *cfg, ss_err *err);
/* Continues an interrupted run (`scansnap train --resume DIR`) from its checkpoint; the
 * finished run is byte-identical to one never interrupted. overrides: n "key=value" strings,
 * of which only niter= (to extend the run) and threads= are allowed (may be NULL, n = 0).
 * A run already complete at that niter is only opened. */
SS_API int ss_run_resume(ss_run *run, const char *dir, const char *const *overrides, int n, ss_err *err);
/* The paper's claims (`scansnap verify`) on cfg; claim 4 trains on the corpus at `corpus`
 * (a WikiText folder or a text file), or data.path when corpus is NULL or "", else it is a
 * SKIP naming the command that fetches one. SS_OK when the checks ran, whatever they found. */
SS_API int ss_run_verify(ss_run *run, const ss_config *cfg, const char *corpus, ss_err *err);
/* Reads a run directory written by anything (CLI, API, a sweep's point, verify). */
SS_API int ss_run_open(ss_run *run, const char *dir, ss_err *err);

/* The run directory ("" before a run). */
SS_API const char *ss_run_path(const ss_run *run);
/* What run.json says: "complete", "interrupted", "diverged", "failed", "running"; verify:
 * "complete" or "interrupted"; "" before a run. */
SS_API const char *ss_run_state(const ss_run *run);
/* The run's resolved configuration (config.yaml; NULL for verify). Owned by the run. */
SS_API const ss_config *ss_run_config(const ss_run *run);

/* Metrics (metrics.csv): nrows rows of ncolumns named columns; column 0 is "step". */
SS_API int64_t ss_run_nrows(const ss_run *run);
SS_API int ss_run_ncolumns(const ss_run *run);
SS_API const char *ss_run_column_name(const ss_run *run, int i);
/* The column called name ([*n] values), or NULL (and *n = 0) when the run has none. */
SS_API const double *ss_run_column(const ss_run *run, const char *name, int64_t *n);

/* The c_n trajectory (dynamics.safetensors): c[s][n][l] = attention composition of class n on
 * token l at save step steps[s]; shape [*steps x *classes x *tokens]. NULL when the run has
 * no dynamics.safetensors (verify); a language-model run has no classes (*classes = 0). */
SS_API const double *ss_run_cn(const ss_run *run, int64_t *steps, int64_t *classes, int64_t *tokens);
SS_API const int64_t *ss_run_steps(const ss_run *run, int64_t *n);
/* The class table: query token and next token of each class, P(l|n) [classes x tokens]. */
SS_API const int32_t *ss_run_class_query(const ss_run *run, int64_t *n);
SS_API const int32_t *ss_run_class_next(const ss_run *run, int64_t *n);
SS_API const double *ss_run_class_prob(const ss_run *run, int64_t *classes, int64_t *tokens);

/* Attention maps of a language-model run (attention.safetensors, Figure 7): a[s][h][i][j] =
 * weight of position i on position j of the probe sequence at steps[s]; shape
 * [*steps x *heads x *T x *T]. NULL when the run has none. */
SS_API const float *ss_run_attention(const ss_run *run, int64_t *steps, int64_t *heads, int64_t *T);
SS_API const int64_t *ss_run_attention_steps(const ss_run *run, int64_t *n);
/* The probe sequence: token ids [*n] and the word of position i. */
SS_API const int32_t *ss_run_attention_tokens(const ss_run *run, int64_t *n);
SS_API const char *ss_run_attention_word(const ss_run *run, int64_t i);

/* Claims of verify (claims.json): i in [0, ss_run_nclaims()). status: "PASS", "FAIL", "SKIP". */
SS_API int ss_run_nclaims(const ss_run *run);
SS_API int ss_run_claim_id(const ss_run *run, int i);
SS_API const char *ss_run_claim_name(const ss_run *run, int i);
SS_API const char *ss_run_claim_status(const ss_run *run, int i);
SS_API const char *ss_run_claim_measured(const ss_run *run, int i);
SS_API const char *ss_run_claim_why(const ss_run *run, int i);
/* The claim's numbers: k in [0, nnumbers); NaN where claims.json has null. */
SS_API int ss_run_claim_nnumbers(const ss_run *run, int i);
SS_API const char *ss_run_claim_number_name(const ss_run *run, int i, int k);
SS_API double ss_run_claim_number(const ss_run *run, int i, int k);

/* ---- comparing two runs (`scansnap compare`) ------------------------------------------------
 * Over the save steps both runs share (up to `until` when >= 0): per class n the max and mean
 * over steps of max_l |c_A[n,l] - c_B[n,l]|, and for each metrics column both have the max
 * and mean of |A - B|. */
typedef struct ss_comparison ss_comparison;
SS_API int ss_compare_dirs(const char *dir_a, const char *dir_b, int64_t until, ss_comparison **out, ss_err *err);
SS_API void ss_comparison_free(ss_comparison *c);
/* Shared save steps: how many, first and last. */
SS_API int64_t ss_comparison_nsteps(const ss_comparison *c, int64_t *first, int64_t *last);
/* Per class [*classes]; the overall max (of the class maxima) and mean (of the class means). */
SS_API const double *ss_comparison_class_max(const ss_comparison *c, int64_t *classes);
SS_API const double *ss_comparison_class_mean(const ss_comparison *c, int64_t *classes);
SS_API double ss_comparison_max(const ss_comparison *c);
SS_API double ss_comparison_mean(const ss_comparison *c);
SS_API int ss_comparison_ncolumns(const ss_comparison *c);
SS_API const char *ss_comparison_column_name(const ss_comparison *c, int i);
SS_API double ss_comparison_column_max(const ss_comparison *c, int i);
SS_API double ss_comparison_column_mean(const ss_comparison *c, int i);

/* ---- sweeps: a grid of runs (`scansnap sweep`) -----------------------------------------------
 * ss_grid_set(g, key, values): values "v1,v2,v3" (a list) or "a:b[:step]" (a range) make an
 * axis, a plain value a fixed key; besides the configuration keys: out (the sweep directory;
 * default runs/sweep-<UTC time>), jobs (worker processes, 0 = cores), theory (true:
 * population runs), reference, metric. Every point is a normal run directory; the grid runs
 * on worker processes (it forks them and waits for those only; jobs=1 runs in this process),
 * resumes what a previous call into the same out left, and writes sweep.csv and the aggregate
 * tables. The results are sweep.csv: one row per point (swept keys, status, every column of
 * the final metrics row, t0, dir), read back as text cells or numeric columns.
 *
 * A stop (the callback returns nonzero, or ss_grid_request_stop): no new point starts; a point
 * running in this process stops at a step boundary with a checkpoint; worker processes get
 * SIGTERM (without a handler for it in the program they end at once and keep their last
 * periodic checkpoint, key save_every). ss_grid_run then returns SS_ESTOP with the table of
 * what finished; the same sweep run again resumes it. */
typedef struct ss_grid ss_grid;
/* Called as points finish with points done, the total, how many failed so far and the seconds
 * since the call began; nonzero = stop (above). */
typedef int (*ss_grid_callback)(void *user, int64_t done, int64_t total, int64_t failed, double seconds);
SS_API ss_grid *ss_grid_new(void);
SS_API void ss_grid_free(ss_grid *g);
SS_API int ss_grid_set(ss_grid *g, const char *key, const char *values, ss_err *err);
/* A sweep YAML file (list values are axes, a 'sweep:' section sets the options). */
SS_API int ss_grid_load_yaml(ss_grid *g, const char *path, ss_err *err);
SS_API void ss_grid_set_callback(ss_grid *g, ss_grid_callback fn, void *user);
SS_API void ss_grid_request_stop(ss_grid *g);
/* Runs every point not yet complete. SS_OK when the sweep ran, even if some runs failed or
 * diverged (their status is in the table); SS_ESTOP when stopped; an error is about the sweep
 * itself (SS_EINPUT before anything ran: fix the grid and call again). */
SS_API int ss_grid_run(ss_grid *g, ss_err *err);
/* Reads a sweep directory's sweep.csv (any sweep the CLI or the API wrote). */
SS_API int ss_grid_open(ss_grid *g, const char *dir, ss_err *err);
SS_API const char *ss_grid_path(const ss_grid *g);
SS_API int64_t ss_grid_nrows(const ss_grid *g);
SS_API int ss_grid_ncolumns(const ss_grid *g);
SS_API const char *ss_grid_column_name(const ss_grid *g, int i);
/* Cell (row, column i) as text; a numeric column as numbers (NaN where a cell is not one). */
SS_API const char *ss_grid_cell(const ss_grid *g, int64_t row, int i);
SS_API const double *ss_grid_column(const ss_grid *g, const char *name, int64_t *n);

#ifdef __cplusplus
}
#endif
#endif
