/* Sequence files: every malformed file is an SS_EINPUT error whose message names the file
 * and the line and quotes the offending text intact (a fuzzer once found the quote read
 * after the file's buffer was freed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include <scansnap.h>

static int load_text(const char *text, ss_seqfile *s, ss_err *err) {
  char *dir = ss_test_tmpdir("seqfile-err");
  char *path = ss_path_join(dir, "seq.txt");
  int rc = ss_write_file_atomic(path, text, strlen(text), err);
  assert_int_equal(rc, SS_OK);
  rc = ss_seqfile_load(path, 10, s, err);
  free(path);
  free(dir);
  return rc;
}

static void non_integer_token_is_quoted_in_the_message(void **state) {
  (void)state;
  ss_seqfile s;
  ss_err err;
  assert_int_equal(load_text("0 1 2 3 9\n1 1 2 3[9\n", &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "line 2: '3[9' is not an integer token id"));
}

static void ragged_short_and_out_of_range_rows_are_errors(void **state) {
  (void)state;
  ss_seqfile s;
  ss_err err;
  assert_int_equal(load_text("0 1 2 3\n0 1 2\n", &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "line 2: 3 values where earlier rows have 4"));
  assert_int_equal(load_text("0 1\n", &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "a row needs at least 2 tokens and a label"));
  assert_int_equal(load_text("0 1 12\n", &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "token id 12 outside the vocabulary 0..9"));
  assert_int_equal(load_text("# only a comment\n\n", &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "holds no sequences"));
  assert_int_equal(load_text("0 1 2\n3 4 5\n", &s, &err), SS_OK);
  assert_int_equal(s.rows, 2);
  assert_int_equal(s.T, 2);
  ss_seqfile_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(non_integer_token_is_quoted_in_the_message),
      cmocka_unit_test(ragged_short_and_out_of_range_rows_are_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
