/* SGD converges to the steps theory (SPEC §4) as T and the batch grow: over the first 20
 * steps of the Figure-4 run, the largest |c_n[l] difference| between SGD and theory, averaged
 * over seeds 1..3, strictly shrinks from T = batch = 32 to 128 to 512; and at T = batch = 4096
 * (seed 2, the default) it is below 0.02. A single seed does not always order 512 and 4096:
 * both gaps are at the level of the remaining SGD noise (the batch's class proportions
 * fluctuate by ~1/sqrt(batch)), hence the seed average on the cheaper sizes. Under the
 * sanitizers the large size is 1024 (the serial batch sampler makes 4096 take minutes there). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ss_test.h"
#include "scansnap/all.h"

#if defined(__SANITIZE_ADDRESS__)
#define BIG 1024
#else
#define BIG 4096
#endif

static double gap(const char *tmp, int size, int seed) {
  char kvT[64], kvB[64], kvS[64], sub[64];
  snprintf(kvT, sizeof kvT, "data.T=%d", size);
  snprintf(kvB, sizeof kvB, "batchsize=%d", size);
  snprintf(kvS, sizeof kvS, "seed=%d", seed);
  const char *kv[] = {"niter=20", "save_per_minibatch=1", kvT, kvB, kvS};
  ss_config c;
  ss_err err;
  ss_config_defaults(&c);
  for (int i = 0; i < 5; i++) assert_int_equal(ss_config_override(&c, kv[i], &err), SS_OK);
  assert_int_equal(ss_config_validate(&c, &err), SS_OK);
  ss_run_summary s;
  snprintf(sub, sizeof sub, "theory-%d-%d", size, seed);
  char *th = ss_path_join(tmp, sub);
  assert_int_equal(ss_theory_run(&c, th, &s, &err), SS_OK); /* T and batch do not enter the theory */
  snprintf(sub, sizeof sub, "sgd-%d-%d", size, seed);
  char *d = ss_path_join(tmp, sub);
  assert_int_equal(ss_train(&c, d, &s, &err), SS_OK);
  ss_compare cmp;
  assert_int_equal(ss_compare_runs(th, d, 20, &cmp, &err), SS_OK);
  assert_int_equal(cmp.nshared, 21);
  double g = cmp.max;
  ss_compare_free(&cmp);
  free(th);
  free(d);
  return g;
}

static void sgd_converges_to_the_theory(void **state) {
  (void)state;
  char *tmp = ss_test_tmpdir("theory-conv");
  int sizes[] = {32, 128, 512};
  double mean[3] = {0, 0, 0};
  for (int k = 0; k < 3; k++)
    for (int seed = 1; seed <= 3; seed++) mean[k] += gap(tmp, sizes[k], seed) / 3;
  double big = gap(tmp, BIG, 2);
  print_message("mean over seeds of max |c_n diff| over 20 steps: T=batch=32 %.4f, 128 %.4f, 512 %.4f; %d (seed 2) %.4f\n",
                mean[0], mean[1], mean[2], BIG, big);
  assert_true(mean[1] < mean[0]);
  assert_true(mean[2] < mean[1]);
  assert_true(big < 0.02);
  assert_true(big < mean[0] / 4);
  free(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sgd_converges_to_the_theory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
