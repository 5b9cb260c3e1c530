/* JoMA's systems as runs (model.type=joma_linear|joma_toy through the trainer, as `scansnap
 * theory` runs them): metrics.csv, read with the CSV reader, holds exactly the rows of the
 * library's own run functions (ss_joma_linear_run, ss_joma_toy_run) at every recorded step,
 * bit for bit (the file writes %.17g, which reads back to the same double). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/csv.h"
#include "scansnap/io.h"
#include "scansnap/joma.h"
#include "scansnap/theory.h"
#include "ss_test.h"

static void set(ss_config *c, const char *kv) {
  ss_err e;
  if (ss_config_override(c, kv, &e)) fail_msg("%s: %s", kv, e.msg);
}

/* run cfg into dir/name with the trainer; metrics.csv into t */
static void run_into(const ss_config *c, const char *dir, const char *name, ss_csv *t) {
  char *d = ss_path_join(dir, name), *m = ss_path_join(d, "metrics.csv");
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.dir = d;
  o.command = "theory";
  ss_run_summary s;
  ss_err e;
  if (ss_theory_run_opts(c, &o, &s, &e)) fail_msg("%s: %s", name, e.msg);
  if (ss_csv_read(m, t, &e)) fail_msg("%s", e.msg);
  free(m);
  free(d);
}

static double cell(const ss_csv *t, int r, const char *col) {
  const int c = ss_csv_col(t, col);
  if (c < 0) fail_msg("metrics.csv has no column '%s'", col);
  char *end;
  const char *s = ss_csv_cell(t, r, c);
  const double v = strtod(s, &end);
  if (end == s || *end) fail_msg("'%s' in column %s is not a number", s, col);
  return v;
}

/* exactly equal, NaN equal to NaN */
static void same(double file, double lib, const char *col, long step) {
  if (!(file == lib || (isnan(file) && isnan(lib)))) fail_msg("step %ld, %s: metrics.csv %.17g, library %.17g", step, col, file, lib);
}

static void test_linear_run_rows_equal_the_library(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("joma-run-linear");
  static const char *const variants[2] = {"uniform", "gaussian"};
  for (int v = 0; v < 2; v++) {
    ss_config c;
    ss_err e;
    ss_config_defaults(&c);
    set(&c, "model.type=joma_linear");
    char kv[64];
    snprintf(kv, sizeof kv, "joma.variant=%s", variants[v]);
    set(&c, kv);
    set(&c, "niter=303");
    set(&c, "save_per_minibatch=10"); /* rows 0, 10, ..., 300 and the last step 303 */
    set(&c, "seed=3");
    assert_int_equal(ss_config_validate(&c, &e), SS_OK);
    ss_csv t;
    run_into(&c, dir, variants[v], &t);
    ss_joma_linear_opts o;
    assert_int_equal(ss_joma_linear_opts_from_config(&c, &o, &e), SS_OK);
    assert_int_equal(o.steps, 303);
    assert_int_equal(o.every, 10);
    assert_int_equal(o.variant, v == 0 ? SS_JOMA_UNIFORM : SS_JOMA_GAUSSIAN);
    const long n = ss_joma_nrows(o.steps, o.every);
    ss_joma_linear_row *rows = malloc(sizeof *rows * (size_t)n);
    assert_int_equal(ss_joma_linear_run(&o, rows, NULL, &e), SS_OK);
    assert_int_equal(t.nrows, n);
    for (long r = 0; r < n; r++) {
      const ss_joma_linear_row *w = &rows[r];
      assert_true(cell(&t, (int)r, "step") == (double)w->step);
      same(cell(&t, (int)r, "loss"), w->loss, "loss", w->step);
      same(cell(&t, (int)r, "acc"), w->acc, "acc", w->step);
      same(cell(&t, (int)r, "attn_entropy"), w->entropy, "attn_entropy", w->step);
      same(cell(&t, (int)r, "nc"), w->nc, "nc", w->step);
      same(cell(&t, (int)r, "nc_w"), w->nc_w, "nc_w", w->step);
      same(cell(&t, (int)r, "nc_x"), w->nc_x, "nc_x", w->step);
      same(cell(&t, (int)r, "rel_err"), w->rel_err, "rel_err", w->step);
      same(cell(&t, (int)r, "y_norm"), w->w_norm, "y_norm (||W||)", w->step);
      same(cell(&t, (int)r, "z_norm"), w->z_norm, "z_norm", w->step);
    }
    assert_true(rows[n - 1].step == 303);
    free(rows);
    ss_csv_free(&t);
  }
  free(dir);
}

static void test_toy_run_rows_equal_the_library(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("joma-run-toy");
  for (int given = 0; given < 2; given++) {
    ss_config c;
    ss_err e;
    ss_config_defaults(&c);
    set(&c, "model.type=joma_toy");
    set(&c, "niter=1207");
    set(&c, "save_per_minibatch=25");
    set(&c, "seed=5");
    if (given) set(&c, "joma.mu=4,1.5,3,2,2.5,1,3.5,1.25,2.75,3.25");
    assert_int_equal(ss_config_validate(&c, &e), SS_OK);
    ss_csv t;
    run_into(&c, dir, given ? "given" : "drawn", &t);
    double list[16], mu[16], v[16 * 64];
    ss_joma_toy_opts o;
    assert_int_equal(ss_joma_toy_opts_from_config(&c, &o, list, &e), SS_OK);
    assert_true(o.steps == 1207 && o.every == 25 && o.d == 10);
    const long n = ss_joma_nrows(o.steps, o.every);
    assert_true(n <= 64);
    ss_joma_toy_row rows[64];
    assert_int_equal(ss_joma_toy_run(&o, rows, v, mu, &e), SS_OK);
    if (given) assert_true(mu[0] == 4 && mu[5] == 1); /* in the order given */
    assert_int_equal(t.nrows, n);
    for (long r = 0; r < n; r++) {
      assert_true(cell(&t, (int)r, "step") == (double)rows[r].step);
      same(cell(&t, (int)r, "attn_entropy"), rows[r].entropy, "attn_entropy", rows[r].step);
      same(cell(&t, (int)r, "top"), rows[r].top, "top", rows[r].step);
      same(cell(&t, (int)r, "loss"), rows[r].dist, "loss (|mu - v|^2/2)", rows[r].step);
      for (int i = 0; i < o.d; i++) {
        char col[16];
        snprintf(col, sizeof col, "v%d", i);
        same(cell(&t, (int)r, col), v[r * o.d + i], col, rows[r].step);
      }
    }
    ss_csv_free(&t);
  }
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_run_rows_equal_the_library),
      cmocka_unit_test(test_toy_run_rows_equal_the_library),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
