/* Helpers common to every model behind ss_model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/model.h"
#include "util/clones.h"

void ss_model_free(ss_model *m) {
  if (!m) return;
  if (m->ops && m->ops->free_impl) m->ops->free_impl(m);
  free(m->params);
  free(m->grads);
  free(m);
}

static double elem(const ss_model *m, const void *base, size_t i) {
  return m->dtype == SS_F64 ? ((const double *)base)[i] : (double)((const float *)base)[i];
}

double ss_model_group_norm(const ss_model *m, int g) {
  if (g >= m->ngroups) return 0;
  double s = 0;
  for (size_t i = 0; i < m->groups[g].count; i++) {
    double v = elem(m, m->params, m->groups[g].offset + i);
    s += v * v;
  }
  return sqrt(s);
}

/* Each sum is one serial chain (its order fixes its bits), so the two chains are run side by
 * side: two independent adds in flight instead of one, the same bits as two calls of
 * ss_model_group_norm. */
void ss_model_norms01(const ss_model *m, double *n0, double *n1) {
  if (m->ngroups < 2 || m->dtype != SS_F64) {
    *n0 = ss_model_group_norm(m, 0);
    *n1 = ss_model_group_norm(m, 1);
    return;
  }
  const double *a = (const double *)m->params + m->groups[0].offset, *b = (const double *)m->params + m->groups[1].offset;
  const size_t na = m->groups[0].count, nb = m->groups[1].count, n = na < nb ? na : nb;
  double sa = 0, sb = 0;
  for (size_t i = 0; i < n; i++) {
    sa += a[i] * a[i];
    sb += b[i] * b[i];
  }
  for (size_t i = n; i < na; i++) sa += a[i] * a[i];
  for (size_t i = n; i < nb; i++) sb += b[i] * b[i];
  *n0 = sqrt(sa);
  *n1 = sqrt(sb);
}

/* Whether any of the n values is Inf or NaN: v - v is 0 for a finite v and NaN otherwise, and
 * NaN survives any sum in any order, so four independent vector accumulators (one add in
 * flight each: the single chain ran at a quarter of the adder's rate), no early exit (the
 * gradients are scanned every training step; an element-wise isfinite() loop with an exit cost
 * as much as the optimizer). One body for both element types, 32-byte vectors of L lanes. */
typedef double ss_v4d __attribute__((vector_size(32)));
typedef float ss_v8f __attribute__((vector_size(32)));
#define DEFINE_ANY_NONFINITE(SUFFIX, T, V, L)                                                      \
  static inline __attribute__((always_inline)) int any_nonfinite_##SUFFIX(const T *v, size_t n) { \
    V a0 = {0}, a1 = a0, a2 = a0, a3 = a0, x0, x1, x2, x3;                                         \
    size_t i = 0;                                                                                  \
    for (; i + 4 * (L) <= n; i += 4 * (L)) {                                                       \
      memcpy(&x0, v + i, sizeof x0);                                                               \
      memcpy(&x1, v + i + (L), sizeof x1);                                                         \
      memcpy(&x2, v + i + 2 * (L), sizeof x2);                                                     \
      memcpy(&x3, v + i + 3 * (L), sizeof x3);                                                     \
      a0 += x0 - x0;                                                                               \
      a1 += x1 - x1;                                                                               \
      a2 += x2 - x2;                                                                               \
      a3 += x3 - x3;                                                                               \
    }                                                                                              \
    a0 += a1 + a2 + a3;                                                                            \
    T s = 0;                                                                                       \
    for (int l = 0; l < (L); l++) s += a0[l];                                                      \
    for (; i < n; i++) s += v[i] - v[i];                                                           \
    return s != s;                                                                                 \
  }
DEFINE_ANY_NONFINITE(f64, double, ss_v4d, 4)
DEFINE_ANY_NONFINITE(f32, float, ss_v8f, 8)
#undef DEFINE_ANY_NONFINITE
#if SS_HAVE_CLONES
__attribute__((target_clones("avx2", "default")))
#endif
static int any_nonfinite(const void *base, size_t n, int f64) {
  return f64 ? any_nonfinite_f64(base, n) : any_nonfinite_f32(base, n);
}

/* Whether any gradient is Inf or NaN, reading only the listed rows of row-sparse groups (every
 * other gradient of theirs is +0: ss_param_group) when the groups tile the parameters in
 * order; the whole buffer otherwise. */
static int any_nonfinite_grads(const ss_model *m) {
  const int f64 = m->dtype == SS_F64;
  const size_t es = ss_dtype_size(m->dtype);
  size_t next = 0;
  int sparse = 0;
  for (int g = 0; g < m->ngroups; g++) {
    const ss_param_group *G = &m->groups[g];
    if (G->offset != next) return any_nonfinite(m->grads, m->nparams, f64);
    next += G->count;
    sparse |= G->row_len > 0 && G->rows;
  }
  if (!sparse || next != m->nparams) return any_nonfinite(m->grads, m->nparams, f64);
  for (int g = 0; g < m->ngroups; g++) {
    const ss_param_group *G = &m->groups[g];
    const char *base = (const char *)m->grads + G->offset * es;
    if (!(G->row_len > 0 && G->rows)) {
      if (any_nonfinite(base, G->count, f64)) return 1;
      continue;
    }
    for (int k = 0; k < G->nrows; k++)
      if (any_nonfinite(base + (size_t)G->rows[k] * G->row_len * es, G->row_len, f64)) return 1;
  }
  return 0;
}

int ss_model_find_nonfinite(const ss_model *m, int grads, char *where, size_t n) {
  const void *base = grads ? m->grads : m->params;
  size_t es = ss_dtype_size(m->dtype);
  /* fast check (of the whole buffer, or the rows that can hold gradients); the loop below
   * only runs to name the first bad entry */
  if (!(grads ? any_nonfinite_grads(m) : any_nonfinite(base, m->nparams, m->dtype == SS_F64))) return 0;
  for (int t = 0; t < m->ntensors; t++) {
    const ss_tensor *tv = &m->tensors[t];
    size_t off = (size_t)((const char *)tv->data - (const char *)m->params) / es;
    int64_t cnt = ss_tensor_numel(tv);
    for (int64_t i = 0; i < cnt; i++)
      if (!isfinite(elem(m, base, off + (size_t)i))) {
        snprintf(where, n, "%s%s[%lld]", grads ? "grad of " : "", tv->name, (long long)i);
        return 1;
      }
  }
  return 0;
}
