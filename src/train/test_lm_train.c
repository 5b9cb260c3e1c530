/* The language-model run on a tiny generated corpus: loss falls, the files are there and
 * consistent, results do not depend on the thread count, the bad inputs are one-line
 * SS_EINPUT errors. Skipped only when the build has no transformer ("not implemented"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/text.h"
#include "scansnap/train.h"
#include "scansnap/transformer.h"
#include "ss_test.h"

/* " The <adj> <noun> <verb> the <adj> <noun> . " lines: a grammar a 1-layer LM learns fast. */
static char *make_corpus(const char *tag) {
  static const char *adj[] = {"big", "small", "red", "old"}, *noun[] = {"cat", "dog", "bird", "fish", "man", "woman", "child", "king"},
                    *verb[] = {"sees", "eats", "likes", "finds"};
  char *d = ss_test_tmpdir(tag);
  ss_rng r;
  ss_rng_seed(&r, 3);
  const char *names[3] = {"wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"};
  const int lines[3] = {400, 60, 60};
  for (int s = 0; s < 3; s++) {
    char *p = ss_path_join(d, names[s]);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < lines[s]; i++)
      fprintf(f, " The %s %s %s the %s %s . \n", adj[ss_rng_below(&r, 4)], noun[ss_rng_below(&r, 8)], verb[ss_rng_below(&r, 4)],
              adj[ss_rng_below(&r, 4)], noun[ss_rng_below(&r, 8)]);
    fclose(f);
    free(p);
  }
  return d;
}

static void tiny_config(ss_config *c, const char *data, const char *out) {
  ss_config_defaults(c);
  ss_err e;
  const char *kv[] = {"model.type=transformer", "model.task=lm", "model.d=16", "model.H=2", "data.T=8", "batchsize=4", "opt.method=sgd",
                      "opt.momentum=0", "opt.lr_y=2", "opt.lr_z=2", "opt.clip=0.5", "opt.lr_decay=0.9", "text.epochs=2",
                      "text.top_k=5", "save_per_minibatch=20", "model.use_ffn=true", "model.ffn_hidden=16", "model.use_ln=true",
                      "model.use_residue=true", "model.pos=sinusoidal", "model.dropout=0.1", "text.probe_steps=0,50", "threads=1", "niter=100000"};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) assert_int_equal(ss_config_override(c, kv[i], &e), SS_OK);
  assert_int_equal(ss_config_set(c, "data.path", data, &e), SS_OK);
  assert_int_equal(ss_config_set(c, "out", out, &e), SS_OK);
}

/* Runs; skips the test when the build has no transformer. */
static int run_or_skip(const ss_config *c, const char *dir, ss_lm_summary *s, ss_err *e) {
  int rc = ss_lm_train(c, dir, s, e);
  if (rc && strstr(e->msg, "not implemented")) skip();
  return rc;
}

static void lm_on_tiny_corpus_lowers_loss_and_writes_figure7_files(void **state) {
  (void)state;
  char *data = make_corpus("lmdata");
  char *dir = ss_test_tmpdir("lmrun");
  ss_config c;
  tiny_config(&c, data, dir);
  ss_lm_summary s;
  ss_err e = {0};
  assert_int_equal(run_or_skip(&c, dir, &s, &e), SS_OK);
  print_message("tiny LM: V=%d steps=%lld valid loss %.4f -> %.4f, attn entropy %.4f -> %.4f\n", s.V, s.steps, s.first_valid_loss,
                s.final_valid_loss, s.attn_entropy_first, s.attn_entropy_last);
  assert_int_equal(s.epochs, 2);
  assert_true(s.first_valid_loss > log(s.V) - 0.5);    /* starts near uniform over the vocabulary */
  assert_true(s.final_valid_loss < s.first_valid_loss - 1.0); /* and learns the grammar */
  assert_true(isfinite(s.attn_entropy_last) && s.attn_entropy_last > 0);
  const char *files[] = {"metrics.csv", "metrics.jsonl", "attention.safetensors",
                         "checkpoint.safetensors", "run.json", "config.yaml"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char *p = ss_path_join(dir, files[i]);
    assert_true(ss_file_exists(p));
    free(p);
  }
  char *p = ss_path_join(dir, "metrics.csv"), *csv;
  size_t n;
  assert_int_equal(ss_read_file(p, &csv, &n, &e), SS_OK);
  free(p);
  assert_non_null(strstr(csv, ",attn_entropy,"));
  assert_non_null(strstr(csv, ",valid_ppl,"));
  /* epoch 1 rows run at lr x 0.9 */
  assert_non_null(strstr(csv, ",1,0.90000000000000002,"));
  free(csv);
  /* maps at steps 0 and 50 and at the last step (224): causal rows that sum to 1, and they changed */
  ss_stfile f;
  p = ss_path_join(dir, "attention.safetensors");
  assert_int_equal(ss_safetensors_read(p, &f, &e), SS_OK);
  free(p);
  const ss_tensor *a = ss_st_get(&f, "attention"), *st = ss_st_get(&f, "steps");
  assert_non_null(a);
  assert_int_equal(a->shape[0], 3);
  assert_int_equal(a->shape[1], 2);
  assert_int_equal(a->shape[2], 8);
  assert_int_equal(((int64_t *)st->data)[1], 50);
  assert_int_equal(((int64_t *)st->data)[2], s.steps);
  const float *w = a->data;
  double diff = 0;
  for (int sh = 0; sh < 2 * 2 * 8; sh++) {
    double sum = 0;
    for (int j = 0; j < 8; j++) {
      if (j > sh % 8) assert_true(w[sh * 8 + j] == 0.0f);
      sum += w[sh * 8 + j];
    }
    assert_true(fabs(sum - 1) < 1e-4);
  }
  for (int i = 0; i < 2 * 8 * 8; i++) diff += fabs(w[i] - w[2 * 8 * 8 + i]);
  assert_true(diff > 1e-3);
  assert_non_null(strstr(ss_st_meta(&f, "words"), "\"the\""));
  ss_st_free(&f);
  free(dir);
  free(data);
}

static void lm_run_is_identical_whatever_the_thread_count(void **state) {
  (void)state;
  char *data = make_corpus("lmdet");
  char *d1 = ss_test_tmpdir("lmdet1"), *d2 = ss_test_tmpdir("lmdet2");
  ss_config c;
  ss_lm_summary s;
  ss_err e = {0};
  tiny_config(&c, data, d1);
  assert_int_equal(run_or_skip(&c, d1, &s, &e), SS_OK);
  tiny_config(&c, data, d2);
  assert_int_equal(ss_config_override(&c, "threads=2", &e), SS_OK);
  assert_int_equal(run_or_skip(&c, d2, &s, &e), SS_OK);
  const char *files[] = {"metrics.csv", "attention.safetensors", "checkpoint.safetensors"};
  for (int i = 0; i < 3; i++) {
    char *p1 = ss_path_join(d1, files[i]), *p2 = ss_path_join(d2, files[i]), *b1, *b2;
    size_t n1, n2;
    assert_int_equal(ss_read_file(p1, &b1, &n1, &e), SS_OK);
    assert_int_equal(ss_read_file(p2, &b2, &n2, &e), SS_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1), free(b2), free(p1), free(p2);
  }
  free(d1), free(d2), free(data);
}

/* niter is the number of optimizer updates for language-model runs too: a cap inside an
 * epoch ends the run there, with a validation in its final row. */
static void niter_bounds_a_language_model_run(void **state) {
  (void)state;
  char *data = make_corpus("lmniter");
  char *dir = ss_test_tmpdir("lmniterrun");
  ss_config c;
  tiny_config(&c, data, dir);
  ss_err e = {0};
  assert_int_equal(ss_config_override(&c, "niter=40", &e), SS_OK);
  ss_lm_summary s;
  assert_int_equal(run_or_skip(&c, dir, &s, &e), SS_OK);
  assert_int_equal(s.steps, 40);
  assert_int_equal(s.epochs, 0); /* an epoch has 112 updates: the cap came first */
  assert_true(isfinite(s.final_valid_loss) && s.final_valid_loss < s.first_valid_loss);
  /* probe step 50 lies past the end: the note says so, and the maps of the last step (40)
   * are kept besides step 0's */
  assert_non_null(strstr(s.note, "text.probe_steps 50 lie past the run's last step 40"));
  char *ap = ss_path_join(dir, "attention.safetensors");
  ss_stfile st;
  assert_int_equal(ss_safetensors_read(ap, &st, &e), SS_OK);
  const ss_tensor *steps = ss_st_get(&st, "steps"), *att = ss_st_get(&st, "attention");
  assert_non_null(steps);
  assert_non_null(att);
  assert_int_equal(ss_tensor_numel(steps), 2);
  assert_int_equal(((int64_t *)steps->data)[0], 0);
  assert_int_equal(((int64_t *)steps->data)[1], 40);
  assert_int_equal(att->shape[0], 2);
  ss_st_free(&st);
  free(ap);
  char *p = ss_path_join(dir, "metrics.csv"), *buf;
  size_t n;
  assert_int_equal(ss_read_file(p, &buf, &n, &e), SS_OK);
  /* the last row is step 40 and carries the final validation (column valid_loss, not nan) */
  char *last = buf + n - 1;
  while (last > buf && last[-1] != '\n') last--;
  assert_int_equal(strncmp(last, "40,", 3), 0);
  int col = -1, k = 0;
  for (char *h = buf; *h && *h != '\n'; h++, k += 0) {
    if (!strncmp(h, "valid_loss,", 11) && (h == buf || h[-1] == ',')) col = k;
    if (*h == ',') k++;
  }
  assert_true(col > 0);
  char *f = last;
  for (int i = 0; i < col; i++) f = strchr(f, ',') + 1;
  double v = strtod(f, NULL);
  assert_true(isfinite(v) && fabs(v - s.final_valid_loss) < 1e-12);
  free(buf);
  free(p);
  free(dir);
  free(data);
}

static void lm_bad_configurations_are_one_line_input_errors(void **state) {
  (void)state;
  char *data = make_corpus("lmbad");
  char *dir = ss_test_tmpdir("lmbadrun");
  ss_config c;
  ss_lm_summary s;
  ss_err e = {0};
  struct {
    const char *kv, *want;
  } bad[] = {
      {"text.top_k=5000", "text.top_k"},       /* vocabulary too small for the configuration */
      {"data.min_freq=100000", "data.min_freq"}, /* nothing left but <unk> and <eos> */
      {"batchsize=2000", "too few"},           /* split too short for the streams */
      {"model.H=3", "do not divide"},          /* heads not dividing d */
      {"text.probe_steps=0,x", "text.probe_steps"},
      {"resume=/tmp/x", "resume"},             /* resuming a directory that holds no run */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tiny_config(&c, data, dir);
    assert_int_equal(ss_config_override(&c, bad[i].kv, &e), SS_OK);
    int rc = run_or_skip(&c, dir, &s, &e);
    assert_int_equal(rc, SS_EINPUT);
    assert_non_null(strstr(e.msg, bad[i].want));
    assert_null(strchr(e.msg, '\n'));
    char *rj = ss_path_join(dir, "run.json");
    assert_false(ss_file_exists(rj)); /* refused before the run directory was used */
    free(rj);
  }
  /* a sequence longer than the positional table */
  tiny_config(&c, data, dir);
  ss_model *m = NULL;
  int rc = ss_tf_new(&c, 20, 8, &m, &e);
  if (rc && strstr(e.msg, "not implemented")) skip();
  assert_int_equal(rc, SS_OK);
  int x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float att[2 * 9 * 9];
  assert_int_equal(ss_tf_attention(m, x, 9, att, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "positional table"));
  ss_model_free(m);
  free(dir);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lm_on_tiny_corpus_lowers_loss_and_writes_figure7_files),
      cmocka_unit_test(lm_run_is_identical_whatever_the_thread_count),
      cmocka_unit_test(niter_bounds_a_language_model_run),
      cmocka_unit_test(lm_bad_configurations_are_one_line_input_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
