/* The run layer: what every producer of runs (training, theory, language models) and every
 * reader of them (compare, verify, sweeps, plots, reports) share — the run directory and its
 * lock and status (run.json), the metrics rows and the files they go to (recorder), the
 * checkpoint, the snap detector and the comparison of two runs.
 *
 * A run directory holds: config.yaml (resolved), classes.json, metrics.csv and
 * metrics.jsonl (one row per save step), dynamics.safetensors (c_n of every class at every
 * save step), checkpoint.safetensors (parameters, optimizer state, step, RNG state),
 * snap.json and run.json (status running/complete/interrupted/failed/diverged, version,
 * timings, summary). Every file is written atomically; run.json says "complete" only once
 * everything else is on disk. */
#ifndef SCANSNAP_RUN_H
#define SCANSNAP_RUN_H
#include <stdint.h>
#include <stdio.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/metrics.h"
#include "scansnap/model.h"
#include "scansnap/optim.h"

#define SS_MAX_EXTRA 96 /* extra metrics columns (a 64-layer LM has 13 + 64) */

/* Scalar columns every metrics row has, in this order. */
#define SS_METRIC_COLUMNS "step,loss,acc,entropy,entropy_distinct,common_mass,distinct_mass,kendall_tau,y_norm,z_norm"

typedef struct {
  long long step;
  double loss, acc;
  ss_class_metrics avg;
  double y_norm, z_norm;
  double extra[SS_MAX_EXTRA];
} ss_row;

/* The metrics rows of a run. In memory (ss_recorder_init) it keeps every row and its c_n
 * (verify's grids, tests). Streaming into a run directory (ss_recorder_open) it appends each
 * row as it comes to DIR/metrics.bin (step and scalars) and DIR/dynamics.bin (c_n), raw
 * little-endian doubles, and keeps in memory only what the end of the run needs: the first
 * and the last row, the last c_n, and per row the step and the per-class metrics (snap
 * detection): O(rows x classes), not O(rows x classes x tokens). metrics.csv, metrics.jsonl and
 * dynamics.safetensors are written from the streams (ss_recorder_write); a checkpoint stores
 * how many rows were on disk and their checksum (ss_recorder_sync), and a resumed run cuts the
 * streams back to that (ss_recorder_resume), so checkpoints stay the size of the parameters. */
typedef struct {
  const ss_classes *cl; /* borrowed */
  int nextra;
  char extra_names[SS_MAX_EXTRA][48];
  int nrows, cap;
  ss_row first, last;     /* rows 0 and nrows-1 (when nrows > 0) */
  double *c_last;         /* [N*M] c_n of the last row */
  long long *steps;       /* [cap] step of every row */
  ss_class_metrics *per;  /* [cap, N] per-class metrics of every row */
  /* in memory only (NULL when streaming): */
  ss_row *rows;           /* [cap] */
  double *c;              /* [cap, N, M] */
  /* streaming: rows wait in these buffers and are appended (file opened, written, closed)
   * when a buffer fills, at every sync and at the end: the files are never held open, so
   * the file system can be remounted read-only under a running run */
  int streaming;
  char *path_m, *path_d;  /* metrics.bin, dynamics.bin */
  unsigned char *pend_m, *pend_d;
  size_t npend_m, npend_d, cap_m, cap_d;
  uint64_t sum;           /* FNV-1a-64 of every row written, both streams, in order (rows
                           * are hashed when they leave the pending buffers or are synced) */
  uint64_t sum_prev;      /* the same before the last row */
  size_t hashed_m, hashed_d; /* bytes of the pending buffers already in sum */
  int light;              /* ss_recorder_write writes metrics.csv only */
  int lazy;               /* set before ss_recorder_open: the streams are created at their first
                           * flush (a checkpoint, a full buffer), so a light run that never
                           * needs them (files=light, no checkpoint) creates no file for them */
  int created;            /* the stream files exist */
} ss_recorder;

int ss_recorder_init(ss_recorder *r, const ss_classes *cl, ss_err *err);
int ss_recorder_add_column(ss_recorder *r, const char *name);
/* Streams into dir from now on: creates metrics.bin and dynamics.bin (replacing leftovers of
 * a run that never reached a checkpoint; with lazy, at their first flush). Call before the
 * first row. */
int ss_recorder_open(ss_recorder *r, const char *dir, ss_err *err);
/* Streams into dir, continuing a run from its checkpoint at step `step`: keeps the rows with
 * step < `step`, which must be `rows` rows with checksum `sum` (else SS_EINPUT naming the
 * file), cuts off the rest, and restores the in-memory state from them. */
int ss_recorder_resume(ss_recorder *r, const char *dir, long long step, long long rows, uint64_t sum, ss_err *err);
/* Appends a row; c is [N*M] (copied), extra holds nextra values (may be NULL). */
int ss_recorder_add(ss_recorder *r, long long step, double loss, double acc, const double *c, double y_norm,
                    double z_norm, const double *extra, ss_err *err);
/* Flushes the streams to disk (fsync); *rows and *sum describe the rows on disk with step <
 * before_step (a checkpoint of step s records those: the final checkpoint of a run is taken
 * after its last row, at the last row's own step). */
int ss_recorder_sync(ss_recorder *r, long long before_step, long long *rows, uint64_t *sum, ss_err *err);
/* metrics.csv, metrics.jsonl, dynamics.safetensors in dir. */
int ss_recorder_write(ss_recorder *r, const char *dir, ss_err *err);
/* Bytes a run of `rows` rows writes and keeps (files; memory), to refuse an oversized run
 * before it starts. */
void ss_recorder_estimate(const ss_classes *cl, int nextra, long long rows, double *disk_bytes, double *memory_bytes);
void ss_recorder_free(ss_recorder *r);

/* What `make run` and the CLI print at the end. */
typedef struct {
  char dir[SS_PATH_MAX];
  int M, N, rows;
  double first_loss, final_loss, final_acc;
  ss_class_metrics start, end;
  double train_seconds, seqs_per_second;
  char unused[512];
  long long resumed_from; /* step of the checkpoint this invocation continued from (0: from the start) */
} ss_run_summary;

/* Picks the run directory: cfg->out if given, else runs/<prefix>-<UTC timestamp>[-k]. */
int ss_run_dir(const ss_config *cfg, const char *prefix, char *dir, size_t n, ss_err *err);
/* Writes DIR/config.yaml (atomically): the resolved configuration of the run it holds. */
int ss_run_write_config(const ss_config *cfg, const char *dir, ss_err *err);
/* Writes config.yaml, classes.json and run.json {status: running}. Refuses a directory
 * that already holds a run. */
int ss_run_begin(const ss_config *cfg, const ss_classes *cl, const char *dir, const char *command, ss_err *err);
/* Writes run.json with the final status; error (may be NULL) is recorded when failed. */
int ss_run_finish(const char *dir, const char *command, const char *status, const ss_config *cfg,
                  const ss_run_summary *s, const char *error, ss_err *err);

/* Where a run stands at a step boundary s (the start of iteration s): the params have had
 * s updates, rng and data_pos are as before batch s is drawn, metrics rows have steps < s.
 * A checkpoint holds exactly this (plus model, optimizer and rows); see src/train/checkpoint.c. */
typedef struct {
  long long step;
  ss_rng rng;
  long long data_pos;
} ss_train_pos;

/* Writes a checkpoint atomically with a checksum: params, optimizer moments and update
 * count, pos, and nextra (<= SS_CKPT_MAX_EXTRA) further tensors of the run's task. meta:
 * extra NULL-terminated key, value pairs for __metadata__ (may be NULL). */
#define SS_CKPT_MAX_EXTRA 8
int ss_checkpoint_save(const char *path, const ss_model *m, const ss_optim *o, const ss_train_pos *pos, const char *const *meta,
                       const ss_tensor *extra, int nextra, ss_err *err);
/* Restores what ss_checkpoint_save wrote into a model and optimizer built from the same
 * configuration. expect: key, value pairs of __metadata__ that must match (may be NULL);
 * extra: tensors copied by name into extra[i].data (dtype and element count must match);
 * want: NULL-terminated __metadata__ keys whose values go to got[i] (may be NULL).
 * A truncated, corrupt (checksum) or foreign file is SS_EINPUT with a message naming it. */
int ss_checkpoint_load(const char *path, ss_model *m, ss_optim *o, ss_train_pos *pos, const char *const *expect, ss_tensor *extra,
                       int nextra, const char *const *want, char (*got)[64], ss_err *err);

/* Resuming (cfg->resume = DIR): the run's own configuration, config.yaml with the keys
 * the user gave explicitly (run.json "explicit_keys"); sets cfg->resume = dir. */
int ss_run_load_config(const char *dir, ss_config *cfg, ss_err *err);
/* Removes temporary files (NAME.tmp-XXXXXX, any name with ".tmp-") a killed process left in a run directory. */
void ss_run_clean_tmp(const char *dir);
/* Takes DIR's run lock (DIR/.run.lock, flock; DIR is created if missing) for this process:
 * a second process training into or resuming the same directory meanwhile gets SS_EINPUT
 * naming it, instead of both writing the same files. Released by ss_run_unlock(fd) or at exit. */
int ss_run_lock(const char *dir, int *fd, ss_err *err);
void ss_run_unlock(int fd);
/* The status recorded in DIR/run.json (running, complete, interrupted, failed, diverged). */
int ss_run_status(const char *dir, char *status, size_t n, ss_err *err);

/* ---- snap detection (docs/theory.md "The snap") ----------------------------------------
 * Concentration of class n: kappa_n(t) = H(c_n(0)) - H(c_n(t)) (nats). It is smoothed by a
 * centred moving average over `window` rows (shrinking at the ends); rate_max is the largest
 * slope between consecutive smoothed rows (per step), at row i_p. t0 is the step of the first
 * row i > i_p such that for every later row j >= i + min_after the smoothed curve rises by at
 * most rho * rate_max per step: (s_j - s_i)/(t_j - t_i) <= rho * rate_max. Chords of at least
 * min_after intervals average out row-to-row SGD noise. No transition (t0 = null) when
 * rate_max <= min_rate (nothing concentrates) or no such row exists with min_after intervals
 * to spare (still accelerating, or growing linearly, to the end of the run). */
typedef struct {
  double rho;      /* "much more slowly": fraction of the fastest rate (default 0.1) */
  int window;      /* moving-average window in rows, odd (default 5) */
  int min_after;   /* shortest stretch (in intervals) that must follow t0 (default 3) */
  double min_rate; /* nats per step below which nothing is happening (default 1e-4) */
} ss_snap_opts;

typedef struct {
  int found;
  double t0;         /* step; NAN when not found */
  double rate_max;   /* nats per step */
  double step_max;   /* step at which the fastest interval starts */
  double rate_after; /* mean rate from t0 to the end; NAN when not found */
} ss_snap_class;

void ss_snap_default_opts(ss_snap_opts *o);
/* One series: steps[n] increasing, kappa[n]. */
void ss_snap_detect(const double *steps, const double *kappa, int n, const ss_snap_opts *o, ss_snap_class *out);
/* Every class of a recorder; out: [N]; returns the number of classes with a transition and
 * their mean t0 in *t0_mean (NAN if none). */
int ss_snap_recorder(const ss_recorder *r, const ss_snap_opts *o, ss_snap_class *out, double *t0_mean);
/* snap.json into dir (default options):
 * {"method", "measure", "rho", "window", "min_after", "min_rate", "t0", "found", "classes": [...]} */
int ss_snap_write(const ss_recorder *r, const char *dir, ss_err *err);

/* ---- comparing two runs ------------------------------------------------------------------
 * Over the save steps both runs share (up to max_step when >= 0): for each class n,
 * d_n(t) = max_l |c_A[n,l](t) - c_B[n,l](t)|, reported as its max and mean over t; and for
 * each scalar column of metrics.csv both have, the max and mean over t of |A - B|. */
#define SS_CMP_MAX_SCALARS 32
typedef struct {
  char name[48];
  double max, mean;
} ss_cmp_scalar;
typedef struct {
  int N, M, nshared;
  long long first, last; /* shared steps range */
  double *cls_max, *cls_mean; /* [N] */
  double max, mean;           /* max over classes of cls_max, mean over classes of cls_mean */
  int nscalar;
  ss_cmp_scalar scalar[SS_CMP_MAX_SCALARS];
} ss_compare;
int ss_compare_runs(const char *dir_a, const char *dir_b, long long max_step, ss_compare *out, ss_err *err);
void ss_compare_free(ss_compare *c);

#endif
