/* CSV (RFC 4180): what the writer quotes reads back to the same fields, with the reader of
 * this module and with Python's csv module; malformed files are errors naming the line. */
#include "ss_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <scansnap/csv.h>

static const char *const nasty[] = {"plain", "lr_z=0.5,lr_y_multi_on_z=1,seed=1", "say \"hi\"", "two\nlines", "cr\r\nlf",
                                    "", ",", "\"", "trailing,"};
enum { NNASTY = sizeof nasty / sizeof nasty[0] };

/* A table of every nasty field (header: c0..c8) and a numeric row, into dir/name. */
static char *write_table(const char *dir, const char *name) {
  char *path = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  ss_csv_writer w;
  ss_csv_writer_init(&w, f);
  for (int i = 0; i < NNASTY; i++) {
    char h[16];
    snprintf(h, sizeof h, "c%d", i);
    ss_csv_field(&w, h);
  }
  ss_csv_endrow(&w);
  for (int i = 0; i < NNASTY; i++) ss_csv_field(&w, nasty[i]);
  ss_csv_endrow(&w);
  const double nums[] = {0.1, -1e-300, NAN, INFINITY, -INFINITY, 1.0 / 3, 12345678901234567.0, 0, 5};
  for (int i = 0; i < NNASTY - 1; i++) ss_csv_num(&w, nums[i]);
  ss_csv_int(&w, 9007199254740993LL);
  ss_csv_endrow(&w);
  fclose(f);
  return path;
}

static void test_written_fields_read_back_exactly(void **st) {
  (void)st;
  char *dir = ss_test_tmpdir("csv-roundtrip");
  char *path = write_table(dir, "t.csv");
  ss_csv t;
  ss_err e;
  assert_int_equal(ss_csv_read(path, &t, &e), SS_OK);
  assert_int_equal(t.ncols, NNASTY);
  assert_int_equal(t.nrows, 2);
  for (int i = 0; i < NNASTY; i++) assert_string_equal(ss_csv_cell(&t, 0, i), nasty[i]);
  assert_int_equal(ss_csv_col(&t, "c3"), 3);
  assert_int_equal(ss_csv_col(&t, "nope"), -1);
  /* numbers: 17 digits read back to the same double */
  assert_true(strtod(ss_csv_cell(&t, 1, 0), NULL) == 0.1);
  assert_true(strtod(ss_csv_cell(&t, 1, 5), NULL) == 1.0 / 3);
  assert_true(isnan(strtod(ss_csv_cell(&t, 1, 2), NULL)));
  assert_string_equal(ss_csv_cell(&t, 1, 3), "inf");
  assert_string_equal(ss_csv_cell(&t, 1, 4), "-inf");
  assert_string_equal(ss_csv_cell(&t, 1, 8), "9007199254740993");
  ss_csv_free(&t);
  free(path);
  free(dir);
}

/* Python's csv module (a reader written by others) sees the same fields. */
static void test_python_reads_the_same_fields(void **st) {
  (void)st;
  char *dir = ss_test_tmpdir("csv-python");
  char *path = write_table(dir, "t.csv");
  char *check = NULL;
  int rc = ss_test_sh(&check,
                  "/usr/bin/python3 -c 'import csv,sys,json; r=list(csv.reader(open(sys.argv[1], newline=\"\")));"
                  " want=%s; assert r[1]==want, (r[1], want); assert len(r)==3 and all(len(x)==%d for x in r)' '%s'",
                  "[\"plain\", \"lr_z=0.5,lr_y_multi_on_z=1,seed=1\", \"say \\\"hi\\\"\", \"two\\nlines\", \"cr\\r\\nlf\", \"\", \",\", \"\\\"\", \"trailing,\"]",
                  NNASTY, path);
  if (rc) fail_msg("python3 disagrees: %s", check);
  free(check);
  free(path);
  free(dir);
}

static void test_reader_takes_crlf_bom_blank_lines_and_no_final_newline(void **st) {
  (void)st;
  const char data[] = "\xEF\xBB\xBF" "a,b\r\n\r\n1,\"x\r\ny\"\r\n\n2,\n3,\"\"";
  ss_csv t;
  ss_err e;
  assert_int_equal(ss_csv_parse(data, sizeof data - 1, "mem", &t, &e), SS_OK);
  assert_int_equal(t.ncols, 2);
  assert_int_equal(t.nrows, 3);
  assert_string_equal(t.head[0], "a");
  assert_string_equal(ss_csv_cell(&t, 0, 1), "x\r\ny");
  assert_string_equal(ss_csv_cell(&t, 1, 0), "2");
  assert_string_equal(ss_csv_cell(&t, 1, 1), "");
  assert_string_equal(ss_csv_cell(&t, 2, 1), "");
  ss_csv_free(&t);
}

static void test_malformed_files_name_the_line(void **st) {
  (void)st;
  const struct {
    const char *data, *want;
  } bad[] = {
      {"a,b\n1,2,3\n", "line 2: 3 fields, the header has 2"},
      {"a,b\n1\n", "line 2: 1 field, the header has 2"},
      {"a,b\n1,\"open\n2,3\n", "line 2: a quoted field is not closed"},
      {"a,b\n1,\"x\"y\n", "line 2: unexpected character after a closing quote"},
      {"a,b\n1,x\"y\n", "line 2: a quote inside an unquoted field"},
      {"a,b\n\"multi\nline\",2\n3,4,5\n", "line 4: 3 fields"},
      {"", "is empty"},
      {"\n\n", "is empty"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ss_csv t;
    ss_err e;
    assert_int_equal(ss_csv_parse(bad[i].data, strlen(bad[i].data), "bad.csv", &t, &e), SS_EINPUT);
    if (!strstr(e.msg, bad[i].want) || !strstr(e.msg, "bad.csv")) fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].want);
    assert_null(t.head);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_written_fields_read_back_exactly),
      cmocka_unit_test(test_python_reads_the_same_fields),
      cmocka_unit_test(test_reader_takes_crlf_bom_blank_lines_and_no_final_newline),
      cmocka_unit_test(test_malformed_files_name_the_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
