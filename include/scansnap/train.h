/* Training: the one training loop of scansnap (ss_trainer) and the runs built on it.
 *
 * Every run — SGD on synthetic classes (Y/Z model or transformer), the language model on
 * real text, the population dynamics of src/theory, verify's in-memory trajectories — is
 * the same loop over steps s = first .. niter (SPEC §3):
 *
 *   at the boundary of step s:  save_every checkpoint of the state reached (s > first)
 *                               task boundary hook (LM: validation after an epoch)
 *                               snapshot of the state (what a checkpoint of s holds)
 *                               stop request? -> checkpoint, "interrupted", SS_ESTOP
 *   step s:                     the task's batch, forward (+ backward unless s = niter)
 *                               a metrics row at 0, every save_per_minibatch, niter (and
 *                               where the task asks: LM probes, fresh validation)
 *                               loss not finite -> SS_EDIVERGE
 *                               s = niter: done
 *                               gradients not finite -> SS_EDIVERGE
 *                               the task's update (optimizer; LM: clip + lr decay)
 *                               parameters not finite -> SS_EDIVERGE
 *
 * What differs between runs is a task (ss_task_ops): where batches come from, what a
 * forward pass is, what a row records, which extra state a checkpoint carries, which extra
 * files a finished run writes. The loop, the recording, checkpoints, stop handling,
 * divergence checks, run.json and the run-directory lock are written once, here. */
#ifndef SCANSNAP_TRAIN_H
#define SCANSNAP_TRAIN_H
#include <signal.h>

#include "scansnap/run.h"
#include "scansnap/text.h"

/* Builds the model the configuration asks for (M from the class table). */
int ss_model_from_config(const ss_config *cfg, const ss_classes *cl, ss_model **out, ss_err *err);

/* Bytes a run of cfg over a vocabulary of M tokens needs, estimated before anything is
 * allocated: parameters with gradients and optimizer moments, the batch, and the model's
 * workspace (Y/Z: per-key scratch of every sequence; transformer: activations of every
 * layer with the T x T attention, and the logits). *what names the biggest part. */
double ss_run_memory_estimate(const ss_config *cfg, int M, const char **what);
/* SS_EINPUT, naming the keys to change, when ss_run_memory_estimate exceeds max_memory_mb
 * (0: 80% of this machine's physical memory). */
int ss_check_memory(const ss_config *cfg, int M, ss_err *err);

/* ---- options of a run ------------------------------------------------------------------ */
/* Progress of a run, passed to ss_run_opts.progress after every metrics row. */
typedef struct {
  long long step, total;   /* updates done, and the run's niter */
  double loss;             /* the row's loss */
  double seconds;          /* wall time since this invocation started */
  double train_seconds;    /* of which forward/backward/update */
  double items_per_step;   /* sequences (synthetic) or tokens (language model) per update */
} ss_progress;
typedef void (*ss_progress_fn)(void *ud, const ss_progress *p);

typedef struct {
  /* Run directory (created); NULL: the run lives in memory only (no files, no lock, no
   * checkpoints; ss_trainer_recorder gives its rows). */
  const char *dir;
  const char *command;             /* recorded in run.json; NULL = "train" */
  /* Polled at every step boundary; nonzero = stop there (a positive value is the signal
   * number the message reports, a negative one a request of the program: "stopped on
   * request"). NULL: never stops. The CLI points it at the flag its SIGINT/SIGTERM handler
   * sets; the public API at its run handle's flag (ss_run_request_stop). */
  const volatile sig_atomic_t *stop;
  long step_delay_us;              /* test hook: sleep this long before every step (0 = none) */
  ss_progress_fn progress;         /* may be NULL */
  void *progress_ud;
} ss_run_opts;

void ss_run_opts_default(ss_run_opts *o);

/* ---- the language model's summary (filled by language-model runs) ----------------------- */
typedef struct {
  int epochs;
  long long steps;       /* updates done */
  double first_train_loss, final_train_loss;
  double first_valid_loss, final_valid_loss, final_valid_ppl;
  double attn_entropy_first, attn_entropy_last;
  double freq_mass_first, freq_mass_last, freq_mass_uniform;
  double ctx_mass_first, ctx_mass_last, ctx_mass_uniform; /* freq_mass_ctx: context j < i only */
  double self_mass_first, self_mass_last;
  double seconds_tokenize, seconds_train, seconds_valid;
  double tokens_per_second;
  int V, cache_built; /* cache_built: the token cache was (re)built by this run */
  int64_t train_tokens;
  char note[512];
} ss_lm_summary;

/* What a run reports at the end (the CLI prints it; run.json records it). */
#define SS_TASK_MAX_NUMBERS 8
typedef struct ss_train_summary {
  ss_run_summary run;  /* rows, losses, class metrics at start/end, timings */
  int is_lm;           /* a language-model run: lm is filled */
  ss_lm_summary lm;
  /* numbers a task reports besides its rows (JoMA runs: the minimum of NC or of the entropy
   * over every row, and where) */
  int ntask;
  char task_names[SS_TASK_MAX_NUMBERS][40];
  double task_numbers[SS_TASK_MAX_NUMBERS];
} ss_train_summary;

/* ---- the trainer and its tasks ----------------------------------------------------------- */
typedef struct ss_trainer ss_trainer;

/* A task: what one kind of run plugs into the loop. Every hook but forward may be NULL. */
typedef struct {
  const char *name;
  /* Sets up data, model (ss_trainer_set_model) and recorder (ss_trainer_set_classes);
   * checks everything that can be bad input. Nothing is created on disk yet. */
  int (*init)(ss_trainer *tr, ss_err *err);
  /* Once, after a restore (restored = 1) or at a fresh start (LM: first validation). */
  int (*start)(ss_trainer *tr, int restored, ss_err *err);
  /* At the boundary of step s, before the snapshot and the stop check. */
  int (*boundary)(ss_trainer *tr, long long s, ss_err *err);
  /* The data of step s (untimed): draw or read the batch. */
  int (*batch)(ss_trainer *tr, long long s, int last, ss_err *err);
  /* Forward (and backward unless last) at the current parameters; the batch's loss and
   * accuracy. Timed as training compute unless last. */
  int (*forward)(ss_trainer *tr, long long s, int last, double *loss, double *acc, ss_err *err);
  /* Whether step s records a row besides 0, every save_per_minibatch and niter. */
  int (*want_row)(ss_trainer *tr, long long s);
  /* Adds the row of step s to the recorder. NULL: c_n of every class (ss_trainer_record_classes). */
  int (*record)(ss_trainer *tr, long long s, double loss, double acc, ss_err *err);
  /* The update after step s. NULL: the optimizer with lr scale 1. */
  int (*update)(ss_trainer *tr, long long s, double loss, ss_err *err);
  /* Copies the live state into the boundary snapshot (called at every boundary). */
  void (*snapshot)(ss_trainer *tr);
  /* The task's part of a checkpoint, from the snapshot (boundary = 1) or the live state
   * (boundary = 0): rng and data position, and up to SS_CKPT_MAX_EXTRA extra tensors. */
  int (*state)(ss_trainer *tr, int boundary, ss_train_pos *pos, ss_tensor *extra, int *nextra);
  /* Restores the task's state from a checkpoint (extra: the tensors state() names, filled). */
  int (*restore)(ss_trainer *tr, const ss_train_pos *pos, ss_err *err);
  /* Extra files of a finished run (snap.json, attention maps). */
  int (*finish)(ss_trainer *tr, const char *dir, ss_err *err);
  /* Summary fields of the task (LM). */
  void (*summarize)(ss_trainer *tr, ss_train_summary *s);
  void (*free)(ss_trainer *tr);
} ss_task_ops;

/* Task flags (ss_trainer.flags), set by a task's init. */
enum {
  SS_TASK_NO_GRADS = 1,     /* forward leaves no gradients to check (gradient flow) */
  SS_TASK_NO_RESUME = 2,    /* stopped runs write no checkpoint; checkpoints carry no rows */
};

struct ss_trainer {
  ss_config cfg;
  ss_run_opts opts;
  char dir[SS_PATH_MAX];   /* "" when in memory */
  const ss_task_ops *ops;
  void *task;              /* the task's own state (init allocates, free releases) */
  int flags;
  int threads;             /* threads of this run's parallel regions (init may lower it) */
  /* shared by every task */
  ss_model *m;
  ss_optim opt;
  int has_opt;
  ss_recorder rec;
  int has_rec;
  const char *const *meta; /* checkpoint __metadata__ pairs that must match on resume */
  double items_per_step;   /* sequences or tokens per update (throughput) */
  long long extra_rows;    /* rows the task records besides every save_per_minibatch (size estimate) */
  double loss0;            /* the first row's loss (runaway-loss check) */
  /* the loop */
  long long niter, step, first_step, last_good;
  int lockfd, begun, done, restored;
  double t_train, t_start;
  char *ckpt;              /* DIR/checkpoint.safetensors */
  double *c;               /* [N*M] composition scratch of ss_trainer_record_classes */
};

/* Sets the model (owned by the trainer from then on) and, with_optim, its optimizer. */
int ss_trainer_set_model(ss_trainer *tr, ss_model *m, int with_optim, ss_err *err);
/* The recorder of rows over class table cl (borrowed; N = 0 for runs without classes). */
int ss_trainer_set_classes(ss_trainer *tr, const ss_classes *cl, ss_err *err);
/* The usual row: c_n of every class from the model, the group norms. */
int ss_trainer_record_classes(ss_trainer *tr, long long s, double loss, double acc, ss_err *err);

/* init: the task's init (no file is touched); run: everything else up to the final files;
 * free: releases it all. ss_trainer_run = begin + steps + end. */
int ss_trainer_init(ss_trainer *tr, const ss_config *cfg, const ss_run_opts *o, const ss_task_ops *ops, ss_err *err);
/* Takes the directory's lock, restores a checkpoint when resuming (cfg->resume), writes the
 * first files (config.yaml, classes.json, run.json "running"). */
int ss_trainer_begin(ss_trainer *tr, ss_err *err);
/* One step of the loop; tr->done once the last row is recorded. */
int ss_trainer_step(ss_trainer *tr, ss_err *err);
/* Writes the final files for the loop's outcome rc (complete, interrupted, diverged,
 * failed) and returns the run's status code. */
int ss_trainer_end(ss_trainer *tr, int rc, ss_err *err);
int ss_trainer_run(ss_trainer *tr, ss_err *err);
void ss_trainer_summary(ss_trainer *tr, ss_train_summary *s);
void ss_trainer_free(ss_trainer *tr);

/* ---- the runs -------------------------------------------------------------------------- */
/* The task of cfg: synthetic classes (Y/Z or transformer) or the language model on real
 * text (model.type=transformer model.task=lm). */
const ss_task_ops *ss_train_task(const ss_config *cfg);
extern const ss_task_ops ss_task_synthetic;
extern const ss_task_ops ss_task_lm;

/* The whole training run of cfg with options o. With cfg->resume set (= the directory) it
 * continues the run from its checkpoint (or from the start if it has none) and finishes
 * byte-identical to an uninterrupted run. Returns SS_OK, SS_EINPUT (bad input, found
 * before anything is created), SS_ERUN, SS_EDIVERGE (run.json "diverged"; the last
 * checkpoint is kept) or SS_ESTOP (stop requested: checkpoint written, "interrupted"). */
int ss_train_run(const ss_config *cfg, const ss_run_opts *o, ss_train_summary *sum, ss_err *err);
/* The same into dir with default options. */
int ss_train(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err);
/* A language-model run into dir (ss_train_run with its summary). */
int ss_lm_train(const ss_config *cfg, const char *dir, ss_lm_summary *s, ss_err *err);

/* ---- resuming (the policy, so that every caller gets the same) -------------------------- */
/* What `--resume DIR [key=value ...]` may change: niter (extend) and threads (results do not
 * depend on it); anything else is SS_EINPUT naming the key. Loads DIR's configuration and
 * applies the overrides into cfg (cfg->resume = DIR). *status receives the run's status.
 * *nothing_to_do is set when the run is complete at the asked niter (then *message says so). */
int ss_train_resume_config(const char *dir, const char *const *overrides, int n, ss_config *cfg, int *nothing_to_do,
                           char *message, size_t message_n, ss_err *err);

#endif
