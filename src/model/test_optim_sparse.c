/* Row-sparse gradients (ss_param_group.row_len / rows): the optimizer, which then leaves alone
 * the rows whose gradient and momentum are +0, gives the same bits as the dense update of
 * every row, for every SGD variant (momentum or none, dampening, Nesterov, the first step)
 * and when it falls back to dense (weight decay, Adam); parameters that are -0, momentum
 * written from outside (a loaded checkpoint, ss_optim_loaded) with a -0 in a row the
 * gradients never list, and rows listed once and then never again are all covered; the finite
 * check finds a NaN or Inf in a listed row and names it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

enum { R = 40, L = 13, DENSE = 50 }; /* group 1: R rows of L; group 0: DENSE entries */

static ss_model *new_model(void) {
  ss_model *m = calloc(1, sizeof *m);
  assert_non_null(m);
  m->dtype = SS_F64;
  m->nparams = DENSE + R * L;
  m->params = calloc(m->nparams, sizeof(double));
  m->grads = calloc(m->nparams, sizeof(double));
  assert_true(m->params && m->grads);
  m->ngroups = 2;
  m->groups[0] = (ss_param_group){.name = "A", .offset = 0, .count = DENSE, .lr = 0.3};
  m->groups[1] = (ss_param_group){.name = "B", .offset = DENSE, .count = R * L, .lr = 0.7};
  m->ntensors = 2;
  m->tensors[0] = (ss_tensor){"A", SS_F64, 1, {DENSE}, m->params};
  m->tensors[1] = (ss_tensor){"B", SS_F64, 2, {R, L}, (double *)m->params + DENSE};
  return m;
}

static void free_model(ss_model *m) {
  free(m->params);
  free(m->grads);
  free(m);
}

typedef struct {
  const char *name;
  const char *keys[8]; /* key, value, ... */
  int sparse;          /* the optimizer may skip rows (else it must fall back to dense) */
} ocase;

static const ocase cases[] = {
    {"sgd momentum 0.9", {"opt.method", "sgd", "opt.momentum", "0.9", NULL}, 1},
    {"sgd no momentum", {"opt.method", "sgd", "opt.momentum", "0", NULL}, 1},
    {"sgd dampening 0.3", {"opt.method", "sgd", "opt.momentum", "0.5", "opt.dampening", "0.3", NULL}, 1},
    {"sgd nesterov", {"opt.method", "sgd", "opt.momentum", "0.8", "opt.nesterov", "true", NULL}, 1},
    {"sgd weight decay (dense)", {"opt.method", "sgd", "opt.momentum", "0.9", "opt.wd", "0.01", NULL}, 0},
    {"adam (dense)", {"opt.method", "adam", NULL}, 0},
};

/* Step s's gradients: group 0 dense; group 1 on a few rows (listed in rows), +0 elsewhere;
 * rows 0 .. 4 are listed only in the first steps, row 7 never. */
static int make_grads(ss_model *m, ss_rng *r, int s, int *rows) {
  double *g = m->grads;
  memset(g, 0, sizeof(double) * m->nparams);
  for (int i = 0; i < DENSE; i++) g[i] = ss_rng_normal(r);
  int n = 0;
  for (int row = 0; row < R; row++) {
    if (row == 7 || (row < 5 && s > 2)) continue;
    if (ss_rng_uniform(r) < 0.2 || (s == 0 && row < 5)) {
      rows[n++] = row;
      for (int j = 0; j < L; j++) g[DENSE + row * L + j] = ss_rng_normal(r) * (j == 3 ? 0.0 : 1.0);
    }
  }
  return n;
}

static void same_bits(const ss_model *a, const ss_model *b, const ss_optim *oa, const ss_optim *ob, const char *what, int s) {
  if (memcmp(a->params, b->params, sizeof(double) * a->nparams) || memcmp(oa->m1, ob->m1, sizeof(double) * a->nparams) ||
      (oa->m2 && memcmp(oa->m2, ob->m2, sizeof(double) * a->nparams)))
    fail_msg("%s: row-sparse and dense updates differ after step %d", what, s);
}

static void sparse_updates_equal_dense_ones(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ss_config cfg;
    ss_err e;
    ss_config_defaults(&cfg);
    for (int k = 0; cases[c].keys[k]; k += 2) assert_int_equal(ss_config_set(&cfg, cases[c].keys[k], cases[c].keys[k + 1], &e), SS_OK);
    assert_int_equal(ss_config_validate(&cfg, &e), SS_OK);
    ss_model *d = new_model(), *sp = new_model();
    ss_optim od, os;
    assert_int_equal(ss_optim_init(&od, &cfg, d, &e), SS_OK);
    assert_int_equal(ss_optim_init(&os, &cfg, sp, &e), SS_OK);
    ss_rng r;
    ss_rng_seed(&r, 11 + c);
    double *p = d->params;
    for (size_t i = 0; i < d->nparams; i++) p[i] = ss_rng_normal(&r);
    p[DENSE + 7 * L + 2] = -0.0; /* a -0 in a row never listed, and one in a listed row */
    p[DENSE + 9 * L + 1] = -0.0;
    memcpy(sp->params, d->params, sizeof(double) * d->nparams);
    int rows[R], skipped = 0;
    for (int s = 0; s < 25; s++) {
      ss_rng_seed(&r, 1000 + s);
      make_grads(d, &r, s, rows);
      ss_rng_seed(&r, 1000 + s);
      const int n = make_grads(sp, &r, s, rows);
      sp->groups[1].row_len = L;
      sp->groups[1].rows = rows;
      sp->groups[1].nrows = n;
      ss_optim_step(&od, d, 1.0);
      ss_optim_step(&os, sp, 1.0);
      same_bits(d, sp, &od, &os, cases[c].name, s);
      if (s == 1 && os.live[1]) /* the test means something only if rows were left alone */
        for (int row = 0; row < R; row++) skipped += !os.live[1][row];
      if (s == 12) {
        /* momentum written from outside, as a checkpoint load does: row 7 gets a -0 */
        ((double *)od.m1)[DENSE + 7 * L + 5] = -0.0;
        ((double *)os.m1)[DENSE + 7 * L + 5] = -0.0;
        ss_optim_loaded(&os);
      }
    }
    assert_true(signbit(((double *)sp->params)[DENSE + 7 * L + 2]));
    if (cases[c].sparse) assert_true(skipped > 0);
    else assert_null(os.live[1]);
    print_message("%s: same bits over 25 steps (%d rows of %d left alone at step 1)\n", cases[c].name, skipped, R);
    ss_optim_free(&od);
    ss_optim_free(&os);
    free_model(d);
    free_model(sp);
  }
}

static void finite_check_reads_the_listed_rows(void **state) {
  (void)state;
  ss_model *m = new_model();
  int rows[3] = {4, 17, 39};
  m->groups[1].row_len = L;
  m->groups[1].rows = rows;
  m->groups[1].nrows = 3;
  char where[128];
  assert_int_equal(ss_model_find_nonfinite(m, 1, where, sizeof where), 0);
  const double bad[] = {NAN, INFINITY, -INFINITY};
  for (int k = 0; k < 3; k++)
    for (int b = 0; b < 3; b++) {
      double *g = (double *)m->grads + DENSE + (size_t)rows[k] * L + (k * 5 + b) % L;
      *g = bad[b];
      assert_int_equal(ss_model_find_nonfinite(m, 1, where, sizeof where), 1);
      char want[64];
      snprintf(want, sizeof want, "grad of B[%d]", rows[k] * L + (k * 5 + b) % L);
      assert_string_equal(where, want);
      *g = 0;
    }
  /* the dense group is read whole */
  ((double *)m->grads)[DENSE - 1] = NAN;
  assert_int_equal(ss_model_find_nonfinite(m, 1, where, sizeof where), 1);
  assert_string_equal(where, "grad of A[49]");
  free_model(m);
}

/* ss_optim_step says whether a parameter it wrote is Inf or NaN (SGD checks as it writes,
 * dense or row-sparse); Adam leaves the check to the caller (1). */
static void sgd_step_reports_what_it_wrote(void **state) {
  (void)state;
  const char *methods[] = {"sgd", "adam"};
  for (int mi = 0; mi < 2; mi++)
    for (int sparse = 0; sparse < 2; sparse++) {
      ss_config cfg;
      ss_err e;
      ss_config_defaults(&cfg);
      assert_int_equal(ss_config_set(&cfg, "opt.method", methods[mi], &e), SS_OK);
      assert_int_equal(ss_config_validate(&cfg, &e), SS_OK);
      ss_model *m = new_model();
      ss_optim o;
      assert_int_equal(ss_optim_init(&o, &cfg, m, &e), SS_OK);
      int rows[2] = {3, 30};
      if (sparse) {
        m->groups[1].row_len = L;
        m->groups[1].rows = rows;
        m->groups[1].nrows = 2;
      }
      double *g = m->grads;
      for (int i = 0; i < DENSE; i++) g[i] = 0.5;
      g[DENSE + 3 * L + 1] = 2;
      const int want_clean = mi == 0;
      assert_int_equal(ss_optim_step(&o, m, 1.0), !want_clean);
      /* an overflowing update in a listed row of B, then in the dense group A */
      g[DENSE + 30 * L + 4] = 1e308;
      m->groups[1].lr = 1e10;
      assert_int_equal(ss_optim_step(&o, m, 1.0), 1);
      g[DENSE + 30 * L + 4] = 0;
      ((double *)o.m1)[DENSE + 30 * L + 4] = 0;
      ((double *)m->params)[DENSE + 30 * L + 4] = 0;
      m->groups[1].lr = 0.7;
      g[7] = INFINITY;
      assert_int_equal(ss_optim_step(&o, m, 1.0), 1);
      ss_optim_free(&o);
      free_model(m);
    }
}

/* ss_model_norms01 (both chains in one pass) has the bits of ss_model_group_norm, for groups of
 * unequal sizes either way round. */
static void norms_in_one_pass_equal_the_group_norms(void **state) {
  (void)state;
  ss_model *m = new_model();
  ss_rng r;
  ss_rng_seed(&r, 3);
  double *p = m->params;
  for (size_t i = 0; i < m->nparams; i++) p[i] = ss_rng_normal(&r) * (i % 3 ? 1 : 1e-3);
  for (int swap = 0; swap < 2; swap++) {
    if (swap) {
      const ss_param_group t = m->groups[0];
      m->groups[0] = m->groups[1];
      m->groups[1] = t;
    }
    double a, b;
    ss_model_norms01(m, &a, &b);
    const double ga = ss_model_group_norm(m, 0), gb = ss_model_group_norm(m, 1);
    assert_memory_equal(&a, &ga, sizeof a);
    assert_memory_equal(&b, &gb, sizeof b);
    assert_true(a > 0 && b > 0);
  }
  free_model(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sparse_updates_equal_dense_ones),
      cmocka_unit_test(finite_check_reads_the_listed_rows),
      cmocka_unit_test(sgd_step_reports_what_it_wrote),
      cmocka_unit_test(norms_in_one_pass_equal_the_group_norms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
