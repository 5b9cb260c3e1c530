/* Y/Z model forward and exact backward (SPEC §2.1), using the sparsity of c:
 * a sequence has at most min(T, M) distinct key tokens, so one sequence costs
 * O(T + M*min(T, M)) instead of O(M^2).
 *
 * Shapes: B = batch, T = sequence length (keys are x_0..x_{T-2}, plus x_{T-1} = query if
 * include_base_token), M = vocabulary, S = support slots per sequence = min(T, M) + 1,
 * k = support size of one sequence (distinct key tokens, plus the query if residual).
 *
 * Two paths, the same maths:
 * - grouped (every row of the batch has a class: generated data, or file rows matching a
 *   class): the rows of one class share their support, so the products are done per class
 *   on the union support U_g (k_g tokens) as small dense blocked products; see the comment
 *   above yz_run_grouped's kernels. 2-2.6x fewer instructions per step than the general path
 *   at M = 240 (docs/bench.md).
 * - general (rows read from a file with no class): one sequence at a time, as below.
 *
 * Speed: the sums over the support run over rows of Yt = Y^T (column u of Y, contiguous),
 * so logit = sum_j f_j Yt[u_j,:], g_f[j] = Yt[u_j,:].g and dYt[u_j,:] += f_j g are unit-stride
 * loops over M that the compiler vectorises; exp() of the logits is computed once and
 * reused for the backward; dot products keep four partial sums (fixed order).
 *
 * Determinism: every sum has an order fixed by (B, T, M) and the batch alone, never by the
 * number of threads. Sequences are independent (phase 1, any thread). General path: dY is
 * accumulated per chunk of sequences (the number of chunks depends on B and M only),
 * sequences ascending inside a chunk, then the chunks are added in chunk order (phase 3).
 * Grouped path: dY is summed group by group (class ascending), threads split the rows of
 * dY. dZ and the loss are summed serially in sequence order. Threads are used only where a
 * loop has enough work to pay for waking them (SS_YZ_PAR_WORK), which does not change any
 * result. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/yz.h"

/* Work (in multiply-adds) below which a loop runs on the calling thread: waking a team costs
 * microseconds on an idle machine and far more on a busy one. */
#define SS_YZ_PAR_WORK 1000000.0
/* At most this many doubles of per-chunk partial dY. */
#define SS_YZ_CHUNK_DOUBLES ((size_t)1 << 22)

typedef struct {
  ss_yz_opts o;
  /* per-batch scratch, grown on demand */
  int cap_B, S, nch;
  double *Yt;     /* [M, M]   Y transposed, refreshed at every call */
  double *G;      /* [B, M]   (softmax(logit) - e_n) / B */
  int *sn;        /* [B]      support size k */
  int *su;        /* [B, S]   support tokens */
  double *sf;     /* [B, S]   f on the support */
  double *sg;     /* [B, S]   dL/dZ[m, u] on the support (0 for a residual-only entry) */
  double *loss_b; /* [B] */
  int *hit_b;     /* [B] */
  int *slot;      /* [threads, M] token -> support slot, -1 when absent */
  int nslot;
  double *dYt;    /* [nch, M, M] per-chunk partial dY, transposed (NULL when nch = 0) */
  /* grouped path (sequences with a class, see yz_run_grouped) */
  int *sk;        /* [B]      key slots of the support (sn minus a residual-only slot) */
  double *cn;     /* [B]      ||c|| (1 without normalize) */
  int *ord;       /* [2B]     (class, sequence) pairs, sorted: groups are runs of one class */
  int *gstart;    /* [B+1]    group g = ord[gstart[g] .. gstart[g+1]) */
  int *ccnt;      /* [B+1]    counting sort of the rows by class */
  int *gU;        /* [B*S]    union support of group g at gU[guo[g]], ascending tokens */
  int *gk, *guo;  /* [B]      its size k_g and offset */
  int *gfo;       /* [B]      offset of group g's F and GF blocks: sum of B_g k_g before g */
  double *F;      /* [B*M]    group g: F_g [B_g, k_g], row b = f of the group's b-th sequence on U_g */
  double *GF;     /* [B*M]    group g: [B_g, k_g], row b = (Y^T g_b) on U_g */
} yz_impl;

static void free_scratch(yz_impl *y) {
  free(y->Yt); free(y->G); free(y->sn); free(y->su); free(y->sf); free(y->sg); free(y->loss_b); free(y->hit_b);
  free(y->slot); free(y->dYt);
  free(y->sk); free(y->cn); free(y->ord); free(y->gstart); free(y->ccnt); free(y->gU); free(y->gk); free(y->guo); free(y->gfo);
  free(y->F); free(y->GF);
  y->Yt = y->G = y->sf = y->sg = y->loss_b = y->dYt = y->cn = y->F = y->GF = NULL;
  y->sn = y->su = y->hit_b = y->slot = y->sk = y->ord = y->gstart = y->ccnt = y->gU = y->gk = y->guo = y->gfo = NULL;
}

/* Number of dY chunks, a function of (B, T, M) only (determinism): one when phase 1 runs on
 * one thread anyway, else up to 8; 0 when even one [M, M] partial sum is too large (then dY
 * is reduced by rows of Y instead). */
static int n_chunks(int B, int T, int M) {
  size_t mm = (size_t)M * M;
  if (mm > SS_YZ_CHUNK_DOUBLES) return 0;
  if ((double)B * (T + 3.0 * M * (T < 64 ? T : 64)) <= SS_YZ_PAR_WORK) return 1;
  int n = B < 8 ? B : 8;
  while (n > 1 && (size_t)n * mm > SS_YZ_CHUNK_DOUBLES) n--;
  return n;
}

static int grow(yz_impl *y, int B, int T, ss_err *err) {
  int M = y->o.M, S = (T < M ? T : M) + 1;
  int thr = omp_get_max_threads();
  if (B <= y->cap_B && S <= y->S && thr <= y->nslot && y->nch == n_chunks(B, T, M)) return SS_OK;
  free_scratch(y);
  y->cap_B = B;
  y->S = S;
  y->nslot = thr;
  y->nch = n_chunks(B, T, M);
  /* rows padded to Mp (a multiple of 8) for the grouped path's vector kernels */
  const size_t Mp = ((size_t)M + 7) & ~(size_t)7;
  y->Yt = malloc(sizeof(double) * (size_t)M * Mp);
  y->G = malloc(sizeof(double) * (size_t)B * Mp);
  y->sn = malloc(sizeof(int) * (size_t)B);
  y->su = malloc(sizeof(int) * (size_t)B * S);
  y->sf = malloc(sizeof(double) * (size_t)B * S);
  y->sg = malloc(sizeof(double) * (size_t)B * S);
  y->loss_b = malloc(sizeof(double) * (size_t)B);
  y->hit_b = malloc(sizeof(int) * (size_t)B);
  y->slot = malloc(sizeof(int) * (size_t)thr * M);
  if (y->nch > 0) y->dYt = malloc(sizeof(double) * (size_t)y->nch * M * M);
  y->sk = malloc(sizeof(int) * (size_t)B);
  y->cn = malloc(sizeof(double) * (size_t)B);
  y->ord = malloc(sizeof(int) * 2 * (size_t)B);
  y->gstart = malloc(sizeof(int) * ((size_t)B + 1));
  y->ccnt = malloc(sizeof(int) * ((size_t)B + 1));
  y->gU = malloc(sizeof(int) * (size_t)B * S);
  y->gk = malloc(sizeof(int) * (size_t)B);
  y->guo = malloc(sizeof(int) * (size_t)B);
  y->gfo = malloc(sizeof(int) * (size_t)B);
  y->F = malloc(sizeof(double) * (size_t)B * M);
  y->GF = malloc(sizeof(double) * (size_t)B * M);
  if (!y->Yt || !y->G || !y->sn || !y->su || !y->sf || !y->sg || !y->loss_b || !y->hit_b || !y->slot ||
      (y->nch > 0 && !y->dYt) || !y->sk || !y->cn || !y->ord || !y->gstart || !y->ccnt || !y->gU || !y->gk || !y->guo ||
      !y->gfo || !y->F || !y->GF) {
    free_scratch(y);
    y->cap_B = 0;
    return ss_seterr(err, SS_EINPUT, "batch of %d sequences with M = %d does not fit in memory", B, M);
  }
  for (size_t i = 0; i < (size_t)thr * M; i++) y->slot[i] = -1;
  return SS_OK;
}

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

/* e^x for x <= 0 (arguments here are always x - max), written so that loops over it
 * vectorise: k = round(x / ln 2) by the 1.5*2^52 trick, r = x - k ln 2 in two parts
 * (|r| <= ln2/2), e^r by its Taylor polynomial to degree 13 (truncation < 2e-16 relative),
 * times 2^k built in the exponent bits. Below -708 the result is 0 (glibc gives a subnormal
 * down to -745: no sum here can tell the difference), so e^-inf = 0 as with exp(). */
static inline double exp_nonpos(double x_in) {
  const double x = x_in < -708.0 ? -708.0 : x_in;
  const double shift = 0x1.8p52, inv_ln2 = 0x1.71547652b82fep0;
  const double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
  double kd = x * inv_ln2 + shift;
  uint64_t ki;
  memcpy(&ki, &kd, sizeof ki);
  kd -= shift;
  const double r = (x - kd * ln2_hi) - kd * ln2_lo;
  double p = 1.0 / 6227020800.0; /* 1/13! */
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const uint64_t bits = (ki + 1023) << 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  /* NaN propagates (the comparison is false); -inf and other huge negatives give 0 */
  return x_in < -708.0 ? 0.0 : p * scale;
}

/* 4-wide vectors (GCC/Clang vector extensions): the AVX2 clone uses ymm registers, the default
 * clone pairs of SSE2 registers; the same IEEE operations per lane either way. */
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
#define V4_LOAD(v, p) memcpy(&(v), (p), sizeof(v4d))
#define V4_STORE(p, v) memcpy((p), &(v), sizeof(v4d))

/* exp_nonpos(v - sub) on four lanes, the same operations in the same order as the scalar one (so the
 * same bits): the compiler does not vectorise the scalar one's bit casts by itself. */
static inline void exp_nonpos4_sub(double *p_io, double sub) {
  v4d x_in, x, kd, r, p, scale;
  V4_LOAD(x_in, p_io);
  x_in -= sub; /* e^(v - sub), the subtraction of the callers' separate loop, in registers */
  const v4d lo = {-708.0, -708.0, -708.0, -708.0};
  const v4i under = x_in < lo; /* all ones where x_in < -708 (false for NaN) */
  v4i xb, lob;
  memcpy(&xb, &x_in, sizeof xb);
  memcpy(&lob, &lo, sizeof lob);
  xb = (xb & ~under) | (lob & under);
  memcpy(&x, &xb, sizeof x);
  const double shift = 0x1.8p52, inv_ln2 = 0x1.71547652b82fep0;
  const double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
  kd = x * inv_ln2 + shift;
  v4i ki;
  memcpy(&ki, &kd, sizeof ki);
  kd -= shift;
  r = (x - kd * ln2_hi) - kd * ln2_lo;
  p = (v4d){0, 0, 0, 0} + 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const v4i bits = (ki + 1023) << 52;
  memcpy(&scale, &bits, sizeof scale);
  p = p * scale;
  v4i pb;
  memcpy(&pb, &p, sizeof pb);
  pb &= ~under;
  memcpy(p_io, &pb, sizeof pb);
}

/* out[i] = sum_j w[j] Yt[u[j]*M + i] for i < M, j ascending. Eight outputs at a time stay in
 * registers while j runs, instead of loading and storing out[] for every j. */
static inline void logits(double *restrict out, const double *restrict Yt, const int *restrict u,
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
/* AVX2 where the CPU has it (chosen at load time); no FMA in either clone and no
 * contraction in ISO C mode, so both clones round identically. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SS_HOT __attribute__((target_clones("avx2", "default")))
#else
#define SS_HOT
#endif

/* Phase 1a of one sequence: its support (su, sn; sk = number of key slots, the residual-only
 * query slot, if any, is slot sk), the attention per key slot (att, SPEC §2.1 softmax over
 * keys grouped by token), f on the support (sf, normalised when normalize) and ||c|| (cnorm). */
SS_HOT static void seq_compose(const yz_impl *y, const double *Z, const int *x, int T, int *slot, int *su, double *sf,
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
  /* e^{Z[m,u_j] - zmax} into sf (free until f is written), four at a time */
  int j4 = 0;
  for (; j4 + 4 <= k; j4 += 4) exp_nonpos4_sub(sf + j4, zmax);
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
static inline void seq_output(double *restrict G, int M, int label, double inv_B, double *loss, int *hit,
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
  for (; i4 + 4 <= M; i4 += 4) {
    exp_nonpos4_sub(G + i4, lmax);
    se += G[i4];
    se += G[i4 + 1];
    se += G[i4 + 2];
    se += G[i4 + 3];
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
static inline void seq_backward(const yz_impl *y, double *gf, const double *sf, double *sg, int k, int kk,
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
SS_HOT static void seq_forward_backward(const yz_impl *y, const double *Yt, const double *Z, const int *x, int T,
                                 int label, double inv_B, int *slot, double *G, int *sn, int *su, double *sf,
                                 double *sg, double *loss, int *hit, int backward) {
  const int M = y->o.M;
  int k, kk;
  double cnorm;
  seq_compose(y, Z, x, T, slot, su, sf, sg, &kk, &k, &cnorm);
  /* logit = Y f = sum_j f_j Yt[u_j, :]; G row holds logits, then softmax - e_n */
  logits(G, Yt, su, sf, kk, M);
  seq_output(G, M, label, inv_B, loss, hit, backward);
  if (backward) {
    /* g_f[u_j] = sum_i Y[i,u_j] g_i = Yt[u_j,:].g */
    double gf_stack[256];
    double *gf = kk <= 256 ? gf_stack : malloc(sizeof(double) * (size_t)kk);
    for (int j = 0; j < kk; j++) gf[j] = dot(Yt + (size_t)su[j] * M, G, M);
    seq_backward(y, gf, sf, sg, k, kk, cnorm);
    if (gf != gf_stack) free(gf);
  }
  *sn = kk;
}

/* D [M, M] = sum over sequences b0 <= b < b1 (ascending) of f_b g_b^T, transposed:
 * D[u, :] += f_b[u] g_b. */
SS_HOT static void chunk_dY(const yz_impl *y, double *D, int b0, int b1, int M) {
  const int S = y->S;
  memset(D, 0, sizeof(double) * (size_t)M * M);
  for (int bb = b0; bb < b1; bb++) {
    const int *su = y->su + (size_t)bb * S;
    const double *sf = y->sf + (size_t)bb * S, *g = y->G + (size_t)bb * M;
    for (int j = 0; j < y->sn[bb]; j++) axpy(D + (size_t)su[j] * M, sf[j], g, M);
  }
}

/* ---- The grouped path (generated batches: every sequence has its class, SPEC §2.1) ----
 *
 * All sequences of class n draw their keys from the class's support (the tokens with
 * P(l|n) > 0, ~20 while M reaches 240 in the Figure-6 grid), so the batch is cut into groups
 * g = one class each (class ascending, sequences ascending inside), and each group's work
 * becomes small dense products over U_g = the union of its sequences' supports (k_g tokens,
 * ascending; computed from the data, so any grouping is correct and the class index is only
 * a hint of which sequences share tokens):
 *   F_g  [B_g, k_g]  row b = f_b on U_g (0 where b lacks the token)
 *   logits_b = sum_j F_g[b, j] Yt[U_j, :]           (Y_sub F_g^T, [M] per sequence)
 *   GF_g [B_g, k_g]  GF_g[b, j] = Yt[U_j, :] . g_b  (Y_sub^T G_g)
 *   dY[:, U_j] += sum_b g_b F_g[b, j]               (G_g F_g, M x k_g)
 * Each Yt row or g row loaded from memory then serves several sequences or several support
 * tokens (register blocking with 4-wide vectors), and dY is accumulated once, directly,
 * instead of into per-chunk [M, M] partial sums that must be zeroed and added (which cost
 * more than the products at M = 240). Zeros in F add exact zeros: same value as skipping.
 *
 * Determinism: every sum's order is fixed by the batch alone: logits j ascending over U_g;
 * dots with four lanes (i mod 4), lanes combined (0+1)+(2+3), then the tail i ascending;
 * dY[i, u] = sum over groups ascending of (sum over b ascending). Threads split groups (phase
 * 1, outputs disjoint) or rows i of dY (phase 2), which does not change any sum. */

/* Logits of nr <= 4 sequences of a group: out[r] [M] = sum_j F[r*k + j] Yt[U_j, :], j ascending.
 * nr sequences x 8 outputs = up to 8 vector accumulators per pair of Yt loads. Inlined with a
 * constant nr so that the accumulators live in registers. */
static inline __attribute__((always_inline)) void logits_rows(double *const *out, const int nr, const double *Yt,
                                                              const int *U, const double *F, int k, int M) {
  int i0 = 0;
  for (; i0 + 8 <= M; i0 += 8) {
    v4d a[4][2];
    for (int r = 0; r < nr; r++) a[r][0] = a[r][1] = (v4d){0, 0, 0, 0};
    for (int j = 0; j < k; j++) {
      v4d y0, y1;
      const double *yr = Yt + (size_t)U[j] * M + i0;
      V4_LOAD(y0, yr);
      V4_LOAD(y1, yr + 4);
      for (int r = 0; r < nr; r++) {
        const double w = F[(size_t)r * k + j];
        a[r][0] += w * y0;
        a[r][1] += w * y1;
      }
    }
    for (int r = 0; r < nr; r++) {
      V4_STORE(out[r] + i0, a[r][0]);
      V4_STORE(out[r] + i0 + 4, a[r][1]);
    }
  }
  for (; i0 < M; i0++)
    for (int r = 0; r < nr; r++) {
      double s = 0;
      for (int j = 0; j < k; j++) s += F[(size_t)r * k + j] * Yt[(size_t)U[j] * M + i0];
      out[r][i0] = s;
    }
}

SS_HOT static void group_logits(double *const *out, int nr, const double *Yt, const int *U, const double *F, int k,
                                int M) {
  switch (nr) {
  case 4: logits_rows(out, 4, Yt, U, F, k, M); break;
  case 3: logits_rows(out, 3, Yt, U, F, k, M); break;
  case 2: logits_rows(out, 2, Yt, U, F, k, M); break;
  default: logits_rows(out, 1, Yt, U, F, k, M); break;
  }
}

/* out[r*k + j] = Yt[U_j,:] . g_r for r < nr (<= 2), j < k: 4 support tokens x 2 sequences =
 * 8 vector accumulators; lanes summed (0+1)+(2+3), then the tail i ascending. */
SS_HOT static void group_gf(double *out, int nr, const double *Yt, const int *U, int k, const double *G, size_t ldg,
                            int M) {
  const int M4 = M & ~3;
  for (int j0 = 0; j0 < k; j0 += 4) {
    const int nj = k - j0 < 4 ? k - j0 : 4;
    const double *yr[4];
    for (int q = 0; q < 4; q++) yr[q] = Yt + (size_t)U[j0 + (q < nj ? q : 0)] * M;
    v4d a[2][4];
    for (int r = 0; r < 2; r++)
      for (int q = 0; q < 4; q++) a[r][q] = (v4d){0, 0, 0, 0};
    const double *g0 = G, *g1 = G + (nr > 1 ? ldg : 0);
    for (int i = 0; i < M4; i += 4) {
      v4d x0, x1, w;
      V4_LOAD(x0, g0 + i);
      V4_LOAD(x1, g1 + i);
      for (int q = 0; q < 4; q++) {
        V4_LOAD(w, yr[q] + i);
        a[0][q] += w * x0;
        a[1][q] += w * x1;
      }
    }
    for (int r = 0; r < nr; r++) {
      const double *g = r ? g1 : g0;
      /* lanes of the four accumulators summed together: s[q] = (a_q[0] + a_q[1]) + (a_q[2] +
       * a_q[3]), the same additions as one at a time, in two shuffles and two vector adds */
      const v4d h01 = __builtin_shufflevector(a[r][0], a[r][1], 0, 4, 2, 6) +
                      __builtin_shufflevector(a[r][0], a[r][1], 1, 5, 3, 7);
      const v4d h23 = __builtin_shufflevector(a[r][2], a[r][3], 0, 4, 2, 6) +
                      __builtin_shufflevector(a[r][2], a[r][3], 1, 5, 3, 7);
      const v4d sv = __builtin_shufflevector(h01, h23, 0, 1, 4, 5) + __builtin_shufflevector(h01, h23, 2, 3, 6, 7);
      for (int q = 0; q < nj; q++) {
        double s = sv[q];
        for (int i = M4; i < M; i++) s += yr[q][i] * g[i];
        out[(size_t)r * k + j0 + q] = s;
      }
    }
  }
}

/* dY rows [i0, i1) (i0 a multiple of 8): dY[i, U_j] += sum_b G[b, i] F_g[b, j], b ascending, for
 * every group in order. G rows have stride Mp (a multiple of 8, padded with zeros), so blocks
 * of 8 rows (two vectors: G rows are contiguous in i) need no scalar tail; x 2 support tokens,
 * so each G load serves two products; the sums of rows i < i1 are then added into dY. */
SS_HOT static void group_dY(const yz_impl *y, double *dY, int ngroups, int i0, int i1, int M, int Mp) {
  for (int i = i0; i < i1; i++) memset(dY + (size_t)i * M, 0, sizeof(double) * (size_t)M);
  for (int g = 0; g < ngroups; g++) {
    const int nb = y->gstart[g + 1] - y->gstart[g], k = y->gk[g];
    const int *U = y->gU + y->guo[g];
    const double *F = y->F + y->gfo[g];
    const double *Gg = y->G + (size_t)y->gstart[g] * Mp; /* the group's G rows are adjacent */
    for (int i = i0; i < i1; i += 8) {
      const int nl = i1 - i < 8 ? i1 - i : 8; /* rows of this block inside dY */
      int j = 0;
      for (; j + 2 <= k; j += 2) {
        v4d a00 = {0, 0, 0, 0}, a01 = a00, a10 = a00, a11 = a00, x0, x1;
        for (int r = 0; r < nb; r++) {
          const double *gr = Gg + (size_t)r * Mp + i;
          V4_LOAD(x0, gr);
          V4_LOAD(x1, gr + 4);
          const double f0 = F[(size_t)r * k + j], f1 = F[(size_t)r * k + j + 1];
          a00 += f0 * x0;
          a01 += f0 * x1;
          a10 += f1 * x0;
          a11 += f1 * x1;
        }
        double *d0 = dY + (size_t)i * M + U[j], *d1 = dY + (size_t)i * M + U[j + 1];
        if (nl == 8) {
          for (int l = 0; l < 4; l++) {
            d0[(size_t)l * M] += a00[l];
            d0[(size_t)(l + 4) * M] += a01[l];
            d1[(size_t)l * M] += a10[l];
            d1[(size_t)(l + 4) * M] += a11[l];
          }
        } else {
          for (int l = 0; l < nl; l++) {
            d0[(size_t)l * M] += l < 4 ? a00[l] : a01[l - 4];
            d1[(size_t)l * M] += l < 4 ? a10[l] : a11[l - 4];
          }
        }
      }
      for (; j < k; j++) {
        v4d a0 = {0, 0, 0, 0}, a1 = a0, x0, x1;
        for (int r = 0; r < nb; r++) {
          const double *gr = Gg + (size_t)r * Mp + i;
          V4_LOAD(x0, gr);
          V4_LOAD(x1, gr + 4);
          const double f0 = F[(size_t)r * k + j];
          a0 += f0 * x0;
          a1 += f0 * x1;
        }
        double *d = dY + (size_t)i * M + U[j];
        for (int l = 0; l < nl; l++) d[(size_t)l * M] += l < 4 ? a0[l] : a1[l - 4];
      }
    }
  }
}

static int cmp_pair(const void *a, const void *b) {
  const int *p = a, *q = b;
  if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
  return (p[1] > q[1]) - (p[1] < q[1]);
}

/* Phase 1 of the grouped path for group g: compose, logits, output and (backward) g_f and the
 * per-sequence backward, for every sequence of the group. slot: [M] all -1, left so. */
SS_HOT static void group_phase1(yz_impl *y, const ss_batch *b, const double *Yt, const double *Z, int g, int *slot,
                         double inv_B, int backward) {
  const int M = y->o.M, T = b->T, S = y->S, Mp = (M + 7) & ~7;
  const int *mem = y->ord + 2 * (size_t)y->gstart[g];
  const int nb = y->gstart[g + 1] - y->gstart[g];
  for (int r = 0; r < nb; r++) {
    const int i = mem[2 * r + 1];
    seq_compose(y, Z, b->x + (size_t)i * T, T, slot, y->su + (size_t)i * S, y->sf + (size_t)i * S,
                y->sg + (size_t)i * S, &y->sn[i], &y->sk[i], &y->cn[i]);
  }
  /* U_g ascending: mark, then scan the tokens (O(M), small next to the O(M k) products) */
  int *U = y->gU + y->guo[g];
  for (int r = 0; r < nb; r++) {
    const int i = mem[2 * r + 1];
    for (int j = 0; j < y->sn[i]; j++) slot[y->su[(size_t)i * S + j]] = 0;
  }
  int k = 0;
  for (int u = 0; u < M; u++)
    if (slot[u] == 0) {
      slot[u] = k;
      U[k++] = u;
    }
  y->gk[g] = k;
  double *F = y->F + y->gfo[g], *GF = y->GF + y->gfo[g];
  memset(F, 0, sizeof(double) * (size_t)nb * k);
  for (int r = 0; r < nb; r++) {
    const int i = mem[2 * r + 1];
    for (int j = 0; j < y->sn[i]; j++) F[(size_t)r * k + slot[y->su[(size_t)i * S + j]]] = y->sf[(size_t)i * S + j];
  }
  /* G rows of the group, in sorted order (row gstart[g] + r is the group's r-th sequence) */
  double *Gg = y->G + (size_t)y->gstart[g] * Mp;
  /* logits, 4 sequences at a time */
  for (int r0 = 0; r0 < nb; r0 += 4) {
    const int nr = nb - r0 < 4 ? nb - r0 : 4;
    double *rows[4];
    for (int r = 0; r < nr; r++) rows[r] = Gg + (size_t)(r0 + r) * Mp;
    group_logits(rows, nr, Yt, U, F + (size_t)r0 * k, k, Mp);
  }
  for (int r = 0; r < nb; r++) {
    const int i = mem[2 * r + 1];
    seq_output(Gg + (size_t)r * Mp, M, b->label[i], inv_B, &y->loss_b[i], &y->hit_b[i], backward);
  }
  if (backward) {
    for (int r0 = 0; r0 < nb; r0 += 2) {
      const int nr = nb - r0 < 2 ? nb - r0 : 2;
      group_gf(GF + (size_t)r0 * k, nr, Yt, U, k, Gg + (size_t)r0 * Mp, (size_t)Mp, Mp);
    }
    double gf_stack[256];
    for (int r = 0; r < nb; r++) {
      const int i = mem[2 * r + 1], kk = y->sn[i];
      double *gf = kk <= 256 ? gf_stack : malloc(sizeof(double) * (size_t)kk);
      const int *su = y->su + (size_t)i * S;
      for (int j = 0; j < kk; j++) gf[j] = GF[(size_t)r * k + slot[su[j]]];
      seq_backward(y, gf, y->sf + (size_t)i * S, y->sg + (size_t)i * S, y->sk[i], kk, y->cn[i]);
      if (gf != gf_stack) free(gf);
    }
  }
  for (int j = 0; j < k; j++) slot[U[j]] = -1;
}

/* Whether the grouped path applies: every sequence has a class (generated data, or file rows
 * that match one). */
static int batch_has_classes(const ss_batch *b) {
  if (!b->cls) return 0;
  for (int i = 0; i < b->B; i++)
    if (b->cls[i] < 0) return 0;
  return 1;
}

static int yz_run_grouped(yz_impl *y, ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward) {
  const int M = y->o.M, B = b->B, T = b->T, S = y->S;
  const double *Z = (const double *)mdl->params + (size_t)M * M;
  const double inv_B = 1.0 / B;
  const int par_seq = (double)B * (T + 3.0 * M * (T < 64 ? T : 64)) > SS_YZ_PAR_WORK;
  /* groups: (class, sequence) pairs sorted, cut at class changes. Classes below B (always,
   * for generated batches: classes < N, and N <= B in practice) by a stable counting sort,
   * O(B + N); otherwise qsort. Both give the same (class, sequence) ascending order. */
  int *ord = y->ord;
  int maxc = 0;
  for (int i = 0; i < B; i++)
    if (b->cls[i] > maxc) maxc = b->cls[i];
  if (maxc < B) {
    int *cnt = y->ccnt;
    memset(cnt, 0, sizeof(int) * ((size_t)maxc + 2));
    for (int i = 0; i < B; i++) cnt[b->cls[i] + 1]++;
    for (int c = 0; c <= maxc; c++) cnt[c + 1] += cnt[c];
    for (int i = 0; i < B; i++) {
      const int p = cnt[b->cls[i]]++;
      ord[2 * p] = b->cls[i];
      ord[2 * p + 1] = i;
    }
  } else {
    for (int i = 0; i < B; i++) {
      ord[2 * i] = b->cls[i];
      ord[2 * i + 1] = i;
    }
    qsort(ord, (size_t)B, 2 * sizeof(int), cmp_pair);
  }
  int ng = 0;
  for (int r = 0; r < B; r++)
    if (r == 0 || ord[2 * r] != ord[2 * r - 2]) y->gstart[ng++] = r;
  y->gstart[ng] = B;
  /* offsets: U_g gets room for B_g S tokens (a union of B_g supports); F_g, GF_g B_g * min(M, B_g S) */
  int uo = 0, fo = 0;
  for (int g = 0; g < ng; g++) {
    const int nb = y->gstart[g + 1] - y->gstart[g];
    const long kmax = (long)nb * S < M ? (long)nb * S : M;
    y->guo[g] = uo;
    y->gfo[g] = fo;
    uo += nb * S;
    fo += (int)(nb * kmax);
  }
#pragma omp parallel for schedule(dynamic, 1) if (par_seq)
  for (int g = 0; g < ng; g++)
    group_phase1(y, b, y->Yt, Z, g, y->slot + (size_t)omp_get_thread_num() * M, inv_B, backward);
  double L = 0;
  int hits = 0;
  for (int i = 0; i < B; i++) {
    L += y->loss_b[i];
    hits += y->hit_b[i];
  }
  *loss = L / B;
  *acc = (double)hits / B;
  if (!backward) return SS_OK;
  double *dY = mdl->grads, *dZ = (double *)mdl->grads + (size_t)M * M;
  /* phase 2: dY by blocks of 64 rows (a multiple of 4) */
  const int nblk = (M + 63) / 64;
#pragma omp parallel for schedule(static) if (par_seq)
  for (int c = 0; c < nblk; c++) group_dY(y, dY, ng, 64 * c, 64 * c + 64 < M ? 64 * c + 64 : M, M, (M + 7) & ~7);
  memset(dZ, 0, sizeof(double) * (size_t)M * M);
  for (int bb = 0; bb < B; bb++) {
    double *dZm = dZ + (size_t)b->x[(size_t)bb * T + T - 1] * M;
    const int *su = y->su + (size_t)bb * S;
    const double *sg = y->sg + (size_t)bb * S;
    for (int j = 0; j < y->sn[bb]; j++) dZm[su[j]] += sg[j];
  }
  return SS_OK;
}

static int yz_run(ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward, ss_err *err) {
  yz_impl *y = mdl->impl;
  const int M = y->o.M, B = b->B, T = b->T;
  int rc = grow(y, B, T, err);
  if (rc) return rc;
  const double *Y = mdl->params, *Z = (const double *)mdl->params + (size_t)M * M;
  const int S = y->S, nch = y->nch;
  const double inv_B = 1.0 / B;
  /* ~ multiply-adds of phase 1 (the same estimate as n_chunks) */
  const int par_seq = (double)B * (T + 3.0 * M * (T < 64 ? T : 64)) > SS_YZ_PAR_WORK;
  double *Yt = y->Yt;
  /* Yt = Y^T, by blocks of 32 x 32 so both sides stay in cache; rows of stride ld: M for the
   * general path, Mp (padded with zeros) for the grouped path's kernels */
  const int grouped = batch_has_classes(b);
  const int ld = grouped ? (M + 7) & ~7 : M;
#pragma omp parallel for schedule(static) if ((double)M * M > 4 * SS_YZ_PAR_WORK)
  for (int ib = 0; ib < M; ib += 32)
    for (int ub = 0; ub < M; ub += 32)
      for (int i = ib; i < ib + 32 && i < M; i++)
        for (int u = ub; u < ub + 32 && u < M; u++) Yt[(size_t)u * ld + i] = Y[(size_t)i * M + u];
  if (grouped) {
    for (int u = 0; u < M; u++)
      for (int i = M; i < ld; i++) Yt[(size_t)u * ld + i] = 0;
    return yz_run_grouped(y, mdl, b, loss, acc, backward);
  }
  /* phase 1: every sequence on its own */
#pragma omp parallel for schedule(static) if (par_seq)
  for (int i = 0; i < B; i++) {
    int *slot = y->slot + (size_t)omp_get_thread_num() * M;
    seq_forward_backward(y, Yt, Z, b->x + (size_t)i * T, T, b->label[i], inv_B, slot, y->G + (size_t)i * M,
                         &y->sn[i], y->su + (size_t)i * S, y->sf + (size_t)i * S, y->sg + (size_t)i * S,
                         &y->loss_b[i], &y->hit_b[i], backward);
  }
  double L = 0;
  int hits = 0;
  for (int i = 0; i < B; i++) {
    L += y->loss_b[i];
    hits += y->hit_b[i];
  }
  *loss = L / B;
  *acc = (double)hits / B;
  if (!backward) return SS_OK;
  double *dY = mdl->grads, *dZ = (double *)mdl->grads + (size_t)M * M;
  if (nch > 0) {
    /* phase 2: dYt_c[u, :] = sum over the chunk's sequences (ascending) of f_b[u] g_b */
#pragma omp parallel for schedule(static) if (par_seq)
    for (int c = 0; c < nch; c++)
      chunk_dY(y, y->dYt + (size_t)c * M * M, (int)((long)B * c / nch), (int)((long)B * (c + 1) / nch), M);
    /* phase 3: dY[i, u] = sum_c dYt_c[u, i], chunks in order */
#pragma omp parallel for schedule(static) if ((double)nch * M * M > SS_YZ_PAR_WORK)
    for (int i = 0; i < M; i++) {
      double *dYi = dY + (size_t)i * M;
      for (int u = 0; u < M; u++) {
        double s = 0;
        for (int c = 0; c < nch; c++) s += y->dYt[((size_t)c * M + u) * M + i];
        dYi[u] = s;
      }
    }
  } else {
    /* no chunk buffer (very large M): dY[i, u] = sum_b G[b,i] f_b[u], parallel over rows i, b ascending */
#pragma omp parallel for schedule(static) if (par_seq)
    for (int i = 0; i < M; i++) {
      double *dYi = dY + (size_t)i * M;
      memset(dYi, 0, sizeof(double) * (size_t)M);
      for (int bb = 0; bb < B; bb++) {
        double g = y->G[(size_t)bb * M + i];
        const int *su = y->su + (size_t)bb * S;
        const double *sf = y->sf + (size_t)bb * S;
        for (int j = 0; j < y->sn[bb]; j++) dYi[su[j]] += g * sf[j];
      }
    }
  }
  memset(dZ, 0, sizeof(double) * (size_t)M * M);
  for (int bb = 0; bb < B; bb++) {
    double *dZm = dZ + (size_t)b->x[(size_t)bb * T + T - 1] * M;
    const int *su = y->su + (size_t)bb * S;
    const double *sg = y->sg + (size_t)bb * S;
    for (int j = 0; j < y->sn[bb]; j++) dZm[su[j]] += sg[j];
  }
  return SS_OK;
}

static int yz_step(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return yz_run(m, b, loss, acc, 1, err);
}
static int yz_eval(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err) {
  return yz_run(m, b, loss, acc, 0, err);
}

void ss_yz_composition_from_Z(const double *Z, const ss_classes *cl, double *c) {
  const int M = cl->M;
  for (int n = 0; n < cl->N; n++) {
    const double *Zm = Z + (size_t)cl->query[n] * M, *P = cl->prob + (size_t)n * M;
    double *cn = c + (size_t)n * M, zmax = -INFINITY, s = 0;
    for (int l = 0; l < M; l++)
      if (P[l] > 0 && Zm[l] > zmax) zmax = Zm[l];
    for (int l = 0; l < M; l++) s += cn[l] = P[l] > 0 ? P[l] * exp(Zm[l] - zmax) : 0.0;
    for (int l = 0; l < M; l++) cn[l] /= s;
  }
}

static int yz_composition(ss_model *m, const ss_classes *cl, double *c, ss_err *err) {
  yz_impl *y = m->impl;
  if (cl->M != y->o.M) return ss_seterr(err, SS_EINPUT, "class table has M = %d, model has M = %d", cl->M, y->o.M);
  ss_yz_composition_from_Z((const double *)m->params + (size_t)cl->M * cl->M, cl, c);
  return SS_OK;
}

static void yz_free(ss_model *m) {
  yz_impl *y = m->impl;
  if (!y) return;
  free_scratch(y);
  free(y);
}

static const ss_model_ops yz_ops = {"yz", yz_step, yz_eval, yz_composition, yz_free};

int ss_yz_new(const ss_yz_opts *o, ss_rng *rng, ss_model **out, ss_err *err) {
  *out = NULL;
  int M = o->M;
  double bytes = (double)M * M * 8 * 6; /* params, grads, up to two optimizer moments, slack */
  if (M < 2 || bytes > 32e9)
    return ss_seterr(err, SS_EINPUT, "vocabulary M = %d: the Y/Z model needs %.1f GiB, beyond what fits in memory", M, bytes / (1 << 30));
  ss_model *m = calloc(1, sizeof *m);
  yz_impl *y = calloc(1, sizeof *y);
  size_t n = 2 * (size_t)M * M;
  if (m) {
    m->params = calloc(n, sizeof(double));
    m->grads = calloc(n, sizeof(double));
  }
  if (!m || !y || !m->params || !m->grads) {
    free(y);
    ss_model_free(m);
    return ss_seterr(err, SS_EINPUT, "vocabulary M = %d: the Y/Z model does not fit in memory", M);
  }
  y->o = *o;
  m->ops = &yz_ops;
  m->impl = y;
  m->dtype = SS_F64;
  m->nparams = n;
  double *P = m->params;
  if (!o->zero_init) {
    /* torch.nn.Linear default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    double bound = 1.0 / sqrt((double)M);
    for (size_t i = 0; i < n; i++) P[i] = (2.0 * ss_rng_uniform(rng) - 1.0) * bound;
  }
  m->ngroups = 2;
  m->groups[0] = (ss_param_group){"Y", 0, (size_t)M * M, 0};
  m->groups[1] = (ss_param_group){"Z", (size_t)M * M, (size_t)M * M, 0};
  m->ntensors = 2;
  m->tensors[0] = (ss_tensor){"Y", SS_F64, 2, {M, M}, P};
  m->tensors[1] = (ss_tensor){"Z", SS_F64, 2, {M, M}, P + (size_t)M * M};
  *out = m;
  return SS_OK;
}
