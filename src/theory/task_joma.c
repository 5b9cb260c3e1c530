/* JoMA's two simulated systems (SPEC §6, docs/joma.md) as tasks of the one training loop
 * (src/train/trainer.c), so that `scansnap theory model.type=joma_linear|joma_toy` runs have
 * the files, stop requests, progress, output limits, checkpoints and resume of every run.
 * The computation is src/theory/joma.c's per-step pieces, the same calls in the same order
 * as ss_joma_linear_run / ss_joma_toy_run: a run's rows are their rows, bit for bit.
 *
 * joma_linear: parameters W [d, K] (group 0, the decoder: opt.lr_y) and z [Mc] (group 1, the
 *   attention logits: opt.lr_z), updated by the run's optimizer (SGD without momentum: the
 *   paper's plain gradient descent; with opt.lr alone both rates are opt.lr). A row: loss,
 *   acc, y_norm = ||W||_F, z_norm = ||z||, attn_entropy (mean over k of H(b_k)), nc =
 *   NC(zhat, z), nc_w, nc_x (each part of zhat alone), rel_err = ||z - zhat|| / ||z||.
 * joma_toy: the parameter v [d]; its update is the system's own rule v += eta (mu - v) . s
 *   (eta = opt.lr), not an optimizer. A row: loss = |mu - v|^2 / 2, attn_entropy =
 *   H(softmax(v^2/T)), top (its largest entry), v0 .. v{d-1}.
 * Both record min_nc / min_entropy and their steps as they go (joma.stats in checkpoints);
 * a finished run writes joma.safetensors: X, xbar, C (linear) or mu (toy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/theory.h"

/* ---- options from the configuration --------------------------------------------------------- */

int ss_joma_linear_opts_from_config(const ss_config *cfg, ss_joma_linear_opts *o, ss_err *err) {
  ss_joma_linear_defaults(o);
  o->seed = cfg->seed;
  o->variant = cfg->joma.variant == 1 ? SS_JOMA_GAUSSIAN : SS_JOMA_UNIFORM;
  o->n_distinct = cfg->joma.n_distinct;
  o->n_common = cfg->joma.n_common;
  o->K = cfg->joma.K;
  o->d = cfg->joma.d;
  o->T = cfg->joma.T;
  o->lr = ss_config_lr_z(cfg);
  o->init_scale = cfg->joma.init_scale;
  o->steps = cfg->niter;
  o->every = cfg->save_per_minibatch;
  const int Mc = o->n_distinct + o->n_common;
  if (Mc < 2)
    return ss_seterr(err, SS_EINPUT, "key 'joma.n_distinct': %d distinct + %d common (joma.n_common) contextual tokens, expected at least 2 in all",
                     o->n_distinct, o->n_common);
  if (o->d < Mc + 1)
    return ss_seterr(err, SS_EINPUT, "key 'joma.d': %d embedding rows, expected at least Mc + 1 = %d (U is the identity on the %d tokens and the query)",
                     o->d, Mc + 1, Mc);
  if (!(o->T > 0)) return ss_seterr(err, SS_EINPUT, "key 'joma.T': temperature %g, expected > 0", o->T);
  if ((double)o->d * o->K * (Mc + 1) > 1e9)
    return ss_seterr(err, SS_EINPUT, "key 'joma.d': d x K x (Mc + 1) = %.3g (joma.d, joma.K, joma.n_distinct + joma.n_common + 1) is too large",
                     (double)o->d * o->K * (Mc + 1));
  return SS_OK;
}

int ss_joma_toy_opts_from_config(const ss_config *cfg, ss_joma_toy_opts *o, double *mu, ss_err *err) {
  ss_joma_toy_defaults(o);
  o->seed = cfg->seed;
  o->d = cfg->joma.d;
  o->T = cfg->joma.T;
  o->eta = ss_config_lr_z(cfg);
  o->v0 = cfg->joma.v0;
  o->mu_lo = cfg->joma.mu_lo;
  o->mu_hi = cfg->joma.mu_hi;
  o->steps = cfg->niter;
  o->every = cfg->save_per_minibatch;
  if (o->d < 2 || o->d > SS_JOMA_TOY_MAX_D)
    return ss_seterr(err, SS_EINPUT, "key 'joma.d': %d, expected 2 .. %d for the toy (each component of v is a metrics column)", o->d,
                     SS_JOMA_TOY_MAX_D);
  if (!(o->T > 0)) return ss_seterr(err, SS_EINPUT, "key 'joma.T': temperature %g, expected > 0", o->T);
  if (!cfg->joma.mu[0]) {
    if (!(o->mu_lo <= o->mu_hi))
      return ss_seterr(err, SS_EINPUT, "key 'joma.mu_lo': %g is above joma.mu_hi = %g", o->mu_lo, o->mu_hi);
    return SS_OK;
  }
  /* an explicit list: exactly d finite numbers */
  const char *p = cfg->joma.mu;
  int n = 0;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '[' || *p == ']') p++;
    if (!*p) break;
    char *end;
    const double v = strtod(p, &end);
    if (end == p || !isfinite(v) || (*end && *end != ',' && *end != ' ' && *end != ']'))
      return ss_seterr(err, SS_EINPUT, "key 'joma.mu': '%.200s' is not a comma-separated list of finite numbers", cfg->joma.mu);
    if (n < o->d) mu[n] = v;
    n++;
    p = end;
  }
  if (n != o->d)
    return ss_seterr(err, SS_EINPUT, "key 'joma.mu': %d values, expected joma.d = %d (one target per component of v)", n, o->d);
  o->mu = mu;
  return SS_OK;
}

/* ---- the model: the parameters in one allocation, named for checkpoints ---------------------- */

static const ss_model_ops joma_model_ops = {"joma", NULL, NULL, NULL, NULL};

/* A model of nt tensors (name, count) laid out one after the other; group g = tensor g. */
static int joma_model(const char *const *names, const size_t *counts, int nt, ss_model **out, ss_err *err) {
  ss_model *m = calloc(1, sizeof *m);
  size_t n = 0;
  for (int i = 0; i < nt; i++) n += counts[i];
  if (m) {
    m->params = calloc(n, sizeof(double));
    m->grads = calloc(n, sizeof(double));
  }
  if (!m || !m->params || !m->grads) {
    ss_model_free(m);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  m->ops = &joma_model_ops;
  m->dtype = SS_F64;
  m->nparams = n;
  size_t off = 0;
  for (int i = 0; i < nt; i++) {
    m->tensors[i] = (ss_tensor){(char *)names[i], SS_F64, 1, {(int64_t)counts[i]}, (double *)m->params + off};
    m->groups[i] = (ss_param_group){.name = names[i], .offset = off, .count = counts[i]};
    off += counts[i];
  }
  m->ntensors = m->ngroups = nt;
  *out = m;
  return SS_OK;
}

/* ---- the task --------------------------------------------------------------------------------- */

enum { LX_ENT, LX_NC, LX_NCW, LX_NCX, LX_REL, LX_COUNT };
static const char *const lin_cols[LX_COUNT] = {"attn_entropy", "nc", "nc_w", "nc_x", "rel_err"};
enum { TX_ENT, TX_TOP, TX_V };

typedef struct {
  int linear;
  ss_classes nocl; /* no classes: the class-metric columns are NaN */
  double dummy_prob, dummy_c;
  /* linear */
  ss_joma_linear_opts lo;
  ss_joma_linear_sys sys;
  int have_sys;
  /* toy */
  ss_joma_toy_opts to;
  double *mu, *s, *mu_list;
  ss_joma_toy_row trow;
  /* the smallest NC (linear) / entropy (toy) so far and its step: live, at the last boundary */
  double stats[2], bnd[2], st[2];
} joma_task;

static void joma_free(ss_trainer *tr) {
  joma_task *t = tr->task;
  if (!t) return;
  if (t->have_sys) ss_joma_linear_sys_free(&t->sys);
  free(t->mu);
  free(t->s);
  free(t->mu_list);
  free(t);
  tr->task = NULL;
}

/* What both systems share: the task, no classes, the recorder. */
static int joma_begin(ss_trainer *tr, int linear, int M, ss_err *err) {
  joma_task *t = calloc(1, sizeof *t);
  if (!t) return ss_seterr(err, SS_ERUN, "out of memory");
  tr->task = t;
  t->linear = linear;
  t->stats[0] = t->bnd[0] = INFINITY;
  t->stats[1] = t->bnd[1] = -1;
  t->nocl.M = M;
  t->nocl.prob = &t->dummy_prob;
  /* one process, microseconds per step: threads would only cost wake-ups */
  tr->threads = 1;
  return ss_trainer_set_classes(tr, &t->nocl, err);
}

static int linear_init(ss_trainer *tr, ss_err *err) {
  const ss_config *cfg = &tr->cfg;
  ss_joma_linear_opts o;
  int rc = ss_joma_linear_opts_from_config(cfg, &o, err);
  if (rc) return rc;
  const int Mc = o.n_distinct + o.n_common;
  if ((rc = joma_begin(tr, 1, Mc, err))) return rc;
  joma_task *t = tr->task;
  t->lo = o;
  static const char *const names[2] = {"W", "z"};
  const size_t counts[2] = {(size_t)o.d * o.K, (size_t)Mc};
  ss_model *m = NULL;
  if ((rc = joma_model(names, counts, 2, &m, err))) return rc;
  m->tensors[0].ndim = 2; /* W [d, K] */
  m->tensors[0].shape[0] = o.d;
  m->tensors[0].shape[1] = o.K;
  m->groups[0].lr = ss_config_lr_y(cfg);
  m->groups[1].lr = ss_config_lr_z(cfg);
  if ((rc = ss_trainer_set_model(tr, m, 1, err))) return rc;
  double *W = m->params, *z = W + counts[0];
  if ((rc = ss_joma_linear_sys_init(&t->sys, &o, W, z, err))) return ss_seterr(err, rc, "keys joma.*: %s", err->msg);
  t->have_sys = 1;
  for (int k = 0; k < LX_COUNT; k++) ss_recorder_add_column(&tr->rec, lin_cols[k]);
  tr->items_per_step = o.K;
  return SS_OK;
}

static int toy_init(ss_trainer *tr, ss_err *err) {
  const ss_config *cfg = &tr->cfg;
  if (cfg->opt.method != SS_OPT_SGD || cfg->opt.momentum != 0 || cfg->opt.wd != 0 || cfg->opt.clip != 0)
    return ss_seterr(err, SS_EINPUT,
                     "key '%s': the toy's update is its own rule v += eta (mu - v) . softmax(v^2/T) with eta = opt.lr (SPEC §6), not an "
                     "optimizer: leave opt.method (sgd), opt.momentum, opt.wd and opt.clip (0) at that",
                     cfg->opt.method != SS_OPT_SGD ? "opt.method" : cfg->opt.momentum != 0 ? "opt.momentum" : cfg->opt.wd != 0 ? "opt.wd" : "opt.clip");
  double *list = malloc(sizeof(double) * (cfg->joma.d > 0 ? (size_t)cfg->joma.d : 1));
  if (!list) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_joma_toy_opts o;
  int rc = ss_joma_toy_opts_from_config(cfg, &o, list, err);
  if (rc == SS_OK) rc = joma_begin(tr, 0, o.d, err);
  if (rc) {
    free(list);
    return rc;
  }
  joma_task *t = tr->task;
  t->mu_list = list;
  t->to = o;
  t->mu = malloc(sizeof(double) * (size_t)o.d);
  t->s = malloc(sizeof(double) * (size_t)o.d);
  if (!t->mu || !t->s) return ss_seterr(err, SS_ERUN, "out of memory");
  static const char *const names[1] = {"v"};
  const size_t counts[1] = {(size_t)o.d};
  ss_model *m = NULL;
  if ((rc = joma_model(names, counts, 1, &m, err))) return rc;
  m->groups[0].lr = o.eta;
  if ((rc = ss_trainer_set_model(tr, m, 0, err))) return rc;
  if ((rc = ss_joma_toy_init(&o, t->mu, m->params, err))) return ss_seterr(err, rc, "keys joma.*: %s", err->msg);
  ss_recorder_add_column(&tr->rec, "attn_entropy");
  ss_recorder_add_column(&tr->rec, "top");
  for (int i = 0; i < o.d; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "v%d", i);
    ss_recorder_add_column(&tr->rec, nm);
  }
  tr->flags = SS_TASK_NO_GRADS; /* the update uses s, not a gradient */
  tr->items_per_step = 1;
  return SS_OK;
}

static int joma_forward(ss_trainer *tr, long long s, int last, double *loss, double *acc, ss_err *err) {
  (void)err;
  joma_task *t = tr->task;
  ss_model *m = tr->m;
  if (t->linear) {
    double *W = m->params, *z = W + (size_t)t->lo.d * t->lo.K, *gW = m->grads, *gz = gW + (size_t)t->lo.d * t->lo.K;
    *loss = ss_joma_linear_sys_eval(&t->sys, W, z, last ? NULL : gW, last ? NULL : gz);
    *acc = (double)t->sys.hits / t->lo.K;
    return SS_OK;
  }
  ss_joma_toy_eval(&t->to, t->mu, m->params, t->s, (long)s, &t->trow);
  *loss = t->trow.dist;
  *acc = NAN;
  return SS_OK;
}

static void keep_min(joma_task *t, double v, long long s) {
  if (!(v >= t->stats[0])) { /* a NaN counts as the minimum */
    t->stats[0] = v;
    t->stats[1] = (double)s;
  }
}

static int joma_record(ss_trainer *tr, long long s, double loss, double acc, ss_err *err) {
  joma_task *t = tr->task;
  ss_model *m = tr->m;
  double x[SS_MAX_EXTRA];
  if (t->linear) {
    const double *W = m->params, *z = W + (size_t)t->lo.d * t->lo.K;
    ss_joma_linear_row r;
    ss_joma_linear_sys_row(&t->sys, (long)s, loss, W, z, &r);
    const double v[LX_COUNT] = {r.entropy, r.nc, r.nc_w, r.nc_x, r.rel_err};
    memcpy(x, v, sizeof v);
    keep_min(t, r.nc, s);
    return ss_recorder_add(&tr->rec, s, r.loss, r.acc, &t->dummy_c, r.w_norm, r.z_norm, x, err);
  }
  x[TX_ENT] = t->trow.entropy;
  x[TX_TOP] = t->trow.top;
  memcpy(x + TX_V, m->params, sizeof(double) * (size_t)t->to.d);
  keep_min(t, t->trow.entropy, s);
  return ss_recorder_add(&tr->rec, s, loss, acc, &t->dummy_c, NAN, NAN, x, err);
}

static int toy_update(ss_trainer *tr, long long s, double loss, ss_err *err) {
  (void)s;
  (void)loss;
  (void)err;
  joma_task *t = tr->task;
  ss_joma_toy_update(&t->to, t->mu, tr->m->params, t->s);
  return SS_OK;
}

static void joma_snapshot(ss_trainer *tr) {
  joma_task *t = tr->task;
  memcpy(t->bnd, t->stats, sizeof t->bnd);
}

static int joma_state(ss_trainer *tr, int boundary, ss_train_pos *pos, ss_tensor *extra, int *nextra) {
  (void)pos;
  joma_task *t = tr->task;
  memcpy(t->st, boundary ? t->bnd : t->stats, sizeof t->st);
  extra[0] = (ss_tensor){"joma.stats", SS_F64, 1, {2}, t->st};
  *nextra = 1;
  return SS_OK;
}

static int joma_restore(ss_trainer *tr, const ss_train_pos *pos, ss_err *err) {
  joma_task *t = tr->task;
  if (!(t->st[1] >= -1 && t->st[1] < (double)pos->step))
    return ss_seterr(err, SS_EINPUT, "checkpoint '%s': joma.stats names step %g, not before the checkpoint's step %lld", tr->ckpt, t->st[1],
                     pos->step);
  memcpy(t->stats, t->st, sizeof t->stats);
  return SS_OK;
}

/* joma.safetensors: what the run's rows depend on besides its configuration, for readers. */
static int joma_finish(ss_trainer *tr, const char *dir, ss_err *err) {
  joma_task *t = tr->task;
  ss_tensor ts[3];
  int n = 0;
  if (t->linear) {
    const int Mc = t->sys.Mc, K = t->sys.K;
    ts[n++] = (ss_tensor){"X", SS_F64, 2, {Mc, K}, t->sys.X};
    ts[n++] = (ss_tensor){"xbar", SS_F64, 1, {Mc}, t->sys.xbar};
    ts[n++] = (ss_tensor){"C", SS_F64, 1, {Mc}, t->sys.C};
  } else {
    ts[n++] = (ss_tensor){"mu", SS_F64, 1, {t->to.d}, t->mu};
  }
  const char *meta[] = {"format", "scansnap-joma-1", "system", t->linear ? "joma_linear" : "joma_toy", "layout",
                        t->linear ? "X[l, k] = P(token l | class k); xbar = row means of X; C = zhat's constant (zhat(0) = z(0))"
                                  : "mu[i] = the target of v[i]",
                        NULL};
  char *path = ss_path_join(dir, "joma.safetensors");
  if (!path) return ss_seterr(err, SS_ERUN, "out of memory");
  int rc = ss_safetensors_write(path, ts, n, meta, err);
  free(path);
  return rc;
}

static void joma_summarize(ss_trainer *tr, ss_train_summary *s) {
  joma_task *t = tr->task;
  if (!t) return;
  const ss_recorder *rec = &tr->rec;
  const int col = t->linear ? LX_NC : TX_ENT;
  const char *what = t->linear ? "nc" : "attn_entropy";
  s->run.N = 0;
  s->run.M = t->nocl.M;
  s->run.seqs_per_second = tr->t_train > 0 ? (double)(tr->step - tr->first_step) / tr->t_train : 0;
  if (!tr->has_rec || !rec->nrows) return;
  const double v[4] = {rec->first.extra[col], t->stats[0], t->stats[1], rec->last.extra[col]};
  static const char *const suffix[4] = {"first", "min", "min_step", "last"};
  for (int k = 0; k < 4 && s->ntask < SS_TASK_MAX_NUMBERS; k++) {
    snprintf(s->task_names[s->ntask], sizeof s->task_names[0], "%s_%s", what, suffix[k]);
    s->task_numbers[s->ntask++] = v[k];
  }
}

const ss_task_ops ss_task_joma_linear = {
    .name = "joma_linear",
    .init = linear_init,
    .forward = joma_forward,
    .record = joma_record,
    .snapshot = joma_snapshot,
    .state = joma_state,
    .restore = joma_restore,
    .finish = joma_finish,
    .summarize = joma_summarize,
    .free = joma_free,
};

const ss_task_ops ss_task_joma_toy = {
    .name = "joma_toy",
    .init = toy_init,
    .forward = joma_forward,
    .record = joma_record,
    .update = toy_update,
    .snapshot = joma_snapshot,
    .state = joma_state,
    .restore = joma_restore,
    .finish = joma_finish,
    .summarize = joma_summarize,
    .free = joma_free,
};
