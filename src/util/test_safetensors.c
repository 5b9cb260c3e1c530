/* safetensors (the published format: u64 little-endian header length N, N bytes of JSON,
 * data): every dtype and shape (scalar, empty, 4-d) round-trips bit for bit with metadata;
 * the file is laid out as the format says (N a multiple of 8, offsets contiguous from 0 to
 * the end of the file); a file from another writer (no checksum, keys in another order)
 * loads; truncated, corrupted (checksum) and malformed files are SS_EINPUT naming the file,
 * never a crash. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_test.h"
#include "scansnap/all.h"

static double f64[6] = {1.5, -2.25, 3e300, -0.0, 1e-310, 42};
static float f32[2][3] = {{1, 2, 3}, {-4.5f, 5e-40f, 6}};
static int64_t i64[3] = {-1, INT64_MAX, 7};
static int32_t i32[4] = {INT32_MIN, 0, 1, 2};
static uint64_t u64[1] = {UINT64_MAX};
static unsigned char u8[2][1][2][2] = {{{{1, 2}, {3, 4}}}, {{{5, 6}, {7, 255}}}};
static double scalar = 3.25;

static int write_sample(const char *path) {
  /* names deliberately not in alphabetical order: the writer sorts JSON keys, data keeps this order */
  ss_tensor t[] = {
      {"zeta_f64", SS_F64, 2, {2, 3}, f64},  {"f32", SS_F32, 2, {2, 3}, f32},   {"i64", SS_I64, 1, {3}, i64},
      {"i32", SS_I32, 2, {2, 2}, i32},       {"u64", SS_U64, 1, {1}, u64},      {"alpha_u8", SS_U8, 4, {2, 1, 2, 2}, u8},
      {"scalar", SS_F64, 0, {0}, &scalar},   {"empty", SS_F32, 2, {0, 5}, f32},
  };
  const char *meta[] = {"format", "test-1", "note", "quotes \" and \\ survive", NULL};
  ss_err e;
  return ss_safetensors_write(path, t, 8, meta, &e);
}

static void roundtrip_every_dtype_and_shape(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("st-rt");
  char *p = ss_path_join(dir, "a.safetensors");
  assert_int_equal(write_sample(p), SS_OK);
  ss_stfile f;
  ss_err e;
  if (ss_safetensors_read(p, &f, &e)) fail_msg("%s", e.msg);
  assert_int_equal(f.n, 8);
  const ss_tensor *t = ss_st_get(&f, "zeta_f64");
  assert_int_equal(t->dtype, SS_F64);
  assert_int_equal(t->ndim, 2);
  assert_memory_equal(t->data, f64, sizeof f64);
  t = ss_st_get(&f, "f32");
  assert_int_equal(t->dtype, SS_F32);
  assert_memory_equal(t->data, f32, sizeof f32);
  assert_memory_equal(ss_st_get(&f, "i64")->data, i64, sizeof i64);
  assert_memory_equal(ss_st_get(&f, "i32")->data, i32, sizeof i32);
  assert_memory_equal(ss_st_get(&f, "u64")->data, u64, sizeof u64);
  t = ss_st_get(&f, "alpha_u8");
  assert_int_equal(t->ndim, 4);
  assert_int_equal(t->shape[0], 2);
  assert_int_equal(t->shape[3], 2);
  assert_memory_equal(t->data, u8, sizeof u8);
  t = ss_st_get(&f, "scalar");
  assert_int_equal(t->ndim, 0);
  assert_int_equal(ss_tensor_numel(t), 1);
  assert_true(*(double *)t->data == 3.25);
  t = ss_st_get(&f, "empty");
  assert_int_equal(ss_tensor_numel(t), 0);
  assert_null(ss_st_get(&f, "nope"));
  assert_string_equal(ss_st_meta(&f, "format"), "test-1");
  assert_string_equal(ss_st_meta(&f, "note"), "quotes \" and \\ survive");
  assert_non_null(ss_st_meta(&f, "ss_checksum"));
  ss_st_free(&f);

  /* the layout of the published format */
  char *buf;
  size_t n;
  assert_int_equal(ss_read_file(p, &buf, &n, &e), SS_OK);
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)buf[i] << (8 * i);
  assert_int_equal(hl % 8, 0);
  assert_true(hl + 8 <= n);
  assert_int_equal(buf[8], '{');
  json_error_t je;
  json_t *h = json_loadb(buf + 8, hl, 0, &je);
  assert_non_null(h);
  /* offsets: sorted, they tile [0, n - 8 - hl) exactly */
  int64_t ends[16], begins[16];
  int k = 0;
  const char *key;
  json_t *v;
  json_object_foreach(h, key, v) {
    if (!strcmp(key, "__metadata__")) continue;
    json_t *o = json_object_get(v, "data_offsets");
    begins[k] = json_integer_value(json_array_get(o, 0));
    ends[k] = json_integer_value(json_array_get(o, 1));
    k++;
  }
  assert_int_equal(k, 8);
  uint64_t covered = 0;
  for (int pass = 0; pass < k; pass++)
    for (int i = 0; i < k; i++)
      if ((uint64_t)begins[i] == covered && ends[i] > begins[i]) covered = (uint64_t)ends[i];
  assert_int_equal(covered, n - 8 - hl);
  json_decref(h);
  free(buf);
  free(p);
  free(dir);
}

/* A file as another writer makes it: no __metadata__, no checksum, padded header. */
static void foreign_file_without_checksum_loads(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("st-foreign");
  char *p = ss_path_join(dir, "f.safetensors");
  const char *hdr = "{\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  size_t hl = strlen(hdr), pad = (8 - hl % 8) % 8;
  FILE *f = fopen(p, "wb");
  uint64_t n = hl + pad;
  for (int i = 0; i < 8; i++) fputc((int)((n >> (8 * i)) & 255), f);
  fputs(hdr, f);
  for (size_t i = 0; i < pad; i++) fputc(' ', f);
  float a[2] = {0.5f, -1};
  int32_t b = 77;
  fwrite(a, 4, 2, f);
  fwrite(&b, 4, 1, f);
  fclose(f);
  ss_stfile s;
  ss_err e;
  if (ss_safetensors_read(p, &s, &e)) fail_msg("%s", e.msg);
  assert_memory_equal(ss_st_get(&s, "a")->data, a, sizeof a);
  assert_int_equal(*(int32_t *)ss_st_get(&s, "b")->data, 77);
  ss_st_free(&s);
  free(p);
  free(dir);
}

static void expect_bad(const char *p, const char *what) {
  ss_stfile f;
  ss_err e = {0};
  assert_int_equal(ss_safetensors_read(p, &f, &e), SS_EINPUT);
  if (!strstr(e.msg, p)) fail_msg("message does not name the file: %s", e.msg);
  if (what && !strstr(e.msg, what)) fail_msg("message lacks '%s': %s", what, e.msg);
}

static void patch(const char *p, long off, int whence, const void *bytes, size_t n) {
  FILE *f = fopen(p, "r+b");
  assert_non_null(f);
  fseek(f, off, whence);
  fwrite(bytes, 1, n, f);
  fclose(f);
}

static void truncated_corrupt_and_malformed_files_are_detected(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("st-bad");
  char *p = ss_path_join(dir, "x.safetensors");
  ss_err e;
  char *buf;
  size_t n;
  assert_int_equal(write_sample(p), SS_OK);
  assert_int_equal(ss_read_file(p, &buf, &n, &e), SS_OK);
  free(buf);
  /* truncated: one byte, then most of the data, then into the header, then under 8 bytes */
  const long cuts[] = {1, 40, (long)n - 20, (long)n - 4};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(write_sample(p), SS_OK);
    assert_int_equal(truncate(p, (off_t)(n - (size_t)cuts[i])), 0);
    expect_bad(p, NULL);
  }
  /* one flipped bit in the data: only the checksum can see it */
  assert_int_equal(write_sample(p), SS_OK);
  unsigned char x = 0x40;
  patch(p, -3, SEEK_END, &x, 1);
  expect_bad(p, "checksum");
  /* header length beyond the file */
  assert_int_equal(write_sample(p), SS_OK);
  unsigned char big[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0};
  patch(p, 0, SEEK_SET, big, 8);
  expect_bad(p, "header");
  /* header that is not JSON */
  assert_int_equal(write_sample(p), SS_OK);
  patch(p, 8, SEEK_SET, "[", 1);
  expect_bad(p, NULL);
  /* unknown dtype */
  assert_int_equal(write_sample(p), SS_OK);
  assert_int_equal(ss_read_file(p, &buf, &n, &e), SS_OK);
  char *d = strstr(buf + 8, "\"I32\"");
  assert_non_null(d);
  patch(p, (long)(d - buf), SEEK_SET, "\"Q32\"", 5);
  free(buf);
  expect_bad(p, "Q32");
  /* empty file, text file, missing file */
  FILE *f = fopen(p, "wb");
  fclose(f);
  expect_bad(p, NULL);
  f = fopen(p, "wb");
  fputs("hello, this is not a tensor file at all\n", f);
  fclose(f);
  expect_bad(p, NULL);
  char *missing = ss_path_join(dir, "missing.safetensors");
  expect_bad(missing, NULL);
  free(missing);
  free(p);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(roundtrip_every_dtype_and_shape),
      cmocka_unit_test(foreign_file_without_checksum_loads),
      cmocka_unit_test(truncated_corrupt_and_malformed_files_are_detected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
