/* Dynamics metrics of SPEC §3. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/metrics.h"

double ss_entropy(const double *p, int n) {
  double s = 0, h = 0;
  for (int i = 0; i < n; i++) s += p[i];
  if (!(s > 0)) return 0;
  for (int i = 0; i < n; i++)
    if (p[i] > 0) {
      double q = p[i] / s;
      h -= q * log(q);
    }
  return h;
}

/* Differences within 1e-12 relative count as ties: c_n[l]/P(l|n) at uniform attention is
 * the same number for every l up to rounding, and rounding must not look like an order. */
static int cmp(double x, double y) {
  double tol = 1e-12 * fmax(fabs(x), fabs(y));
  return x - y > tol ? 1 : y - x > tol ? -1 : 0;
}

double ss_kendall_tau_b(const double *a, const double *b, int n) {
  long long nc = 0, nd = 0, ta = 0, tb = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      int sa = cmp(a[i], a[j]), sb = cmp(b[i], b[j]);
      if (sa == 0 && sb == 0) continue;
      if (sa == 0) ta++;
      else if (sb == 0) tb++;
      else if (sa == sb) nc++;
      else nd++;
    }
  double den = sqrt((double)(nc + nd + ta) * (double)(nc + nd + tb));
  return den > 0 ? (double)(nc - nd) / den : 0.0;
}

void ss_metrics_class(const ss_classes *cl, int n, const double *c_n, ss_class_metrics *out) {
  const int M = cl->M;
  const double *P = cl->prob + (size_t)n * M;
  const unsigned char *kind = cl->kind + (size_t)n * M;
  memset(out, 0, sizeof *out);
  out->entropy = ss_entropy(c_n, M);
  int nd = 0;
  for (int l = 0; l < M; l++) nd += kind[l] == SS_TOK_DISTINCT;
  double *cd = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
  double *pd = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
  double *rd = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
  int k = 0;
  for (int l = 0; l < M; l++) {
    if (kind[l] == SS_TOK_COMMON) out->common_mass += c_n[l];
    if (kind[l] == SS_TOK_DISTINCT) {
      out->distinct_mass += c_n[l];
      cd[k] = c_n[l];
      pd[k] = P[l];
      rd[k] = c_n[l] / P[l];
      k++;
    }
  }
  out->entropy_distinct = ss_entropy(cd, nd);
  out->kendall_tau = ss_kendall_tau_b(pd, rd, nd);
  free(cd);
  free(pd);
  free(rd);
}

void ss_metrics_all(const ss_classes *cl, const double *c, ss_class_metrics *per, ss_class_metrics *avg) {
  memset(avg, 0, sizeof *avg);
  for (int n = 0; n < cl->N; n++) {
    ss_class_metrics m;
    ss_metrics_class(cl, n, c + (size_t)n * cl->M, &m);
    if (per) per[n] = m;
    avg->entropy += m.entropy / cl->N;
    avg->entropy_distinct += m.entropy_distinct / cl->N;
    avg->common_mass += m.common_mass / cl->N;
    avg->distinct_mass += m.distinct_mass / cl->N;
    avg->kendall_tau += m.kendall_tau / cl->N;
  }
}
