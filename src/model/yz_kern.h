/* The Y/Z model's kernels (yz.c), written once and compiled once per instruction set:
 * yz.c includes this file three times, inside "#pragma GCC target" regions for x86-64-v4
 * (AVX-512), x86-64-v3 (AVX2 + FMA) and the baseline, with K(name) giving each copy its own
 * names (name_v4, name_v3, name_base); ss_yz_new picks the copy the CPU runs (model.kernels
 * overrides). Every copy does the same IEEE operations element by element, multiply-adds
 * rounded once everywhere (K(vfma)), reductions over 8 logical lanes in one fixed tree: the
 * same bits on every CPU (tests/test_isa_identity.sh). Not a header to include elsewhere. */

/* The element type R: double, or float when the includer sets SS_KF32 (model.precision =
 * float32: only the grouped path, which is all this file compiles then). LW = 8 logical
 * lanes per block fix every reduction order and the padding of rows (to a multiple of 8),
 * whatever the register width. (Floats in 16-lane blocks were slower: M = 34 padded to 48 and
 * k = 20 to 32 wasted what the width gained.) */
#define LW SS_YZ_LW
#if SS_KF32
#define R float
#define SS_DEN_MIN 0x1p-60f /* see group_phase1 */
#else
#define R double
#define SS_DEN_MIN 0x1p-400
#endif

/* Register vectors VD of VW lanes: 8 doubles (zmm) with AVX-512, 4 doubles (ymm) otherwise,
 * and 8 floats (ymm) everywhere (floats with AVX-512 also use 16-lane zmm where lanes never
 * mix: SS_WIDE); GCC lowers 64-byte vectors badly without AVX-512 (through memory). NQ vectors
 * per LW logical lanes. Lanes never mix, and every reduction over a row is done over LW
 * logical lanes (index mod LW) combined in one fixed tree (K(hsum)), so the width does not
 * change a single bit. */
#if defined(__AVX512F__)
#define SS_VBYTES 64
#else
#define SS_VBYTES 32
#endif
#if SS_KF32
#define VW 8
#define VD v8f
#define VI v8s
#elif SS_VBYTES == 64
#define VW 8
#define VD v8d
#define VI v8i
#else
#define VW 4
#define VD v4d
#define VI v4i
#endif
#define NQ (LW / VW)
/* F(0), F(1), ..., F(VW - 1) */
#define SS_L4(F) F(0), F(1), F(2), F(3)
#define SS_L8(F) SS_L4(F), F(4), F(5), F(6), F(7)
#define SS_L16(F) SS_L8(F), F(8), F(9), F(10), F(11), F(12), F(13), F(14), F(15)
#if VW == 8
#define SS_LANES SS_L8
#else
#define SS_LANES SS_L4
#endif

SS_AI VD K(vload)(const R *p) {
  VD v;
  memcpy(&v, p, sizeof v);
  return v;
}
SS_AI void K(vstore)(R *p, VD v) { memcpy(p, &v, sizeof v); }
#define SS_X_LANE(l) x
SS_AI VD K(vset1)(R x) { return (VD){SS_LANES(SS_X_LANE)}; } /* not 0 + x: an add, for -0 */
#undef SS_X_LANE
/* a b + c rounded once, lane by lane: vfmadd where the CPU has FMA (GCC vectorises the
 * lanes), libm's fma()/fmaf() (also rounded once) on the baseline: the same bits either way. */
#if SS_KF32
#define SS_FMA_LANE(l) __builtin_fmaf(a[l], b[l], c[l])
#else
#define SS_FMA_LANE(l) __builtin_fma(a[l], b[l], c[l])
#endif
SS_AI VD K(vfma)(VD a, VD b, VD c) { return (VD){SS_LANES(SS_FMA_LANE)}; }
#undef SS_FMA_LANE
/* m ? a : b, lane by lane (m all ones or all zeros) */
SS_AI VD K(vblend)(VI m, VD a, VD b) { return (VD)(((VI)a & m) | ((VI)b & ~m)); }
SS_AI VD K(vmax)(VD a, VD b) { return K(vblend)(a > b, a, b); }
SS_AI VD K(vmin)(VD a, VD b) { return K(vblend)(a < b, a, b); }
/* largest / smallest lane (exact: no rounding, any order) */
#if VW == 8
#define SS_HFOLD(v, op)                                                     \
  v = op(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3));         \
  v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5))
#else
#define SS_HFOLD(v, op) v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1))
#endif
SS_AI R K(hmax)(VD v) {
  SS_HFOLD(v, K(vmax));
  return v[0] > v[1] ? v[0] : v[1];
}
SS_AI R K(hmin)(VD v) {
  SS_HFOLD(v, K(vmin));
  return v[0] < v[1] ? v[0] : v[1];
}
#undef SS_HFOLD
/* the sum of the LW logical lanes held in s[0 .. NQ), in one tree: halves added lane by lane
 * down to 4 lanes h, then (h0 + h2) + (h1 + h3); for doubles (l0 + l4) + (l2 + l6) + ((l1 +
 * l5) + (l3 + l7)) */
SS_AI R K(hsum)(const VD *s) {
#if SS_KF32 || VW == 8
  const __typeof__(s[0][0] + s[0][0]) __attribute__((vector_size(4 * sizeof(R)))) h =
      __builtin_shufflevector(s[0], s[0], 0, 1, 2, 3) + __builtin_shufflevector(s[0], s[0], 4, 5, 6, 7);
#else
  const v4d h = s[0] + s[1];
#endif
  return (h[0] + h[2]) + (h[1] + h[3]);
}

/* e^x lane by lane for x <= 0: x = k ln2 + r (|r| <= ln2/2, ln 2 in two parts), e^r by its
 * Taylor polynomial (Horner, each multiply-add rounded once: K(vfma)), times 2^k built in the
 * exponent bits; below the smallest argument with a normal result 0, NaN propagates.
 * Doubles: degree 13 (truncation < 2e-16 relative), the scalar exp_nonpos's reduction and
 * polynomial, so within an ulp of it (and of glibc), not bit-equal to it. Floats: degree 7
 * (truncation < 6e-9, below half a float ulp). */
#if SS_KF32
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
SS_AI VD K(vexp)(VD x_in) {
  const R c[4] = {SS_EXP_C};
  const R shift = c[0], inv_ln2 = c[1], ln2_hi = c[2], ln2_lo = c[3];
  const VD lo = K(vset1)(SS_EXP_LO);
  const VI under = x_in < lo; /* all ones where x_in < lo (false for NaN) */
  const VD x = K(vblend)(under, lo, x_in);
  VD kd = x * inv_ln2 + shift;
  const VI ki = (VI)kd;
  kd -= shift;
  VD r = K(vfma)(-kd, K(vset1)(ln2_hi), x);
  r = K(vfma)(-kd, K(vset1)(ln2_lo), r);
  VD p = K(vset1)(SS_EXP_P0);
#define SS_EXP_STEP(coef) p = K(vfma)(p, r, K(vset1)(coef));
  SS_EXP_POLY(SS_EXP_STEP)
#undef SS_EXP_STEP
  p = p * (VD)((ki + SS_EXP_BIAS) << SS_EXP_MANT);
  return (VD)((VI)p & ~under);
}
#undef SS_EXP_LO
#undef SS_EXP_BIAS
#undef SS_EXP_MANT
#undef SS_EXP_C
#undef SS_EXP_P0
#undef SS_EXP_POLY

#if SS_KF32 && SS_VBYTES == 64
/* Floats with AVX-512: rows are padded and reduced in 8-lane blocks like everywhere else, but
 * work that never mixes lanes (the products, the exponentials) runs 16 lanes wide where a row
 * has 16 left: the same operation on each lane either way. */
#define SS_WIDE 1
SS_AI v16f K(wload)(const float *p) {
  v16f v;
  memcpy(&v, p, sizeof v);
  return v;
}
SS_AI void K(wstore)(float *p, v16f v) { memcpy(p, &v, sizeof v); }
#define SS_X_LANE(l) x
SS_AI v16f K(wset1)(float x) { return (v16f){SS_L16(SS_X_LANE)}; }
#undef SS_X_LANE
#define SS_FMA_LANE(l) __builtin_fmaf(a[l], b[l], c[l])
SS_AI v16f K(wfma)(v16f a, v16f b, v16f c) { return (v16f){SS_L16(SS_FMA_LANE)}; }
#undef SS_FMA_LANE
#else
#define SS_WIDE 0
#endif

#if !SS_KF32 /* the general path: doubles only */
/* out[i] = sum_j w[j] Yt[u[j]*M + i] for i < M, j ascending. Eight outputs at a time stay in
 * registers while j runs, instead of loading and storing out[] for every j. */
static inline void K(logits)(double *restrict out, const double *restrict Yt, const int *restrict u,
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

/* One sequence: forward, loss, and the per-sequence pieces of the backward.
 * x: [T] tokens (x[T-1] = query m), label n; Yt: [M, M] = Y^T. Writes the G row, the
 * support (su, sf, sg, sn), loss and hit. */

/* Phase 1a of one sequence: its support (su, sn; sk = number of key slots, the residual-only
 * query slot, if any, is slot sk), the attention per key slot (att, SPEC §2.1 softmax over
 * keys grouped by token), f on the support (sf, normalised when normalize) and ||c|| (cnorm). */
static void K(seq_compose)(const yz_impl *y, const double *Z, const int *x, int T, int *slot, int *su, double *sf,
                        double *att, int *sn, int *sk, double *cnorm_out) {
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
    /* the support ascending, with Z[m, u] in sf and its max (the same order as the loop
     * of the other branch: j ascending) */
    for (int u = 0; u < M; u++)
      if (slot[u] >= 0) {
        if (u == m) mslot = k;
        su[k] = u;
        att[k] = slot[u] + 1.0;
        sf[k] = Zm[u];
        if (Zm[u] > zmax) zmax = Zm[u];
        slot[u] = -1;
        k++;
      }
  } else {
    for (int t = 0; t < nkeys; t++) {
      int u = x[t];
      if (slot[u] < 0) {
        slot[u] = k;
        su[k] = u;
        att[k] = 0;
        k++;
      }
      att[slot[u]] += 1.0;
    }
    mslot = slot[m];
    for (int j = 0; j < k; j++) {
      slot[su[j]] = -1;
      sf[j] = Zm[su[j]];
      if (sf[j] > zmax) zmax = sf[j];
    }
  }
  /* softmax over keys, grouped: weight of slot j = count_j e^{Z[m,u_j]} */
  /* e^{Z[m,u_j] - zmax} into sf (free until f is written), eight at a time */
  int j4 = 0;
  for (; j4 + 8 <= k; j4 += 8)
    for (int q = 0; q < 8; q += VW) K(vstore)(sf + j4 + q, K(vexp)(K(vload)(sf + j4 + q) - zmax));
  for (; j4 < k; j4++) sf[j4] = exp_nonpos(sf[j4] - zmax);
  for (int j = 0; j < k; j++) att[j] *= sf[j];
  double den = 0;
  for (int j = 0; j < k; j++) den += att[j];
  const double inv_den = 1.0 / den;
  for (int j = 0; j < k; j++) {
    att[j] *= inv_den;
    sf[j] = att[j];
  }
  int kk = k; /* slots including a residual-only query slot */
  if (y->o.residual) {
    if (mslot < 0) {
      mslot = kk;
      su[kk] = m;
      sf[kk] = 0;
      att[kk] = 0;
      kk++;
    }
    sf[mslot] += 1.0;
  }
  double cnorm = 1.0;
  if (y->o.normalize) {
    double s2 = 0;
    for (int j = 0; j < kk; j++) s2 += sf[j] * sf[j];
    cnorm = sqrt(s2);
    const double inv = 1.0 / cnorm;
    for (int j = 0; j < kk; j++) sf[j] *= inv;
  }
  *sn = kk;
  *sk = k;
  *cnorm_out = cnorm;
}

/* Phase 1b: G [M] holds the logits Y f on entry; computes loss and hit, and (backward) turns G
 * into (softmax - e_label) / B. */
static inline void K(seq_output)(double *restrict G, int M, int label, double inv_B, double *loss, int *hit,
                              int backward) {
  int arg = 0;
  double lmax = G[0];
  for (int i = 1; i < M; i++)
    if (G[i] > lmax) {
      lmax = G[i];
      arg = i;
    }
  const double lab = G[label];
  /* kept: the backward's softmax is G / se. Two loops: the first vectorises, the sum
   * keeps its serial order. */
  int i4 = 0;
  double se = 0; /* summed in index order, as a separate loop would */
  for (; i4 + 8 <= M; i4 += 8) {
    for (int q = 0; q < 8; q += VW) K(vstore)(G + i4 + q, K(vexp)(K(vload)(G + i4 + q) - lmax));
    for (int l = 0; l < 8; l++) se += G[i4 + l];
  }
  for (; i4 < M; i4++) se += G[i4] = exp_nonpos(G[i4] - lmax);
  *loss = lmax + log(se) - lab;
  *hit = arg == label;
  if (backward) {
    const double scale = inv_B / se;
    for (int i = 0; i < M; i++) G[i] *= scale;
    G[label] -= inv_B;
  }
}

/* Phase 1c: gf [kk] = g_f on the support slots (Y^T g) on entry (overwritten); att in sg on
 * entry, dL/dZ[m, su_j] in sg on exit. */
static inline void K(seq_backward)(const yz_impl *y, double *gf, const double *sf, double *sg, int k, int kk,
                                double cnorm) {
  double *att = sg;
  if (y->o.normalize) { /* g_c = (g_f - f (f.g_f)) / ||c|| */
    double fg = 0;
    for (int j = 0; j < kk; j++) fg += sf[j] * gf[j];
    const double inv = 1.0 / cnorm;
    for (int j = 0; j < kk; j++) gf[j] = (gf[j] - sf[j] * fg) * inv;
  }
  /* g_s aggregated by token: dZ[m,u_j] = att_j (g_c[u_j] - sum_j' att_j' g_c[u_j']) */
  double ag = 0;
  for (int j = 0; j < k; j++) ag += att[j] * gf[j];
  for (int j = 0; j < kk; j++) sg[j] = j < k ? att[j] * (gf[j] - ag) : 0.0;
}

/* One sequence (the general path): forward, loss, and the per-sequence pieces of the backward.
 * x: [T] tokens (x[T-1] = query m), label n; Yt: [M, M] = Y^T. Writes the G row, the
 * support (su, sf, sg, sn), loss and hit. */
static void K(seq_forward_backward)(const yz_impl *y, const double *Yt, const double *Z, const int *x, int T,
                                 int label, double inv_B, int *slot, double *G, int *sn, int *su, double *sf,
                                 double *sg, double *loss, int *hit, int backward) {
  const int M = y->o.M;
  int k, kk;
  double cnorm;
  K(seq_compose)(y, Z, x, T, slot, su, sf, sg, &kk, &k, &cnorm);
  /* logit = Y f = sum_j f_j Yt[u_j, :]; G row holds logits, then softmax - e_n */
  K(logits)(G, Yt, su, sf, kk, M);
  K(seq_output)(G, M, label, inv_B, loss, hit, backward);
  if (backward) {
    /* g_f[u_j] = sum_i Y[i,u_j] g_i = Yt[u_j,:].g */
    double gf_stack[256];
    double *gf = kk <= 256 ? gf_stack : malloc(sizeof(double) * (size_t)kk);
    for (int j = 0; j < kk; j++) gf[j] = dot(Yt + (size_t)su[j] * M, G, M);
    K(seq_backward)(y, gf, sf, sg, k, kk, cnorm);
    if (gf != gf_stack) free(gf);
  }
  *sn = kk;
}

/* D [M, M] = sum over sequences b0 <= b < b1 (ascending) of f_b g_b^T, transposed:
 * D[u, :] += f_b[u] g_b. */
static void K(chunk_dY)(const yz_impl *y, double *D, int b0, int b1, int M) {
  const int S = y->S;
  memset(D, 0, sizeof(double) * (size_t)M * M);
  for (int bb = b0; bb < b1; bb++) {
    const int *su = y->su + (size_t)bb * S;
    const double *sf = y->sf + (size_t)bb * S, *g = (const double *)y->G + (size_t)bb * M;
    for (int j = 0; j < y->sn[bb]; j++) axpy(D + (size_t)su[j] * M, sf[j], g, M);
  }
}

#endif /* !SS_KF32 */

/* ---- The grouped path (generated batches: every sequence has its class, SPEC §2.1) ----
 *
 * Rows are cut into groups g of one (class, query) each (class ascending, then query, rows
 * ascending inside). All rows of a group share the query m, hence the key weights
 * w_u = e^{Z[m,u]}, and draw their keys from one small support (10 common + 10 distinct
 * tokens in Figure 4, while M reaches 240 in the Figure-6 grid). Each group is worked on
 * densely over a support U_g (k_g tokens, ascending, plus m with residual): its class's
 * support when the batch carries the class table and every key of the group lies in it
 * (generated batches), else the union of its rows' key tokens (so any grouping is correct);
 * in blocks of LW = 8 lanes padded with zeros to kp = round8(k_g):
 *   CU   [B_g, kp]  key counts of each U_j (integers, exact; by byte compares on AVX-512BW)
 *   W    [kp]       e^{Z[m, U_j] - zmax_g}, once per group instead of once per row
 *   ATT  [B_g, kp]  attention per token: CU_j W_j / sum (SPEC §2.1, keys grouped by token)
 *   F    [B_g, kp]  f = c / ||c|| on U_g (c = ATT, + 1 at m with residual)
 *   L    [B_g, Mp]  logits = Y f = sum_j F[b, j] Yt[U_j, :]        (rows x row width)
 *   G    [B_g, Mp]  (softmax(L) - e_label) / B
 *   GF   [B_g, kp]  Y^T g on U_g = sum_i G[b, i] Y[i, U_j]           (rows x row width)
 *   dZ[m, U_j] += sum_b ATT (GC - ATT.GC)  with GC the gradient through the normalisation
 *   dY[i, U_j] += sum_b G[b, i] F[b, j]                              (8 or 4 rows x row width)
 * so every product is a small dense one with the loaded vector serving several rows.
 *
 * Determinism and bits: every sum has one order fixed by the batch alone: products over j or
 * i or b ascending, element by element (a lane never mixes with another, so the vector width
 * does not enter); reductions over a row (sum of the key weights, ||c||^2, the softmax sum,
 * f.g_f, att.g_c) as LW logical lanes (index mod LW) combined in one fixed tree (K(hsum)),
 * whatever the register width; multiply-adds rounded once (K(vfma)) on every instruction set;
 * so every copy of these kernels gives the same bits.
 * Threads split groups (phase 1, outputs disjoint) or blocks of dY rows (phase 2). */

#if SS_WIDE
/* lanes [i, i + 16 NZ + 8 NY) of K(comb_block), in one pass over t (NZ, NY constants) */
SS_AI void K(comb_pass)(R *out, size_t ldo, const int NQ_, const R *Rm, const int *idx, size_t rs, const R *C,
                        size_t cq, size_t ct, int n, int i, const int NZ, const int NY) {
  v16f a[8][3];
  v8f h[8];
  SS_UNROLL for (int q = 0; q < NQ_; q++) {
    SS_UNROLL for (int z = 0; z < NZ; z++) a[q][z] = K(wset1)(0);
    if (NY) h[q] = K(vset1)(0);
  }
  for (int t = 0; t < n; t++) {
    const R *rr = Rm + (size_t)(idx ? idx[t] : t) * rs + i;
    v16f y[3];
    SS_UNROLL for (int z = 0; z < NZ; z++) y[z] = K(wload)(rr + 16 * z);
    const v8f yh = NY ? K(vload)(rr + 16 * NZ) : K(vset1)(0);
    SS_UNROLL for (int q = 0; q < NQ_; q++) {
      const R cs = C[(size_t)q * cq + (size_t)t * ct];
      const v16f c = K(wset1)(cs);
      SS_UNROLL for (int z = 0; z < NZ; z++) a[q][z] = K(wfma)(c, y[z], a[q][z]);
      if (NY) h[q] = K(vfma)(K(vset1)(cs), yh, h[q]);
    }
  }
  SS_UNROLL for (int q = 0; q < NQ_; q++) {
    SS_UNROLL for (int z = 0; z < NZ; z++) K(wstore)(out + (size_t)q * ldo + i + 16 * z, a[q][z]);
    if (NY) K(vstore)(out + (size_t)q * ldo + i + 16 * NZ, h[q]);
  }
}
#endif

/* lanes [i, i + NV VW) of K(comb_block), in one pass over t (NV a constant) */
SS_AI void K(comb_passv)(R *out, size_t ldo, const int NQ_, const R *Rm, const int *idx, size_t rs, const R *C,
                         size_t cq, size_t ct, int n, int i, const int NV) {
  VD a[8][6];
  SS_UNROLL for (int q = 0; q < NQ_; q++) SS_UNROLL for (int v = 0; v < NV; v++) a[q][v] = K(vset1)(0);
  for (int t = 0; t < n; t++) {
    const R *rr = Rm + (size_t)(idx ? idx[t] : t) * rs + i;
    VD y[6];
    SS_UNROLL for (int v = 0; v < NV; v++) y[v] = K(vload)(rr + VW * v);
    SS_UNROLL for (int q = 0; q < NQ_; q++) {
      const VD c = K(vset1)(C[(size_t)q * cq + (size_t)t * ct]);
      SS_UNROLL for (int v = 0; v < NV; v++) a[q][v] = K(vfma)(c, y[v], a[q][v]);
    }
  }
  SS_UNROLL for (int q = 0; q < NQ_; q++) SS_UNROLL for (int v = 0; v < NV; v++) K(vstore)(out + (size_t)q * ldo + i + VW * v, a[q][v]);
}

/* The three products of the grouped path in one kernel: for q < NQ_ (a constant after
 * inlining, so its 2 * NQ_ accumulators stay in registers) and lanes [0, w) (w a multiple of
 * LW)
 *   out[q * ldo + lane] = sum_{t < n, ascending} C[q * cq + t * ct] R[row(t) * rs + lane],
 * row(t) = idx[t], or t when idx is NULL. Each loaded vector of R serves NQ_ rows. */
SS_AI void K(comb_block)(R *out, size_t ldo, const int NQ_, const R *Rm, const int *idx, size_t rs, const R *C,
                         size_t cq, size_t ct, int n, int w) {
  int i = 0;
#if SS_WIDE
  /* one pass over t per up to 48 lanes: NZ 16-lane and NY 8-lane accumulators per row */
  while (i < w) {
    const int rem = w - i;
    if (rem >= 48) {
      K(comb_pass)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 3, 0);
      i += 48;
    } else if (rem == 40) {
      K(comb_pass)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 2, 1);
      i += 40;
    } else if (rem == 32) {
      K(comb_pass)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 2, 0);
      i += 32;
    } else if (rem == 24) {
      K(comb_pass)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 1, 1);
      i += 24;
    } else if (rem == 16) {
      K(comb_pass)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 1, 0);
      i += 16;
    } else {
      K(comb_pass)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 0, 1);
      i += 8;
    }
  }
#else
  /* one pass over t per NV register vectors of the row (NV a constant in each call, as many
   * as the registers hold with NQ_ rows: 24 accumulators in 32 zmm, 12 in 16 ymm) */
  const int maxv = (SS_VBYTES == 64 ? 24 : 12) / NQ_;
  while (i < w) {
    int nv = (w - i) / VW;
    if (nv > maxv) nv = maxv;
    if (nv >= 6) nv = 6;
    switch (nv) {
    case 6: K(comb_passv)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 6); break;
    case 5: K(comb_passv)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 5); break;
    case 4: K(comb_passv)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 4); break;
    case 3: K(comb_passv)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 3); break;
    case 2: K(comb_passv)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 2); break;
    default: nv = 1; K(comb_passv)(out, ldo, NQ_, Rm, idx, rs, C, cq, ct, n, i, 1); break;
    }
    i += nv * VW;
  }
#endif
}

/* The output of one row: L [Mp] holds the logits (lanes >= M are 0) on entry; loss, hit, and
 * (backward) L becomes G = (softmax - e_label) / B, lanes >= M 0. */
SS_AI void K(row_output)(R *L, int M, int Mp, int label, R inv_B, R *part, R *se_out, int *hit, int backward) {
  static const R iota_a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const VD iota = K(vload)(iota_a);
  /* the padding lanes (>= M, all in the last LW) become -inf (full-vector stores) */
  if (M < Mp)
    for (int i = Mp - LW; i < Mp; i += VW)
      K(vstore)(L + i, K(vblend)(iota + (R)i < K(vset1)((R)M), K(vload)(L + i), K(vset1)(-INFINITY)));
  /* largest logit and the first index holding it: per lane the first vector with the lane's
   * maximum (strict >), then the smallest index among the lanes holding the overall maximum
   * (the same index whatever the lane count) */
  VD mx = K(vload)(L), mi = iota, iv = iota;
  for (int i = VW; i < Mp; i += VW) {
    iv += (R)VW;
    const VD v = K(vload)(L + i);
    const VI gt = v > mx;
    mx = K(vblend)(gt, v, mx);
    mi = K(vblend)(gt, iv, mi);
  }
  const R lmax = K(hmax)(mx);
  const R amin = K(hmin)(K(vblend)(mx == K(vset1)(lmax), mi, K(vset1)(INFINITY)));
  const int arg = amin < (R)Mp ? (int)amin : 0; /* no lane equals lmax only when it is NaN */
  const R lab = L[label];
  VD s[NQ];
  for (int q = 0; q < NQ; q++) s[q] = K(vset1)(0);
  for (int i = 0; i < Mp; i += LW)
    for (int q = 0; q < NQ; q++) {
      const VD e = K(vexp)(K(vload)(L + i + q * VW) - lmax);
      K(vstore)(L + i + q * VW, e);
      s[q] += e;
    }
  const R se = K(hsum)(s);
  *part = lmax - lab; /* the loss is lmax - lab + log(se); the caller takes the logs */
  *se_out = se;
  *hit = arg == label;
  if (backward) {
    const VD sc = K(vset1)(inv_B / se);
    for (int i = 0; i < Mp; i += VW) K(vstore)(L + i, K(vload)(L + i) * sc);
    L[label] -= inv_B;
  }
}

/* Dense key counts of the group's rows (rows[0 .. nb), batch rows) into cnt [nb, Mp]: two
 * rows at a time (independent counters, more work in flight), keys read two per 64-bit load. */
static void K(count_dense)(const int *bx, const int *rows, int T, int nkeys, int nb, int Mp, int *cnt) {
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
static int K(counts_on)(const int *cnt, const int *U, int k, int nb, int Mp, int nkeys, int *CU, int *any) {
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
static int K(count_cmp_u)(const int *bx, const int *rows, int T, int nkeys, int nb, const int *U, int k, int kp,
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

static void K(group_D)(yz_impl *y, int g, int M);

/* Phase 1 for group g: counts, union support, attention, f, logits, loss and (backward) the
 * per-row gradients GF and the group's dZ row sum. Y, Z: the float64 parameters; Ytv: Y^T in
 * R, rows padded to Mp. */
static void K(group_phase1)(yz_impl *y, const ss_batch *b, const double *Y, const void *Ytv, const double *Z, int g,
                            int tid, double inv_Bd, int backward) {
  const int M = y->o.M, T = b->T, Mp = (M + LW - 1) & ~(LW - 1);
  const R *Yt = Ytv, inv_B = (R)inv_Bd;
  const int p0 = y->gstart[g], nb = y->gstart[g + 1] - p0;
  const int *rows = y->ord + p0; /* batch row of the group's r-th row */
  const int m = b->x[(size_t)rows[0] * T + T - 1];
  const int nkeys = y->o.include_base_token ? T : T - 1;
  int *cnt = y->cnt + (size_t)p0 * Mp;
  int *any = y->any + (size_t)tid * Mp;
  R *W = (R *)y->wbuf + (size_t)tid * Mp, *YU = (R *)y->yu + (size_t)tid * M * Mp;
  int *U = y->gU + (size_t)g * Mp;
  /* The group's support U (ascending tokens) and every row's key counts on it, in U order
   * (CU). U is the class's support (plus the query with residual) when every key of every
   * row lies in it: then the counts are taken on U directly (by byte compares with AVX-512BW,
   * K(count_cmp_u)). Otherwise (rows from a file that stray from their class, or no class
   * table) U is the union of the rows' key tokens, from dense counts. Which U is a function
   * of the batch alone (every kernel set applies the same test), so the bits do not depend on
   * the instruction set; the counts are integers, the same however they are taken. */
  const double *Zm = Z + (size_t)m * M;
  int *CU = y->cntu + (size_t)p0 * Mp;
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
      use_supp = K(count_cmp_u)(b->x, rows, T, nkeys, nb, U, k, (k + LW - 1) & ~(LW - 1), Mp, CU, any);
    else
#endif
    {
      K(count_dense)(b->x, rows, T, nkeys, nb, Mp, cnt);
      dense = 1;
      use_supp = K(counts_on)(cnt, U, k, nb, Mp, nkeys, CU, any);
    }
    if (!use_supp) {
      k = 0;
      memset(any, 0, sizeof(int) * (size_t)Mp);
    }
  }
  if (!use_supp) { /* the union of the rows' keys, from dense counts (any: per token first) */
    if (!dense) K(count_dense)(b->x, rows, T, nkeys, nb, Mp, cnt);
    for (int r = 0; r < nb; r++) {
      const int *c = cnt + (size_t)r * Mp;
      for (int u = 0; u < Mp; u++) any[u] |= c[u];
    }
    for (int u = 0; u < M; u++)
      if (any[u] || (u == m && y->o.residual)) U[k++] = u;
    memset(any, 0, sizeof(int) * (size_t)Mp);
    K(counts_on)(cnt, U, k, nb, Mp, nkeys, CU, any);
  }
  /* the query's slot, the largest Z[m, .] over the keys' tokens */
  int mslot = -1;
  double zmax = -INFINITY;
  for (int j = 0; j < k; j++) {
    if (U[j] == m) mslot = j;
    if (any[j] && Zm[U[j]] > zmax) zmax = Zm[U[j]];
  }
  const int kp = (k + LW - 1) & ~(LW - 1);
  y->gk[g] = k;
  y->gm[g] = m;
  for (int j = k; j < kp; j++) U[j] = U[0]; /* padding lanes read a real row, times 0 */
  for (int j = 0; j < kp; j++) W[j] = j < k && any[j] ? (R)(Zm[U[j]] - zmax) : (R)-INFINITY;
  for (int j = 0; j < kp; j += VW) K(vstore)(W + j, K(vexp)(K(vload)(W + j)));
  /* per row, in one pass over the support: the unnormalised weights v_j = count_j w_j, their
   * sum (den) and sum of squares (q); then att = v / den, ||c||^2 = q / den^2 (+ 2 att_m + 1
   * with residual), f = c / ||c|| */
  R *F = (R *)y->F + (size_t)p0 * Mp, *ATT = (R *)y->ATT + (size_t)p0 * Mp;
  const int res = y->o.residual && mslot >= 0;
  for (int r = 0; r < nb; r++) {
    const int *c = CU + (size_t)r * Mp;
    R *a = ATT + (size_t)r * Mp, *f = F + (size_t)r * Mp;
    VD s[NQ], s2[NQ];
    for (int q = 0; q < NQ; q++) s[q] = s2[q] = K(vset1)(0);
    for (int j = 0; j < kp; j += LW)
      for (int q = 0; q < NQ; q++) {
        VD cv;
        for (int l = 0; l < VW; l++) cv[l] = (R)c[j + q * VW + l];
        const VD av = cv * K(vload)(W + j + q * VW);
        K(vstore)(a + j + q * VW, av);
        s[q] += av;
        s2[q] = K(vfma)(av, av, s2[q]);
      }
    R den = K(hsum)(s);
    /* every key of this row far below the group's largest (> 277 nats for doubles, > 41 for
     * floats): weigh them from the row's own maximum instead, so that no weight or square
     * underflows */
    if (!(den >= SS_DEN_MIN)) {
      double zr = -INFINITY;
      for (int j = 0; j < k; j++)
        if (c[j] && Zm[U[j]] > zr) zr = Zm[U[j]];
      for (int q = 0; q < NQ; q++) s[q] = s2[q] = K(vset1)(0);
      for (int j = 0; j < kp; j += LW)
        for (int q = 0; q < NQ; q++) {
          VD av;
          for (int l = 0; l < VW; l++) {
            const int jj = j + q * VW + l;
            av[l] = jj < k && c[jj] ? (R)(c[jj] * exp_nonpos(Zm[U[jj]] - zr)) : (R)0;
          }
          K(vstore)(a + j + q * VW, av);
          s[q] += av;
          s2[q] = K(vfma)(av, av, s2[q]);
        }
      den = K(hsum)(s);
    }
    const R inv_den = (R)1 / den, att_m = res ? a[mslot] * inv_den : (R)0;
    R cnorm = 1;
    if (y->o.normalize) {
      R c2 = K(hsum)(s2) * inv_den * inv_den; /* q / den^2, left to right: no overflow */
      if (res) c2 += (R)2 * att_m + (R)1;
      cnorm = SS_KF32 ? sqrtf((float)c2) : (R)sqrt((double)c2);
    }
    const R inv_cn = (R)1 / cnorm;
    const VD vi = K(vset1)(inv_den), vc = K(vset1)(inv_cn);
    for (int j = 0; j < kp; j += VW) {
      const VD av = K(vload)(a + j) * vi;
      K(vstore)(a + j, av);
      K(vstore)(f + j, av * vc);
    }
    if (res) f[mslot] = (att_m + (R)1) * inv_cn;
    y->cn[p0 + r] = cnorm;
  }
  /* logits into the G rows, 4 rows at a time, then the output of each row */
  R *Gg = (R *)y->G + (size_t)p0 * Mp;
  int r0 = 0;
#if SS_WIDE /* 8 rows: 8 independent 16-lane chains where a row has one 16-lane block */
  for (; r0 + 8 <= nb; r0 += 8)
    K(comb_block)(Gg + (size_t)r0 * Mp, (size_t)Mp, 8, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
#endif
  for (; r0 + 4 <= nb; r0 += 4)
    K(comb_block)(Gg + (size_t)r0 * Mp, (size_t)Mp, 4, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
  for (; r0 < nb; r0++)
    K(comb_block)(Gg + (size_t)r0 * Mp, (size_t)Mp, 1, Yt, U, (size_t)Mp, F + (size_t)r0 * Mp, (size_t)Mp, 1, k, Mp);
  /* loss of the group: sum over rows of (lmax - lab) plus the logs of the softmax sums, taken
   * as one log per 16 rows of their product (each sum is in [1, M], so the product of 16 is
   * far from overflow for any M that fits in memory); summed in double */
  double part_sum = 0, log_sum = 0, prod = 1;
  int hits = 0;
  for (int r = 0; r < nb; r++) {
    R part, se;
    int hit;
    K(row_output)(Gg + (size_t)r * Mp, M, Mp, b->label[rows[r]], inv_B, &part, &se, &hit, backward);
    part_sum += part;
    hits += hit;
    prod *= se;
    if ((r & 15) == 15 || r == nb - 1) {
      log_sum += log(prod);
      prod = 1;
    }
  }
  y->loss_b[g] = part_sum + log_sum; /* indexed by group on this path */
  y->hit_b[g] = hits;
  if (!backward) return;
  /* YU [M, kp] = Y[:, U_j] (padding columns 0), then GF = G YU */
  for (int i = 0; i < M; i++) {
    const double *Yi = Y + (size_t)i * M;
    R *o = YU + (size_t)i * kp;
    for (int j = 0; j < k; j++) o[j] = (R)Yi[U[j]];
    for (int j = k; j < kp; j++) o[j] = 0;
  }
  R *GF = (R *)y->GF + (size_t)p0 * Mp;
  r0 = 0;
#if SS_WIDE
  for (; r0 + 8 <= nb; r0 += 8)
    K(comb_block)(GF + (size_t)r0 * Mp, (size_t)Mp, 8, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
#endif
  for (; r0 + 4 <= nb; r0 += 4)
    K(comb_block)(GF + (size_t)r0 * Mp, (size_t)Mp, 4, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
  for (; r0 < nb; r0++)
    K(comb_block)(GF + (size_t)r0 * Mp, (size_t)Mp, 1, YU, NULL, (size_t)kp, Gg + (size_t)r0 * Mp, (size_t)Mp, 1, M, kp);
  /* per row: g_c = (g_f - f (f.g_f)) / ||c||, dZ[m, U_j] = att_j (g_c[j] - att.g_c); the
   * group's sum over its rows (ascending) into DZ */
  R *DZ = (R *)y->DZ + (size_t)g * Mp;
  for (int j = 0; j < kp; j += VW) K(vstore)(DZ + j, K(vset1)(0));
  for (int r = 0; r < nb; r++) {
    const R *f = F + (size_t)r * Mp, *a = ATT + (size_t)r * Mp;
    R *gc = GF + (size_t)r * Mp;
    VD s[NQ];
    if (y->o.normalize) {
      for (int q = 0; q < NQ; q++) s[q] = K(vset1)(0);
      for (int j = 0; j < kp; j += LW)
        for (int q = 0; q < NQ; q++) s[q] += K(vload)(f + j + q * VW) * K(vload)(gc + j + q * VW);
      const VD fg = K(vset1)(K(hsum)(s)), inv = K(vset1)((R)1 / (R)y->cn[p0 + r]);
      for (int j = 0; j < kp; j += VW) K(vstore)(gc + j, (K(vload)(gc + j) - K(vload)(f + j) * fg) * inv);
    }
    for (int q = 0; q < NQ; q++) s[q] = K(vset1)(0);
    for (int j = 0; j < kp; j += LW)
      for (int q = 0; q < NQ; q++) s[q] += K(vload)(a + j + q * VW) * K(vload)(gc + j + q * VW);
    const VD ag = K(vset1)(K(hsum)(s));
    for (int j = 0; j < kp; j += VW)
      K(vstore)(DZ + j, K(vload)(DZ + j) + K(vload)(a + j) * (K(vload)(gc + j) - ag));
  }
  if (y->dg_on) K(group_D)(y, g, M);
}

/* Rows [i0, i0 + 8) of group g's share of dY on its support: out[l * ldo + j] = sum_b
 * G[b, i0 + l] F[b, j] (b ascending) for l < 8, j < kp, in blocks of RB rows (G rows are
 * padded to Mp, a multiple of 8, so the 8 rows exist); a block entirely at or beyond row M is
 * skipped. */
#define RB (SS_VBYTES == 64 ? 8 : 4)
SS_AI void K(group_D_block)(const yz_impl *y, int g, int i0, int M, R *out, int ldo) {
  const int Mp = (M + LW - 1) & ~(LW - 1);
  const int p0 = y->gstart[g], nb = y->gstart[g + 1] - p0, kp = (y->gk[g] + LW - 1) & ~(LW - 1);
  for (int l0 = 0; l0 < 8 && i0 + l0 < M; l0 += RB)
    K(comb_block)(out + (size_t)l0 * ldo, (size_t)ldo, RB, (const R *)y->F + (size_t)p0 * Mp, NULL, (size_t)Mp,
                  (const R *)y->G + (size_t)p0 * Mp + i0 + l0, 1, (size_t)Mp, nb, kp);
}
#undef RB

/* dY[i, U_j] += D[i - i0, j] for the rows i in [i0, i0 + nl) and j < k (group g) */
static void K(scatter_D)(const yz_impl *y, int g, double *dY, int i0, int nl, int M, const R *D, int ldd) {
  const int *U = y->gU + (size_t)g * ((M + LW - 1) & ~(LW - 1));
  for (int l = 0; l < nl; l++) {
    double *d = dY + (size_t)(i0 + l) * M;
    const R *s = D + (size_t)l * ldd;
    for (int j = 0; j < y->gk[g]; j++) d[U[j]] += s[j];
  }
}

/* Group g's whole share of dY, D_g [Mp, kp], into its buffer (phase 1, on the group's thread,
 * when every group's buffer fits: see SS_YZ_DG_DOUBLES). */
static void K(group_D)(yz_impl *y, int g, int M) {
  const int Mp = (M + LW - 1) & ~(LW - 1), kp = (y->gk[g] + LW - 1) & ~(LW - 1);
  R *D = (R *)y->Dg + (size_t)g * Mp * Mp;
  for (int i0 = 0; i0 < M; i0 += 8) K(group_D_block)(y, g, i0, M, D + (size_t)i0 * kp, kp);
}

/* Phase 2 when they fit: dY += every group's D_g, in group order; and dZ[m_g, U_j] += the
 * group's DZ, in group order. */
static void K(group_add_D)(const yz_impl *y, double *dY, int ngroups, int M) {
  const int Mp = (M + LW - 1) & ~(LW - 1);
  for (int g = 0; g < ngroups; g++)
    K(scatter_D)(y, g, dY, 0, M, M, (const R *)y->Dg + (size_t)g * Mp * Mp, (y->gk[g] + LW - 1) & ~(LW - 1));
}
static void K(group_add_DZ)(const yz_impl *y, double *dZ, int ngroups, int M) {
  const int Mp = (M + LW - 1) & ~(LW - 1);
  for (int g = 0; g < ngroups; g++) {
    double *dZm = dZ + (size_t)y->gm[g] * M;
    const int *U = y->gU + (size_t)g * Mp;
    const R *DZ = (const R *)y->DZ + (size_t)g * Mp;
    for (int j = 0; j < y->gk[g]; j++) dZm[U[j]] += DZ[j];
  }
}

/* Otherwise (phase 2): dY rows [i0, i0 + 8) ∩ [0, M) from every group in order. */
static void K(group_dY)(const yz_impl *y, double *dY, int ngroups, int i0, int M, void *tmpv) {
  R *tmp = tmpv;
  const int nl = M - i0 < 8 ? M - i0 : 8;
  for (int g = 0; g < ngroups; g++) {
    const int kp = (y->gk[g] + LW - 1) & ~(LW - 1);
    K(group_D_block)(y, g, i0, M, tmp, kp);
    K(scatter_D)(y, g, dY, i0, nl, M, tmp, kp);
  }
}

#undef R
#undef LW
#undef SS_DEN_MIN
#undef SS_VBYTES
#undef SS_WIDE
#undef VW
#undef VD
#undef VI
#undef NQ
#undef SS_L4
#undef SS_L8
#undef SS_L16
#undef SS_LANES
