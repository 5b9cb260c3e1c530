/* The Y/Z model's fast kernels (driven by yz.c; SPEC §2.1, checked against yz_ref.c by
 * test_yz_kernels.c). The build compiles this file once per instruction set and precision
 * (CMakeLists.txt: one object each, with -march=x86-64-v4 (AVX-512), -march=x86-64-v3 (AVX2 +
 * FMA) or the baseline, and SS_KERN_F32 = 0 or 1); each object exports one table of its
 * kernels, named SS_KERN_NAME (yz_kern_x86_64_v4_f64, ...; yz_impl.h), and everything else
 * here is static to it. ss_yz_new picks the table the CPU runs, or the one model.kernels
 * names. Every object does the same IEEE operations element by element: multiply-adds
 * rounded once everywhere (vfma), reductions over 8 logical lanes in one fixed tree (hsum),
 * no contraction of other products (ISO C): the same bits on every CPU
 * (tests/test_isa_identity.sh).
 *
 * Shapes as in yz_impl.h: B rows of T tokens (x[T - 1] = the query m; nkeys = T - 1 keys, T
 * with include_base_token), M tokens, Mp = M rounded up to LW, S support slots of a row; k
 * = the size of a row's or group's support, kp = k rounded up to LW. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "model/yz_impl.h"

#ifndef SS_KERN_NAME
#error "yz_kern.c is compiled by CMakeLists.txt with SS_KERN_NAME and SS_KERN_F32 set"
#endif

/* Vectors (GCC/Clang vector extensions). They are passed only between always-inline
 * functions (never across an ABI boundary), so GCC's note that their calling convention
 * differs with AVX-512 is moot. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef int v8s __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
#define SS_AI static inline __attribute__((always_inline, unused)) /* unused: a precision or instruction set may not need each helper */
/* loops over register-blocked accumulators must be unrolled for them to stay in registers */
#define SS_UNROLL _Pragma("GCC unroll 8")

/* The element type real: double, or float in the float32 objects (model.precision = float32:
 * only the grouped path, which is all they hold). LW = 8 logical lanes per block fix every
 * reduction order and the padding of rows (to a multiple of 8), whatever the register width.
 * (Floats in 16-lane blocks were slower: M = 34 padded to 48 and k = 20 to 32 wasted what the
 * width gained.) */
#define LW SS_YZ_LW
#if SS_KERN_F32
typedef float real;
#define SS_DEN_MIN 0x1p-60f /* see group_forward_backward */
#else
typedef double real;
#define SS_DEN_MIN 0x1p-400
#endif

/* Register vectors vreal of VLANES lanes (vint: a lane mask of the same shape): 8 doubles
 * (zmm) with AVX-512, 4 doubles (ymm) otherwise, and 8 floats (ymm) everywhere (floats with
 * AVX-512 also use 16-lane zmm where lanes never mix: SS_WIDE); GCC lowers 64-byte vectors
 * badly without AVX-512 (through memory). NVEC vectors per LW logical lanes. Lanes never
 * mix, and every reduction over a row is done over LW logical lanes (index mod LW) combined
 * in one fixed tree (hsum), so the width does not change a single bit. */
#if defined(__AVX512F__)
#define SS_VBYTES 64
#else
#define SS_VBYTES 32
#endif
#if SS_KERN_F32
#define VLANES 8
typedef v8f vreal;
typedef v8s vint;
#elif SS_VBYTES == 64
#define VLANES 8
typedef v8d vreal;
typedef v8i vint;
#else
#define VLANES 4
typedef v4d vreal;
typedef v4i vint;
#endif
#define NVEC (LW / VLANES)
/* F(0), F(1), ..., F(VLANES - 1) */
#define SS_L4(F) F(0), F(1), F(2), F(3)
#define SS_L8(F) SS_L4(F), F(4), F(5), F(6), F(7)
#define SS_L16(F) SS_L8(F), F(8), F(9), F(10), F(11), F(12), F(13), F(14), F(15)
#if VLANES == 8
#define SS_LANES SS_L8
#else
#define SS_LANES SS_L4
#endif

SS_AI vreal vload(const real *p) {
  vreal v;
  memcpy(&v, p, sizeof v);
  return v;
}
SS_AI void vstore(real *p, vreal v) { memcpy(p, &v, sizeof v); }
#define SS_X_LANE(l) x
SS_AI vreal vset1(real x) { return (vreal){SS_LANES(SS_X_LANE)}; } /* not 0 + x: an add, for -0 */
#undef SS_X_LANE
/* a b + c rounded once, lane by lane: vfmadd where the CPU has FMA (GCC vectorises the
 * lanes), libm's fma()/fmaf() (also rounded once) on the baseline: the same bits either way. */
#if SS_KERN_F32
#define SS_FMA_LANE(l) __builtin_fmaf(a[l], b[l], c[l])
#else
#define SS_FMA_LANE(l) __builtin_fma(a[l], b[l], c[l])
#endif
SS_AI vreal vfma(vreal a, vreal b, vreal c) { return (vreal){SS_LANES(SS_FMA_LANE)}; }
#undef SS_FMA_LANE
/* m ? a : b, lane by lane (m all ones or all zeros) */
SS_AI vreal vblend(vint m, vreal a, vreal b) { return (vreal)(((vint)a & m) | ((vint)b & ~m)); }
SS_AI vreal vmax(vreal a, vreal b) { return vblend(a > b, a, b); }
SS_AI vreal vmin(vreal a, vreal b) { return vblend(a < b, a, b); }
/* largest / smallest lane (exact: no rounding, any order) */
#if VLANES == 8
#define SS_HFOLD(v, op)                                                     \
  v = op(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3));         \
  v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5))
#else
#define SS_HFOLD(v, op) v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1))
#endif
SS_AI real hmax(vreal v) {
  SS_HFOLD(v, vmax);
  return v[0] > v[1] ? v[0] : v[1];
}
SS_AI real hmin(vreal v) {
  SS_HFOLD(v, vmin);
  return v[0] < v[1] ? v[0] : v[1];
}
#undef SS_HFOLD
/* the sum of the LW logical lanes held in s[0 .. NVEC), in one tree: halves added lane by lane
 * down to 4 lanes h, then (h0 + h2) + (h1 + h3); for doubles (l0 + l4) + (l2 + l6) + ((l1 +
 * l5) + (l3 + l7)) */
SS_AI real hsum(const vreal *s) {
#if SS_KERN_F32 || VLANES == 8
  const __typeof__(s[0][0] + s[0][0]) __attribute__((vector_size(4 * sizeof(real)))) h =
      __builtin_shufflevector(s[0], s[0], 0, 1, 2, 3) + __builtin_shufflevector(s[0], s[0], 4, 5, 6, 7);
#else
  const v4d h = s[0] + s[1];
#endif
  return (h[0] + h[2]) + (h[1] + h[3]);
}

/* e^x lane by lane for x <= 0: x = k ln2 + r (|r| <= ln2/2, ln 2 in two parts), e^r by its
 * Taylor polynomial (Horner, each multiply-add rounded once: vfma), times 2^k built in the
 * exponent bits; below the smallest argument with a normal result 0, NaN propagates.
 * Doubles: degree 13 (truncation < 2e-16 relative; within an ulp of glibc, not bit-equal to
 * it). Floats: degree 7 (truncation < 6e-9, below half a float ulp). The one exponential of
 * every kernel, in both precisions and on both paths (a row's tail through exp_shifted). */
#if SS_KERN_F32
#define SS_EXP_LO -87.0f /* e^-87 is still a normal float */
#define SS_EXP_BIAS 127
#define SS_EXP_MANT 23
#define SS_EXP_C 0x1.8p23f, 0x1.715476p0f, 0x1.62e4p-1f, 0x1.7f7d1cp-20f /* shift, 1/ln2, ln2 hi, lo */
#define SS_EXP_P0 (1.0f / 5040.0f)
#define SS_EXP_POLY(F) F(1.0f / 720.0f) F(1.0f / 120.0f) F(1.0f / 24.0f) F(1.0f / 6.0f) F(0.5f) F(1.0f) F(1.0f)
#else
#define SS_EXP_LO -708.0
#define SS_EXP_BIAS 1023
#define SS_EXP_MANT 52
#define SS_EXP_C 0x1.8p52, 0x1.71547652b82fep0, 0x1.62e42fefa3800p-1, 0x1.ef35793c76730p-45
#define SS_EXP_P0 (1.0 / 6227020800.0)
#define SS_EXP_POLY(F)                                                                                 \
  F(1.0 / 479001600.0) F(1.0 / 39916800.0) F(1.0 / 3628800.0) F(1.0 / 362880.0) F(1.0 / 40320.0)      \
  F(1.0 / 5040.0) F(1.0 / 720.0) F(1.0 / 120.0) F(1.0 / 24.0) F(1.0 / 6.0) F(0.5) F(1.0) F(1.0)
#endif
SS_AI vreal vexp(vreal x_in) {
  const real c[4] = {SS_EXP_C};
  const real shift = c[0], inv_ln2 = c[1], ln2_hi = c[2], ln2_lo = c[3];
  const vreal lo = vset1(SS_EXP_LO);
  const vint under = x_in < lo; /* all ones where x_in < lo (false for NaN) */
  const vreal x = vblend(under, lo, x_in);
  vreal kd = x * inv_ln2 + shift;
  const vint ki = (vint)kd;
  kd -= shift;
  vreal r = vfma(-kd, vset1(ln2_hi), x);
  r = vfma(-kd, vset1(ln2_lo), r);
  vreal p = vset1(SS_EXP_P0);
#define SS_EXP_STEP(coef) p = vfma(p, r, vset1(coef));
  SS_EXP_POLY(SS_EXP_STEP)
#undef SS_EXP_STEP
  p = p * (vreal)((ki + SS_EXP_BIAS) << SS_EXP_MANT);
  return (vreal)((vint)p & ~under);
}
#undef SS_EXP_LO
#undef SS_EXP_BIAS
#undef SS_EXP_MANT
#undef SS_EXP_C
#undef SS_EXP_P0
#undef SS_EXP_POLY

/* x[j] = e^{x[j] - shift} for j < n (every x[j] <= shift, or NaN): LW lanes at a time, the
 * last block through a padded copy (its padding lanes e^0, dropped). */
SS_AI void exp_shifted(real *x, int n, real shift) {
  int j = 0;
  for (; j + LW <= n; j += LW)
    for (int q = 0; q < LW; q += VLANES) vstore(x + j + q, vexp(vload(x + j + q) - shift));
  if (j < n) {
    real t[LW];
    for (int l = 0; l < LW; l++) t[l] = j + l < n ? x[j + l] : shift;
    for (int q = 0; q < LW; q += VLANES) vstore(t + q, vexp(vload(t + q) - shift));
    for (int l = 0; j + l < n; l++) x[j + l] = t[l];
  }
}

/* An 8 x 8 tile transposed through registers: b[c][r] = rows[r][c] (rows[r]: 8 consecutive
 * values), by swapping 1 x 1, then 2 x 2, then 4 x 4 blocks across the diagonal; copies only.
 * For doubles (zmm, AVX-512 objects) and floats (ymm). */
#define SS_DEFINE_TILE8(NAME, V, T)                                                        \
  SS_AI void NAME(const T *const *rows, V *b) {                                            \
    V a[8];                                                                                \
    for (int r = 0; r < 8; r++) memcpy(&a[r], rows[r], sizeof a[r]);                       \
    for (int r = 0; r < 8; r += 2) {                                                       \
      b[r] = __builtin_shufflevector(a[r], a[r + 1], 0, 8, 2, 10, 4, 12, 6, 14);           \
      b[r + 1] = __builtin_shufflevector(a[r], a[r + 1], 1, 9, 3, 11, 5, 13, 7, 15);       \
    }                                                                                      \
    for (int r = 0; r < 8; r += 4)                                                         \
      for (int h = 0; h < 2; h++) {                                                        \
        a[r + h] = __builtin_shufflevector(b[r + h], b[r + h + 2], 0, 1, 8, 9, 4, 5, 12, 13); \
        a[r + h + 2] = __builtin_shufflevector(b[r + h], b[r + h + 2], 2, 3, 10, 11, 6, 7, 14, 15); \
      }                                                                                    \
    for (int h = 0; h < 4; h++) {                                                          \
      b[h] = __builtin_shufflevector(a[h], a[h + 4], 0, 1, 2, 3, 8, 9, 10, 11);            \
      b[h + 4] = __builtin_shufflevector(a[h], a[h + 4], 4, 5, 6, 7, 12, 13, 14, 15);      \
    }                                                                                      \
  }
SS_DEFINE_TILE8(tile8_d, v8d, double)
SS_DEFINE_TILE8(tile8_f, v8f, float)
#undef SS_DEFINE_TILE8
/* whether this object transposes the kernels' reals by register tiles (else element by
 * element): doubles need zmm registers, floats ymm */
#if SS_VBYTES == 64 || (SS_KERN_F32 && defined(__AVX2__))
#define SS_TILES 1
#else
#define SS_TILES 0
#endif

#if SS_KERN_F32 && SS_VBYTES == 64
/* Floats with AVX-512: rows are padded and reduced in 8-lane blocks like everywhere else, but
 * work that never mixes lanes (the products, the exponentials) runs 16 lanes wide where a row
 * has 16 left: the same operation on each lane either way. */
#define SS_WIDE 1
SS_AI v16f wload(const float *p) {
  v16f v;
  memcpy(&v, p, sizeof v);
  return v;
}
SS_AI void wstore(float *p, v16f v) { memcpy(p, &v, sizeof v); }
#define SS_X_LANE(l) x
SS_AI v16f wset1(float x) { return (v16f){SS_L16(SS_X_LANE)}; }
#undef SS_X_LANE
#define SS_FMA_LANE(l) __builtin_fmaf(a[l], b[l], c[l])
SS_AI v16f wfma(v16f a, v16f b, v16f c) { return (v16f){SS_L16(SS_FMA_LANE)}; }
#undef SS_FMA_LANE
#else
#define SS_WIDE 0
#endif

#if !SS_KERN_F32
/* ---- The per-sequence path (rows without a class, e.g. read from a file): doubles only ----
 *
 * One row at a time on its support (its distinct keys, plus the query with residual: k
 * slots, at most S): the sums over the support run over rows of Yt = Y^T (column u of Y,
 * contiguous), so logit = sum_j f_j Yt[u_j, :], g_f[j] = Yt[u_j, :].g and dYt[u_j, :] += f_j g
 * are unit-stride loops over M; the exponentials of the logits are computed once and reused
 * by the backward. Rows are independent (any thread); the driver (yz.c) reduces dY by chunks
 * of rows and dZ in row order. */

/* a.b over n entries with four partial sums (a fixed order, and no serial dependency chain) */
static inline double dot(const double *restrict a, const double *restrict b, int n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

/* y += w x over n entries */
static inline void axpy(double *restrict yv, double w, const double *restrict x, int n) {
  for (int i = 0; i < n; i++) yv[i] += w * x[i];
}

/* out [M] = sum_j w[j] Yt[u[j], :] (j ascending): the logits Y f of a row from its support u
 * [k] and f on it, w [k]; Yt [M, M]. Eight outputs at a time stay in registers while j runs,
 * instead of loading and storing out[] for every j. */
static inline void seq_logits(double *restrict out, const double *restrict Yt, const int *restrict u,
                              const double *restrict w, int k, int M) {
  int i0 = 0;
  for (; i0 + 8 <= M; i0 += 8) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int j = 0; j < k; j++) {
      const double *r = Yt + (size_t)u[j] * M + i0;
      const double wj = w[j];
      a0 += wj * r[0];
      a1 += wj * r[1];
      a2 += wj * r[2];
      a3 += wj * r[3];
      a4 += wj * r[4];
      a5 += wj * r[5];
      a6 += wj * r[6];
      a7 += wj * r[7];
    }
    out[i0] = a0;
    out[i0 + 1] = a1;
    out[i0 + 2] = a2;
    out[i0 + 3] = a3;
    out[i0 + 4] = a4;
    out[i0 + 5] = a5;
    out[i0 + 6] = a6;
    out[i0 + 7] = a7;
  }
  for (; i0 < M; i0++) {
    double a = 0;
    for (int j = 0; j < k; j++) a += w[j] * Yt[(size_t)u[j] * M + i0];
    out[i0] = a;
  }
}

/* A row's composition: x [T] its tokens; slot [M] all -1 on entry and exit. Writes its
 * support tok [kk] (kk = *nslots; the first k = *nkeyslots are key tokens, a residual-only
 * query slot, if any, is slot k), the attention per key slot att [k] (SPEC §2.1's softmax
 * over keys, grouped by token), f [kk] (c normalised when normalize) and ||c|| (*cnorm_out). */
static void seq_compose(const yz_impl *y, const double *Z, const int *x, int T, int *slot, int *tok, double *f,
                        double *att, int *nslots, int *nkeyslots, double *cnorm_out) {
  const int M = y->o.M;
  const int m = x[T - 1];
  const int nkeys = y->o.include_base_token ? T : T - 1;
  const double *Zm = Z + (size_t)m * M;
  /* c[l] = (count of l among keys) e^{Z[m,l]} / sum: group the keys by token. When M is small
   * next to the number of keys, count without branches (slot[u] = count - 1) and collect the
   * support by a scan over the M tokens (ascending order); otherwise number the tokens in
   * order of first appearance. Either order is a fixed function of the sequence. */
  int k = 0, mslot = -1;
  double zmax = -INFINITY;
  if (M <= 2 * nkeys) {
    int t = 0; /* unrolled: integer counts, any order gives the same result */
    for (; t + 4 <= nkeys; t += 4) {
      const int x0 = x[t], x1 = x[t + 1], x2 = x[t + 2], x3 = x[t + 3];
      slot[x0]++;
      slot[x1]++;
      slot[x2]++;
      slot[x3]++;
    }
    for (; t < nkeys; t++) slot[x[t]]++;
    /* the support ascending, with Z[m, u] in f and its max (the same order as the loop
     * of the other branch: j ascending) */
    for (int u = 0; u < M; u++)
      if (slot[u] >= 0) {
        if (u == m) mslot = k;
        tok[k] = u;
        att[k] = slot[u] + 1.0;
        f[k] = Zm[u];
        if (Zm[u] > zmax) zmax = Zm[u];
        slot[u] = -1;
        k++;
      }
  } else {
    for (int t = 0; t < nkeys; t++) {
      int u = x[t];
      if (slot[u] < 0) {
        slot[u] = k;
        tok[k] = u;
        att[k] = 0;
        k++;
      }
      att[slot[u]] += 1.0;
    }
    mslot = slot[m];
    for (int j = 0; j < k; j++) {
      slot[tok[j]] = -1;
      f[j] = Zm[tok[j]];
      if (f[j] > zmax) zmax = f[j];
    }
  }
  /* softmax over keys, grouped: weight of slot j = count_j e^{Z[m,u_j]}; e^{Z[m,u_j] - zmax}
   * into f (free until f is written) */
  exp_shifted(f, k, zmax);
  for (int j = 0; j < k; j++) att[j] *= f[j];
  double den = 0;
  for (int j = 0; j < k; j++) den += att[j];
  const double inv_den = 1.0 / den;
  for (int j = 0; j < k; j++) {
    att[j] *= inv_den;
    f[j] = att[j];
  }
  int kk = k; /* slots including a residual-only query slot */
  if (y->o.residual) {
    if (mslot < 0) {
      mslot = kk;
      tok[kk] = m;
      f[kk] = 0;
      att[kk] = 0;
      kk++;
    }
    f[mslot] += 1.0;
  }
  double cnorm = 1.0;
  if (y->o.normalize) {
    double s2 = 0;
    for (int j = 0; j < kk; j++) s2 += f[j] * f[j];
    cnorm = sqrt(s2);
    const double inv = 1.0 / cnorm;
    for (int j = 0; j < kk; j++) f[j] *= inv;
  }
  *nslots = kk;
  *nkeyslots = k;
  *cnorm_out = cnorm;
}

/* A row's output: L [M] holds its logits Y f on entry; its loss and hit, and (backward) L
 * becomes (softmax - e_label) / B. */
static inline void seq_output(double *restrict L, int M, int label, double inv_B, double *loss, int *hit,
                              int backward) {
  int arg = 0;
  double lmax = L[0];
  for (int i = 1; i < M; i++)
    if (L[i] > lmax) {
      lmax = L[i];
      arg = i;
    }
  const double lab = L[label];
  /* kept: the backward's softmax is L / se; the sum in index order */
  exp_shifted(L, M, lmax);
  double se = 0;
  for (int i = 0; i < M; i++) se += L[i];
  *loss = lmax + log(se) - lab;
  *hit = arg == label;
  if (backward) {
    const double scale = inv_B / se;
    for (int i = 0; i < M; i++) L[i] *= scale;
    L[label] -= inv_B;
  }
}

/* A row's backward on its support: gf [kk] = g_f (Y^T g) on entry (overwritten by g_c); f
 * [kk]; att [k] on entry, dz [kk] = dL/dZ[m, tok_j] on exit (the same buffer). */
static inline void seq_backward(const yz_impl *y, double *gf, const double *f, double *dz, int k, int kk,
                                double cnorm) {
  double *att = dz;
  if (y->o.normalize) { /* g_c = (g_f - f (f.g_f)) / ||c|| */
    double fg = 0;
    for (int j = 0; j < kk; j++) fg += f[j] * gf[j];
    const double inv = 1.0 / cnorm;
    for (int j = 0; j < kk; j++) gf[j] = (gf[j] - f[j] * fg) * inv;
  }
  /* g_s aggregated by token: dZ[m,u_j] = att_j (g_c[u_j] - sum_j' att_j' g_c[u_j']) */
  double ag = 0;
  for (int j = 0; j < k; j++) ag += att[j] * gf[j];
  for (int j = 0; j < kk; j++) dz[j] = j < k ? att[j] * (gf[j] - ag) : 0.0;
}

/* Row i of the batch: forward, loss, and its pieces of the backward (see yz_kern). Yt [M, M]
 * = Y^T. */
static void seq_forward_backward(yz_impl *y, const double *Yt, const double *Z, const ss_batch *b, int i, int tid,
                                 double inv_B, int backward) {
  const int M = y->o.M, T = b->T, S = y->S;
  int *tok = y->seq_tok + (size_t)i * S;
  double *f = y->seq_f + (size_t)i * S, *dz = y->seq_dz + (size_t)i * S;
  double *L = (double *)y->dlogits + (size_t)i * M;
  int k, kk;
  double cnorm;
  seq_compose(y, Z, b->x + (size_t)i * T, T, y->tok_slot + (size_t)tid * M, tok, f, dz, &kk, &k, &cnorm);
  /* logit = Y f = sum_j f_j Yt[u_j, :]; L holds the logits, then softmax - e_n */
  seq_logits(L, Yt, tok, f, kk, M);
  seq_output(L, M, b->label[i], inv_B, &y->loss_part[i], &y->hits_part[i], backward);
  if (backward) {
    /* g_f[u_j] = sum_i Y[i,u_j] g_i = Yt[u_j,:].g */
    double *gf = y->seq_gf + (size_t)tid * S;
    for (int j = 0; j < kk; j++) gf[j] = dot(Yt + (size_t)tok[j] * M, L, M);
    seq_backward(y, gf, f, dz, k, kk, cnorm);
  }
  y->seq_k[i] = kk;
}

/* dYt [M, M] = sum over rows b0 <= b < b1 (ascending) of f_b g_b^T, transposed:
 * dYt[u, :] += f_b[u] g_b. */
static void chunk_dY(const yz_impl *y, double *dYt, int b0, int b1) {
  const int M = y->o.M, S = y->S;
  memset(dYt, 0, sizeof(double) * (size_t)M * M);
  for (int bb = b0; bb < b1; bb++) {
    const int *tok = y->seq_tok + (size_t)bb * S;
    const double *f = y->seq_f + (size_t)bb * S, *g = (const double *)y->dlogits + (size_t)bb * M;
    for (int j = 0; j < y->seq_k[bb]; j++) axpy(dYt + (size_t)tok[j] * M, f[j], g, M);
  }
}

#endif /* !SS_KERN_F32 */

/* ---- The grouped path (generated batches: every sequence has its class, SPEC §2.1) ----
 *
 * Rows are cut into groups g of one (class, query) each (class ascending, then query, rows
 * ascending inside). All rows of a group share the query m, hence the key weights
 * w_u = e^{Z[m,u]}, and draw their keys from one small support (10 common + 10 distinct
 * tokens in Figure 4, while M reaches 240 in the Figure-6 grid). Each group is worked on
 * densely over a support U_g (k_g tokens, ascending, plus m with residual): its class's
 * support when the batch carries the class table and every key of the group lies in it
 * (generated batches), else the union of its rows' key tokens (so any grouping is correct);
 * in blocks of LW = 8 lanes padded with zeros to kp = round8(k_g) (B_g rows; yz_impl buffer):
 *   CU   [B_g, kp]  key counts of each U_j (integers, exact; by byte   supp_count
 *                   compares on AVX-512BW)
 *   W    [kp]       e^{Z[m, U_j] - zmax_g}, once per group, not per row key_weight
 *   ATT  [B_g, kp]  attention per token: CU_j W_j / sum (SPEC §2.1,    row_att
 *                   keys grouped by token)
 *   F    [B_g, kp]  f = c / ||c|| on U_g (c = ATT, + 1 at m w/ residual) row_f
 *   L    [B_g, Mp]  logits = Y f = sum_j F[b, j] Yt[U_j, :]             dlogits
 *   G    [B_g, Mp]  (softmax(L) - e_label) / B, in place of L            dlogits
 *   GF   [B_g, kp]  Y^T g on U_g = sum_i G[b, i] Y[i, U_j], then GC,     row_gf
 *                   the gradient at c through the normalisation
 *   dZ[m, U_j] += sum_b ATT (GC - ATT.GC)                               group_dz
 *   dY[i, U_j] += sum_b G[b, i] F[b, j]                                 group_dY
 * so every product is a small dense one with the loaded vector serving several rows.
 *
 * Determinism and bits: every sum has one order fixed by the batch alone: products over j or
 * i or b ascending, element by element (a lane never mixes with another, so the vector width
 * does not enter); reductions over a row (sum of the key weights, ||c||^2, the softmax sum,
 * f.g_f, att.g_c) as LW logical lanes (index mod LW) combined in one fixed tree (hsum),
 * whatever the register width; multiply-adds rounded once (vfma) on every instruction set;
 * so every copy of these kernels gives the same bits.
 * Threads split groups (phase 1, outputs disjoint) or blocks of dY rows (phase 2). */

#if SS_WIDE
/* lanes [i, i + 16 NZ + 8 NY) of gemm_block, in one pass over t (NZ, NY constants) */
SS_AI void gemm_pass16(real *out, size_t ldo, const int NR, const real *Rm, const int *idx, size_t rs, const real *C,
                       size_t cq, size_t ct, int n, int i, const int NZ, const int NY) {
  v16f a[8][3];
  v8f h[8];
  SS_UNROLL for (int q = 0; q < NR; q++) {
    SS_UNROLL for (int z = 0; z < NZ; z++) a[q][z] = wset1(0);
    if (NY) h[q] = vset1(0);
  }
  for (int t = 0; t < n; t++) {
    const real *rr = Rm + (size_t)(idx ? idx[t] : t) * rs + i;
    v16f y[3];
    SS_UNROLL for (int z = 0; z < NZ; z++) y[z] = wload(rr + 16 * z);
    const v8f yh = NY ? vload(rr + 16 * NZ) : vset1(0);
    SS_UNROLL for (int q = 0; q < NR; q++) {
      const real cs = C[(size_t)q * cq + (size_t)t * ct];
      const v16f c = wset1(cs);
      SS_UNROLL for (int z = 0; z < NZ; z++) a[q][z] = wfma(c, y[z], a[q][z]);
      if (NY) h[q] = vfma(vset1(cs), yh, h[q]);
    }
  }
  SS_UNROLL for (int q = 0; q < NR; q++) {
    SS_UNROLL for (int z = 0; z < NZ; z++) wstore(out + (size_t)q * ldo + i + 16 * z, a[q][z]);
    if (NY) vstore(out + (size_t)q * ldo + i + 16 * NZ, h[q]);
  }
}
#endif

/* lanes [i, i + NV VLANES) of gemm_block, in one pass over t (NV a constant) */
SS_AI void gemm_pass(real *out, size_t ldo, const int NR, const real *Rm, const int *idx, size_t rs, const real *C,
                     size_t cq, size_t ct, int n, int i, const int NV) {
  vreal a[8][6];
  SS_UNROLL for (int q = 0; q < NR; q++) SS_UNROLL for (int v = 0; v < NV; v++) a[q][v] = vset1(0);
  for (int t = 0; t < n; t++) {
    const real *rr = Rm + (size_t)(idx ? idx[t] : t) * rs + i;
    vreal y[6];
    SS_UNROLL for (int v = 0; v < NV; v++) y[v] = vload(rr + VLANES * v);
    SS_UNROLL for (int q = 0; q < NR; q++) {
      const vreal c = vset1(C[(size_t)q * cq + (size_t)t * ct]);
      SS_UNROLL for (int v = 0; v < NV; v++) a[q][v] = vfma(c, y[v], a[q][v]);
    }
  }
  SS_UNROLL for (int q = 0; q < NR; q++) SS_UNROLL for (int v = 0; v < NV; v++) vstore(out + (size_t)q * ldo + i + VLANES * v, a[q][v]);
}

/* The grouped path's three products (logits, g_f and the shares of dY) in one kernel: out
 * [NR, w] = C [NR, n] times rows row(0 .. n) of Rm, that is for q < NR (a constant after
 * inlining, so its accumulators stay in registers) and lanes [0, w) (w a multiple of LW)
 *   out[q * ldo + lane] = sum_{t < n, ascending} C[q * cq + t * ct] Rm[row(t) * rs + lane],
 * row(t) = idx[t], or t when idx is NULL. Each loaded vector of Rm serves NR output rows. */
SS_AI void gemm_block(real *out, size_t ldo, const int NR, const real *Rm, const int *idx, size_t rs, const real *C,
                      size_t cq, size_t ct, int n, int w) {
  int i = 0;
#if SS_WIDE
  /* one pass over t per up to 48 lanes: NZ 16-lane and NY 8-lane accumulators per row */
  while (i < w) {
    const int rem = w - i;
    if (rem >= 48) {
      gemm_pass16(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 3, 0);
      i += 48;
    } else if (rem == 40) {
      gemm_pass16(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 2, 1);
      i += 40;
    } else if (rem == 32) {
      gemm_pass16(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 2, 0);
      i += 32;
    } else if (rem == 24) {
      gemm_pass16(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 1, 1);
      i += 24;
    } else if (rem == 16) {
      gemm_pass16(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 1, 0);
      i += 16;
    } else {
      gemm_pass16(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 0, 1);
      i += 8;
    }
  }
#else
  /* one pass over t per NV register vectors of the row (NV a constant in each call, as many
   * as the registers hold with NR rows: 24 accumulators in 32 zmm, 12 in 16 ymm) */
  const int maxv = (SS_VBYTES == 64 ? 24 : 12) / NR;
  while (i < w) {
    int nv = (w - i) / VLANES;
    if (nv > maxv) nv = maxv;
    if (nv >= 6) nv = 6;
    switch (nv) {
    case 6: gemm_pass(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 6); break;
    case 5: gemm_pass(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 5); break;
    case 4: gemm_pass(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 4); break;
    case 3: gemm_pass(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 3); break;
    case 2: gemm_pass(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 2); break;
    default: nv = 1; gemm_pass(out, ldo, NR, Rm, idx, rs, C, cq, ct, n, i, 1); break;
    }
    i += nv * VLANES;
  }
#endif
}

/* The output of one row: L [Mp] holds the logits (lanes >= M are 0) on entry; loss, hit, and
 * (backward) L becomes G = (softmax - e_label) / B, lanes >= M 0. */
SS_AI void row_output(real *L, int M, int Mp, int label, real inv_B, real *part, real *se_out, int *hit, int backward) {
  static const real iota_a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const vreal iota = vload(iota_a);
  /* the padding lanes (>= M, all in the last LW) become -inf (full-vector stores) */
  if (M < Mp)
    for (int i = Mp - LW; i < Mp; i += VLANES)
      vstore(L + i, vblend(iota + (real)i < vset1((real)M), vload(L + i), vset1(-INFINITY)));
  /* largest logit and the first index holding it: per lane the first vector with the lane's
   * maximum (strict >), then the smallest index among the lanes holding the overall maximum
   * (the same index whatever the lane count) */
  vreal mx = vload(L), mi = iota, iv = iota;
  for (int i = VLANES; i < Mp; i += VLANES) {
    iv += (real)VLANES;
    const vreal v = vload(L + i);
    const vint gt = v > mx;
    mx = vblend(gt, v, mx);
    mi = vblend(gt, iv, mi);
  }
  const real lmax = hmax(mx);
  const real amin = hmin(vblend(mx == vset1(lmax), mi, vset1(INFINITY)));
  const int arg = amin < (real)Mp ? (int)amin : 0; /* no lane equals lmax only when it is NaN */
  const real lab = L[label];
  vreal s[NVEC];
  for (int q = 0; q < NVEC; q++) s[q] = vset1(0);
  for (int i = 0; i < Mp; i += LW)
    for (int q = 0; q < NVEC; q++) {
      const vreal e = vexp(vload(L + i + q * VLANES) - lmax);
      vstore(L + i + q * VLANES, e);
      s[q] += e;
    }
  const real se = hsum(s);
  *part = lmax - lab; /* the loss is lmax - lab + log(se); the caller takes the logs */
  *se_out = se;
  *hit = arg == label;
  if (backward) {
    const vreal sc = vset1(inv_B / se);
    for (int i = 0; i < Mp; i += VLANES) vstore(L + i, vload(L + i) * sc);
    L[label] -= inv_B;
  }
}

/* Dense key counts of the group's rows (rows[0 .. nb), batch rows; bx: the batch's tokens
 * [B, T]) into cnt [nb, Mp]: two
 * rows at a time (independent counters, more work in flight), keys read two per 64-bit load. */
static void count_keys_dense(const int *bx, const int *rows, int T, int nkeys, int nb, int Mp, int *cnt) {
  int r2 = 0;
  for (; r2 + 2 <= nb; r2 += 2) {
    const int *x0 = bx + (size_t)rows[r2] * T, *x1 = bx + (size_t)rows[r2 + 1] * T;
    int *c0 = cnt + (size_t)r2 * Mp, *c1 = c0 + Mp;
    memset(c0, 0, sizeof(int) * 2 * (size_t)Mp);
    int t = 0;
    for (; t + 2 <= nkeys; t += 2) {
      uint64_t a0, a1;
      memcpy(&a0, x0 + t, sizeof a0);
      memcpy(&a1, x1 + t, sizeof a1);
      c0[(uint32_t)a0]++;
      c1[(uint32_t)a1]++;
      c0[a0 >> 32]++;
      c1[a1 >> 32]++;
    }
    for (; t < nkeys; t++) {
      c0[x0[t]]++;
      c1[x1[t]]++;
    }
  }
  for (; r2 < nb; r2++) {
    const int *x = bx + (size_t)rows[r2] * T;
    int *c = cnt + (size_t)r2 * Mp;
    memset(c, 0, sizeof(int) * (size_t)Mp);
    for (int t = 0; t < nkeys; t++) c[x[t]]++;
  }
}

/* The dense counts cnt [nb, Mp] of the tokens U_0 .. U_{k-1}, in U order, into CU [nb, Mp]
 * (zeros up to round8(k)), their OR over the rows into any [k]; 1 when every key of every row
 * lies in U (a row's counts on U sum to nkeys), else 0. */
static int counts_on_support(const int *cnt, const int *U, int k, int nb, int Mp, int nkeys, int *CU, int *any) {
  const int kp = (k + LW - 1) & ~(LW - 1);
  int ok = 1;
  for (int r = 0; r < nb; r++) {
    const int *c = cnt + (size_t)r * Mp;
    int *cu = CU + (size_t)r * Mp, sum = 0;
    for (int j = 0; j < k; j++) {
      sum += cu[j] = c[U[j]];
      any[j] |= cu[j];
    }
    for (int j = k; j < kp; j++) cu[j] = 0;
    ok &= sum == nkeys;
  }
  return ok;
}

#if defined(__AVX512BW__)
#ifndef SS_CMP_KEYS
/* Key counts on a given support by comparison (AVX-512BW): a row's keys as bytes (tokens <
 * 255), 64 per register, and count_j = the number of lanes equal to U_j: one compare and one
 * popcount per 64 keys and support token, k ceil(nkeys / 64) per row against nkeys
 * read-modify-writes of a histogram (a load and a store to a counter each, about one per
 * cycle); used when the first is the smaller. */
#define SS_CMP_KEYS 1024
#endif
/* Counts of U_0 .. U_{k-1} in every row into CU [nb, Mp] (zeros up to kp), their OR over the
 * rows into any [k]; 1 when every key of every row lies in U (the counts sum to nkeys), else 0. */
static int count_keys_cmp(const int *bx, const int *rows, int T, int nkeys, int nb, const int *U, int k, int kp,
                          int Mp, int *CU, int *any) {
  const int nch = (nkeys + 63) / 64;
  unsigned char xb[SS_CMP_KEYS] __attribute__((aligned(64)));
  int ok = 1;
  for (int r = 0; r < nb; r++) {
    const int *x = bx + (size_t)rows[r] * T;
    int t = 0;
    for (; t + 16 <= nkeys; t += 16) _mm_storeu_si128((__m128i *)(xb + t), _mm512_cvtepi32_epi8(_mm512_loadu_si512(x + t)));
    for (; t < nkeys; t++) xb[t] = (unsigned char)x[t];
    for (; t < nch * 64; t++) xb[t] = 0xff; /* no token: M <= 255 */
    int *c = CU + (size_t)r * Mp, sum = 0;
    if (nch == 2) { /* T <= 129: the row in two registers */
      const __m512i a = _mm512_load_si512(xb), a2 = _mm512_load_si512(xb + 64);
      for (int j = 0; j < k; j++) {
        const __m512i s = _mm512_set1_epi8((char)U[j]);
        const int n = __builtin_popcountll(_mm512_cmpeq_epi8_mask(a, s)) + __builtin_popcountll(_mm512_cmpeq_epi8_mask(a2, s));
        c[j] = n;
        sum += n;
        any[j] |= n;
      }
    } else {
      for (int j = 0; j < k; j++) {
        const __m512i s = _mm512_set1_epi8((char)U[j]);
        int n = 0;
        for (int h = 0; h < nch; h++) n += __builtin_popcountll(_mm512_cmpeq_epi8_mask(_mm512_load_si512(xb + 64 * h), s));
        c[j] = n;
        sum += n;
        any[j] |= n;
      }
    }
    for (int j = k; j < kp; j++) c[j] = 0;
    ok &= sum == nkeys;
  }
  return ok;
}
#endif

/* Rows [i0, i0 + 8) of group g's share of dY on its support: out[l * ldo + j] = sum_b
 * G[b, i0 + l] F[b, j] (G = dlogits, F = row_f, b ascending over the group's rows) for l < 8,
 * j < kp, in blocks of RB rows (G rows are padded to Mp, a multiple of 8, so the 8 rows
 * exist); a block entirely at or beyond row M is skipped. */
#define RB (SS_VBYTES == 64 ? 8 : 4)
SS_AI void group_dY_block(const yz_impl *y, int g, int i0, real *out, int ldo) {
  const int M = y->o.M, Mp = (M + LW - 1) & ~(LW - 1);
  const int p0 = y->group_start[g], nb = y->group_start[g + 1] - p0, kp = (y->group_k[g] + LW - 1) & ~(LW - 1);
  for (int l0 = 0; l0 < 8 && i0 + l0 < M; l0 += RB)
    gemm_block(out + (size_t)l0 * ldo, (size_t)ldo, RB, (const real *)y->row_f + (size_t)p0 * Mp, NULL, (size_t)Mp,
               (const real *)y->dlogits + (size_t)p0 * Mp + i0 + l0, 1, (size_t)Mp, nb, kp);
}
#undef RB

/* dY[i, U_j] += D[i - i0, j] for the rows i in [i0, i0 + nl) and j < k (group g) */
static void scatter_dY(const yz_impl *y, int g, double *dY, int i0, int nl, const real *D, int ldd) {
  const int M = y->o.M, *U = y->group_supp + (size_t)g * ((M + LW - 1) & ~(LW - 1));
  for (int l = 0; l < nl; l++) {
    double *d = dY + (size_t)(i0 + l) * M;
    const real *s = D + (size_t)l * ldd;
    for (int j = 0; j < y->group_k[g]; j++) d[U[j]] += s[j];
  }
}

/* Adds D [n, Mp] (rows of a group's share of dY^T, for the tokens U[0 .. n)) into dY^T [M, Mp]:
 * a row's first share is 0 + it, later ones are added (group order: the caller's). */
static void add_share_rows(double *dYt, int *seen, const int *U, const real *D, int n, int Mp) {
  for (int q = 0; q < n; q++) {
    double *d = dYt + (size_t)U[q] * Mp;
    const real *s = D + (size_t)q * Mp;
    if (!seen[U[q]]) {
      seen[U[q]] = 1;
      for (int i = 0; i < Mp; i++) d[i] = 0.0 + (double)s[i];
    } else {
      for (int i = 0; i < Mp; i++) d[i] += (double)s[i];
    }
  }
}

/* Group g's whole share of dY, transposed: D_g^T [kp, Mp], D_g^T[j, i] = sum_b F[b, j] G[b, i]
 * (b ascending over the group's rows: the same multiply-adds, in the same order, as D_g[i,
 * j] in group_dY_block). Rows of D_g^T run over i, so they are added to rows of dY^T with unit
 * stride. Phase 1, on the group's thread: when the groups run one after the other on one
 * thread (group_dY_fused), each block of rows goes straight from a small buffer (dY_block, in
 * cache) into dY^T, in group order; else into the group's group_dY buffer (when every group's
 * fits: see SS_YZ_DG_DOUBLES in yz.c), added in group order by add_group_dY. */
static void group_dY_share(yz_impl *y, int g) {
  const int M = y->o.M, Mp = (M + LW - 1) & ~(LW - 1), k = y->group_k[g];
  const int p0 = y->group_start[g], nb = y->group_start[g + 1] - p0;
  const int fused = y->group_dY_fused, *U = y->group_supp + (size_t)g * Mp;
  real *D = fused ? (real *)y->dY_block : (real *)y->group_dY + (size_t)g * Mp * Mp;
  const real *G = (const real *)y->dlogits + (size_t)p0 * Mp, *F = (const real *)y->row_f + (size_t)p0 * Mp;
  int j = 0;
#define SS_SHARE(NR)                                                                                           \
  do {                                                                                                         \
    real *o_ = fused ? D : D + (size_t)j * Mp;                                                                 \
    gemm_block(o_, (size_t)Mp, NR, G, NULL, (size_t)Mp, F + j, 1, (size_t)Mp, nb, Mp);                         \
    if (fused) add_share_rows(y->dYt, y->dyt_seen, U + j, o_, NR, Mp);                                         \
    j += NR;                                                                                                   \
  } while (0)
#if SS_WIDE
  while (j + 8 <= k) SS_SHARE(8);
#endif
  while (j + 4 <= k) SS_SHARE(4);
  while (j + 2 <= k) SS_SHARE(2);
  while (j < k) SS_SHARE(1);
#undef SS_SHARE
}

/* One row's unnormalised attention weights on its group's support, a [kp] = c w (c [kp] its
 * key counts, w [kp] the key weights; a may be w), with their sum and sum of squares over LW
 * logical lanes in s and s2 [NVEC] (hsum adds them up). */
SS_AI void row_weights(const int *c, const real *w, real *a, int kp, vreal *s, vreal *s2) {
  for (int q = 0; q < NVEC; q++) s[q] = s2[q] = vset1(0);
  for (int j = 0; j < kp; j += LW)
    for (int q = 0; q < NVEC; q++) {
      vreal cv;
      for (int l = 0; l < VLANES; l++) cv[l] = (real)c[j + q * VLANES + l];
      const vreal av = cv * vload(w + j + q * VLANES);
      vstore(a + j + q * VLANES, av);
      s[q] += av;
      s2[q] = vfma(av, av, s2[q]);
    }
}

/* Phase 1 for group g: its support and counts, attention, f, logits, loss and (backward) the
 * rows' gradients at c (row_gf), the group's dZ row (group_dz) and, when kept, its share of
 * dY (group_dY). Ytv: Y^T in real, rows padded to Mp (every read of Y goes through it); Z:
 * the float64 attention parameters. */
static void group_forward_backward(yz_impl *y, const ss_batch *b, const void *Ytv, const double *Z, int g, int tid,
                                   double inv_Bd, int backward) {
  const int M = y->o.M, T = b->T, Mp = (M + LW - 1) & ~(LW - 1);
  const real *Yt = Ytv, inv_B = (real)inv_Bd;
  const int p0 = y->group_start[g], nb = y->group_start[g + 1] - p0;
  const int *rows = y->order + p0; /* batch row of the group's r-th row */
  const int m = b->x[(size_t)rows[0] * T + T - 1];
  const int nkeys = y->o.include_base_token ? T : T - 1;
  int *cnt = y->key_count + (size_t)p0 * Mp;
  int *any = y->key_seen + (size_t)tid * Mp;
  real *W = (real *)y->key_weight + (size_t)tid * Mp, *YU = (real *)y->Y_supp + (size_t)tid * M * Mp;
  int *U = y->group_supp + (size_t)g * Mp;
  /* The group's support U (ascending tokens) and every row's key counts on it, in U order
   * (CU). U is the class's support (plus the query with residual) when every key of every
   * row lies in it: then the counts are taken on U directly (by byte compares with AVX-512BW,
   * count_keys_cmp). Otherwise (rows from a file that stray from their class, or no class
   * table) U is the union of the rows' key tokens, from dense counts. Which U is a function
   * of the batch alone (every kernel set applies the same test), so the bits do not depend on
   * the instruction set; the counts are integers, the same however they are taken. */
  const double *Zm = Z + (size_t)m * M;
  int *CU = y->supp_count + (size_t)p0 * Mp;
  int k = 0, use_supp = 0;
  const ss_classes *cl = b->classes;
  const int cls = b->cls[rows[0]];
  memset(any, 0, sizeof(int) * (size_t)Mp); /* any[j]: U_j occurs among the group's keys */
  int dense = 0; /* cnt holds the dense counts */
  if (cl && cl->M == M && cls >= 0 && cls < cl->N) {
    const double *P = cl->prob + (size_t)cls * M;
    for (int u = 0; u < M; u++)
      if (P[u] > 0 || (u == m && y->o.residual)) U[k++] = u;
#if defined(__AVX512BW__)
    if (M <= 255 && nkeys <= SS_CMP_KEYS && k * ((nkeys + 63) / 64) <= nkeys)
      use_supp = count_keys_cmp(b->x, rows, T, nkeys, nb, U, k, (k + LW - 1) & ~(LW - 1), Mp, CU, any);
    else
#endif
    {
      count_keys_dense(b->x, rows, T, nkeys, nb, Mp, cnt);
      dense = 1;
      use_supp = counts_on_support(cnt, U, k, nb, Mp, nkeys, CU, any);
    }
    if (!use_supp) {
      k = 0;
      memset(any, 0, sizeof(int) * (size_t)Mp);
    }
  }
  if (!use_supp) { /* the union of the rows' keys, from dense counts (any: per token first) */
    if (!dense) count_keys_dense(b->x, rows, T, nkeys, nb, Mp, cnt);
    for (int r = 0; r < nb; r++) {
      const int *c = cnt + (size_t)r * Mp;
      for (int u = 0; u < Mp; u++) any[u] |= c[u];
    }
    for (int u = 0; u < M; u++)
      if (any[u] || (u == m && y->o.residual)) U[k++] = u;
    memset(any, 0, sizeof(int) * (size_t)Mp);
    counts_on_support(cnt, U, k, nb, Mp, nkeys, CU, any);
  }
  /* the query's slot, the largest Z[m, .] over the keys' tokens */
  int mslot = -1;
  double zmax = -INFINITY;
  for (int j = 0; j < k; j++) {
    if (U[j] == m) mslot = j;
    if (any[j] && Zm[U[j]] > zmax) zmax = Zm[U[j]];
  }
  const int kp = (k + LW - 1) & ~(LW - 1);
  y->group_k[g] = k;
  y->group_query[g] = m;
  for (int j = k; j < kp; j++) U[j] = U[0]; /* padding lanes read a real row, times 0 */
  for (int j = 0; j < kp; j++) W[j] = j < k && any[j] ? (real)(Zm[U[j]] - zmax) : (real)-INFINITY;
  for (int j = 0; j < kp; j += VLANES) vstore(W + j, vexp(vload(W + j)));
  /* per row, in one pass over the support: the unnormalised weights v_j = count_j w_j, their
   * sum (den) and sum of squares (q); then att = v / den, ||c||^2 = q / den^2 (+ 2 att_m + 1
   * with residual), f = c / ||c|| */
  real *F = (real *)y->row_f + (size_t)p0 * Mp, *ATT = (real *)y->row_att + (size_t)p0 * Mp;
  const int res = y->o.residual && mslot >= 0;
  for (int r = 0; r < nb; r++) {
    const int *c = CU + (size_t)r * Mp;
    real *a = ATT + (size_t)r * Mp, *f = F + (size_t)r * Mp;
    vreal s[NVEC], s2[NVEC];
    row_weights(c, W, a, kp, s, s2);
    real den = hsum(s);
    /* every key of this row far below the group's largest (> 277 nats for doubles, > 41 for
     * floats): weigh them from the row's own maximum instead, so that no weight or square
     * underflows (the row's own e^{Z[m, U_j] - zr}, in a) */
    if (!(den >= SS_DEN_MIN)) {
      double zr = -INFINITY;
      for (int j = 0; j < k; j++)
        if (c[j] && Zm[U[j]] > zr) zr = Zm[U[j]];
      for (int j = 0; j < kp; j++) a[j] = j < k && c[j] ? (real)(Zm[U[j]] - zr) : (real)-INFINITY;
      for (int j = 0; j < kp; j += VLANES) vstore(a + j, vexp(vload(a + j)));
      row_weights(c, a, a, kp, s, s2);
      den = hsum(s);
    }
    const real inv_den = (real)1 / den, att_m = res ? a[mslot] * inv_den : (real)0;
    real cnorm = 1;
    if (y->o.normalize) {
      real c2 = hsum(s2) * inv_den * inv_den; /* q / den^2, left to right: no overflow */
      if (res) c2 += (real)2 * att_m + (real)1;
      cnorm = SS_KERN_F32 ? sqrtf((float)c2) : (real)sqrt((double)c2);
    }
    const real inv_cn = (real)1 / cnorm;
    const vreal vi = vset1(inv_den), vc = vset1(inv_cn);
    for (int j = 0; j < kp; j += VLANES) {
      const vreal av = vload(a + j) * vi;
      vstore(a + j, av);
      vstore(f + j, av * vc);
    }
    if (res) f[mslot] = (att_m + (real)1) * inv_cn;
    y->row_cnorm[p0 + r] = cnorm;
  }
  /* logits into the G rows, 4 rows at a time, then the output of each row */
  real *Gg = (real *)y->dlogits + (size_t)p0 * Mp;
  int r0 = 0;
#if SS_WIDE /* 8 rows: 8 independent 16-lane chains where a row has one 16-lane block */
  for (; r0 + 8 <= nb; r0 += 8)
    gemm_block(Gg + (size_t)r0 * Mp, (size_t)Mp, 8, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
#endif
  for (; r0 + 4 <= nb; r0 += 4)
    gemm_block(Gg + (size_t)r0 * Mp, (size_t)Mp, 4, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
  for (; r0 + 2 <= nb; r0 += 2) /* a loaded row of Yt serves two rows, not one */
    gemm_block(Gg + (size_t)r0 * Mp, (size_t)Mp, 2, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
  for (; r0 < nb; r0++)
    gemm_block(Gg + (size_t)r0 * Mp, (size_t)Mp, 1, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
  /* loss of the group: sum over rows of (lmax - lab) plus the logs of the softmax sums, taken
   * as one log per 16 rows of their product (each sum is in [1, M], so the product of 16 is
   * far from overflow for any M that fits in memory); summed in double */
  double part_sum = 0, log_sum = 0, prod = 1;
  int hits = 0;
  for (int r = 0; r < nb; r++) {
    real part, se;
    int hit;
    row_output(Gg + (size_t)r * Mp, M, Mp, b->label[rows[r]], inv_B, &part, &se, &hit, backward);
    part_sum += part;
    hits += hit;
    prod *= se;
    if ((r & 15) == 15 || r == nb - 1) {
      log_sum += log(prod);
      prod = 1;
    }
  }
  y->loss_part[g] = part_sum + log_sum; /* indexed by group on this path */
  y->hits_part[g] = hits;
  if (!backward) return;
  /* YU [M, kp] = Y[:, U_j] (padding columns 0), then GF = G YU. YU is the block of rows U_j
   * of Yt (= (real) Y^T, just read by the logits, so in cache) transposed: by 8 x 8 register
   * tiles (a padding row read as zeros), the last M mod 8 rows element by element. */
  int i = 0;
#if SS_TILES
  static const real zeros[8];
  for (; i + 8 <= M; i += 8)
    for (int j0 = 0; j0 < kp; j0 += 8) {
      const real *rows8[8];
      for (int r = 0; r < 8; r++) rows8[r] = j0 + r < k ? Yt + (size_t)U[j0 + r] * Mp + i : zeros;
#if SS_KERN_F32
      v8f t8[8];
      tile8_f(rows8, t8);
#else
      v8d t8[8];
      tile8_d(rows8, t8);
#endif
      for (int c = 0; c < 8; c++) memcpy(YU + (size_t)(i + c) * kp + j0, &t8[c], sizeof t8[c]);
    }
#endif
  for (; i < M; i++) {
    real *o = YU + (size_t)i * kp;
    for (int j = 0; j < k; j++) o[j] = Yt[(size_t)U[j] * Mp + i];
    for (int j = k; j < kp; j++) o[j] = 0;
  }
  real *GF = (real *)y->row_gf + (size_t)p0 * Mp;
  r0 = 0;
#if SS_WIDE
  for (; r0 + 8 <= nb; r0 += 8)
    gemm_block(GF + (size_t)r0 * Mp, (size_t)Mp, 8, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
#endif
  for (; r0 + 4 <= nb; r0 += 4)
    gemm_block(GF + (size_t)r0 * Mp, (size_t)Mp, 4, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
  for (; r0 + 2 <= nb; r0 += 2)
    gemm_block(GF + (size_t)r0 * Mp, (size_t)Mp, 2, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
  for (; r0 < nb; r0++)
    gemm_block(GF + (size_t)r0 * Mp, (size_t)Mp, 1, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
  /* per row: g_c = (g_f - f (f.g_f)) / ||c||, dZ[m, U_j] = att_j (g_c[j] - att.g_c); the
   * group's sum over its rows (ascending) into DZ */
  real *DZ = (real *)y->group_dz + (size_t)g * Mp;
  for (int j = 0; j < kp; j += VLANES) vstore(DZ + j, vset1(0));
  for (int r = 0; r < nb; r++) {
    const real *f = F + (size_t)r * Mp, *a = ATT + (size_t)r * Mp;
    real *gc = GF + (size_t)r * Mp;
    vreal s[NVEC];
    if (y->o.normalize) {
      for (int q = 0; q < NVEC; q++) s[q] = vset1(0);
      for (int j = 0; j < kp; j += LW)
        for (int q = 0; q < NVEC; q++) s[q] += vload(f + j + q * VLANES) * vload(gc + j + q * VLANES);
      const vreal fg = vset1(hsum(s)), inv = vset1((real)1 / (real)y->row_cnorm[p0 + r]);
      for (int j = 0; j < kp; j += VLANES) vstore(gc + j, (vload(gc + j) - vload(f + j) * fg) * inv);
    }
    for (int q = 0; q < NVEC; q++) s[q] = vset1(0);
    for (int j = 0; j < kp; j += LW)
      for (int q = 0; q < NVEC; q++) s[q] += vload(a + j + q * VLANES) * vload(gc + j + q * VLANES);
    const vreal ag = vset1(hsum(s));
    for (int j = 0; j < kp; j += VLANES)
      vstore(DZ + j, vload(DZ + j) + vload(a + j) * (vload(gc + j) - ag));
  }
  if (y->group_dY_on) group_dY_share(y, g);
}

/* out [nc, ldo] = in [nr, ldi] transposed: out[c * ldo + r] = in[r * ldi + c] for r < nr, c <
 * nc (copies, converted to OUT: the same bits whatever the order), by 8 x 8 tiles so that
 * both sides stay in cache, each tile through registers (eight rows in, eight columns out)
 * with AVX-512. */
#define DEFINE_TRANSPOSE_TILES(NAME, OUT)                                                                      \
  static void NAME(OUT *restrict out, size_t ldo, const double *restrict in, size_t ldi, int nr, int nc) {    \
    for (int r0 = 0; r0 < nr; r0 += 8)                                                                         \
      for (int c0 = 0; c0 < nc; c0 += 8) {                                                                     \
        if (SS_VBYTES == 64 && r0 + 8 <= nr && c0 + 8 <= nc) {                                                 \
          SS_TILE8(OUT, out + (size_t)c0 * ldo + r0, ldo, in + (size_t)r0 * ldi + c0, ldi);                    \
          continue;                                                                                            \
        }                                                                                                      \
        for (int c = c0; c < c0 + 8 && c < nc; c++)                                                            \
          for (int r = r0; r < r0 + 8 && r < nr; r++) out[(size_t)c * ldo + r] = (OUT)in[(size_t)r * ldi + c]; \
      }                                                                                                        \
  }
#if SS_VBYTES == 64
#define SS_TILE8(OUT, o, ldo, i, ldi)                                                      \
  do {                                                                                     \
    const double *rows_[8];                                                                \
    v8d b_[8];                                                                             \
    for (int r_ = 0; r_ < 8; r_++) rows_[r_] = (i) + (size_t)r_ * (ldi);                  \
    tile8_d(rows_, b_);                                                                    \
    for (int c_ = 0; c_ < 8; c_++) {                                                       \
      if (sizeof(OUT) == sizeof(double)) {                                                 \
        memcpy((o) + (size_t)c_ * (ldo), &b_[c_], sizeof b_[c_]);                          \
      } else {                                                                             \
        const v8f f_ = __builtin_convertvector(b_[c_], v8f);                               \
        memcpy((o) + (size_t)c_ * (ldo), &f_, sizeof f_);                                  \
      }                                                                                    \
    }                                                                                      \
  } while (0)
#else
#define SS_TILE8(OUT, o, ldo, i, ldi) ((void)0)
#endif
DEFINE_TRANSPOSE_TILES(transpose_tiles, double)
#if SS_KERN_F32
DEFINE_TRANSPOSE_TILES(transpose_tiles_real, real)
#else
#define transpose_tiles_real transpose_tiles
#endif

/* Yt [u, :] = Y[:, u] in real for u0 <= u < u1, rows of Yt padded with zeros to Mp (the
 * grouped path's Y^T, every step) */
static void transpose_Y(void *Ytv, const double *Y, int M, int u0, int u1) {
  const int Mp = (M + LW - 1) & ~(LW - 1);
  real *Yt = Ytv;
  transpose_tiles_real(Yt + (size_t)u0 * Mp, (size_t)Mp, Y + u0, (size_t)M, M, u1 - u0);
  for (int u = u0; u < u1; u++)
    for (int i = M; i < Mp; i++) Yt[(size_t)u * Mp + i] = 0;
}

/* Phase 2 when the shares were kept: dY = the sum of every group's share, in group order:
 * dY^T[U_j, :] += D_g^T[j, :] group by group into dYt [M, Mp] (unit stride, whole vectors; a
 * row is first 0 + its first share, untouched rows are zeros), then dY = (dY^T)^T by tiles;
 * and dZ[m_g, U_j] += the group's group_dz row, in group order. */
static void add_group_dY(const yz_impl *y, double *dY, int ngroups) {
  const int M = y->o.M, Mp = (M + LW - 1) & ~(LW - 1);
  double *dYt = y->dYt;
  int *seen = y->dyt_seen;
  if (!y->group_dY_fused) { /* the shares were kept: add them now, in group order */
    memset(seen, 0, sizeof(int) * (size_t)M);
    for (int g = 0; g < ngroups; g++)
      add_share_rows(dYt, seen, y->group_supp + (size_t)g * Mp, (const real *)y->group_dY + (size_t)g * Mp * Mp, y->group_k[g], Mp);
  }
  for (int u = 0; u < M; u++)
    if (!seen[u]) memset(dYt + (size_t)u * Mp, 0, sizeof(double) * (size_t)Mp);
  transpose_tiles(dY, (size_t)M, dYt, (size_t)Mp, M, M);
}
static void add_group_dZ(const yz_impl *y, double *dZ, int ngroups) {
  const int M = y->o.M, Mp = (M + LW - 1) & ~(LW - 1);
  for (int g = 0; g < ngroups; g++) {
    double *dZm = dZ + (size_t)y->group_query[g] * M;
    const int *U = y->group_supp + (size_t)g * Mp;
    const real *dz = (const real *)y->group_dz + (size_t)g * Mp;
    for (int j = 0; j < y->group_k[g]; j++) dZm[U[j]] += dz[j];
  }
}

/* Otherwise (phase 2): dY rows [i0, i0 + 8) ∩ [0, M) from every group in order; block [8,
 * Mp]. */
static void group_dY_rows(const yz_impl *y, double *dY, int ngroups, int i0, void *block) {
  const int M = y->o.M, nl = M - i0 < 8 ? M - i0 : 8;
  real *D = block;
  for (int g = 0; g < ngroups; g++) {
    const int kp = (y->group_k[g] + LW - 1) & ~(LW - 1);
    group_dY_block(y, g, i0, D, kp);
    scatter_dY(y, g, dY, i0, nl, D, kp);
  }
}

const yz_kern SS_KERN_NAME = {
    .real_size = sizeof(real),
#if !SS_KERN_F32
    .seq_forward_backward = seq_forward_backward,
    .chunk_dY = chunk_dY,
#endif
    .group_forward_backward = group_forward_backward,
    .group_dY_rows = group_dY_rows,
    .add_group_dY = add_group_dY,
    .add_group_dZ = add_group_dZ,
    .transpose_Y = transpose_Y,
};
