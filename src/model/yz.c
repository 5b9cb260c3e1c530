/* Y/Z model forward and exact backward (SPEC §2.1), using the sparsity of c:
 * a sequence has at most min(T, M) distinct key tokens, so one sequence costs
 * O(T + M*min(T, M)) instead of O(M^2).
 *
 * Shapes: B = batch, T = sequence length (keys are x_0..x_{T-2}, plus x_{T-1} = query if
 * include_base_token), M = vocabulary, S = support slots per sequence = min(T, M) + 1.
 *
 * Determinism: sequences are processed in parallel, each writing only its own slots; the
 * gradient is then reduced by rows of Y (parallel over rows, sequences in ascending order
 * inside a row) and serially for Z, so results do not depend on the number of threads. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/yz.h"

typedef struct {
  ss_yz_opts o;
  /* per-batch scratch, grown on demand */
  int cap_B, S;
  double *G;      /* [B, M]   (softmax(logit) - e_n) / B */
  int *sn;        /* [B]      support size */
  int *su;        /* [B, S]   support tokens */
  double *sf;     /* [B, S]   f on the support */
  double *sg;     /* [B, S]   dL/dZ[m, u] on the support (0 for a residual-only entry) */
  double *loss_b; /* [B] */
  int *hit_b;     /* [B] */
  int *slot;      /* [threads, M] token -> support slot, -1 when absent */
  int nslot;
} yz_impl;

static int grow(yz_impl *y, int B, int T, ss_err *err) {
  int M = y->o.M, S = (T < M ? T : M) + 1;
  int thr = omp_get_max_threads();
  if (B <= y->cap_B && S <= y->S && thr <= y->nslot) return SS_OK;
  free(y->G); free(y->sn); free(y->su); free(y->sf); free(y->sg); free(y->loss_b); free(y->hit_b); free(y->slot);
  y->cap_B = B;
  y->S = S;
  y->nslot = thr;
  y->G = malloc(sizeof(double) * (size_t)B * M);
  y->sn = malloc(sizeof(int) * (size_t)B);
  y->su = malloc(sizeof(int) * (size_t)B * S);
  y->sf = malloc(sizeof(double) * (size_t)B * S);
  y->sg = malloc(sizeof(double) * (size_t)B * S);
  y->loss_b = malloc(sizeof(double) * (size_t)B);
  y->hit_b = malloc(sizeof(int) * (size_t)B);
  y->slot = malloc(sizeof(int) * (size_t)thr * M);
  if (!y->G || !y->sn || !y->su || !y->sf || !y->sg || !y->loss_b || !y->hit_b || !y->slot) {
    y->cap_B = 0;
    return ss_seterr(err, SS_EINPUT, "batch of %d sequences with M = %d does not fit in memory", B, M);
  }
  for (size_t i = 0; i < (size_t)thr * M; i++) y->slot[i] = -1;
  return SS_OK;
}

/* One sequence: forward, loss, and the per-sequence pieces of the backward.
 * x: [T] tokens (x[T-1] = query m), label n. Writes G row, support, loss, hit. */
static void seq_forward_backward(const yz_impl *y, const double *Y, const double *Z, const int *x, int T,
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
  double den = 0;
  for (int j = 0; j < k; j++) {
    att[j] *= exp(Zm[su[j]] - zmax);
    den += att[j];
  }
  for (int j = 0; j < k; j++) {
    att[j] /= den;
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
    for (int j = 0; j < kk; j++) sf[j] /= cnorm;
  }
  /* logit = Y f; G row holds logits then softmax - e_n */
  double lmax = -INFINITY;
  for (int i = 0; i < M; i++) {
    const double *Yi = Y + (size_t)i * M;
    double s = 0;
    for (int j = 0; j < kk; j++) s += Yi[su[j]] * sf[j];
    G[i] = s;
    if (s > lmax) lmax = s;
  }
  int arg = 0;
  double se = 0;
  for (int i = 0; i < M; i++) {
    if (G[i] > G[arg]) arg = i;
    se += exp(G[i] - lmax);
  }
  double lse = lmax + log(se);
  *loss = lse - G[label];
  *hit = arg == label;
  if (backward) {
    for (int i = 0; i < M; i++) G[i] = exp(G[i] - lse) * inv_B;
    G[label] -= inv_B;
    /* g_f[u_j] = sum_i Y[i,u_j] g_i, kept in a small stack buffer via sf's neighbour: use sg
       only after att is consumed, so compute into a local array. */
    double gf_stack[256];
    double *gf = kk <= 256 ? gf_stack : malloc(sizeof(double) * (size_t)kk);
    for (int j = 0; j < kk; j++) gf[j] = 0;
    for (int i = 0; i < M; i++) {
      const double *Yi = Y + (size_t)i * M;
      double gi = G[i];
      for (int j = 0; j < kk; j++) gf[j] += Yi[su[j]] * gi;
    }
    if (y->o.normalize) { /* g_c = (g_f - f (f.g_f)) / ||c|| */
      double fg = 0;
      for (int j = 0; j < kk; j++) fg += sf[j] * gf[j];
      for (int j = 0; j < kk; j++) gf[j] = (gf[j] - sf[j] * fg) / cnorm;
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

static int yz_run(ss_model *mdl, const ss_batch *b, double *loss, double *acc, int backward, ss_err *err) {
  yz_impl *y = mdl->impl;
  const int M = y->o.M, B = b->B, T = b->T;
  int rc = grow(y, B, T, err);
  if (rc) return rc;
  const double *Y = mdl->params, *Z = (const double *)mdl->params + (size_t)M * M;
  const int S = y->S;
  const double inv_B = 1.0 / B;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < B; i++) {
    int *slot = y->slot + (size_t)omp_get_thread_num() * M;
    seq_forward_backward(y, Y, Z, b->x + (size_t)i * T, T, b->label[i], inv_B, slot, y->G + (size_t)i * M,
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
  /* dY[i, u] = sum_b G[b,i] f_b[u]: parallel over rows i, b ascending. */
#pragma omp parallel for schedule(static)
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
  free(y->G); free(y->sn); free(y->su); free(y->sf); free(y->sg); free(y->loss_b); free(y->hit_b); free(y->slot);
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
