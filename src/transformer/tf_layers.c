/* Forward/backward pairs of the transformer's layers (see tf_layers.h for shapes and the
 * accumulate/overwrite convention). */
#include "transformer/tf_layers.h"

#include "scansnap/common.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- matrix products */

static int round16(int x) { return (x + 15) / 16 * 16; }

void ss_tfl_gemm(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0.0f : beta * C[(size_t)i * ldc + j];
    return;
  }
  /* A long reduction with a small output (dX = dlogits W: k = V = 30000, C is 700 x 200):
   * tiling C would pack the big operands once per tile; instead cut k into 8 fixed chunks,
   * each chunk's product into its own buffer, then sum the chunks in order per element. */
  if (k >= 4096 && k >= 16 * (m > n ? m : n)) {
    const int nk = 8, kb = round16((k + nk - 1) / nk);
    float *part = malloc(sizeof(float) * (size_t)nk * m * n);
    if (part) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(ss_threads())
      for (int c = 0; c < nk; c++) {
        const int k0 = c * kb, kk = k - k0 < kb ? k - k0 : kb;
        float *pc = part + (size_t)c * m * n;
        if (kk <= 0) {
          memset(pc, 0, sizeof(float) * (size_t)m * n);
          continue;
        }
        const float *a = ta ? A + (size_t)k0 * lda : A + k0;
        const float *b = tb ? B + k0 : B + (size_t)k0 * ldb;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, kk, 1.0f, a,
                    lda, b, ldb, 0.0f, pc, n);
      }
#pragma omp parallel for schedule(static) num_threads(ss_threads())
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
          float s = beta == 0 ? 0.0f : beta * C[(size_t)i * ldc + j];
          for (int c = 0; c < nk; c++) s += part[(size_t)c * m * n + (size_t)i * n + j];
          C[(size_t)i * ldc + j] = s;
        }
      free(part);
      return;
    }
  }
  /* Tiles from the shape alone: halve the longer side until there are >= 8 tiles or both
   * sides are below 128. 8 tiles keep 2..8 threads busy; each tile is big enough for the
   * BLAS kernel to run near its single-core peak. */
  int mb = m, nb = n;
  while ((long)((m + mb - 1) / mb) * ((n + nb - 1) / nb) < 8 && (mb >= 128 || nb >= 128)) {
    if (mb >= nb)
      mb = round16((mb + 1) / 2);
    else
      nb = round16((nb + 1) / 2);
  }
  const int tm = (m + mb - 1) / mb, tn = (n + nb - 1) / nb;
#pragma omp parallel for schedule(dynamic, 1) if (tm * tn > 1 && (double)m * n * k > 2e5) num_threads(ss_threads())
  for (int t = 0; t < tm * tn; t++) {
    int i = (t / tn) * mb, j = (t % tn) * nb;
    int mm = m - i < mb ? m - i : mb, nn = n - j < nb ? n - j : nb;
    const float *a = ta ? A + i : A + (size_t)i * lda;
    const float *b = tb ? B + (size_t)j * ldb : B + j;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, mm, nn, k, 1.0f, a, lda,
                b, ldb, beta, C + (size_t)i * ldc + j, ldc);
  }
}

/* ---------------------------------------------------------------- dropout */

uint64_t ss_tfl_drop_key(uint64_t seed, int site, uint64_t counter) {
  uint64_t z = seed * 0xD1B54A32D192ED03ULL + (uint64_t)site * 0x8CB92BA72F3D8DD7ULL + counter * 0xABC98388FB8FAC03ULL;
  z ^= z >> 29;
  return z * 0xBF58476D1CE4E5B9ULL;
}

static uint32_t thresh_of(float p) { return (uint32_t)fmin(4294967295.0, (double)p * 4294967296.0); }

void ss_tfl_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t key) {
  if (p <= 0) {
    if (out != inp) memcpy(out, inp, n * sizeof(float));
    return;
  }
  const uint32_t th = thresh_of(p);
  const float s = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n > 65536) num_threads(ss_threads())
  for (size_t i = 0; i < n; i++) out[i] = ss_tfl_keep(key, i, th) ? inp[i] * s : 0.0f;
}

void ss_tfl_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t key) {
  ss_tfl_dropout_forward(dinp, dout, n, p, key); /* the same linear map */
}

/* ---------------------------------------------------------------- embedding */

void ss_tfl_embed_forward(float *out, const int *x, const float *U, float scale, const float *pos, int B, int T, int C) {
#pragma omp parallel for schedule(static) if ((long)B * T * C > 65536) num_threads(ss_threads())
  for (int bt = 0; bt < B * T; bt++) {
    const float *u = U + (size_t)x[bt] * C;
    float *o = out + (size_t)bt * C;
    if (pos) {
      const float *pp = pos + (size_t)(bt % T) * C;
      if (scale == 1.0f)
        for (int c = 0; c < C; c++) o[c] = u[c] + pp[c];
      else
        for (int c = 0; c < C; c++) o[c] = scale * u[c] + pp[c];
    } else if (scale == 1.0f) {
      memcpy(o, u, sizeof(float) * (size_t)C);
    } else {
      for (int c = 0; c < C; c++) o[c] = scale * u[c];
    }
  }
}

void ss_tfl_embed_backward(float *dU, float *dpos, const float *dout, const int *x, float scale, int B, int T, int C) {
  /* Serial in token order: several positions may hold the same token. O(B T C) only. */
  for (int bt = 0; bt < B * T; bt++) {
    const float *g = dout + (size_t)bt * C;
    if (dU && scale == 1.0f) {
      float *u = dU + (size_t)x[bt] * C;
      for (int c = 0; c < C; c++) u[c] += g[c];
    } else if (dU) {
      float *u = dU + (size_t)x[bt] * C;
      for (int c = 0; c < C; c++) u[c] += scale * g[c];
    }
    if (dpos) {
      float *pp = dpos + (size_t)(bt % T) * C;
      for (int c = 0; c < C; c++) pp[c] += g[c];
    }
  }
}

/* ---------------------------------------------------------------- linear */

void ss_tfl_linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int IC, int OC) {
  ss_tfl_gemm(0, 1, N, OC, IC, inp, IC, W, IC, 0.0f, out, OC); /* [N,IC] x [IC,OC] */
  if (b) {
#pragma omp parallel for schedule(static) if ((long)N * OC > 65536) num_threads(ss_threads())
    for (int r = 0; r < N; r++)
      for (int o = 0; o < OC; o++) out[(size_t)r * OC + o] += b[o];
  }
}

/* db[c] = sum_r dout[r,c], rows in order, columns in parallel. */
static void colsum(float *db, const float *dout, int N, int OC) {
#pragma omp parallel for schedule(static) if ((long)N * OC > 65536) num_threads(ss_threads())
  for (int o = 0; o < OC; o++) {
    float s = 0;
    for (int r = 0; r < N; r++) s += dout[(size_t)r * OC + o];
    db[o] = s;
  }
}

void ss_tfl_linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                            int N, int IC, int OC) {
  if (dinp) ss_tfl_gemm(0, 0, N, IC, OC, dout, OC, W, IC, 1.0f, dinp, IC); /* [N,OC] x [OC,IC] */
  if (dW) ss_tfl_gemm(1, 0, OC, IC, N, dout, OC, inp, IC, 0.0f, dW, IC);   /* [OC,N] x [N,IC] */
  if (db) colsum(db, dout, N, OC);
}

/* ---------------------------------------------------------------- attention */

/* Per (batch, head) the products are small single-threaded sgemms on strided views
 * (leading dimension C); the (b,h) pairs run in parallel and write disjoint slices. */
#define SG(ta, tb, m, n, k, A, lda, B, ldb, beta, Cm, ldc)                                                   \
  cblas_sgemm(CblasRowMajor, (ta) ? CblasTrans : CblasNoTrans, (tb) ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A, \
              lda, B, ldb, beta, Cm, ldc)

void ss_tfl_attention_forward(float *out, float *att, float *attd, const float *q, const float *k, const float *v,
                              int B, int T, int C, int H, int causal, float p, uint64_t key) {
  const int hs = C / H;
  const float scale = 1.0f / sqrtf((float)hs);
  const uint32_t th = thresh_of(p);
  const float ds = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) num_threads(ss_threads())
  for (int bh = 0; bh < B * H; bh++) {
    const int b = bh / H, h = bh % H;
    const size_t base = (size_t)b * T * C + (size_t)h * hs;
    float *A = att + (size_t)bh * T * T, *Ad = attd + (size_t)bh * T * T;
    SG(0, 1, T, T, hs, q + base, C, k + base, C, 0.0f, A, T); /* scores = Q K^T  [T,T] */
    for (int i = 0; i < T; i++) {
      float *Ai = A + (size_t)i * T;
      const int jmax = causal ? i + 1 : T;
      float mx = -INFINITY;
      for (int j = 0; j < jmax; j++) {
        Ai[j] *= scale;
        if (Ai[j] > mx) mx = Ai[j];
      }
      float den = 0;
      for (int j = 0; j < jmax; j++) den += Ai[j] = expf(Ai[j] - mx);
      const float inv = 1.0f / den;
      for (int j = 0; j < T; j++) Ai[j] = j < jmax ? Ai[j] * inv : 0.0f;
      if (p > 0)
        for (int j = 0; j < T; j++)
          Ad[(size_t)i * T + j] = ss_tfl_keep(key, (size_t)bh * T * T + (size_t)i * T + j, th) ? Ai[j] * ds : 0.0f;
    }
    SG(0, 0, T, hs, T, p > 0 ? Ad : A, T, v + base, C, 0.0f, out + base, C); /* O = A V  [T,hs] */
  }
}

void ss_tfl_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *q,
                               const float *k, const float *v, const float *att, const float *attd, int B, int T,
                               int C, int H, int causal, float p, uint64_t key) {
  const int hs = C / H;
  const float scale = 1.0f / sqrtf((float)hs);
  const uint32_t th = thresh_of(p);
  const float ds = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) num_threads(ss_threads())
  for (int bh = 0; bh < B * H; bh++) {
    const int b = bh / H, h = bh % H;
    const size_t base = (size_t)b * T * C + (size_t)h * hs;
    const float *A = att + (size_t)bh * T * T, *Ad = p > 0 ? attd + (size_t)bh * T * T : A;
    float *G = scratch + (size_t)bh * T * T;
    SG(1, 0, T, hs, T, Ad, T, dout + base, C, 0.0f, dv + base, C); /* dV = A^T dO */
    SG(0, 1, T, T, hs, dout + base, C, v + base, C, 0.0f, G, T);   /* dA = dO V^T */
    for (int i = 0; i < T; i++) {
      float *Gi = G + (size_t)i * T;
      const float *Ai = A + (size_t)i * T;
      const int jmax = causal ? i + 1 : T;
      if (p > 0) {
        for (int j = 0; j < jmax; j++) Gi[j] = ss_tfl_keep(key, (size_t)bh * T * T + (size_t)i * T + j, th) ? Gi[j] * ds : 0.0f;
      }
      /* softmax backward, times the 1/sqrt(hs) of the scores */
      float dot = 0;
      for (int j = 0; j < jmax; j++) dot += Gi[j] * Ai[j];
      for (int j = 0; j < T; j++) Gi[j] = j < jmax ? Ai[j] * (Gi[j] - dot) * scale : 0.0f;
    }
    SG(0, 0, T, hs, T, G, T, k + base, C, 0.0f, dq + base, C); /* dQ = dS K */
    SG(1, 0, T, hs, T, G, T, q + base, C, 0.0f, dk + base, C); /* dK = dS^T Q */
  }
}

/* ---------------------------------------------------------------- layer norm */

void ss_tfl_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                              int N, int C) {
#pragma omp parallel for schedule(static) if ((long)N * C > 65536) num_threads(ss_threads())
  for (int r = 0; r < N; r++) {
    const float *x = inp + (size_t)r * C;
    float *o = out + (size_t)r * C;
    float m = 0;
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    float var = 0;
    for (int c = 0; c < C; c++) var += (x[c] - m) * (x[c] - m);
    var /= C;
    const float s = 1.0f / sqrtf(var + 1e-5f);
    for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
    mean[r] = m;
    rstd[r] = s;
  }
}

void ss_tfl_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static) if ((long)N * C > 65536) num_threads(ss_threads())
  for (int r = 0; r < N; r++) {
    const float *x = inp + (size_t)r * C, *g = dout + (size_t)r * C;
    float *dx = dinp + (size_t)r * C;
    const float m = mean[r], s = rstd[r];
    /* dx = s (w g - mean(w g) - xhat mean(w g xhat)) */
    float a = 0, bsum = 0;
    for (int c = 0; c < C; c++) {
      const float xh = (x[c] - m) * s, wg = w[c] * g[c];
      a += wg;
      bsum += wg * xh;
    }
    a /= C;
    bsum /= C;
    for (int c = 0; c < C; c++) {
      const float xh = (x[c] - m) * s;
      dx[c] += s * (w[c] * g[c] - a - xh * bsum);
    }
  }
#pragma omp parallel for schedule(static) if ((long)N * C > 65536) num_threads(ss_threads())
  for (int c = 0; c < C; c++) {
    float sw = 0, sb = 0;
    for (int r = 0; r < N; r++) {
      const float gr = dout[(size_t)r * C + c];
      sw += gr * (inp[(size_t)r * C + c] - mean[r]) * rstd[r];
      sb += gr;
    }
    dw[c] = sw;
    db[c] = sb;
  }
}

/* ---------------------------------------------------------------- FFN gate */

void ss_tfl_gate_forward(float *out, const float *inp, size_t n, int gate) {
#pragma omp parallel for schedule(static) if (n > 65536) num_threads(ss_threads())
  for (size_t i = 0; i < n; i++) {
    const float x = inp[i];
    out[i] = gate == 0 ? (x > 0 ? x : 0.0f) : x / (1.0f + expf(-x));
  }
}

void ss_tfl_gate_backward(float *dinp, const float *dout, const float *inp, size_t n, int gate) {
#pragma omp parallel for schedule(static) if (n > 65536) num_threads(ss_threads())
  for (size_t i = 0; i < n; i++) {
    const float x = inp[i];
    if (gate == 0) {
      dinp[i] = x > 0 ? dout[i] : 0.0f;
    } else {
      const float sg = 1.0f / (1.0f + expf(-x));
      dinp[i] = dout[i] * sg * (1.0f + x * (1.0f - sg));
    }
  }
}

/* ---------------------------------------------------------------- decoder + cross-entropy */

#define XENT_CHUNK 32 /* rows per partial bias-gradient sum; fixed, so sums do not depend on threads */

size_t ss_tfl_decoder_partial_size(int N, int V) { return (size_t)((N + XENT_CHUNK - 1) / XENT_CHUNK) * V; }

/* One row: returns the loss, sets *hit; if backward, row becomes (softmax - onehot) * scale.
 * Cloned for AVX-512/AVX2 so the exp loop runs at full vector width. */
__attribute__((target_clones("avx512f", "arch=haswell", "default"))) static double
xent_row(float *row, const float *bias, int V, int target, float scale, int backward, int *hit) {
  float mx = -INFINITY;
  if (bias) { /* bias and max in one pass over the row */
#pragma omp simd reduction(max : mx)
    for (int v = 0; v < V; v++) {
      const float l = row[v] + bias[v];
      row[v] = l;
      mx = l > mx ? l : mx;
    }
  } else {
#pragma omp simd reduction(max : mx)
    for (int v = 0; v < V; v++) mx = row[v] > mx ? row[v] : mx;
  }
  if (target < 0) { /* ignored position: no loss, no gradient */
    *hit = 0;
    if (backward) memset(row, 0, sizeof(float) * (size_t)V);
    return 0.0;
  }
  int arg = 0;
  while (row[arg] != mx && arg < V - 1) arg++;
  *hit = arg == target;
  const float lt = row[target] - mx;
  float s = 0;
  if (backward) {
#pragma omp simd reduction(+ : s)
    for (int v = 0; v < V; v++) {
      const float e = ss_tfl_expf(row[v] - mx);
      row[v] = e;
      s += e;
    }
    const float f = scale / s;
#pragma omp simd
    for (int v = 0; v < V; v++) row[v] *= f;
    row[target] -= scale;
  } else {
#pragma omp simd reduction(+ : s)
    for (int v = 0; v < V; v++) s += ss_tfl_expf(row[v] - mx);
  }
  return log((double)s) - (double)lt;
}

double ss_tfl_decoder_xent(float *logits, const float *inp, const float *W, const float *b, const int *target, int N,
                           int C, int V, float scale, int backward, float *db, float *partial, long *hits) {
  ss_tfl_gemm(0, 1, N, V, C, inp, C, W, C, 0.0f, logits, V); /* [N,C] x [C,V] */
  const int nch = (N + XENT_CHUNK - 1) / XENT_CHUNK;
  double *rl = malloc(sizeof(double) * (size_t)N);
  int *rh = malloc(sizeof(int) * (size_t)N);
  if (!rl || !rh) {
    free(rl);
    free(rh);
    return NAN;
  }
  const int want_db = backward && b && db;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ss_threads())
  for (int ch = 0; ch < nch; ch++) {
    float *pc = want_db ? partial + (size_t)ch * V : NULL;
    const int r0 = ch * XENT_CHUNK, r1 = r0 + XENT_CHUNK < N ? r0 + XENT_CHUNK : N;
    for (int r = r0; r < r1; r++) {
      float *row = logits + (size_t)r * V;
      rl[r] = xent_row(row, b, V, target[r], scale, backward, &rh[r]);
      if (pc) {
        if (r == r0)
          memcpy(pc, row, sizeof(float) * (size_t)V);
        else
#pragma omp simd
          for (int v = 0; v < V; v++) pc[v] += row[v];
      }
    }
  }
  if (want_db) {
#pragma omp parallel for schedule(static) if ((long)nch * V > 65536) num_threads(ss_threads())
    for (int v = 0; v < V; v++) {
      float s = 0;
      for (int ch = 0; ch < nch; ch++) s += partial[(size_t)ch * V + v];
      db[v] = s;
    }
  }
  double L = 0;
  long h = 0;
  for (int r = 0; r < N; r++) {
    L += rl[r];
    h += rh[r];
  }
  free(rl);
  free(rh);
  *hits = h;
  return L;
}
