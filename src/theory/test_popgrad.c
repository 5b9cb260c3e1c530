/* The population gradient of SPEC §4 is the gradient of J: central finite differences of
 * J(Y, Z) agree with ss_pop_eval's analytic gradient on every entry, with and without the
 * residual and normalisation, over several class tables (global common tokens, tokens common
 * to the classes of one query, one or several queries, and a user table whose query token is
 * also a contextual token). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void check_table(const ss_classes *cl, int normalize, int residual, unsigned seed) {
  const int M = cl->M;
  const size_t n = 2 * (size_t)M * M;
  double *th = malloc(sizeof(double) * n), *g = malloc(sizeof(double) * n), *g2 = malloc(sizeof(double) * n);
  ss_rng r;
  ss_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++) th[i] = 2.0 * ss_rng_uniform(&r) - 1.0;
  ss_yz_opts o = {M, normalize, residual, 0, 0, 0, SS_KERNELS_AUTO};
  ss_pop *p;
  ss_err err;
  assert_int_equal(ss_pop_new(cl, &o, &p, &err), SS_OK);
  double J, acc;
  ss_pop_eval(p, th, g, &J, &acc);
  assert_true(isfinite(J) && J > 0);
  /* loss without gradient is the same number */
  double J2, acc2;
  ss_pop_eval(p, th, NULL, &J2, &acc2);
  assert_true(J2 == J && acc2 == acc);
  const double h = 1e-5;
  double worst = 0, gmax = 0;
  int nonzero_z = 0;
  for (size_t i = 0; i < n; i++) {
    double keep = th[i], Jp, Jm;
    th[i] = keep + h;
    ss_pop_eval(p, th, NULL, &Jp, &acc2);
    th[i] = keep - h;
    ss_pop_eval(p, th, NULL, &Jm, &acc2);
    th[i] = keep;
    double fd = (Jp - Jm) / (2 * h);
    worst = fmax(worst, fabs(fd - g[i]));
    gmax = fmax(gmax, fabs(g[i]));
    if (i >= n / 2 && fabs(g[i]) > 1e-8) nonzero_z++;
  }
  (void)g2;
  /* the Z gradient is not trivially zero (the check would pass vacuously) */
  assert_true(nonzero_z > 0);
  assert_true(gmax > 1e-4);
  if (worst > 1e-7 * fmax(1.0, gmax)) fail_msg("normalize=%d residual=%d: max |fd - analytic| = %g (max |g| %g)", normalize, residual, worst, gmax);
  ss_pop_free(p);
  free(th);
  free(g);
  free(g2);
}

static void generated(const char *const *kv, int nkv, ss_classes *cl) {
  ss_config cfg;
  ss_err err;
  ss_config_defaults(&cfg);
  for (int i = 0; i < nkv; i++) assert_int_equal(ss_config_override(&cfg, kv[i], &err), SS_OK);
  assert_int_equal(ss_config_validate(&cfg, &err), SS_OK);
  assert_int_equal(ss_classes_generate(&cfg, cl, &err), SS_OK);
}

static void fd_matches_on_generated_tables(void **state) {
  (void)state;
  const char *t1[] = {"data.num_last=2", "data.num_next_per_last=1", "data.num_common=3", "data.num_unique_per_next=4"};
  const char *t2[] = {"data.num_last=2", "data.num_next_per_last=2", "data.num_common=2", "data.num_common_per_last=2",
                      "data.num_unique_per_next=3"};
  const char *t3[] = {"data.num_last=1", "data.num_next_per_last=3", "data.num_common=0", "data.num_common_per_last=3",
                      "data.num_unique_per_next=2", "data.unique_unnormalized_min=0.3"};
  const char *const *tabs[] = {t1, t2, t3};
  int ns[] = {4, 5, 6};
  for (int t = 0; t < 3; t++) {
    ss_classes cl;
    generated(tabs[t], ns[t], &cl);
    if (t == 1) { /* the table really has common-per-query tokens */
      int per_query = 0;
      for (int l = 0; l < cl.M; l++) {
        int cnt = 0;
        for (int n = 0; n < cl.N; n++) cnt += cl.prob[(size_t)n * cl.M + l] > 0;
        per_query += cnt == 2;
      }
      assert_true(per_query >= 2);
    }
    for (int nrm = 0; nrm < 2; nrm++)
      for (int res = 0; res < 2; res++) check_table(&cl, nrm, res, 100u + (unsigned)(t * 4 + nrm * 2 + res));
    ss_classes_free(&cl);
  }
}

/* A user table where class 0's query token (4) is also one of its contextual tokens, so the
 * residual adds to an attended token rather than a slot of its own. */
static void fd_matches_when_query_is_a_context_token(void **state) {
  (void)state;
  ss_classes cl;
  memset(&cl, 0, sizeof cl);
  cl.M = 7;
  cl.N = 2;
  int q[] = {4, 5}, nx[] = {6, 3};
  cl.query = malloc(sizeof q);
  cl.next = malloc(sizeof nx);
  memcpy(cl.query, q, sizeof q);
  memcpy(cl.next, nx, sizeof nx);
  cl.prob = calloc(14, sizeof(double));
  cl.kind = calloc(14, 1);
  double p0[] = {0.2, 0.3, 0, 0, 0.5, 0, 0}, p1[] = {0.1, 0, 0.6, 0, 0, 0, 0.3};
  memcpy(cl.prob, p0, sizeof p0);
  memcpy(cl.prob + 7, p1, sizeof p1);
  ss_err err;
  assert_int_equal(ss_classes_finish(&cl, "test table", &err), SS_OK);
  for (int nrm = 0; nrm < 2; nrm++)
    for (int res = 0; res < 2; res++) check_table(&cl, nrm, res, 7u + (unsigned)(nrm * 2 + res));
  ss_classes_free(&cl);
}

/* At Y = Z = 0 every class has p = uniform: J = log M exactly and every class misses. */
static void zero_params_give_log_M(void **state) {
  (void)state;
  ss_classes cl;
  const char *kv[] = {"data.num_last=2"};
  generated(kv, 1, &cl);
  size_t n = 2 * (size_t)cl.M * cl.M;
  double *th = calloc(n, sizeof(double)), *g = malloc(sizeof(double) * n), J, acc;
  ss_yz_opts o = {cl.M, 1, 0, 0, 1, 0, SS_KERNELS_AUTO};
  ss_pop *p;
  ss_err err;
  assert_int_equal(ss_pop_new(&cl, &o, &p, &err), SS_OK);
  ss_pop_eval(p, th, g, &J, &acc);
  assert_true(fabs(J - log((double)cl.M)) < 1e-12);
  /* at Z = 0 the attention gradient is exactly zero only for Y = 0: dZ must vanish */
  for (size_t i = n / 2; i < n; i++) assert_true(g[i] == 0);
  ss_pop_free(p);
  free(th);
  free(g);
  ss_classes_free(&cl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fd_matches_on_generated_tables),
      cmocka_unit_test(fd_matches_when_query_is_a_context_token),
      cmocka_unit_test(zero_params_give_log_M),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
