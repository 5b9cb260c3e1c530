/* The paper's Figure-4 run end to end (SPEC §1, §3), through the library with the built-in
 * defaults: it finishes, run.json says complete, the files exist and load with
 * ss_safetensors_read, metrics.csv has the rows 0,2,...,100 with the agreed columns, and the
 * claims hold: attention mass on common tokens falls from start to end, the mean Kendall tau
 * over distinct tokens ends above 0.8, and the final average entropy of c_n is in
 * [2.70, 2.80] (PyTorch 2.75, population limit 2.78). The recorded numbers are also
 * recomputed here from the saved tensors (c_n from the checkpoint's Z, entropy and Kendall
 * tau-b from c_n), so the files agree with each other. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

enum { NROWS = 51, NCOL = 10 };

/* metrics.csv into rows[r][col]; returns the number of rows; checks the header. */
static int read_csv(const char *dir, double rows[][NCOL], int cap) {
  char *p = ss_path_join(dir, "metrics.csv"), *buf;
  size_t n;
  ss_err e;
  assert_int_equal(ss_read_file(p, &buf, &n, &e), SS_OK);
  free(p);
  char *save, *line = strtok_r(buf, "\n", &save);
  assert_non_null(line);
  assert_string_equal(line, SS_METRIC_COLUMNS);
  int r = 0;
  while ((line = strtok_r(NULL, "\n", &save))) {
    assert_true(r < cap);
    char *q = line;
    for (int c = 0; c < NCOL; c++) {
      char *end;
      rows[r][c] = strtod(q, &end);
      assert_true(end != q);
      q = *end == ',' ? end + 1 : end;
    }
    r++;
  }
  free(buf);
  return r;
}

static double entropy(const double *p, int n) {
  double h = 0;
  for (int i = 0; i < n; i++)
    if (p[i] > 0) h -= p[i] * log(p[i]);
  return h;
}

/* Kendall tau-b, O(n^2), written independently of src/train/metrics.c. */
static double tau_b(const double *a, const double *b, int n) {
  double conc = 0, disc = 0, ta = 0, tb = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) {
        ta++;
        continue;
      }
      if (db == 0) {
        tb++;
        continue;
      }
      if (da * db > 0)
        conc++;
      else
        disc++;
    }
  double den = sqrt((conc + disc + ta) * (conc + disc + tb));
  return den > 0 ? (conc - disc) / den : 0;
}

static void figure4_run_scans_and_snaps(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("fig4");
  char *run = ss_path_join(dir, "run");
  ss_config cfg;
  ss_err e = {0};
  ss_config_defaults(&cfg);
  assert_int_equal(ss_config_validate(&cfg, &e), SS_OK);
  ss_run_summary s;
  int rc = ss_train(&cfg, run, &s, &e);
  if (rc) fail_msg("ss_train: %s", e.msg);
  assert_int_equal(s.M, 34);
  assert_int_equal(s.N, 2);
  assert_int_equal(s.rows, NROWS);
  print_message("entropy %.4f -> %.4f, common mass %.4f -> %.4f, tau %.3f, %.4f s compute\n", s.start.entropy,
                s.end.entropy, s.start.common_mass, s.end.common_mass, s.end.kendall_tau, s.train_seconds);

  /* run.json */
  char *p = ss_path_join(run, "run.json");
  json_error_t je;
  json_t *rj = json_load_file(p, 0, &je);
  free(p);
  assert_non_null(rj);
  assert_string_equal(json_string_value(json_object_get(rj, "status")), "complete");
  json_decref(rj);
  const char *files[] = {"config.yaml", "classes.json", "metrics.csv", "metrics.jsonl", "dynamics.safetensors",
                         "checkpoint.safetensors"};
  for (int i = 0; i < 6; i++) {
    p = ss_path_join(run, files[i]);
    if (!ss_file_exists(p)) fail_msg("%s missing", files[i]);
    free(p);
  }

  /* metrics.csv: steps 0, 2, ..., 100 */
  static double rows[NROWS + 8][NCOL];
  int nr = read_csv(run, rows, NROWS + 8);
  assert_int_equal(nr, NROWS);
  for (int r = 0; r < nr; r++) assert_true(rows[r][0] == 2.0 * r);
  const double *first = rows[0], *last = rows[nr - 1];
  /* columns: step,loss,acc,entropy,entropy_distinct,common_mass,distinct_mass,kendall_tau,y_norm,z_norm */
  /* step 0 is zero init: c_n = P(.|n), common mass 10 / (10 + sum linspace(0.1, 1, 10)) = 10/15.5 */
  assert_true(fabs(first[5] - 10.0 / 15.5) < 1e-12);
  assert_true(first[9] == 0 && first[8] == 0);
  /* the claims */
  assert_true(last[5] < first[5] - 0.1);
  assert_true(last[6] > first[6] + 0.1);
  assert_true(last[7] > 0.8);
  assert_true(last[3] >= 2.70 && last[3] <= 2.80);
  assert_true(last[1] < first[1]);

  /* dynamics.safetensors */
  ss_stfile dy, ck;
  p = ss_path_join(run, "dynamics.safetensors");
  if (ss_safetensors_read(p, &dy, &e)) fail_msg("%s", e.msg);
  free(p);
  const ss_tensor *steps = ss_st_get(&dy, "steps"), *c = ss_st_get(&dy, "c"), *prob = ss_st_get(&dy, "prob");
  assert_non_null(steps);
  assert_non_null(c);
  assert_non_null(prob);
  assert_int_equal(steps->dtype, SS_I64);
  assert_int_equal(steps->shape[0], NROWS);
  for (int r = 0; r < NROWS; r++) assert_int_equal(((int64_t *)steps->data)[r], 2 * r);
  assert_int_equal(c->dtype, SS_F64);
  assert_int_equal(c->ndim, 3);
  assert_int_equal(c->shape[0], NROWS);
  assert_int_equal(c->shape[1], 2);
  assert_int_equal(c->shape[2], 34);
  const double *C = c->data, *P = prob->data;
  for (int r = 0; r < NROWS; r++) {
    double h = 0;
    for (int n = 0; n < 2; n++) {
      const double *cn = C + ((size_t)r * 2 + n) * 34;
      double sum = 0;
      for (int l = 0; l < 34; l++) sum += cn[l];
      assert_true(fabs(sum - 1) < 1e-12);
      h += entropy(cn, 34) / 2;
    }
    assert_true(fabs(h - rows[r][3]) < 1e-12);
  }
  /* Kendall tau over distinct tokens (class n's block 10 + 10n .. 10 + 10n + 9), last row */
  double tau = 0;
  for (int n = 0; n < 2; n++) {
    double pa[10], ra[10];
    const double *cn = C + ((size_t)(NROWS - 1) * 2 + n) * 34;
    for (int i = 0; i < 10; i++) {
      int l = 10 + 10 * n + i;
      pa[i] = P[n * 34 + l];
      ra[i] = cn[l] / pa[i];
    }
    tau += tau_b(pa, ra, 10) / 2;
  }
  assert_true(fabs(tau - last[7]) < 1e-12);

  /* checkpoint.safetensors: Z reproduces the last c_n; Y/Z norms match the last row */
  p = ss_path_join(run, "checkpoint.safetensors");
  if (ss_safetensors_read(p, &ck, &e)) fail_msg("%s", e.msg);
  free(p);
  const ss_tensor *Y = ss_st_get(&ck, "Y"), *Z = ss_st_get(&ck, "Z"), *st = ss_st_get(&ck, "step"),
                  *rng = ss_st_get(&ck, "rng");
  assert_non_null(Y);
  assert_non_null(Z);
  assert_non_null(st);
  assert_non_null(rng);
  assert_int_equal(Z->shape[0], 34);
  assert_int_equal(Z->shape[1], 34);
  assert_int_equal(((int64_t *)st->data)[0], 100);
  double zn = 0, yn = 0;
  for (int i = 0; i < 34 * 34; i++) {
    zn += ((double *)Z->data)[i] * ((double *)Z->data)[i];
    yn += ((double *)Y->data)[i] * ((double *)Y->data)[i];
  }
  assert_true(fabs(sqrt(zn) - last[9]) < 1e-9 * last[9]);
  assert_true(fabs(sqrt(yn) - last[8]) < 1e-9 * last[8]);
  for (int n = 0; n < 2; n++) {
    const double *Zm = (double *)Z->data + (size_t)(30 + n) * 34; /* query tokens are 30, 31 */
    double den = 0, cn[34];
    for (int l = 0; l < 34; l++) den += cn[l] = P[n * 34 + l] * exp(Zm[l]);
    for (int l = 0; l < 34; l++)
      assert_true(fabs(cn[l] / den - C[((size_t)(NROWS - 1) * 2 + n) * 34 + l]) < 1e-12);
  }
  ss_st_free(&dy);
  ss_st_free(&ck);

  /* metrics.jsonl: one object per row, same numbers */
  p = ss_path_join(run, "metrics.jsonl");
  FILE *f = fopen(p, "r");
  free(p);
  char line[8192];
  int k = 0;
  while (fgets(line, sizeof line, f)) {
    json_t *o = json_loads(line, 0, &je);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "step")), 2 * k);
    assert_true(json_number_value(json_object_get(o, "entropy")) == rows[k][3]);
    json_decref(o);
    k++;
  }
  fclose(f);
  assert_int_equal(k, NROWS);

  /* a second run into the same directory is refused (no overwrite of a finished run) */
  ss_run_summary s2;
  assert_int_equal(ss_train(&cfg, run, &s2, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "already holds a run"));
  free(run);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(figure4_run_scans_and_snaps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
