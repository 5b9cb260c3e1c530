/* The synthetic task (SPEC §1-§3): minibatch SGD of the Y/Z model or the transformer on
 * sequence classes, batches drawn from the class table (one xoshiro256** stream, so they do
 * not depend on threads) or read in order from a sequence file (data.sequences). A row
 * holds c_n of every class; a finished run also writes snap.json. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/train.h"

typedef struct {
  ss_classes cl;
  ss_seqfile sf;
  ss_batch b;
  ss_rng rng;          /* the data stream (live) */
  ss_train_pos bnd;    /* rng and data position at the latest step boundary */
  char cls_sum[32], seq_sum[32];
  const char *meta[5];
} sgd_task;

/* FNV-1a of the run's inputs, kept in the checkpoint so that a resume notices a class
 * table or sequence file that changed under it. */
static void input_checksums(sgd_task *t) {
  const ss_classes *cl = &t->cl;
  uint64_t h = ss_fnv1a64(cl->query, sizeof(int) * (size_t)cl->N, SS_FNV_INIT);
  h = ss_fnv1a64(cl->next, sizeof(int) * (size_t)cl->N, h);
  h = ss_fnv1a64(cl->prob, sizeof(double) * (size_t)cl->N * cl->M, h);
  snprintf(t->cls_sum, sizeof t->cls_sum, "%016" PRIx64, h);
  h = t->sf.data ? ss_fnv1a64(t->sf.data, sizeof(int32_t) * (size_t)t->sf.rows * (t->sf.T + 1), SS_FNV_INIT) : 0;
  snprintf(t->seq_sum, sizeof t->seq_sum, "%016" PRIx64, h);
  const char *meta[] = {"classes_fnv1a", t->cls_sum, "sequences_fnv1a", t->seq_sum, NULL};
  memcpy(t->meta, meta, sizeof meta);
}

static void sgd_free(ss_trainer *tr) {
  sgd_task *t = tr->task;
  if (!t) return;
  ss_batch_free(&t->b);
  ss_seqfile_free(&t->sf);
  ss_classes_free(&t->cl);
  free(t);
  tr->task = NULL;
}

static int sgd_init(ss_trainer *tr, ss_err *err) {
  const ss_config *cfg = &tr->cfg;
  sgd_task *t = calloc(1, sizeof *t);
  if (!t) return ss_seterr(err, SS_ERUN, "out of memory");
  tr->task = t;
  /* everything that can be bad input is checked here, before the run directory exists */
  int rc = ss_classes_from_config(cfg, &t->cl, err);
  if (rc) return rc;
  if (cfg->data.sequences[0]) {
    if ((rc = ss_seqfile_load(cfg->data.sequences, t->cl.M, &t->sf, err))) return rc;
    if (t->sf.T != cfg->data.T && ss_config_is_set(cfg, "data.T"))
      return ss_seterr(err, SS_EINPUT, "sequence file '%s' has sequences of length %d but data.T = %d", cfg->data.sequences, t->sf.T,
                       cfg->data.T);
  }
  const int T = t->sf.data ? t->sf.T : cfg->data.T;
  ss_model *m = NULL;
  if ((rc = ss_check_memory(cfg, t->cl.M, err)) || (rc = ss_model_from_config(cfg, &t->cl, &m, err))) return rc;
  if ((rc = ss_trainer_set_model(tr, m, 1, err))) return rc;
  if ((rc = ss_batch_alloc(&t->b, cfg->batchsize, T, err))) return rc;
  if ((rc = ss_trainer_set_classes(tr, &t->cl, err))) return rc;
  input_checksums(t);
  tr->meta = t->meta;
  tr->items_per_step = cfg->batchsize;
  ss_rng_seed(&t->rng, ss_stream_seed(cfg->seed, SS_STREAM_DATA));
  return SS_OK;
}

static void sgd_snapshot(ss_trainer *tr) {
  sgd_task *t = tr->task;
  t->bnd.rng = t->rng;
  t->bnd.data_pos = t->sf.pos;
}

static int sgd_state(ss_trainer *tr, int boundary, ss_train_pos *pos, ss_tensor *extra, int *nextra) {
  (void)extra;
  sgd_task *t = tr->task;
  pos->rng = boundary ? t->bnd.rng : t->rng;
  pos->data_pos = boundary ? t->bnd.data_pos : t->sf.pos;
  *nextra = 0;
  return SS_OK;
}

static int sgd_restore(ss_trainer *tr, const ss_train_pos *pos, ss_err *err) {
  sgd_task *t = tr->task;
  if (t->sf.data && pos->data_pos >= t->sf.rows)
    return ss_seterr(err, SS_EINPUT, "checkpoint '%s': data position %lld is beyond the %d rows of '%s'", tr->ckpt, pos->data_pos, t->sf.rows,
                     tr->cfg.data.sequences);
  t->rng = pos->rng;
  t->sf.pos = (long)pos->data_pos;
  return SS_OK;
}

static int sgd_batch(ss_trainer *tr, long long s, int last, ss_err *err) {
  (void)s;
  (void)last;
  (void)err;
  sgd_task *t = tr->task;
  if (t->sf.data)
    ss_seqfile_next(&t->sf, &t->cl, &t->b);
  else
    ss_batch_sample(&t->cl, &t->rng, &t->b);
  return SS_OK;
}

static int sgd_forward(ss_trainer *tr, long long s, int last, double *loss, double *acc, ss_err *err) {
  (void)s;
  sgd_task *t = tr->task;
  ss_model *m = tr->m;
  return last ? m->ops->eval(m, &t->b, loss, acc, err) : m->ops->step(m, &t->b, loss, acc, err);
}

static int sgd_finish(ss_trainer *tr, const char *dir, ss_err *err) {
  return ss_snap_write(&tr->rec, dir, err); /* snap.json */
}

const ss_task_ops ss_task_synthetic = {
    .name = "synthetic",
    .init = sgd_init,
    .batch = sgd_batch,
    .forward = sgd_forward,
    .snapshot = sgd_snapshot,
    .state = sgd_state,
    .restore = sgd_restore,
    .finish = sgd_finish,
    .free = sgd_free,
};
