/* Layers of the 1-layer transformer (SPEC §2.2) as llm.c-style forward/backward pairs over
 * flat float buffers. Internal to src/transformer (not a public header); the functions
 * carry the ss_tfl_ prefix only because the gradient-check test calls them directly.
 *
 * Shapes: B = batch, T = sequence length, C = model width d, H = heads, hs = C/H,
 * F = FFN hidden size, V = vocabulary, N = rows of a linear layer (B*T or B).
 * Backward functions ACCUMULATE into their input gradients (d_inp += ...) unless the
 * comment says "overwrites"; parameter gradients are OVERWRITTEN (each parameter is used
 * once, the tied embedding being handled by its caller).
 *
 * Determinism: every reduction has a fixed order that depends on the shapes only, never on
 * the number of threads; matrix products go through ss_tfl_gemm (fixed tiles, each tile one
 * single-threaded BLAS call). */
#ifndef SS_TF_LAYERS_H
#define SS_TF_LAYERS_H
#include <stddef.h>
#include <stdint.h>

/* C[m,n] = beta*C + op(A) op(B); row-major; ta/tb: op = transpose. The product is cut into
 * tiles chosen from (m, n) alone; tiles run in parallel (OpenMP), each one cblas_sgemm with
 * OpenBLAS kept at one thread, so the result does not depend on the thread count. */
void ss_tfl_gemm(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);

/* Dropout keep decision of element i at (seed, site, counter): a hash, so the mask needs no
 * storage, is recomputed in the backward, and does not depend on threads. */
static inline int ss_tfl_keep(uint64_t key, size_t i, uint32_t thresh) {
  uint64_t z = key + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (uint32_t)(z >> 32) >= thresh;
}
/* thresh = p * 2^32; key from ss_tfl_drop_key. */
uint64_t ss_tfl_drop_key(uint64_t seed, int site, uint64_t counter);
/* out = inp * keep / (1-p) (in place allowed); p = 0 copies. */
void ss_tfl_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t key);
/* dinp = dout * keep / (1-p) (overwrites; in place allowed). */
void ss_tfl_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t key);

/* out[B*T,C] = U[x] (+ pos[t]) ; pos [T,C] may be NULL. */
void ss_tfl_embed_forward(float *out, const int *x, const float *U, float scale, const float *pos, int B, int T, int C);
/* dU[x] += dout (serial in token order), dpos[t] += sum_b dout (either may be NULL). */
void ss_tfl_embed_backward(float *dU, float *dpos, const float *dout, const int *x, float scale, int B, int T, int C);

/* out[N,OC] = inp[N,IC] W[OC,IC]^T + b[OC] (b may be NULL). */
void ss_tfl_linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int IC, int OC);
/* dinp[N,IC] += dout W (if dinp); dW = dout^T inp; db = sum over rows of dout (if db). */
void ss_tfl_linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                            int N, int IC, int OC);

/* Scaled dot-product attention, head h uses columns h*hs..(h+1)*hs-1 of q, k, v [B,T,C]:
 *   att[b,h,i,j] = softmax_j(q_i.k_j / sqrt(hs)) (j <= i if causal)
 *   attd = dropout(att) (site key; p = 0: attd may equal att)
 *   out[b,i,h*hs:] = sum_j attd[b,h,i,j] v_j                         (overwrites out) */
void ss_tfl_attention_forward(float *out, float *att, float *attd, const float *q, const float *k, const float *v,
                              int B, int T, int C, int H, int causal, float p, uint64_t key);
/* Overwrites dq, dk, dv [B,T,C]; scratch [B,H,T,T]. */
void ss_tfl_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *q,
                               const float *k, const float *v, const float *att, const float *attd, int B, int T,
                               int C, int H, int causal, float p, uint64_t key);

/* out = (inp - mean)/sqrt(var + 1e-5) * w + b per row of C (PyTorch LayerNorm, biased var). */
void ss_tfl_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                              int N, int C);
/* dinp += ...; dw, db overwritten. */
void ss_tfl_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C);

/* gate 0 = ReLU, 1 = SiLU (x sigmoid(x)). */
void ss_tfl_gate_forward(float *out, const float *inp, size_t n, int gate);
/* dinp = dout * gate'(inp) (overwrites). */
void ss_tfl_gate_backward(float *dinp, const float *dout, const float *inp, size_t n, int gate);

/* Decoder + softmax cross-entropy, fused: logits[N,V] = inp W^T (+ b); per row r the loss
 * -log softmax(logits_r)[target_r]; then (if backward) logits is overwritten in place with
 * dlogits = (softmax - onehot) * scale. Returns the summed loss; *hits = rows whose
 * argmax is the target. db (if b and backward) is overwritten with the column sums of
 * dlogits (fixed row chunks, then chunks in order). */
double ss_tfl_decoder_xent(float *logits, const float *inp, const float *W, const float *b, const int *target, int N,
                           int C, int V, float scale, int backward, float *db, float *partial, long *hits);
/* Scratch floats ss_tfl_decoder_xent needs in partial (for the bias gradient). */
size_t ss_tfl_decoder_partial_size(int N, int V);

/* exp for x <= 0 (softmax after max subtraction), vectorisable, relative error ~2e-7. */
static inline float ss_tfl_expf(float x) {
  if (x < -87.0f) x = -87.0f;
  /* round to nearest by the 1.5*2^23 trick (|x log2 e| < 2^22), so the loop vectorises
   * without -ffast-math (roundf is a libm call) */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union {
    float f;
    int32_t i;
  } u;
  u.i = ((int32_t)n + 127) << 23;
  return p * u.f;
}

#endif
