/* Y/Z model forward and exact backward (SPEC §2.1), using the sparsity of c:
 * a sequence has at most min(T, M) distinct key tokens, so one sequence costs
 * O(T + M*min(T, M)) instead of O(M^2).
 *
 * Shapes: B = batch, T = sequence length (keys are x_0..x_{T-2}, plus x_{T-1} = query if
 * include_base_token), M = vocabulary, S = support slots per sequence = min(T, M) + 1,
 * k = support size of one sequence (distinct key tokens, plus the query if residual).
 *
 * Speed: the sums over the support run over rows of Yt = Y^T (column u of Y, contiguous),
 * so logit = sum_j f_j Yt[u_j,:], g_f[j] = Yt[u_j,:].g and dYt[u_j,:] += f_j g are unit-stride
 * loops over M that the compiler vectorises; exp() of the logits is computed once and
 * reused for the backward; dot products keep four partial sums (fixed order).
 *
 * Determinism: every sum has an order fixed by (B, T, M) alone, never by the number of
 * threads. Sequences are independent (phase 1, any thread). dY is accumulated per chunk of
 * sequences (the number of chunks depends on B and M only), sequences ascending inside a
 * chunk, then the chunks are added in chunk order (phase 3); dZ and the loss are summed
 * serially in sequence order. Threads are used only where a loop has enough work to pay
 * for waking them (SS_YZ_PAR_WORK), which does not change any result. */
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
} yz_impl;

static void free_scratch(yz_impl *y) {
  free(y->Yt); free(y->G); free(y->sn); free(y->su); free(y->sf); free(y->sg); free(y->loss_b); free(y->hit_b);
  free(y->slot); free(y->dYt);
  y->Yt = y->G = y->sf = y->sg = y->loss_b = y->dYt = NULL;
  y->sn = y->su = y->hit_b = y->slot = NULL;
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
  y->Yt = malloc(sizeof(double) * (size_t)M * M);
  y->G = malloc(sizeof(double) * (size_t)B * M);
  y->sn = malloc(sizeof(int) * (size_t)B);
  y->su = malloc(sizeof(int) * (size_t)B * S);
  y->sf = malloc(sizeof(double) * (size_t)B * S);
  y->sg = malloc(sizeof(double) * (size_t)B * S);
  y->loss_b = malloc(sizeof(double) * (size_t)B);
  y->hit_b = malloc(sizeof(int) * (size_t)B);
  y->slot = malloc(sizeof(int) * (size_t)thr * M);
  if (y->nch > 0) y->dYt = malloc(sizeof(double) * (size_t)y->nch * M * M);
  if (!y->Yt || !y->G || !y->sn || !y->su || !y->sf || !y->sg || !y->loss_b || !y->hit_b || !y->slot ||
      (y->nch > 0 && !y->dYt)) {
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

SS_HOT static void seq_forward_backward(const yz_impl *y, const double *Yt, const double *Z, const int *x, int T,
                                 int label, double inv_B, int *slot, double *G, int *sn, int *su, double *sf,
                                 double *sg, double *loss, int *hit, int backward) {
  const int M = y->o.M;
  const int m = x[T - 1];
  const int nkeys = y->o.include_base_token ? T : T - 1;
  const double *Zm = Z + (size_t)m * M;
  /* c[l] = (count of l among keys) e^{Z[m,l]} / sum: group the keys by token. */
  int k = 0;
  double *att = sg; /* reuse sg as attention mass per support slot until the backward */
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
  /* softmax over keys, grouped: weight of slot j = count_j e^{Z[m,u_j]} */
  double zmax = -INFINITY;
  for (int j = 0; j < k; j++)
    if (Zm[su[j]] > zmax) zmax = Zm[su[j]];
  for (int j = 0; j < k; j++) att[j] *= exp_nonpos(Zm[su[j]] - zmax);
  double den = 0;
  for (int j = 0; j < k; j++) den += att[j];
  const double inv_den = 1.0 / den;
  for (int j = 0; j < k; j++) {
    att[j] *= inv_den;
    sf[j] = att[j];
  }
  int kk = k; /* slots including a residual-only query slot */
  if (y->o.residual) {
    if (slot[m] < 0) {
      slot[m] = kk;
      su[kk] = m;
      sf[kk] = 0;
      att[kk] = 0;
      kk++;
    }
    sf[slot[m]] += 1.0;
  }
  double cnorm = 1.0;
  if (y->o.normalize) {
    double s2 = 0;
    for (int j = 0; j < kk; j++) s2 += sf[j] * sf[j];
    cnorm = sqrt(s2);
    const double inv = 1.0 / cnorm;
    for (int j = 0; j < kk; j++) sf[j] *= inv;
  }
  /* logit = Y f = sum_j f_j Yt[u_j, :]; G row holds logits, then softmax - e_n */
  logits(G, Yt, su, sf, kk, M);
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
  for (int i = 0; i < M; i++) G[i] = exp_nonpos(G[i] - lmax);
  double se = 0;
  for (int i = 0; i < M; i++) se += G[i];
  *loss = lmax + log(se) - lab;
  *hit = arg == label;
  if (backward) {
    const double scale = inv_B / se;
    for (int i = 0; i < M; i++) G[i] *= scale;
    G[label] -= inv_B;
    /* g_f[u_j] = sum_i Y[i,u_j] g_i = Yt[u_j,:].g */
    double gf_stack[256];
    double *gf = kk <= 256 ? gf_stack : malloc(sizeof(double) * (size_t)kk);
    for (int j = 0; j < kk; j++) gf[j] = dot(Yt + (size_t)su[j] * M, G, M);
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
    if (gf != gf_stack) free(gf);
  }
  for (int j = 0; j < kk; j++) slot[su[j]] = -1;
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
  /* Yt = Y^T, by blocks of 32 x 32 so both sides stay in cache */
#pragma omp parallel for schedule(static) if ((double)M * M > 4 * SS_YZ_PAR_WORK)
  for (int ib = 0; ib < M; ib += 32)
    for (int ub = 0; ub < M; ub += 32)
      for (int i = ib; i < ib + 32 && i < M; i++)
        for (int u = ub; u < ub + 32 && u < M; u++) Yt[(size_t)u * M + i] = Y[(size_t)i * M + u];
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

static const ss_model_ops yz_ops = {"yz", yz_step, yz_eval, yz_composition, yz_free, NULL};

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
