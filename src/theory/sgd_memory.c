/* The SGD run of ss_train (src/train/train.c) in memory, for verify's grids: the same model
 * (ss_model_from_config), the same data stream (rng seeded with seed*0x9E37...+1, one
 * ss_batch_sample per step), the same optimizer and the same rows (0, every
 * save_per_minibatch, niter; a row's loss is the batch the next update uses), without the
 * run's files: a run directory costs several fsyncs, which dominate a 20 ms run.
 * test_verify checks that its rows equal ss_train's. Synthetic batches only. */
#include <math.h>
#include <stdlib.h>

#include "scansnap/theory.h"

int ss_sgd_trajectory(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_err *err) {
  if (cfg->data.sequences[0])
    return ss_seterr(err, SS_EINPUT, "key 'data.sequences': in-memory SGD runs draw their batches from the class table");
  ss_model *m = NULL;
  ss_optim opt = {0};
  ss_batch b = {0};
  double *c = NULL;
  int rc = ss_model_from_config(cfg, cl, &m, err);
  if (rc) return rc;
  if ((rc = ss_optim_init(&opt, cfg, m, err)) || (rc = ss_batch_alloc(&b, cfg->batchsize, cfg->data.T, err))) goto out;
  c = malloc(sizeof(double) * (size_t)cl->N * cl->M);
  if (!c) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
    goto out;
  }
  ss_rng rng;
  ss_rng_seed(&rng, ss_stream_seed(cfg->seed, SS_STREAM_DATA));
  for (long long step = 0;; step++) {
    int last = step == cfg->niter;
    ss_batch_sample(cl, &rng, &b);
    double loss, acc;
    rc = last ? m->ops->eval(m, &b, &loss, &acc, err) : m->ops->step(m, &b, &loss, &acc, err);
    if (rc) break;
    if (last || step % cfg->save_per_minibatch == 0) {
      if ((rc = m->ops->composition(m, cl, c, err))) break;
      if ((rc = ss_recorder_add(rec, step, loss, acc, c, ss_model_group_norm(m, 0), ss_model_group_norm(m, 1), NULL, err))) break;
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
    ss_optim_step(&opt, m, 1.0);
    if (ss_model_find_nonfinite(m, 0, where, sizeof where)) {
      rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: parameter %s is not finite after the update", step, where);
      break;
    }
  }
out:
  free(c);
  ss_batch_free(&b);
  ss_optim_free(&opt);
  ss_model_free(m);
  return rc;
}
