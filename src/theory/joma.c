/* JoMA's simulated systems (SPEC §6; include/scansnap/joma.h has the definitions).
 *
 * Shapes: Mc = contextual tokens, K = classes, d = embedding rows; X [Mc,K], U [d,Mc+1],
 * W [d,K], z [Mc], b [Mc,K] (column k = b_k), F [d,K] (column k = F_k), all row-major double.
 * Everything is serial and in a fixed order, so results depend on the options alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/joma.h"

long ss_joma_nrows(long steps, long every) {
  if (steps < 0 || every < 1) return 0;
  return steps / every + 1 + (steps % every != 0);
}

static int recorded(long t, long steps, long every) { return t % every == 0 || t == steps; }

double ss_joma_nc(const double *a, const double *b, int n) {
  double ma = 0, mb = 0;
  for (int i = 0; i < n; i++) ma += a[i], mb += b[i];
  ma /= n;
  mb /= n;
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < n; i++) {
    const double x = a[i] - ma, y = b[i] - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : NAN;
}

/* Entropy (nats) of a distribution p[0..n) read with stride s. */
static double entropy(const double *p, int n, int s) {
  double h = 0;
  for (int i = 0; i < n; i++)
    if (p[(size_t)i * s] > 0) h -= p[(size_t)i * s] * log(p[(size_t)i * s]);
  return h;
}

/* ---------------------------------------------------------------- linear case */

void ss_joma_linear_defaults(ss_joma_linear_opts *o) {
  *o = (ss_joma_linear_opts){.seed = 1, .variant = SS_JOMA_UNIFORM, .n_distinct = 10, .n_common = 10, .K = 20, .d = 30,
                             .T = 0.5, .lr = 0.1, .init_scale = 0.01, .steps = 2000, .every = 1};
}

static int linear_check(const ss_joma_linear_opts *o, ss_err *err) {
  const int Mc = o->n_distinct + o->n_common;
  if (o->variant != SS_JOMA_UNIFORM && o->variant != SS_JOMA_GAUSSIAN)
    return ss_seterr(err, SS_EINPUT, "joma linear: variant %d, expected uniform or gaussian", o->variant);
  if (o->n_distinct < 0 || o->n_common < 0 || Mc < 2)
    return ss_seterr(err, SS_EINPUT, "joma linear: %d distinct + %d common contextual tokens, expected at least 2 in all",
                     o->n_distinct, o->n_common);
  if (o->K < 2) return ss_seterr(err, SS_EINPUT, "joma linear: K = %d classes, expected >= 2", o->K);
  if (o->d < Mc + 1 || o->d > 100000)
    return ss_seterr(err, SS_EINPUT, "joma linear: d = %d, expected Mc + 1 = %d .. 100000 (U is the identity on the tokens)", o->d,
                     Mc + 1);
  if ((double)o->d * o->K * (Mc + 1) > 1e9)
    return ss_seterr(err, SS_EINPUT, "joma linear: d x K x (Mc + 1) = %.3g is too large", (double)o->d * o->K * (Mc + 1));
  if (!(o->T > 0) || !isfinite(o->T)) return ss_seterr(err, SS_EINPUT, "joma linear: temperature T = %g, expected > 0", o->T);
  if (!(o->lr > 0) || !isfinite(o->lr)) return ss_seterr(err, SS_EINPUT, "joma linear: lr = %g, expected > 0", o->lr);
  if (!(o->init_scale >= 0) || !isfinite(o->init_scale))
    return ss_seterr(err, SS_EINPUT, "joma linear: init_scale = %g, expected >= 0", o->init_scale);
  if (o->steps < 0) return ss_seterr(err, SS_EINPUT, "joma linear: steps = %ld, expected >= 0", o->steps);
  if (o->every < 1) return ss_seterr(err, SS_EINPUT, "joma linear: record interval %ld, expected >= 1", o->every);
  return SS_OK;
}

/* X [Mc,K] of the options (header: uniform, gaussian rows, normalised columns). */
static void linear_X(const ss_joma_linear_opts *o, double *X) {
  const int Mc = o->n_distinct + o->n_common, K = o->K;
  ss_rng r;
  ss_rng_seed(&r, ss_stream_seed(o->seed, SS_STREAM_DATA));
  for (int i = 0; i < Mc * K; i++) X[i] = 0.5 * ss_rng_uniform(&r);
  if (o->variant == SS_JOMA_GAUSSIAN)
    for (int l = 0; l < o->n_distinct; l++)
      for (int k = 0; k < K; k++) {
        const double c = (double)k * o->n_distinct / K;
        X[l * K + k] = exp(-(l - c) * (l - c) / 30.0);
      }
  for (int k = 0; k < K; k++) {
    double s = 0;
    for (int l = 0; l < Mc; l++) s += X[l * K + k];
    for (int l = 0; l < Mc; l++) X[l * K + k] = s > 0 ? X[l * K + k] / s : 1.0 / Mc;
  }
}

/* U [d, Mc+1]: identity on the tokens, zero below. */
static void linear_U(int d, int Mc, double *U) {
  memset(U, 0, sizeof(double) * (size_t)d * (Mc + 1));
  for (int i = 0; i <= Mc; i++) U[(size_t)i * (Mc + 1) + i] = 1.0;
}

/* The forward and exact backward of the header's loss. Scratch: F [d*K], g [K*K], Wg [d*K].
 * Returns the loss; hits = classes whose largest logit is their own. */
static double linear_eval(const ss_joma_linear_opts *o, const double *X, const double *U, const double *W,
                          const double *z, double *dW, double *dz, double *b, double *F, double *g, double *Wg,
                          int *hits) {
  const int Mc = o->n_distinct + o->n_common, K = o->K, d = o->d, Mq = Mc + 1;
  const double T = o->T;
  /* b_k = softmax_l(z_l/T) weighted by X[l,k] */
  double zmax = -INFINITY;
  for (int l = 0; l < Mc; l++) zmax = fmax(zmax, z[l] / T);
  for (int k = 0; k < K; k++) {
    double s = 0;
    for (int l = 0; l < Mc; l++) s += b[l * K + k] = exp(z[l] / T - zmax) * X[l * K + k];
    for (int l = 0; l < Mc; l++) b[l * K + k] = s > 0 ? b[l * K + k] / s : 1.0 / Mc;
  }
  /* F = U_C b + u_q */
  for (int i = 0; i < d; i++)
    for (int k = 0; k < K; k++) {
      double s = U[(size_t)i * Mq + Mc];
      for (int l = 0; l < Mc; l++) s += U[(size_t)i * Mq + l] * b[l * K + k];
      F[i * K + k] = s;
    }
  /* logits o_k = F_k^T W (row k of g), loss, then g_k = (softmax(o_k) - e_k) / K */
  double loss = 0;
  int h = 0;
  for (int k = 0; k < K; k++) {
    double *gk = g + k * K;
    for (int j = 0; j < K; j++) {
      double s = 0;
      for (int i = 0; i < d; i++) s += F[i * K + k] * W[i * K + j];
      gk[j] = s;
    }
    double mx = gk[0];
    int arg = 0;
    for (int j = 1; j < K; j++)
      if (gk[j] > mx) mx = gk[j], arg = j;
    h += arg == k;
    double se = 0;
    for (int j = 0; j < K; j++) se += exp(gk[j] - mx);
    loss += log(se) + mx - gk[k];
    for (int j = 0; j < K; j++) gk[j] = exp(gk[j] - mx) / se / K;
    gk[k] -= 1.0 / K;
  }
  loss /= K;
  if (hits) *hits = h;
  if (dW) /* dW[i,j] = sum_k F[i,k] g[k,j] */
    for (int i = 0; i < d; i++)
      for (int j = 0; j < K; j++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += F[i * K + k] * g[k * K + j];
        dW[i * K + j] = s;
      }
  if (dz) {
    /* dL/db_k = U_C^T W g_k; Wg[i,k] = sum_j W[i,j] g[k,j] */
    for (int i = 0; i < d; i++)
      for (int k = 0; k < K; k++) {
        double s = 0;
        for (int j = 0; j < K; j++) s += W[i * K + j] * g[k * K + j];
        Wg[i * K + k] = s;
      }
    /* softmax backward: dz_l = (1/T) sum_k b_lk (a_lk - sum_m b_mk a_mk), a = U_C^T Wg */
    memset(dz, 0, sizeof(double) * (size_t)Mc);
    for (int k = 0; k < K; k++) {
      double ab = 0;
      for (int l = 0; l < Mc; l++) {
        double a = 0;
        for (int i = 0; i < d; i++) a += U[(size_t)i * Mq + l] * Wg[i * K + k];
        F[l] = a; /* F is free now: a_k into its first Mc entries */
        ab += a * b[l * K + k];
      }
      for (int l = 0; l < Mc; l++) dz[l] += b[l * K + k] * (F[l] - ab) / T;
    }
  }
  return loss;
}

double ss_joma_linear_loss(const ss_joma_linear_opts *o, const double *X, const double *W, const double *z, double *dW,
                           double *dz, double *b) {
  const int Mc = o->n_distinct + o->n_common, K = o->K, d = o->d;
  double *U = malloc(sizeof(double) * (size_t)d * (Mc + 1)), *F = malloc(sizeof(double) * (size_t)d * K),
         *g = malloc(sizeof(double) * (size_t)K * K), *Wg = malloc(sizeof(double) * (size_t)d * K),
         *bb = b ? b : malloc(sizeof(double) * (size_t)Mc * K);
  double loss = NAN;
  if (U && F && g && Wg && bb) {
    linear_U(d, Mc, U);
    loss = linear_eval(o, X, U, W, z, dW, dz, bb, F, g, Wg, NULL);
  }
  free(U);
  free(F);
  free(g);
  free(Wg);
  if (bb != b) free(bb);
  return loss;
}

/* zhat_w, zhat_x (without C) of W: header. */
static void linear_zhat_parts(const ss_joma_linear_opts *o, const double *xbar, const double *U, const double *W,
                              double *zw, double *zx) {
  const int Mc = o->n_distinct + o->n_common, K = o->K, d = o->d, Mq = Mc + 1;
  double w2 = 0;
  for (int i = 0; i < d * K; i++) w2 += W[i] * W[i];
  for (int l = 0; l < Mc; l++) {
    double s = 0;
    for (int k = 0; k < K; k++) {
      double v = 0;
      for (int i = 0; i < d; i++) v += U[(size_t)i * Mq + l] * W[i * K + k];
      s += v * v;
    }
    zw[l] = s / (2 * o->T);
    zx[l] = -xbar[l] * w2 / (2 * o->T);
  }
}

/* Scratch of a system: U [d*Mq], F, Wg [d*K], g [K*K], zw, zx [Mc]; with X, b [Mc*K],
 * xbar, C, zhat [Mc] all in one block. */
typedef struct {
  double *U, *F, *Wg, *g, *zw, *zx;
} linear_ws;

static linear_ws ws_of(const ss_joma_linear_sys *s) {
  const int Mc = s->Mc, K = s->K, d = s->d;
  const size_t nX = (size_t)Mc * K;
  double *U = s->blk + 2 * nX + 3 * (size_t)Mc, *F = U + (size_t)d * (Mc + 1), *Wg = F + (size_t)d * K, *g = Wg + (size_t)d * K,
         *zw = g + (size_t)K * K;
  return (linear_ws){U, F, Wg, g, zw, zw + Mc};
}

int ss_joma_linear_sys_init(ss_joma_linear_sys *s, const ss_joma_linear_opts *o, double *W, double *z, ss_err *err) {
  memset(s, 0, sizeof *s);
  int rc = linear_check(o, err);
  if (rc) return rc;
  const int Mc = o->n_distinct + o->n_common, K = o->K, d = o->d, Mq = Mc + 1;
  const size_t nX = (size_t)Mc * K, nW = (size_t)d * K;
  s->o = *o;
  s->Mc = Mc;
  s->K = K;
  s->d = d;
  s->blk = malloc(sizeof(double) * (2 * nX + 5 * (size_t)Mc + (size_t)d * Mq + 2 * nW + (size_t)K * K));
  if (!s->blk) return ss_seterr(err, SS_ERUN, "joma linear: out of memory");
  s->X = s->blk;
  s->b = s->X + nX;
  s->xbar = s->b + nX;
  s->C = s->xbar + Mc;
  s->zhat = s->C + Mc;
  const linear_ws w = ws_of(s);
  linear_X(o, s->X);
  linear_U(d, Mc, w.U);
  for (int l = 0; l < Mc; l++) {
    double sum = 0;
    for (int k = 0; k < K; k++) sum += s->X[l * K + k];
    s->xbar[l] = sum / K;
  }
  ss_rng r;
  ss_rng_seed(&r, ss_stream_seed(o->seed, SS_STREAM_INIT));
  for (size_t i = 0; i < nW; i++) W[i] = ss_rng_normal(&r) * o->init_scale;
  for (int l = 0; l < Mc; l++) z[l] = ss_rng_normal(&r) * o->init_scale;
  linear_zhat_parts(o, s->xbar, w.U, W, w.zw, w.zx);
  for (int l = 0; l < Mc; l++) s->C[l] = z[l] - w.zw[l] - w.zx[l];
  return SS_OK;
}

double ss_joma_linear_sys_eval(ss_joma_linear_sys *s, const double *W, const double *z, double *dW, double *dz) {
  const linear_ws w = ws_of(s);
  return linear_eval(&s->o, s->X, w.U, W, z, dW, dz, s->b, w.F, w.g, w.Wg, &s->hits);
}

void ss_joma_linear_sys_row(ss_joma_linear_sys *s, long step, double loss, const double *W, const double *z, ss_joma_linear_row *row) {
  const int Mc = s->Mc, K = s->K;
  const size_t nW = (size_t)s->d * K;
  const linear_ws w = ws_of(s);
  linear_zhat_parts(&s->o, s->xbar, w.U, W, w.zw, w.zx);
  double e2 = 0, z2 = 0, w2 = 0, h = 0;
  for (int l = 0; l < Mc; l++) {
    s->zhat[l] = w.zw[l] + w.zx[l] + s->C[l];
    e2 += (z[l] - s->zhat[l]) * (z[l] - s->zhat[l]);
    z2 += z[l] * z[l];
  }
  for (size_t i = 0; i < nW; i++) w2 += W[i] * W[i];
  for (int k = 0; k < K; k++) h += entropy(s->b + k, Mc, K);
  *row = (ss_joma_linear_row){step, loss, (double)s->hits / K, h / K, ss_joma_nc(s->zhat, z, Mc), ss_joma_nc(w.zw, z, Mc),
                              ss_joma_nc(w.zx, z, Mc), z2 > 0 ? sqrt(e2 / z2) : NAN, sqrt(w2), sqrt(z2)};
}

void ss_joma_linear_sys_V(const ss_joma_linear_sys *s, const double *W, double *V) {
  const int Mq = s->Mc + 1, K = s->K, d = s->d;
  const double *U = ws_of(s).U;
  for (int l = 0; l < Mq; l++)
    for (int k = 0; k < K; k++) {
      double sum = 0;
      for (int i = 0; i < d; i++) sum += U[(size_t)i * Mq + l] * W[i * K + k];
      V[(size_t)l * K + k] = sum;
    }
}

void ss_joma_linear_sys_free(ss_joma_linear_sys *s) {
  free(s->blk);
  memset(s, 0, sizeof *s);
}

int ss_joma_linear_run(const ss_joma_linear_opts *o, ss_joma_linear_row *rows, const ss_joma_linear_trace *trace,
                       ss_err *err) {
  int rc = linear_check(o, err);
  if (rc) return rc;
  const int Mc = o->n_distinct + o->n_common, K = o->K, d = o->d, Mq = Mc + 1;
  const size_t nX = (size_t)Mc * K, nW = (size_t)d * K;
  double *p = malloc(sizeof(double) * (2 * nW + 2 * (size_t)Mc)); /* W, dW, z, dz */
  if (!p) return ss_seterr(err, SS_ERUN, "joma linear: out of memory");
  double *W = p, *dW = W + nW, *z = dW + nW, *dz = z + Mc;
  ss_joma_linear_sys s;
  if ((rc = ss_joma_linear_sys_init(&s, o, W, z, err))) {
    free(p);
    return rc;
  }
  if (trace && trace->X) memcpy(trace->X, s.X, sizeof(double) * nX);
  long row = 0;
  for (long t = 0;; t++) {
    const double loss = ss_joma_linear_sys_eval(&s, W, z, dW, dz);
    if (recorded(t, o->steps, o->every)) {
      ss_joma_linear_sys_row(&s, t, loss, W, z, &rows[row]);
      if (trace && trace->z) memcpy(trace->z + (size_t)row * Mc, z, sizeof(double) * Mc);
      if (trace && trace->zhat) memcpy(trace->zhat + (size_t)row * Mc, s.zhat, sizeof(double) * Mc);
      if (trace && trace->b) memcpy(trace->b + (size_t)row * nX, s.b, sizeof(double) * nX);
      if (trace && trace->V) ss_joma_linear_sys_V(&s, W, trace->V + (size_t)row * Mq * K);
      row++;
    }
    if (t == o->steps) break;
    for (size_t i = 0; i < nW; i++) W[i] -= o->lr * dW[i];
    for (int l = 0; l < Mc; l++) z[l] -= o->lr * dz[l];
  }
  ss_joma_linear_sys_free(&s);
  free(p);
  return SS_OK;
}

/* ---------------------------------------------------------------- nonlinear toy */

void ss_joma_toy_defaults(ss_joma_toy_opts *o) {
  *o = (ss_joma_toy_opts){.seed = 1, .d = 10, .T = 3, .eta = 0.02, .v0 = 0.05, .mu_lo = 1, .mu_hi = 4, .mu = NULL,
                          .steps = 5000, .every = 1};
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* s = softmax(v^2 / T) */
static void toy_softmax(const double *v, int d, double T, double *s) {
  double mx = -INFINITY, sum = 0;
  for (int i = 0; i < d; i++) mx = fmax(mx, v[i] * v[i] / T);
  for (int i = 0; i < d; i++) sum += s[i] = exp(v[i] * v[i] / T - mx);
  for (int i = 0; i < d; i++) s[i] /= sum;
}

int ss_joma_toy_init(const ss_joma_toy_opts *o, double *mu, double *v, ss_err *err) {
  const int d = o->d;
  if (d < 2 || d > 1000000) return ss_seterr(err, SS_EINPUT, "joma toy: d = %d, expected 2 .. 1000000", d);
  if (!(o->T > 0) || !isfinite(o->T)) return ss_seterr(err, SS_EINPUT, "joma toy: temperature T = %g, expected > 0", o->T);
  if (!(o->eta > 0) || !isfinite(o->eta)) return ss_seterr(err, SS_EINPUT, "joma toy: eta = %g, expected > 0", o->eta);
  if (!isfinite(o->v0)) return ss_seterr(err, SS_EINPUT, "joma toy: v0 = %g is not finite", o->v0);
  if (!o->mu && !(isfinite(o->mu_lo) && isfinite(o->mu_hi) && o->mu_lo <= o->mu_hi))
    return ss_seterr(err, SS_EINPUT, "joma toy: mu range [%g, %g) is empty or not finite", o->mu_lo, o->mu_hi);
  if (o->mu)
    for (int i = 0; i < d; i++)
      if (!isfinite(o->mu[i])) return ss_seterr(err, SS_EINPUT, "joma toy: mu[%d] = %g is not finite", i, o->mu[i]);
  if (o->steps < 0) return ss_seterr(err, SS_EINPUT, "joma toy: steps = %ld, expected >= 0", o->steps);
  if (o->every < 1) return ss_seterr(err, SS_EINPUT, "joma toy: record interval %ld, expected >= 1", o->every);
  if (o->mu) {
    memcpy(mu, o->mu, sizeof(double) * d);
  } else {
    ss_rng r;
    ss_rng_seed(&r, ss_stream_seed(o->seed, SS_STREAM_DATA));
    for (int i = 0; i < d; i++) mu[i] = o->mu_lo + (o->mu_hi - o->mu_lo) * ss_rng_uniform(&r);
    qsort(mu, (size_t)d, sizeof(double), cmp_double);
  }
  for (int i = 0; i < d; i++) v[i] = o->v0;
  return SS_OK;
}

void ss_joma_toy_eval(const ss_joma_toy_opts *o, const double *mu, const double *v, double *s, long step, ss_joma_toy_row *row) {
  const int d = o->d;
  toy_softmax(v, d, o->T, s);
  if (!row) return;
  double top = 0, dist = 0;
  for (int i = 0; i < d; i++) {
    top = fmax(top, s[i]);
    dist += (mu[i] - v[i]) * (mu[i] - v[i]);
  }
  *row = (ss_joma_toy_row){step, entropy(s, d, 1), top, 0.5 * dist};
}

void ss_joma_toy_update(const ss_joma_toy_opts *o, const double *mu, double *v, const double *s) {
  for (int i = 0; i < o->d; i++) v[i] += o->eta * (mu[i] - v[i]) * s[i];
}

int ss_joma_toy_run(const ss_joma_toy_opts *o, ss_joma_toy_row *rows, double *vout, double *muout, ss_err *err) {
  const int d = o->d;
  if (d < 2 || d > 1000000) return ss_seterr(err, SS_EINPUT, "joma toy: d = %d, expected 2 .. 1000000", d);
  double *blk = malloc(sizeof(double) * 3 * (size_t)d);
  if (!blk) return ss_seterr(err, SS_ERUN, "joma toy: out of memory");
  double *mu = blk, *v = mu + d, *s = v + d;
  int rc = ss_joma_toy_init(o, mu, v, err);
  if (rc) {
    free(blk);
    return rc;
  }
  if (muout) memcpy(muout, mu, sizeof(double) * d);
  long row = 0;
  for (long t = 0;; t++) {
    const int rec = recorded(t, o->steps, o->every);
    ss_joma_toy_eval(o, mu, v, s, t, rec ? &rows[row] : NULL);
    if (rec) {
      if (vout) memcpy(vout + (size_t)row * d, v, sizeof(double) * d);
      row++;
    }
    if (t == o->steps) break;
    ss_joma_toy_update(o, mu, v, s);
  }
  free(blk);
  return SS_OK;
}

/* ---------------------------------------------------------------- claims */

int ss_joma_claim_j1(const ss_joma_linear_opts *base, const long long *seeds, int nseeds, ss_joma_j1 *out, ss_err *err) {
  memset(out, 0, sizeof *out);
  if (nseeds < 1 || nseeds > SS_JOMA_MAX_SEEDS)
    return ss_seterr(err, SS_EINPUT, "joma J1: %d seeds, expected 1 .. %d", nseeds, SS_JOMA_MAX_SEEDS);
  int rc = linear_check(base, err);
  if (rc) return rc;
  const long n = ss_joma_nrows(base->steps, base->every);
  ss_joma_linear_row *rows = malloc(sizeof *rows * (size_t)n);
  if (!rows) return ss_seterr(err, SS_ERUN, "joma J1: out of memory");
  out->nseeds = nseeds;
  out->worst = INFINITY;
  for (int v = 0; v < 2 && rc == SS_OK; v++)
    for (int si = 0; si < nseeds && rc == SS_OK; si++) {
      ss_joma_linear_opts o = *base;
      o.variant = v;
      o.seed = out->seeds[si] = seeds[si];
      if ((rc = ss_joma_linear_run(&o, rows, NULL, err))) break;
      double m = INFINITY, mw = INFINITY, mx = INFINITY;
      long at = 0;
      for (long i = 0; i < n; i++) {
        if (!(rows[i].nc >= m)) m = rows[i].nc, at = rows[i].step; /* a NaN counts as the minimum */
        mw = fmin(mw, rows[i].nc_w);
        mx = fmin(mx, rows[i].nc_x);
      }
      out->nc_min[v][si] = m;
      out->step_min[v][si] = at;
      out->nc_end[v][si] = rows[n - 1].nc;
      out->nc_w_min[v][si] = mw;
      out->nc_x_min[v][si] = mx;
      if (!(m >= out->worst)) out->worst = m;
    }
  free(rows);
  out->pass = rc == SS_OK && out->worst >= SS_JOMA_J1_NC_MIN;
  return rc;
}

void ss_joma_claim_j2(const ss_joma_toy_row *rows, long n, ss_joma_j2 *out) {
  memset(out, 0, sizeof *out);
  if (n < 1) {
    out->h_start = out->h_min = out->h_end = out->fall = out->rise = NAN;
    return;
  }
  long im = 0;
  for (long i = 1; i < n; i++)
    if (rows[i].entropy < rows[im].entropy) im = i;
  out->h_start = rows[0].entropy;
  out->h_min = rows[im].entropy;
  out->h_end = rows[n - 1].entropy;
  out->step_min = rows[im].step;
  out->step_end = rows[n - 1].step;
  out->fall = out->h_start - out->h_min;
  out->rise = out->h_end - out->h_min;
  out->pass = im > 0 && im < n - 1 && out->rise >= SS_JOMA_J2_RISE && out->rise >= SS_JOMA_J2_RISE_FRAC * out->fall;
}
