/* Training runs and what they write (SPEC §3).
 *
 * A run directory holds: config.yaml (resolved), classes.json, metrics.csv and
 * metrics.jsonl (one row per save step), dynamics.safetensors (c_n of every class at every
 * save step), checkpoint.safetensors (parameters, optimizer state, step, RNG state) and
 * run.json (status running/complete/failed, version, timings, summary). Every file is
 * written atomically; run.json says "complete" only once everything else is on disk.
 *
 * The recorder is shared by every producer of runs (SGD training, theory runs), so every
 * tool that reads a run reads them all. */
#ifndef SCANSNAP_TRAIN_H
#define SCANSNAP_TRAIN_H
#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/metrics.h"
#include "scansnap/model.h"
#include "scansnap/optim.h"

#define SS_MAX_EXTRA 16

/* Scalar columns every metrics row has, in this order. */
#define SS_METRIC_COLUMNS "step,loss,acc,entropy,entropy_distinct,common_mass,distinct_mass,kendall_tau,y_norm,z_norm"

typedef struct {
  long long step;
  double loss, acc;
  ss_class_metrics avg;
  double y_norm, z_norm;
  double extra[SS_MAX_EXTRA];
} ss_row;

typedef struct {
  const ss_classes *cl; /* borrowed */
  int nrows, cap;
  ss_row *rows;
  double *c;              /* [cap, N, M] composition at each row (NULL if keep_c = 0) */
  ss_class_metrics *per;  /* [cap, N] */
  int nextra;
  char extra_names[SS_MAX_EXTRA][48];
} ss_recorder;

int ss_recorder_init(ss_recorder *r, const ss_classes *cl, ss_err *err);
int ss_recorder_add_column(ss_recorder *r, const char *name);
/* Appends a row; c is [N*M] (copied), extra holds nextra values (may be NULL). */
int ss_recorder_add(ss_recorder *r, long long step, double loss, double acc, const double *c, double y_norm,
                    double z_norm, const double *extra, ss_err *err);
/* metrics.csv, metrics.jsonl, dynamics.safetensors in dir. */
int ss_recorder_write(const ss_recorder *r, const char *dir, ss_err *err);
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
/* Writes config.yaml, classes.json and run.json {status: running}. Refuses a directory
 * that already holds a run. */
int ss_run_begin(const ss_config *cfg, const ss_classes *cl, const char *dir, const char *command, ss_err *err);
/* Writes run.json with the final status; error (may be NULL) is recorded when failed. */
int ss_run_finish(const char *dir, const char *command, const char *status, const ss_config *cfg,
                  const ss_run_summary *s, const char *error, ss_err *err);

/* Builds the model the configuration asks for (M from the class table). */
int ss_model_from_config(const ss_config *cfg, const ss_classes *cl, ss_model **out, ss_err *err);
/* Where a run stands at a step boundary s (the start of iteration s): the params have had
 * s updates, rng and data_pos are as before batch s is drawn, metrics rows have steps < s.
 * A checkpoint holds exactly this (plus model, optimizer and rows); see src/train/checkpoint.c. */
typedef struct {
  long long step;
  ss_rng rng;
  long long data_pos;
} ss_train_pos;

/* Writes a checkpoint atomically with a checksum: params, optimizer moments and update
 * count, pos, and the metrics rows of rec (may be NULL). meta: extra NULL-terminated
 * key, value pairs for __metadata__ (may be NULL). */
int ss_checkpoint_save(const char *path, const ss_model *m, const ss_optim *o, const ss_train_pos *pos,
                       const ss_recorder *rec, const char *const *meta, ss_err *err);
/* Restores what ss_checkpoint_save wrote into a model and optimizer built from the same
 * configuration; rec (may be NULL; its extra columns already added) gets the rows with
 * step < pos->step. expect: key, value pairs of __metadata__ that must match (may be NULL).
 * A truncated, corrupt (checksum) or foreign file is SS_EINPUT with a message naming it. */
int ss_checkpoint_load(const char *path, ss_model *m, ss_optim *o, ss_train_pos *pos, ss_recorder *rec,
                       const char *const *expect, ss_err *err);
/* The same with nextra (<= SS_CKPT_MAX_EXTRA) further tensors of the caller's loop state:
 * save writes extra[i] as is; load copies the tensor named extra[i].name into
 * extra[i].data, which must match its dtype and element count (SS_EINPUT otherwise). */
#define SS_CKPT_MAX_EXTRA 8
int ss_checkpoint_save_ext(const char *path, const ss_model *m, const ss_optim *o, const ss_train_pos *pos,
                           const ss_recorder *rec, const char *const *meta, const ss_tensor *extra, int nextra, ss_err *err);
int ss_checkpoint_load_ext(const char *path, ss_model *m, ss_optim *o, ss_train_pos *pos, ss_recorder *rec,
                           const char *const *expect, ss_tensor *extra, int nextra, ss_err *err);
/* Older form of ss_checkpoint_save without metrics rows. */
int ss_checkpoint_write(const char *path, const ss_model *m, const ss_optim *o, long long step, const ss_rng *rng,
                        long long data_pos, ss_err *err);

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

/* The whole training run of SPEC §3 into dir (created). With cfg->resume set (= dir) it
 * continues the run in dir from its checkpoint (or from the start if it has none) and
 * finishes byte-identical to an uninterrupted run. Polls ss_stop_requested() at every step
 * boundary: on a request it writes a checkpoint and the metrics so far, marks run.json
 * "interrupted" and returns SS_ESTOP. NaN/Inf in the loss, a gradient or a parameter
 * returns SS_EDIVERGE (run.json "diverged"; the last checkpoint is left as it was). */
int ss_train(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err);

#endif
