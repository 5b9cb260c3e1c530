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
 *   class): rows sharing (class, query) share the key weights e^{Z[m,.]} and a small support,
 *   so each group is done densely on the union of its supports in 8-lane vectors; see the
 *   comment above the grouped path's kernels (timings: docs/bench.md).
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
 * dZ and the loss are summed serially in sequence order. Grouped path: groups in (class,
 * query) order; dY, dZ and the loss summed group by group; threads take whole groups or
 * blocks of dY rows. Threads are used only where a loop has enough work to pay for waking
 * them (SS_YZ_PAR_WORK), which does not change any result. */
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
/* Group keys (class * M + query) below this are sorted by counting, else by qsort. */
#define SS_YZ_SORT_KEYS(B) (4LL * (B) + 4096)
/* Per-group shares of dY (D_g, [Mp, Mp] each at most) are kept when they fit in this many
 * doubles (16 MiB): then each group's thread computes its own, and phase 2 only adds them. */
#define SS_YZ_DG_DOUBLES ((size_t)1 << 21)

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
  double *loss_b; /* [B]      loss per row (general path) or per group (grouped path) */
  int *hit_b;     /* [B]      hits, the same */
  int *slot;      /* [threads, M] token -> support slot, -1 when absent */
  int nslot;
  double *dYt;    /* [nch, M, M] per-chunk partial dY, transposed (NULL when nch = 0) */
  /* grouped path (rows with a class, see yz_run_grouped); rows in group order, stride Mp */
  int *ord;       /* [B]      batch row of sorted position p: groups are runs of one (class, query) */
  long long *opairs; /* [2B]  (key, row) pairs when the keys are too many to count */
  int *gstart;    /* [B+1]    group g = positions gstart[g] .. gstart[g+1] */
  int *ccnt;      /* [SS_YZ_SORT_KEYS(B)+1] counting sort of the rows by key */
  int *gU;        /* [B, Mp]  union support of group g (row g), ascending tokens */
  int *gk, *gm;   /* [B]      its size k_g and its query */
  int *cnt;       /* [B, Mp]  key counts per token */
  double *cn;     /* [B]      ||c|| (1 without normalize) */
  double *F, *ATT, *GF; /* [B, Mp] f, attention and Y^T g on U_g (first kp entries of a row) */
  double *DZ;     /* [B, Mp]  group g: sum over its rows of dL/dZ[m, U_j] */
  int *any;       /* [threads, Mp] union of a group's key tokens (nonzero = present) */
  double *wbuf;   /* [threads, Mp]    e^{Z[m, U_j] - zmax} */
  double *yu;     /* [threads, M, Mp] Y[:, U_g] */
  double *Dg;     /* [dg_cap] group g's share of dY on its support, [Mp, kp] at g * Mp * Mp */
  size_t dg_cap;
  int dg_on;      /* this call computes the D_g in phase 1 (they fit in Dg) */
  double *dtmp;   /* [threads, 8, Mp] one block of D (phase 2, when they do not) */
} yz_impl;

static void free_scratch(yz_impl *y) {
  free(y->Yt); free(y->G); free(y->sn); free(y->su); free(y->sf); free(y->sg); free(y->loss_b); free(y->hit_b);
  free(y->slot); free(y->dYt);
  free(y->ord); free(y->opairs); free(y->gstart); free(y->ccnt); free(y->gU); free(y->gk); free(y->gm); free(y->cnt);
  free(y->cn); free(y->F); free(y->ATT); free(y->GF); free(y->DZ); free(y->any); free(y->wbuf); free(y->yu); free(y->Dg); free(y->dtmp);
  y->Yt = y->G = y->sf = y->sg = y->loss_b = y->dYt = y->cn = y->F = y->ATT = y->GF = y->DZ = y->wbuf = y->yu = y->Dg = y->dtmp = NULL;
  y->sn = y->su = y->hit_b = y->slot = y->ord = y->gstart = y->ccnt = y->gU = y->gk = y->gm = y->cnt = y->any = NULL;
  y->opairs = NULL;
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
  const size_t BM = (size_t)B * Mp;
  y->ord = malloc(sizeof(int) * (size_t)B);
  y->opairs = malloc(sizeof(long long) * 2 * (size_t)B);
  y->gstart = malloc(sizeof(int) * ((size_t)B + 1));
  y->ccnt = malloc(sizeof(int) * ((size_t)SS_YZ_SORT_KEYS(B) + 1));
  y->gU = malloc(sizeof(int) * BM);
  y->gk = malloc(sizeof(int) * (size_t)B);
  y->gm = malloc(sizeof(int) * (size_t)B);
  y->cnt = malloc(sizeof(int) * BM);
  y->cn = malloc(sizeof(double) * (size_t)B);
  y->F = malloc(sizeof(double) * BM);
  y->ATT = malloc(sizeof(double) * BM);
  y->GF = malloc(sizeof(double) * BM);
  y->DZ = malloc(sizeof(double) * BM);
  y->any = malloc(sizeof(int) * (size_t)thr * Mp);
  y->wbuf = malloc(sizeof(double) * (size_t)thr * Mp);
  y->yu = malloc(sizeof(double) * (size_t)thr * M * Mp);
  y->dg_cap = BM * Mp < SS_YZ_DG_DOUBLES ? BM * Mp : SS_YZ_DG_DOUBLES;
  y->Dg = malloc(sizeof(double) * y->dg_cap);
  y->dtmp = malloc(sizeof(double) * 8 * (size_t)thr * Mp);
  if (!y->Yt || !y->G || !y->sn || !y->su || !y->sf || !y->sg || !y->loss_b || !y->hit_b || !y->slot ||
      (y->nch > 0 && !y->dYt) || !y->ord || !y->opairs || !y->gstart || !y->ccnt || !y->gU || !y->gk || !y->gm ||
      !y->cnt || !y->cn || !y->F || !y->ATT || !y->GF || !y->DZ || !y->any || !y->wbuf || !y->yu || !y->Dg || !y->dtmp) {
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

/* 8-wide vectors (GCC/Clang vector extensions): one zmm register in the AVX-512 clone, two
 * ymm in the AVX2 clone, four SSE2 registers in the default one; the same IEEE operations per
 * lane either way, so every clone gives the same bits. They are passed only between
 * always-inline functions (never across an ABI boundary), so GCC's note that their calling
 * convention differs with AVX-512 is moot. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
#define SS_AI static inline __attribute__((always_inline))

SS_AI v8d v8_load(const double *p) {
  v8d v;
  memcpy(&v, p, sizeof v);
  return v;
}
SS_AI void v8_store(double *p, v8d v) { memcpy(p, &v, sizeof v); }
SS_AI v8d v8_set1(double x) { return (v8d){x, x, x, x, x, x, x, x}; } /* not 0 + x: an add, for -0 */
/* a b + c rounded once, lane by lane: one vfmadd in the AVX-512 and AVX2 clones (GCC
 * vectorises the lanes), libm's fma() (also rounded once) in the baseline clone; so every
 * clone still gives the same bits. */
#define SS_FMA_LANE(l) __builtin_fma(a[l], b[l], c[l])
SS_AI v8d v8_fma(v8d a, v8d b, v8d c) {
  return (v8d){SS_FMA_LANE(0), SS_FMA_LANE(1), SS_FMA_LANE(2), SS_FMA_LANE(3),
               SS_FMA_LANE(4), SS_FMA_LANE(5), SS_FMA_LANE(6), SS_FMA_LANE(7)};
}
/* loops over register-blocked accumulators must be unrolled for them to stay in registers */
#define SS_UNROLL _Pragma("GCC unroll 8")
/* (l0 + l4) + (l2 + l6) + ((l1 + l5) + (l3 + l7)): one fixed tree */
SS_AI double v8_hsum(v8d v) {
  const v4d h = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  return (h[0] + h[2]) + (h[1] + h[3]);
}
SS_AI v8d v8_max(v8d a, v8d b) {
  const v8i gt = a > b;
  v8i ai, bi;
  memcpy(&ai, &a, sizeof ai);
  memcpy(&bi, &b, sizeof bi);
  ai = (ai & gt) | (bi & ~gt);
  memcpy(&a, &ai, sizeof a);
  return a;
}

/* exp_nonpos on 8 lanes: the same reduction and polynomial with each multiply-add rounded
 * once (v8_fma), so within an ulp of the scalar one (and of glibc), not bit-equal to it */
SS_AI v8d exp8_nonpos(v8d x_in) {
  const v8d lo = v8_set1(-708.0);
  const v8i under = x_in < lo; /* all ones where x_in < -708 (false for NaN) */
  v8i xb, lob;
  memcpy(&xb, &x_in, sizeof xb);
  memcpy(&lob, &lo, sizeof lob);
  xb = (xb & ~under) | (lob & under);
  v8d x, kd, r, p, scale;
  memcpy(&x, &xb, sizeof x);
  const double shift = 0x1.8p52, inv_ln2 = 0x1.71547652b82fep0;
  const double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
  kd = x * inv_ln2 + shift;
  v8i ki;
  memcpy(&ki, &kd, sizeof ki);
  kd -= shift;
  r = v8_fma(-kd, v8_set1(ln2_hi), x);
  r = v8_fma(-kd, v8_set1(ln2_lo), r);
  p = v8_set1(1.0 / 6227020800.0);
  p = v8_fma(p, r, v8_set1(1.0 / 479001600.0));
  p = v8_fma(p, r, v8_set1(1.0 / 39916800.0));
  p = v8_fma(p, r, v8_set1(1.0 / 3628800.0));
  p = v8_fma(p, r, v8_set1(1.0 / 362880.0));
  p = v8_fma(p, r, v8_set1(1.0 / 40320.0));
  p = v8_fma(p, r, v8_set1(1.0 / 5040.0));
  p = v8_fma(p, r, v8_set1(1.0 / 720.0));
  p = v8_fma(p, r, v8_set1(1.0 / 120.0));
  p = v8_fma(p, r, v8_set1(1.0 / 24.0));
  p = v8_fma(p, r, v8_set1(1.0 / 6.0));
  p = v8_fma(p, r, v8_set1(0.5));
  p = v8_fma(p, r, v8_set1(1.0));
  p = v8_fma(p, r, v8_set1(1.0));
  const v8i bits = (ki + 1023) << 52;
  memcpy(&scale, &bits, sizeof scale);
  p = p * scale;
  v8i pb;
  memcpy(&pb, &p, sizeof pb);
  pb &= ~under;
  memcpy(&p, &pb, sizeof p);
  return p;
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
/* AVX-512 or AVX2 where the CPU has it (chosen at load time); no FMA in any clone and no
 * contraction in ISO C mode, so all clones round identically. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SS_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
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
  /* e^{Z[m,u_j] - zmax} into sf (free until f is written), eight at a time */
  int j4 = 0;
  for (; j4 + 8 <= k; j4 += 8) v8_store(sf + j4, exp8_nonpos(v8_load(sf + j4) - zmax));
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
  for (; i4 + 8 <= M; i4 += 8) {
    v8_store(G + i4, exp8_nonpos(v8_load(G + i4) - lmax));
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
 * Rows are cut into groups g of one (class, query) each (class ascending, then query, rows
 * ascending inside). All rows of a group share the query m, hence the key weights
 * w_u = e^{Z[m,u]}, and draw their keys from one small support (10 common + 10 distinct
 * tokens in Figure 4, while M reaches 240 in the Figure-6 grid). Each group is worked on
 * densely over U_g = the union of its rows' key tokens (plus m with residual; k_g tokens,
 * ascending, found from the data, so any grouping is correct), in vectors of 8 lanes padded
 * with zeros to kp = round8(k_g):
 *   CNT  [B_g, Mp]  key counts per token (integers, exact)
 *   W    [kp]       e^{Z[m, U_j] - zmax_g}, once per group instead of once per row
 *   ATT  [B_g, kp]  attention per token: CNT[U_j] W_j / sum (SPEC §2.1, keys grouped by token)
 *   F    [B_g, kp]  f = c / ||c|| on U_g (c = ATT, + 1 at m with residual)
 *   L    [B_g, Mp]  logits = Y f = sum_j F[b, j] Yt[U_j, :]        (4 rows x 16 lanes)
 *   G    [B_g, Mp]  (softmax(L) - e_label) / B
 *   GF   [B_g, kp]  Y^T g on U_g = sum_i G[b, i] Y[i, U_j]           (4 rows x 16 lanes)
 *   dZ[m, U_j] += sum_b ATT (GC - ATT.GC)  with GC the gradient through the normalisation
 *   dY[i, U_j] += sum_b G[b, i] F[b, j]                              (8 rows x 16 lanes)
 * so every product is a small dense one with the loaded vector serving several rows.
 *
 * Determinism and bits: every sum has one order fixed by the batch alone: products over j or
 * i or b ascending, element by element (a lane never mixes with another, so the vector width
 * does not enter); reductions over a row (sum of the key weights, ||c||^2, the softmax sum,
 * f.g_f, att.g_c) as 8 lanes (index mod 8) combined in one fixed tree (v8_hsum). The v8d type
 * is 8 doubles whatever the instruction set (one zmm, two ymm or four xmm registers), and no
 * multiply-add is fused (ISO C mode: no contraction), so every clone gives the same bits.
 * Threads split groups (phase 1, outputs disjoint) or blocks of dY rows (phase 2). */

/* out rows r < NR (stride ldo) [Mp] = sum_j F[r*ldf + j] Yt[U_j*Mp + :], j ascending; NR a
 * constant after inlining, so the 2*NR accumulators stay in registers. */
SS_AI void logits_block(double *out, size_t ldo, const int NR, const double *Yt, const int *U, int k,
                        const double *F, size_t ldf, int Mp) {
  int i = 0;
  for (; i + 16 <= Mp; i += 16) {
    v8d a[4][2];
    SS_UNROLL for (int r = 0; r < NR; r++) a[r][0] = a[r][1] = v8_set1(0);
    for (int j = 0; j < k; j++) {
      const double *yr = Yt + (size_t)U[j] * Mp + i;
      const v8d y0 = v8_load(yr), y1 = v8_load(yr + 8);
      SS_UNROLL for (int r = 0; r < NR; r++) {
        const double w = F[(size_t)r * ldf + j];
        a[r][0] = v8_fma(v8_set1(w), y0, a[r][0]);
        a[r][1] = v8_fma(v8_set1(w), y1, a[r][1]);
      }
    }
    SS_UNROLL for (int r = 0; r < NR; r++) {
      v8_store(out + (size_t)r * ldo + i, a[r][0]);
      v8_store(out + (size_t)r * ldo + i + 8, a[r][1]);
    }
  }
  if (i < Mp) { /* Mp is a multiple of 8: one vector left */
    v8d a[4];
    SS_UNROLL for (int r = 0; r < NR; r++) a[r] = v8_set1(0);
    for (int j = 0; j < k; j++) {
      const v8d y0 = v8_load(Yt + (size_t)U[j] * Mp + i);
      SS_UNROLL for (int r = 0; r < NR; r++) a[r] = v8_fma(v8_set1(F[(size_t)r * ldf + j]), y0, a[r]);
    }
    SS_UNROLL for (int r = 0; r < NR; r++) v8_store(out + (size_t)r * ldo + i, a[r]);
  }
}

/* GF rows r < NR (stride ldf) [kp] = sum_{i < M} G[r*ldg + i] YU[i*kp + :], i ascending. */
SS_AI void gf_block(double *GF, size_t ldf, const int NR, const double *YU, int kp, const double *G, size_t ldg,
                    int M) {
  int j = 0;
  for (; j + 16 <= kp; j += 16) {
    v8d a[4][2];
    SS_UNROLL for (int r = 0; r < NR; r++) a[r][0] = a[r][1] = v8_set1(0);
    for (int i = 0; i < M; i++) {
      const double *yr = YU + (size_t)i * kp + j;
      const v8d y0 = v8_load(yr), y1 = v8_load(yr + 8);
      SS_UNROLL for (int r = 0; r < NR; r++) {
        const double g = G[(size_t)r * ldg + i];
        a[r][0] = v8_fma(v8_set1(g), y0, a[r][0]);
        a[r][1] = v8_fma(v8_set1(g), y1, a[r][1]);
      }
    }
    SS_UNROLL for (int r = 0; r < NR; r++) {
      v8_store(GF + (size_t)r * ldf + j, a[r][0]);
      v8_store(GF + (size_t)r * ldf + j + 8, a[r][1]);
    }
  }
  if (j < kp) {
    v8d a[4];
    SS_UNROLL for (int r = 0; r < NR; r++) a[r] = v8_set1(0);
    for (int i = 0; i < M; i++) {
      const v8d y0 = v8_load(YU + (size_t)i * kp + j);
      SS_UNROLL for (int r = 0; r < NR; r++) a[r] = v8_fma(v8_set1(G[(size_t)r * ldg + i]), y0, a[r]);
    }
    SS_UNROLL for (int r = 0; r < NR; r++) v8_store(GF + (size_t)r * ldf + j, a[r]);
  }
}

/* The output of one row: L [Mp] holds the logits (lanes >= M are 0) on entry; loss, hit, and
 * (backward) L becomes G = (softmax - e_label) / B, lanes >= M 0. */
SS_AI void row_output(double *L, int M, int Mp, int label, double inv_B, double *part, double *se_out, int *hit,
                      int backward) {
  for (int i = M; i < Mp; i++) L[i] = -INFINITY;
  /* largest logit and the first index holding it: per lane the first vector with the lane's
   * maximum (strict >), then the smallest index among the lanes holding the overall maximum */
  v8d mx = v8_load(L), mi = {0, 1, 2, 3, 4, 5, 6, 7};
  const v8d step8 = v8_set1(8);
  v8d iv = mi;
  for (int i = 8; i < Mp; i += 8) {
    iv += step8;
    const v8d v = v8_load(L + i);
    const v8i gt = v > mx;
    v8i a, b2, c, d;
    memcpy(&a, &v, sizeof a);
    memcpy(&b2, &mx, sizeof b2);
    memcpy(&c, &iv, sizeof c);
    memcpy(&d, &mi, sizeof d);
    a = (a & gt) | (b2 & ~gt);
    c = (c & gt) | (d & ~gt);
    memcpy(&mx, &a, sizeof mx);
    memcpy(&mi, &c, sizeof mi);
  }
  double lmax = mx[0], amin = mi[0];
  for (int l = 1; l < 8; l++)
    if (mx[l] > lmax || (mx[l] == lmax && mi[l] < amin)) {
      lmax = mx[l];
      amin = mi[l];
    }
  const int arg = (int)amin;
  const double lab = L[label];
  v8d s = v8_set1(0);
  for (int i = 0; i < Mp; i += 8) {
    const v8d e = exp8_nonpos(v8_load(L + i) - lmax);
    v8_store(L + i, e);
    s += e;
  }
  const double se = v8_hsum(s);
  *part = lmax - lab; /* the loss is lmax - lab + log(se); the caller takes the logs */
  *se_out = se;
  *hit = arg == label;
  if (backward) {
    const v8d sc = v8_set1(inv_B / se);
    for (int i = 0; i < Mp; i += 8) v8_store(L + i, v8_load(L + i) * sc);
    L[label] -= inv_B;
  }
}

static void group_D(yz_impl *y, int g, int M);

/* Phase 1 for group g: counts, union support, attention, f, logits, loss and (backward) the
 * per-row gradients GF and the group's dZ row sum. */
SS_HOT static void group_phase1(yz_impl *y, const ss_batch *b, const double *Y, const double *Yt, const double *Z,
                                int g, int tid, double inv_B, int backward) {
  const int M = y->o.M, T = b->T, Mp = (M + 7) & ~7;
  const int p0 = y->gstart[g], nb = y->gstart[g + 1] - p0;
  const int *rows = y->ord + p0; /* batch row of the group's r-th row */
  const int m = b->x[(size_t)rows[0] * T + T - 1];
  const int nkeys = y->o.include_base_token ? T : T - 1;
  int *cnt = y->cnt + (size_t)p0 * Mp;
  int *any = y->any + (size_t)tid * Mp;
  double *W = y->wbuf + (size_t)tid * Mp, *YU = y->yu + (size_t)tid * M * Mp;
  int *U = y->gU + (size_t)g * Mp;
  /* key counts of every row, dense over the M tokens, and their union */
  for (int r = 0; r < nb; r++) {
    const int *x = b->x + (size_t)rows[r] * T;
    int *c = cnt + (size_t)r * Mp;
    memset(c, 0, sizeof(int) * (size_t)Mp);
    int t = 0;
    for (; t + 4 <= nkeys; t += 4) {
      c[x[t]]++;
      c[x[t + 1]]++;
      c[x[t + 2]]++;
      c[x[t + 3]]++;
    }
    for (; t < nkeys; t++) c[x[t]]++;
  }
  memset(any, 0, sizeof(int) * (size_t)Mp);
  for (int r = 0; r < nb; r++) {
    const int *c = cnt + (size_t)r * Mp;
    for (int u = 0; u < Mp; u++) any[u] |= c[u];
  }
  const double *Zm = Z + (size_t)m * M;
  int k = 0, mslot = -1;
  double zmax = -INFINITY;
  for (int u = 0; u < M; u++)
    if (any[u] || (u == m && y->o.residual)) {
      if (u == m) mslot = k;
      if (any[u] && Zm[u] > zmax) zmax = Zm[u];
      U[k++] = u;
    }
  const int kp = (k + 7) & ~7;
  y->gk[g] = k;
  y->gm[g] = m;
  for (int j = k; j < kp; j++) U[j] = U[0]; /* padding lanes read a real row, times 0 */
  for (int j = 0; j < kp; j++) W[j] = j < k && any[U[j]] ? Zm[U[j]] - zmax : -INFINITY;
  for (int j = 0; j < kp; j += 8) v8_store(W + j, exp8_nonpos(v8_load(W + j)));
  /* per row: attention on U_g, f, ||c|| */
  double *F = y->F + (size_t)p0 * Mp, *ATT = y->ATT + (size_t)p0 * Mp;
  for (int r = 0; r < nb; r++) {
    const int *c = cnt + (size_t)r * Mp;
    double *a = ATT + (size_t)r * Mp, *f = F + (size_t)r * Mp;
    v8d s = v8_set1(0);
    for (int j = 0; j < kp; j += 8) {
      v8d cv;
      for (int l = 0; l < 8; l++) cv[l] = (double)c[U[j + l]];
      const v8d av = cv * v8_load(W + j);
      v8_store(a + j, av);
      s += av;
    }
    double den = v8_hsum(s);
    if (!(den >= 0x1p-900)) {
      /* every key of this row is ~700 nats below the group's largest: its own maximum */
      double zr = -INFINITY;
      for (int j = 0; j < k; j++)
        if (c[U[j]] && Zm[U[j]] > zr) zr = Zm[U[j]];
      s = v8_set1(0);
      for (int j = 0; j < kp; j += 8) {
        v8d av;
        for (int l = 0; l < 8; l++)
          av[l] = j + l < k && c[U[j + l]] ? c[U[j + l]] * exp_nonpos(Zm[U[j + l]] - zr) : 0.0;
        v8_store(a + j, av);
        s += av;
      }
      den = v8_hsum(s);
    }
    const v8d inv_den = v8_set1(1.0 / den);
    for (int j = 0; j < kp; j += 8) {
      const v8d av = v8_load(a + j) * inv_den;
      v8_store(a + j, av);
      v8_store(f + j, av);
    }
    if (mslot >= 0 && y->o.residual) f[mslot] += 1.0;
    double cnorm = 1.0;
    if (y->o.normalize) {
      v8d s2 = v8_set1(0);
      for (int j = 0; j < kp; j += 8) {
        const v8d fv = v8_load(f + j);
        s2 += fv * fv;
      }
      cnorm = sqrt(v8_hsum(s2));
      const v8d inv = v8_set1(1.0 / cnorm);
      for (int j = 0; j < kp; j += 8) v8_store(f + j, v8_load(f + j) * inv);
    }
    y->cn[p0 + r] = cnorm;
  }
  /* logits into the G rows, 4 rows at a time, then the output of each row */
  double *Gg = y->G + (size_t)p0 * Mp;
  int r0 = 0;
  for (; r0 + 4 <= nb; r0 += 4)
    logits_block(Gg + (size_t)r0 * Mp, (size_t)Mp, 4, Yt, U, k, F + (size_t)r0 * Mp, (size_t)Mp, Mp);
  for (; r0 < nb; r0++) logits_block(Gg + (size_t)r0 * Mp, (size_t)Mp, 1, Yt, U, k, F + (size_t)r0 * Mp, (size_t)Mp, Mp);
  /* loss of the group: sum over rows of (lmax - lab) plus the logs of the softmax sums, taken
   * as one log per 16 rows of their product (each sum is in [1, M], so the product of 16 is
   * far from overflow for any M that fits in memory) */
  double part_sum = 0, log_sum = 0, prod = 1;
  int hits = 0;
  for (int r = 0; r < nb; r++) {
    double part, se;
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
  y->loss_b[g] = part_sum + log_sum; /* indexed by group on this path */
  y->hit_b[g] = hits;
  if (!backward) return;
  /* YU [M, kp] = Y[:, U_j] (padding columns 0), then GF = G YU */
  for (int i = 0; i < M; i++) {
    const double *Yi = Y + (size_t)i * M;
    double *o = YU + (size_t)i * kp;
    for (int j = 0; j < k; j++) o[j] = Yi[U[j]];
    for (int j = k; j < kp; j++) o[j] = 0;
  }
  double *GF = y->GF + (size_t)p0 * Mp;
  for (r0 = 0; r0 + 4 <= nb; r0 += 4)
    gf_block(GF + (size_t)r0 * Mp, (size_t)Mp, 4, YU, kp, Gg + (size_t)r0 * Mp, (size_t)Mp, M);
  for (; r0 < nb; r0++) gf_block(GF + (size_t)r0 * Mp, (size_t)Mp, 1, YU, kp, Gg + (size_t)r0 * Mp, (size_t)Mp, M);
  /* per row: g_c = (g_f - f (f.g_f)) / ||c||, dZ[m, U_j] = att_j (g_c[j] - att.g_c); the
   * group's sum over its rows (ascending) into DZ */
  double *DZ = y->DZ + (size_t)g * Mp;
  for (int j = 0; j < kp; j += 8) v8_store(DZ + j, v8_set1(0));
  for (int r = 0; r < nb; r++) {
    const double *f = F + (size_t)r * Mp, *a = ATT + (size_t)r * Mp;
    double *gc = GF + (size_t)r * Mp;
    if (y->o.normalize) {
      v8d s = v8_set1(0);
      for (int j = 0; j < kp; j += 8) s += v8_load(f + j) * v8_load(gc + j);
      const v8d fg = v8_set1(v8_hsum(s)), inv = v8_set1(1.0 / y->cn[p0 + r]);
      for (int j = 0; j < kp; j += 8) v8_store(gc + j, (v8_load(gc + j) - v8_load(f + j) * fg) * inv);
    }
    v8d s = v8_set1(0);
    for (int j = 0; j < kp; j += 8) s += v8_load(a + j) * v8_load(gc + j);
    const v8d ag = v8_set1(v8_hsum(s));
    for (int j = 0; j < kp; j += 8) v8_store(DZ + j, v8_load(DZ + j) + v8_load(a + j) * (v8_load(gc + j) - ag));
  }
  if (y->dg_on) group_D(y, g, M);
}

/* Rows [i0, i0 + 8) of group g's share of dY on its support: out[l * ldo + j] = sum_b
 * G[b, i0 + l] F[b, j] (b ascending) for l < 8, j < kp; 8 rows x 16 lanes of accumulators,
 * each F load serving 8 rows (G rows are padded to Mp, so the 8 rows always exist). */
SS_AI void group_D_block(const yz_impl *y, int g, int i0, int M, double *out, int ldo) {
  const int Mp = (M + 7) & ~7;
  const int p0 = y->gstart[g], nb = y->gstart[g + 1] - p0, kp = (y->gk[g] + 7) & ~7;
  const double *F = y->F + (size_t)p0 * Mp, *Gg = y->G + (size_t)p0 * Mp + i0;
  for (int j = 0; j < kp; j += 16) {
    v8d a[8][2];
    SS_UNROLL for (int l = 0; l < 8; l++) a[l][0] = a[l][1] = v8_set1(0);
    if (j + 16 <= kp) {
      for (int r = 0; r < nb; r++) {
        const double *fr = F + (size_t)r * Mp + j, *gr = Gg + (size_t)r * Mp;
        const v8d f0 = v8_load(fr), f1 = v8_load(fr + 8);
        SS_UNROLL for (int l = 0; l < 8; l++) {
          a[l][0] = v8_fma(v8_set1(gr[l]), f0, a[l][0]);
          a[l][1] = v8_fma(v8_set1(gr[l]), f1, a[l][1]);
        }
      }
      SS_UNROLL for (int l = 0; l < 8; l++) {
        v8_store(out + (size_t)l * ldo + j, a[l][0]);
        v8_store(out + (size_t)l * ldo + j + 8, a[l][1]);
      }
    } else {
      for (int r = 0; r < nb; r++) {
        const v8d f0 = v8_load(F + (size_t)r * Mp + j);
        const double *gr = Gg + (size_t)r * Mp;
        SS_UNROLL for (int l = 0; l < 8; l++) a[l][0] = v8_fma(v8_set1(gr[l]), f0, a[l][0]);
      }
      SS_UNROLL for (int l = 0; l < 8; l++) v8_store(out + (size_t)l * ldo + j, a[l][0]);
    }
  }
}

/* dY[i, U_j] += D[i - i0, j] for the rows i in [i0, i0 + nl) and j < k (group g) */
static void scatter_D(const yz_impl *y, int g, double *dY, int i0, int nl, int M, const double *D, int ldd) {
  const int *U = y->gU + (size_t)g * ((M + 7) & ~7);
  for (int l = 0; l < nl; l++) {
    double *d = dY + (size_t)(i0 + l) * M;
    const double *s = D + (size_t)l * ldd;
    for (int j = 0; j < y->gk[g]; j++) d[U[j]] += s[j];
  }
}

/* Group g's whole share of dY, D_g [Mp, kp], into its buffer (phase 1, on the group's thread,
 * when every group's buffer fits: see SS_YZ_DG_DOUBLES). */
SS_HOT static void group_D(yz_impl *y, int g, int M) {
  const int Mp = (M + 7) & ~7, kp = (y->gk[g] + 7) & ~7;
  double *D = y->Dg + (size_t)g * Mp * Mp;
  for (int i0 = 0; i0 < M; i0 += 8) group_D_block(y, g, i0, M, D + (size_t)i0 * kp, kp);
}

/* Otherwise (phase 2): dY rows [i0, i0 + 8) ∩ [0, M) from every group in order. */
SS_HOT static void group_dY(const yz_impl *y, double *dY, int ngroups, int i0, int M, double *tmp) {
  const int nl = M - i0 < 8 ? M - i0 : 8;
  for (int g = 0; g < ngroups; g++) {
    const int kp = (y->gk[g] + 7) & ~7;
    group_D_block(y, g, i0, M, tmp, kp);
    scatter_D(y, g, dY, i0, nl, M, tmp, kp);
  }
}

/* sort key of a row: (class, query) */
static int cmp_pair(const void *a, const void *b) {
  const long long *p = a, *q = b;
  if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
  return (p[1] > q[1]) - (p[1] < q[1]);
}

/* Whether the grouped path applies: every sequence has a class (generated data, or file rows
 * that match one). */
static int batch_has_classes(const ss_batch *b) {
  if (!b->cls) return 0;
  for (int i = 0; i < b->B; i++)
    if (b->cls[i] < 0) return 0;
  return 1;
}

/* Groups: rows sorted by (class, query, row) — a stable counting sort when the keys are
 * few (generated data: N * M of them), else qsort; the same order either way. */
static int make_groups(yz_impl *y, const ss_batch *b) {
  const int B = b->B, T = b->T, M = y->o.M;
  int maxc = 0;
  for (int i = 0; i < B; i++)
    if (b->cls[i] > maxc) maxc = b->cls[i];
  const long long nkey = ((long long)maxc + 1) * M;
  int *ord = y->ord;
  if (nkey <= SS_YZ_SORT_KEYS(B)) {
    int *cntk = y->ccnt;
    memset(cntk, 0, sizeof(int) * ((size_t)nkey + 1));
    for (int i = 0; i < B; i++) cntk[(long long)b->cls[i] * M + b->x[(size_t)i * T + T - 1] + 1]++;
    for (long long c = 0; c < nkey; c++) cntk[c + 1] += cntk[c];
    for (int i = 0; i < B; i++) ord[cntk[(long long)b->cls[i] * M + b->x[(size_t)i * T + T - 1]]++] = i;
  } else {
    long long *pairs = y->opairs;
    for (int i = 0; i < B; i++) {
      pairs[2 * i] = (long long)b->cls[i] * M + b->x[(size_t)i * T + T - 1];
      pairs[2 * i + 1] = i;
    }
    qsort(pairs, (size_t)B, 2 * sizeof(long long), cmp_pair);
    for (int p = 0; p < B; p++) ord[p] = (int)pairs[2 * p + 1];
  }
  int ng = 0;
  for (int p = 0; p < B; p++) {
    const int i = ord[p], h = p ? ord[p - 1] : 0;
    if (p == 0 || b->cls[i] != b->cls[h] || b->x[(size_t)i * T + T - 1] != b->x[(size_t)h * T + T - 1])
      y->gstart[ng++] = p;
  }
  y->gstart[ng] = B;
  return ng;
}

static int yz_run_grouped(yz_impl *y, ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward) {
  const int M = y->o.M, B = b->B, T = b->T;
  const double *Y = mdl->params, *Z = (const double *)mdl->params + (size_t)M * M;
  const double inv_B = 1.0 / B;
  const int ng = make_groups(y, b);
  const int par_seq = ng > 1 && (double)B * (T + 3.0 * M * (T < 64 ? T : 64)) > SS_YZ_PAR_WORK;
  const int Mp = (M + 7) & ~7;
  y->dg_on = backward && (size_t)ng * Mp * Mp <= y->dg_cap;
#pragma omp parallel for schedule(dynamic, 1) if (par_seq)
  for (int g = 0; g < ng; g++) group_phase1(y, b, Y, y->Yt, Z, g, omp_get_thread_num(), inv_B, backward);
  double L = 0;
  int hits = 0;
  for (int g = 0; g < ng; g++) {
    L += y->loss_b[g];
    hits += y->hit_b[g];
  }
  *loss = L / B;
  *acc = (double)hits / B;
  if (!backward) return SS_OK;
  double *dY = mdl->grads, *dZ = (double *)mdl->grads + (size_t)M * M;
  memset(dY, 0, sizeof(double) * (size_t)M * M);
  if (y->dg_on) {
    /* phase 2: the groups' shares, in group order */
    for (int g = 0; g < ng; g++)
      scatter_D(y, g, dY, 0, M, M, y->Dg + (size_t)g * Mp * Mp, (y->gk[g] + 7) & ~7);
  } else {
    /* phase 2: dY by blocks of 8 rows, every group in order */
    const int nblk = (M + 7) / 8;
#pragma omp parallel for schedule(static) if (par_seq)
    for (int c = 0; c < nblk; c++) group_dY(y, dY, ng, 8 * c, M, y->dtmp + (size_t)omp_get_thread_num() * 8 * Mp);
  }
  memset(dZ, 0, sizeof(double) * (size_t)M * M);
  for (int g = 0; g < ng; g++) {
    double *dZm = dZ + (size_t)y->gm[g] * M;
    const int *U = y->gU + (size_t)g * Mp;
    const double *DZ = y->DZ + (size_t)g * Mp;
    for (int j = 0; j < y->gk[g]; j++) dZm[U[j]] += DZ[j];
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
