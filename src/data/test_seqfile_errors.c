/* Sequence files: every malformed file is an SS_EINPUT error whose message names the file
 * and the line and quotes the offending text intact (fuzz_seqfile once found the quote
 * read after the file's buffer was freed); .npy files with negative int64 ids (once a
 * shift into the sign bit) or shapes whose byte count wraps around are errors too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

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

/* A .npy v1 file: header dict padded to 64 bytes, then raw data. */
static int load_npy(const char *descr, const char *shape, const void *data, size_t n, ss_seqfile *s, ss_err *err) {
  char buf[512];
  memset(buf, ' ', sizeof buf);
  memcpy(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
  int h = snprintf(buf + 10, 118, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
  buf[10 + h] = ' ';
  buf[127] = '\n';
  memcpy(buf + 128, data, n);
  char *dir = ss_test_tmpdir("seqfile-npy");
  char *path = ss_path_join(dir, "seq.npy");
  assert_int_equal(ss_write_file_atomic(path, buf, 128 + n, err), SS_OK);
  int rc = ss_seqfile_load(path, 10, s, err);
  free(path);
  free(dir);
  return rc;
}

static void npy_negative_ids_and_wrapping_shapes_are_errors(void **state) {
  (void)state;
  ss_seqfile s;
  ss_err err;
  int64_t ok[6] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(load_npy("<i8", "(2, 3)", ok, sizeof ok, &s, &err), SS_OK);
  assert_int_equal(s.rows, 2);
  assert_int_equal(s.data[5], 6);
  ss_seqfile_free(&s);
  int64_t neg[6] = {1, 2, 3, 4, -1, 6};
  assert_int_equal(load_npy("<i8", "(2, 3)", neg, sizeof neg, &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "row 2 column 2: token id -1 outside the vocabulary"));
  int64_t big[6] = {1, 2, 3, 4, INT64_MIN, 6};
  assert_int_equal(load_npy("<i8", "(2, 3)", big, sizeof big, &s, &err), SS_EINPUT);
  /* (2^62 + 1) * 4 * 4 bytes wraps to 16 in 64 bits */
  assert_int_equal(load_npy("<i4", "(4611686018427387905, 4)", ok, 16, &s, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "is too large"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(non_integer_token_is_quoted_in_the_message),
      cmocka_unit_test(ragged_short_and_out_of_range_rows_are_errors),
      cmocka_unit_test(npy_negative_ids_and_wrapping_shapes_are_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
