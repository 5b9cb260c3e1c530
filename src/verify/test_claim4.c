/* Claim 4: without a corpus it is a SKIP whose reason names the corpus and the command that
 * fetches one, with NaN numbers, not a failure of verify (and the library fetches nothing);
 * with a corpus that is too small for the claim's configuration it is a SKIP naming the
 * problem. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/verify.h"
#include "ss_test.h"

static void claim4_skips_with_a_reason_when_there_is_no_corpus(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("claim4");
  ss_config c;
  ss_config_defaults(&c);
  char *run = ss_path_join(d, "text");
  ss_verify_opts o;
  ss_verify_opts_default(&o);
  o.corpus = "/nonexistent/brown";
  ss_claim cl;
  memset(&cl, 0, sizeof cl);
  ss_err e = {0};
  assert_int_equal(ss_claim4_text(&c, &o, run, &cl, &e), SS_OK);
  assert_int_equal(cl.status, SS_CLAIM_SKIP);
  assert_non_null(strstr(cl.why, "/nonexistent/brown"));
  assert_non_null(strstr(cl.why, "scripts/fetch-brown"));
  assert_int_equal(cl.nnumbers, 4);
  for (int i = 0; i < cl.nnumbers; i++) assert_true(isnan(cl.numbers[i]));
  assert_non_null(strstr(cl.measured, "attention entropy"));
  assert_false(ss_file_exists(run)); /* nothing was run, nothing created */
  /* a corpus far too small for batch 20 x 35 tokens: SKIP naming it, no crash */
  char *w = ss_path_join(d, "tiny");
  ss_mkdir_p(w, &e);
  const char *names[] = {"wiki.train.tokens", "wiki.valid.tokens"};
  for (int i = 0; i < 2; i++) {
    char *p = ss_path_join(w, names[i]);
    ss_write_file_atomic(p, "a b c d e f g\n", 14, &e);
    free(p);
  }
  o.corpus = w;
  memset(&cl, 0, sizeof cl);
  assert_int_equal(ss_claim4_text(&c, &o, run, &cl, &e), SS_OK);
  assert_int_equal(cl.status, SS_CLAIM_SKIP);
  assert_true(strstr(cl.why, "too few") || strstr(cl.why, "not implemented") || strstr(cl.why, "text.top_k"));
  free(w);
  free(run);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(claim4_skips_with_a_reason_when_there_is_no_corpus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
