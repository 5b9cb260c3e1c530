/* Every fast Y/Z kernel variant equals the reference (model.kernels=reference, yz_ref.c; its
 * own backward is checked against finite differences in test_yz_gradcheck.c): each kernel set
 * this CPU runs (x86-64-v4, x86-64-v3, baseline) x both precisions x every combination of
 * normalize / residual / include_base_token x the three layouts of a batch (rows without a
 * class: the per-sequence path; rows with classes: the grouped path on the union of a group's
 * keys, and on its class's support when the batch carries the table, one row straying from
 * it), on random batches and parameters: loss (of step and of eval), accuracy and every
 * gradient entry. float64 within 1e-12 relative; float32 within its rounding (the per-sequence
 * path always computes in float64 and is held to 1e-12 there too).
 *
 * The cases reach each branch of the kernels: groups of 1 to 20 rows (the 1-, 4- and 8-row
 * register blocks, and 2-row ones), rows of one to several 8-lane blocks, padded or not; keys counted densely
 * or by byte compares (AVX-512BW: M <= 255 and at most 1024 keys) in one, two or more
 * 64-key registers; supports found by scanning the M tokens or by first appearance;
 * per-group shares of dY kept or recomputed by blocks of rows (when they pass 16 MiB);
 * several threads on large batches (ctest runs with OMP_NUM_THREADS=2); a row whose keys all
 * lie hundreds of nats below its group's largest score (weighed from its own maximum); and a
 * vocabulary past 2048 (the per-sequence path's dY without per-chunk partial sums, done by yz.c
 * whatever the set: that case with the fastest set only; it and M = 300 with the default
 * options only, to keep the test short). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

typedef struct {
  const char *name;
  int M, T, B;
  int ncls;      /* classes: row i has class i % ncls */
  int nq;        /* queries per class: row i's query is one of nq, so groups of ~B / (ncls nq) rows */
  int width;     /* keys of class k drawn from tokens [k width, k width + width) (mod M), 0 = all M */
  double zscale; /* Z uniform in +-zscale (Y in +-1) */
  int far;       /* Z[m, .] of each query 400 lower on the upper half of its class's tokens, and
                  * every other row of a group keyed only there: weighed from its own maximum */
  int all_masks; /* every option mask (normalize = 4, residual = 2, base token = 1), else the
                  * defaults only (normalize) */
  int seq_only;  /* the per-sequence layout only */
} kcase;

static const kcase cases[] = {
    {"small", 9, 12, 13, 2, 3, 0, 1, 0, 1, 0},
    {"groups of 20", 37, 100, 40, 2, 1, 12, 1, 0, 1, 0},
    {"long rows", 70, 200, 12, 3, 2, 25, 1, 0, 1, 0},
    {"many keys", 40, 1100, 4, 2, 1, 20, 1, 0, 1, 0},
    {"M 300, threads", 300, 24, 48, 48, 1, 30, 1, 0, 0, 0},
    {"keys sorted by qsort", 400, 24, 60, 60, 1, 20, 1, 0, 0, 0}, /* 60 classes x M 400 group keys: past yz.c's counting sort */
    {"far keys", 34, 24, 16, 2, 1, 16, 1, 1, 1, 0},
    {"M 2050", 2050, 10, 2, 2, 1, 8, 0.3, 0, 0, 1},
};

enum { LAYOUT_SEQUENCES, LAYOUT_UNION, LAYOUT_SUPPORT, NLAYOUTS };
static const char *const layout_name[] = {"per-sequence", "grouped, union of keys", "grouped, class support"};

static int token(const kcase *c, int k, int j) { return c->width ? (k * c->width + j) % c->M : j; }

/* The class table: class k on its window of tokens (or all of them), uniform. */
static void make_classes(const kcase *c, ss_classes *cl) {
  memset(cl, 0, sizeof *cl);
  cl->M = c->M;
  cl->N = c->ncls;
  cl->prob = calloc((size_t)c->ncls * c->M, sizeof(double));
  const int w = c->width ? c->width : c->M;
  for (int k = 0; k < c->ncls; k++)
    for (int j = 0; j < w; j++) cl->prob[(size_t)k * c->M + token(c, k, j)] = 1.0 / w;
}

/* Row i: class i % ncls, one of nq queries, keys from the class's tokens (with far: every
 * other row of a group only from their upper half), a random label; with the support layout
 * row 1 strays (one key outside its class) so that its group falls back to the union. */
static void make_batch(const kcase *c, int layout, const ss_classes *cl, ss_batch *b) {
  ss_rng r;
  ss_rng_seed(&r, 77);
  const int w = c->width ? c->width : c->M;
  for (int i = 0; i < c->B; i++) {
    const int k = i % c->ncls, grow = i / c->ncls;
    int *x = b->x + (size_t)i * c->T;
    const int upper = c->far && grow % 2;
    for (int t = 0; t < c->T - 1; t++) {
      const int j = upper ? w / 2 + (int)ss_rng_below(&r, (uint64_t)(w - w / 2)) : (int)ss_rng_below(&r, (uint64_t)w);
      x[t] = token(c, k, j);
    }
    x[c->T - 1] = (k * 5 + 3 * (grow % c->nq)) % c->M;
    if (layout == LAYOUT_SUPPORT && i == 1 && c->width) x[0] = token(c, k, w);
    b->label[i] = (int)ss_rng_below(&r, (uint64_t)c->M);
    b->cls[i] = layout == LAYOUT_SEQUENCES ? -1 : k;
  }
  b->classes = layout == LAYOUT_SUPPORT ? cl : NULL;
}

static ss_model *new_model(const kcase *c, int mask, int f32, int kernels) {
  ss_yz_opts o = {c->M, (mask >> 2) & 1, (mask >> 1) & 1, mask & 1, 1, f32, kernels};
  ss_model *m = NULL;
  ss_err e;
  if (ss_yz_new(&o, NULL, &m, &e)) return NULL;
  return m;
}

/* Y uniform in +-1, Z in +-zscale; with far, Z[m, .] of every query 400 lower on the upper
 * half of each class's tokens */
static void set_params(const kcase *c, double *p) {
  ss_rng r;
  ss_rng_seed(&r, 4321);
  const size_t MM = (size_t)c->M * c->M;
  for (size_t i = 0; i < 2 * MM; i++) p[i] = (2.0 * ss_rng_uniform(&r) - 1.0) * (i < MM ? 1.0 : c->zscale);
  if (!c->far) return;
  const int w = c->width ? c->width : c->M;
  for (int m = 0; m < c->M; m++)
    for (int k = 0; k < c->ncls; k++)
      for (int j = w / 2; j < w; j++) p[MM + (size_t)m * c->M + token(c, k, j)] -= 400;
}

typedef struct {
  double loss, eval_loss, acc;
  double *g;
} result;

static void run(ss_model *m, const ss_batch *b, result *res) {
  ss_err e;
  double acc;
  assert_int_equal(m->ops->eval(m, b, &res->eval_loss, &acc, &e), SS_OK);
  assert_int_equal(m->ops->step(m, b, &res->loss, &res->acc, &e), SS_OK);
  assert_true(acc == res->acc);
  res->g = m->grads;
}

/* Worst |kernel - reference| over an [M, M] gradient block, relative to the largest reference
 * entry of the block; the largest must be well above rounding for the check to mean much. */
static double block_err(const double *g, const double *ref, size_t n, double *gmax) {
  double big = 0, d = 0;
  for (size_t i = 0; i < n; i++) big = fmax(big, fabs(ref[i]));
  for (size_t i = 0; i < n; i++) d = fmax(d, fabs(g[i] - ref[i]));
  *gmax = big;
  return big > 0 ? d / big : d;
}

static void every_kernel_variant_equals_the_reference(void **state) {
  (void)state;
  static const int sets[] = {SS_KERNELS_X86_64_V4, SS_KERNELS_X86_64_V3, SS_KERNELS_BASELINE};
  static const char *const set_name[] = {"x86-64-v4", "x86-64-v3", "baseline"};
  int ran[3] = {0, 0, 0};
  double worst[2] = {0, 0};
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const kcase *c = &cases[ci];
    ss_classes cl;
    make_classes(c, &cl);
    ss_batch b;
    ss_err e;
    assert_int_equal(ss_batch_alloc(&b, c->B, c->T, &e), SS_OK);
    for (int layout = 0; layout < (c->seq_only ? 1 : NLAYOUTS); layout++) {
      make_batch(c, layout, &cl, &b);
      for (int mask = c->all_masks ? 0 : 4; mask < (c->all_masks ? 8 : 5); mask++) {
        ss_model *ref = new_model(c, mask, 0, SS_KERNELS_REFERENCE);
        assert_non_null(ref);
        set_params(c, ref->params);
        result r;
        run(ref, &b, &r);
        const size_t MM = (size_t)c->M * c->M;
        int tested = 0;
        for (int s = 0; s < 3; s++)
          for (int f32 = 0; f32 < 2; f32++) {
            /* M 2050 tests the driver's dY without partial sums (yz.c, not a kernel): one set */
            if (c->seq_only && (f32 || tested)) continue;
            ss_model *m = new_model(c, mask, f32, sets[s]);
            if (!m) continue; /* this CPU does not run the set */
            tested = 1;
            ran[s] = 1;
            memcpy(m->params, ref->params, sizeof(double) * 2 * MM);
            result k;
            run(m, &b, &k);
            /* float32 only on the grouped path; elsewhere float64 */
            const int in_f32 = f32 && layout != LAYOUT_SEQUENCES;
            const double tol = in_f32 ? 2e-6 : 1e-12;
            double ymax, zmax;
            const double ey = block_err(k.g, r.g, MM, &ymax), ez = block_err(k.g + MM, r.g + MM, MM, &zmax);
            const double el = fabs(k.loss - r.loss) / fabs(r.loss), ee = fabs(k.eval_loss - r.eval_loss) / fabs(r.loss);
            worst[in_f32] = fmax(worst[in_f32], fmax(fmax(ey, ez), fmax(el, ee)));
            if (!(ey <= tol && ez <= tol && el <= tol && ee <= tol && k.acc == r.acc))
              fail_msg("%s, %s, mask %d, %s %s: loss %.17g vs reference %.17g (eval %.17g), acc %g vs %g, "
                       "max|dY - ref| %.3g of %.3g, max|dZ - ref| %.3g of %.3g (tolerance %.0e)",
                       c->name, layout_name[layout], mask, set_name[s], f32 ? "float32" : "float64", k.loss, r.loss,
                       k.eval_loss, k.acc, r.acc, ey, ymax, ez, zmax, tol);
            /* the gradient carries signal in both blocks (else the comparison proves little) */
            assert_true(ymax > 1e-4 && zmax > 1e-8);
            ss_model_free(m);
          }
        ss_model_free(ref);
      }
    }
    ss_batch_free(&b);
    free(cl.prob);
  }
  print_message("kernel sets run:%s%s%s; worst relative difference from the reference: float64 %.3g, float32 %.3g\n",
                ran[0] ? " x86-64-v4" : "", ran[1] ? " x86-64-v3" : "", ran[2] ? " baseline" : "", worst[0], worst[1]);
  assert_true(ran[2]); /* the baseline runs everywhere */
}

/* One model through successive batches whose queries change, with a per-sequence batch in
 * between: the gradients equal the reference's every time (the grouped path clears only the
 * rows of dZ it wrote the time before), and Z's row list (ss_param_group.rows) holds distinct
 * rows, with every row it does not list exactly +0. */
static void successive_batches_clear_dZ_and_list_its_rows(void **state) {
  (void)state;
  static const int sets[] = {SS_KERNELS_X86_64_V4, SS_KERNELS_X86_64_V3, SS_KERNELS_BASELINE};
  static const int pick[] = {1, 4}; /* groups of 20; M 300 on threads */
  static const struct {
    int layout, shift;
  } seq[] = {{LAYOUT_SUPPORT, 0}, {LAYOUT_SUPPORT, 7}, {LAYOUT_SEQUENCES, 3}, {LAYOUT_UNION, 1}, {LAYOUT_SUPPORT, 0}};
  int listed = 0;
  for (size_t pc = 0; pc < sizeof pick / sizeof pick[0]; pc++) {
    const kcase *c = &cases[pick[pc]];
    ss_classes cl;
    make_classes(c, &cl);
    ss_batch b;
    ss_err e;
    assert_int_equal(ss_batch_alloc(&b, c->B, c->T, &e), SS_OK);
    const size_t MM = (size_t)c->M * c->M;
    for (int s = 0; s < 3; s++)
      for (int f32 = 0; f32 < 2; f32++) {
        ss_model *m = new_model(c, 4, f32, sets[s]), *ref = new_model(c, 4, 0, SS_KERNELS_REFERENCE);
        if (!m) {
          ss_model_free(ref);
          continue;
        }
        set_params(c, ref->params);
        memcpy(m->params, ref->params, sizeof(double) * 2 * MM);
        for (size_t q = 0; q < sizeof seq / sizeof seq[0]; q++) {
          make_batch(c, seq[q].layout, &cl, &b);
          for (int i = 0; i < c->B; i++) b.x[(size_t)i * c->T + c->T - 1] = (b.x[(size_t)i * c->T + c->T - 1] + seq[q].shift) % c->M;
          result r, k;
          run(ref, &b, &r);
          run(m, &b, &k);
          const double tol = f32 && seq[q].layout != LAYOUT_SEQUENCES ? 2e-6 : 1e-12;
          double ymax, zmax;
          const double ey = block_err(k.g, r.g, MM, &ymax), ez = block_err(k.g + MM, r.g + MM, MM, &zmax);
          if (!(ey <= tol && ez <= tol))
            fail_msg("%s, %s, batch %zu (%s): max|dY - ref| %.3g, max|dZ - ref| %.3g (tolerance %.0e)", c->name,
                     f32 ? "float32" : "float64", q, layout_name[seq[q].layout], ey, ez, tol);
          const ss_param_group *Zg = &m->groups[1];
          if (seq[q].layout == LAYOUT_SEQUENCES) {
            assert_null(Zg->rows);
            continue;
          }
          assert_non_null(Zg->rows);
          assert_true(Zg->row_len == (size_t)c->M && Zg->nrows > 0);
          char *on = calloc((size_t)c->M, 1);
          for (int t = 0; t < Zg->nrows; t++) {
            assert_true(Zg->rows[t] >= 0 && Zg->rows[t] < c->M && !on[Zg->rows[t]]);
            on[Zg->rows[t]] = 1;
          }
          static const double zero = 0.0;
          for (int row = 0; row < c->M; row++)
            if (!on[row])
              for (int j = 0; j < c->M; j++)
                if (memcmp(&k.g[MM + (size_t)row * c->M + j], &zero, sizeof zero))
                  fail_msg("%s, batch %zu: dZ[%d, %d] = %g is not +0 but row %d is not listed", c->name, q, row, j,
                           k.g[MM + (size_t)row * c->M + j], row);
          free(on);
          listed++;
        }
        ss_model_free(m);
        ss_model_free(ref);
      }
    ss_batch_free(&b);
    free(cl.prob);
  }
  assert_true(listed > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_kernel_variant_equals_the_reference),
      cmocka_unit_test(successive_batches_clear_dZ_and_list_its_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
