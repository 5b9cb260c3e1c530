/* Population loss J and its exact gradient for the Y/Z model (SPEC §4).
 *
 * Shapes: M = vocabulary, N = classes, S = slots of class n = its support (P(l|n) > 0)
 * plus the query token when residual is on and the query is not in the support.
 * Per class n with query m = psi(n) and label e = next_n:
 *   c_n[u]  = P(u|n) e^{Z[m,u]} / sum_u' P(u'|n) e^{Z[m,u']}     on the support
 *   c~_n    = c_n (+ e_m),   f_n = c~_n / ||c~_n|| (or c~_n without normalize)
 *   p_n     = softmax(Y f_n),  J += pi_n (-log p_n[e])
 *   dY     += pi_n (p_n - e_e) f_n^T                               O(M S)
 *   g_n     = pi_n Y^T (p_n - e_e)   (only on the S slots)        O(M S)
 *   h_n     = (g_n - f_n (f_n.g_n)) / ||c~_n||   (g_n without normalize)
 *   dZ[m,u] += c_n[u] (h_n[u] - c_n.h_n)                           O(S)
 * Classes are accumulated in order, so the result is deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/theory.h"

struct ss_pop {
  const ss_classes *cl; /* borrowed */
  ss_yz_opts o;
  int S;          /* largest slot count */
  int *slot_tok;  /* [S] */
  double *c, *f, *g; /* [S] */
  double *logit;  /* [M] */
};

int ss_pop_new(const ss_classes *cl, const ss_yz_opts *o, ss_pop **out, ss_err *err) {
  *out = NULL;
  if (o->M != cl->M) return ss_seterr(err, SS_EINPUT, "class table has M = %d, model has M = %d", cl->M, o->M);
  ss_pop *p = calloc(1, sizeof *p);
  if (!p) return ss_seterr(err, SS_ERUN, "out of memory");
  p->cl = cl;
  p->o = *o;
  int S = 1;
  for (int n = 0; n < cl->N; n++) {
    int s = cl->supp_off[n + 1] - cl->supp_off[n] + 1;
    if (s > S) S = s;
  }
  p->S = S;
  p->slot_tok = malloc(sizeof(int) * (size_t)S);
  p->c = malloc(sizeof(double) * (size_t)S);
  p->f = malloc(sizeof(double) * (size_t)S);
  p->g = malloc(sizeof(double) * (size_t)S);
  p->logit = malloc(sizeof(double) * (size_t)cl->M);
  if (!p->slot_tok || !p->c || !p->f || !p->g || !p->logit) {
    ss_pop_free(p);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  *out = p;
  return SS_OK;
}

void ss_pop_free(ss_pop *p) {
  if (!p) return;
  free(p->slot_tok);
  free(p->c);
  free(p->f);
  free(p->g);
  free(p->logit);
  free(p);
}

void ss_pop_eval(ss_pop *p, const double *params, double *grads, double *loss, double *acc) {
  const ss_classes *cl = p->cl;
  const int M = cl->M, N = cl->N;
  const double *Y = params, *Z = params + (size_t)M * M;
  double *dY = grads, *dZ = grads ? grads + (size_t)M * M : NULL;
  const double pi = 1.0 / N;
  if (grads) memset(grads, 0, sizeof(double) * 2 * (size_t)M * M);
  double J = 0;
  int hits = 0;
  int *tok = p->slot_tok;
  double *c = p->c, *f = p->f, *g = p->g, *lg = p->logit;
  for (int n = 0; n < N; n++) {
    const int m = cl->query[n], e = cl->next[n];
    const int k = cl->supp_off[n + 1] - cl->supp_off[n];
    const int *supp = cl->supp_tok + cl->supp_off[n];
    const double *P = cl->prob + (size_t)n * M, *Zm = Z + (size_t)m * M;
    /* c_n on the support (softmax of log P + Z[m,:]) */
    double zmax = -INFINITY, den = 0;
    for (int j = 0; j < k; j++)
      if (Zm[supp[j]] > zmax) zmax = Zm[supp[j]];
    for (int j = 0; j < k; j++) {
      tok[j] = supp[j];
      c[j] = P[supp[j]] * exp(Zm[supp[j]] - zmax);
      den += c[j];
    }
    for (int j = 0; j < k; j++) f[j] = c[j] /= den;
    int kk = k;
    if (p->o.residual) {
      int jm = -1;
      for (int j = 0; j < k; j++)
        if (tok[j] == m) jm = j;
      if (jm < 0) {
        jm = kk++;
        tok[jm] = m;
        c[jm] = 0; /* no attention mass: only the residual lives here */
        f[jm] = 0;
      }
      f[jm] += 1.0;
    }
    double norm = 1.0;
    if (p->o.normalize) {
      double s2 = 0;
      for (int j = 0; j < kk; j++) s2 += f[j] * f[j];
      norm = sqrt(s2);
      for (int j = 0; j < kk; j++) f[j] /= norm;
    }
    /* logits and softmax */
    double lmax = -INFINITY;
    int arg = 0;
    for (int i = 0; i < M; i++) {
      const double *Yi = Y + (size_t)i * M;
      double s = 0;
      for (int j = 0; j < kk; j++) s += Yi[tok[j]] * f[j];
      lg[i] = s;
      if (s > lmax) lmax = s;
      if (s > lg[arg]) arg = i;
    }
    double se = 0;
    for (int i = 0; i < M; i++) se += exp(lg[i] - lmax);
    const double lse = lmax + log(se);
    J += pi * (lse - lg[e]);
    hits += arg == e;
    if (!grads) continue;
    /* dY and g = pi Y^T (p - e_e) on the slots */
    for (int j = 0; j < kk; j++) g[j] = 0;
    for (int i = 0; i < M; i++) {
      double q = pi * (exp(lg[i] - lse) - (i == e));
      const double *Yi = Y + (size_t)i * M;
      double *dYi = dY + (size_t)i * M;
      for (int j = 0; j < kk; j++) {
        dYi[tok[j]] += q * f[j];
        g[j] += Yi[tok[j]] * q;
      }
    }
    if (p->o.normalize) { /* h = (g - f (f.g)) / ||c~|| */
      double fg = 0;
      for (int j = 0; j < kk; j++) fg += f[j] * g[j];
      for (int j = 0; j < kk; j++) g[j] = (g[j] - f[j] * fg) / norm;
    }
    double ch = 0;
    for (int j = 0; j < kk; j++) ch += c[j] * g[j];
    double *dZm = dZ + (size_t)m * M;
    for (int j = 0; j < kk; j++) dZm[tok[j]] += c[j] * (g[j] - ch);
  }
  *loss = J;
  *acc = (double)hits / N;
}
