/* Runs: the model a configuration asks for, the task of a configuration, a whole run
 * (ss_train_run), and the resume policy every caller of the library shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/train.h"
#include "scansnap/transformer.h"
#include "scansnap/yz.h"

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

/* The two parts of a run's memory: what grows with the vocabulary (parameters, gradients,
 * moments; the Y/Z model's M x M dY chunks; logits) and what grows with the batch. */
static void memory_parts(const ss_config *cfg, int M, double *vocab, double *batch, const char **what) {
  const double B = cfg->batchsize, T = cfg->data.T, m = M;
  *batch = B * T * 4 * 2; /* tokens and per-position targets */
  if (cfg->model.type == SS_MODEL_YZ) {
    const double S = (T < m ? T : m) + 1, Mp = m + 8;
    *vocab = 2 * m * m * 8 * 4 + 10 * m * m * 8;         /* Y, Z with grads and two moments; dY chunks, Y^T, dY^T */
    *batch += B * S * (4 + 8 + 8) + B * Mp * (8 + 4 + 4); /* keys, their weights and shares; rows over M */
    *what = "the per-sequence workspace";
  } else {
    const double d = cfg->model.d, H = cfg->model.H, L = 1; /* layers */
    const double F = cfg->model.use_ffn ? (cfg->model.ffn_hidden > 0 ? cfg->model.ffn_hidden : 4 * d) : 0;
    const double logits = (cfg->model.task == SS_TASK_LM ? B * T : B) * m * 4 * 2;
    const double att = L * B * H * T * T * 4 * 3; /* scores, probabilities, dropout mask */
    *vocab = (2 * m * d + T * d + L * (4 * d * d + 2 * d * F)) * 4 * 4;
    *batch += L * B * T * (12 * d + 3 * F) * 4 + att + logits;
    *what = att > logits ? "the T x T attention of every sequence" : "the logits";
  }
}

double ss_run_memory_estimate(const ss_config *cfg, int M, const char **what) {
  double v, b;
  const char *w;
  memory_parts(cfg, M, &v, &b, &w);
  if (what) *what = v > b ? (cfg->model.type == SS_MODEL_YZ ? "the M x M parameters" : "the parameters") : w;
  return v + b;
}

int ss_check_memory(const ss_config *cfg, int M, ss_err *err) {
  double v, b;
  const char *what;
  memory_parts(cfg, M, &v, &b, &what);
  double limit = cfg->max_memory_mb > 0 ? cfg->max_memory_mb * 1048576.0 : 0;
  if (limit <= 0) {
    const long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    limit = pages > 0 && psize > 0 ? 0.8 * (double)pages * (double)psize : 0;
  }
  if (!(limit > 0) || v + b <= limit) return SS_OK;
  const char *lim = cfg->max_memory_mb > 0 ? "max_memory_mb =" : "80% of this machine's";
  if (b >= v)
    return ss_seterr(err, SS_EINPUT,
                     "key 'batchsize': %d sequences of data.T = %d tokens need about %.1f GiB (mostly %s), more than %s %.1f GiB; lower batchsize "
                     "or data.T, or raise max_memory_mb",
                     cfg->batchsize, cfg->data.T, (v + b) / 1073741824.0, what, lim, limit / 1073741824.0);
  return ss_seterr(err, SS_EINPUT,
                   "key '%s': a vocabulary of M = %d token ids needs about %.1f GiB for the model's parameters%s, more than %s %.1f GiB; use "
                   "fewer tokens, or raise max_memory_mb",
                   cfg->model.type == SS_MODEL_YZ ? "data.num_unique_per_next" : "model.d", M, (v + b) / 1073741824.0,
                   cfg->model.type == SS_MODEL_YZ ? " (M x M)" : "", lim, limit / 1073741824.0);
}

const ss_task_ops *ss_train_task(const ss_config *cfg) {
  return cfg->model.type == SS_MODEL_TRANSFORMER && cfg->model.task == SS_TASK_LM ? &ss_task_lm : &ss_task_synthetic;
}

int ss_train_run(const ss_config *cfg, const ss_run_opts *o, ss_train_summary *sum, ss_err *err) {
  ss_trainer tr;
  memset(sum, 0, sizeof *sum);
  if (SS_MODEL_IS_JOMA(cfg->model.type))
    return ss_seterr(err, SS_EINPUT, "key 'model.type': %s is one of JoMA's simulated systems, not a model to train: run it with `scansnap theory` (docs/joma.md)",
                     ss_config_model_name(cfg->model.type));
  int rc = ss_trainer_init(&tr, cfg, o, ss_train_task(cfg), err);
  if (rc == SS_OK) rc = ss_trainer_run(&tr, err);
  ss_trainer_summary(&tr, sum);
  ss_trainer_free(&tr);
  return rc;
}

int ss_train(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err) {
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.dir = dir;
  ss_train_summary s;
  int rc = ss_train_run(cfg, &o, &s, err);
  *sum = s.run;
  return rc;
}

int ss_lm_train(const ss_config *cfg, const char *dir, ss_lm_summary *lm, ss_err *err) {
  if (cfg->model.type != SS_MODEL_TRANSFORMER || cfg->model.task != SS_TASK_LM)
    return ss_seterr(err, SS_EINPUT, "key 'model.task': lm needs model.type=transformer");
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.dir = dir;
  ss_train_summary s;
  int rc = ss_train_run(cfg, &o, &s, err);
  *lm = s.lm;
  return rc;
}

int ss_train_resume_config(const char *dir, const char *const *overrides, int n, ss_config *cfg, int *nothing_to_do, char *message,
                           size_t message_n, ss_err *err) {
  *nothing_to_do = 0;
  if (message_n) message[0] = 0;
  if (!dir || !dir[0]) return ss_seterr(err, SS_EINPUT, "key 'resume': expected the run directory to continue (--resume DIR)");
  int rc = ss_run_load_config(dir, cfg, err);
  if (rc) return rc;
  char status[64];
  if ((rc = ss_run_status(dir, status, sizeof status, err))) return rc;
  const int saved_niter = cfg->niter;
  int niter_given = 0;
  /* A resumed run keeps its configuration, or it would not be the same run; only how far
   * it goes and how many threads compute it (results do not depend on threads) may change. */
  for (int i = 0; i < n; i++) {
    const char *a = overrides[i];
    if (strncmp(a, "niter=", 6) != 0 && strncmp(a, "threads=", 8) != 0)
      return ss_seterr(err, SS_EINPUT,
                       "'%s' cannot be given with --resume: the run continues with its saved %s/config.yaml; only niter= and threads= may change",
                       a, dir);
    niter_given |= a[0] == 'n';
    if ((rc = ss_config_override(cfg, a, err))) return rc;
  }
  if ((rc = ss_config_validate(cfg, err))) return rc;
  if (!strcmp(status, "complete")) {
    if (!niter_given || cfg->niter == saved_niter) {
      /* nothing to train; say whether what the run left is intact */
      char *ck = ss_path_join(dir, "checkpoint.safetensors");
      ss_stfile f;
      ss_err e = {0};
      int bad = !ck || !ss_file_exists(ck) || ss_safetensors_read(ck, &f, &e) != SS_OK;
      if (!bad) ss_st_free(&f);
      free(ck);
      if (bad)
        return ss_seterr(err, SS_EINPUT, "run '%s' is complete (niter = %d) but its checkpoint cannot be used to extend it: %s", dir, saved_niter,
                         e.msg[0] ? e.msg : "checkpoint.safetensors is missing");
      *nothing_to_do = 1;
      snprintf(message, message_n, "run %s is already complete (niter = %d); its checkpoint is intact (checksum verified); nothing to do",
               dir, saved_niter);
      return SS_OK;
    }
    if (cfg->niter < saved_niter)
      return ss_seterr(err, SS_EINPUT, "key 'niter': run '%s' is complete at niter = %d; a resumed run can only be extended", dir, saved_niter);
  }
  return SS_OK;
}
