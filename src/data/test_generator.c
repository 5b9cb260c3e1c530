/* Sequence classes and batches (SPEC §1):
 * - the generator lays tokens out exactly as SPEC §1 says (global common, per-query common,
 *   distinct blocks, query tokens, next tokens), M = C + K*Cq + N*D + K + N, for several knob
 *   settings, with the right weights (linear = torch.linspace, zipf = max/rank^s) and kinds;
 * - class tables round-trip through JSON, a user's own table loads, bad tables are SS_EINPUT
 *   with a message naming the file;
 * - ss_batch_sample draws classes uniformly and tokens from P(l|n) (chi-square, fixed seed);
 * - sequence files (text, .npy int32/int64) read back exactly; bad ids, ragged rows, empty
 *   files are errors naming the file and the line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_test.h"
#include "scansnap/all.h"

static ss_config knobs(int C, int K, int J, int Cq, int D, const char *extra) {
  ss_config c;
  ss_err e;
  char kv[128];
  ss_config_defaults(&c);
  const char *names[] = {"data.num_common", "data.num_last", "data.num_next_per_last", "data.num_common_per_last",
                         "data.num_unique_per_next"};
  int vals[] = {C, K, J, Cq, D};
  for (int i = 0; i < 5; i++) {
    snprintf(kv, sizeof kv, "%s=%d", names[i], vals[i]);
    if (ss_config_override(&c, kv, &e)) fail_msg("%s", e.msg);
  }
  if (extra && ss_config_override(&c, extra, &e)) fail_msg("%s", e.msg);
  return c;
}

/* Checks every entry of the table against SPEC §1's layout. */
static void check_layout(int C, int K, int J, int Cq, int D) {
  ss_config c = knobs(C, K, J, Cq, D, NULL);
  ss_classes cl;
  ss_err e;
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  int N = K * J;
  assert_int_equal(cl.N, N);
  assert_int_equal(cl.M, C + K * Cq + N * D + K + N);
  int off_q = C, off_u = C + K * Cq, off_last = off_u + N * D, off_next = off_last + K;
  /* linspace(0.1, 1, D) distinct weights, common weight 1 */
  double s = C + Cq;
  for (int i = 0; i < D; i++) s += D == 1 ? 0.1 : 0.1 + 0.9 * i / (D - 1);
  for (int n = 0; n < N; n++) {
    int k = n / J;
    assert_int_equal(cl.query[n], off_last + k);
    assert_int_equal(cl.next[n], off_next + n);
    double tot = 0;
    for (int l = 0; l < cl.M; l++) {
      double p = cl.prob[(size_t)n * cl.M + l], want = 0;
      if (l < C)
        want = 1 / s;
      else if (l >= off_q + k * Cq && l < off_q + (k + 1) * Cq)
        want = 1 / s;
      else if (l >= off_u + n * D && l < off_u + (n + 1) * D) {
        int i = l - off_u - n * D;
        want = (D == 1 ? 0.1 : 0.1 + 0.9 * i / (D - 1)) / s;
      }
      if (fabs(p - want) > 1e-15) fail_msg("C=%d K=%d J=%d Cq=%d D=%d: P(%d|%d) = %g, want %g", C, K, J, Cq, D, l, n, p, want);
      tot += p;
      /* kind by the definition: common iff P>0 in more than one class */
      int cnt = 0;
      for (int n2 = 0; n2 < N; n2++) cnt += cl.prob[(size_t)n2 * cl.M + l] > 0;
      int kind = p > 0 ? (cnt > 1 ? SS_TOK_COMMON : SS_TOK_DISTINCT) : SS_TOK_ABSENT;
      assert_int_equal(cl.kind[(size_t)n * cl.M + l], kind);
    }
    assert_true(fabs(tot - 1) < 1e-12);
  }
  ss_classes_free(&cl);
}

static void layout_and_M_follow_spec_for_several_knobs(void **state) {
  (void)state;
  check_layout(10, 2, 1, 0, 10); /* Figure 4: M = 34 */
  check_layout(10, 2, 2, 5, 10); /* SPEC §1 defaults */
  check_layout(0, 3, 2, 2, 4);
  check_layout(3, 1, 4, 1, 1);
  check_layout(2, 3, 1, 2, 3); /* J = 1: per-query common tokens are distinct */
  ss_config c = knobs(10, 2, 1, 0, 10, NULL);
  ss_classes cl;
  ss_err e;
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  assert_int_equal(cl.M, 34);
  ss_classes_free(&cl);
}

static void per_query_common_tokens_are_common_only_with_several_next_tokens(void **state) {
  (void)state;
  ss_err e;
  ss_classes cl;
  ss_config c = knobs(0, 2, 3, 2, 2, NULL); /* tokens 0..3 are per-query common */
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  for (int n = 0; n < 6; n++) {
    int k = n / 3;
    for (int l = 0; l < 4; l++)
      assert_int_equal(cl.kind[(size_t)n * cl.M + l], l / 2 == k ? SS_TOK_COMMON : SS_TOK_ABSENT);
    for (int i = 0; i < 2; i++) assert_int_equal(cl.kind[(size_t)n * cl.M + 4 + n * 2 + i], SS_TOK_DISTINCT);
  }
  ss_classes_free(&cl);
}

static void zipf_weights_are_max_over_rank_power(void **state) {
  (void)state;
  ss_err e;
  ss_classes cl;
  ss_config c = knobs(2, 1, 2, 0, 5, "data.unique_shape=zipf");
  assert_int_equal(ss_config_override(&c, "data.zipf_exponent=1.5", &e), SS_OK);
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  for (int n = 0; n < 2; n++) {
    const double *p = cl.prob + (size_t)n * cl.M;
    int off = 2 + n * 5;
    /* last distinct token has rank 1 and weight max = 1 = the common weight */
    assert_true(fabs(p[off + 4] - p[0]) < 1e-15);
    for (int i = 0; i < 5; i++) assert_true(fabs(p[off + i] / p[off + 4] - pow(5 - i, -1.5)) < 1e-12);
  }
  ss_classes_free(&cl);
}

static void class_table_json_roundtrip_and_user_table(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("gen-json");
  ss_err e;
  ss_classes a, b;
  ss_config c = knobs(3, 2, 2, 1, 4, "data.unique_shape=zipf");
  assert_int_equal(ss_classes_generate(&c, &a, &e), SS_OK);
  char *p = ss_path_join(dir, "classes.json");
  assert_int_equal(ss_classes_write_json(&a, p, &e), SS_OK);
  assert_int_equal(ss_classes_load_json(p, &b, &e), SS_OK);
  assert_int_equal(a.M, b.M);
  assert_int_equal(a.N, b.N);
  for (int n = 0; n < a.N; n++) {
    assert_int_equal(a.query[n], b.query[n]);
    assert_int_equal(a.next[n], b.next[n]);
  }
  for (size_t i = 0; i < (size_t)a.N * a.M; i++) {
    assert_true(a.prob[i] == b.prob[i]); /* 17 significant digits: exact */
    assert_int_equal(a.kind[i], b.kind[i]);
  }
  ss_classes_free(&a);
  ss_classes_free(&b);
  free(p);
  /* a user's table: token 0 shared (common), 1-2 and 3 distinct; both classes on query 4 */
  p = ss_test_write_file(dir, "user.json",
                 "{\"M\": 7, \"classes\": ["
                 "{\"query\": 4, \"next\": 5, \"tokens\": [0, 1, 2], \"probs\": [0.5, 0.25, 0.25]},"
                 "{\"query\": 4, \"next\": 6, \"tokens\": [0, 3], \"probs\": [0.125, 0.875]}]}");
  ss_config_defaults(&c);
  char kv[2048];
  snprintf(kv, sizeof kv, "data.classes=%s", p);
  assert_int_equal(ss_config_override(&c, kv, &e), SS_OK);
  assert_int_equal(ss_classes_from_config(&c, &a, &e), SS_OK);
  assert_int_equal(a.M, 7);
  assert_int_equal(a.N, 2);
  assert_int_equal(a.kind[0], SS_TOK_COMMON);
  assert_int_equal(a.kind[1], SS_TOK_DISTINCT);
  assert_int_equal(a.kind[7 + 3], SS_TOK_DISTINCT);
  assert_int_equal(a.kind[7 + 1], SS_TOK_ABSENT);
  assert_true(a.prob[7 + 3] == 0.875);
  ss_classes_free(&a);
  free(p);
  free(dir);
}

static void expect_bad_table(const char *dir, const char *name, const char *json, const char *what) {
  char *p = ss_test_write_file(dir, name, json);
  ss_classes cl;
  ss_err e = {0};
  assert_int_equal(ss_classes_load_json(p, &cl, &e), SS_EINPUT);
  if (!strstr(e.msg, p)) fail_msg("message does not name the file: %s", e.msg);
  if (!strstr(e.msg, what)) fail_msg("message lacks '%s': %s", what, e.msg);
  assert_null(strchr(e.msg, '\n'));
  free(p);
}

static void bad_class_tables_are_input_errors_naming_the_file(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("gen-bad");
  expect_bad_table(dir, "neg.json", "{\"M\": 4, \"classes\": [{\"query\": 2, \"next\": 3, \"tokens\": [0, 1], \"probs\": [1.5, -0.5]}]}", "-0.5");
  expect_bad_table(dir, "sum.json", "{\"M\": 4, \"classes\": [{\"query\": 2, \"next\": 3, \"tokens\": [0, 1], \"probs\": [0.5, 0.4]}]}", "sum to");
  expect_bad_table(dir, "unk.json", "{\"M\": 4, \"classes\": [{\"query\": 2, \"next\": 3, \"tokens\": [0, 9], \"probs\": [0.5, 0.5]}]}", "unknown token 9");
  expect_bad_table(dir, "q.json", "{\"M\": 4, \"classes\": [{\"query\": 7, \"next\": 3, \"tokens\": [0], \"probs\": [1]}]}", "outside the vocabulary");
  expect_bad_table(dir, "syntax.json", "{\"M\": 4, \"classes\": [", "line");
  expect_bad_table(dir, "shape.json", "{\"classes\": []}", "expected");
  ss_classes cl;
  ss_err e;
  char *missing = ss_path_join(dir, "missing.json");
  assert_int_equal(ss_classes_load_json(missing, &cl, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, missing));
  free(missing);
  free(dir);
}

/* Wilson-Hilferty: the chi-square quantile at p = 0.001 upper tail for df degrees. */
static double chi2_crit(int df) {
  double z = 3.0902, a = 2.0 / (9.0 * df);
  return df * pow(1 - a + z * sqrt(a), 3);
}

/* The stream of tokens is the reference one: per sequence ss_rng_below(N) for the class, then
 * per token one ss_rng_u64 (high half -> slot, low half -> alias coin); the sampler's inlined
 * generator and integer alias table must draw exactly these tokens and leave the rng in the
 * same state. */
static void reference_stream(const ss_classes *clp, ss_batch *bp) {
  const ss_classes cl = *clp;
  ss_batch b = *bp;
  const int B = b.B, T = b.T;
  ss_rng r1, r2;
  ss_rng_seed(&r1, 77);
  ss_rng_seed(&r2, 77);
  ss_batch_sample(&cl, &r1, &b);
  for (int i = 0; i < B; i++) {
    const int n = (int)ss_rng_below(&r2, (uint32_t)cl.N), off = cl.supp_off[n];
    const uint32_t k = (uint32_t)(cl.supp_off[n + 1] - off);
    assert_int_equal(b.cls[i], n);
    for (int t = 0; t < T - 1; t++) {
      const uint64_t u = ss_rng_u64(&r2);
      const int j = (int)(((u >> 32) * k) >> 32);
      const double coin = (double)(uint32_t)u * 0x1.0p-32;
      assert_int_equal(b.x[i * T + t], cl.supp_tok[off + (coin < cl.alias_p[off + j] ? j : cl.alias_i[off + j])]);
    }
  }
  assert_memory_equal(r1.s, r2.s, sizeof r1.s);
}

/* the same with more than 512 support entries in all (the sampler's direct path, no table) */
static void batch_sample_draws_the_reference_stream_with_large_supports(void **state) {
  (void)state;
  ss_err e;
  ss_classes cl;
  ss_config c = knobs(4, 3, 2, 2, 100, NULL);
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  assert_true(cl.supp_off[cl.N] > 512);
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, 16, 50, &e), SS_OK);
  reference_stream(&cl, &b);
  ss_batch_free(&b);
  ss_classes_free(&cl);
}

/* the same for supports of 1 to 40 slots (the AVX-512 sampler takes classes of up to 32, in
 * blocks of 16 tokens, the rest by the table) and sequence lengths around the block size, with
 * coins at the edges: slots that never keep their own token (p = 0), always do (p = 1), and
 * thresholds one step either side of a 32-bit boundary */
static void batch_sample_draws_the_reference_stream_for_every_support_size(void **state) {
  (void)state;
  static const int Ts[] = {2, 16, 17, 18, 33, 128};
  int tables = 0;
  for (int D = 0; D <= 36; D += 3)
    for (int C = 1; C <= 4; C += 3) {
      ss_err e;
      ss_classes cl;
      ss_config c = knobs(C, 2, 2, 0, D, NULL);
      assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
      for (int j = 0; j < cl.supp_off[cl.N]; j++) {
        if (j % 7 == 1) cl.alias_p[j] = 0;
        if (j % 7 == 2) cl.alias_p[j] = 1;
        if (j % 7 == 3) cl.alias_p[j] = nextafter(0.5, 0);
        if (j % 7 == 4) cl.alias_p[j] = 0x1.0p-32;
      }
      for (size_t t = 0; t < sizeof Ts / sizeof Ts[0]; t++) {
        ss_batch b;
        assert_int_equal(ss_batch_alloc(&b, 9, Ts[t], &e), SS_OK);
        reference_stream(&cl, &b);
        ss_batch_free(&b);
      }
      tables++;
      ss_classes_free(&cl);
    }
  print_message("%d class tables x %zu lengths drawn as the reference (this CPU %s AVX-512F)\n", tables, sizeof Ts / sizeof Ts[0],
                __builtin_cpu_supports("avx512f") ? "has" : "lacks");
}

static void sampled_frequencies_match_class_distribution(void **state) {
  (void)state;
  ss_err e;
  ss_classes cl;
  ss_config c = knobs(4, 3, 2, 2, 6, NULL);
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  const int B = 64, T = 40, nb = 150;
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, B, T, &e), SS_OK);
  ss_rng r;
  ss_rng_seed(&r, 2023);
  long *cnt = calloc((size_t)cl.N * cl.M, sizeof(long));
  long *ncls = calloc((size_t)cl.N, sizeof(long));
  for (int k = 0; k < nb; k++) {
    ss_batch_sample(&cl, &r, &b);
    for (int i = 0; i < B; i++) {
      int n = b.cls[i];
      ncls[n]++;
      assert_int_equal(b.x[i * T + T - 1], cl.query[n]);
      assert_int_equal(b.label[i], cl.next[n]);
      for (int t = 0; t < T - 1; t++) cnt[(size_t)n * cl.M + b.x[i * T + t]]++;
    }
  }
  /* classes uniform */
  double chi = 0, E = (double)B * nb / cl.N;
  for (int n = 0; n < cl.N; n++) chi += (ncls[n] - E) * (ncls[n] - E) / E;
  print_message("class chi2 %.2f (crit %.2f)\n", chi, chi2_crit(cl.N - 1));
  assert_true(chi < chi2_crit(cl.N - 1));
  /* tokens ~ P(.|n); nothing outside the support */
  chi = 0;
  int df = 0;
  for (int n = 0; n < cl.N; n++) {
    long tot = ncls[n] * (T - 1);
    for (int l = 0; l < cl.M; l++) {
      double p = cl.prob[(size_t)n * cl.M + l], o = (double)cnt[(size_t)n * cl.M + l];
      if (p == 0) {
        assert_true(o == 0);
        continue;
      }
      double ex = p * tot;
      chi += (o - ex) * (o - ex) / ex;
      df++;
    }
    df--;
  }
  print_message("token chi2 %.2f with %d df (crit %.2f)\n", chi, df, chi2_crit(df));
  assert_true(chi < chi2_crit(df));
  /* and it is a real test: against a wrong distribution (uniform over the support) it fails */
  double chi_wrong = 0;
  for (int n = 0; n < cl.N; n++) {
    long tot = ncls[n] * (T - 1);
    int ns = cl.supp_off[n + 1] - cl.supp_off[n];
    for (int l = 0; l < cl.M; l++)
      if (cl.prob[(size_t)n * cl.M + l] > 0) {
        double ex = (double)tot / ns, o = (double)cnt[(size_t)n * cl.M + l];
        chi_wrong += (o - ex) * (o - ex) / ex;
      }
  }
  assert_true(chi_wrong > chi2_crit(df));
  /* same seed, same batches */
  ss_batch b2;
  assert_int_equal(ss_batch_alloc(&b2, B, T, &e), SS_OK);
  ss_rng r1, r2;
  ss_rng_seed(&r1, 5);
  ss_rng_seed(&r2, 5);
  ss_batch_sample(&cl, &r1, &b);
  ss_batch_sample(&cl, &r2, &b2);
  assert_memory_equal(b.x, b2.x, sizeof(int) * B * T);
  reference_stream(&cl, &b);
  ss_batch_free(&b2);
  free(cnt);
  free(ncls);
  ss_batch_free(&b);
  ss_classes_free(&cl);
}

/* .npy v1.0 of a C-order [rows, cols] little-endian int array. */
static char *write_npy(const char *dir, const char *name, int esize, int rows, int cols, const long long *v) {
  char *p = ss_path_join(dir, name);
  char hdr[128];
  int hl = snprintf(hdr, sizeof hdr, "{'descr': '<i%d', 'fortran_order': False, 'shape': (%d, %d), }", esize, rows, cols);
  while ((10 + hl + 1) % 64) hdr[hl++] = ' ';
  hdr[hl++] = '\n';
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hl & 255, f);
  fputc(hl >> 8, f);
  fwrite(hdr, 1, (size_t)hl, f);
  for (int i = 0; i < rows * cols; i++)
    for (int k = 0; k < esize; k++) fputc((int)(((unsigned long long)v[i] >> (8 * k)) & 255), f);
  fclose(f);
  return p;
}

static void sequence_files_read_back_exactly(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("gen-seq");
  ss_err e;
  ss_classes cl;
  ss_config c = knobs(10, 2, 1, 0, 10, NULL); /* M = 34, queries 30, 31, labels 32, 33 */
  assert_int_equal(ss_classes_generate(&c, &cl, &e), SS_OK);
  const long long rows[3][5] = {{0, 10, 11, 30, 32}, {20, 21, 1, 31, 33}, {5, 5, 5, 30, 33}};
  char *p = ss_test_write_file(dir, "seq.txt", "# comment line\n0 10 11 30 32\n\n20\t21 1 31 33\r\n5 5 5 30 33\n");
  ss_seqfile s;
  assert_int_equal(ss_seqfile_load(p, cl.M, &s, &e), SS_OK);
  assert_int_equal(s.rows, 3);
  assert_int_equal(s.T, 4);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 5; j++) assert_int_equal(s.data[i * 5 + j], rows[i][j]);
  /* batches of 2 consume rows in order and wrap */
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, 2, 4, &e), SS_OK);
  ss_seqfile_next(&s, &cl, &b);
  ss_seqfile_next(&s, &cl, &b);
  assert_int_equal(b.x[0], 5);
  assert_int_equal(b.label[0], 33);
  assert_int_equal(b.cls[0], -1); /* query 30 with label 33 is no class */
  assert_int_equal(b.x[4], 0);
  assert_int_equal(b.cls[1], 0);
  ss_batch_free(&b);
  ss_seqfile_free(&s);
  free(p);
  long long flat[15];
  for (int i = 0; i < 15; i++) flat[i] = rows[i / 5][i % 5];
  for (int es = 4; es <= 8; es += 4) {
    p = write_npy(dir, es == 4 ? "seq4.npy" : "seq8.npy", es, 3, 5, flat);
    assert_int_equal(ss_seqfile_load(p, cl.M, &s, &e), SS_OK);
    assert_int_equal(s.rows, 3);
    assert_int_equal(s.T, 4);
    for (int i = 0; i < 15; i++) assert_int_equal(s.data[i], flat[i]);
    ss_seqfile_free(&s);
    free(p);
  }
  ss_classes_free(&cl);
  free(dir);
}

static void expect_bad_seq(const char *dir, const char *name, const char *text, const char *what) {
  char *p = ss_test_write_file(dir, name, text);
  ss_seqfile s;
  ss_err e = {0};
  assert_int_equal(ss_seqfile_load(p, 34, &s, &e), SS_EINPUT);
  if (!strstr(e.msg, p)) fail_msg("message does not name the file: %s", e.msg);
  if (!strstr(e.msg, what)) fail_msg("message lacks '%s': %s", what, e.msg);
  free(p);
}

static void bad_sequence_files_are_errors_with_line_numbers(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("gen-badseq");
  expect_bad_seq(dir, "id.txt", "0 1 30 32\n0 34 30 32\n", "line 2");
  expect_bad_seq(dir, "neg.txt", "0 1 30 32\n\n0 1 -1 32\n", "line 3");
  expect_bad_seq(dir, "ragged.txt", "0 1 30 32\n0 1 2 30 32\n", "line 2");
  expect_bad_seq(dir, "text.txt", "0 1 30 32\n0 x7 30 32\n", "line 2: 'x7' is not");
  expect_bad_seq(dir, "short.txt", "30 32\n", "line 1");
  expect_bad_seq(dir, "empty.txt", "", "no sequences");
  expect_bad_seq(dir, "blank.txt", "\n# only a comment\n\n", "no sequences");
  long long v[8] = {0, 1, 30, 32, 0, 99, 30, 32};
  char *p = write_npy(dir, "bad.npy", 8, 2, 4, v);
  ss_seqfile s;
  ss_err e;
  assert_int_equal(ss_seqfile_load(p, 34, &s, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "row 2"));
  assert_non_null(strstr(e.msg, p));
  free(p);
  /* a truncated .npy: header says 2x4 int64, data has 1 row */
  p = write_npy(dir, "trunc.npy", 8, 2, 4, v);
  FILE *f = fopen(p, "r+b");
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fclose(f);
  assert_int_equal(truncate(p, sz - 32), 0);
  assert_int_equal(ss_seqfile_load(p, 34, &s, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "truncated"));
  free(p);
  char *missing = ss_path_join(dir, "nope.txt");
  assert_int_equal(ss_seqfile_load(missing, 34, &s, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, missing));
  free(missing);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(layout_and_M_follow_spec_for_several_knobs),
      cmocka_unit_test(per_query_common_tokens_are_common_only_with_several_next_tokens),
      cmocka_unit_test(zipf_weights_are_max_over_rank_power),
      cmocka_unit_test(class_table_json_roundtrip_and_user_table),
      cmocka_unit_test(bad_class_tables_are_input_errors_naming_the_file),
      cmocka_unit_test(sampled_frequencies_match_class_distribution),
      cmocka_unit_test(batch_sample_draws_the_reference_stream_with_large_supports),
      cmocka_unit_test(batch_sample_draws_the_reference_stream_for_every_support_size),
      cmocka_unit_test(sequence_files_read_back_exactly),
      cmocka_unit_test(bad_sequence_files_are_errors_with_line_numbers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
