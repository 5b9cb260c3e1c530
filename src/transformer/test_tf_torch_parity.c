/* Parity with PyTorch: the same weights (exchanged through safetensors), the same batches.
 *
 * Gradient cases: loss, logits, every layer's attention weights and every parameter
 * gradient agree within 1e-4 relative (max |ours - torch| <= 1e-4 * max |torch|, per
 * tensor, with max |torch| floored at 1e-3 of the largest gradient entry). Cases: the LM
 * through nn.TransformerEncoder of 1, 2 and 3 nn.TransformerEncoderLayer (every switch on:
 * W_O, biases, residual, post-LN, FFN, causal mask, learned positions, untied decoder) and
 * the paper's synthetic block (no biases, residual, tied decoder on the last position),
 * 1 and 3 of them stacked.
 *
 * Optimizer case (JoMA's settings): a 2-layer LM with sinusoidal positions trained 4 steps
 * with Adam at lr 1e-4 after clipping the gradient norm to 0.5 (ss_clip_grad_norm then
 * ss_optim_step; torch.nn.utils.clip_grad_norm_ then torch.optim.Adam): the loss and the
 * norm before clipping of every step agree within 1e-4 relative, and every parameter's
 * total change within 1e-3 (max |dours - dtorch| <= 1e-3 max |dtorch| per tensor: a float32
 * parameter in [0.5, 1) is rounded to 6e-8, 1.5e-4 of the ~4e-4 changes). The key bias is the
 * exception: its gradient is zero in exact arithmetic (it shifts a whole row of scores), so
 * Adam's normalised step there is the sign of float noise on either side; both sides must
 * keep it within lr per step.
 *
 * The PyTorch side is tests/tf_torch_parity.py, run once for every case with
 * /usr/bin/python3 (Debian's torch); a missing torch is a failure, not a skip, unless
 * SS_SKIP_TORCH=1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/io.h"
#include "scansnap/model.h"
#include "scansnap/optim.h"
#include "scansnap/transformer.h"
#include "ss_test.h"
#include "transformer/tf_internal.h"

enum { M = 37, T = 7, B = 3, MAXSTEPS = 4 };
#define ADAM_LR 1e-4
#define CLIP 0.5

typedef struct {
  const char *name, *torch_case;
  const char *const *kv;
  int lm, steps;
  ss_config c;
  ss_model *m;
  int x[MAXSTEPS][B * T], y[MAXSTEPS][B * T], label[MAXSTEPS][B];
  char in[4200], out[4200];
} pcase;

#define ENCODER_KV                                                                                                     \
  "model.task", "lm", "model.d", "16", "model.H", "2", "model.use_Wo", "true", "model.attn_bias", "true",            \
      "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true", "model.ffn_hidden", "24", "model.gate", \
      "relu"
static const char *const kv_enc1[] = {ENCODER_KV, "model.pos", "learned", NULL};
static const char *const kv_enc2[] = {ENCODER_KV, "model.pos", "learned", "model.nlayers", "2", NULL};
static const char *const kv_enc3[] = {ENCODER_KV, "model.pos", "learned", "model.nlayers", "3", NULL};
static const char *const kv_adam[] = {ENCODER_KV, "model.pos", "sinusoidal", "model.nlayers", "2", "opt.method", "adam",
                                      "opt.lr", "1e-4", "opt.clip", "0.5", NULL};
static const char *const kv_paper1[] = {"model.d", "16", "model.H", "2", "model.use_residue", "true", NULL};
static const char *const kv_paper3[] = {"model.d", "16", "model.H", "2", "model.use_residue", "true", "model.nlayers", "3", NULL};

static pcase cases[] = {
  {.name = "encoder", .torch_case = "encoder", .kv = kv_enc1, .lm = 1, .steps = 0},
  {.name = "encoder2", .torch_case = "encoder", .kv = kv_enc2, .lm = 1, .steps = 0},
  {.name = "encoder3", .torch_case = "encoder", .kv = kv_enc3, .lm = 1, .steps = 0},
  {.name = "paper", .torch_case = "paper", .kv = kv_paper1, .lm = 0, .steps = 0},
  {.name = "paper3", .torch_case = "paper", .kv = kv_paper3, .lm = 0, .steps = 0},
  {.name = "adam", .torch_case = "encoder", .kv = kv_adam, .lm = 1, .steps = MAXSTEPS},
};
enum { NCASES = sizeof cases / sizeof cases[0] };
static char *tmpdir;

/* floor: denominators are at least this (1e-3 of the largest gradient entry), so a
 * gradient that is zero in exact arithmetic (the key bias: it shifts every score of a row
 * by the same amount) compares float noise with float noise on the scale of the others */
static double g_floor = 0;

static double compare(const char *name, const float *ours, const ss_tensor *ref, int64_t n, double tol) {
  if (!ref) fail_msg("PyTorch output has no tensor for %s", name);
  assert_int_equal(ss_tensor_numel(ref), n);
  const float *r = ref->data;
  double md = 0, mr = 0;
  for (int64_t i = 0; i < n; i++) {
    double dd = fabs((double)ours[i] - r[i]);
    if (dd > md) md = dd;
    if (fabs(r[i]) > mr) mr = fabs(r[i]);
  }
  double rel = md / fmax(mr, fmax(g_floor, 1e-30));
  printf("  %-26s max|diff| %.3e  max|torch| %.3e  rel %.2e  %s\n", name, md, mr, rel, rel <= tol ? "OK" : "NOT OK");
  return rel;
}

static int is_state(const ss_tensor *t) { return !strncmp(t->name, "state.", 6); }
static size_t offset_of(const ss_model *m, const ss_tensor *t) { return (size_t)((float *)t->data - (float *)m->params); }

/* Builds every case's model (random weights everywhere, LN gains and zero-initialised
 * biases included) and batches, writes their inputs, runs the PyTorch side once. */
static int setup(void **state) {
  (void)state;
  if (getenv("SS_SKIP_TORCH")) return 0;
  tmpdir = ss_test_tmpdir("tf_torch_parity");
  char cmd[64000];
  int len = snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/tf_torch_parity.py'", ss_test_srcdir());
  for (int ci = 0; ci < NCASES; ci++) {
    pcase *pc = &cases[ci];
    ss_err e;
    ss_config_defaults(&pc->c);
    for (int i = 0; pc->kv[i]; i += 2)
      if (ss_config_set(&pc->c, pc->kv[i], pc->kv[i + 1], &e)) fail_msg("%s", e.msg);
    pc->c.model.type = SS_MODEL_TRANSFORMER;
    if (ss_tf_new(&pc->c, M, T, &pc->m, &e)) fail_msg("%s", e.msg);
    ss_tf_set_training(pc->m, 0);
    ss_rng r;
    ss_rng_seed(&r, 42 + (uint64_t)ci);
    float *P = pc->m->params;
    for (size_t i = 0; i < pc->m->nparams; i++) P[i] = (float)(0.6 * (2 * ss_rng_uniform(&r) - 1));
    const int S = pc->steps ? pc->steps : 1;
    for (int s = 0; s < S; s++) {
      for (int i = 0; i < B * T; i++) {
        pc->x[s][i] = (int)ss_rng_below(&r, M);
        pc->y[s][i] = (int)ss_rng_below(&r, M);
      }
      for (int i = 0; i < B; i++) pc->label[s][i] = (int)ss_rng_below(&r, M);
    }
    snprintf(pc->in, sizeof pc->in, "%s/%s.in.safetensors", tmpdir, pc->name);
    snprintf(pc->out, sizeof pc->out, "%s/%s.torch.safetensors", tmpdir, pc->name);
    ss_tensor t[SS_MAX_TENSORS + 3];
    int n = 0;
    for (int i = 0; i < pc->m->ntensors; i++)
      if (!is_state(&pc->m->tensors[i])) t[n++] = pc->m->tensors[i];
    t[n++] = (ss_tensor){"x", SS_I32, 3, {S, B, T}, pc->x};
    t[n++] = (ss_tensor){"y", SS_I32, 3, {S, B, T}, pc->y};
    t[n++] = (ss_tensor){"label", SS_I32, 2, {S, B}, pc->label};
    const ss_config *c = &pc->c;
    char cj[512];
    snprintf(cj, sizeof cj,
             "{\"case\": \"%s\", \"d\": %d, \"H\": %d, \"F\": %d, \"L\": %d, \"gate\": \"%s\", \"pos\": \"%s\", \"steps\": %d, "
             "\"lr\": %.17g, \"clip\": %.17g}",
             pc->torch_case, c->model.d, c->model.H, c->model.ffn_hidden, c->model.nlayers,
             c->model.gate == SS_GATE_SILU ? "silu" : "relu",
             c->model.pos == SS_POS_LEARNED ? "learned" : c->model.pos == SS_POS_SINUSOIDAL ? "sinusoidal" : "none", pc->steps,
             ss_config_lr_z(c), c->opt.clip);
    const char *meta[] = {"config", cj, NULL};
    if (ss_safetensors_write(pc->in, t, n, meta, &e)) fail_msg("%s", e.msg);
    len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s' '%s'", pc->in, pc->out);
  }
  char *log = NULL;
  int rc = ss_test_sh(&log, "%s", cmd);
  if (rc != 0) {
    printf("PyTorch side failed (%d): %s\n", rc, log ? log : "");
    free(log);
    return -1;
  }
  free(log);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int ci = 0; ci < NCASES; ci++) ss_model_free(cases[ci].m);
  free(tmpdir);
  return 0;
}

static void load_batch(pcase *pc, int s, ss_batch *b) {
  memcpy(b->x, pc->x[s], sizeof pc->x[s]);
  memcpy(b->label, pc->label[s], sizeof pc->label[s]);
  b->y = pc->lm ? pc->y[s] : NULL;
}

static void gradient_case(pcase *pc) {
  ss_model *m = pc->m;
  const int H = pc->c.model.H, L = ss_tf_nlayers(m);
  ss_batch b;
  ss_err e;
  assert_int_equal(ss_batch_alloc(&b, B, T, &e), 0);
  load_batch(pc, 0, &b);
  double loss_eval, loss, acc;
  assert_int_equal(m->ops->eval(m, &b, &loss_eval, &acc, &e), 0);
  const int rows = pc->lm ? B * T : B;
  const size_t natt = (size_t)B * H * T * T;
  float *logits = malloc(sizeof(float) * rows * M), *att = malloc(sizeof(float) * L * natt);
  memcpy(logits, ss_tfi_buffer(m, "logits", 0), sizeof(float) * rows * M);
  for (int l = 0; l < L; l++) memcpy(att + l * natt, ss_tfi_buffer(m, "att", l), sizeof(float) * natt);
  assert_null(ss_tfi_buffer(m, "att", L));
  assert_int_equal(m->ops->step(m, &b, &loss, &acc, &e), 0);
  assert_true(loss == loss_eval);

  ss_stfile ref;
  if (ss_safetensors_read(pc->out, &ref, &e)) fail_msg("%s", e.msg);
  printf("case %s (%d layer%s):\n", pc->name, L, L > 1 ? "s" : "");
  g_floor = 0;
  for (int i = 0; i < ref.n; i++)
    if (!strncmp(ref.t[i].name, "grad.", 5))
      for (int64_t j = 0; j < ss_tensor_numel(&ref.t[i]); j++) g_floor = fmax(g_floor, 1e-3 * fabs(((float *)ref.t[i].data)[j]));
  double worst = 0;
  float lf = (float)loss;
  worst = fmax(worst, compare("loss", &lf, ss_st_get(&ref, "loss"), 1, 1e-4));
  worst = fmax(worst, compare("logits", logits, ss_st_get(&ref, "logits"), (int64_t)rows * M, 1e-4));
  worst = fmax(worst, compare("attention (every layer)", att, ss_st_get(&ref, "att"), (int64_t)L * natt, 1e-4));
  int ngrads = 0;
  for (int i = 0; i < m->ntensors; i++) {
    if (is_state(&m->tensors[i])) continue; /* the dropout step counter */
    char nm[96];
    snprintf(nm, sizeof nm, "grad.%s", m->tensors[i].name);
    worst = fmax(worst, compare(nm, (float *)m->grads + offset_of(m, &m->tensors[i]), ss_st_get(&ref, nm),
                                ss_tensor_numel(&m->tensors[i]), 1e-4));
    ngrads++;
  }
  int nref = 0;
  for (int i = 0; i < ref.n; i++) nref += !strncmp(ref.t[i].name, "grad.", 5);
  assert_int_equal(nref, ngrads); /* PyTorch has no parameter we do not */
  assert_true(worst <= 1e-4);
  ss_st_free(&ref);
  free(logits);
  free(att);
  b.y = NULL;
  ss_batch_free(&b);
}

static void adam_case(pcase *pc) {
  ss_model *m = pc->m;
  ss_tf_set_training(m, 1); /* dropout is 0: training mode changes nothing but the counter */
  ss_optim o;
  ss_err e;
  assert_int_equal(ss_optim_init(&o, &pc->c, m, &e), 0);
  assert_int_equal(o.method, SS_OPT_ADAM);
  assert_true(m->groups[0].lr == ADAM_LR && m->groups[1].lr == ADAM_LR && pc->c.opt.clip == CLIP);
  float *p0 = malloc(sizeof(float) * m->nparams);
  memcpy(p0, m->params, sizeof(float) * m->nparams);
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, B, T, &e), 0);
  float loss[MAXSTEPS], norm[MAXSTEPS];
  for (int s = 0; s < pc->steps; s++) {
    load_batch(pc, s, &b);
    double l, acc;
    assert_int_equal(m->ops->step(m, &b, &l, &acc, &e), 0);
    loss[s] = (float)l;
    norm[s] = (float)ss_clip_grad_norm(m, CLIP);
    ss_optim_step(&o, m, 1.0);
  }
  ss_stfile ref;
  if (ss_safetensors_read(pc->out, &ref, &e)) fail_msg("%s", e.msg);
  printf("case %s (Adam lr %g, clip %g, %d steps):\n", pc->name, ADAM_LR, CLIP, pc->steps);
  g_floor = 0;
  int bad = 0;
  bad |= compare("loss per step", loss, ss_st_get(&ref, "loss"), pc->steps, 1e-4) > 1e-4;
  bad |= compare("grad norm per step", norm, ss_st_get(&ref, "gnorm"), pc->steps, 1e-4) > 1e-4;
  for (int s = 0; s < pc->steps; s++) assert_true(norm[s] > 2 * CLIP); /* clipping was at work */
  for (int i = 0; i < m->ntensors; i++) {
    const ss_tensor *t = &m->tensors[i];
    if (is_state(t)) continue;
    char nm[96];
    snprintf(nm, sizeof nm, "final.%s", t->name);
    const ss_tensor *r = ss_st_get(&ref, nm);
    if (!r) fail_msg("PyTorch output has no tensor for %s", nm);
    const int64_t n = ss_tensor_numel(t);
    assert_int_equal(ss_tensor_numel(r), n);
    const size_t off = offset_of(m, t);
    float *dours = malloc(sizeof(float) * n);
    ss_tensor dref = *r;
    float *dtorch = malloc(sizeof(float) * n);
    dref.data = dtorch;
    double maxstep = 0;
    for (int64_t j = 0; j < n; j++) {
      dours[j] = ((float *)m->params)[off + j] - p0[off + j];
      dtorch[j] = ((float *)r->data)[j] - p0[off + j];
      maxstep = fmax(maxstep, fmax(fabs(dours[j]), fabs(dtorch[j])));
    }
    snprintf(nm, sizeof nm, "change of %s", t->name);
    if (strstr(t->name, "attn.bk")) { /* zero gradient in exact arithmetic: noise on both sides */
      printf("  %-26s max|change| %.3e (bound %.1e: lr per step)\n", nm, maxstep, ADAM_LR * pc->steps);
      assert_true(maxstep <= ADAM_LR * pc->steps * 1.001);
    } else {
      bad |= compare(nm, dours, &dref, n, 1e-3) > 1e-3;
    }
    free(dours);
    free(dtorch);
  }
  assert_false(bad);
  ss_st_free(&ref);
  free(p0);
  b.y = NULL;
  ss_batch_free(&b);
  ss_optim_free(&o);
}

static pcase *find(const char *name) {
  for (int ci = 0; ci < NCASES; ci++)
    if (!strcmp(cases[ci].name, name)) return &cases[ci];
  fail_msg("no case %s", name);
  return NULL;
}

#define SKIP_WITHOUT_TORCH \
  if (getenv("SS_SKIP_TORCH")) skip()

static void test_lm_encoder_layer_matches_pytorch(void **state) {
  (void)state;
  SKIP_WITHOUT_TORCH;
  gradient_case(find("encoder"));
}
static void test_lm_encoder_of_2_layers_matches_pytorch(void **state) {
  (void)state;
  SKIP_WITHOUT_TORCH;
  gradient_case(find("encoder2"));
}
static void test_lm_encoder_of_3_layers_matches_pytorch(void **state) {
  (void)state;
  SKIP_WITHOUT_TORCH;
  gradient_case(find("encoder3"));
}
static void test_paper_synthetic_block_matches_pytorch(void **state) {
  (void)state;
  SKIP_WITHOUT_TORCH;
  gradient_case(find("paper"));
}
static void test_3_stacked_paper_blocks_match_pytorch(void **state) {
  (void)state;
  SKIP_WITHOUT_TORCH;
  gradient_case(find("paper3"));
}
static void test_adam_with_clipping_matches_torch_optim(void **state) {
  (void)state;
  SKIP_WITHOUT_TORCH;
  adam_case(find("adam"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lm_encoder_layer_matches_pytorch),
      cmocka_unit_test(test_lm_encoder_of_2_layers_matches_pytorch),
      cmocka_unit_test(test_lm_encoder_of_3_layers_matches_pytorch),
      cmocka_unit_test(test_paper_synthetic_block_matches_pytorch),
      cmocka_unit_test(test_3_stacked_paper_blocks_match_pytorch),
      cmocka_unit_test(test_adam_with_clipping_matches_torch_optim),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
