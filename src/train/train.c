/* The training run (SPEC §3): rows at step 0, every save_per_minibatch updates and at
 * niter; a row's loss is that of the batch the next update uses (the last row: one more
 * batch, no update). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scansnap/io.h"
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

int ss_run_begin(const ss_config *cfg, const ss_classes *cl, const char *dir, const char *command, ss_err *err) {
  char *rj = ss_path_join(dir, "run.json");
  int exists = ss_file_exists(rj);
  free(rj);
  if (exists)
    return ss_seterr(err, SS_EINPUT, "out directory '%s' already holds a run (run.json); choose another out= or remove it", dir);
  int rc = ss_mkdir_p(dir, err);
  if (rc) return ss_seterr(err, SS_EINPUT, "key 'out': %s", err->msg);
  /* config.yaml */
  char *p = ss_path_join(dir, "config.yaml");
  ss_afile a;
  rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return ss_seterr(err, SS_EINPUT, "key 'out': %s", err->msg);
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
  if (s) {
    json_object_set_new(o, "M", json_integer(s->M));
    json_object_set_new(o, "N", json_integer(s->N));
    json_object_set_new(o, "rows", json_integer(s->rows));
    json_object_set_new(o, "timings", json_pack("{s:f, s:f}", "train_seconds", s->train_seconds, "seqs_per_second", s->seqs_per_second));
    json_object_set_new(o, "final", json_pack("{s:f, s:f, s:o}", "loss", isfinite(s->final_loss) ? s->final_loss : -1.0, "acc", s->final_acc, "metrics", metrics_json(&s->end)));
    json_object_set_new(o, "start", json_pack("{s:f, s:o}", "loss", isfinite(s->first_loss) ? s->first_loss : -1.0, "metrics", metrics_json(&s->start)));
  }
  if (error) json_object_set_new(o, "error", json_string(error));
  char *js = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!js) return ss_seterr(err, SS_ERUN, "out of memory");
  size_t n = strlen(js);
  js[n] = '\n';
  char *p = ss_path_join(dir, "run.json");
  int rc = ss_write_file_atomic(p, js, n + 1, err);
  free(p);
  free(js);
  return rc;
}

int ss_model_from_config(const ss_config *cfg, const ss_classes *cl, ss_model **out, ss_err *err) {
  ss_rng init;
  ss_rng_seed(&init, (uint64_t)cfg->seed * 0x9E3779B97F4A7C15ULL + 2);
  if (cfg->model.type == SS_MODEL_YZ) {
    ss_yz_opts o = {cl->M, cfg->model.normalize, cfg->model.residual, cfg->model.include_base_token, cfg->model.zero_init};
    int rc = ss_yz_new(&o, &init, out, err);
    if (rc) return rc;
    (*out)->groups[0].lr = ss_config_lr_y(cfg);
    (*out)->groups[1].lr = ss_config_lr_z(cfg);
    return SS_OK;
  }
  /* transformer: vocabulary from the class table, positions up to data.T */
  return ss_tf_new(cfg, cl->M, cfg->data.T, out, err);
}

int ss_checkpoint_write(const char *path, const ss_model *m, const ss_optim *o, long long step, const ss_rng *rng,
                        long long data_pos, ss_err *err) {
  ss_tensor t[3 * SS_MAX_TENSORS + 3];
  char names[2 * SS_MAX_TENSORS][64];
  int n = 0;
  size_t es = ss_dtype_size(m->dtype);
  for (int i = 0; i < m->ntensors; i++) t[n++] = m->tensors[i];
  void *moments[2] = {o ? o->m1 : NULL, o ? o->m2 : NULL};
  const char *mname[2] = {"opt.m1.", "opt.m2."};
  for (int k = 0; k < 2; k++) {
    if (!moments[k]) continue;
    for (int i = 0; i < m->ntensors; i++) {
      size_t off = (size_t)((const char *)m->tensors[i].data - (const char *)m->params);
      snprintf(names[k * SS_MAX_TENSORS + i], 64, "%s%s", mname[k], m->tensors[i].name);
      t[n] = m->tensors[i];
      t[n].name = names[k * SS_MAX_TENSORS + i];
      t[n].data = (char *)moments[k] + off;
      n++;
    }
  }
  (void)es;
  int64_t st[3] = {step, o ? o->t : 0, data_pos};
  uint64_t rs[4] = {0, 0, 0, 0};
  if (rng) memcpy(rs, rng->s, sizeof rs);
  t[n++] = (ss_tensor){"step", SS_I64, 1, {3}, st};
  t[n++] = (ss_tensor){"rng", SS_U64, 1, {4}, rs};
  const char *meta[] = {"format", "scansnap-checkpoint-1", "step_layout", "[step, optimizer_updates, data_position]", NULL};
  return ss_safetensors_write(path, t, n, meta, err);
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

int ss_train(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err) {
  ss_classes cl;
  ss_model *m = NULL;
  ss_optim opt;
  ss_batch b;
  ss_seqfile sf;
  ss_recorder rec;
  double *c = NULL;
  int rc;
  memset(sum, 0, sizeof *sum);
  memset(&opt, 0, sizeof opt);
  memset(&b, 0, sizeof b);
  memset(&sf, 0, sizeof sf);
  memset(&rec, 0, sizeof rec);
  snprintf(sum->dir, sizeof sum->dir, "%s", dir);
  ss_set_threads(cfg->threads);
  if (cfg->model.type == SS_MODEL_TRANSFORMER && cfg->model.task == SS_TASK_LM) {
    /* the language model on real text (SPEC §5) has its own loop: epochs over a token stream */
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
  if (!c || (rc = ss_recorder_init(&rec, &cl, err))) {
    rc = c ? rc : ss_seterr(err, SS_ERUN, "out of memory");
    goto out_m;
  }
  sum->M = cl.M;
  sum->N = cl.N;
  ss_config_unused(cfg, sum->unused, sizeof sum->unused);
  if ((rc = ss_run_begin(cfg, &cl, dir, "train", err))) goto out_m;

  ss_rng rng;
  ss_rng_seed(&rng, (uint64_t)cfg->seed * 0x9E3779B97F4A7C15ULL + 1);
  double t0 = ss_now(), t_train = 0;
  char ckpt_err[256] = "";
  for (long long step = 0;; step++) {
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
    if (!isfinite(loss)) {
      rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: loss is %g", step, loss);
      break;
    }
    if (last) break;
    char where[128];
    if (ss_model_find_nonfinite(m, 1, where, sizeof where)) {
      rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: %s is not finite", step, where);
      break;
    }
    ts = ss_now();
    ss_optim_step(&opt, m, 1.0);
    t_train += ss_now() - ts;
    if (cfg->save_every > 0 && (step + 1) % cfg->save_every == 0) {
      char *p = ss_path_join(dir, "checkpoint.safetensors");
      rc = ss_checkpoint_write(p, m, &opt, step + 1, &rng, sf.pos, err);
      free(p);
      if (rc) break;
    }
  }
  (void)t0;
  (void)ckpt_err;
  sum->train_seconds = t_train;
  sum->seqs_per_second = t_train > 0 ? (double)cfg->batchsize * (double)(cfg->niter + 1) / t_train : 0;
  fill_summary_metrics(&rec, sum);
  if (rc == SS_OK) {
    rc = ss_recorder_write(&rec, dir, err);
    if (rc == SS_OK) {
      char *p = ss_path_join(dir, "checkpoint.safetensors");
      rc = ss_checkpoint_write(p, m, &opt, cfg->niter, &rng, sf.pos, err);
      free(p);
    }
  }
  if (rc == SS_OK) {
    rc = ss_run_finish(dir, "train", "complete", cfg, sum, NULL, err);
  } else {
    ss_err e2;
    if (rc == SS_EDIVERGE) ss_recorder_write(&rec, dir, &e2); /* keep what was measured */
    ss_run_finish(dir, "train", rc == SS_EDIVERGE ? "diverged" : "failed", cfg, sum, err->msg, &e2);
  }
out_m:
  ss_recorder_free(&rec);
  free(c);
  ss_batch_free(&b);
  ss_optim_free(&opt);
  ss_model_free(m);
  ss_seqfile_free(&sf);
out_cl:
  ss_classes_free(&cl);
  return rc;
}
