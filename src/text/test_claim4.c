/* Claim 4's hook: without a corpus (and no fetch script in the current folder) it is a SKIP
 * with the reason and NaN numbers, not a failure of verify; with a corpus that is too small
 * for the claim's configuration it is a SKIP naming the problem. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/theory.h"
#include "ss_test.h"

static void claim4_skips_with_a_reason_when_there_is_no_corpus(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("claim4");
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(d), 0); /* no scripts/fetch-brown here: nothing is fetched */
  setenv("SS_BROWN_DIR", "/nonexistent/brown", 1);
  ss_config c;
  ss_config_defaults(&c);
  char measured[512], *run = ss_path_join(d, "text");
  double nums[SS_CLAIM4_NUMBERS];
  int status = -1;
  ss_err e = {0};
  assert_int_equal(ss_claim4_text(&c, run, measured, sizeof measured, nums, &status, &e), SS_OK);
  assert_int_equal(status, SS_CLAIM_SKIP);
  assert_non_null(strstr(e.msg, "/nonexistent/brown"));
  for (int i = 0; i < SS_CLAIM4_NUMBERS; i++) assert_true(isnan(nums[i]));
  assert_non_null(strstr(measured, "attention entropy"));
  /* a corpus far too small for batch 20 x 35 tokens: SKIP naming it, no crash */
  char *w = ss_path_join(d, "tiny");
  ss_mkdir_p(w, &e);
  const char *names[] = {"wiki.train.tokens", "wiki.valid.tokens"};
  for (int i = 0; i < 2; i++) {
    char *p = ss_path_join(w, names[i]);
    ss_write_file_atomic(p, "a b c d e f g\n", 14, &e);
    free(p);
  }
  setenv("SS_BROWN_DIR", w, 1);
  status = -1;
  int rc = ss_claim4_text(&c, run, measured, sizeof measured, nums, &status, &e);
  assert_int_equal(rc, SS_OK);
  assert_int_equal(status, SS_CLAIM_SKIP);
  assert_true(strstr(e.msg, "too few") || strstr(e.msg, "not implemented") || strstr(e.msg, "text.top_k"));
  unsetenv("SS_BROWN_DIR");
  assert_int_equal(chdir(cwd), 0);
  free(w);
  free(run);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(claim4_skips_with_a_reason_when_there_is_no_corpus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
