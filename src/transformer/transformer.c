/* The standard 1-layer transformer (SPEC §2.2) behind ss_model, float32.
 *
 * Forward (N = B*T rows of width C = model.d; every switch as in model.*):
 *   h0 = dropout(U[x] + pos)                                     [N,C]
 *   q, k, v = h0 Wq^T + bq, ... (identity when use_Wq/Wk/Wv = false)
 *   o  = attention(q, k, v)  (1/sqrt(C/H), causal for the LM, dropout on the weights)
 *   ow = o Wo^T + bo (use_Wo)
 *   r1 = dropout(ow) (+ h0 if use_residue);   h1 = LN1(r1) (use_ln) else r1
 *   FFN (use_ffn): u = h1 W1^T + b1 [N,F]; a = dropout(gate(u)); f = a W2^T + b2;
 *        r2 = dropout(f) (+ h1);  h2 = LN2(r2) (use_ln) else r2
 *   z = h2 (or h1 without FFN)
 *   synthetic: logits[B,V] = z[:,T-1] U^T (tied) or z[:,T-1] Wd^T + bd; loss = CE(label)
 *   lm:        logits[N,V] = z Wd^T + bd (always untied); loss = mean CE(y) over N
 * With use_residue, use_ln, use_ffn, use_Wo and attn_bias all on this is PyTorch's
 * nn.TransformerEncoderLayer (post-norm, norm_first=False). Without LN/FFN/W_O/biases it is
 * the paper's synthetic SABlock (which adds its residual after the FFN instead; the FFN is
 * off in the paper's runs).
 *
 * Parameters: one flat float array, tensors laid out group by group (groups[0] = decoder:
 * embedding*, positional table*, LayerNorms, FFN, decoder; groups[1] = attention: W_Q, W_K,
 * W_V, W_O and their biases; * = moves to groups[1] with model.embed_group=attention). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/transformer.h"
#include "transformer/tf_internal.h"
#include "transformer/tf_layers.h"

enum {
  P_U, P_POS, P_LN1W, P_LN1B, P_W1, P_B1, P_W2, P_B2, P_LN2W, P_LN2B, P_WD, P_BD,
  P_WQ, P_BQ, P_WK, P_BK, P_WV, P_BV, P_WO, P_BO, P_COUNT
};

static const char *const pnames[P_COUNT] = {
  "embed.weight", "pos.weight", "ln1.weight", "ln1.bias", "ffn.w1", "ffn.b1", "ffn.w2", "ffn.b2",
  "ln2.weight", "ln2.bias", "decoder.weight", "decoder.bias",
  "attn.Wq", "attn.bq", "attn.Wk", "attn.bk", "attn.Wv", "attn.bv", "attn.Wo", "attn.bo"};

typedef struct {
  int V, Tmax, C, H, F, lm, wq, wk, wv, wo, bias, res, ln, ffn, gate, pos, tied;
  float p;
  uint64_t seed;
  int training;
  uint64_t counter; /* training steps done: keys the dropout masks */
  float *state;     /* [2] the counter as two 16-bit halves, a tensor outside every group so
                       that checkpoints carry it and a resumed run draws the same masks */
  float *P[P_COUNT], *G[P_COUNT]; /* views into params / grads; NULL when absent */
  float *sinus;                   /* [Tmax, C] fixed sinusoidal table (model.pos=sinusoidal) */
  /* activations, sized for cap rows */
  size_t cap_N, cap_rows, cap_att;
  float *arena;
  float *h0, *q, *k, *v, *o, *ow, *r1, *h1, *m1, *s1, *u, *a, *f, *r2, *h2, *m2, *s2, *zl;
  float *att, *attd, *datt;
  float *dz, *dh1, *dr, *du, *dow, *do_, *dq, *dk, *dv, *dh0, *dzl;
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
  const size_t C = t->C, F = t->F;
  /* 22 buffers of [N,C], 4 of [N,F], 3 of [B,H,T,T], 4 of [N], 2 of [B,C] */
  size_t total = 22 * N * C + 4 * N * F + 3 * natt + 4 * N + 2 * (size_t)B * C;
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
#define TAKE(x, n) (t->x = p, p += (n))
  TAKE(h0, N * C); TAKE(q, N * C); TAKE(k, N * C); TAKE(v, N * C); TAKE(o, N * C); TAKE(ow, N * C);
  TAKE(r1, N * C); TAKE(h1, N * C); TAKE(f, N * C); TAKE(r2, N * C); TAKE(h2, N * C);
  TAKE(dz, N * C); TAKE(dh1, N * C); TAKE(dr, N * C); TAKE(dow, N * C); TAKE(do_, N * C);
  TAKE(dq, N * C); TAKE(dk, N * C); TAKE(dv, N * C); TAKE(dh0, N * C);
  p += 2 * N * C; /* spare */
  TAKE(u, N * F); TAKE(a, N * F); TAKE(du, N * F); p += N * F;
  TAKE(att, natt); TAKE(attd, natt); TAKE(datt, natt);
  TAKE(m1, N); TAKE(s1, N); TAKE(m2, N); TAKE(s2, N);
  TAKE(zl, (size_t)B * C); TAKE(dzl, (size_t)B * C);
#undef TAKE
  t->cap_N = N;
  t->cap_rows = rows;
  t->cap_att = natt;
  return SS_OK;
}

/* The forward pass; leaves every activation the backward needs. Returns the summed loss
 * over output rows in *lsum, hits in *hits; with backward, logits hold dlogits. */
static int forward(tf_impl *t, const int *x, const int *target_lm, const int *label, int B, int T, int backward,
                   double *lsum, long *hits, ss_err *err) {
  int rc = grow(t, B, T, err);
  if (rc) return rc;
  const int C = t->C, N = B * T, F = t->F;
  const int drop = t->training && backward && t->p > 0;
  const float p = drop ? t->p : 0.0f;
#define KEY(site) ss_tfl_drop_key(t->seed, (site), t->counter)
  const float *pos = t->pos == SS_POS_LEARNED ? t->P[P_POS] : t->pos == SS_POS_SINUSOIDAL ? t->sinus : NULL;
  t->x = x;
  ss_tfl_embed_forward(t->h0, x, t->P[P_U], pos, B, T, C);
  ss_tfl_dropout_forward(t->h0, t->h0, (size_t)N * C, p, KEY(0));
  float *q = t->h0, *k = t->h0, *v = t->h0;
  if (t->wq) ss_tfl_linear_forward(q = t->q, t->h0, t->P[P_WQ], t->P[P_BQ], N, C, C);
  if (t->wk) ss_tfl_linear_forward(k = t->k, t->h0, t->P[P_WK], t->P[P_BK], N, C, C);
  if (t->wv) ss_tfl_linear_forward(v = t->v, t->h0, t->P[P_WV], t->P[P_BV], N, C, C);
  ss_tfl_attention_forward(t->o, t->att, t->attd, q, k, v, B, T, C, t->H, t->lm, p, KEY(1));
  float *ow = t->o;
  if (t->wo) ss_tfl_linear_forward(ow = t->ow, t->o, t->P[P_WO], t->P[P_BO], N, C, C);
  ss_tfl_dropout_forward(t->r1, ow, (size_t)N * C, p, KEY(2));
  if (t->res)
    for (size_t i = 0; i < (size_t)N * C; i++) t->r1[i] += t->h0[i];
  float *h1 = t->r1;
  if (t->ln) ss_tfl_layernorm_forward(h1 = t->h1, t->m1, t->s1, t->r1, t->P[P_LN1W], t->P[P_LN1B], N, C);
  float *z = h1;
  if (t->ffn) {
    ss_tfl_linear_forward(t->u, h1, t->P[P_W1], t->P[P_B1], N, C, F);
    ss_tfl_gate_forward(t->a, t->u, (size_t)N * F, t->gate);
    ss_tfl_dropout_forward(t->a, t->a, (size_t)N * F, p, KEY(3));
    ss_tfl_linear_forward(t->f, t->a, t->P[P_W2], t->P[P_B2], N, F, C);
    ss_tfl_dropout_forward(t->r2, t->f, (size_t)N * C, p, KEY(4));
    if (t->res)
      for (size_t i = 0; i < (size_t)N * C; i++) t->r2[i] += h1[i];
    z = t->r2;
    if (t->ln) ss_tfl_layernorm_forward(z = t->h2, t->m2, t->s2, t->r2, t->P[P_LN2W], t->P[P_LN2B], N, C);
  }
  /* decoder input: every position (lm) or the last one (synthetic) */
  const float *zin = z;
  int rows = N;
  if (t->lm) {
    memcpy(t->tgt, target_lm, sizeof(int) * (size_t)N);
  } else {
    for (int b = 0; b < B; b++) memcpy(t->zl + (size_t)b * C, z + ((size_t)b * T + T - 1) * C, sizeof(float) * C);
    memcpy(t->tgt, label, sizeof(int) * (size_t)B);
    zin = t->zl;
    rows = B;
  }
  for (int r = 0; r < rows; r++)
    if (t->tgt[r] >= t->V)
      return ss_seterr(err, SS_EINPUT, "target token %d at row %d is outside the vocabulary of %d tokens", t->tgt[r], r, t->V);
  const int untied = t->lm || !t->tied;
  const float *Wdec = untied ? t->P[P_WD] : t->P[P_U];
  *lsum = ss_tfl_decoder_xent(t->logits, zin, Wdec, untied ? t->P[P_BD] : NULL, t->tgt, rows, C, t->V,
                              1.0f / (float)rows, backward, untied ? t->G[P_BD] : NULL, t->partial, hits);
#undef KEY
  return SS_OK;
}

static void backward(tf_impl *t, int B, int T) {
  const int C = t->C, N = B * T, F = t->F;
  const size_t NC = (size_t)N * C;
  const float p = t->training && t->p > 0 ? t->p : 0.0f;
#define KEY(site) ss_tfl_drop_key(t->seed, (site), t->counter)
  const int untied = t->lm || !t->tied;
  const float *Wdec = untied ? t->P[P_WD] : t->P[P_U];
  float *dWdec = untied ? t->G[P_WD] : t->G[P_U];
  const int rows = t->lm ? N : B;
  const float *zin;
  /* recover the decoder input: z is h2, r2, h1 or r1 depending on the switches */
  const float *z = t->ffn ? (t->ln ? t->h2 : t->r2) : (t->ln ? t->h1 : t->r1);
  zin = t->lm ? z : t->zl;
  /* decoder: dz_in = dlogits W ; dW = dlogits^T z_in (overwrites; the tied embedding
   * gradient starts here and the embedding backward adds to it) */
  float *dzin = t->lm ? t->dz : t->dzl;
  ss_tfl_gemm(0, 0, rows, C, t->V, t->logits, t->V, Wdec, C, 0.0f, dzin, C);
  ss_tfl_gemm(1, 0, t->V, C, rows, t->logits, t->V, zin, C, 0.0f, dWdec, C);
  if (!t->lm) {
    memset(t->dz, 0, sizeof(float) * NC);
    for (int b = 0; b < B; b++) memcpy(t->dz + ((size_t)b * T + T - 1) * C, t->dzl + (size_t)b * C, sizeof(float) * C);
  }
  float *dh1 = t->dz; /* gradient w.r.t. h1 */
  if (t->ffn) {
    const float *h1 = t->ln ? t->h1 : t->r1;
    float *dr2 = t->dz;
    if (t->ln) {
      memset(t->dr, 0, sizeof(float) * NC);
      ss_tfl_layernorm_backward(t->dr, t->G[P_LN2W], t->G[P_LN2B], t->dz, t->r2, t->P[P_LN2W], t->m2, t->s2, N, C);
      dr2 = t->dr;
    }
    if (t->res)
      memcpy(t->dh1, dr2, sizeof(float) * NC);
    else
      memset(t->dh1, 0, sizeof(float) * NC);
    ss_tfl_dropout_backward(t->dow, dr2, NC, p, KEY(4)); /* dow used as df scratch */
    memset(t->du, 0, sizeof(float) * (size_t)N * F);
    ss_tfl_linear_backward(t->du, t->G[P_W2], t->G[P_B2], t->dow, t->a, t->P[P_W2], N, F, C);
    ss_tfl_dropout_backward(t->du, t->du, (size_t)N * F, p, KEY(3));
    ss_tfl_gate_backward(t->du, t->du, t->u, (size_t)N * F, t->gate);
    ss_tfl_linear_backward(t->dh1, t->G[P_W1], t->G[P_B1], t->du, h1, t->P[P_W1], N, C, F);
    dh1 = t->dh1;
  }
  float *dr1 = dh1;
  if (t->ln) {
    memset(t->dr, 0, sizeof(float) * NC);
    ss_tfl_layernorm_backward(t->dr, t->G[P_LN1W], t->G[P_LN1B], dh1, t->r1, t->P[P_LN1W], t->m1, t->s1, N, C);
    dr1 = t->dr;
  }
  if (t->res)
    memcpy(t->dh0, dr1, sizeof(float) * NC);
  else
    memset(t->dh0, 0, sizeof(float) * NC);
  ss_tfl_dropout_backward(t->dow, dr1, NC, p, KEY(2));
  float *dO = t->dow;
  if (t->wo) {
    memset(t->do_, 0, sizeof(float) * NC);
    ss_tfl_linear_backward(t->do_, t->G[P_WO], t->G[P_BO], t->dow, t->o, t->P[P_WO], N, C, C);
    dO = t->do_;
  }
  const float *q = t->wq ? t->q : t->h0, *k = t->wk ? t->k : t->h0, *v = t->wv ? t->v : t->h0;
  ss_tfl_attention_backward(t->dq, t->dk, t->dv, t->datt, dO, q, k, v, t->att, t->attd, B, T, C, t->H, t->lm, p,
                            KEY(1));
  const int use[3] = {t->wq, t->wk, t->wv};
  float *dsrc[3] = {t->dq, t->dk, t->dv};
  const int pw[3] = {P_WQ, P_WK, P_WV}, pb[3] = {P_BQ, P_BK, P_BV};
  for (int j = 0; j < 3; j++) {
    if (use[j]) {
      ss_tfl_linear_backward(t->dh0, t->G[pw[j]], t->G[pb[j]], dsrc[j], t->h0, t->P[pw[j]], N, C, C);
    } else {
      for (size_t i = 0; i < NC; i++) t->dh0[i] += dsrc[j][i];
    }
  }
  ss_tfl_dropout_backward(t->dh0, t->dh0, NC, p, KEY(0));
  if (untied) memset(t->G[P_U], 0, sizeof(float) * (size_t)t->V * C);
  if (t->pos == SS_POS_LEARNED) memset(t->G[P_POS], 0, sizeof(float) * (size_t)t->Tmax * C);
  ss_tfl_embed_backward(t->G[P_U], t->pos == SS_POS_LEARNED ? t->G[P_POS] : NULL, t->dh0, t->x, B, T, C);
#undef KEY
}

static void set_blas_threads(void) {
  /* Our tiles are the parallelism; OpenBLAS's own threads would make sums depend on the
   * thread count (measured: OpenBLAS 0.3.21 sgemm results differ between 1 and 2 threads). */
  openblas_set_num_threads(1);
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

static int tf_run(ss_model *m, const ss_batch *b, double *loss, double *acc, int bwd, ss_err *err) {
  tf_impl *t = m->impl;
  t->counter = half(t->state[0]) << 16 | half(t->state[1]);
  int rc = check_batch(t, b, err);
  if (rc) return rc;
  set_blas_threads();
  double L;
  long hits;
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

static int tf_step(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return tf_run(m, b, loss, acc, 1, err);
}
static int tf_eval(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return tf_run(m, b, loss, acc, 0, err);
}

void ss_tf_set_training(ss_model *m, int training) { ((tf_impl *)m->impl)->training = training != 0; }

int ss_tf_attention(ss_model *m, const int *x, int T, float *att, ss_err *err) {
  tf_impl *t = m->impl;
  if (T < 1 || (T > t->Tmax && t->pos != SS_POS_NONE))
    return ss_seterr(err, SS_EINPUT, "sequence length %d is beyond the positional table of %d positions", T, t->Tmax);
  for (int i = 0; i < T; i++)
    if (x[i] < 0 || x[i] >= t->V)
      return ss_seterr(err, SS_EINPUT, "token %d at position %d is outside the vocabulary of %d tokens", x[i], i, t->V);
  set_blas_threads();
  int *tg = calloc((size_t)T, sizeof(int));
  if (!tg) return ss_seterr(err, SS_ERUN, "out of memory");
  double L;
  long h;
  int rc = forward(t, x, tg, tg, 1, T, 0, &L, &h, err);
  free(tg);
  if (rc) return rc;
  memcpy(att, t->att, sizeof(float) * (size_t)t->H * T * T);
  return SS_OK;
}

/* SPEC §3 for the transformer: for class n, PROBE sequences drawn from P(.|n) with a fixed
 * seed (the same probes at every save step), the query position's attention (mean over
 * heads) summed per token id over the contextual positions 0..T-2, renormalised over them
 * (the query's weight on itself is left out, as the Y/Z model's keys leave it out), and
 * averaged over the probes. */
#define PROBE 64
static int tf_composition(ss_model *m, const ss_classes *cl, double *c, ss_err *err) {
  tf_impl *t = m->impl;
  if (cl->M != t->V) return ss_seterr(err, SS_EINPUT, "class table has M = %d, model has M = %d", cl->M, t->V);
  const int T = t->Tmax, H = t->H;
  if (T < 2) return ss_seterr(err, SS_EINPUT, "key 'data.T': the composition needs T >= 2");
  ss_batch b;
  int rc = ss_batch_alloc(&b, PROBE, T, err);
  if (rc) return rc;
  set_blas_threads();
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
        for (int h = 0; h < H; h++) a += t->att[(((size_t)s * H + h) * T + (T - 1)) * T + j];
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

static void tf_free(ss_model *m) {
  tf_impl *t = m->impl;
  if (!t) return;
  free_acts(t);
  free(t->sinus);
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
  tf_impl *t = calloc(1, sizeof *t);
  if (!t) return ss_seterr(err, SS_ERUN, "out of memory");
  t->V = M;
  t->Tmax = T;
  t->C = C;
  t->H = H;
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
  t->seed = ss_stream_seed(cfg->seed, SS_STREAM_DROPOUT);
  t->training = 1;
  const int untied = t->lm || !t->tied;
  const int emb_att = cfg->model.embed_group == SS_EMBED_IN_ATTENTION;
  /* shapes (0 = absent) and groups */
  int64_t sh[P_COUNT][2];
  memset(sh, 0, sizeof sh);
  sh[P_U][0] = M, sh[P_U][1] = C;
  if (t->pos == SS_POS_LEARNED) sh[P_POS][0] = T, sh[P_POS][1] = C;
  if (t->ln) sh[P_LN1W][0] = sh[P_LN1B][0] = C;
  if (t->ffn) {
    sh[P_W1][0] = t->F, sh[P_W1][1] = C, sh[P_B1][0] = t->F;
    sh[P_W2][0] = C, sh[P_W2][1] = t->F, sh[P_B2][0] = C;
    if (t->ln) sh[P_LN2W][0] = sh[P_LN2B][0] = C;
  }
  if (untied) sh[P_WD][0] = M, sh[P_WD][1] = C, sh[P_BD][0] = M;
  const int on[4] = {t->wq, t->wk, t->wv, t->wo};
  for (int j = 0; j < 4; j++)
    if (on[j]) {
      sh[P_WQ + 2 * j][0] = C, sh[P_WQ + 2 * j][1] = C;
      if (t->bias) sh[P_BQ + 2 * j][0] = C;
    }
  int order[P_COUNT], no = 0;
  for (int i = 0; i < P_COUNT; i++) /* group 0: everything but attention (and maybe the embedding) */
    if (i < P_WQ && !(emb_att && (i == P_U || i == P_POS))) order[no++] = i;
  const int g0 = no;
  if (emb_att) order[no++] = P_U, order[no++] = P_POS;
  for (int i = P_WQ; i < P_COUNT; i++) order[no++] = i;
  size_t off[P_COUNT], total = 0, gsize[2] = {0, 0};
  for (int oi = 0; oi < no; oi++) {
    int i = order[oi];
    size_t n = sh[i][0] == 0 ? 0 : (size_t)sh[i][0] * (sh[i][1] ? (size_t)sh[i][1] : 1);
    off[i] = total;
    total += n;
    gsize[oi >= g0] += n;
  }
  const size_t state_off = total; /* dropout step counter, in no group (never updated) */
  total += 2;
  double bytes = (double)total * 4 * 4 + (double)M * 4 * 64;
  if (bytes > 64e9) {
    free(t);
    return ss_seterr(err, SS_EINPUT, "model of %zu parameters (vocabulary %d, d = %d) does not fit in memory", total, M, C);
  }
  ss_model *m = calloc(1, sizeof *m);
  if (m) {
    m->params = calloc(total ? total : 1, sizeof(float));
    m->grads = calloc(total ? total : 1, sizeof(float));
  }
  if (t->pos == SS_POS_SINUSOIDAL) t->sinus = malloc(sizeof(float) * (size_t)T * C);
  if (!m || !m->params || !m->grads || (t->pos == SS_POS_SINUSOIDAL && !t->sinus)) {
    free(t->sinus);
    free(t);
    ss_model_free(m);
    return ss_seterr(err, SS_EINPUT, "model of %zu parameters does not fit in memory", total);
  }
  m->ops = &tf_ops;
  m->impl = t;
  m->dtype = SS_F32;
  m->nparams = total;
  float *P = m->params, *G = m->grads;
  for (int oi = 0; oi < no; oi++) {
    int i = order[oi];
    if (sh[i][0] == 0) continue;
    t->P[i] = P + off[i];
    t->G[i] = G + off[i];
    ss_tensor *tv = &m->tensors[m->ntensors++];
    *tv = (ss_tensor){(char *)pnames[i], SS_F32, sh[i][1] ? 2 : 1, {sh[i][0], sh[i][1]}, t->P[i]};
  }
  t->state = P + state_off;
  m->tensors[m->ntensors++] = (ss_tensor){"state.dropout_step", SS_F32, 1, {2}, t->state};
  m->ngroups = 2;
  m->groups[0] = (ss_param_group){"decoder", 0, gsize[0], ss_config_lr_y(cfg)};
  m->groups[1] = (ss_param_group){"attention", gsize[0], gsize[1], ss_config_lr_z(cfg)};
  /* Initialisation (seeded, serial): nn.Embedding N(0,1) as the paper's synthetic code;
   * the LM's embedding and decoder U(-0.1,0.1) as PyTorch's word_language_model example;
   * linear layers nn.Linear's U(+-1/sqrt(fan_in)); biases of attention/decoder 0; LN 1/0. */
  ss_rng r;
  ss_rng_seed(&r, ss_stream_seed(cfg->seed, SS_STREAM_INIT));
  for (int oi = 0; oi < no; oi++) {
    int i = order[oi];
    if (!t->P[i]) continue;
    size_t n = (size_t)sh[i][0] * (sh[i][1] ? (size_t)sh[i][1] : 1);
    float *w = t->P[i];
    double bound = 0;
    switch (i) {
    case P_U:
      if (t->lm) bound = 0.1;
      else
        for (size_t j = 0; j < n; j++) w[j] = (float)ss_rng_normal(&r);
      break;
    case P_POS: bound = 0.1; break;
    case P_LN1W: case P_LN2W: for (size_t j = 0; j < n; j++) w[j] = 1.0f; break;
    case P_W1: case P_B1: bound = 1.0 / sqrt((double)C); break;
    case P_W2: case P_B2: bound = 1.0 / sqrt((double)t->F); break;
    case P_WD: bound = t->lm ? 0.1 : 1.0 / sqrt((double)C); break;
    case P_WQ: case P_WK: case P_WV: case P_WO: bound = 1.0 / sqrt((double)C); break;
    default: break; /* biases, LN bias: 0 */
    }
    if (bound > 0)
      for (size_t j = 0; j < n; j++) w[j] = (float)((2.0 * ss_rng_uniform(&r) - 1.0) * bound);
  }
  if (t->sinus) /* pe[t,2i] = sin(t/10000^(2i/C)), pe[t,2i+1] = cos(same) */
    for (int tt = 0; tt < T; tt++)
      for (int c = 0; c < C; c++) {
        double ang = tt / pow(10000.0, (double)(c - c % 2) / C);
        t->sinus[(size_t)tt * C + c] = (float)(c % 2 ? cos(ang) : sin(ang));
      }
  *out = m;
  return SS_OK;
}

const float *ss_tfi_buffer(const ss_model *m, const char *what) {
  const tf_impl *t = m->impl;
  if (!strcmp(what, "logits")) return t->logits;
  if (!strcmp(what, "att")) return t->att;
  return NULL;
}
