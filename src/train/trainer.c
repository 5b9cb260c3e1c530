/* The one training loop (include/scansnap/train.h has the loop's outline): recording,
 * checkpoints, stop requests, divergence checks, run.json and the directory lock, for every
 * kind of run. A task (ss_task_ops) plugs in what differs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/train.h"

void ss_run_opts_default(ss_run_opts *o) { memset(o, 0, sizeof *o); }

/* The per-thread settings a run's calls run under (threads of its parallel regions, whether
 * its files are flushed to disk), set on entry and restored on return: the caller's own
 * settings are never left changed. */
typedef struct {
  int threads, sync;
} scope;

static scope enter(const ss_trainer *tr) { return (scope){ss_threads_set(tr->threads), ss_io_sync_set(tr->cfg.fsync)}; }

static void leave(scope s) {
  ss_threads_set(s.threads);
  ss_io_sync_set(s.sync);
}

int ss_trainer_set_model(ss_trainer *tr, ss_model *m, int with_optim, ss_err *err) {
  tr->m = m;
  if (!with_optim) return SS_OK;
  int rc = ss_optim_init(&tr->opt, &tr->cfg, m, err);
  tr->has_opt = rc == SS_OK;
  return rc;
}

int ss_trainer_set_classes(ss_trainer *tr, const ss_classes *cl, ss_err *err) {
  int rc = ss_recorder_init(&tr->rec, cl, err);
  if (rc) return rc;
  tr->has_rec = 1;
  free(tr->c);
  tr->c = malloc(sizeof(double) * ((size_t)cl->N * cl->M + 1));
  if (!tr->c) return ss_seterr(err, SS_ERUN, "out of memory");
  return SS_OK;
}

int ss_trainer_record_classes(ss_trainer *tr, long long s, double loss, double acc, ss_err *err) {
  int rc = tr->m->ops->composition(tr->m, tr->rec.cl, tr->c, err);
  if (rc) return rc;
  double yn, zn;
  ss_model_norms01(tr->m, &yn, &zn);
  return ss_recorder_add(&tr->rec, s, loss, acc, tr->c, yn, zn, NULL, err);
}

/* Refuses, before anything is created, a run whose metrics would outgrow max_output_mb
 * (files in a directory; memory for a run in memory, which keeps every row). */
static int check_size(ss_trainer *tr, ss_err *err) {
  const ss_config *c = &tr->cfg;
  if (c->max_output_mb <= 0) return SS_OK;
  const long long rows = tr->niter / c->save_per_minibatch + 2 + tr->extra_rows;
  double disk, mem;
  ss_recorder_estimate(tr->rec.cl, tr->rec.nextra, rows, &disk, &mem);
  if (!tr->dir[0]) mem += (double)rows * (sizeof(ss_row) + 8.0 * tr->rec.cl->N * tr->rec.cl->M);
  const double need = (tr->dir[0] ? disk + mem : mem) / 1048576.0;
  if (need > c->max_output_mb)
    return ss_seterr(err, SS_EINPUT,
                     "key 'max_output_mb': this run would record %lld metrics rows (niter / save_per_minibatch = %lld / %d) and need about %.0f MB "
                     "for them, more than max_output_mb = %d; raise save_per_minibatch, or max_output_mb to allow it",
                     rows, tr->niter, c->save_per_minibatch, need, c->max_output_mb);
  return SS_OK;
}

int ss_trainer_init(ss_trainer *tr, const ss_config *cfg, const ss_run_opts *o, const ss_task_ops *ops, ss_err *err) {
  memset(tr, 0, sizeof *tr);
  tr->cfg = *cfg;
  if (o) tr->opts = *o;
  if (!tr->opts.command) tr->opts.command = "train";
  if (tr->opts.dir) snprintf(tr->dir, sizeof tr->dir, "%s", tr->opts.dir);
  tr->opts.dir = NULL; /* tr->dir is the one copy */
  tr->ops = ops;
  tr->lockfd = -1;
  tr->last_good = -1;
  tr->niter = cfg->niter;
  tr->threads = ss_threads_for(cfg->threads);
  const scope saved = enter(tr);
  int rc = ops->init ? ops->init(tr, err) : SS_OK;
  leave(saved);
  if (rc == SS_OK && !tr->has_rec) rc = ss_seterr(err, SS_ERUN, "task '%s' set up no recorder", ops->name);
  if (rc == SS_OK && !tr->m) rc = ss_seterr(err, SS_ERUN, "task '%s' set up no model", ops->name);
  if (rc == SS_OK) rc = check_size(tr, err);
  if (rc == SS_OK && tr->dir[0]) {
    tr->ckpt = ss_path_join(tr->dir, "checkpoint.safetensors");
    if (!tr->ckpt) rc = ss_seterr(err, SS_ERUN, "out of memory");
  }
  return rc;
}

void ss_trainer_free(ss_trainer *tr) {
  if (tr->ops && tr->ops->free) tr->ops->free(tr);
  ss_run_unlock(tr->lockfd);
  tr->lockfd = -1;
  free(tr->ckpt);
  free(tr->c);
  if (tr->has_rec) ss_recorder_free(&tr->rec);
  if (tr->has_opt) ss_optim_free(&tr->opt);
  ss_model_free(tr->m);
  tr->m = NULL;
  tr->has_rec = tr->has_opt = 0;
  tr->ckpt = NULL;
  tr->c = NULL;
}

/* The checkpoint of the boundary snapshot (boundary = 1) or of the live state. Besides the
 * task's pairs, its __metadata__ says how many metrics rows were on disk and their checksum
 * (a resume cuts the streams back to them; tasks that are not resumed record none). */
static int save_checkpoint(ss_trainer *tr, long long step, int boundary, ss_err *err) {
  ss_train_pos pos = {step, {{0, 0, 0, 0}}, 0};
  ss_tensor extra[SS_CKPT_MAX_EXTRA];
  int nextra = 0;
  if (tr->ops->state) {
    int rc = tr->ops->state(tr, boundary, &pos, extra, &nextra);
    if (rc) return ss_seterr(err, SS_ERUN, "checkpoint '%s': the task's state does not fit", tr->ckpt);
  }
  pos.step = step;
  const char *meta[2 * 8 + 1] = {NULL};
  char rows[32], sum[32];
  if (!(tr->flags & SS_TASK_NO_RESUME)) {
    long long nrows;
    uint64_t fnv;
    int rc = ss_recorder_sync(&tr->rec, step, &nrows, &fnv, err);
    if (rc) return rc;
    snprintf(rows, sizeof rows, "%lld", nrows);
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)fnv);
    int k = 0;
    for (int i = 0; tr->meta && tr->meta[i] && tr->meta[i + 1] && k < 2 * 6; i += 2) {
      meta[k++] = tr->meta[i];
      meta[k++] = tr->meta[i + 1];
    }
    meta[k++] = "metrics_rows";
    meta[k++] = rows;
    meta[k++] = "metrics_fnv1a";
    meta[k++] = sum;
    meta[k] = NULL;
  }
  return ss_checkpoint_save(tr->ckpt, tr->m, tr->has_opt ? &tr->opt : NULL, &pos, meta, extra, nextra, err);
}

static int restore_checkpoint(ss_trainer *tr, ss_err *err) {
  ss_train_pos pos;
  ss_tensor extra[SS_CKPT_MAX_EXTRA];
  int nextra = 0;
  if (tr->ops->state && tr->ops->state(tr, 0, &pos, extra, &nextra))
    return ss_seterr(err, SS_ERUN, "checkpoint '%s': the task's state does not fit", tr->ckpt);
  static const char *const want[] = {"metrics_rows", "metrics_fnv1a", NULL};
  char got[2][64];
  int rc = ss_checkpoint_load(tr->ckpt, tr->m, tr->has_opt ? &tr->opt : NULL, &pos, tr->meta, extra, nextra, want, got, err);
  if (rc) return rc;
  if (pos.step > tr->niter)
    return ss_seterr(err, SS_EINPUT, "key 'niter': the checkpoint in '%s' is at step %lld, beyond niter = %lld", tr->dir, pos.step, tr->niter);
  char *e1, *e2;
  const long long rows = strtoll(got[0], &e1, 10);
  const unsigned long long sum = strtoull(got[1], &e2, 16);
  if (*e1 || *e2 || rows < 0)
    return ss_seterr(err, SS_EINPUT, "checkpoint '%s': metrics_rows '%s' / metrics_fnv1a '%s' are not a count and a checksum", tr->ckpt, got[0],
                     got[1]);
  if ((rc = ss_recorder_resume(&tr->rec, tr->dir, pos.step, rows, (uint64_t)sum, err))) return rc;
  if (tr->ops->restore && (rc = tr->ops->restore(tr, &pos, err))) return rc;
  tr->step = tr->first_step = tr->last_good = pos.step;
  tr->restored = 1;
  return SS_OK;
}

int ss_trainer_begin(ss_trainer *tr, ss_err *err) {
  int rc = SS_OK;
  const scope saved = enter(tr);
  tr->t_start = ss_now();
  if (tr->dir[0]) {
    const int resuming = tr->cfg.resume[0] != 0;
    char status[64];
    /* a run to continue: the directory holds its run.json (nothing is created otherwise) */
    if (resuming && (rc = ss_run_status(tr->dir, status, sizeof status, err))) goto out;
    /* one process per run directory, from before the checkpoint is read to the end */
    if ((rc = ss_run_lock(tr->dir, &tr->lockfd, err))) goto out;
    if (resuming) {
      if (!(tr->flags & SS_TASK_NO_RESUME) && ss_file_exists(tr->ckpt))
        rc = restore_checkpoint(tr, err);
      else { /* started, but no checkpoint yet: from the start */
        tr->rec.lazy = tr->cfg.files == SS_FILES_LIGHT;
        rc = ss_recorder_open(&tr->rec, tr->dir, err);
      }
      if (rc) goto out;
      ss_run_clean_tmp(tr->dir);
      /* the directory describes the run it holds: a resume that extends it (niter) says so */
      if ((rc = ss_run_write_config(&tr->cfg, tr->dir, err))) goto out;
      if ((rc = ss_run_finish(tr->dir, tr->opts.command, "running", &tr->cfg, NULL, NULL, err))) goto out;
      tr->begun = 1;
    } else {
      /* refuses a directory that holds a run before anything in it is touched */
      rc = ss_run_begin(&tr->cfg, tr->rec.cl->N > 0 ? tr->rec.cl : NULL, tr->dir, tr->opts.command, err);
      if (rc) goto out;
      tr->begun = 1;
      tr->rec.lazy = tr->cfg.files == SS_FILES_LIGHT; /* its streams only if a checkpoint needs them */
      if ((rc = ss_recorder_open(&tr->rec, tr->dir, err))) goto out;
    }
  }
  tr->begun = 1;
  if (tr->ops->start) rc = tr->ops->start(tr, tr->restored, err);
out:
  leave(saved);
  return rc;
}

static int diverged(ss_err *err, long long step, const char *what) {
  return ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: %s", step, what);
}

int ss_trainer_step(ss_trainer *tr, ss_err *err) {
  if (tr->done) return SS_OK;
  const long long s = tr->step;
  const ss_task_ops *ops = tr->ops;
  const scope saved = enter(tr);
  int rc = SS_OK;
  /* ---- the boundary of step s ---- */
  if (tr->dir[0] && s > tr->first_step && tr->cfg.save_every > 0 && s % tr->cfg.save_every == 0) {
    /* a file that cannot be written mid-run (disk full, output gone read-only) is a failure
     * of the run (exit 1), not of its input; the previous checkpoint stays */
    if ((rc = save_checkpoint(tr, s, 0, err))) {
      rc = err->code = SS_ERUN;
      goto out;
    }
    tr->last_good = s;
  }
  if (ops->boundary && (rc = ops->boundary(tr, s, err))) goto out;
  if (ops->snapshot) ops->snapshot(tr);
  const int sig = tr->opts.stop ? (int)*tr->opts.stop : 0;
  if (sig) {
    char by[32];
    ss_stop_by(sig, by, sizeof by);
    if (tr->dir[0] && !(tr->flags & SS_TASK_NO_RESUME)) {
      rc = save_checkpoint(tr, s, 1, err);
      if (rc == SS_OK) rc = ss_recorder_write(&tr->rec, tr->dir, err);
      if (rc) {
        rc = err->code = SS_ERUN;
        goto out;
      }
      rc = ss_seterr(err, SS_ESTOP, "stopped %s at step %lld of %lld; checkpoint written, continue with --resume %s", by, s, tr->niter,
                     tr->dir);
    } else {
      rc = ss_seterr(err, SS_ESTOP, "stopped %s at step %lld of %lld%s", by, s, tr->niter,
                     tr->dir[0] ? "; this kind of run is run again, not resumed" : "");
    }
    goto out;
  }
  if (tr->opts.step_delay_us > 0) usleep((useconds_t)tr->opts.step_delay_us);
  /* ---- step s ---- */
  const int last = s == tr->niter;
  if (ops->batch && (rc = ops->batch(tr, s, last, err))) goto out;
  double loss, acc, t0 = ss_now();
  if ((rc = ops->forward(tr, s, last, &loss, &acc, err))) goto out;
  if (!last) tr->t_train += ss_now() - t0;
  if (last || s % tr->cfg.save_per_minibatch == 0 || (ops->want_row && ops->want_row(tr, s))) {
    rc = ops->record ? ops->record(tr, s, loss, acc, err) : ss_trainer_record_classes(tr, s, loss, acc, err);
    if (rc) goto out;
  }
  if (tr->opts.progress) {
    ss_progress p = {s, tr->niter, loss, ss_now() - tr->t_start, tr->t_train, tr->items_per_step};
    tr->opts.progress(tr->opts.progress_ud, &p);
  }
  char where[128], what[200];
  if (!isfinite(loss)) {
    snprintf(what, sizeof what, "loss is %g", loss);
    rc = diverged(err, s, what);
    goto out;
  }
  /* a loss that runs away by orders of magnitude is divergence too, not a result */
  if (s == tr->first_step && !tr->restored) tr->loss0 = loss;
  if (tr->restored && s == tr->first_step && tr->has_rec && tr->rec.nrows) tr->loss0 = tr->rec.first.loss;
  if (tr->cfg.diverge_factor > 0 && loss > tr->cfg.diverge_factor * fmax(1.0, tr->loss0)) {
    snprintf(what, sizeof what, "loss %g ran away (more than diverge_factor = %g times max(1, the first loss %g))", loss, tr->cfg.diverge_factor,
             tr->loss0);
    rc = diverged(err, s, what);
    goto out;
  }
  if (last) {
    tr->done = 1;
    goto out;
  }
  if (!(tr->flags & SS_TASK_NO_GRADS) && ss_model_find_nonfinite(tr->m, 1, where, sizeof where)) {
    snprintf(what, sizeof what, "%s is not finite", where);
    rc = diverged(err, s, what);
    goto out;
  }
  t0 = ss_now();
  int look = 1; /* whether the parameters may hold Inf or NaN now */
  if (ops->update)
    rc = ops->update(tr, s, loss, err);
  else
    look = ss_optim_step(&tr->opt, tr->m, 1.0) || s == tr->first_step; /* it checked what it wrote; the rest is as checked before */
  tr->t_train += ss_now() - t0;
  if (rc) goto out;
  if (look && ss_model_find_nonfinite(tr->m, 0, where, sizeof where)) {
    snprintf(what, sizeof what, "parameter %s is not finite after the update", where);
    rc = diverged(err, s, what);
    goto out;
  }
  tr->step = s + 1;
out:
  leave(saved);
  return rc;
}

int ss_trainer_end(ss_trainer *tr, int rc, ss_err *err) {
  if (!tr->dir[0] || !tr->begun) return rc;
  const scope saved = enter(tr);
  ss_train_summary sum;
  ss_trainer_summary(tr, &sum);
  if (rc == SS_EDIVERGE) {
    size_t n = strlen(err->msg);
    if (tr->last_good >= 0)
      snprintf(err->msg + n, sizeof err->msg - n, " (the checkpoint of step %lld is kept)", tr->last_good);
    else
      snprintf(err->msg + n, sizeof err->msg - n, " (no checkpoint was written before)");
  }
  if (rc == SS_OK) {
    /* results first, then the checkpoint of step niter, then run.json says complete; a light
     * run (files=light, a sweep's) keeps neither the checkpoint nor the streams, so it
     * cannot be extended later */
    const int light = tr->cfg.files == SS_FILES_LIGHT;
    tr->rec.light = light;
    rc = ss_recorder_write(&tr->rec, tr->dir, err);
    if (rc == SS_OK && tr->ops->finish) rc = tr->ops->finish(tr, tr->dir, err);
    if (rc == SS_OK && !light) rc = save_checkpoint(tr, tr->niter, 1, err);
    if (rc == SS_OK) rc = ss_run_finish(tr->dir, tr->opts.command, "complete", &tr->cfg, &sum.run, NULL, err);
    if (rc) rc = err->code = SS_ERUN;
    if (rc == SS_OK && light) {
      static const char *const gone[] = {"checkpoint.safetensors", "metrics.bin", "dynamics.bin"};
      for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        char *p = ss_path_join(tr->dir, gone[i]);
        if (p) unlink(p);
        free(p);
      }
    }
  } else {
    ss_err e2;
    /* keep what was measured (a stopped run wrote its rows with its checkpoint) */
    if (rc == SS_EDIVERGE || (rc == SS_ESTOP && (tr->flags & SS_TASK_NO_RESUME))) ss_recorder_write(&tr->rec, tr->dir, &e2);
    const char *status = rc == SS_EDIVERGE ? "diverged" : rc == SS_ESTOP ? "interrupted" : "failed";
    ss_run_finish(tr->dir, tr->opts.command, status, &tr->cfg, &sum.run, err->msg, &e2);
  }
  ss_run_unlock(tr->lockfd);
  tr->lockfd = -1;
  leave(saved);
  return rc;
}

int ss_trainer_run(ss_trainer *tr, ss_err *err) {
  int rc = ss_trainer_begin(tr, err);
  if (rc && !tr->begun) return rc; /* nothing created: bad input or a held lock */
  while (rc == SS_OK && !tr->done) rc = ss_trainer_step(tr, err);
  return ss_trainer_end(tr, rc, err);
}

void ss_trainer_summary(ss_trainer *tr, ss_train_summary *s) {
  memset(s, 0, sizeof *s);
  ss_run_summary *r = &s->run;
  snprintf(r->dir, sizeof r->dir, "%s", tr->dir);
  if (tr->has_rec) {
    r->M = tr->rec.cl->M;
    r->N = tr->rec.cl->N;
    const ss_recorder *rec = &tr->rec;
    if (rec->nrows) {
      r->start = rec->first.avg;
      r->end = rec->last.avg;
      r->first_loss = rec->first.loss;
      r->final_loss = rec->last.loss;
      r->final_acc = rec->last.acc;
      r->rows = rec->nrows;
    }
  }
  r->train_seconds = tr->t_train;
  const long long updates = tr->step - tr->first_step;
  r->seqs_per_second = tr->t_train > 0 ? (double)tr->cfg.batchsize * (double)updates / tr->t_train : 0;
  r->resumed_from = tr->first_step;
  ss_config_unused(&tr->cfg, r->unused, sizeof r->unused);
  if (tr->ops->summarize) tr->ops->summarize(tr, s);
}
