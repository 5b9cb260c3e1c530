/* The Y/Z model written plainly (model.kernels=reference): SPEC §2.1's forward and backward
 * for one sequence at a time, in float64, with dense vectors over the M tokens, no SIMD, no
 * grouping of rows or of keys. It is the oracle the fast kernels (yz.c, yz_kern.c) are tested
 * against (test_yz_kernels.c) and itself is checked against finite differences; any run can
 * use it. Each step cites its formula from SPEC §2.1.
 *
 * Shapes: B sequences of T tokens x_0 .. x_{T-1} (x_{T-1} = the query m, label n); the keys
 * are x_0 .. x_{T-2}, and x_{T-1} too with include_base_token: nk keys; M tokens.
 *   params [Y | Z], each [M, M] row-major (row m of Z: the scores of query m); grads alike
 *   s, a   [nk]  key scores and attention
 *   c, f   [M]   composition and the decoder's input
 *   p      [M]   logits, then softmax(logits) - e_n
 *   gf, gc [M]   the gradient at f and at c */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/yz_impl.h"

/* One sequence: its loss, whether its largest logit (the first, on ties) is the label, and
 * with dY (backward) its gradient, scaled by inv_B, added into dY and dZ [M, M]. work: nk +
 * 5M doubles. */
static double sequence(const ss_yz_opts *o, const double *Y, const double *Z, const int *x, int T, int n,
                       double inv_B, double *dY, double *dZ, double *work, int *hit) {
  const int M = o->M, m = x[T - 1], nk = o->include_base_token ? T : T - 1;
  double *a = work, *c = a + nk, *f = c + M, *p = f + M, *gf = p + M, *gc = gf + M;
  const double *Zm = Z + (size_t)m * M;
  /* s_t = Z[m, x_t];  a = softmax_t(s), taken from the largest score */
  double smax = -INFINITY, den = 0;
  for (int t = 0; t < nk; t++) smax = fmax(smax, Zm[x[t]]);
  for (int t = 0; t < nk; t++) den += a[t] = exp(Zm[x[t]] - smax);
  for (int t = 0; t < nk; t++) a[t] /= den;
  /* c = sum_t a_t e_{x_t}  (+ e_m with residual) */
  memset(c, 0, sizeof(double) * (size_t)M);
  for (int t = 0; t < nk; t++) c[x[t]] += a[t];
  if (o->residual) c[m] += 1;
  /* f = c / ||c||_2 with normalize, else f = c */
  double cnorm = 1;
  if (o->normalize) {
    double s2 = 0;
    for (int u = 0; u < M; u++) s2 += c[u] * c[u];
    cnorm = sqrt(s2);
  }
  for (int u = 0; u < M; u++) f[u] = c[u] / cnorm;
  /* logit = Y f */
  for (int i = 0; i < M; i++) {
    double s = 0;
    for (int u = 0; u < M; u++) s += Y[(size_t)i * M + u] * f[u];
    p[i] = s;
  }
  /* loss = -log softmax(logit)[n] = lmax + log sum_i e^{logit_i - lmax} - logit_n */
  int arg = 0;
  for (int i = 1; i < M; i++)
    if (p[i] > p[arg]) arg = i;
  const double lmax = p[arg], lab = p[n];
  double se = 0;
  for (int i = 0; i < M; i++) se += p[i] = exp(p[i] - lmax);
  *hit = arg == n;
  if (!dY) return lmax + log(se) - lab;
  /* g = softmax(logit) - e_n, times 1/B (the loss is the batch mean); kept in p */
  for (int i = 0; i < M; i++) p[i] = p[i] / se * inv_B;
  p[n] -= inv_B;
  /* dY += g f^T */
  for (int i = 0; i < M; i++)
    for (int u = 0; u < M; u++) dY[(size_t)i * M + u] += p[i] * f[u];
  /* g_f = Y^T g  (summed over i ascending, by rows of Y) */
  memset(gf, 0, sizeof(double) * (size_t)M);
  for (int i = 0; i < M; i++)
    for (int u = 0; u < M; u++) gf[u] += Y[(size_t)i * M + u] * p[i];
  /* g_c = (g_f - f (f . g_f)) / ||c|| with normalize, else g_c = g_f */
  double fg = 0;
  if (o->normalize)
    for (int u = 0; u < M; u++) fg += f[u] * gf[u];
  for (int u = 0; u < M; u++) gc[u] = (gf[u] - f[u] * fg) / cnorm;
  /* g_s_t = a_t (g_c[x_t] - sum_u a_u g_c[x_u]);  dZ[m, x_t] += g_s_t */
  double ag = 0;
  for (int t = 0; t < nk; t++) ag += a[t] * gc[x[t]];
  for (int t = 0; t < nk; t++) dZ[(size_t)m * M + x[t]] += a[t] * (gc[x[t]] - ag);
  return lmax + log(se) - lab;
}

/* The batch: mean loss, accuracy, and with backward the gradient of the mean loss in grads. */
static int ref_run(ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward, ss_err *err) {
  const ss_yz_opts *o = mdl->impl;
  const int M = o->M, T = b->T;
  const double *Y = mdl->params, *Z = Y + (size_t)M * M;
  double *dY = backward ? mdl->grads : NULL, *dZ = backward ? dY + (size_t)M * M : NULL;
  double *work = malloc(sizeof(double) * ((size_t)T + 5 * (size_t)M));
  if (!work) return ss_seterr(err, SS_EINPUT, "sequences of T = %d with M = %d do not fit in memory", T, M);
  if (backward) memset(dY, 0, sizeof(double) * 2 * (size_t)M * M);
  double L = 0;
  int hits = 0;
  for (int i = 0; i < b->B; i++) {
    int hit;
    L += sequence(o, Y, Z, b->x + (size_t)i * T, T, b->label[i], 1.0 / b->B, dY, dZ, work, &hit);
    hits += hit;
  }
  free(work);
  *loss = L / b->B;
  *acc = (double)hits / b->B;
  return SS_OK;
}

static int ref_step(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return ref_run(m, b, loss, acc, 1, err);
}
static int ref_eval(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return ref_run(m, b, loss, acc, 0, err);
}
static void ref_free(ss_model *m) { free(m->impl); }

static const ss_model_ops ref_ops = {"yz", ref_step, ref_eval, yz_composition, ref_free};

int yz_ref_attach(ss_model *m, const ss_yz_opts *o, ss_err *err) {
  if (o->f32)
    return ss_seterr(err, SS_EINPUT,
                     "key 'model.kernels': reference computes in float64 only; drop model.precision=float32 or pick "
                     "the fast kernels");
  ss_yz_opts *impl = malloc(sizeof *impl);
  if (!impl) return ss_seterr(err, SS_EINPUT, "vocabulary M = %d: the Y/Z model does not fit in memory", o->M);
  *impl = *o;
  m->ops = &ref_ops;
  m->impl = impl;
  return SS_OK;
}
