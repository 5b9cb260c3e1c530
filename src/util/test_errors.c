/* Error messages: ss_seterr may take the message the ss_err already holds as an argument
 * (adding context in front of a callee's message) and yields the whole message intact. */
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void seterr_can_prefix_its_own_message(void **state) {
  (void)state;
  ss_err err;
  ss_seterr(&err, SS_EINPUT, "cannot create directory '%s': %s", "/x/y", "Not a directory");
  assert_int_equal(ss_seterr(&err, SS_EINPUT, "key 'out': %s", err.msg), SS_EINPUT);
  assert_string_equal(err.msg, "key 'out': cannot create directory '/x/y': Not a directory");
  assert_int_equal(err.code, SS_EINPUT);
}

static void bad_out_directory_message_is_readable(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("errors-out");
  char *out = NULL;
  int rc = ss_test_sh(&out, "touch %s/afile && %s train out=%s/afile/run niter=1", dir, ss_test_cli(), dir);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "cannot create directory"));
  assert_non_null(strstr(out, "afile/run"));
  free(out);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(seterr_can_prefix_its_own_message),
      cmocka_unit_test(bad_out_directory_message_is_readable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
