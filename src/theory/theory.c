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
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/theory.h"

static void yz_opts_of(const ss_config *cfg, const ss_classes *cl, ss_yz_opts *o) {
  *o = (ss_yz_opts){cl->M, cfg->model.normalize, cfg->model.residual, cfg->model.include_base_token, cfg->model.zero_init, 0, SS_KERNELS_AUTO};
}

/* ---- flow: RK4 on d theta/dt = -eta * grad J ---- */
typedef struct {
  ss_pop *pop;
  size_t n, half; /* 2 M^2, M^2 */
  double eta_y, eta_z;
  double *k1, *k2, *k3, *k4, *tmp, *g;
  const volatile sig_atomic_t *stop; /* the run's stop request, polled at every RK4 step */
  long long steps, max_steps;        /* RK4 steps taken (and tried), and the bound theory.max_steps */
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
    if (w->stop && *w->stop) {
      char by[32];
      return ss_seterr(err, SS_ESTOP, "stopped %s at t = %g of the gradient flow; theory runs are run again, not resumed",
                       ss_stop_by((int)*w->stop, by, sizeof by), t);
    }
    if (++w->steps > w->max_steps)
      return ss_seterr(err, SS_ERUN, "the gradient flow took more than theory.max_steps = %lld RK4 steps by t = %g (theory.tol = %g is too small for it; raise theory.tol or theory.max_steps)",
                       w->max_steps, t, tol);
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

/* ---- the task ---------------------------------------------------------------------
 * steps: forward = J and dJ at the current parameters, update = the run's optimizer.
 * flow:  the parameters move only between rows: forward at a row step s advances the flow
 *        from the previous row's time to s (RK4), then evaluates J there; other steps keep
 *        the last value and do nothing (so rows land exactly on the run's save steps). */
typedef struct {
  ss_classes cl;
  ss_pop *pop;
  int flow;
  flow_ws w;
  double *buf;         /* [8 * nparams]: k1..k4, tmp, g, and two states for the error estimate */
  double t, h;         /* flow: time reached and the adaptive step size */
  double last_loss, last_acc;
} theory_task;

static void theory_free(ss_trainer *tr) {
  theory_task *t = tr->task;
  if (!t) return;
  free(t->buf);
  ss_pop_free(t->pop);
  ss_classes_free(&t->cl);
  free(t);
  tr->task = NULL;
}

static int theory_init(ss_trainer *tr, ss_err *err) {
  const ss_config *cfg = &tr->cfg;
  theory_task *t = calloc(1, sizeof *t);
  if (!t) return ss_seterr(err, SS_ERUN, "out of memory");
  tr->task = t;
  if (cfg->model.type != SS_MODEL_YZ)
    return ss_seterr(err, SS_EINPUT, "key 'model.type': theory runs are of the yz model (SPEC §4) or JoMA's systems (joma_linear, joma_toy), not the transformer");
  int rc = ss_classes_from_config(cfg, &t->cl, err);
  if (rc) return rc;
  t->flow = cfg->theory.mode == SS_THEORY_FLOW;
  /* the flow's cost is known up front for a fixed step; an adaptive one is bounded by
   * theory.max_steps as it goes (and can be stopped between any two RK4 steps) */
  if (t->flow && cfg->theory.tol > 0 && cfg->theory.tol < SS_THEORY_MIN_TOL)
    return ss_seterr(err, SS_EINPUT, "key 'theory.tol': %g is below %g, the error double-precision RK4 steps can resolve (0 = fixed step theory.dt)",
                     cfg->theory.tol, SS_THEORY_MIN_TOL);
  if (t->flow && cfg->theory.tol <= 0 && (double)cfg->niter / cfg->theory.dt > (double)cfg->theory.max_steps)
    return ss_seterr(err, SS_EINPUT, "key 'theory.dt': %g needs %.3g RK4 steps for niter = %d, more than theory.max_steps = %d; raise theory.dt or theory.max_steps",
                     cfg->theory.dt, (double)cfg->niter / cfg->theory.dt, cfg->niter, cfg->theory.max_steps);
  ss_model *m = NULL;
  if ((rc = ss_check_memory(cfg, t->cl.M, err)) || (rc = ss_model_from_config(cfg, &t->cl, &m, err))) return rc;
  if ((rc = ss_trainer_set_model(tr, m, !t->flow, err))) return rc;
  ss_yz_opts yo;
  yz_opts_of(cfg, &t->cl, &yo);
  if ((rc = ss_pop_new(&t->cl, &yo, &t->pop, err))) return rc;
  if ((rc = ss_trainer_set_classes(tr, &t->cl, err))) return rc;
  tr->flags = SS_TASK_NO_RESUME | (t->flow ? SS_TASK_NO_GRADS : 0);
  /* The population gradient is serial; the only parallel region is the optimizer's loop over
   * parameters, which for small models costs more in thread wake-ups than it saves (on a busy
   * machine, milliseconds per step). Small models therefore run on one thread; results do not
   * depend on the thread count either way. */
  if (2.0 * t->cl.M * t->cl.M < 4e6) tr->threads = 1;
  if (t->flow) {
    const size_t n = m->nparams;
    t->buf = malloc(sizeof(double) * n * 8);
    if (!t->buf) return ss_seterr(err, SS_ERUN, "out of memory");
    t->w = (flow_ws){t->pop, n, (size_t)t->cl.M * t->cl.M, m->groups[0].lr, m->groups[1].lr, t->buf, t->buf + n, t->buf + 2 * n,
                     t->buf + 3 * n, t->buf + 4 * n, t->buf + 5 * n, tr->opts.stop, 0, cfg->theory.max_steps};
    t->h = cfg->theory.dt;
  }
  return SS_OK;
}

static int theory_forward(ss_trainer *tr, long long s, int last, double *loss, double *acc, ss_err *err) {
  theory_task *t = tr->task;
  ss_model *m = tr->m;
  if (!t->flow) {
    ss_pop_eval(t->pop, m->params, m->grads, loss, acc);
    return SS_OK;
  }
  if (last || s % tr->cfg.save_per_minibatch == 0) {
    double *buf = t->buf;
    const size_t n = t->w.n;
    int rc = flow_advance(&t->w, &tr->cfg, m->params, t->t, (double)s, &t->h, buf + 6 * n, buf + 7 * n, err);
    if (rc) return rc;
    t->t = (double)s;
    ss_pop_eval(t->pop, m->params, NULL, &t->last_loss, &t->last_acc);
  }
  *loss = t->last_loss;
  *acc = t->last_acc;
  return SS_OK;
}

static int theory_update(ss_trainer *tr, long long s, double loss, ss_err *err) {
  (void)s;
  (void)loss;
  (void)err;
  theory_task *t = tr->task;
  if (!t->flow) ss_optim_step(&tr->opt, tr->m, 1.0);
  return SS_OK;
}

static int theory_finish(ss_trainer *tr, const char *dir, ss_err *err) {
  return ss_snap_write(&tr->rec, dir, err); /* snap.json */
}

const ss_task_ops ss_task_theory = {
    .name = "theory",
    .init = theory_init,
    .forward = theory_forward,
    .update = theory_update,
    .finish = theory_finish,
    .free = theory_free,
};

int ss_theory_run(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err) {
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.dir = dir;
  o.command = "theory";
  return ss_theory_run_opts(cfg, &o, sum, err);
}

const ss_task_ops *ss_theory_task(const ss_config *cfg) {
  return cfg->model.type == SS_MODEL_JOMA_LINEAR ? &ss_task_joma_linear : cfg->model.type == SS_MODEL_JOMA_TOY ? &ss_task_joma_toy : &ss_task_theory;
}

int ss_theory_run_summary(const ss_config *cfg, const ss_run_opts *o, ss_train_summary *sum, ss_err *err) {
  ss_trainer tr;
  int rc = ss_trainer_init(&tr, cfg, o, ss_theory_task(cfg), err);
  if (rc == SS_OK) rc = ss_trainer_run(&tr, err);
  ss_trainer_summary(&tr, sum);
  ss_trainer_free(&tr);
  return rc;
}

int ss_theory_run_opts(const ss_config *cfg, const ss_run_opts *o, ss_run_summary *sum, ss_err *err) {
  ss_train_summary *s = malloc(sizeof *s);
  if (!s) return ss_seterr(err, SS_ERUN, "out of memory");
  int rc = ss_theory_run_summary(cfg, o, s, err);
  *sum = s->run;
  free(s);
  return rc;
}
