/* Same configuration and seed -> byte-identical metrics.csv, metrics.jsonl,
 * dynamics.safetensors and checkpoint.safetensors with 1, 2 and 3 threads. The configuration
 * has num_last=5 (M = 70) and batch 128 x T 64, enough work (> SS_YZ_PAR_WORK in
 * src/model/yz.c) that the per-sequence loop and the chunked dY really split across threads;
 * default random init (so dZ is non-zero from the first step), and is run
 * with SGD and with Adam. A different seed must change the bytes (the comparison can fail). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void run(const char *dir, const char *name, int threads, const char *seed, const char *method) {
  ss_config c;
  ss_err e;
  char kv[2048];
  ss_config_defaults(&c);
  const char *kvs[] = {"dataset2.num_last=5", "niter=30", "batchsize=128", "L=64", "model.zero_init=false",
                       "save_per_minibatch=3", NULL};
  for (int i = 0; kvs[i]; i++)
    if (ss_config_override(&c, kvs[i], &e)) fail_msg("%s", e.msg);
  snprintf(kv, sizeof kv, "threads=%d", threads);
  assert_int_equal(ss_config_override(&c, kv, &e), SS_OK);
  snprintf(kv, sizeof kv, "seed=%s", seed);
  assert_int_equal(ss_config_override(&c, kv, &e), SS_OK);
  snprintf(kv, sizeof kv, "opt.method=%s", method);
  assert_int_equal(ss_config_override(&c, kv, &e), SS_OK);
  if (!strcmp(method, "adam")) assert_int_equal(ss_config_override(&c, "opt.lr_z=0.05", &e), SS_OK);
  assert_int_equal(ss_config_validate(&c, &e), SS_OK);
  char *out = ss_path_join(dir, name);
  ss_run_summary s;
  if (ss_train(&c, out, &s, &e)) fail_msg("%s: %s", name, e.msg);
  assert_int_equal(s.M, 70);
  free(out);
}

static int same_file(const char *dir, const char *a, const char *b, const char *file) {
  char pa[4096], pb[4096];
  snprintf(pa, sizeof pa, "%s/%s/%s", dir, a, file);
  snprintf(pb, sizeof pb, "%s/%s/%s", dir, b, file);
  char *da, *db;
  size_t na, nb;
  ss_err e;
  assert_int_equal(ss_read_file(pa, &da, &na, &e), SS_OK);
  assert_int_equal(ss_read_file(pb, &db, &nb, &e), SS_OK);
  int same = na == nb && memcmp(da, db, na) == 0;
  free(da);
  free(db);
  return same;
}

static const char *files[] = {"metrics.csv", "metrics.jsonl", "dynamics.safetensors", "checkpoint.safetensors"};

static void check_method(const char *method) {
  char tag[64];
  snprintf(tag, sizeof tag, "determinism-%s", method);
  char *dir = ss_test_tmpdir(tag);
  run(dir, "t1", 1, "5", method);
  run(dir, "t2", 2, "5", method);
  run(dir, "t3", 3, "5", method);
  run(dir, "other_seed", 2, "6", method);
  for (int i = 0; i < 4; i++) {
    if (!same_file(dir, "t1", "t2", files[i])) fail_msg("%s: %s differs between threads=1 and threads=2", method, files[i]);
    if (!same_file(dir, "t1", "t3", files[i])) fail_msg("%s: %s differs between threads=1 and threads=3", method, files[i]);
  }
  assert_false(same_file(dir, "t1", "other_seed", "metrics.csv"));
  assert_false(same_file(dir, "t1", "other_seed", "checkpoint.safetensors"));
  free(dir);
}

static void same_seed_same_bytes_whatever_the_threads_sgd(void **state) {
  (void)state;
  check_method("sgd");
}

static void same_seed_same_bytes_whatever_the_threads_adam(void **state) {
  (void)state;
  check_method("adam");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_seed_same_bytes_whatever_the_threads_sgd),
      cmocka_unit_test(same_seed_same_bytes_whatever_the_threads_adam),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
