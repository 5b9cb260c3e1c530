/* Finite-difference checks of every layer's backward and of the whole transformer for both
 * tasks (1, 2 and 3 layers), plus bit-identical results across thread counts.
 *
 * Float model, so: central differences with step 1e-2 on O(1) inputs (truncation ~1e-4
 * relative) against the analytic gradient; a tensor passes when ||a - fd|| <= 1e-2 ||fd||
 * and every checked element has |a - fd| <= 2e-2 max|fd| + 1e-4. A wrong sign, a missing
 * term or a factor off by 10% fails both; a gradient that is exactly zero (the key bias)
 * passes when both sides are below float noise (FD < 1e-4, analytic < 1e-5) (test_check_catches_a_wrong_gradient proves it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/config.h"
#include "scansnap/data.h"
#include "scansnap/model.h"
#include "scansnap/transformer.h"
#include "ss_test.h"
#include "transformer/tf_layers.h"

static ss_rng R;
static float frand(void) { return (float)(2.0 * ss_rng_uniform(&R) - 1.0); }
static void fill(float *x, size_t n, float s) {
  for (size_t i = 0; i < n; i++) x[i] = s * frand();
}
static float *randv(size_t n, float s) {
  float *x = malloc(sizeof(float) * n);
  fill(x, n, s);
  return x;
}

/* The loss of a layer check: sum(out * Rw) in double. */
typedef double (*lossfn)(void *ctx);

/* Compares analytic[0..n) with central differences of f over x (at most 48 entries, spread). */
static int check(const char *name, float *x, size_t n, const float *analytic, lossfn f, void *ctx, double eps) {
  size_t stride = n > 48 ? n / 48 : 1;
  double num = 0, den = 0, maxfd = 0, worst = 0;
  double fd[64], an[64];
  int k = 0;
  for (size_t i = 0; i < n && k < 64; i += stride, k++) {
    float old = x[i];
    x[i] = old + (float)eps;
    double lp = f(ctx);
    x[i] = old - (float)eps;
    double lm = f(ctx);
    x[i] = old;
    fd[k] = (lp - lm) / (2 * eps);
    an[k] = analytic[i];
    num += (fd[k] - an[k]) * (fd[k] - an[k]);
    den += fd[k] * fd[k];
    if (fabs(fd[k]) > maxfd) maxfd = fabs(fd[k]);
  }
  for (int j = 0; j < k; j++) {
    double e = fabs(fd[j] - an[j]) - (2e-2 * maxfd + 1e-4);
    if (e > worst) worst = e;
  }
  double rel = den > 0 ? sqrt(num / den) : sqrt(num), maxan = 0;
  for (int j = 0; j < k; j++)
    if (fabs(an[j]) > maxan) maxan = fabs(an[j]);
  /* a gradient that is zero in exact arithmetic (e.g. the key bias, which shifts every
   * score of a row by the same amount) shows as float noise on both sides */
  int zero = maxfd < 1e-4 && maxan < 1e-5;
  int ok = zero || (rel <= 1e-2 && worst <= 0);
  if (!ok || getenv("SS_TEST_VERBOSE"))
    printf("%-28s rel %.2e  max|fd| %.3e  excess %.2e  %s\n", name, rel, maxfd, worst, ok ? "OK" : "NOT OK");
  return ok;
}

static double dotd(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* ------------------------------------------------------------------ layers */

typedef struct {
  int N, IC, OC;
  float *inp, *W, *b, *out, *Rw;
} lin_ctx;
static double lin_loss(void *c) {
  lin_ctx *l = c;
  ss_tfl_linear_forward(l->out, l->inp, l->W, l->b, l->N, l->IC, l->OC);
  return dotd(l->out, l->Rw, (size_t)l->N * l->OC);
}
static void test_linear_backward_matches_finite_differences(void **state) {
  (void)state;
  ss_rng_seed(&R, 1);
  lin_ctx l = {37, 19, 23, NULL, NULL, NULL, NULL, NULL};
  l.inp = randv(37 * 19, 1); l.W = randv(23 * 19, 1); l.b = randv(23, 1); l.out = randv(37 * 23, 1); l.Rw = randv(37 * 23, 1);
  float *di = calloc(37 * 19, 4), *dW = calloc(23 * 19, 4), *db = calloc(23, 4);
  ss_tfl_linear_backward(di, dW, db, l.Rw, l.inp, l.W, l.N, l.IC, l.OC);
  assert_true(check("linear.inp", l.inp, 37 * 19, di, lin_loss, &l, 1e-2));
  assert_true(check("linear.W", l.W, 23 * 19, dW, lin_loss, &l, 1e-2));
  assert_true(check("linear.b", l.b, 23, db, lin_loss, &l, 1e-2));
  free(l.inp); free(l.W); free(l.b); free(l.out); free(l.Rw); free(di); free(dW); free(db);
}

typedef struct {
  int B, T, C, H, causal;
  float p;
  uint64_t key;
  float *q, *k, *v, *out, *att, *attd, *Rw;
} att_ctx;
static double att_loss(void *c) {
  att_ctx *a = c;
  ss_tfl_attention_forward(a->out, a->att, a->attd, a->q, a->k, a->v, a->B, a->T, a->C, a->H, a->causal, a->p, a->key);
  return dotd(a->out, a->Rw, (size_t)a->B * a->T * a->C);
}
static void attention_case(int causal, int H, float p) {
  ss_rng_seed(&R, 2 + causal + H);
  int B = 2, T = 7, C = 12;
  size_t n = (size_t)B * T * C, na = (size_t)B * H * T * T;
  att_ctx a = {B, T, C, H, causal, p, 12345, randv(n, 1), randv(n, 1), randv(n, 1), randv(n, 1), randv(na, 1),
               randv(na, 1), randv(n, 1)};
  att_loss(&a);
  float *dq = calloc(n, 4), *dk = calloc(n, 4), *dv = calloc(n, 4), *sc = calloc(na, 4);
  ss_tfl_attention_backward(dq, dk, dv, sc, a.Rw, a.q, a.k, a.v, a.att, a.attd, B, T, C, H, causal, p, a.key);
  char nm[64];
  snprintf(nm, sizeof nm, "attention.q causal=%d H=%d", causal, H);
  assert_true(check(nm, a.q, n, dq, att_loss, &a, 1e-2));
  snprintf(nm, sizeof nm, "attention.k causal=%d H=%d", causal, H);
  assert_true(check(nm, a.k, n, dk, att_loss, &a, 1e-2));
  snprintf(nm, sizeof nm, "attention.v causal=%d H=%d", causal, H);
  assert_true(check(nm, a.v, n, dv, att_loss, &a, 1e-2));
  if (causal) { /* no weight on the future */
    for (int i = 0; i < T; i++)
      for (int j = i + 1; j < T; j++) assert_true(a.att[i * T + j] == 0.0f);
  }
  free(a.q); free(a.k); free(a.v); free(a.out); free(a.att); free(a.attd); free(a.Rw); free(dq); free(dk); free(dv); free(sc);
}
static void test_attention_backward_matches_finite_differences(void **state) {
  (void)state;
  attention_case(0, 1, 0);
  attention_case(0, 3, 0);
  attention_case(1, 2, 0);
  attention_case(1, 2, 0.3f); /* dropout on the weights: the same mask in both directions */
}

typedef struct {
  int N, C;
  float *inp, *w, *b, *out, *m, *s, *Rw;
} ln_ctx;
static double ln_loss(void *c) {
  ln_ctx *l = c;
  ss_tfl_layernorm_forward(l->out, l->m, l->s, l->inp, l->w, l->b, l->N, l->C);
  return dotd(l->out, l->Rw, (size_t)l->N * l->C);
}
static void test_layernorm_backward_matches_finite_differences(void **state) {
  (void)state;
  ss_rng_seed(&R, 3);
  int N = 9, C = 16;
  ln_ctx l = {N, C, randv(N * C, 2), randv(C, 1), randv(C, 1), randv(N * C, 1), randv(N, 1), randv(N, 1), randv(N * C, 1)};
  ln_loss(&l);
  float *di = calloc(N * C, 4), *dw = calloc(C, 4), *db = calloc(C, 4);
  ss_tfl_layernorm_backward(di, dw, db, l.Rw, l.inp, l.w, l.m, l.s, N, C);
  assert_true(check("layernorm.inp", l.inp, N * C, di, ln_loss, &l, 1e-2));
  assert_true(check("layernorm.w", l.w, C, dw, ln_loss, &l, 1e-2));
  assert_true(check("layernorm.b", l.b, C, db, ln_loss, &l, 1e-2));
  free(l.inp); free(l.w); free(l.b); free(l.out); free(l.m); free(l.s); free(l.Rw); free(di); free(dw); free(db);
}

typedef struct {
  size_t n;
  int gate;
  float p;
  uint64_t key;
  float *inp, *out, *Rw;
} pw_ctx;
static double gate_loss(void *c) {
  pw_ctx *g = c;
  ss_tfl_gate_forward(g->out, g->inp, g->n, g->gate);
  return dotd(g->out, g->Rw, g->n);
}
static double drop_loss(void *c) {
  pw_ctx *g = c;
  ss_tfl_dropout_forward(g->out, g->inp, g->n, g->p, g->key);
  return dotd(g->out, g->Rw, g->n);
}
static void test_gates_and_dropout_match_finite_differences(void **state) {
  (void)state;
  ss_rng_seed(&R, 4);
  size_t n = 200;
  pw_ctx g = {n, 0, 0.25f, 99, randv(n, 2), randv(n, 1), randv(n, 1)};
  for (size_t i = 0; i < n; i++) /* keep ReLU inputs off its kink by more than the FD step */
    if (fabsf(g.inp[i]) < 0.05f) g.inp[i] = 0.05f;
  float *d = calloc(n, 4);
  for (int gate = 0; gate < 2; gate++) {
    g.gate = gate;
    ss_tfl_gate_backward(d, g.Rw, g.inp, n, gate);
    assert_true(check(gate ? "gate.silu" : "gate.relu", g.inp, n, d, gate_loss, &g, 1e-2));
  }
  ss_tfl_dropout_backward(d, g.Rw, n, g.p, g.key);
  assert_true(check("dropout", g.inp, n, d, drop_loss, &g, 1e-2));
  int dropped = 0;
  ss_tfl_dropout_forward(g.out, g.inp, n, g.p, g.key);
  for (size_t i = 0; i < n; i++) dropped += g.out[i] == 0.0f;
  assert_true(dropped > 25 && dropped < 75); /* about p*n = 50 */
  free(g.inp); free(g.out); free(g.Rw); free(d);
}

typedef struct {
  int B, T, C, V;
  int *x;
  float *U, *pos, *out, *Rw;
  float scale;
} emb_ctx;
static double emb_loss(void *c) {
  emb_ctx *e = c;
  ss_tfl_embed_forward(e->out, e->x, e->U, e->scale, e->pos, e->B, e->T, e->C);
  return dotd(e->out, e->Rw, (size_t)e->B * e->T * e->C);
}
/* The embedding with and without model.scale_embed's factor (sqrt(C); here sqrt(5)). */
static void test_embedding_backward_matches_finite_differences(void **state) {
  (void)state;
  for (int sc = 0; sc < 2; sc++) {
    ss_rng_seed(&R, 5);
    int B = 3, T = 6, C = 5, V = 7;
    emb_ctx e = {B, T, C, V, malloc(sizeof(int) * B * T), randv(V * C, 1), randv(T * C, 1), randv(B * T * C, 1), randv(B * T * C, 1),
                 sc ? sqrtf(5.0f) : 1.0f};
    for (int i = 0; i < B * T; i++) e.x[i] = (int)ss_rng_below(&R, 4); /* repeated tokens */
    float *dU = calloc(V * C, 4), *dp = calloc(T * C, 4);
    ss_tfl_embed_backward(dU, dp, e.Rw, e.x, e.scale, B, T, C);
    assert_true(check("embed.U", e.U, V * C, dU, emb_loss, &e, 1e-2));
    assert_true(check("embed.pos", e.pos, T * C, dp, emb_loss, &e, 1e-2));
    free(e.x); free(e.U); free(e.pos); free(e.out); free(e.Rw); free(dU); free(dp);
  }
}

typedef struct {
  int N, C, V;
  int *tg;
  float *inp, *W, *b, *logits, *partial;
} dec_ctx;
static double dec_loss(void *c) {
  dec_ctx *d = c;
  long h;
  return ss_tfl_decoder_xent(d->logits, d->inp, d->W, d->b, d->tg, d->N, d->C, d->V, 1.0f / d->N, 0, NULL, d->partial, &h) / d->N;
}
static void test_decoder_cross_entropy_matches_finite_differences(void **state) {
  (void)state;
  ss_rng_seed(&R, 6);
  int N = 70, C = 9, V = 13; /* N > 32: several bias-gradient chunks */
  dec_ctx d = {N, C, V, malloc(sizeof(int) * N), randv(N * C, 1), randv(V * C, 1), randv(V, 1), randv(N * V, 1),
               randv(ss_tfl_decoder_partial_size(N, V), 1)};
  for (int i = 0; i < N; i++) d.tg[i] = (int)ss_rng_below(&R, V);
  d.tg[5] = -1; /* an ignored position */
  float *db = calloc(V, 4), *di = calloc(N * C, 4), *dW = calloc(V * C, 4);
  long h;
  double L = ss_tfl_decoder_xent(d.logits, d.inp, d.W, d.b, d.tg, N, C, V, 1.0f / N, 1, db, d.partial, &h) / N;
  assert_true(fabs(L - dec_loss(&d)) < 1e-6);
  ss_tfl_decoder_xent(d.logits, d.inp, d.W, d.b, d.tg, N, C, V, 1.0f / N, 1, db, d.partial, &h);
  ss_tfl_gemm(0, 0, N, C, V, d.logits, V, d.W, C, 0.0f, di, C);
  ss_tfl_gemm(1, 0, V, C, N, d.logits, V, d.inp, C, 0.0f, dW, C);
  assert_true(check("decoder.inp", d.inp, N * C, di, dec_loss, &d, 1e-2));
  assert_true(check("decoder.W", d.W, V * C, dW, dec_loss, &d, 1e-2));
  assert_true(check("decoder.b", d.b, V, db, dec_loss, &d, 1e-2));
  free(d.tg); free(d.inp); free(d.W); free(d.b); free(d.logits); free(d.partial); free(db); free(di); free(dW);
}

/* The check itself can fail: a gradient 10% off and one with a flipped sign are rejected. */
static void test_check_catches_a_wrong_gradient(void **state) {
  (void)state;
  ss_rng_seed(&R, 7);
  lin_ctx l = {11, 7, 5, randv(77, 1), randv(35, 1), randv(5, 1), randv(55, 1), randv(55, 1)};
  float *di = calloc(77, 4), *dW = calloc(35, 4);
  ss_tfl_linear_backward(di, dW, NULL, l.Rw, l.inp, l.W, l.N, l.IC, l.OC);
  for (int i = 0; i < 35; i++) dW[i] *= 1.1f;
  assert_false(check("linear.W x1.1 (must fail)", l.W, 35, dW, lin_loss, &l, 1e-2));
  for (int i = 0; i < 35; i++) dW[i] /= 1.1f;
  dW[3] = -dW[3];
  assert_false(check("linear.W one sign (must fail)", l.W, 35, dW, lin_loss, &l, 1e-2));
  free(l.inp); free(l.W); free(l.b); free(l.out); free(l.Rw); free(di); free(dW);
}

/* ------------------------------------------------------------------ whole model */

static ss_model *build(const char *const *kv, int M, int T) {
  static ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  for (int i = 0; kv[i]; i += 2) {
    if (ss_config_set(&c, kv[i], kv[i + 1], &e)) fail_msg("%s", e.msg);
  }
  c.model.type = SS_MODEL_TRANSFORMER;
  ss_model *m = NULL;
  if (ss_tf_new(&c, M, T, &m, &e)) fail_msg("%s", e.msg);
  return m;
}

/* A batch of B random sequences of T tokens below M with random labels; returns the
 * per-position targets y (malloc'd; not attached: b->y stays NULL). */
static int *random_batch(ss_batch *b, int B, int T, int M, uint64_t seed) {
  ss_err e;
  assert_int_equal(ss_batch_alloc(b, B, T, &e), 0);
  int *y = malloc(sizeof(int) * B * T);
  ss_rng_seed(&R, seed);
  for (int i = 0; i < B * T; i++) {
    b->x[i] = (int)ss_rng_below(&R, M);
    y[i] = (int)ss_rng_below(&R, M);
  }
  for (int i = 0; i < B; i++) b->label[i] = (int)ss_rng_below(&R, M);
  return y;
}

typedef struct {
  ss_model *m;
  ss_batch *b;
} mdl_ctx;
static double model_loss(void *c) {
  mdl_ctx *x = c;
  double L, a;
  ss_err e;
  if (x->m->ops->eval(x->m, x->b, &L, &a, &e)) fail_msg("%s", e.msg);
  return L;
}

static void model_case(const char *const *kv, int lm) {
  const int M = 11, T = 5, B = 3;
  /* one thread: thousands of tiny forward passes, where starting a thread team costs more
   * than the work (results do not depend on it: test_step_is_bit_identical_...) */
  const int threads = ss_threads_set(1);
  ss_model *m = build(kv, M, T);
  ss_tf_set_training(m, 0);
  ss_batch b;
  ss_err e;
  int *y = random_batch(&b, B, T, M, 11);
  b.y = lm ? y : NULL;
  /* well-conditioned parameters: every tensor O(1)/sqrt(fan) random, LN gains near 1 */
  float *P = m->params;
  for (size_t i = 0; i < m->nparams; i++) P[i] = 0.5f * frand();
  for (int t = 0; t < m->ntensors; t++)
    if (strstr(m->tensors[t].name, "ln") && strstr(m->tensors[t].name, "weight")) {
      float *w = m->tensors[t].data;
      for (int64_t i = 0; i < ss_tensor_numel(&m->tensors[t]); i++) w[i] = 1.0f + 0.3f * frand();
    }
  double L, a;
  assert_int_equal(m->ops->step(m, &b, &L, &a, &e), 0);
  assert_true(fabs(L - model_loss(&(mdl_ctx){m, &b})) < 1e-6);
  float *g = malloc(sizeof(float) * m->nparams);
  memcpy(g, m->grads, sizeof(float) * m->nparams);
  mdl_ctx ctx = {m, &b};
  for (int t = 0; t < m->ntensors; t++) {
    if (!strncmp(m->tensors[t].name, "state.", 6)) continue; /* the dropout step counter */
    size_t off = (size_t)((float *)m->tensors[t].data - (float *)m->params);
    char nm[96];
    snprintf(nm, sizeof nm, "model(%s).%s", lm ? "lm" : "syn", m->tensors[t].name);
    assert_true(check(nm, (float *)m->tensors[t].data, (size_t)ss_tensor_numel(&m->tensors[t]), g + off, model_loss, &ctx, 1e-2));
  }
  free(g);
  free(y);
  b.y = NULL;
  ss_batch_free(&b);
  ss_model_free(m);
  ss_threads_set(threads);
}

static void test_whole_model_gradients_match_finite_differences_synthetic(void **state) {
  (void)state;
  const char *full[] = {"model.d", "8", "model.H", "2", "model.use_Wo", "true", "model.attn_bias", "true",
                        "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true", "model.ffn_hidden", "6",
                        "model.gate", "silu", "model.pos", "learned", NULL};
  model_case(full, 0);
  const char *paper[] = {"model.d", "8", "model.H", "1", NULL}; /* the paper's synthetic block, tied */
  model_case(paper, 0);
  const char *untied[] = {"model.d", "8", "model.H", "2", "model.tied", "false", "model.use_Wq", "false",
                          "model.use_Wv", "false", "model.use_residue", "true", "model.pos", "sinusoidal", NULL};
  model_case(untied, 0);
}

/* N-layer models: every tensor of every layer (the gradient flows through the layers above). */
static void test_multilayer_gradients_match_finite_differences(void **state) {
  (void)state;
  const char *lm2[] = {"model.nlayers", "2", "model.task", "lm", "model.d", "8", "model.H", "2", "model.use_Wo", "true",
                       "model.attn_bias", "true", "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true",
                       "model.ffn_hidden", "6", "model.gate", "silu", "model.pos", "sinusoidal", NULL};
  model_case(lm2, 1);
  const char *lm3[] = {"model.nlayers", "3", "model.task", "lm", "model.d", "6", "model.H", "3", "model.use_Wk", "false",
                       "model.use_residue", "true", "model.embed_group", "attention", "model.pos", "learned", NULL};
  model_case(lm3, 1);
  /* the paper's block, stacked */
  const char *syn2[] = {"model.nlayers", "2", "model.d", "8", "model.H", "1", "model.use_residue", "true", NULL};
  model_case(syn2, 0);
  const char *syn3[] = {"model.nlayers", "3", "model.d", "8", "model.H", "2", "model.use_Wo", "true", "model.attn_bias", "true",
                        "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true", "model.ffn_hidden", "6",
                        "model.gate", "silu", "model.tied", "false", "model.use_Wv", "false", NULL};
  model_case(syn3, 0);
}

static void test_whole_model_gradients_match_finite_differences_lm(void **state) {
  (void)state;
  const char *full[] = {"model.task", "lm", "model.d", "8", "model.H", "2", "model.use_Wo", "true", "model.attn_bias", "true",
                        "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true", "model.ffn_hidden", "6",
                        "model.gate", "silu", "model.pos", "sinusoidal", "model.embed_group", "attention", NULL};
  model_case(full, 1);
  const char *bare[] = {"model.task", "lm", "model.d", "6", "model.H", "3", "model.use_Wk", "false", NULL};
  model_case(bare, 1);
}

/* Same configuration and seed -> bit-identical loss and gradients with 1, 2 or 3 threads,
 * dropout included (its masks are hashes of seed, step and position), for 1 and 2 layers. */
static void test_step_is_bit_identical_across_thread_counts(void **state) {
  (void)state;
  const char *kv[] = {"model.nlayers", "1", "model.task", "lm", "model.d", "64", "model.H", "2", "model.use_Wo", "true",
                      "model.attn_bias", "true", "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true",
                      "model.dropout", "0.2", "model.pos", "learned", NULL};
  const int M = 3000, T = 32, B = 8;
  for (int layers = 1; layers <= 2; layers++) {
    kv[1] = layers == 1 ? "1" : "2";
    float *g[3];
    double L[3];
    size_t n = 0;
    for (int run = 0; run < 3; run++) {
      ss_threads_set(run + 1);
      ss_model *m = build(kv, M, T);
      assert_int_equal(ss_tf_nlayers(m), layers);
      ss_batch b;
      ss_err e;
      int *y = random_batch(&b, B, T, M, 5);
      b.y = y;
      double a;
      assert_int_equal(m->ops->step(m, &b, &L[run], &a, &e), 0);
      assert_int_equal(m->ops->step(m, &b, &L[run], &a, &e), 0); /* second step: other dropout masks */
      n = m->nparams;
      g[run] = malloc(sizeof(float) * n);
      memcpy(g[run], m->grads, sizeof(float) * n);
      free(y);
      b.y = NULL;
      ss_batch_free(&b);
      ss_model_free(m);
    }
    ss_threads_set(0);
    for (int run = 1; run < 3; run++) {
      assert_true(L[0] == L[run]);
      assert_memory_equal(g[0], g[run], sizeof(float) * n);
    }
    for (int run = 0; run < 3; run++) free(g[run]);
  }
}

/* The dropout step counter travels with the parameters (tensor state.dropout_step), so a
 * model restored from a checkpoint draws the masks the uninterrupted run would have. */
static void test_restored_parameters_continue_the_dropout_stream(void **state) {
  (void)state;
  const char *kv[] = {"model.task", "lm", "model.d", "8", "model.H", "2", "model.dropout", "0.3", "model.use_ffn", "true", NULL};
  const int M = 13, T = 6, B = 2;
  ss_model *a = build(kv, M, T), *b = build(kv, M, T);
  ss_batch bt;
  ss_err e;
  assert_int_equal(ss_batch_alloc(&bt, B, T, &e), 0);
  int y[12];
  for (int i = 0; i < B * T; i++) bt.x[i] = i % M, y[i] = (3 * i + 1) % M;
  bt.y = y;
  double L, acc, La, Lb;
  assert_int_equal(a->ops->step(a, &bt, &L, &acc, &e), 0);
  assert_int_equal(a->ops->step(a, &bt, &L, &acc, &e), 0);
  /* b is "resumed" from a: same parameters, counter included */
  memcpy(b->params, a->params, sizeof(float) * a->nparams);
  assert_int_equal(a->ops->step(a, &bt, &La, &acc, &e), 0);
  assert_int_equal(b->ops->step(b, &bt, &Lb, &acc, &e), 0);
  assert_true(La == Lb);
  assert_memory_equal(a->grads, b->grads, sizeof(float) * a->nparams);
  /* and the masks do change from step to step: the next step's loss differs */
  double Lnext;
  assert_int_equal(a->ops->step(a, &bt, &Lnext, &acc, &e), 0);
  assert_true(Lnext != La);
  bt.y = NULL;
  ss_batch_free(&bt);
  ss_model_free(a);
  ss_model_free(b);
}

static void test_bad_heads_and_long_sequences_are_input_errors(void **state) {
  (void)state;
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  c.model.d = 10;
  c.model.H = 3;
  ss_model *m = NULL;
  assert_int_equal(ss_tf_new(&c, 20, 8, &m, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "model.H"));
  c.model.H = 2;
  c.model.pos = SS_POS_LEARNED;
  assert_int_equal(ss_tf_new(&c, 20, 8, &m, &e), SS_OK);
  int x[9] = {0};
  float att[2 * 81];
  assert_int_equal(ss_tf_attention(m, x, 9, att, &e), SS_EINPUT);
  assert_int_equal(ss_tf_attention(m, x, 8, att, &e), SS_OK);
  for (int h = 0; h < 2; h++) /* rows are distributions */
    for (int i = 0; i < 8; i++) {
      double s = 0;
      for (int j = 0; j < 8; j++) s += att[h * 64 + i * 8 + j];
      assert_true(fabs(s - 1) < 1e-5);
    }
  ss_model_free(m);
}

static int has_tensor(const ss_model *m, const char *name) {
  for (int i = 0; i < m->ntensors; i++)
    if (!strcmp(m->tensors[i].name, name)) return 1;
  return 0;
}

/* Layout of an N-layer model: per-layer tensors named l<i>.*, shared ones unprefixed; the
 * attention group holds every layer's W_Q/K/V/O (and biases) and nothing else; one layer
 * keeps the 1-layer names; the parameter count is shared + N x one layer. */
static void test_layers_are_laid_out_in_the_two_groups(void **state) {
  (void)state;
  const char *kv[] = {"model.nlayers", "3", "model.task", "lm", "model.d", "8", "model.H", "2", "model.use_Wo", "true",
                      "model.attn_bias", "true", "model.use_residue", "true", "model.use_ln", "true", "model.use_ffn", "true",
                      "model.ffn_hidden", "6", "model.pos", "learned", NULL};
  ss_model *m3 = build(kv, 11, 5);
  kv[1] = "1";
  ss_model *m1 = build(kv, 11, 5);
  assert_int_equal(ss_tf_nlayers(m3), 3);
  assert_int_equal(ss_tf_nlayers(m1), 1);
  assert_true(has_tensor(m1, "attn.Wq") && has_tensor(m1, "ln2.bias") && !has_tensor(m1, "l0.attn.Wq"));
  const char *per[] = {"attn.Wq", "attn.bq", "attn.Wk", "attn.bk", "attn.Wv", "attn.bv", "attn.Wo", "attn.bo",
                       "ln1.weight", "ln1.bias", "ffn.w1", "ffn.b1", "ffn.w2", "ffn.b2", "ln2.weight", "ln2.bias"};
  for (int l = 0; l < 3; l++)
    for (int k = 0; k < 16; k++) {
      char nm[40];
      snprintf(nm, sizeof nm, "l%d.%s", l, per[k]);
      assert_true(has_tensor(m3, nm));
      assert_false(has_tensor(m3, per[k]));
    }
  assert_int_equal(m3->ntensors, 4 + 3 * 16 + 1);
  const size_t shared = 11 * 8 + 5 * 8 + 11 * 8 + 11, layer = m1->nparams - 2 - shared;
  assert_int_equal(m3->nparams, shared + 3 * layer + 2);
  for (int i = 0; i < m3->ntensors; i++) {
    const ss_tensor *t = &m3->tensors[i];
    if (!strncmp(t->name, "state.", 6)) continue;
    size_t off = (size_t)((float *)t->data - (float *)m3->params);
    int in_att = off >= m3->groups[1].offset && off < m3->groups[1].offset + m3->groups[1].count;
    assert_int_equal(in_att, strstr(t->name, "attn.") != NULL);
  }
  assert_int_equal(m3->groups[0].count + m3->groups[1].count + 2, m3->nparams);
  /* attention of every layer: rows are causal distributions; all-layers = layer by layer */
  int x[5] = {1, 4, 2, 9, 4};
  float all[3 * 2 * 25], one[2 * 25];
  ss_err e;
  assert_int_equal(ss_tf_attention_layer(m3, x, 5, SS_TF_ALL_LAYERS, all, &e), SS_OK);
  for (int l = 0; l < 3; l++) {
    assert_int_equal(ss_tf_attention_layer(m3, x, 5, l, one, &e), SS_OK);
    assert_memory_equal(one, all + l * 50, sizeof one);
    for (int h = 0; h < 2; h++)
      for (int i = 0; i < 5; i++) {
        double s = 0;
        for (int j = 0; j < 5; j++) {
          s += one[h * 25 + i * 5 + j];
          if (j > i) assert_true(one[h * 25 + i * 5 + j] == 0.0f);
        }
        assert_true(fabs(s - 1) < 1e-5);
      }
  }
  assert_memory_not_equal(all, all + 50, sizeof one); /* the layers attend differently */
  assert_int_equal(ss_tf_attention(m3, x, 5, one, &e), SS_OK);
  assert_memory_equal(one, all, sizeof one);
  assert_int_equal(ss_tf_attention_layer(m3, x, 5, 3, one, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "layer 3"));
  assert_int_equal(ss_tf_attention_layer(m3, x, 5, -2, one, &e), SS_EINPUT);
  ss_model_free(m3);
  ss_model_free(m1);
  /* out of range: an input error naming the key */
  ss_config c;
  ss_config_defaults(&c);
  c.model.nlayers = 0;
  ss_model *m = NULL;
  assert_int_equal(ss_tf_new(&c, 20, 8, &m, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "model.nlayers"));
  assert_int_equal(ss_config_set(&c, "model.nlayers", "65", &e), SS_EINPUT);
  assert_int_equal(ss_config_set(&c, "model.nlayers", "64", &e), SS_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_catches_a_wrong_gradient),
      cmocka_unit_test(test_linear_backward_matches_finite_differences),
      cmocka_unit_test(test_attention_backward_matches_finite_differences),
      cmocka_unit_test(test_layernorm_backward_matches_finite_differences),
      cmocka_unit_test(test_gates_and_dropout_match_finite_differences),
      cmocka_unit_test(test_embedding_backward_matches_finite_differences),
      cmocka_unit_test(test_decoder_cross_entropy_matches_finite_differences),
      cmocka_unit_test(test_whole_model_gradients_match_finite_differences_synthetic),
      cmocka_unit_test(test_whole_model_gradients_match_finite_differences_lm),
      cmocka_unit_test(test_multilayer_gradients_match_finite_differences),
      cmocka_unit_test(test_layers_are_laid_out_in_the_two_groups),
      cmocka_unit_test(test_step_is_bit_identical_across_thread_counts),
      cmocka_unit_test(test_restored_parameters_continue_the_dropout_stream),
      cmocka_unit_test(test_bad_heads_and_long_sequences_are_input_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
