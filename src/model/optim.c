/* SGD / Adam / AdamW over the flat parameter array, in the model's own precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/optim.h"

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
}

/* Small groups are updated on the calling thread: waking a team costs more than the work. */
#define DEFINE_STEP(SUFFIX, TYPE)                                                                \
  static void step_##SUFFIX(ss_optim *o, ss_model *m, double lr_scale) {                         \
    TYPE *p = m->params, *g = m->grads, *m1 = o->m1, *m2 = o->m2;                                \
    long long t = o->t + 1;                                                                      \
    for (int gi = 0; gi < m->ngroups; gi++) {                                                    \
      const ss_param_group *G = &m->groups[gi];                                                  \
      const double lr = G->lr * lr_scale;                                                        \
      const size_t a = G->offset, e = G->offset + G->count;                                      \
      if (o->method == SS_OPT_SGD) {                                                             \
        const TYPE mu = (TYPE)o->momentum, wd = (TYPE)o->wd, damp = (TYPE)(1.0 - o->dampening);  \
        const TYPE tlr = (TYPE)lr;                                                               \
        _Pragma("omp parallel for schedule(static) if (e - a > 65536)") for (size_t i = a; i < e; i++) { \
          TYPE gr = g[i];                                                                        \
          if (wd != 0) gr += wd * p[i];                                                          \
          if (mu != 0) {                                                                         \
            m1[i] = t == 1 ? gr : mu * m1[i] + damp * gr;                                        \
            gr = o->nesterov ? gr + mu * m1[i] : m1[i];                                          \
          }                                                                                      \
          p[i] -= tlr * gr;                                                                      \
        }                                                                                        \
      } else {                                                                                   \
        const double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t); \
        const TYPE step = (TYPE)(lr / bc1), sbc2 = (TYPE)sqrt(bc2);                              \
        const TYPE b1 = (TYPE)o->beta1, b2 = (TYPE)o->beta2, eps = (TYPE)o->eps;                 \
        const TYPE wd = (TYPE)o->wd, decay = (TYPE)(1.0 - lr * o->wd);                           \
        const int adamw = o->method == SS_OPT_ADAMW;                                             \
        _Pragma("omp parallel for schedule(static) if (e - a > 65536)") for (size_t i = a; i < e; i++) { \
          TYPE gr = g[i];                                                                        \
          if (adamw)                                                                             \
            p[i] *= decay;                                                                       \
          else if (wd != 0)                                                                      \
            gr += wd * p[i];                                                                     \
          m1[i] = b1 * m1[i] + (1 - b1) * gr;                                                    \
          m2[i] = b2 * m2[i] + (1 - b2) * gr * gr;                                               \
          TYPE den = (TYPE)sqrt((double)m2[i]) / sbc2 + eps;                                     \
          p[i] -= step * m1[i] / den;                                                            \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
    o->t = t;                                                                                    \
  }

DEFINE_STEP(f64, double)
DEFINE_STEP(f32, float)

void ss_optim_step(ss_optim *o, ss_model *m, double lr_scale) {
  if (m->dtype == SS_F64)
    step_f64(o, m, lr_scale);
  else
    step_f32(o, m, lr_scale);
}

/* Sum of squares in fixed chunks (partial sums in chunk order), so the norm does not depend
 * on the number of threads; chunks run in parallel (the transformer has 10^7 parameters). */
#define CLIP_CHUNK 65536
double ss_clip_grad_norm(ss_model *m, double max_norm) {
  const size_t n = m->nparams, nch = (n + CLIP_CHUNK - 1) / CLIP_CHUNK;
  double *part = calloc(nch ? nch : 1, sizeof(double));
  if (!part) return NAN;
  const int f64 = m->dtype == SS_F64;
#pragma omp parallel for schedule(static) if (nch > 1)
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
#pragma omp parallel for schedule(static) if (n > CLIP_CHUNK)
      for (size_t i = 0; i < n; i++) g[i] *= c;
    } else {
      float *g = m->grads;
#pragma omp parallel for schedule(static) if (n > CLIP_CHUNK)
      for (size_t i = 0; i < n; i++) g[i] = (float)(g[i] * c);
    }
  }
  return norm;
}
