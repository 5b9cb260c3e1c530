/* SGD / Adam / AdamW over the flat parameter array, in the model's own precision. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/optim.h"
#include "util/clones.h"

int ss_optim_init(ss_optim *o, const ss_config *cfg, const ss_model *m, ss_err *err) {
  memset(o, 0, sizeof *o);
  o->method = cfg->opt.method;
  o->nesterov = cfg->opt.nesterov;
  o->momentum = cfg->opt.momentum;
  o->dampening = cfg->opt.dampening;
  o->wd = cfg->opt.wd;
  o->beta1 = cfg->opt.beta1;
  o->beta2 = cfg->opt.beta2;
  o->eps = cfg->opt.eps;
  if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
    return ss_seterr(err, SS_EINPUT, "key 'opt.nesterov': Nesterov momentum needs opt.momentum > 0 and opt.dampening = 0");
  size_t bytes = m->nparams * ss_dtype_size(m->dtype);
  o->m1 = calloc(1, bytes ? bytes : 1);
  o->m2 = o->method == SS_OPT_SGD ? NULL : calloc(1, bytes ? bytes : 1);
  if (!o->m1 || (o->method != SS_OPT_SGD && !o->m2)) {
    ss_optim_free(o);
    return ss_seterr(err, SS_EINPUT, "optimizer state of %zu parameters does not fit in memory", m->nparams);
  }
  return SS_OK;
}

void ss_optim_free(ss_optim *o) {
  free(o->m1);
  free(o->m2);
  o->m1 = o->m2 = NULL;
  for (int g = 0; g < SS_MAX_GROUPS; g++) {
    free(o->live[g]);
    o->live[g] = NULL;
    o->live_ok[g] = 0;
  }
}

void ss_optim_loaded(ss_optim *o) {
  for (int g = 0; g < SS_MAX_GROUPS; g++) o->live_ok[g] = 0;
}

/* SGD on entries [a, e): the arithmetic of the header's formula, element by element. The
 * loop is instantiated once per combination of the options (weight decay, momentum, first
 * step, Nesterov: constants after inlining), so every version is branch-free and vectorises
 * (a loop that tests them per element ran scalar: 1.8 us of the Figure-4 run's 30 us step);
 * the same operations in the same order either way, so the same bits. Above 64 Ki entries
 * the range is split over threads; below, no OpenMP region is entered at all. The range loop is
 * cloned for AVX2 and AVX-512 (SS_CLONES, util/clones.h). */
#define DEFINE_SGD(SUFFIX, TYPE, UINT, EXPBITS)                                                  \
  static inline __attribute__((always_inline)) int sgd_loop_##SUFFIX(                            \
      TYPE *restrict p, const TYPE *restrict g, TYPE *restrict m1, size_t a, size_t e, TYPE mu,  \
      TYPE wd, TYPE damp, TYPE tlr, const int WD, const int MU, const int FIRST, const int NEST) { \
    UINT bad = 0;                                                                                \
    for (size_t i = a; i < e; i++) {                                                             \
      TYPE gr = g[i];                                                                            \
      if (WD) gr += wd * p[i];                                                                   \
      if (MU) {                                                                                  \
        m1[i] = FIRST ? gr : mu * m1[i] + damp * gr;                                             \
        gr = NEST ? gr + mu * m1[i] : m1[i];                                                     \
      }                                                                                          \
      const TYPE np = p[i] - tlr * gr;                                                           \
      p[i] = np;                                                                                 \
      UINT bits;                                                                                 \
      memcpy(&bits, &np, sizeof bits);                                                           \
      bad |= (UINT)((bits & (EXPBITS)) == (EXPBITS)); /* Inf or NaN: an integer OR, vectorises */ \
    }                                                                                            \
    return bad != 0;                                                                             \
  }                                                                                              \
  SS_CLONES static int sgd_range_##SUFFIX(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict m1, \
                                 size_t a, size_t e, TYPE mu, TYPE wd, TYPE damp, TYPE tlr,      \
                                 int first, int nesterov) {                                      \
    const int f = (wd != 0) << 3 | (mu != 0) << 2 | (first != 0) << 1 | (nesterov != 0);        \
    switch (f) {                                                                                 \
    case 0: case 1: case 2: case 3: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 0, 0, 0, 0); \
    case 4: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 0, 1, 0, 0);             \
    case 5: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 0, 1, 0, 1);             \
    case 6: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 0, 1, 1, 0);             \
    case 7: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 0, 1, 1, 1);             \
    case 8: case 9: case 10: case 11: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 1, 0, 0, 0); \
    case 12: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 1, 1, 0, 0);            \
    case 13: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 1, 1, 0, 1);            \
    case 14: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 1, 1, 1, 0);            \
    default: return sgd_loop_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, 1, 1, 1, 1);            \
    }                                                                                            \
  }                                                                                              \
  /* returns whether any updated parameter is Inf or NaN */                                      \
  static int sgd_##SUFFIX(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict m1, size_t a, \
                          size_t e, TYPE mu, TYPE wd, TYPE damp, TYPE tlr, int first, int nesterov) { \
    if (e - a <= 65536) return sgd_range_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, first, nesterov); \
    const size_t n = e - a, nch = (n + 65535) / 65536;                                           \
    int bad = 0;                                                                                 \
    _Pragma("omp parallel for schedule(static) reduction(|: bad) num_threads(ss_threads())") for (size_t c = 0; c < nch; c++) \
      bad |= sgd_range_##SUFFIX(p, g, m1, a + n * c / nch, a + n * (c + 1) / nch, mu, wd, damp, tlr, first, nesterov); \
    return bad;                                                                                  \
  }

DEFINE_SGD(f64, double, uint64_t, 0x7ff0000000000000ULL)
DEFINE_SGD(f32, float, uint32_t, 0x7f800000U)

/* Adam / AdamW on entries [a, e), torch.optim's arithmetic element by element; instantiated
 * per (AdamW, weight decay) so the loop is branch-free and vectorises (sqrt of a float is
 * correctly rounded either way: sqrtf(x) == (float)sqrt((double)x)); optim.c is compiled with
 * -fno-math-errno, so the square roots vectorise too. Same operations, same order, same bits. */
#define DEFINE_ADAM(SUFFIX, TYPE, SQRT)                                                          \
  static inline __attribute__((always_inline)) void adam_loop_##SUFFIX(                          \
      TYPE *restrict p, const TYPE *restrict g, TYPE *restrict m1, TYPE *restrict m2, size_t a, size_t e, \
      TYPE b1, TYPE b2, TYPE eps, TYPE step, TYPE sbc2, TYPE wd, TYPE decay, const int ADAMW, const int WD) { \
    for (size_t i = a; i < e; i++) {                                                             \
      TYPE gr = g[i];                                                                            \
      if (ADAMW)                                                                                 \
        p[i] *= decay;                                                                           \
      else if (WD)                                                                               \
        gr += wd * p[i];                                                                         \
      m1[i] = b1 * m1[i] + (1 - b1) * gr;                                                        \
      m2[i] = b2 * m2[i] + (1 - b2) * gr * gr;                                                   \
      TYPE den = SQRT(m2[i]) / sbc2 + eps;                                                       \
      p[i] -= step * m1[i] / den;                                                                \
    }                                                                                            \
  }                                                                                              \
  SS_CLONES static void adam_range_##SUFFIX(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict m1, TYPE *restrict m2, \
                                            size_t a, size_t e, TYPE b1, TYPE b2, TYPE eps, TYPE step, TYPE sbc2, TYPE wd, \
                                            TYPE decay, int adamw) {                             \
    if (adamw)                                                                                   \
      adam_loop_##SUFFIX(p, g, m1, m2, a, e, b1, b2, eps, step, sbc2, wd, decay, 1, 0);          \
    else if (wd != 0)                                                                            \
      adam_loop_##SUFFIX(p, g, m1, m2, a, e, b1, b2, eps, step, sbc2, wd, decay, 0, 1);          \
    else                                                                                         \
      adam_loop_##SUFFIX(p, g, m1, m2, a, e, b1, b2, eps, step, sbc2, wd, decay, 0, 0);          \
  }

DEFINE_ADAM(f64, double, sqrt)
DEFINE_ADAM(f32, float, sqrtf)

/* Row-sparse groups (ss_param_group.row_len) under SGD without weight decay, with mu, 1 -
 * dampening and lr not negative: a row whose gradient and momentum are all +0 gets v = mu (+0)
 * + (1 - dampening) (+0) = +0 (first step: v = g = +0; Nesterov g + mu v = +0) and theta -=
 * lr (+0), which leaves theta as it is, -0 included: so such rows are skipped, with the same
 * bits as updating them. live[r]: row r's momentum may be other than +0 (any bit set), built
 * from m1 when not known, then every row the gradient lists joins it. */
static int sgd_sparse_ok(const ss_optim *o, const ss_param_group *G, double lr) {
  return G->row_len > 0 && G->rows && G->count % G->row_len == 0 && o->method == SS_OPT_SGD && o->wd == 0 &&
         o->momentum >= 0 && 1.0 - o->dampening >= 0 && lr >= 0;
}
static int live_rows(ss_optim *o, int gi, const ss_param_group *G, size_t es) {
  const size_t nr = G->count / G->row_len;
  if (!o->live[gi]) {
    o->live[gi] = calloc(nr ? nr : 1, 1);
    if (!o->live[gi]) return -1;
    o->live_ok[gi] = 0;
  }
  unsigned char *live = o->live[gi];
  if (!o->live_ok[gi]) {
    const unsigned char *mb = o->m1 ? (const unsigned char *)o->m1 + G->offset * es : NULL;
    const size_t rb = G->row_len * es;
    for (size_t r = 0; r < nr; r++) {
      unsigned char any = 0;
      if (mb)
        for (size_t i = 0; i < rb; i++) any |= mb[r * rb + i];
      live[r] = any != 0;
    }
    o->live_ok[gi] = 1;
  }
  for (int k = 0; k < G->nrows; k++) live[G->rows[k]] = 1;
  return 0;
}

/* Small groups are updated on the calling thread: waking a team costs more than the work. */
#define DEFINE_STEP(SUFFIX, TYPE)                                                                \
  static int step_##SUFFIX(ss_optim *o, ss_model *m, double lr_scale) {                          \
    TYPE *p = m->params, *g = m->grads, *m1 = o->m1, *m2 = o->m2;                                \
    long long t = o->t + 1;                                                                      \
    int bad = 0;                                                                                 \
    for (int gi = 0; gi < m->ngroups; gi++) {                                                    \
      const ss_param_group *G = &m->groups[gi];                                                  \
      const double lr = G->lr * lr_scale;                                                        \
      const size_t a = G->offset, e = G->offset + G->count;                                      \
      if (o->method == SS_OPT_SGD) {                                                             \
        const TYPE mu = (TYPE)o->momentum, wd = (TYPE)o->wd, damp = (TYPE)(1.0 - o->dampening);  \
        const TYPE tlr = (TYPE)lr;                                                               \
        if (sgd_sparse_ok(o, G, lr) && live_rows(o, gi, G, sizeof(TYPE)) == 0) {                \
          /* the live rows, in maximal runs */                                                   \
          const size_t nr = G->count / G->row_len, L = G->row_len;                              \
          const unsigned char *live = o->live[gi];                                               \
          for (size_t r0 = 0; r0 < nr;) {                                                        \
            if (!live[r0]) {                                                                     \
              r0++;                                                                              \
              continue;                                                                          \
            }                                                                                    \
            size_t r1 = r0 + 1;                                                                  \
            while (r1 < nr && live[r1]) r1++;                                                    \
            bad |= sgd_##SUFFIX(p, g, m1, a + r0 * L, a + r1 * L, mu, wd, damp, tlr, t == 1, o->nesterov); \
            r0 = r1;                                                                             \
          }                                                                                      \
        } else {                                                                                 \
          bad |= sgd_##SUFFIX(p, g, m1, a, e, mu, wd, damp, tlr, t == 1, o->nesterov);           \
        }                                                                                        \
      } else {                                                                                   \
        const double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t); \
        const TYPE step = (TYPE)(lr / bc1), sbc2 = (TYPE)sqrt(bc2);                              \
        const TYPE b1 = (TYPE)o->beta1, b2 = (TYPE)o->beta2, eps = (TYPE)o->eps;                 \
        const TYPE wd = (TYPE)o->wd, decay = (TYPE)(1.0 - lr * o->wd);                           \
        const int adamw = o->method == SS_OPT_ADAMW;                                             \
        const size_t n = e - a, nch = n > 65536 ? (n + 65535) / 65536 : 1;                       \
        _Pragma("omp parallel for schedule(static) if (nch > 1) num_threads(ss_threads())") for (size_t c = 0; c < nch; c++) \
          adam_range_##SUFFIX(p, g, m1, m2, a + n * c / nch, a + n * (c + 1) / nch, b1, b2, eps, step, sbc2, wd, decay, adamw); \
        bad = 1; /* not checked here: the caller checks */                                       \
      }                                                                                          \
    }                                                                                            \
    o->t = t;                                                                                    \
    return bad;                                                                                  \
  }

DEFINE_STEP(f64, double)
DEFINE_STEP(f32, float)

int ss_optim_step(ss_optim *o, ss_model *m, double lr_scale) {
  return m->dtype == SS_F64 ? step_f64(o, m, lr_scale) : step_f32(o, m, lr_scale);
}

/* Sum of squares in fixed chunks (partial sums in chunk order), so the norm does not depend
 * on the number of threads; chunks run in parallel (the transformer has 10^7 parameters). */
#define CLIP_CHUNK 65536
double ss_clip_grad_norm(ss_model *m, double max_norm) {
  const size_t n = m->nparams, nch = (n + CLIP_CHUNK - 1) / CLIP_CHUNK;
  double *part = calloc(nch ? nch : 1, sizeof(double));
  if (!part) return NAN;
  const int f64 = m->dtype == SS_F64;
#pragma omp parallel for schedule(static) if (nch > 1) num_threads(ss_threads())
  for (size_t c = 0; c < nch; c++) {
    const size_t a = c * CLIP_CHUNK, e = a + CLIP_CHUNK < n ? a + CLIP_CHUNK : n;
    double s = 0;
    if (f64) {
      const double *g = m->grads;
      for (size_t i = a; i < e; i++) s += g[i] * g[i];
    } else {
      const float *g = m->grads;
      for (size_t i = a; i < e; i++) s += (double)g[i] * g[i];
    }
    part[c] = s;
  }
  double s = 0;
  for (size_t c = 0; c < nch; c++) s += part[c];
  free(part);
  double norm = sqrt(s);
  if (max_norm > 0 && norm > max_norm) {
    double c = max_norm / (norm + 1e-6);
    if (f64) {
      double *g = m->grads;
#pragma omp parallel for schedule(static) if (n > CLIP_CHUNK) num_threads(ss_threads())
      for (size_t i = 0; i < n; i++) g[i] *= c;
    } else {
      float *g = m->grads;
#pragma omp parallel for schedule(static) if (n > CLIP_CHUNK) num_threads(ss_threads())
      for (size_t i = 0; i < n; i++) g[i] = (float)(g[i] * c);
    }
  }
  return norm;
}
