/* ss_model_find_nonfinite, the trainer's divergence check on every step: a NaN, +Inf or -Inf
 * anywhere in the parameters or the gradients is found and named (tensor and index), for both
 * element types (the Y/Z model's doubles, the transformer's floats), at every position near the ends and the blocks of its unrolled scan and at
 * random positions; finite values (0, +-DBL_MAX / FLT_MAX, denormals) never are. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void set(ss_model *m, int grads, size_t i, double v) {
  void *base = grads ? m->grads : m->params;
  if (m->dtype == SS_F64)
    ((double *)base)[i] = v;
  else
    ((float *)base)[i] = (float)v;
}

/* the tensor holding element i of the flat buffer and the index inside it */
static void locate(const ss_model *m, size_t i, char *want, size_t n) {
  const size_t es = m->dtype == SS_F64 ? sizeof(double) : sizeof(float);
  for (int t = 0; t < m->ntensors; t++) {
    const size_t off = (size_t)((const char *)m->tensors[t].data - (const char *)m->params) / es;
    const size_t cnt = (size_t)ss_tensor_numel(&m->tensors[t]);
    if (i >= off && i < off + cnt) {
      snprintf(want, n, "%s[%zu]", m->tensors[t].name, i - off);
      return;
    }
  }
  want[0] = 0;
}

static void check_model(const char *precision, const char *const *keys) {
  ss_config cfg;
  ss_err e;
  ss_config_defaults(&cfg);
  for (int k = 0; keys[k]; k++)
    if (ss_config_override(&cfg, keys[k], &e) != SS_OK) fail_msg("%s: %s", keys[k], e.msg);
  if (ss_config_validate(&cfg, &e) != SS_OK) fail_msg("%s", e.msg);
  ss_classes cl;
  assert_int_equal(ss_classes_from_config(&cfg, &cl, &e), SS_OK);
  ss_model *m = NULL;
  assert_int_equal(ss_model_from_config(&cfg, &cl, &m, &e), SS_OK);
  const size_t n = m->nparams;
  assert_true(n > 200);
  assert_int_equal(m->dtype, strcmp(precision, "float32") ? SS_F64 : SS_F32);
  const double finite[] = {0.0, 1.0, -3.5, m->dtype == SS_F64 ? DBL_MAX : FLT_MAX, m->dtype == SS_F64 ? -DBL_MAX : -FLT_MAX,
                           m->dtype == SS_F64 ? 4.9e-324 : 1.4e-45};
  const double bad[] = {NAN, INFINITY, -INFINITY};
  size_t pos[400];
  int np = 0;
  for (size_t i = 0; i < 70; i++) pos[np++] = i;               /* the first blocks of 16 / 32 */
  for (size_t i = n - 70; i < n; i++) pos[np++] = i;           /* the last block and the tail */
  ss_rng r;
  ss_rng_seed(&r, 7);
  while (np < 400) pos[np++] = (size_t)ss_rng_below(&r, (uint32_t)n);
  char where[128], want[128];
  for (int grads = 0; grads < 2; grads++) {
    for (size_t i = 0; i < n; i++) set(m, grads, i, finite[i % 6]);
    assert_int_equal(ss_model_find_nonfinite(m, grads, where, sizeof where), 0);
    for (int k = 0; k < np; k++)
      for (int b = 0; b < 3; b++) {
        set(m, grads, pos[k], bad[b]);
        if (!ss_model_find_nonfinite(m, grads, where, sizeof where)) fail_msg("%s %s: %g at %zu not found", precision, grads ? "grads" : "params", bad[b], pos[k]);
        locate(m, pos[k], want, sizeof want);
        const char *got = grads ? where + strlen("grad of ") : where;
        if (strcmp(got, want) != 0) fail_msg("%s: %g at %zu named '%s', expected '%s'", precision, bad[b], pos[k], where, want);
        set(m, grads, pos[k], finite[pos[k] % 6]);
      }
    assert_int_equal(ss_model_find_nonfinite(m, grads, where, sizeof where), 0);
  }
  ss_model_free(m);
  ss_classes_free(&cl);
}

static void float64_nonfinite_found_everywhere(void **state) {
  (void)state;
  const char *const keys[] = {"data.num_last=3", NULL}; /* the Y/Z model, M = 79: blocks and a tail */
  check_model("float64", keys);
}

static void float32_nonfinite_found_everywhere(void **state) {
  (void)state;
  const char *const keys[] = {"model.type=transformer", "model.d=12", NULL};
  check_model("float32", keys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(float64_nonfinite_found_everywhere),
      cmocka_unit_test(float32_nonfinite_found_everywhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
