/* The training run (SPEC §3): rows at step 0, every save_per_minibatch updates and at
 * niter; a row's loss is that of the batch the next update uses (the last row: one more
 * batch, no update). */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/theory.h"
#include "scansnap/text.h"
#include "scansnap/train.h"
#include "scansnap/transformer.h"
#include "scansnap/yz.h"

int ss_run_dir(const ss_config *cfg, const char *prefix, char *dir, size_t n, ss_err *err) {
  if (cfg->out[0]) {
    snprintf(dir, n, "%s", cfg->out);
    return SS_OK;
  }
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
  for (int k = 0; k < 1000; k++) {
    if (k == 0)
      snprintf(dir, n, "runs/%s-%s", prefix, ts);
    else
      snprintf(dir, n, "runs/%s-%s-%d", prefix, ts, k);
    if (!ss_file_exists(dir)) return SS_OK;
  }
  return ss_seterr(err, SS_EINPUT, "cannot find a free run directory under runs/");
}

/* Prefixes err's message with what (vsnprintf into err->msg while reading err->msg is
 * undefined: copy first). */
static int prefix_err(ss_err *err, const char *what) {
  char m[sizeof err->msg];
  snprintf(m, sizeof m, "%s", err->msg);
  return ss_seterr(err, SS_EINPUT, "%s: %s", what, m);
}

int ss_run_lock(const char *dir, int *fd, ss_err *err) {
  *fd = -1;
  int rc = ss_mkdir_p(dir, err);
  if (rc) return prefix_err(err, "key 'out'");
  char *p = ss_path_join(dir, ".run.lock");
  /* read-only: an open writable file would keep the file system from being remounted read-only */
  const int f = open(p, O_CREAT | O_RDONLY | O_CLOEXEC, 0644);
  free(p);
  if (f < 0) return ss_seterr(err, SS_EINPUT, "run directory '%s': cannot create its lock file: %s", dir, strerror(errno));
  if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    close(f);
    if (e == EWOULDBLOCK)
      return ss_seterr(err, SS_EINPUT, "run directory '%s' is in use by another scansnap process (training or resuming it); wait for it to end", dir);
    return ss_seterr(err, SS_EINPUT, "run directory '%s': cannot lock it: %s", dir, strerror(e));
  }
  *fd = f;
  return SS_OK;
}

void ss_run_unlock(int fd) {
  if (fd >= 0) close(fd);
}

int ss_run_begin(const ss_config *cfg, const ss_classes *cl, const char *dir, const char *command, ss_err *err) {
  char *rj = ss_path_join(dir, "run.json");
  int exists = ss_file_exists(rj);
  free(rj);
  if (exists)
    return ss_seterr(err, SS_EINPUT, "out directory '%s' already holds a run (run.json); choose another out= or remove it", dir);
  int rc = ss_mkdir_p(dir, err);
  if (rc) return prefix_err(err, "key 'out'");
  /* config.yaml */
  char *p = ss_path_join(dir, "config.yaml");
  ss_afile a;
  rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return prefix_err(err, "key 'out'");
  ss_config_write_yaml(cfg, a.f);
  if ((rc = ss_afile_commit(&a, err))) return rc;
  if (cl) {
    p = ss_path_join(dir, "classes.json");
    rc = ss_classes_write_json(cl, p, err);
    free(p);
    if (rc) return rc;
  }
  return ss_run_finish(dir, command, "running", cfg, NULL, NULL, err);
}

static json_t *metrics_json(const ss_class_metrics *m) {
  return json_pack("{s:f, s:f, s:f, s:f, s:f}", "entropy", m->entropy, "entropy_distinct", m->entropy_distinct,
                   "common_mass", m->common_mass, "distinct_mass", m->distinct_mass, "kendall_tau",
                   isfinite(m->kendall_tau) ? m->kendall_tau : 0.0);
}

int ss_run_finish(const char *dir, const char *command, const char *status, const ss_config *cfg,
                  const ss_run_summary *s, const char *error, ss_err *err) {
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(status));
  json_object_set_new(o, "command", json_string(command));
  json_object_set_new(o, "version", json_string(SS_VERSION));
  json_object_set_new(o, "model", json_string(cfg->model.type == SS_MODEL_YZ ? "yz" : "transformer"));
  json_object_set_new(o, "seed", json_integer(cfg->seed));
  time_t now = time(NULL);
  char ts[32];
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_object_set_new(o, "time", json_string(ts));
  char unused[512];
  ss_config_unused(cfg, unused, sizeof unused);
  json_object_set_new(o, "unused_keys", json_string(unused));
  /* which keys the user gave: config.yaml lists them all, resuming needs to know these */
  json_t *ek = json_array();
  int nk;
  const ss_keydef *keys = ss_config_keys(&nk);
  for (int i = 0; i < nk; i++)
    if (cfg->set[i] && keys[i].offset != offsetof(ss_config, resume)) json_array_append_new(ek, json_string(keys[i].name));
  json_object_set_new(o, "explicit_keys", ek);
  if (s) {
    json_object_set_new(o, "M", json_integer(s->M));
    json_object_set_new(o, "N", json_integer(s->N));
    json_object_set_new(o, "rows", json_integer(s->rows));
    json_object_set_new(o, "timings", json_pack("{s:f, s:f}", "train_seconds", s->train_seconds, "seqs_per_second", s->seqs_per_second));
    json_object_set_new(o, "final", json_pack("{s:f, s:f, s:o}", "loss", isfinite(s->final_loss) ? s->final_loss : -1.0, "acc", s->final_acc, "metrics", metrics_json(&s->end)));
    json_object_set_new(o, "start", json_pack("{s:f, s:o}", "loss", isfinite(s->first_loss) ? s->first_loss : -1.0, "metrics", metrics_json(&s->start)));
  }
  if (s && s->resumed_from > 0) json_object_set_new(o, "resumed_from", json_integer(s->resumed_from));
  if (error) json_object_set_new(o, "error", json_string(error));
  char *p = ss_path_join(dir, "run.json");
  int rc = ss_write_json_atomic(p, o, JSON_INDENT(2) | JSON_REAL_PRECISION(17), err);
  free(p);
  return rc;
}

int ss_model_from_config(const ss_config *cfg, const ss_classes *cl, ss_model **out, ss_err *err) {
  ss_rng init;
  ss_rng_seed(&init, ss_stream_seed(cfg->seed, SS_STREAM_INIT));
  if (cfg->model.type == SS_MODEL_YZ) {
    ss_yz_opts o = {cl->M, cfg->model.normalize, cfg->model.residual, cfg->model.include_base_token, cfg->model.zero_init,
                    cfg->model.precision == SS_PREC_F32, cfg->model.kernels};
    int rc = ss_yz_new(&o, &init, out, err);
    if (rc) return rc;
    (*out)->groups[0].lr = ss_config_lr_y(cfg);
    (*out)->groups[1].lr = ss_config_lr_z(cfg);
    return SS_OK;
  }
  /* transformer: vocabulary from the class table, positions up to data.T */
  return ss_tf_new(cfg, cl->M, cfg->data.T, out, err);
}

static void fill_summary_metrics(const ss_recorder *rec, ss_run_summary *s) {
  if (rec->nrows == 0) return;
  s->start = rec->rows[0].avg;
  s->end = rec->rows[rec->nrows - 1].avg;
  s->first_loss = rec->rows[0].loss;
  s->final_loss = rec->rows[rec->nrows - 1].loss;
  s->final_acc = rec->rows[rec->nrows - 1].acc;
  s->rows = rec->nrows;
}

/* FNV-1a of the run's inputs, kept in the checkpoint so that a resume notices a class
 * table or sequence file that changed under it. */
static void input_checksums(const ss_classes *cl, const ss_seqfile *sf, char cls[32], char seq[32]) {
  uint64_t h = ss_fnv1a64(cl->query, sizeof(int) * (size_t)cl->N, SS_FNV_INIT);
  h = ss_fnv1a64(cl->next, sizeof(int) * (size_t)cl->N, h);
  h = ss_fnv1a64(cl->prob, sizeof(double) * (size_t)cl->N * cl->M, h);
  snprintf(cls, 32, "%016" PRIx64, h);
  h = sf->data ? ss_fnv1a64(sf->data, sizeof(int32_t) * (size_t)sf->rows * (sf->T + 1), SS_FNV_INIT) : 0;
  snprintf(seq, 32, "%016" PRIx64, h);
}

int ss_train(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err) {
  ss_classes cl;
  ss_model *m = NULL;
  ss_optim opt;
  ss_batch b;
  ss_seqfile sf;
  ss_recorder rec;
  double *c = NULL;
  char *ckpt = NULL;
  int rc, lockfd = -1;
  memset(sum, 0, sizeof *sum);
  memset(&opt, 0, sizeof opt);
  memset(&b, 0, sizeof b);
  memset(&sf, 0, sizeof sf);
  memset(&rec, 0, sizeof rec);
  snprintf(sum->dir, sizeof sum->dir, "%s", dir);
  ss_set_threads(cfg->threads);
  const int resuming = cfg->resume[0] != 0;
  if (cfg->model.type == SS_MODEL_TRANSFORMER && cfg->model.task == SS_TASK_LM) {
    /* the language model on real text (SPEC §5) has its own loop: epochs over a token
     * stream; it resumes from its own checkpoint state (src/text/lm_train.c) */
    ss_lm_summary ls;
    rc = ss_lm_train(cfg, dir, &ls, err);
    sum->M = ls.V;
    sum->first_loss = ls.first_train_loss;
    sum->final_loss = ls.final_valid_loss;
    sum->train_seconds = ls.seconds_train;
    sum->seqs_per_second = ls.seconds_train > 0 ? (double)cfg->batchsize * (double)ls.steps / ls.seconds_train : 0;
    return rc;
  }

  /* Everything that can be bad input is checked before the run directory exists. */
  if ((rc = ss_classes_from_config(cfg, &cl, err))) return rc;
  if (cfg->data.sequences[0]) {
    if ((rc = ss_seqfile_load(cfg->data.sequences, cl.M, &sf, err))) goto out_cl;
    if (sf.T != cfg->data.T && ss_config_is_set(cfg, "data.T")) {
      rc = ss_seterr(err, SS_EINPUT, "sequence file '%s' has sequences of length %d but data.T = %d", cfg->data.sequences, sf.T, cfg->data.T);
      goto out_cl;
    }
  }
  int T = sf.data ? sf.T : cfg->data.T;
  if ((rc = ss_model_from_config(cfg, &cl, &m, err))) goto out_cl;
  if ((rc = ss_optim_init(&opt, cfg, m, err))) goto out_m;
  if ((rc = ss_batch_alloc(&b, cfg->batchsize, T, err))) goto out_m;
  c = malloc(sizeof(double) * (size_t)cl.N * cl.M);
  ckpt = ss_path_join(dir, "checkpoint.safetensors");
  if (!c || !ckpt || (rc = ss_recorder_init(&rec, &cl, err))) {
    rc = c && ckpt ? rc : ss_seterr(err, SS_ERUN, "out of memory");
    goto out_m;
  }
  sum->M = cl.M;
  sum->N = cl.N;
  ss_config_unused(cfg, sum->unused, sizeof sum->unused);
  char cls_sum[32], seq_sum[32];
  input_checksums(&cl, &sf, cls_sum, seq_sum);
  const char *meta[] = {"classes_fnv1a", cls_sum, "sequences_fnv1a", seq_sum, NULL};

  /* pos: the state at the current step boundary (see ss_train_pos). */
  ss_train_pos pos = {0, {{0, 0, 0, 0}}, 0};
  ss_rng_seed(&pos.rng, ss_stream_seed(cfg->seed, SS_STREAM_DATA));
  long long last_good = -1; /* step of the newest checkpoint on disk, -1 if none */
  /* one process per run directory, from before the checkpoint is read to the end */
  if ((rc = ss_run_lock(dir, &lockfd, err))) goto out_m;
  if (resuming && ss_file_exists(ckpt)) {
    if ((rc = ss_checkpoint_load(ckpt, m, &opt, &pos, &rec, meta, err))) goto out_m;
    if (pos.step > cfg->niter) {
      rc = ss_seterr(err, SS_EINPUT, "key 'niter': the checkpoint in '%s' is at step %lld, beyond niter = %d", dir, pos.step, cfg->niter);
      goto out_m;
    }
    if (sf.data && pos.data_pos >= sf.rows) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': data position %lld is beyond the %d rows of '%s'", ckpt, pos.data_pos, sf.rows, cfg->data.sequences);
      goto out_m;
    }
    last_good = pos.step;
  }
  sf.pos = (long)pos.data_pos;
  ss_rng rng = pos.rng; /* the data stream; pos.rng keeps its state at the last boundary */
  if (resuming) ss_run_clean_tmp(dir);
  if (resuming)
    rc = ss_run_finish(dir, "train", "running", cfg, NULL, NULL, err);
  else
    rc = ss_run_begin(cfg, &cl, dir, "train", err);
  if (rc) goto out_m;

  /* Test hook (tests/test_resume.sh): slow every step down so that a kill lands mid-run. */
  const char *delay_env = getenv("SS_TEST_STEP_DELAY_US");
  long delay_us = delay_env ? atol(delay_env) : 0;
  const long long first_step = pos.step;
  sum->resumed_from = first_step;
  double t_train = 0;
  for (long long step = pos.step;; step++) {
    /* step boundary: pos describes it, a checkpoint written now resumes exactly here */
    pos.step = step;
    pos.rng = rng;
    pos.data_pos = sf.pos;
    int sig = ss_stop_requested();
    if (sig) {
      rc = ss_checkpoint_save(ckpt, m, &opt, &pos, &rec, meta, err);
      if (rc == SS_OK) rc = ss_recorder_write(&rec, dir, err);
      if (rc) rc = err->code = SS_ERUN;
      if (rc == SS_OK)
        rc = ss_seterr(err, SS_ESTOP, "stopped by signal %d at step %lld of %d; checkpoint written, continue with --resume %s", sig, step, cfg->niter, dir);
      break;
    }
    if (delay_us > 0) usleep((useconds_t)delay_us);
    int last = step == cfg->niter;
    if (sf.data)
      ss_seqfile_next(&sf, &cl, &b);
    else
      ss_batch_sample(&cl, &rng, &b);
    double loss, acc, ts = ss_now();
    rc = last ? m->ops->eval(m, &b, &loss, &acc, err) : m->ops->step(m, &b, &loss, &acc, err);
    t_train += ss_now() - ts;
    if (rc) break;
    if (last || step % cfg->save_per_minibatch == 0) {
      if ((rc = m->ops->composition(m, &cl, c, err))) break;
      if ((rc = ss_recorder_add(&rec, step, loss, acc, c, ss_model_group_norm(m, 0), ss_model_group_norm(m, 1), NULL, err))) break;
    }
    char where[128];
    if (!isfinite(loss)) {
      rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: loss is %g", step, loss);
      break;
    }
    if (last) break;
    if (ss_model_find_nonfinite(m, 1, where, sizeof where)) {
      rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: %s is not finite", step, where);
      break;
    }
    ts = ss_now();
    ss_optim_step(&opt, m, 1.0);
    t_train += ss_now() - ts;
    if (ss_model_find_nonfinite(m, 0, where, sizeof where)) {
      rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: parameter %s is not finite after the update", step, where);
      break;
    }
    if (cfg->save_every > 0 && (step + 1) % cfg->save_every == 0) {
      ss_train_pos next = {step + 1, rng, sf.pos};
      /* a file that cannot be written mid-run (disk full, output gone read-only) is a
       * failure of the run (exit 1), not of its input; the previous checkpoint stays */
      if ((rc = ss_checkpoint_save(ckpt, m, &opt, &next, &rec, meta, err))) {
        rc = err->code = SS_ERUN;
        break;
      }
      last_good = step + 1;
    }
  }
  if (rc == SS_EDIVERGE) {
    size_t n = strlen(err->msg);
    if (last_good >= 0)
      snprintf(err->msg + n, sizeof err->msg - n, " (the checkpoint of step %lld is kept)", last_good);
    else
      snprintf(err->msg + n, sizeof err->msg - n, " (no checkpoint was written before)");
  }
  sum->train_seconds = t_train;
  sum->seqs_per_second = t_train > 0 ? (double)cfg->batchsize * (double)(cfg->niter + 1 - first_step) / t_train : 0;
  fill_summary_metrics(&rec, sum);
  if (rc == SS_OK) {
    /* results first, then the checkpoint of step niter, then run.json says complete */
    rc = ss_recorder_write(&rec, dir, err);
    if (rc == SS_OK) rc = ss_snap_write(&rec, dir, err); /* snap.json (src/theory/snap.c) */
    if (rc == SS_OK) rc = ss_checkpoint_save(ckpt, m, &opt, &pos, &rec, meta, err);
    if (rc) rc = err->code = SS_ERUN;
  }
  if (rc == SS_OK) {
    rc = ss_run_finish(dir, "train", "complete", cfg, sum, NULL, err);
    if (rc) rc = err->code = SS_ERUN;
  } else {
    ss_err e2;
    if (rc == SS_EDIVERGE) ss_recorder_write(&rec, dir, &e2); /* keep what was measured */
    const char *status = rc == SS_EDIVERGE ? "diverged" : rc == SS_ESTOP ? "interrupted" : "failed";
    ss_run_finish(dir, "train", status, cfg, sum, err->msg, &e2);
  }
out_m:
  ss_run_unlock(lockfd);
  free(ckpt);
  ss_recorder_free(&rec);
  free(c);
  ss_batch_free(&b);
  ss_optim_free(&opt);
  ss_model_free(m);
out_cl:
  ss_seqfile_free(&sf); /* also after a sequence file that loaded but does not fit data.T */
  ss_classes_free(&cl);
  return rc;
}
