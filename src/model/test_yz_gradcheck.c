/* The Y/Z model's backward (SPEC §2.1) equals central finite differences of its forward,
 * for every combination of normalize / residual / include_base_token, at random non-zero
 * parameters (uniform in +-1, so softmaxes are far from uniform) and on batches whose keys
 * repeat tokens and contain the query (the grouped-softmax and residual-slot paths).
 * Also: at zero init dZ is exactly 0 (g_f = Y^T g = 0) while dY is not, and the optimizers
 * match torch.optim's formulas, computed here by hand, step by step.
 * model.precision = float32: the same finite-difference check with a step and a tolerance for
 * single precision, its gradients within float rounding of float64's, and the general path
 * untouched by it (float64, same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

/* Sizes: M tokens (9, or 37 for the float32 checks: rows of three 16-float blocks), sequences
 * of T (T-1 keys + query), batch B. */
enum { T = 12, B = 5 };
static int M = 9;
/* model.precision = float32 (the grouped path computes in float) */
static int f32;
/* model.kernels: the fastest set (SS_KERNELS_AUTO) or the reference (yz_ref.c) */
static int kernels = SS_KERNELS_AUTO;

#define assert_close(a, b, tol)                                                                \
  do {                                                                                        \
    double a_ = (a), b_ = (b);                                                                \
    if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);        \
  } while (0)

/* 0: every row is a file row (cls = -1, the general per-sequence path); 1: rows carry classes
 * 0 and 7 alternately (the grouped path of yz.c: two groups of non-adjacent rows). */
static int grouped;
/* 1: every row of class c has the same query (as generated data: one group per class, 7 and 6
 * rows, beyond the kernels' 4-row blocks); 0: random queries (many small groups). */
static int shared_query;

/* When set (and rows are grouped), the batch carries this class table and every key is drawn
 * from its row's class support: the model then lays a group out on the support (yz_kern.c). */
static const ss_classes *supp_classes;
/* Rows whose key 0 is made to stray outside their class's support: 0 none, 1 every row, 2
 * row 2 only. */
static int stray_mode;

static void random_batch(ss_batch *b, ss_rng *r) {
  for (int i = 0; i < b->B; i++) {
    for (int t = 0; t < T; t++) b->x[i * T + t] = (int)ss_rng_below(r, M);
    if (grouped && supp_classes) {
      const double *P = supp_classes->prob + (size_t)(7 * (i % 2)) * M;
      for (int t = 0; t < T - 1; t++) /* the first support token at or after the draw, cyclically */
        for (int u = b->x[i * T + t], n = 0; n < M; n++, u = (u + 1) % M)
          if (P[u] > 0) {
            b->x[i * T + t] = u;
            break;
          }
    }
    if (shared_query) b->x[i * T + T - 1] = i % 2 ? 2 : 5;
    /* a key equal to the query in some rows: hits the residual slot shared with a key */
    if (i % 2 == 0) b->x[i * T + 3] = b->x[i * T + T - 1];
    /* a key outside the class's support and other than the query (with residual the query
     * joins the support) */
    if (grouped && supp_classes && (stray_mode == 1 || (stray_mode == 2 && i == 2))) {
      const double *P = supp_classes->prob + (size_t)(7 * (i % 2)) * M;
      for (int u = 0; u < M; u++)
        if (P[u] == 0 && u != b->x[i * T + T - 1]) {
          b->x[i * T] = u;
          break;
        }
    }
    b->label[i] = (int)ss_rng_below(r, M);
    b->cls[i] = grouped ? 7 * (i % 2) : -1;
  }
  b->classes = grouped ? supp_classes : NULL;
}

/* A class table over M tokens for classes 0 and 7 (the ones random_batch uses): class 0 on
 * {0, 1, 3, 4, 6, 7} (M = 9) and class 7 on every token but 0, 3, 5; the queries 2 and 5 are
 * outside class 0's support and inside class 7's, so the residual slot is both kinds. */
static void make_classes(ss_classes *cl, double *prob) {
  memset(cl, 0, sizeof *cl);
  cl->M = M;
  cl->N = 8;
  cl->prob = prob;
  memset(prob, 0, sizeof(double) * 8 * (size_t)M);
  for (int u = 0; u < M; u++) {
    prob[u] = u % 3 != 2 ? 1.0 : 0.0;
    prob[7 * M + u] = u == 0 || u == 3 || u == 5 ? 0.0 : 1.0;
  }
}

static double eval_loss(ss_model *m, const ss_batch *b) {
  double loss, acc;
  ss_err e;
  assert_int_equal(m->ops->eval(m, b, &loss, &acc, &e), SS_OK);
  return loss;
}

/* Returns the worst relative error max|analytic - numeric| / max|numeric| over all params. */
static double gradcheck(int normalize, int residual, int base, int zero_init, double *gmax) {
  ss_yz_opts o = {M, normalize, residual, base, zero_init, f32, kernels};
  ss_rng r;
  ss_rng_seed(&r, 1234 + normalize * 4 + residual * 2 + base);
  ss_model *m;
  ss_err e;
  assert_int_equal(ss_yz_new(&o, &r, &m, &e), SS_OK);
  double *p = m->params, *g = m->grads;
  if (!zero_init)
    for (size_t i = 0; i < m->nparams; i++) p[i] = 2.0 * ss_rng_uniform(&r) - 1.0;
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, B, T, &e), SS_OK);
  random_batch(&b, &r);
  double loss, acc;
  assert_int_equal(m->ops->step(m, &b, &loss, &acc, &e), SS_OK);
  assert_true(fabs(loss - eval_loss(m, &b)) < 1e-14);
  double *an = malloc(sizeof(double) * m->nparams);
  memcpy(an, g, sizeof(double) * m->nparams);
  /* float32: the loss carries rounding ~1e-7, so a larger step (truncation ~h^2) */
  const double h = f32 && grouped ? 1e-2 : 1e-5;
  double maxdiff = 0, maxnum = 0;
  for (size_t i = 0; i < m->nparams; i++) {
    double keep = p[i];
    p[i] = keep + h;
    double lp = eval_loss(m, &b);
    p[i] = keep - h;
    double lm = eval_loss(m, &b);
    p[i] = keep;
    double num = (lp - lm) / (2 * h);
    if (fabs(num - an[i]) > maxdiff) maxdiff = fabs(num - an[i]);
    if (fabs(num) > maxnum) maxnum = fabs(num);
  }
  /* Separately: the Z block must carry signal, otherwise the check proves nothing about dZ. */
  double zmax = 0;
  for (size_t i = (size_t)M * M; i < m->nparams; i++)
    if (fabs(an[i]) > zmax) zmax = fabs(an[i]);
  *gmax = zmax;
  free(an);
  ss_batch_free(&b);
  ss_model_free(m);
  return maxnum > 0 ? maxdiff / maxnum : maxdiff;
}

static void backward_matches_finite_differences_every_option(void **state) {
  (void)state;
  for (int mask = 0; mask < 24; mask++) {
    grouped = mask >> 3 ? 1 : 0;
    shared_query = mask >> 4;
    int nz = mask & 4 ? 1 : 0, res = mask & 2 ? 1 : 0, base = mask & 1;
    double zmax;
    double rel = gradcheck(nz, res, base, 0, &zmax);
    print_message("grouped=%d shared_query=%d normalize=%d residual=%d include_base_token=%d: rel err %.3g, max|dZ| %.3g\n",
                  grouped, shared_query, nz, res, base, rel, zmax);
    /* central differences at h=1e-5 in double: truncation ~h^2, rounding ~1e-16/h -> ~1e-10 */
    assert_true(rel < 1e-7);
    assert_true(zmax > 1e-4);
  }
  shared_query = 0;
}

/* The reference (model.kernels=reference, yz_ref.c), the kernels' oracle, against finite
 * differences: every option, at random parameters and at zero init (dZ exactly 0 there too). */
static void reference_backward_matches_finite_differences(void **state) {
  (void)state;
  kernels = SS_KERNELS_REFERENCE;
  for (int mask = 0; mask < 16; mask++) {
    int nz = mask & 4 ? 1 : 0, res = mask & 2 ? 1 : 0, base = mask & 1, zero = mask >> 3;
    double zmax;
    double rel = gradcheck(nz, res, base, zero, &zmax);
    print_message("reference normalize=%d residual=%d include_base_token=%d zero_init=%d: rel err %.3g, max|dZ| %.3g\n",
                  nz, res, base, zero, rel, zmax);
    assert_true(rel < 1e-7);
    if (zero)
      assert_true(zmax == 0.0);
    else
      assert_true(zmax > 1e-4);
  }
  kernels = SS_KERNELS_AUTO;
}

/* A model with the options of mask's low bits (normalize, residual, include_base_token),
 * precision f32_, every parameter uniform in +-1 from seed (r continues that stream). */
static ss_model *random_model(int mask, int f32_, uint64_t seed, ss_rng *r) {
  ss_yz_opts o = {M, (mask >> 2) & 1, (mask >> 1) & 1, mask & 1, 0, f32_, kernels};
  ss_rng_seed(r, seed);
  ss_model *m;
  ss_err e;
  assert_int_equal(ss_yz_new(&o, r, &m, &e), SS_OK);
  double *p = m->params;
  for (size_t i = 0; i < m->nparams; i++) p[i] = 2.0 * ss_rng_uniform(r) - 1.0;
  return m;
}

/* The grouped path (rows with classes) and the general path (file rows) are two summation
 * orders of the same sums: loss and gradients agree to rounding, for every option, on a batch
 * of 13 rows, with random queries (groups of 1-3 rows) and with one query per class (groups
 * of 7 and 6 rows, interleaved, beyond the 4-row register blocks). */
static void grouped_path_equals_general_path(void **state) {
  (void)state;
  for (int mask = 0; mask < 16; mask++) {
    shared_query = mask >> 3;
    ss_rng r;
    ss_model *m = random_model(mask, 0, 99 + mask, &r);
    ss_err e;
    ss_batch b;
    assert_int_equal(ss_batch_alloc(&b, 13, T, &e), SS_OK);
    double loss[2], acc[2], *g[2];
    for (int pass = 0; pass < 2; pass++) {
      ss_rng_seed(&r, 7);
      grouped = pass;
      random_batch(&b, &r);
      assert_int_equal(m->ops->step(m, &b, &loss[pass], &acc[pass], &e), SS_OK);
      g[pass] = malloc(sizeof(double) * m->nparams);
      memcpy(g[pass], m->grads, sizeof(double) * m->nparams);
    }
    grouped = 0;
    assert_close(loss[1], loss[0], 1e-14);
    assert_true(acc[1] == acc[0]);
    double gmax = 0;
    for (size_t i = 0; i < m->nparams; i++) {
      assert_close(g[1][i], g[0][i], 1e-15);
      if (fabs(g[0][i]) > gmax) gmax = fabs(g[0][i]);
    }
    assert_true(gmax > 1e-3);
    free(g[0]);
    free(g[1]);
    ss_batch_free(&b);
    ss_model_free(m);
  }
  shared_query = 0;
}

static void zero_init_has_zero_dZ_and_nonzero_dY(void **state) {
  (void)state;
  for (int mask = 0; mask < 16; mask++) {
    grouped = mask >> 3;
    double zmax;
    double rel = gradcheck(mask & 4 ? 1 : 0, mask & 2 ? 1 : 0, mask & 1, 1, &zmax);
    assert_true(rel < 1e-7);
    assert_true(zmax == 0.0);
  }
}

/* model.precision = float32, grouped path: central differences of the float32 forward (loss
 * rounding ~1e-7 / h plus truncation ~h^2 at h = 1e-2; measured <= 3e-5 relative) at M = 9 (one padded
 * block) and M = 37 (three 16-float blocks, the last one padded), every option. */
static void float32_backward_matches_finite_differences(void **state) {
  (void)state;
  const int Ms[2] = {9, 37};
  f32 = 1;
  grouped = 1;
  for (int mi = 0; mi < 2; mi++)
    for (int mask = 0; mask < 16; mask++) {
      M = Ms[mi];
      shared_query = mask >> 3;
      int nz = mask & 4 ? 1 : 0, res = mask & 2 ? 1 : 0, base = mask & 1;
      double zmax;
      double rel = gradcheck(nz, res, base, 0, &zmax);
      print_message("float32 M=%d shared_query=%d normalize=%d residual=%d include_base_token=%d: rel err %.3g\n", M,
                    shared_query, nz, res, base, rel);
      assert_true(rel < 2e-4); /* measured <= 3e-5 */
      assert_true(zmax > 1e-4);
    }
  M = 9;
  f32 = grouped = shared_query = 0;
}

/* One step of random_model(mask, f32_, seed) on a random 13-row batch (its class table dropped
 * when drop_classes): the loss, and a copy of the gradients (the caller frees it). */
static double *step_grads(int mask, int f32_, uint64_t seed, int drop_classes, double *loss) {
  ss_rng r;
  ss_model *m = random_model(mask, f32_, seed, &r);
  ss_err e;
  ss_batch b;
  assert_int_equal(ss_batch_alloc(&b, 13, T, &e), SS_OK);
  random_batch(&b, &r);
  if (drop_classes) b.classes = NULL;
  double acc;
  assert_int_equal(m->ops->step(m, &b, loss, &acc, &e), SS_OK);
  double *g = malloc(sizeof(double) * m->nparams);
  memcpy(g, m->grads, sizeof(double) * m->nparams);
  ss_batch_free(&b);
  ss_model_free(m);
  return g;
}

/* The float32 gradients equal the float64 ones up to float rounding (relative to the largest),
 * on the grouped path; on the general path (rows without a class) float32 is not used: the
 * same bits. */
static void float32_gradients_are_float64_to_float_rounding(void **state) {
  (void)state;
  for (int mask = 0; mask < 32; mask++) {
    M = mask & 16 ? 37 : 9;
    grouped = (mask >> 3) & 1;
    double loss[2], *g[2];
    for (int prec = 0; prec < 2; prec++) {
      g[prec] = step_grads(mask, prec, 4242 + mask, 0, &loss[prec]);
    }
    const size_t n = 2 * (size_t)M * M;
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
      if (fabs(g[0][i]) > gmax) gmax = fabs(g[0][i]);
      if (fabs(g[1][i] - g[0][i]) > dmax) dmax = fabs(g[1][i] - g[0][i]);
    }
    print_message("grouped=%d M=%d: loss %.9g vs %.9g, max|dg|/max|g| %.3g\n", grouped, M, loss[1], loss[0], dmax / gmax);
    if (grouped) {
      assert_true(dmax / gmax < 1e-6); /* measured <= 2e-7: a few float ulps */
      assert_true(dmax > 0); /* it did compute in float */
      assert_close(loss[1], loss[0], 1e-5 * fabs(loss[0]));
    } else {
      assert_memory_equal(g[0], g[1], sizeof(double) * n);
      assert_true(loss[1] == loss[0]);
    }
    free(g[0]);
    free(g[1]);
  }
  M = 9;
  grouped = 0;
}

/* A batch whose rows carry their class table (as generated batches do) is laid out on each
 * class's support instead of the union of its keys: the same sums with zero terms for support
 * tokens no key uses, so loss and gradients agree with the table-less layout to rounding, and
 * the backward still equals finite differences; a row with a key outside its class's support
 * makes its group fall back to the union of its keys: when every row strays, the same bits
 * as without a table; when one does, the other groups keep their supports (rounding).
 * Both precisions, every option, one query per class and random queries. */
static void support_layout_equals_union_layout(void **state) {
  (void)state;
  double prob[8 * 37];
  ss_classes cl;
  grouped = 1;
  for (int mask = 0; mask < 64; mask++) {
    M = mask & 32 ? 37 : 9;
    f32 = (mask >> 4) & 1;
    shared_query = (mask >> 3) & 1;
    make_classes(&cl, prob);
    for (int stray = 0; stray < 3; stray++) {
      double loss[2], *g[2];
      for (int with = 0; with < 2; with++) {
        supp_classes = &cl; /* keys from the supports in both passes; the table given in pass 1 */
        stray_mode = stray;
        g[with] = step_grads(mask, f32, 555 + mask, !with, &loss[with]);
      }
      const size_t n = 2 * (size_t)M * M;
      if (stray == 1) { /* every group falls back to the union of its keys */
        if (loss[1] != loss[0] || memcmp(g[0], g[1], sizeof(double) * n))
          fail_msg("mask %d: every row strays, yet the table changed the bits (loss %.17g vs %.17g)", mask, loss[1], loss[0]);
      } else {
        double gmax = 0, dmax = 0;
        for (size_t i = 0; i < n; i++) {
          if (fabs(g[0][i]) > gmax) gmax = fabs(g[0][i]);
          if (fabs(g[1][i] - g[0][i]) > dmax) dmax = fabs(g[1][i] - g[0][i]);
        }
        assert_close(loss[1], loss[0], (f32 ? 1e-6 : 1e-14) * fabs(loss[0]));
        if (!(dmax <= (f32 ? 1e-6 : 1e-14) * gmax)) fail_msg("mask %d: max diff %.3g of max %.3g", mask, dmax, gmax);
        assert_true(gmax > 1e-3);
      }
      free(g[0]);
      free(g[1]);
    }
    /* and the support layout's backward against finite differences */
    stray_mode = 0;
    double zmax;
    const double rel = gradcheck((mask >> 2) & 1, (mask >> 1) & 1, mask & 1, 0, &zmax);
    assert_true(rel < (f32 ? 2e-4 : 1e-7));
    assert_true(zmax > 1e-4);
  }
  supp_classes = NULL;
  M = 9;
  f32 = grouped = shared_query = 0;
}

/* ---- optimizers against torch.optim's definitions ---------------------------------- */

/* A model with 2*2*2 = 8 parameters: Y group lr 0.1, Z group lr 0.3. */
static ss_model *tiny(void) {
  ss_yz_opts o = {2, 1, 0, 0, 1, 0, SS_KERNELS_AUTO};
  ss_model *m;
  ss_err e;
  assert_int_equal(ss_yz_new(&o, NULL, &m, &e), SS_OK);
  m->groups[0].lr = 0.1;
  m->groups[1].lr = 0.3;
  double *p = m->params;
  for (int i = 0; i < 8; i++) p[i] = 0.5 - 0.25 * i;
  return m;
}

static double grad_at(int step, int i) { return 0.3 * (i + 1) * (step % 2 ? -1.0 : 1.0) + 0.05 * step; }

/* Runs nsteps of the optimizer with grads grad_at(step, i); compares against ref(). */
typedef void (*ref_fn)(const ss_config *c, double lr, int i, int nsteps, double p0, double *p_out);

static void check_optimizer(const ss_config *c, ref_fn ref, int nsteps) {
  ss_model *m = tiny();
  ss_optim o;
  ss_err e;
  assert_int_equal(ss_optim_init(&o, c, m, &e), SS_OK);
  double p0[8];
  memcpy(p0, m->params, sizeof p0);
  for (int s = 0; s < nsteps; s++) {
    for (int i = 0; i < 8; i++) ((double *)m->grads)[i] = grad_at(s, i);
    ss_optim_step(&o, m, 1.0);
  }
  for (int i = 0; i < 8; i++) {
    double want;
    ref(c, i < 4 ? 0.1 : 0.3, i, nsteps, p0[i], &want);
    double got = ((double *)m->params)[i];
    if (fabs(got - want) > 1e-13 * (1 + fabs(want))) fail_msg("param %d after %d steps: got %.17g want %.17g", i, nsteps, got, want);
  }
  ss_optim_free(&o);
  ss_model_free(m);
}

/* torch.optim.SGD: d = g + wd p; buf = d (first) else mu buf + (1-damp) d;
 * d = nesterov ? d + mu buf : buf; p -= lr d. */
static void ref_sgd(const ss_config *c, double lr, int i, int nsteps, double p, double *out) {
  double buf = 0;
  for (int s = 0; s < nsteps; s++) {
    double d = grad_at(s, i) + c->opt.wd * p;
    if (c->opt.momentum != 0) {
      buf = s == 0 ? d : c->opt.momentum * buf + (1 - c->opt.dampening) * d;
      d = c->opt.nesterov ? d + c->opt.momentum * buf : buf;
    }
    p -= lr * d;
  }
  *out = p;
}

/* torch.optim.Adam / AdamW (amsgrad off). */
static void ref_adam(const ss_config *c, double lr, int i, int nsteps, double p, double *out) {
  double m1 = 0, m2 = 0, b1 = c->opt.beta1, b2 = c->opt.beta2;
  for (int s = 1; s <= nsteps; s++) {
    double g = grad_at(s - 1, i);
    if (c->opt.method == SS_OPT_ADAMW)
      p *= 1 - lr * c->opt.wd;
    else
      g += c->opt.wd * p;
    m1 = b1 * m1 + (1 - b1) * g;
    m2 = b2 * m2 + (1 - b2) * g * g;
    double denom = sqrt(m2) / sqrt(1 - pow(b2, s)) + c->opt.eps;
    p -= lr / (1 - pow(b1, s)) * m1 / denom;
  }
  *out = p;
}

static ss_config cfg_with(const char *const *kv) {
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  for (int i = 0; kv[i]; i++)
    if (ss_config_override(&c, kv[i], &e)) fail_msg("%s", e.msg);
  return c;
}

static void sgd_first_step_is_plain_gradient_step(void **state) {
  (void)state;
  /* by hand: v1 = g0, p1 = p0 - lr g0 (the momentum buffer starts at g, not at (1-damp) g) */
  ss_config c = cfg_with((const char *[]){"opt.momentum=0.9", "opt.dampening=0.5", NULL});
  ss_model *m = tiny();
  ss_optim o;
  ss_err e;
  assert_int_equal(ss_optim_init(&o, &c, m, &e), SS_OK);
  double *p = m->params, *g = m->grads;
  for (int i = 0; i < 8; i++) g[i] = 1.0 + i;
  ss_optim_step(&o, m, 1.0);
  assert_close(p[0], 0.5 - 0.1 * 1.0, 1e-15);
  assert_close(p[5], (0.5 - 0.25 * 5) - 0.3 * 6.0, 1e-15);
  /* second step, g = 2: v = 0.9*1 + 0.5*2 = 1.9 for param 0 */
  for (int i = 0; i < 8; i++) g[i] = 2.0;
  ss_optim_step(&o, m, 1.0);
  assert_close(p[0], 0.5 - 0.1 * 1.0 - 0.1 * 1.9, 1e-15);
  /* lr_scale multiplies every group's rate */
  ss_optim_step(&o, m, 0.5);
  double v3 = 0.9 * 1.9 + 0.5 * 2.0;
  assert_close(p[0], 0.5 - 0.1 * 1.0 - 0.1 * 1.9 - 0.05 * v3, 1e-15);
  ss_optim_free(&o);
  ss_model_free(m);
}

static void sgd_variants_match_torch_formulas(void **state) {
  (void)state;
  const char *const *cases[] = {
      (const char *[]){"opt.momentum=0", NULL},
      (const char *[]){"opt.momentum=0.9", NULL},
      (const char *[]){"opt.momentum=0.9", "opt.nesterov=true", NULL},
      (const char *[]){"opt.momentum=0.8", "opt.dampening=0.3", NULL},
      (const char *[]){"opt.momentum=0.9", "opt.wd=0.01", NULL},
      (const char *[]){"opt.momentum=0.7", "opt.nesterov=true", "opt.wd=0.1", NULL},
      (const char *[]){"opt.momentum=0", "opt.wd=0.2", NULL},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    ss_config c = cfg_with(cases[k]);
    check_optimizer(&c, ref_sgd, 5);
  }
}

static void nesterov_without_momentum_is_rejected(void **state) {
  (void)state;
  ss_config c = cfg_with((const char *[]){"opt.momentum=0", "opt.nesterov=true", NULL});
  ss_model *m = tiny();
  ss_optim o;
  ss_err e;
  assert_int_equal(ss_optim_init(&o, &c, m, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "opt.nesterov"));
  ss_model_free(m);
}

static void adam_and_adamw_match_torch_formulas(void **state) {
  (void)state;
  const char *const *cases[] = {
      (const char *[]){"opt.method=adam", NULL},
      (const char *[]){"opt.method=adam", "opt.wd=0.05", "opt.beta1=0.8", "opt.beta2=0.99", "opt.eps=1e-3", NULL},
      (const char *[]){"opt.method=adamw", "opt.wd=0.05", NULL},
      (const char *[]){"opt.method=adamw", "opt.wd=0", NULL},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    ss_config c = cfg_with(cases[k]);
    check_optimizer(&c, ref_adam, 6);
  }
  /* and the first Adam step by hand: m = (1-b1) g, v = (1-b2) g^2, p -= lr g/(|g| + eps) */
  ss_config c = cfg_with((const char *[]){"opt.method=adam", NULL});
  ss_model *m = tiny();
  ss_optim o;
  ss_err e;
  assert_int_equal(ss_optim_init(&o, &c, m, &e), SS_OK);
  for (int i = 0; i < 8; i++) ((double *)m->grads)[i] = -2.0;
  ss_optim_step(&o, m, 1.0);
  assert_close(((double *)m->params)[0], 0.5 + 0.1 * 2.0 / (2.0 + 1e-8), 1e-14);
  assert_close(((double *)m->params)[7], 0.5 - 0.25 * 7 + 0.3 * 2.0 / (2.0 + 1e-8), 1e-14);
  ss_optim_free(&o);
  ss_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(backward_matches_finite_differences_every_option),
      cmocka_unit_test(zero_init_has_zero_dZ_and_nonzero_dY),
      cmocka_unit_test(reference_backward_matches_finite_differences),
      cmocka_unit_test(grouped_path_equals_general_path),
      cmocka_unit_test(float32_backward_matches_finite_differences),
      cmocka_unit_test(float32_gradients_are_float64_to_float_rounding),
      cmocka_unit_test(support_layout_equals_union_layout),
      cmocka_unit_test(sgd_first_step_is_plain_gradient_step),
      cmocka_unit_test(sgd_variants_match_torch_formulas),
      cmocka_unit_test(nesterov_without_momentum_is_rejected),
      cmocka_unit_test(adam_and_adamw_match_torch_formulas),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
