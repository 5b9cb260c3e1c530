/* Parity with PyTorch: the same weights (exchanged through safetensors), the same batch;
 * loss, logits, attention weights and every parameter gradient agree within 1e-4 relative
 * (max |ours - torch| <= 1e-4 * max |torch|, per tensor, with max |torch| floored at 1e-3
 * of the largest gradient entry). Two cases: the LM task through
 * nn.TransformerEncoderLayer (every switch on: W_O, biases, residual, post-LN, FFN, causal
 * mask, learned positions, untied decoder) and the paper's synthetic block (no biases,
 * residual, tied decoder on the last position). The PyTorch side is tests/tf_torch_parity.py
 * run with /usr/bin/python3 (Debian's torch); a missing torch is a failure, not a skip,
 * unless SS_SKIP_TORCH=1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/io.h"
#include "scansnap/model.h"
#include "scansnap/transformer.h"
#include "ss_test.h"
#include "transformer/tf_internal.h"

/* floor: denominators are at least this (1e-3 of the largest gradient entry), so a
 * gradient that is zero in exact arithmetic (the key bias: it shifts every score of a row
 * by the same amount) compares float noise with float noise on the scale of the others */
static double g_floor = 0;

static double compare(const char *name, const float *ours, const ss_tensor *ref, int64_t n) {
  assert_non_null(ref);
  assert_int_equal(ss_tensor_numel(ref), n);
  const float *r = ref->data;
  double md = 0, mr = 0;
  for (int64_t i = 0; i < n; i++) {
    double dd = fabs((double)ours[i] - r[i]);
    if (dd > md) md = dd;
    if (fabs(r[i]) > mr) mr = fabs(r[i]);
  }
  double rel = md / fmax(mr, fmax(g_floor, 1e-30));
  printf("  %-22s max|diff| %.3e  max|torch| %.3e  rel %.2e  %s\n", name, md, mr, rel, rel <= 1e-4 ? "OK" : "NOT OK");
  return rel;
}

static void parity_case(const char *const *kv, const char *case_name, int lm) {
  if (getenv("SS_SKIP_TORCH")) skip();
  const int M = 37, T = 7, B = 3;
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  for (int i = 0; kv[i]; i += 2)
    if (ss_config_set(&c, kv[i], kv[i + 1], &e)) fail_msg("%s", e.msg);
  c.model.type = SS_MODEL_TRANSFORMER;
  ss_model *m = NULL;
  if (ss_tf_new(&c, M, T, &m, &e)) fail_msg("%s", e.msg);
  ss_tf_set_training(m, 0);
  /* non-trivial weights everywhere (LN gains and zero-initialised biases included) */
  ss_rng r;
  ss_rng_seed(&r, 42);
  float *P = m->params;
  for (size_t i = 0; i < m->nparams; i++) P[i] = (float)(0.6 * (2 * ss_rng_uniform(&r) - 1));
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, B, T, &e), 0);
  int *y = malloc(sizeof(int) * B * T);
  for (int i = 0; i < B * T; i++) {
    b.x[i] = (int)ss_rng_below(&r, M);
    y[i] = (int)ss_rng_below(&r, M);
  }
  for (int i = 0; i < B; i++) b.label[i] = (int)ss_rng_below(&r, M);
  b.y = lm ? y : NULL;

  char *dir = ss_test_tmpdir(case_name);
  char in[4200], out[4200], cmd[9000];
  snprintf(in, sizeof in, "%s/in.safetensors", dir);
  snprintf(out, sizeof out, "%s/torch.safetensors", dir);
  ss_tensor t[SS_MAX_TENSORS + 3];
  int n = 0;
  for (int i = 0; i < m->ntensors; i++)
    if (strncmp(m->tensors[i].name, "state.", 6)) t[n++] = m->tensors[i];
  t[n++] = (ss_tensor){"x", SS_I32, 2, {B, T}, b.x};
  t[n++] = (ss_tensor){"y", SS_I32, 2, {B, T}, y};
  t[n++] = (ss_tensor){"label", SS_I32, 1, {B}, b.label};
  char cj[256];
  snprintf(cj, sizeof cj, "{\"case\": \"%s\", \"d\": %d, \"H\": %d, \"F\": %d, \"gate\": \"%s\"}", case_name, c.model.d,
           c.model.H, c.model.ffn_hidden, c.model.gate == SS_GATE_SILU ? "silu" : "relu");
  const char *meta[] = {"config", cj, NULL};
  assert_int_equal(ss_safetensors_write(in, t, n, meta, &e), 0);
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/tf_torch_parity.py' '%s' '%s'", ss_test_srcdir(), in, out);
  char *log = NULL;
  int rc = ss_test_sh(&log, "%s", cmd);
  if (rc != 0) fail_msg("PyTorch side failed (%d): %s", rc, log ? log : "");
  free(log);

  double loss_eval, loss, acc;
  assert_int_equal(m->ops->eval(m, &b, &loss_eval, &acc, &e), 0);
  const int rows = lm ? B * T : B;
  float *logits = malloc(sizeof(float) * rows * M), *att = malloc(sizeof(float) * B * c.model.H * T * T);
  memcpy(logits, ss_tfi_buffer(m, "logits", 0), sizeof(float) * rows * M);
  memcpy(att, ss_tfi_buffer(m, "att", 0), sizeof(float) * B * c.model.H * T * T);
  assert_int_equal(m->ops->step(m, &b, &loss, &acc, &e), 0);
  assert_true(loss == loss_eval);

  ss_stfile ref;
  if (ss_safetensors_read(out, &ref, &e)) fail_msg("%s", e.msg);
  printf("case %s:\n", case_name);
  g_floor = 0;
  for (int i = 0; i < ref.n; i++)
    if (!strncmp(ref.t[i].name, "grad.", 5))
      for (int64_t j = 0; j < ss_tensor_numel(&ref.t[i]); j++) g_floor = fmax(g_floor, 1e-3 * fabs(((float *)ref.t[i].data)[j]));
  double worst = 0, rel;
  float lf = (float)loss;
  worst = fmax(worst, compare("loss", &lf, ss_st_get(&ref, "loss"), 1));
  worst = fmax(worst, compare("logits", logits, ss_st_get(&ref, "logits"), (int64_t)rows * M));
  worst = fmax(worst, compare("attention", att, ss_st_get(&ref, "att"), (int64_t)B * c.model.H * T * T));
  for (int i = 0; i < m->ntensors; i++) {
    if (!strncmp(m->tensors[i].name, "state.", 6)) continue; /* the dropout step counter */
    char nm[96];
    snprintf(nm, sizeof nm, "grad.%s", m->tensors[i].name);
    size_t off = (size_t)((float *)m->tensors[i].data - (float *)m->params);
    rel = compare(nm, (float *)m->grads + off, ss_st_get(&ref, nm), ss_tensor_numel(&m->tensors[i]));
    worst = fmax(worst, rel);
  }
  assert_true(worst <= 1e-4);
  ss_st_free(&ref);
  free(logits);
  free(att);
  free(y);
  b.y = NULL;
  ss_batch_free(&b);
  ss_model_free(m);
  free(dir);
}

static void test_lm_encoder_layer_matches_pytorch(void **state) {
  (void)state;
  const char *kv[] = {"model.task", "lm", "model.d", "16", "model.H", "2", "model.use_Wo", "true", "model.attn_bias", "true",
                      "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true", "model.ffn_hidden", "24",
                      "model.gate", "relu", "model.pos", "learned", NULL};
  parity_case(kv, "encoder", 1);
}

static void test_paper_synthetic_block_matches_pytorch(void **state) {
  (void)state;
  const char *kv[] = {"model.d", "16", "model.H", "2", "model.use_residue", "true", NULL};
  parity_case(kv, "paper", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lm_encoder_layer_matches_pytorch),
      cmocka_unit_test(test_paper_synthetic_block_matches_pytorch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
