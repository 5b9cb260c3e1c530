/* Runs: the model a configuration asks for, the task of a configuration, a whole run
 * (ss_train_run), and the resume policy every caller of the library shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/train.h"
#include "scansnap/transformer.h"
#include "scansnap/yz.h"

int ss_model_from_config(const ss_config *cfg, const ss_classes *cl, ss_model **out, ss_err *err) {
  ss_rng init;
  ss_rng_seed(&init, ss_stream_seed(cfg->seed, SS_STREAM_INIT));
  if (cfg->model.type == SS_MODEL_YZ) {
    ss_yz_opts o = {cl->M, cfg->model.normalize, cfg->model.residual, cfg->model.include_base_token, cfg->model.zero_init,
                    cfg->model.precision == SS_PREC_F32};
    int rc = ss_yz_new(&o, &init, out, err);
    if (rc) return rc;
    (*out)->groups[0].lr = ss_config_lr_y(cfg);
    (*out)->groups[1].lr = ss_config_lr_z(cfg);
    return SS_OK;
  }
  /* transformer: vocabulary from the class table, positions up to data.T */
  return ss_tf_new(cfg, cl->M, cfg->data.T, out, err);
}

const ss_task_ops *ss_train_task(const ss_config *cfg) {
  return cfg->model.type == SS_MODEL_TRANSFORMER && cfg->model.task == SS_TASK_LM ? &ss_task_lm : &ss_task_synthetic;
}

int ss_train_run(const ss_config *cfg, const ss_run_opts *o, ss_train_summary *sum, ss_err *err) {
  ss_trainer tr;
  memset(sum, 0, sizeof *sum);
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
  if (cfg->model.type == SS_MODEL_TRANSFORMER && cfg->model.task == SS_TASK_LM) {
    /* a language-model run is as long as text.epochs, which a resumed run cannot change */
    if (!strcmp(status, "complete")) {
      *nothing_to_do = 1;
      snprintf(message, message_n, "run %s is already complete (text.epochs = %d); nothing to do", dir, cfg->text.epochs);
    }
    return SS_OK;
  }
  if (!strcmp(status, "complete")) {
    if (!niter_given || cfg->niter == saved_niter) {
      *nothing_to_do = 1;
      snprintf(message, message_n, "run %s is already complete (niter = %d); nothing to do", dir, saved_niter);
      return SS_OK;
    }
    if (cfg->niter < saved_niter)
      return ss_seterr(err, SS_EINPUT, "key 'niter': run '%s' is complete at niter = %d; a resumed run can only be extended", dir, saved_niter);
  }
  return SS_OK;
}
