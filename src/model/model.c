/* Helpers common to every model behind ss_model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "scansnap/model.h"

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

int ss_model_find_nonfinite(const ss_model *m, int grads, char *where, size_t n) {
  const void *base = grads ? m->grads : m->params;
  size_t es = ss_dtype_size(m->dtype);
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
