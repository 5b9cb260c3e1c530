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
 *   so each group is done densely on the union of its supports in register-blocked vector
 *   kernels; see the comment above the grouped path in yz_kern.h (timings: docs/bench.md).
 * - general (rows read from a file with no class): one sequence at a time: the sums over the
 *   support run over rows of Yt = Y^T (column u of Y, contiguous), so logit = sum_j f_j
 *   Yt[u_j,:], g_f[j] = Yt[u_j,:].g and dYt[u_j,:] += f_j g are unit-stride loops over M;
 *   exp() of the logits is computed once and reused for the backward.
 *
 * The kernels of both paths live in yz_kern.h, compiled once per instruction set (AVX-512,
 * AVX2 + FMA, baseline) and chosen when the model is made; every set gives the same bits.
 * The grouped path is compiled a second time in float (model.precision = float32): Y^T, the
 * key weights and every product in single precision, twice the lanes per register where
 * lanes never mix; the parameters, the gradients they are added into and the loss sums stay
 * double.
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
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/yz.h"
#include "util/clones.h"

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
/* The grouped path pads rows to a multiple of this many lanes, and reduces rows over as many
 * logical lanes (yz_kern.h: LW), in both precisions. */
#define SS_YZ_LW 8

typedef struct yz_kernels yz_kernels;
typedef struct {
  ss_yz_opts o;
  const yz_kernels *k; /* the kernels for this CPU (yz_kern.h) */
  /* per-batch scratch, grown on demand */
  int cap_B, S, nch;
  /* buffers shared with the grouped path are void *: doubles, or floats when the grouped
   * path computes in float32 (model.precision); allocated for doubles, rows padded to Mp */
  void *Yt;       /* [M, M]   Y transposed, refreshed at every call */
  void *G;        /* [B, M]   (softmax(logit) - e_n) / B */
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
  int *cntu;      /* [B, Mp]  key counts per token of the group's support U_g, in U_g order */
  double *cn;     /* [B]      ||c|| (1 without normalize) */
  void *F, *ATT, *GF; /* [B, Mp] f, attention and Y^T g on U_g (first kp entries of a row) */
  void *DZ;       /* [B, Mp]  group g: sum over its rows of dL/dZ[m, U_j] */
  int *any;       /* [threads, Mp] whether U_j occurs among a group's keys (nonzero = yes) */
  void *wbuf;     /* [threads, Mp]    e^{Z[m, U_j] - zmax} */
  void *yu;       /* [threads, M, Mp] Y[:, U_g] */
  void *Dg;       /* [dg_cap bytes] group g's share of dY on its support, [Mp, kp] at g * Mp * Mp
                   * (grown to the number of groups, at most SS_YZ_DG_DOUBLES doubles) */
  size_t dg_cap;
  int dg_on;      /* this call computes the D_g in phase 1 (they fit in Dg) */
  void *dtmp;     /* [threads, 8, Mp] one block of D (phase 2, when they do not) */
} yz_impl;

static void free_scratch(yz_impl *y) {
  free(y->Yt); free(y->G); free(y->sn); free(y->su); free(y->sf); free(y->sg); free(y->loss_b); free(y->hit_b);
  free(y->slot); free(y->dYt);
  free(y->ord); free(y->opairs); free(y->gstart); free(y->ccnt); free(y->gU); free(y->gk); free(y->gm); free(y->cnt); free(y->cntu);
  free(y->cn); free(y->F); free(y->ATT); free(y->GF); free(y->DZ); free(y->any); free(y->wbuf); free(y->yu); free(y->Dg); free(y->dtmp);
  y->sf = y->sg = y->loss_b = y->dYt = y->cn = NULL;
  y->Yt = y->G = y->F = y->ATT = y->GF = y->DZ = y->wbuf = y->yu = y->Dg = y->dtmp = NULL;
  y->sn = y->su = y->hit_b = y->slot = y->ord = y->gstart = y->ccnt = y->gU = y->gk = y->gm = y->cnt = y->cntu = y->any = NULL;
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
  int thr = ss_threads();
  if (B <= y->cap_B && S <= y->S && thr <= y->nslot && y->nch == n_chunks(B, T, M)) return SS_OK;
  free_scratch(y);
  y->cap_B = B;
  y->S = S;
  y->nslot = thr;
  y->nch = n_chunks(B, T, M);
  /* rows padded to Mp (a multiple of SS_YZ_LW) for the grouped path's vector kernels */
  const size_t Mp = ((size_t)M + SS_YZ_LW - 1) & ~(size_t)(SS_YZ_LW - 1);
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
  y->cntu = malloc(sizeof(int) * BM);
  y->cn = malloc(sizeof(double) * (size_t)B);
  y->F = malloc(sizeof(double) * BM);
  y->ATT = malloc(sizeof(double) * BM);
  y->GF = malloc(sizeof(double) * BM);
  y->DZ = malloc(sizeof(double) * BM);
  y->any = malloc(sizeof(int) * (size_t)thr * Mp);
  y->wbuf = malloc(sizeof(double) * (size_t)thr * Mp);
  y->yu = malloc(sizeof(double) * (size_t)thr * M * Mp);
  y->dg_cap = 0; /* Dg grows with the number of groups (yz_run_grouped) */
  y->dtmp = malloc(sizeof(double) * 8 * (size_t)thr * Mp);
  if (!y->Yt || !y->G || !y->sn || !y->su || !y->sf || !y->sg || !y->loss_b || !y->hit_b || !y->slot ||
      (y->nch > 0 && !y->dYt) || !y->ord || !y->opairs || !y->gstart || !y->ccnt || !y->gU || !y->gk || !y->gm ||
      !y->cnt || !y->cntu || !y->cn || !y->F || !y->ATT || !y->GF || !y->DZ || !y->any || !y->wbuf || !y->yu || !y->dtmp) {
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

/* Vectors (GCC/Clang vector extensions) for the kernels in yz_kern.h. They are passed only
 * between always-inline functions (never across an ABI boundary), so GCC's note that their
 * calling convention differs with AVX-512 is moot. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef int v8s __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
typedef int v16s __attribute__((vector_size(64)));
#define SS_AI static inline __attribute__((always_inline))
/* loops over register-blocked accumulators must be unrolled for them to stay in registers */
#define SS_UNROLL _Pragma("GCC unroll 8")

/* The kernels, once per instruction set (see yz_kern.h); clang (the fuzzing build) gets the
 * baseline only. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SS_YZ_MULTI 1
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define K(f) f##_v4
#define SS_KF32 0
#include "yz_kern.h"
#undef K
#undef SS_KF32
#define K(f) f##_v4_f32
#define SS_KF32 1
#include "yz_kern.h"
#undef K
#undef SS_KF32
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define K(f) f##_v3
#define SS_KF32 0
#include "yz_kern.h"
#undef K
#undef SS_KF32
#define K(f) f##_v3_f32
#define SS_KF32 1
#include "yz_kern.h"
#undef K
#undef SS_KF32
#pragma GCC pop_options
#else
#define SS_YZ_MULTI 0
#endif
#define K(f) f##_base
#define SS_KF32 0
#include "yz_kern.h"
#undef K
#undef SS_KF32
#define K(f) f##_base_f32
#define SS_KF32 1
#include "yz_kern.h"
#undef K
#undef SS_KF32

/* The grouped path's kernels in one precision. */
typedef struct {
  size_t esize;
  void (*phase1)(yz_impl *, const ss_batch *, const double *, const void *, const double *, int, int, double, int);
  void (*dY)(const yz_impl *, double *, int, int, int, void *);
  void (*add_D)(const yz_impl *, double *, int, int);
  void (*add_DZ)(const yz_impl *, double *, int, int);
} yz_grp_kernels;

/* One instruction set's kernels: the general path (doubles) and the grouped path in float64
 * (grp[0]) and float32 (grp[1]). */
struct yz_kernels {
  const char *name;
  void (*seq_fb)(const yz_impl *, const double *, const double *, const int *, int, int, double, int *, double *, int *,
                 int *, double *, double *, double *, int *, int);
  void (*chunk_dY)(const yz_impl *, double *, int, int, int);
  yz_grp_kernels grp[2];
};

#define SS_YZ_GRP(s)                                                                                         \
  {{sizeof(double), group_phase1_##s, group_dY_##s, group_add_D_##s, group_add_DZ_##s},                   \
   {sizeof(float), group_phase1_##s##_f32, group_dY_##s##_f32, group_add_D_##s##_f32, group_add_DZ_##s##_f32}}
static const yz_kernels yz_kernels_all[] = {
#if SS_YZ_MULTI
    {"x86-64-v4", seq_forward_backward_v4, chunk_dY_v4, SS_YZ_GRP(v4)},
    {"x86-64-v3", seq_forward_backward_v3, chunk_dY_v3, SS_YZ_GRP(v3)},
#endif
    {"baseline", seq_forward_backward_base, chunk_dY_base, SS_YZ_GRP(base)},
};
#undef SS_YZ_GRP
enum { YZ_NKERNELS = sizeof yz_kernels_all / sizeof yz_kernels_all[0] };

/* Whether this CPU runs kernel set i. */
static int yz_kernels_ok(int i) {
#if SS_YZ_MULTI
  __builtin_cpu_init();
  if (i == 0) return __builtin_cpu_supports("x86-64-v4");
  if (i == 1) return __builtin_cpu_supports("x86-64-v3");
#endif
  return i == YZ_NKERNELS - 1;
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
  const yz_grp_kernels *gk = &y->k->grp[y->o.f32 ? 1 : 0];
  const double *Y = mdl->params, *Z = (const double *)mdl->params + (size_t)M * M;
  const double inv_B = 1.0 / B;
  const int ng = make_groups(y, b);
  const int par_seq = ng > 1 && (double)B * (T + 3.0 * M * (T < 64 ? T : 64)) > SS_YZ_PAR_WORK;
  const int Mp = (M + SS_YZ_LW - 1) & ~(SS_YZ_LW - 1);
  /* the groups' shares of dY in their own buffers when they fit (else phase 2 by rows) */
  const size_t need = (size_t)ng * Mp * Mp * gk->esize;
  if (backward && need > y->dg_cap && need <= SS_YZ_DG_DOUBLES * sizeof(double)) {
    void *d = realloc(y->Dg, need);
    if (d) {
      y->Dg = d;
      y->dg_cap = need;
    }
  }
  y->dg_on = backward && need <= y->dg_cap;
  if (par_seq) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(ss_threads())
    for (int g = 0; g < ng; g++) gk->phase1(y, b, Y, y->Yt, Z, g, omp_get_thread_num(), inv_B, backward);
  } else { /* no OpenMP region at all: even one of one thread costs a microsecond or more */
    for (int g = 0; g < ng; g++) gk->phase1(y, b, Y, y->Yt, Z, g, 0, inv_B, backward);
  }
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
    gk->add_D(y, dY, ng, M); /* phase 2: the groups' shares, in group order */
  } else {
    /* phase 2: dY by blocks of 8 rows, every group in order */
    const int nblk = (M + 7) / 8;
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
    for (int c = 0; c < nblk; c++)
      gk->dY(y, dY, ng, 8 * c, M, (char *)y->dtmp + (size_t)omp_get_thread_num() * 8 * Mp * gk->esize);
  }
  memset(dZ, 0, sizeof(double) * (size_t)M * M);
  gk->add_DZ(y, dZ, ng, M);
  return SS_OK;
}

/* Yt [M, ld] = Y^T in TYPE, padding columns [M, ld) zero: rows ub .. ub + 32 of Yt, by
 * blocks of 32 columns so both sides stay in cache; the rows' blocks on threads only when M^2
 * is large (an OpenMP region, even of one thread, cost as much as the whole transposition at
 * M = 34); cloned for AVX2 and AVX-512 (SS_CLONES, util/clones.h). */
#define DEFINE_TRANSPOSE(SUFFIX, TYPE)                                                              \
  SS_CLONES static void transpose_rows_##SUFFIX(TYPE *restrict Yt, const double *restrict Y, int M, int ld, \
                                                int ub) {                                           \
    const int ue = ub + 32 < M ? ub + 32 : M;                                                       \
    for (int ib = 0; ib < M; ib += 32) {                                                            \
      const int ie = ib + 32 < M ? ib + 32 : M;                                                     \
      for (int u = ub; u < ue; u++)                                                                 \
        for (int i = ib; i < ie; i++) Yt[(size_t)u * ld + i] = (TYPE)Y[(size_t)i * M + u];        \
    }                                                                                               \
    for (int u = ub; u < ue; u++)                                                                   \
      for (int i = M; i < ld; i++) Yt[(size_t)u * ld + i] = 0;                                      \
  }                                                                                                 \
  static void transpose_##SUFFIX(TYPE *Yt, const double *Y, int M, int ld) {                        \
    const int nb = (M + 31) / 32;                                                                   \
    if ((double)M * M <= 4 * SS_YZ_PAR_WORK) {                                                      \
      for (int c = 0; c < nb; c++) transpose_rows_##SUFFIX(Yt, Y, M, ld, 32 * c);                   \
      return;                                                                                       \
    }                                                                                               \
    _Pragma("omp parallel for schedule(static)") for (int c = 0; c < nb; c++)                       \
      transpose_rows_##SUFFIX(Yt, Y, M, ld, 32 * c);                                                \
  }
DEFINE_TRANSPOSE(f64, double)
DEFINE_TRANSPOSE(f32, float)
#undef DEFINE_TRANSPOSE

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
  /* Yt = Y^T, rows of stride ld: M for the general path, Mp (padded with zeros) for the
   * grouped path's kernels, in floats when they compute in float32 */
  const int grouped = batch_has_classes(b);
  if (grouped && y->o.f32) {
    transpose_f32(y->Yt, Y, M, (M + SS_YZ_LW - 1) & ~(SS_YZ_LW - 1));
    return yz_run_grouped(y, mdl, b, loss, acc, backward);
  }
  transpose_f64(Yt, Y, M, grouped ? (M + SS_YZ_LW - 1) & ~(SS_YZ_LW - 1) : M);
  if (grouped) return yz_run_grouped(y, mdl, b, loss, acc, backward);
  /* phase 1: every sequence on its own */
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
  for (int i = 0; i < B; i++) {
    int *slot = y->slot + (size_t)omp_get_thread_num() * M;
    y->k->seq_fb(y, Yt, Z, b->x + (size_t)i * T, T, b->label[i], inv_B, slot, (double *)y->G + (size_t)i * M,
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
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
    for (int c = 0; c < nch; c++)
      y->k->chunk_dY(y, y->dYt + (size_t)c * M * M, (int)((long)B * c / nch), (int)((long)B * (c + 1) / nch), M);
    /* phase 3: dY[i, u] = sum_c dYt_c[u, i], chunks in order */
#pragma omp parallel for schedule(static) if ((double)nch * M * M > SS_YZ_PAR_WORK) num_threads(ss_threads())
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
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
    for (int i = 0; i < M; i++) {
      double *dYi = dY + (size_t)i * M;
      memset(dYi, 0, sizeof(double) * (size_t)M);
      for (int bb = 0; bb < B; bb++) {
        double g = ((const double *)y->G)[(size_t)bb * M + i];
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
  /* the best kernels this CPU runs, or SS_YZ_ISA=x86-64-v4|x86-64-v3|baseline (tests: every
   * set must give the same bits) */
  const char *isa = getenv("SS_YZ_ISA");
  for (int i = 0; i < YZ_NKERNELS && !y->k; i++)
    if (yz_kernels_ok(i) && (!isa || !*isa || !strcmp(isa, yz_kernels_all[i].name))) y->k = &yz_kernels_all[i];
  if (!y->k) {
    free(y);
    ss_model_free(m);
    return ss_seterr(err, SS_EINPUT, "SS_YZ_ISA=%s: this build or CPU has no such kernel set (x86-64-v4, x86-64-v3, baseline)", isa);
  }
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
