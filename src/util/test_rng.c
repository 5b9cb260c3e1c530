/* The PRNG: same seed, same stream; different seeds differ; uniform draws stay in range and
 * have the right mean; ss_rng_below is unbiased enough to pass a chi-square at fixed seed. */
#include <math.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void same_seed_same_stream(void **state) {
  (void)state;
  ss_rng a, b;
  ss_rng_seed(&a, 42);
  ss_rng_seed(&b, 42);
  for (int i = 0; i < 1000; i++) assert_int_equal(ss_rng_u64(&a), ss_rng_u64(&b));
  ss_rng_seed(&b, 43);
  int differ = 0;
  for (int i = 0; i < 10; i++) differ += ss_rng_u64(&a) != ss_rng_u64(&b);
  assert_true(differ >= 9);
}

static void uniform_mean_and_range(void **state) {
  (void)state;
  ss_rng r;
  ss_rng_seed(&r, 7);
  double s = 0;
  int n = 200000;
  for (int i = 0; i < n; i++) {
    double u = ss_rng_uniform(&r);
    assert_true(u >= 0 && u < 1);
    s += u;
  }
  assert_true(fabs(s / n - 0.5) < 0.005);
}

static void below_chi_square(void **state) {
  (void)state;
  ss_rng r;
  ss_rng_seed(&r, 11);
  int k = 7, n = 70000, cnt[7] = {0};
  for (int i = 0; i < n; i++) cnt[ss_rng_below(&r, (uint32_t)k)]++;
  double chi = 0, e = (double)n / k;
  for (int i = 0; i < k; i++) chi += (cnt[i] - e) * (cnt[i] - e) / e;
  assert_true(chi < 22.46); /* p = 0.001 at 6 degrees of freedom */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_seed_same_stream),
      cmocka_unit_test(uniform_mean_and_range),
      cmocka_unit_test(below_chi_square),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
