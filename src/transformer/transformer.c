/* The standard transformer (SPEC §2.2) behind ss_model, float32: model.nlayers encoder
 * layers, each the layer below, between the embedding and the decoder.
 *
 * Forward (N = B*T rows of width C = model.d; every switch as in model.*):
 *   h0 = dropout(U[x] + pos)                                     [N,C]
 *   layer l = 0..L-1, input in (h0 for layer 0, else layer l-1's output z):
 *     q, k, v = in Wq^T + bq, ... (identity when use_Wq/Wk/Wv = false)
 *     o  = attention(q, k, v)  (1/sqrt(C/H), causal for the LM, dropout on the weights)
 *     ow = o Wo^T + bo (use_Wo)
 *     r1 = dropout(ow) (+ in if use_residue);   h1 = LN1(r1) (use_ln) else r1
 *     FFN (use_ffn): u = h1 W1^T + b1 [N,F]; a = dropout(gate(u)); f = a W2^T + b2;
 *          r2 = dropout(f) (+ h1);  h2 = LN2(r2) (use_ln) else r2
 *     z = h2 (or h1 without FFN)
 *   synthetic: logits[B,V] = z[:,T-1] U^T (tied) or z[:,T-1] Wd^T + bd; loss = CE(label)
 *   lm:        logits[N,V] = z Wd^T + bd (always untied); loss = mean CE(y) over N
 * (z of the last layer). With use_residue, use_ln, use_ffn, use_Wo and attn_bias all on this
 * is PyTorch's nn.TransformerEncoder of nn.TransformerEncoderLayer (post-norm,
 * norm_first=False). Without LN/FFN/W_O/biases one layer is the paper's synthetic SABlock
 * (which adds its residual after the FFN instead; the FFN is off in the paper's runs).
 *
 * Parameters: one flat float array, tensors laid out group by group (groups[0] = decoder:
 * embedding*, positional table*, every layer's LayerNorms and FFN (layer by layer), decoder;
 * groups[1] = attention: every layer's W_Q, W_K, W_V, W_O and their biases; * = moves to
 * groups[1] with model.embed_group=attention). With one layer the tensor names are
 * ln1.weight, attn.Wq, ...; with several, every layer's are prefixed l0., l1., ...
 *
 * Activations: each layer keeps its own for the backward (memory grows as L x one layer);
 * gradient scratch is shared by the layers. Dropout sites: 0 = embedding, 4l+1..4l+4 =
 * layer l's attention weights, attention output, FFN hidden, FFN output. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/transformer.h"
#include "transformer/tf_internal.h"
#include "transformer/tf_layers.h"

enum { S_U, S_POS, S_WD, S_BD, S_COUNT }; /* tensors shared by the layers */
enum {                                   /* tensors of one layer */
  L_LN1W, L_LN1B, L_W1, L_B1, L_W2, L_B2, L_LN2W, L_LN2B,
  L_WQ, L_BQ, L_WK, L_BK, L_WV, L_BV, L_WO, L_BO, L_COUNT
};

static const char *const snames[S_COUNT] = {"embed.weight", "pos.weight", "decoder.weight", "decoder.bias"};
static const char *const lnames[L_COUNT] = {
  "ln1.weight", "ln1.bias", "ffn.w1", "ffn.b1", "ffn.w2", "ffn.b2", "ln2.weight", "ln2.bias",
  "attn.Wq", "attn.bq", "attn.Wk", "attn.bk", "attn.Wv", "attn.bv", "attn.Wo", "attn.bo"};

typedef struct {
  float *P[L_COUNT], *G[L_COUNT]; /* views into params / grads; NULL when absent */
  /* activations of the last forward (arena views) */
  const float *in; /* input: h0 or the previous layer's z */
  float *q, *k, *v, *o, *ow, *r1, *h1, *u, *a, *f, *r2, *h2, *m1, *s1, *m2, *s2, *att, *attd;
  float *z; /* output: h2, r2, h1 or r1 depending on the switches */
} tf_layer;

typedef struct {
  int V, Tmax, C, H, F, L, lm, wq, wk, wv, wo, bias, res, ln, ffn, gate, pos, tied;
  float p;
  float escale; /* the token embedding's factor: sqrt(C) with model.scale_embed, else 1 */
  uint64_t seed;
  int training;
  uint64_t counter; /* training steps done: keys the dropout masks */
  float *state;     /* [2] the counter as two 16-bit halves, a tensor outside every group so
                       that checkpoints carry it and a resumed run draws the same masks */
  float *P[S_COUNT], *G[S_COUNT]; /* views into params / grads; NULL when absent */
  tf_layer *layer;                /* [L] */
  char (*names)[24];              /* [L * L_COUNT] tensor names of the layers when L > 1 */
  float *sinus;                   /* [Tmax, C] fixed sinusoidal table (model.pos=sinusoidal) */
  /* activations, sized for cap rows */
  size_t cap_N, cap_rows, cap_att;
  float *arena;
  float *h0, *zl, *dzl;
  float *dz, *dh1, *dr, *du, *dow, *do_, *dq, *dk, *dv, *dh0, *datt; /* shared backward scratch */
  float *logits, *partial;
  int *tgt;
  const int *x; /* tokens of the last forward (borrowed) */
} tf_impl;

static void free_acts(tf_impl *t) {
  free(t->arena);
  free(t->logits);
  free(t->partial);
  free(t->tgt);
  t->arena = t->logits = t->partial = NULL;
  t->tgt = NULL;
  t->cap_N = t->cap_rows = t->cap_att = 0;
}

/* Activation buffers for B sequences of length T. */
static int grow(tf_impl *t, int B, int T, ss_err *err) {
  size_t N = (size_t)B * T, rows = t->lm ? N : (size_t)B, natt = (size_t)B * t->H * T * T;
  if (N <= t->cap_N && rows <= t->cap_rows && natt <= t->cap_att) return SS_OK;
  free_acts(t);
  const size_t C = t->C, F = t->F, L = t->L;
  /* shared: h0 and 10 gradient buffers of [N,C], one [N,F], one [B,H,T,T], 2 of [B,C];
   * per layer: 10 of [N,C], 2 of [N,F], 2 of [B,H,T,T], 4 of [N] */
  size_t total = 11 * N * C + N * F + natt + 2 * (size_t)B * C + L * (10 * N * C + 2 * N * F + 2 * natt + 4 * N);
  t->arena = malloc(sizeof(float) * total);
  t->logits = malloc(sizeof(float) * rows * t->V);
  t->partial = t->bias || t->lm || !t->tied ? malloc(sizeof(float) * (ss_tfl_decoder_partial_size((int)rows, t->V) + 1)) : NULL;
  t->tgt = malloc(sizeof(int) * rows);
  if (!t->arena || !t->logits || !t->tgt || ((t->lm || !t->tied) && !t->partial)) {
    free_acts(t);
    return ss_seterr(err, SS_EINPUT, "batch of %d sequences of length %d with vocabulary %d does not fit in memory (logits need %.2f GiB)",
                     B, T, t->V, (double)rows * t->V * 4 / (1 << 30));
  }
  float *p = t->arena;
#define TAKE(x, n) ((x) = p, p += (n))
  TAKE(t->h0, N * C);
  TAKE(t->dz, N * C); TAKE(t->dh1, N * C); TAKE(t->dr, N * C); TAKE(t->dow, N * C); TAKE(t->do_, N * C);
  TAKE(t->dq, N * C); TAKE(t->dk, N * C); TAKE(t->dv, N * C); TAKE(t->dh0, N * C);
  p += N * C; /* spare */
  TAKE(t->du, N * F); TAKE(t->datt, natt);
  TAKE(t->zl, (size_t)B * C); TAKE(t->dzl, (size_t)B * C);
  for (size_t l = 0; l < L; l++) {
    tf_layer *y = &t->layer[l];
    TAKE(y->q, N * C); TAKE(y->k, N * C); TAKE(y->v, N * C); TAKE(y->o, N * C); TAKE(y->ow, N * C);
    TAKE(y->r1, N * C); TAKE(y->h1, N * C); TAKE(y->f, N * C); TAKE(y->r2, N * C); TAKE(y->h2, N * C);
    TAKE(y->u, N * F); TAKE(y->a, N * F);
    TAKE(y->att, natt); TAKE(y->attd, natt);
    TAKE(y->m1, N); TAKE(y->s1, N); TAKE(y->m2, N); TAKE(y->s2, N);
  }
#undef TAKE
  t->cap_N = N;
  t->cap_rows = rows;
  t->cap_att = natt;
  return SS_OK;
}

/* Dropout key of a site (0 = embedding; layer l's sites are 4l+1..4l+4). */
static uint64_t key(const tf_impl *t, int site) { return ss_tfl_drop_key(t->seed, site, t->counter); }

/* Layer l on input in (B sequences of T rows); sets y->z. */
static void layer_forward(tf_impl *t, int l, const float *in, int B, int T, float p) {
  tf_layer *y = &t->layer[l];
  const int C = t->C, N = B * T, F = t->F, s = 4 * l;
  const size_t NC = (size_t)N * C;
  y->in = in;
  const float *q = in, *k = in, *v = in;
  if (t->wq) ss_tfl_linear_forward(y->q, in, y->P[L_WQ], y->P[L_BQ], N, C, C), q = y->q;
  if (t->wk) ss_tfl_linear_forward(y->k, in, y->P[L_WK], y->P[L_BK], N, C, C), k = y->k;
  if (t->wv) ss_tfl_linear_forward(y->v, in, y->P[L_WV], y->P[L_BV], N, C, C), v = y->v;
  ss_tfl_attention_forward(y->o, y->att, y->attd, q, k, v, B, T, C, t->H, t->lm, p, key(t, s + 1));
  float *ow = y->o;
  if (t->wo) ss_tfl_linear_forward(ow = y->ow, y->o, y->P[L_WO], y->P[L_BO], N, C, C);
  ss_tfl_dropout_forward(y->r1, ow, NC, p, key(t, s + 2));
  if (t->res)
    for (size_t i = 0; i < NC; i++) y->r1[i] += in[i];
  float *h1 = y->r1;
  if (t->ln) ss_tfl_layernorm_forward(h1 = y->h1, y->m1, y->s1, y->r1, y->P[L_LN1W], y->P[L_LN1B], N, C);
  y->z = h1;
  if (t->ffn) {
    ss_tfl_linear_forward(y->u, h1, y->P[L_W1], y->P[L_B1], N, C, F);
    ss_tfl_gate_forward(y->a, y->u, (size_t)N * F, t->gate);
    ss_tfl_dropout_forward(y->a, y->a, (size_t)N * F, p, key(t, s + 3));
    ss_tfl_linear_forward(y->f, y->a, y->P[L_W2], y->P[L_B2], N, F, C);
    ss_tfl_dropout_forward(y->r2, y->f, NC, p, key(t, s + 4));
    if (t->res)
      for (size_t i = 0; i < NC; i++) y->r2[i] += h1[i];
    y->z = y->r2;
    if (t->ln) ss_tfl_layernorm_forward(y->z = y->h2, y->m2, y->s2, y->r2, y->P[L_LN2W], y->P[L_LN2B], N, C);
  }
}

/* The forward pass; leaves every activation the backward needs. Returns the summed loss
 * over output rows in *lsum, hits in *hits; with backward, logits hold dlogits. */
static int forward(tf_impl *t, const int *x, const int *target_lm, const int *label, int B, int T, int backward,
                   double *lsum, long *hits, ss_err *err) {
  int rc = grow(t, B, T, err);
  if (rc) return rc;
  const int C = t->C, N = B * T;
  const int drop = t->training && backward && t->p > 0;
  const float p = drop ? t->p : 0.0f;
  const float *pos = t->pos == SS_POS_LEARNED ? t->P[S_POS] : t->pos == SS_POS_SINUSOIDAL ? t->sinus : NULL;
  t->x = x;
  ss_tfl_embed_forward(t->h0, x, t->P[S_U], t->escale, pos, B, T, C);
  ss_tfl_dropout_forward(t->h0, t->h0, (size_t)N * C, p, key(t, 0));
  const float *in = t->h0;
  for (int l = 0; l < t->L; l++) {
    layer_forward(t, l, in, B, T, p);
    in = t->layer[l].z;
  }
  /* decoder input: every position (lm) or the last one (synthetic) */
  const float *zin = in;
  int rows = N;
  if (t->lm) {
    memcpy(t->tgt, target_lm, sizeof(int) * (size_t)N);
  } else {
    for (int b = 0; b < B; b++) memcpy(t->zl + (size_t)b * C, in + ((size_t)b * T + T - 1) * C, sizeof(float) * C);
    memcpy(t->tgt, label, sizeof(int) * (size_t)B);
    zin = t->zl;
    rows = B;
  }
  for (int r = 0; r < rows; r++)
    if (t->tgt[r] >= t->V)
      return ss_seterr(err, SS_EINPUT, "target token %d at row %d is outside the vocabulary of %d tokens", t->tgt[r], r, t->V);
  const int untied = t->lm || !t->tied;
  const float *Wdec = untied ? t->P[S_WD] : t->P[S_U];
  *lsum = ss_tfl_decoder_xent(t->logits, zin, Wdec, untied ? t->P[S_BD] : NULL, t->tgt, rows, C, t->V,
                              1.0f / (float)rows, backward, untied ? t->G[S_BD] : NULL, t->partial, hits);
  return SS_OK;
}

/* Backward of layer l: dout = d loss / d z (read only), din = d loss / d in (overwritten);
 * the layer's parameter gradients are overwritten. */
static void layer_backward(tf_impl *t, int l, const float *dout, float *din, int B, int T, float p) {
  tf_layer *y = &t->layer[l];
  const int C = t->C, N = B * T, F = t->F, s = 4 * l;
  const size_t NC = (size_t)N * C;
  const float *dh1 = dout; /* gradient w.r.t. h1 */
  if (t->ffn) {
    const float *h1 = t->ln ? y->h1 : y->r1;
    const float *dr2 = dout;
    if (t->ln) {
      memset(t->dr, 0, sizeof(float) * NC);
      ss_tfl_layernorm_backward(t->dr, y->G[L_LN2W], y->G[L_LN2B], dout, y->r2, y->P[L_LN2W], y->m2, y->s2, N, C);
      dr2 = t->dr;
    }
    if (t->res)
      memcpy(t->dh1, dr2, sizeof(float) * NC);
    else
      memset(t->dh1, 0, sizeof(float) * NC);
    ss_tfl_dropout_backward(t->dow, dr2, NC, p, key(t, s + 4)); /* dow used as df scratch */
    memset(t->du, 0, sizeof(float) * (size_t)N * F);
    ss_tfl_linear_backward(t->du, y->G[L_W2], y->G[L_B2], t->dow, y->a, y->P[L_W2], N, F, C);
    ss_tfl_dropout_backward(t->du, t->du, (size_t)N * F, p, key(t, s + 3));
    ss_tfl_gate_backward(t->du, t->du, y->u, (size_t)N * F, t->gate);
    ss_tfl_linear_backward(t->dh1, y->G[L_W1], y->G[L_B1], t->du, h1, y->P[L_W1], N, C, F);
    dh1 = t->dh1;
  }
  const float *dr1 = dh1;
  if (t->ln) {
    memset(t->dr, 0, sizeof(float) * NC);
    ss_tfl_layernorm_backward(t->dr, y->G[L_LN1W], y->G[L_LN1B], dh1, y->r1, y->P[L_LN1W], y->m1, y->s1, N, C);
    dr1 = t->dr;
  }
  if (t->res)
    memcpy(din, dr1, sizeof(float) * NC);
  else
    memset(din, 0, sizeof(float) * NC);
  ss_tfl_dropout_backward(t->dow, dr1, NC, p, key(t, s + 2));
  float *dO = t->dow;
  if (t->wo) {
    memset(t->do_, 0, sizeof(float) * NC);
    ss_tfl_linear_backward(t->do_, y->G[L_WO], y->G[L_BO], t->dow, y->o, y->P[L_WO], N, C, C);
    dO = t->do_;
  }
  const float *q = t->wq ? y->q : y->in, *k = t->wk ? y->k : y->in, *v = t->wv ? y->v : y->in;
  ss_tfl_attention_backward(t->dq, t->dk, t->dv, t->datt, dO, q, k, v, y->att, y->attd, B, T, C, t->H, t->lm, p,
                            key(t, s + 1));
  const int use[3] = {t->wq, t->wk, t->wv};
  float *dsrc[3] = {t->dq, t->dk, t->dv};
  const int pw[3] = {L_WQ, L_WK, L_WV}, pb[3] = {L_BQ, L_BK, L_BV};
  for (int j = 0; j < 3; j++) {
    if (use[j]) {
      ss_tfl_linear_backward(din, y->G[pw[j]], y->G[pb[j]], dsrc[j], y->in, y->P[pw[j]], N, C, C);
    } else {
      for (size_t i = 0; i < NC; i++) din[i] += dsrc[j][i];
    }
  }
}

static void backward(tf_impl *t, int B, int T) {
  const int C = t->C, N = B * T;
  const size_t NC = (size_t)N * C;
  const float p = t->training && t->p > 0 ? t->p : 0.0f;
  const int untied = t->lm || !t->tied;
  const float *Wdec = untied ? t->P[S_WD] : t->P[S_U];
  float *dWdec = untied ? t->G[S_WD] : t->G[S_U];
  const int rows = t->lm ? N : B;
  const float *zin = t->lm ? t->layer[t->L - 1].z : t->zl;
  /* decoder: dz_in = dlogits W ; dW = dlogits^T z_in (overwrites; the tied embedding
   * gradient starts here and the embedding backward adds to it) */
  float *dzin = t->lm ? t->dz : t->dzl;
  ss_tfl_gemm(0, 0, rows, C, t->V, t->logits, t->V, Wdec, C, 0.0f, dzin, C);
  ss_tfl_gemm(1, 0, t->V, C, rows, t->logits, t->V, zin, C, 0.0f, dWdec, C);
  if (!t->lm) {
    memset(t->dz, 0, sizeof(float) * NC);
    for (int b = 0; b < B; b++) memcpy(t->dz + ((size_t)b * T + T - 1) * C, t->dzl + (size_t)b * C, sizeof(float) * C);
  }
  /* layers top down; the gradient w.r.t. a layer's output alternates between dz and dh0 */
  float *dout = t->dz, *din = t->dh0;
  for (int l = t->L - 1; l >= 0; l--) {
    layer_backward(t, l, dout, din, B, T, p);
    float *tmp = dout;
    dout = din;
    din = tmp;
  }
  float *dh0 = dout; /* d loss / d h0 */
  ss_tfl_dropout_backward(dh0, dh0, NC, p, key(t, 0));
  if (untied) memset(t->G[S_U], 0, sizeof(float) * (size_t)t->V * C);
  if (t->pos == SS_POS_LEARNED) memset(t->G[S_POS], 0, sizeof(float) * (size_t)t->Tmax * C);
  ss_tfl_embed_backward(t->G[S_U], t->pos == SS_POS_LEARNED ? t->G[S_POS] : NULL, dh0, t->x, t->escale, B, T, C);
}

/* Our tiles are the parallelism; OpenBLAS's own threads would make sums depend on the thread
 * count (measured: OpenBLAS 0.3.21 sgemm results differ between 1 and 2 threads). So every
 * entry point runs OpenBLAS on one thread and gives the program back its own setting (a host
 * program's numpy may share this OpenBLAS). */
static int blas_enter(void) {
  const int old = openblas_get_num_threads();
  if (old != 1) openblas_set_num_threads(1);
  return old;
}

static void blas_leave(int old) {
  if (old != 1) openblas_set_num_threads(old);
}

static int check_batch(const tf_impl *t, const ss_batch *b, ss_err *err) {
  if (b->T > t->Tmax && t->pos != SS_POS_NONE)
    return ss_seterr(err, SS_EINPUT, "sequence length %d is beyond the positional table of %d positions (data.T)", b->T, t->Tmax);
  if (t->lm && !b->y) return ss_seterr(err, SS_EINPUT, "key 'model.task': lm needs per-position targets (batch without y)");
  if (!t->lm && !b->label) return ss_seterr(err, SS_EINPUT, "key 'model.task': synthetic needs a label per sequence");
  for (size_t i = 0; i < (size_t)b->B * b->T; i++)
    if (b->x[i] < 0 || b->x[i] >= t->V)
      return ss_seterr(err, SS_EINPUT, "token %d at position %zu is outside the vocabulary of %d tokens", b->x[i], i, t->V);
  return SS_OK;
}

static uint64_t half(float f) { return f >= 0 && f < 65536.0f ? (uint64_t)f : 0; }

static int tf_run_impl(ss_model *m, const ss_batch *b, double *loss, double *acc, int bwd, ss_err *err) {
  tf_impl *t = m->impl;
  t->counter = half(t->state[0]) << 16 | half(t->state[1]);
  int rc = check_batch(t, b, err);
  if (rc) return rc;
  double L = 0;
  long hits = 0;
  if ((rc = forward(t, b->x, b->y, b->label, b->B, b->T, bwd, &L, &hits, err))) return rc;
  const int rows = t->lm ? b->B * b->T : b->B;
  *loss = L / rows;
  *acc = (double)hits / rows;
  if (bwd) {
    backward(t, b->B, b->T);
    if (t->training) {
      t->counter = (t->counter + 1) & 0xFFFFFFFFu;
      t->state[0] = (float)(t->counter >> 16);
      t->state[1] = (float)(t->counter & 0xFFFF);
    }
  }
  return SS_OK;
}

static int tf_run(ss_model *m, const ss_batch *b, double *loss, double *acc, int bwd, ss_err *err) {
  const int old = blas_enter();
  const int rc = tf_run_impl(m, b, loss, acc, bwd, err);
  blas_leave(old);
  return rc;
}

static int tf_step(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return tf_run(m, b, loss, acc, 1, err);
}
static int tf_eval(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return tf_run(m, b, loss, acc, 0, err);
}

void ss_tf_set_training(ss_model *m, int training) { ((tf_impl *)m->impl)->training = training != 0; }

int ss_tf_nlayers(const ss_model *m) { return ((const tf_impl *)m->impl)->L; }

static int attention_impl(ss_model *m, const int *x, int T, int layer, float *att, ss_err *err) {
  tf_impl *t = m->impl;
  if (layer < SS_TF_ALL_LAYERS || layer >= t->L)
    return ss_seterr(err, SS_EINPUT, "layer %d does not exist (the model has %d layer%s)", layer, t->L, t->L == 1 ? "" : "s");
  if (T < 1 || (T > t->Tmax && t->pos != SS_POS_NONE))
    return ss_seterr(err, SS_EINPUT, "sequence length %d is beyond the positional table of %d positions", T, t->Tmax);
  for (int i = 0; i < T; i++)
    if (x[i] < 0 || x[i] >= t->V)
      return ss_seterr(err, SS_EINPUT, "token %d at position %d is outside the vocabulary of %d tokens", x[i], i, t->V);
  int *tg = calloc((size_t)T, sizeof(int));
  if (!tg) return ss_seterr(err, SS_ERUN, "out of memory");
  double L;
  long h;
  int rc = forward(t, x, tg, tg, 1, T, 0, &L, &h, err);
  free(tg);
  if (rc) return rc;
  const size_t n = (size_t)t->H * T * T;
  const int l0 = layer == SS_TF_ALL_LAYERS ? 0 : layer, l1 = layer == SS_TF_ALL_LAYERS ? t->L : layer + 1;
  for (int l = l0; l < l1; l++) memcpy(att + (size_t)(l - l0) * n, t->layer[l].att, sizeof(float) * n);
  return SS_OK;
}

int ss_tf_attention_layer(ss_model *m, const int *x, int T, int layer, float *att, ss_err *err) {
  const int old = blas_enter();
  const int rc = attention_impl(m, x, T, layer, att, err);
  blas_leave(old);
  return rc;
}

int ss_tf_attention(ss_model *m, const int *x, int T, float *att, ss_err *err) {
  return ss_tf_attention_layer(m, x, T, 0, att, err);
}

/* SPEC §3 for the transformer: for class n, PROBE sequences drawn from P(.|n) with a fixed
 * seed (the same probes at every save step), the query position's attention (mean over
 * heads) summed per token id over the contextual positions 0..T-2, renormalised over them
 * (the query's weight on itself is left out, as the Y/Z model's keys leave it out), and
 * averaged over the probes. With several layers: layer 0's attention (the layer whose keys
 * are the tokens themselves). */
#define PROBE 64
static int composition_impl(ss_model *m, const ss_classes *cl, double *c, ss_err *err) {
  tf_impl *t = m->impl;
  if (cl->M != t->V) return ss_seterr(err, SS_EINPUT, "class table has M = %d, model has M = %d", cl->M, t->V);
  const int T = t->Tmax, H = t->H;
  if (T < 2) return ss_seterr(err, SS_EINPUT, "key 'data.T': the composition needs T >= 2");
  ss_batch b;
  int rc = ss_batch_alloc(&b, PROBE, T, err);
  if (rc) return rc;
  const int was = t->training;
  for (int n = 0; n < cl->N && rc == SS_OK; n++) {
    ss_rng r;
    ss_rng_seed(&r, 0x9B0BE5EEDULL + (uint64_t)n);
    const int lo = cl->supp_off[n], hi = cl->supp_off[n + 1];
    for (int s = 0; s < PROBE; s++) {
      for (int i = 0; i < T - 1; i++) {
        double u = ss_rng_uniform(&r);
        int a = lo, z = hi - 1; /* first cdf > u */
        while (a < z) {
          int mid = (a + z) / 2;
          if (cl->supp_cdf[mid] > u)
            z = mid;
          else
            a = mid + 1;
        }
        b.x[s * T + i] = cl->supp_tok[a];
      }
      b.x[s * T + T - 1] = cl->query[n];
      b.label[s] = cl->next[n];
    }
    double L;
    long hits;
    t->training = 0;
    rc = forward(t, b.x, b.x, b.label, PROBE, T, 0, &L, &hits, err);
    t->training = was;
    if (rc) break;
    double *cn = c + (size_t)n * cl->M;
    memset(cn, 0, sizeof(double) * (size_t)cl->M);
    for (int s = 0; s < PROBE; s++) {
      double w[4096], *wp = T - 1 <= 4096 ? w : malloc(sizeof(double) * (size_t)(T - 1)), tot = 0;
      if (!wp) {
        rc = ss_seterr(err, SS_ERUN, "out of memory");
        break;
      }
      for (int j = 0; j < T - 1; j++) {
        double a = 0;
        for (int h = 0; h < H; h++) a += t->layer[0].att[(((size_t)s * H + h) * T + (T - 1)) * T + j];
        wp[j] = a / H;
        tot += wp[j];
      }
      for (int j = 0; j < T - 1; j++) cn[b.x[s * T + j]] += tot > 0 ? wp[j] / tot / PROBE : 1.0 / (T - 1) / PROBE;
      if (wp != w) free(wp);
    }
  }
  ss_batch_free(&b);
  return rc;
}

static int tf_composition(ss_model *m, const ss_classes *cl, double *c, ss_err *err) {
  const int old = blas_enter();
  const int rc = composition_impl(m, cl, c, err);
  blas_leave(old);
  return rc;
}

static void tf_free(ss_model *m) {
  tf_impl *t = m->impl;
  if (!t) return;
  free_acts(t);
  free(t->sinus);
  free(t->layer);
  free(t->names);
  free(t);
}

static const ss_model_ops tf_ops = {"transformer", tf_step, tf_eval, tf_composition, tf_free};

int ss_tf_new(const ss_config *cfg, int M, int T, ss_model **out, ss_err *err) {
  *out = NULL;
  const int C = cfg->model.d, H = cfg->model.H;
  if (H < 1 || C % H != 0)
    return ss_seterr(err, SS_EINPUT, "key 'model.H': %d heads do not divide model.d = %d", H, C);
  if (M < 2) return ss_seterr(err, SS_EINPUT, "vocabulary of %d tokens is too small for the transformer (need >= 2)", M);
  if (T < 1) return ss_seterr(err, SS_EINPUT, "key 'data.T': sequence length %d must be >= 1", T);
  if (cfg->model.nlayers < 1 || cfg->model.nlayers > SS_TF_MAX_LAYERS)
    return ss_seterr(err, SS_EINPUT, "key 'model.nlayers': %d layers, expected 1..%d", cfg->model.nlayers, SS_TF_MAX_LAYERS);
  tf_impl *t = calloc(1, sizeof *t);
  if (!t) return ss_seterr(err, SS_ERUN, "out of memory");
  t->V = M;
  t->Tmax = T;
  t->C = C;
  t->H = H;
  t->L = cfg->model.nlayers;
  t->ffn = cfg->model.use_ffn;
  t->F = t->ffn ? (cfg->model.ffn_hidden > 0 ? cfg->model.ffn_hidden : 4 * C) : 0;
  t->lm = cfg->model.task == SS_TASK_LM;
  t->wq = cfg->model.use_Wq;
  t->wk = cfg->model.use_Wk;
  t->wv = cfg->model.use_Wv;
  t->wo = cfg->model.use_Wo;
  t->bias = cfg->model.attn_bias;
  t->res = cfg->model.use_residue;
  t->ln = cfg->model.use_ln;
  t->gate = cfg->model.gate;
  t->pos = cfg->model.pos;
  t->tied = t->lm ? 0 : cfg->model.tied;
  t->p = (float)cfg->model.dropout;
  t->escale = cfg->model.scale_embed ? (float)sqrt((double)cfg->model.d) : 1.0f;
  t->seed = ss_stream_seed(cfg->seed, SS_STREAM_DROPOUT);
  t->training = 1;
  const int untied = t->lm || !t->tied;
  const int emb_att = cfg->model.embed_group == SS_EMBED_IN_ATTENTION;
  const int L = t->L;
  /* every tensor (shared, or kind k of layer l) with its shape (0 = absent) and the slots
   * its views go to, in layout order: group 0 first */
  typedef struct {
    int kind, layer; /* layer -1: shared tensor */
    int64_t sh[2];
    float **P, **G;
  } slot;
  slot *sl = malloc(sizeof(slot) * (size_t)(S_COUNT + L * L_COUNT));
  t->layer = calloc((size_t)L, sizeof(tf_layer));
  t->names = L > 1 ? malloc(sizeof(*t->names) * (size_t)L * L_COUNT) : NULL;
  if (!sl || !t->layer || (L > 1 && !t->names)) {
    free(sl);
    free(t->layer);
    free(t->names);
    free(t);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  int no = 0, g0 = 0;
#define SHARED(k) (sl[no++] = (slot){(k), -1, {0, 0}, &t->P[k], &t->G[k]})
#define LAYERS(k0, k1)                                                                   \
  for (int l = 0; l < L; l++)                                                             \
    for (int k = (k0); k < (k1); k++) sl[no++] = (slot){k, l, {0, 0}, &t->layer[l].P[k], &t->layer[l].G[k]}
  if (!emb_att) SHARED(S_U), SHARED(S_POS);
  LAYERS(L_LN1W, L_WQ);
  SHARED(S_WD), SHARED(S_BD);
  g0 = no;
  if (emb_att) SHARED(S_U), SHARED(S_POS);
  LAYERS(L_WQ, L_COUNT);
#undef SHARED
#undef LAYERS
  const int on[4] = {t->wq, t->wk, t->wv, t->wo};
  for (int i = 0; i < no; i++) {
    int64_t *sh = sl[i].sh;
    const int k = sl[i].kind;
    if (sl[i].layer < 0) {
      if (k == S_U) sh[0] = M, sh[1] = C;
      if (k == S_POS && t->pos == SS_POS_LEARNED) sh[0] = T, sh[1] = C;
      if (k == S_WD && untied) sh[0] = M, sh[1] = C;
      if (k == S_BD && untied) sh[0] = M;
      continue;
    }
    if ((k == L_LN1W || k == L_LN1B) && t->ln) sh[0] = C;
    if (t->ffn) {
      if (k == L_W1) sh[0] = t->F, sh[1] = C;
      if (k == L_B1) sh[0] = t->F;
      if (k == L_W2) sh[0] = C, sh[1] = t->F;
      if (k == L_B2) sh[0] = C;
      if ((k == L_LN2W || k == L_LN2B) && t->ln) sh[0] = C;
    }
    if (k >= L_WQ && on[(k - L_WQ) / 2]) {
      if ((k - L_WQ) % 2 == 0)
        sh[0] = C, sh[1] = C;
      else if (t->bias)
        sh[0] = C;
    }
  }
  size_t total = 0, gsize[2] = {0, 0};
  for (int i = 0; i < no; i++) {
    size_t n = sl[i].sh[0] == 0 ? 0 : (size_t)sl[i].sh[0] * (sl[i].sh[1] ? (size_t)sl[i].sh[1] : 1);
    total += n;
    gsize[i >= g0] += n;
  }
  const size_t state_off = total; /* dropout step counter, in no group (never updated) */
  total += 2;
  double bytes = (double)total * 4 * 4 + (double)M * 4 * 64;
  if (bytes > 64e9) {
    free(sl);
    tf_free(&(ss_model){.impl = t});
    return ss_seterr(err, SS_EINPUT, "model of %zu parameters (vocabulary %d, d = %d, %d layers) does not fit in memory", total, M,
                     C, L);
  }
  ss_model *m = calloc(1, sizeof *m);
  if (m) {
    m->params = calloc(total ? total : 1, sizeof(float));
    m->grads = calloc(total ? total : 1, sizeof(float));
  }
  if (t->pos == SS_POS_SINUSOIDAL) t->sinus = malloc(sizeof(float) * (size_t)T * C);
  if (!m || !m->params || !m->grads || (t->pos == SS_POS_SINUSOIDAL && !t->sinus)) {
    free(sl);
    tf_free(&(ss_model){.impl = t});
    ss_model_free(m);
    return ss_seterr(err, SS_EINPUT, "model of %zu parameters does not fit in memory", total);
  }
  m->ops = &tf_ops;
  m->impl = t;
  m->dtype = SS_F32;
  m->nparams = total;
  float *P = m->params, *G = m->grads;
  size_t off = 0;
  for (int i = 0; i < no; i++) {
    const int64_t *sh = sl[i].sh;
    if (sh[0] == 0) continue;
    *sl[i].P = P + off;
    *sl[i].G = G + off;
    off += (size_t)sh[0] * (sh[1] ? (size_t)sh[1] : 1);
    const char *name = sl[i].layer < 0 ? snames[sl[i].kind] : lnames[sl[i].kind];
    if (sl[i].layer >= 0 && L > 1) {
      char *nm = t->names[sl[i].layer * L_COUNT + sl[i].kind];
      snprintf(nm, sizeof *t->names, "l%d.%s", sl[i].layer, lnames[sl[i].kind]);
      name = nm;
    }
    m->tensors[m->ntensors++] = (ss_tensor){(char *)name, SS_F32, sh[1] ? 2 : 1, {sh[0], sh[1]}, *sl[i].P};
  }
  t->state = P + state_off;
  m->tensors[m->ntensors++] = (ss_tensor){"state.dropout_step", SS_F32, 1, {2}, t->state};
  m->ngroups = 2;
  m->groups[0] = (ss_param_group){.name = "decoder", .offset = 0, .count = gsize[0], .lr = ss_config_lr_y(cfg)};
  m->groups[1] = (ss_param_group){.name = "attention", .offset = gsize[0], .count = gsize[1], .lr = ss_config_lr_z(cfg)};
  /* Initialisation (seeded, serial, in layout order): nn.Embedding N(0,1) as the paper's
   * synthetic code; the LM's embedding and decoder U(-0.1,0.1) as PyTorch's
   * word_language_model example; linear layers nn.Linear's U(+-1/sqrt(fan_in)); biases of
   * attention/decoder 0; LN 1/0. */
  ss_rng r;
  ss_rng_seed(&r, ss_stream_seed(cfg->seed, SS_STREAM_INIT));
  for (int i = 0; i < no; i++) {
    const int64_t *sh = sl[i].sh;
    if (sh[0] == 0) continue;
    size_t n = (size_t)sh[0] * (sh[1] ? (size_t)sh[1] : 1);
    float *w = *sl[i].P;
    double bound = 0;
    if (sl[i].layer < 0) {
      switch (sl[i].kind) {
      case S_U:
        if (t->lm) bound = 0.1;
        else
          for (size_t j = 0; j < n; j++) w[j] = (float)ss_rng_normal(&r);
        break;
      case S_POS: bound = 0.1; break;
      case S_WD: bound = t->lm ? 0.1 : 1.0 / sqrt((double)C); break;
      default: break; /* decoder bias: 0 */
      }
    } else {
      switch (sl[i].kind) {
      case L_LN1W: case L_LN2W: for (size_t j = 0; j < n; j++) w[j] = 1.0f; break;
      case L_W1: case L_B1: bound = 1.0 / sqrt((double)C); break;
      case L_W2: case L_B2: bound = 1.0 / sqrt((double)t->F); break;
      case L_WQ: case L_WK: case L_WV: case L_WO: bound = 1.0 / sqrt((double)C); break;
      default: break; /* attention biases, LN bias: 0 */
      }
    }
    if (bound > 0)
      for (size_t j = 0; j < n; j++) w[j] = (float)((2.0 * ss_rng_uniform(&r) - 1.0) * bound);
  }
  free(sl);
  if (t->sinus) /* pe[t,2i] = sin(t/10000^(2i/C)), pe[t,2i+1] = cos(same) */
    for (int tt = 0; tt < T; tt++)
      for (int c = 0; c < C; c++) {
        double ang = tt / pow(10000.0, (double)(c - c % 2) / C);
        t->sinus[(size_t)tt * C + c] = (float)(c % 2 ? cos(ang) : sin(ang));
      }
  *out = m;
  return SS_OK;
}

const float *ss_tfi_buffer(const ss_model *m, const char *what, int layer) {
  const tf_impl *t = m->impl;
  if (!strcmp(what, "logits")) return t->logits;
  if (!strcmp(what, "att") && layer >= 0 && layer < t->L) return t->layer[layer].att;
  return NULL;
}
