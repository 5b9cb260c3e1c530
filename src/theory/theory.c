/* Theory runs (SPEC §4): the Y/Z model driven by the exact population gradient.
 *
 * theory.mode=steps: the run's own optimizer (ss_optim: SGD with momentum, Adam, ...) applied
 *   to dJ/dtheta step by step: the noise-free mirror of the SGD run, same init
 *   (ss_model_from_config), same learning rates, same rows.
 * theory.mode=flow: d theta/dt = -eta_group * dJ/dtheta with RK4, t in units of plain-SGD
 *   iterations (one unit of t = one SGD step of size eta without momentum). Fixed step
 *   theory.dt, or adaptive (theory.tol > 0): step doubling, local error estimate
 *   |theta_h - theta_{h/2,h/2}|_inf / 15 kept below tol * h. Rows at t = 0, every
 *   save_per_minibatch and niter, exactly (the step before a row is shortened to land on it).
 *
 * A row's loss/acc is J and the class accuracy at the parameters of that row (before the
 * update), as in a training run. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/theory.h"

static void yz_opts_of(const ss_config *cfg, const ss_classes *cl, ss_yz_opts *o) {
  *o = (ss_yz_opts){cl->M, cfg->model.normalize, cfg->model.residual, cfg->model.include_base_token, cfg->model.zero_init, 0, SS_KERNELS_AUTO};
}

static int record(ss_recorder *rec, ss_model *m, const ss_classes *cl, long long step, double loss, double acc,
                  double *c, ss_err *err) {
  ss_yz_composition_from_Z((const double *)m->params + (size_t)cl->M * cl->M, cl, c);
  return ss_recorder_add(rec, step, loss, acc, c, ss_model_group_norm(m, 0), ss_model_group_norm(m, 1), NULL, err);
}

/* ---- flow: RK4 on d theta/dt = -eta * grad J ---- */
typedef struct {
  ss_pop *pop;
  size_t n, half; /* 2 M^2, M^2 */
  double eta_y, eta_z;
  double *k1, *k2, *k3, *k4, *tmp, *g;
} flow_ws;

static void flow_deriv(flow_ws *w, const double *th, double *k) {
  double loss, acc;
  ss_pop_eval(w->pop, th, w->g, &loss, &acc);
  for (size_t i = 0; i < w->n; i++) k[i] = -(i < w->half ? w->eta_y : w->eta_z) * w->g[i];
}

/* out = th advanced by h (out may alias th). */
static void rk4(flow_ws *w, const double *th, double h, double *out) {
  size_t n = w->n;
  flow_deriv(w, th, w->k1);
  for (size_t i = 0; i < n; i++) w->tmp[i] = th[i] + 0.5 * h * w->k1[i];
  flow_deriv(w, w->tmp, w->k2);
  for (size_t i = 0; i < n; i++) w->tmp[i] = th[i] + 0.5 * h * w->k2[i];
  flow_deriv(w, w->tmp, w->k3);
  for (size_t i = 0; i < n; i++) w->tmp[i] = th[i] + h * w->k3[i];
  flow_deriv(w, w->tmp, w->k4);
  for (size_t i = 0; i < n; i++) out[i] = th[i] + h / 6.0 * (w->k1[i] + 2 * w->k2[i] + 2 * w->k3[i] + w->k4[i]);
}

static int all_finite(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* Advances th from t to t_end. */
static int flow_advance(flow_ws *w, const ss_config *cfg, double *th, double t, double t_end, double *h,
                        double *a, double *b, ss_err *err) {
  const double tol = cfg->theory.tol;
  while (t < t_end - 1e-12) {
    double hh = *h < t_end - t ? *h : t_end - t;
    int landing = hh == t_end - t;
    if (tol <= 0) {
      rk4(w, th, hh, th);
      t += hh;
    } else {
      rk4(w, th, hh, a);          /* one step of hh */
      rk4(w, th, 0.5 * hh, b);    /* two of hh/2 */
      rk4(w, b, 0.5 * hh, b);
      double e = 0;
      for (size_t i = 0; i < w->n; i++) e = fmax(e, fabs(a[i] - b[i]));
      e /= 15.0;
      if (!isfinite(e)) return ss_seterr(err, SS_EDIVERGE, "diverged in the gradient flow at t = %g", t);
      if (e <= tol * hh || hh < 1e-9) {
        memcpy(th, b, sizeof(double) * w->n);
        t += hh;
      }
      double fac = e > 0 ? 0.9 * pow(tol * hh / e, 0.25) : 4.0;
      fac = fac < 0.2 ? 0.2 : fac > 4.0 ? 4.0 : fac;
      /* a shortened landing step says nothing about the step size the flow allows */
      if (!(landing && fac > 1)) *h = hh * fac;
    }
    if (!all_finite(th, w->n)) return ss_seterr(err, SS_EDIVERGE, "diverged in the gradient flow at t = %g", t);
  }
  return SS_OK;
}

/* The trajectory; on success *mout (and *oout in steps mode, initialised) hold the final state. */
static int trajectory_impl(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_model **mout, ss_optim *oout,
                           ss_err *err);

/* The population gradient is serial; the only parallel region is the optimizer's loop over
 * parameters, which for small models costs more in thread wake-ups than it saves (on a busy
 * machine, milliseconds per step). Small models therefore run on this thread alone; results
 * do not depend on the thread count either way. */
static int trajectory(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_model **mout, ss_optim *oout,
                      ss_err *err) {
  int saved = omp_get_max_threads();
  if (2.0 * cl->M * cl->M < 4e6) omp_set_num_threads(1);
  int rc = trajectory_impl(cfg, cl, rec, mout, oout, err);
  omp_set_num_threads(saved);
  return rc;
}

static int trajectory_impl(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_model **mout, ss_optim *oout,
                           ss_err *err) {
  *mout = NULL;
  memset(oout, 0, sizeof *oout);
  if (cfg->model.type != SS_MODEL_YZ)
    return ss_seterr(err, SS_EINPUT, "key 'model.type': theory runs need the yz model (SPEC §4), not the transformer");
  ss_model *m = NULL;
  ss_pop *pop = NULL;
  ss_yz_opts yo;
  yz_opts_of(cfg, cl, &yo);
  int rc = ss_model_from_config(cfg, cl, &m, err);
  if (rc) return rc;
  if ((rc = ss_pop_new(cl, &yo, &pop, err))) goto fail;
  const int M = cl->M;
  double *c = malloc(sizeof(double) * (size_t)cl->N * M);
  if (!c) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
    goto fail;
  }
  double *th = m->params;
  const long long niter = cfg->niter, every = cfg->save_per_minibatch;
  if (cfg->theory.mode == SS_THEORY_STEPS) {
    if ((rc = ss_optim_init(oout, cfg, m, err))) goto fail_c;
    for (long long step = 0;; step++) {
      if (ss_stop_requested()) { /* SIGINT/SIGTERM: stop at this step, keep the rows so far */
        rc = ss_seterr(err, SS_ESTOP, "stopped by signal %d at step %lld; theory runs are run again, not resumed", ss_stop_requested(), step);
        break;
      }
      double loss, acc;
      ss_pop_eval(pop, th, m->grads, &loss, &acc);
      if (step == niter || step % every == 0)
        if ((rc = record(rec, m, cl, step, loss, acc, c, err))) break;
      if (!isfinite(loss) || !all_finite(m->grads, m->nparams)) {
        rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: the population loss or its gradient is not finite", step);
        break;
      }
      if (step == niter) break;
      ss_optim_step(oout, m, 1.0);
    }
  } else {
    flow_ws w = {pop, m->nparams, (size_t)M * M, m->groups[0].lr, m->groups[1].lr, NULL, NULL, NULL, NULL, NULL, NULL};
    double *buf = malloc(sizeof(double) * m->nparams * 8);
    if (!buf) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      goto fail_c;
    }
    w.k1 = buf; w.k2 = buf + w.n; w.k3 = buf + 2 * w.n; w.k4 = buf + 3 * w.n;
    w.tmp = buf + 4 * w.n; w.g = buf + 5 * w.n;
    double h = cfg->theory.dt, t = 0;
    for (long long step = 0;; step = step + every < niter ? step + every : niter) {
      if (ss_stop_requested()) {
        rc = ss_seterr(err, SS_ESTOP, "stopped by signal %d at t = %lld; theory runs are run again, not resumed", ss_stop_requested(), step);
        break;
      }
      if ((rc = flow_advance(&w, cfg, th, t, (double)step, &h, buf + 6 * w.n, buf + 7 * w.n, err))) break;
      t = (double)step;
      double loss, acc;
      ss_pop_eval(pop, th, NULL, &loss, &acc);
      if ((rc = record(rec, m, cl, step, loss, acc, c, err))) break;
      if (!isfinite(loss)) {
        rc = ss_seterr(err, SS_EDIVERGE, "diverged in the gradient flow at t = %lld: the population loss is not finite", step);
        break;
      }
      if (step == niter) break;
    }
    free(buf);
  }
fail_c:
  free(c);
fail:
  ss_pop_free(pop);
  if (rc && rc != SS_EDIVERGE && rc != SS_ESTOP) {
    ss_optim_free(oout);
    ss_model_free(m);
    return rc;
  }
  *mout = m;
  return rc;
}

int ss_theory_trajectory(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_model **final, ss_err *err) {
  ss_model *m = NULL;
  ss_optim o;
  int rc = trajectory(cfg, cl, rec, &m, &o, err);
  ss_optim_free(&o);
  if (final && rc == SS_OK)
    *final = m;
  else
    ss_model_free(m);
  return rc;
}

int ss_theory_run(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err) {
  ss_classes cl;
  ss_recorder rec;
  memset(sum, 0, sizeof *sum);
  snprintf(sum->dir, sizeof sum->dir, "%s", dir);
  ss_set_threads(cfg->threads);
  if (cfg->model.type != SS_MODEL_YZ)
    return ss_seterr(err, SS_EINPUT, "key 'model.type': theory runs need the yz model (SPEC §4), not the transformer");
  int rc = ss_classes_from_config(cfg, &cl, err);
  if (rc) return rc;
  if ((rc = ss_recorder_init(&rec, &cl, err))) goto out_cl;
  sum->M = cl.M;
  sum->N = cl.N;
  ss_config_unused(cfg, sum->unused, sizeof sum->unused);
  if ((rc = ss_run_begin(cfg, &cl, dir, "theory", err))) goto out_rec;
  ss_model *m = NULL;
  ss_optim opt;
  double t0 = ss_now();
  rc = trajectory(cfg, &cl, &rec, &m, &opt, err);
  sum->train_seconds = ss_now() - t0;
  if (rec.nrows) {
    sum->start = rec.rows[0].avg;
    sum->end = rec.rows[rec.nrows - 1].avg;
    sum->first_loss = rec.rows[0].loss;
    sum->final_loss = rec.rows[rec.nrows - 1].loss;
    sum->final_acc = rec.rows[rec.nrows - 1].acc;
    sum->rows = rec.nrows;
  }
  if (rc == SS_OK) {
    if ((rc = ss_recorder_write(&rec, dir, err)) == SS_OK) {
      char *p = ss_path_join(dir, "checkpoint.safetensors");
      rc = ss_checkpoint_write(p, m, cfg->theory.mode == SS_THEORY_STEPS ? &opt : NULL, cfg->niter, NULL, 0, err);
      free(p);
    }
    if (rc == SS_OK) rc = ss_snap_write(&rec, dir, err);
    if (rc == SS_OK) rc = ss_run_finish(dir, "theory", "complete", cfg, sum, NULL, err);
  } else {
    ss_err e2;
    if (rc == SS_EDIVERGE || rc == SS_ESTOP) ss_recorder_write(&rec, dir, &e2); /* keep what was computed */
    ss_run_finish(dir, "theory", rc == SS_EDIVERGE ? "diverged" : rc == SS_ESTOP ? "interrupted" : "failed", cfg, sum, err->msg, &e2);
  }
  ss_optim_free(&opt);
  ss_model_free(m);
out_rec:
  ss_recorder_free(&rec);
out_cl:
  ss_classes_free(&cl);
  return rc;
}
