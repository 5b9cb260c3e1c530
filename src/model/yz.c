/* The Y/Z model's forward and exact backward (SPEC §2.1) with the fast kernels: the driver.
 * It picks the kernels, sizes the scratch, sorts rows into groups, transposes Y, runs the
 * kernels (yz_kern.c: one object per instruction set and precision) over the rows or groups,
 * and reduces their pieces into the loss, dY and dZ in a fixed order. The same mathematics
 * written plainly, the oracle of these kernels: yz_ref.c (model.kernels=reference).
 *
 * Using the sparsity of c: a sequence has at most min(T, M) distinct key tokens, so one
 * sequence costs O(T + M min(T, M)) instead of O(M^2). Two paths, the same maths:
 * - grouped (every row of the batch has a class: generated data, or file rows matching a
 *   class): rows sharing (class, query) share the key weights e^{Z[m,.]} and a small support,
 *   so each group is done densely on its support in register-blocked vector kernels; see the
 *   comment above the grouped path in yz_kern.c (timings: docs/bench.md). In model.precision
 *   = float32 these kernels compute in single precision (Y^T, the key weights and every
 *   product); the parameters, the gradients they are added into and the loss sums stay
 *   double.
 * - per-sequence (rows read from a file with no class): one sequence at a time on its
 *   support, always in float64.
 * Shapes: yz_impl.h.
 *
 * Determinism: every sum has an order fixed by (B, T, M) and the batch alone, never by the
 * number of threads or the instruction set. Sequences are independent (phase 1, any thread).
 * Per-sequence path: dY is accumulated per chunk of sequences (the number of chunks depends
 * on B and M only), sequences ascending inside a chunk, then the chunks are added in chunk
 * order (phase 3); dZ and the loss are summed serially in sequence order. Grouped path:
 * groups in (class, query) order; dY, dZ and the loss summed group by group; threads take
 * whole groups or blocks of dY rows. Threads are used only where a loop has enough work to
 * pay for waking them (SS_YZ_PAR_WORK), which does not change any result. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/yz_impl.h"
#include "util/clones.h"

/* Work (in multiply-adds) below which a loop runs on the calling thread: waking a team costs
 * microseconds on an idle machine and far more on a busy one. */
#define SS_YZ_PAR_WORK 1000000.0
/* At most this many doubles of per-chunk partial dY. */
#define SS_YZ_CHUNK_DOUBLES ((size_t)1 << 22)
/* Group keys (class * M + query) below this are sorted by counting, else by qsort. */
#define SS_YZ_SORT_KEYS(B) (16LL * (B) + 16384)
/* Per-group shares of dY ([Mp, Mp] each at most) are kept when they fit in this many doubles
 * (16 MiB): then each group's thread computes its own, and phase 2 only adds them. */
#define SS_YZ_DG_DOUBLES ((size_t)1 << 21)

/* Frees the scratch block and forgets every pointer into it. */
static void free_scratch(yz_impl *y) {
  free(y->block);
  const ss_yz_opts o = y->o;
  const yz_kern *kern_seq = y->kern_seq, *kern_grp = y->kern_grp;
  *y = (yz_impl){0};
  y->o = o;
  y->kern_seq = kern_seq;
  y->kern_grp = kern_grp;
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

/* The scratch of yz_impl for B rows of up to S slots on thr threads, laid out from base, each
 * buffer at a multiple of 64 bytes (base NULL: only measures); returns the bytes it takes.
 * Rows of the grouped path's buffers are padded to Mp; buffers of reals are sized for
 * doubles. */
static size_t layout_scratch(yz_impl *y, char *base, int B, int S, int thr) {
  const size_t M = (size_t)y->o.M, Mp = (M + SS_YZ_LW - 1) & ~(size_t)(SS_YZ_LW - 1), BM = (size_t)B * Mp;
  size_t off = 0;
#define CARVE(field, type, n)                                                                \
  do {                                                                                       \
    y->field = base ? (void *)(base + off) : NULL;                                           \
    off += (sizeof(type) * (size_t)(n) + 63) & ~(size_t)63;                                   \
  } while (0)
  CARVE(Yt, double, M * Mp);
  CARVE(dlogits, double, BM);
  CARVE(loss_part, double, B);
  CARVE(hits_part, int, B);
  CARVE(seq_k, int, B);
  CARVE(seq_tok, int, (size_t)B * S);
  CARVE(seq_f, double, (size_t)B * S);
  CARVE(seq_dz, double, (size_t)B * S);
  CARVE(seq_gf, double, (size_t)thr * S);
  CARVE(tok_slot, int, (size_t)thr * M);
  CARVE(chunk_dYt, double, (size_t)y->nchunks * M * M);
  CARVE(order, int, B);
  CARVE(sort_pairs, long long, 2 * (size_t)B);
  CARVE(sort_count, int, SS_YZ_SORT_KEYS(B) + 1);
  CARVE(group_start, int, (size_t)B + 1);
  CARVE(group_supp, int, BM);
  CARVE(group_k, int, B);
  CARVE(group_query, int, B);
  CARVE(key_count, int, BM);
  CARVE(supp_count, int, BM);
  CARVE(row_cnorm, double, B);
  CARVE(row_f, double, BM);
  CARVE(row_att, double, BM);
  CARVE(row_gf, double, BM);
  CARVE(group_dz, double, BM);
  CARVE(key_seen, int, (size_t)thr * Mp);
  CARVE(key_weight, double, (size_t)thr * Mp);
  CARVE(Y_supp, double, (size_t)thr * M * Mp);
  CARVE(dY_block, double, 8 * (size_t)thr * Mp);
  CARVE(dYt, double, M * Mp);
  CARVE(dz_rows, int, B);
  CARVE(dyt_seen, int, M);
  CARVE(dz_mark, unsigned char, M);
  /* the groups' shares of dY: B groups at most, kept only up to SS_YZ_DG_DOUBLES (pages past
   * what a batch uses are never touched) */
  y->group_dY_cap = sizeof(double) * (BM * Mp < SS_YZ_DG_DOUBLES ? BM * Mp : SS_YZ_DG_DOUBLES);
  CARVE(group_dY, char, y->group_dY_cap);
#undef CARVE
  return off;
}

/* Scratch for a batch of B rows of T tokens: one block (block), named pointers into it,
 * reallocated when a batch needs more than the last one (or more threads run). */
static int grow(yz_impl *y, int B, int T, ss_err *err) {
  int M = y->o.M, S = (T < M ? T : M) + 1;
  int thr = ss_threads();
  if (B <= y->cap_B && S <= y->S && thr <= y->nthreads && y->nchunks == n_chunks(B, T, M)) return SS_OK;
  free_scratch(y);
  y->nchunks = n_chunks(B, T, M);
  const size_t bytes = layout_scratch(y, NULL, B, S, thr);
  y->block = aligned_alloc(64, bytes);
  if (!y->block) {
    free_scratch(y);
    return ss_seterr(err, SS_EINPUT, "batch of %d sequences with M = %d does not fit in memory", B, M);
  }
  layout_scratch(y, y->block, B, S, thr);
  y->cap_B = B;
  y->S = S;
  y->nthreads = thr;
  for (size_t i = 0; i < (size_t)thr * M; i++) y->tok_slot[i] = -1;
  memset(y->dz_mark, 0, (size_t)M);
  return SS_OK;
}

/* The kernel sets, fastest first: one table per instruction set and precision (yz_kern.c);
 * the x86 ones where the build has them (GCC on x86-64), the baseline everywhere. */
static const struct {
  const char *name;
  int kernels; /* its model.kernels value */
  const yz_kern *prec[2]; /* float64, float32 */
} kernel_sets[] = {
#if SS_YZ_X86_KERNELS
    {"x86-64-v4", SS_KERNELS_X86_64_V4, {&yz_kern_x86_64_v4_f64, &yz_kern_x86_64_v4_f32}},
    {"x86-64-v3", SS_KERNELS_X86_64_V3, {&yz_kern_x86_64_v3_f64, &yz_kern_x86_64_v3_f32}},
#endif
    {"baseline", SS_KERNELS_BASELINE, {&yz_kern_baseline_f64, &yz_kern_baseline_f32}},
};
enum { YZ_NSETS = sizeof kernel_sets / sizeof kernel_sets[0] };

/* Whether this CPU runs kernel set i. */
static int cpu_runs(int i) {
#if SS_YZ_X86_KERNELS
  __builtin_cpu_init();
  if (kernel_sets[i].kernels == SS_KERNELS_X86_64_V4) return __builtin_cpu_supports("x86-64-v4");
  if (kernel_sets[i].kernels == SS_KERNELS_X86_64_V3) return __builtin_cpu_supports("x86-64-v3");
#endif
  return kernel_sets[i].kernels == SS_KERNELS_BASELINE;
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
  int *order = y->order;
  if (nkey <= SS_YZ_SORT_KEYS(B)) {
    int *count = y->sort_count;
    memset(count, 0, sizeof(int) * ((size_t)nkey + 1));
    for (int i = 0; i < B; i++) count[(long long)b->cls[i] * M + b->x[(size_t)i * T + T - 1] + 1]++;
    for (long long c = 0; c < nkey; c++) count[c + 1] += count[c];
    for (int i = 0; i < B; i++) order[count[(long long)b->cls[i] * M + b->x[(size_t)i * T + T - 1]]++] = i;
  } else {
    long long *pairs = y->sort_pairs;
    for (int i = 0; i < B; i++) {
      pairs[2 * i] = (long long)b->cls[i] * M + b->x[(size_t)i * T + T - 1];
      pairs[2 * i + 1] = i;
    }
    qsort(pairs, (size_t)B, 2 * sizeof(long long), cmp_pair);
    for (int p = 0; p < B; p++) order[p] = (int)pairs[2 * p + 1];
  }
  int ng = 0;
  for (int p = 0; p < B; p++) {
    const int i = order[p], h = p ? order[p - 1] : 0;
    if (p == 0 || b->cls[i] != b->cls[h] || b->x[(size_t)i * T + T - 1] != b->x[(size_t)h * T + T - 1])
      y->group_start[ng++] = p;
  }
  y->group_start[ng] = B;
  return ng;
}

/* The grouped path (every row has a class); y->Yt holds Y^T in the kernels' precision. */
static int yz_run_grouped(yz_impl *y, ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward) {
  const int M = y->o.M, B = b->B, T = b->T;
  const yz_kern *k = y->kern_grp;
  const double *Z = (const double *)mdl->params + (size_t)M * M;
  const double inv_B = 1.0 / B;
  const int ng = make_groups(y, b);
  const int par_seq = ng > 1 && (double)B * (T + 3.0 * M * (T < 64 ? T : 64)) > SS_YZ_PAR_WORK;
  const int Mp = (M + SS_YZ_LW - 1) & ~(SS_YZ_LW - 1);
  /* the groups' shares of dY: added into dY^T as phase 1 makes them when it runs the groups in
   * order on one thread; else in their own buffers when they fit; else phase 2 by rows */
  y->group_dY_fused = backward && (!par_seq || ss_threads() == 1);
  y->group_dY_on = y->group_dY_fused || (backward && (size_t)ng * Mp * Mp * k->real_size <= y->group_dY_cap);
  if (y->group_dY_fused) memset(y->dyt_seen, 0, sizeof(int) * (size_t)M);
  /* phase 1: each group on its own (any thread) */
  if (par_seq) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(ss_threads())
    for (int g = 0; g < ng; g++) k->group_forward_backward(y, b, y->Yt, Z, g, omp_get_thread_num(), inv_B, backward);
  } else { /* no OpenMP region at all: even one of one thread costs a microsecond or more */
    for (int g = 0; g < ng; g++) k->group_forward_backward(y, b, y->Yt, Z, g, 0, inv_B, backward);
  }
  double L = 0;
  int hits = 0;
  for (int g = 0; g < ng; g++) {
    L += y->loss_part[g];
    hits += y->hits_part[g];
  }
  *loss = L / B;
  *acc = (double)hits / B;
  if (!backward) return SS_OK;
  double *dY = mdl->grads, *dZ = (double *)mdl->grads + (size_t)M * M;
  if (y->group_dY_on) {
    k->add_group_dY(y, dY, ng); /* phase 2: dY = the groups' shares, in group order */
  } else {
    memset(dY, 0, sizeof(double) * (size_t)M * M);
    /* phase 2: dY by blocks of 8 rows, every group in order */
    const int nblk = (M + 7) / 8;
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
    for (int c = 0; c < nblk; c++)
      k->group_dY_rows(y, dY, ng, 8 * c, (char *)y->dY_block + (size_t)omp_get_thread_num() * 8 * Mp * k->real_size);
  }
  /* dZ: only the groups' query rows hold gradients; the rows the last call wrote are cleared
   * (all of dZ the first time, or after anything else wrote it), then the queries of this
   * batch are listed for the optimizer and the finite check (ss_param_group.rows) */
  if (y->dz_clean) {
    for (int r = 0; r < y->dz_nrows; r++) memset(dZ + (size_t)y->dz_rows[r] * M, 0, sizeof(double) * (size_t)M);
  } else {
    memset(dZ, 0, sizeof(double) * (size_t)M * M);
  }
  k->add_group_dZ(y, dZ, ng);
  int nr = 0;
  for (int g = 0; g < ng; g++) {
    const int q = y->group_query[g];
    if (!y->dz_mark[q]) {
      y->dz_mark[q] = 1;
      y->dz_rows[nr++] = q;
    }
  }
  for (int r = 0; r < nr; r++) y->dz_mark[y->dz_rows[r]] = 0;
  y->dz_nrows = nr;
  y->dz_clean = 1;
  ss_param_group *Zg = &mdl->groups[1];
  Zg->row_len = (size_t)M;
  Zg->rows = y->dz_rows;
  Zg->nrows = nr;
  return SS_OK;
}

/* Yt [M, M] = Y^T for the per-sequence path: rows ub .. ub + 32 of Yt, by blocks of 32
 * columns so both sides stay in cache; the rows' blocks on threads only when M^2 is large (an
 * OpenMP region, even of one thread, cost as much as the whole transposition at M = 34);
 * cloned for AVX2 and AVX-512 (SS_CLONES, util/clones.h). The grouped path's (padded, in
 * its precision) is its kernels' transpose_Y. */
SS_CLONES static void transpose_rows(double *restrict Yt, const double *restrict Y, int M, int ub) {
  const int ue = ub + 32 < M ? ub + 32 : M;
  for (int ib = 0; ib < M; ib += 32) {
    const int ie = ib + 32 < M ? ib + 32 : M;
    for (int u = ub; u < ue; u++)
      for (int i = ib; i < ie; i++) Yt[(size_t)u * M + i] = Y[(size_t)i * M + u];
  }
}
static void transpose_seq(double *Yt, const double *Y, int M) {
  const int nb = (M + 31) / 32;
  if ((double)M * M <= 4 * SS_YZ_PAR_WORK) {
    for (int c = 0; c < nb; c++) transpose_rows(Yt, Y, M, 32 * c);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(ss_threads())
  for (int c = 0; c < nb; c++) transpose_rows(Yt, Y, M, 32 * c);
}

/* The grouped path's Y^T (kernels' transpose_Y), by blocks of 64 of its rows on threads when
 * M^2 is large. */
static void transpose_grouped(const yz_kern *k, void *Yt, const double *Y, int M) {
  const int nb = (M + 63) / 64;
  if ((double)M * M <= 4 * SS_YZ_PAR_WORK) {
    k->transpose_Y(Yt, Y, M, 0, M);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(ss_threads())
  for (int c = 0; c < nb; c++) k->transpose_Y(Yt, Y, M, 64 * c, 64 * c + 64 < M ? 64 * c + 64 : M);
}

static int yz_run(ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward, ss_err *err) {
  yz_impl *y = mdl->impl;
  const int M = y->o.M, B = b->B, T = b->T;
  void *const old_block = y->block;
  int rc = grow(y, B, T, err);
  if (y->block != old_block || rc) { /* dZ's row list lived in the old scratch: dense until listed again */
    mdl->groups[1].row_len = 0;
    mdl->groups[1].rows = NULL;
    mdl->groups[1].nrows = 0;
  }
  if (rc) return rc;
  const double *Y = mdl->params, *Z = (const double *)mdl->params + (size_t)M * M;
  const int S = y->S, nch = y->nchunks;
  const double inv_B = 1.0 / B;
  /* ~ multiply-adds of phase 1 (the same estimate as n_chunks) */
  const int par_seq = (double)B * (T + 3.0 * M * (T < 64 ? T : 64)) > SS_YZ_PAR_WORK;
  /* Yt = Y^T, rows of stride ld: M for the per-sequence path, Mp (padded with zeros) for the
   * grouped path's kernels, in floats when they compute in float32 */
  if (batch_has_classes(b)) {
    transpose_grouped(y->kern_grp, y->Yt, Y, M);
    return yz_run_grouped(y, mdl, b, loss, acc, backward);
  }
  const double *Yt = y->Yt;
  transpose_seq(y->Yt, Y, M);
  /* phase 1: every sequence on its own */
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
  for (int i = 0; i < B; i++) y->kern_seq->seq_forward_backward(y, Yt, Z, b, i, omp_get_thread_num(), inv_B, backward);
  double L = 0;
  int hits = 0;
  for (int i = 0; i < B; i++) {
    L += y->loss_part[i];
    hits += y->hits_part[i];
  }
  *loss = L / B;
  *acc = (double)hits / B;
  if (!backward) return SS_OK;
  double *dY = mdl->grads, *dZ = (double *)mdl->grads + (size_t)M * M;
  if (nch > 0) {
    /* phase 2: chunk_dYt_c[u, :] = sum over the chunk's sequences (ascending) of f_b[u] g_b */
#pragma omp parallel for schedule(static) if (par_seq) num_threads(ss_threads())
    for (int c = 0; c < nch; c++)
      y->kern_seq->chunk_dY(y, y->chunk_dYt + (size_t)c * M * M, (int)((long)B * c / nch),
                            (int)((long)B * (c + 1) / nch));
    /* phase 3: dY[i, u] = sum_c chunk_dYt_c[u, i], chunks in order */
#pragma omp parallel for schedule(static) if ((double)nch * M * M > SS_YZ_PAR_WORK) num_threads(ss_threads())
    for (int i = 0; i < M; i++) {
      double *dYi = dY + (size_t)i * M;
      for (int u = 0; u < M; u++) {
        double s = 0;
        for (int c = 0; c < nch; c++) s += y->chunk_dYt[((size_t)c * M + u) * M + i];
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
        double g = ((const double *)y->dlogits)[(size_t)bb * M + i];
        const int *tok = y->seq_tok + (size_t)bb * S;
        const double *f = y->seq_f + (size_t)bb * S;
        for (int j = 0; j < y->seq_k[bb]; j++) dYi[tok[j]] += g * f[j];
      }
    }
  }
  memset(dZ, 0, sizeof(double) * (size_t)M * M);
  y->dz_clean = 0; /* this path does not list its rows: the next grouped call clears all of dZ */
  mdl->groups[1].row_len = 0;
  mdl->groups[1].rows = NULL;
  mdl->groups[1].nrows = 0;
  for (int bb = 0; bb < B; bb++) {
    double *dZm = dZ + (size_t)b->x[(size_t)bb * T + T - 1] * M;
    const int *tok = y->seq_tok + (size_t)bb * S;
    const double *dz = y->seq_dz + (size_t)bb * S;
    for (int j = 0; j < y->seq_k[bb]; j++) dZm[tok[j]] += dz[j];
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

int yz_composition(ss_model *m, const ss_classes *cl, double *c, ss_err *err) {
  const int M = (int)m->tensors[0].shape[0];
  if (cl->M != M) return ss_seterr(err, SS_EINPUT, "class table has M = %d, model has M = %d", cl->M, M);
  ss_yz_composition_from_Z((const double *)m->params + (size_t)M * M, cl, c);
  return SS_OK;
}

static void yz_free(ss_model *m) {
  yz_impl *y = m->impl;
  if (!y) return;
  free_scratch(y);
  free(y);
}

static const ss_model_ops yz_ops = {"yz", yz_step, yz_eval, yz_composition, yz_free};

/* The kernel set model.kernels asks for (the fastest this CPU runs for auto), or -1 with the
 * error set. */
static int pick_kernels(int kernels, ss_err *err) {
  static const char *const names[SS_KERNELS_BASELINE + 1] = {
      [SS_KERNELS_X86_64_V4] = "x86-64-v4", [SS_KERNELS_X86_64_V3] = "x86-64-v3", [SS_KERNELS_BASELINE] = "baseline"};
  if (kernels < SS_KERNELS_AUTO || kernels > SS_KERNELS_BASELINE || kernels == SS_KERNELS_REFERENCE) {
    ss_seterr(err, SS_EINPUT, "key 'model.kernels': no kernel set numbered %d", kernels);
    return -1;
  }
  char runs[64] = "";
  for (int i = 0; i < YZ_NSETS; i++) {
    if (!cpu_runs(i)) continue;
    if (kernels == SS_KERNELS_AUTO || kernels == kernel_sets[i].kernels) return i;
    strcat(strcat(runs, *runs ? ", " : ""), kernel_sets[i].name);
  }
  ss_seterr(err, SS_EINPUT, "key 'model.kernels': no %s kernels in this build or on this CPU (it runs: reference, %s)",
            names[kernels], runs);
  return -1;
}

int ss_yz_new(const ss_yz_opts *o, ss_rng *rng, ss_model **out, ss_err *err) {
  *out = NULL;
  int M = o->M;
  double bytes = (double)M * M * 8 * 6; /* params, grads, up to two optimizer moments, slack */
  if (M < 2 || bytes > 32e9)
    return ss_seterr(err, SS_EINPUT, "vocabulary M = %d: the Y/Z model needs %.1f GiB, beyond what fits in memory", M, bytes / (1 << 30));
  const int ref = o->kernels == SS_KERNELS_REFERENCE, set = ref ? 0 : pick_kernels(o->kernels, err);
  if (set < 0) return SS_EINPUT;
  ss_model *m = calloc(1, sizeof *m);
  size_t n = 2 * (size_t)M * M;
  if (m) {
    m->params = calloc(n, sizeof(double));
    m->grads = calloc(n, sizeof(double));
  }
  if (!m || !m->params || !m->grads) {
    ss_model_free(m);
    return ss_seterr(err, SS_EINPUT, "vocabulary M = %d: the Y/Z model does not fit in memory", M);
  }
  if (ref) {
    int rc = yz_ref_attach(m, o, err);
    if (rc) {
      ss_model_free(m);
      return rc;
    }
  } else {
    yz_impl *y = calloc(1, sizeof *y);
    if (!y) {
      ss_model_free(m);
      return ss_seterr(err, SS_EINPUT, "vocabulary M = %d: the Y/Z model does not fit in memory", M);
    }
    y->o = *o;
    y->kern_seq = kernel_sets[set].prec[0];
    y->kern_grp = kernel_sets[set].prec[o->f32 ? 1 : 0];
    m->ops = &yz_ops;
    m->impl = y;
  }
  m->dtype = SS_F64;
  m->nparams = n;
  double *P = m->params;
  if (!o->zero_init) {
    /* torch.nn.Linear default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    double bound = 1.0 / sqrt((double)M);
    for (size_t i = 0; i < n; i++) P[i] = (2.0 * ss_rng_uniform(rng) - 1.0) * bound;
  }
  m->ngroups = 2;
  m->groups[0] = (ss_param_group){.name = "Y", .offset = 0, .count = (size_t)M * M};
  m->groups[1] = (ss_param_group){.name = "Z", .offset = (size_t)M * M, .count = (size_t)M * M};
  m->ntensors = 2;
  m->tensors[0] = (ss_tensor){"Y", SS_F64, 2, {M, M}, P};
  m->tensors[1] = (ss_tensor){"Z", SS_F64, 2, {M, M}, P + (size_t)M * M};
  *out = m;
  return SS_OK;
}
