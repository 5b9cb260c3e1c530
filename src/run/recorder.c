/* Metrics rows of a run, and the files they go to (metrics.csv, metrics.jsonl,
 * dynamics.safetensors). Layout of dynamics.safetensors:
 *   steps  I64 [S]        step of each save
 *   c      F64 [S, N, M]  c_n[l] at each save
 *   query  I32 [N], next I32 [N], prob F64 [N, M]   the class table, so the file stands alone */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/run.h"

int ss_recorder_init(ss_recorder *r, const ss_classes *cl, ss_err *err) {
  (void)err;
  memset(r, 0, sizeof *r);
  r->cl = cl;
  return SS_OK;
}

int ss_recorder_add_column(ss_recorder *r, const char *name) {
  if (r->nextra >= SS_MAX_EXTRA) return -1;
  snprintf(r->extra_names[r->nextra], sizeof r->extra_names[0], "%s", name);
  return r->nextra++;
}

void ss_recorder_free(ss_recorder *r) {
  free(r->rows);
  free(r->c);
  free(r->per);
  memset(r, 0, sizeof *r);
}

int ss_recorder_add(ss_recorder *r, long long step, double loss, double acc, const double *c, double y_norm,
                    double z_norm, const double *extra, ss_err *err) {
  size_t NM = (size_t)r->cl->N * r->cl->M;
  if (r->nrows == r->cap) {
    int nc = r->cap ? r->cap * 2 : 64;
    ss_row *nr = realloc(r->rows, sizeof(ss_row) * (size_t)nc);
    if (nr) r->rows = nr;
    /* (x ? x : 1): a run without classes (N = 0, real text) still gets non-empty blocks */
    double *ncc = realloc(r->c, sizeof(double) * (NM ? NM : 1) * (size_t)nc);
    if (ncc) r->c = ncc;
    ss_class_metrics *np = realloc(r->per, sizeof(ss_class_metrics) * (size_t)(r->cl->N ? r->cl->N : 1) * (size_t)nc);
    if (np) r->per = np;
    if (!nr || !ncc || !np) return ss_seterr(err, SS_ERUN, "out of memory recording metrics");
    r->cap = nc;
  }
  ss_row *row = &r->rows[r->nrows];
  memset(row, 0, sizeof *row);
  row->step = step;
  row->loss = loss;
  row->acc = acc;
  row->y_norm = y_norm;
  row->z_norm = z_norm;
  if (extra)
    for (int i = 0; i < r->nextra; i++) row->extra[i] = extra[i];
  memcpy(r->c + NM * (size_t)r->nrows, c, sizeof(double) * NM);
  ss_metrics_all(r->cl, c, r->per + (size_t)r->cl->N * r->nrows, &row->avg);
  if (r->cl->N == 0) /* no classes (real text): the class metrics are not defined */
    row->avg.entropy = row->avg.entropy_distinct = row->avg.common_mass = row->avg.distinct_mass = row->avg.kendall_tau = NAN;
  r->nrows++;
  return SS_OK;
}

static void put_num(FILE *f, double v, int json) {
  if (isfinite(v))
    fprintf(f, "%.17g", v);
  else
    fputs(json ? "null" : (isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"), f);
}

int ss_recorder_write(const ss_recorder *r, const char *dir, ss_err *err) {
  const int N = r->cl->N, M = r->cl->M;
  char *p = ss_path_join(dir, "metrics.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  fputs(SS_METRIC_COLUMNS, a.f);
  for (int k = 0; k < r->nextra; k++) fprintf(a.f, ",%s", r->extra_names[k]);
  fputc('\n', a.f);
  for (int i = 0; i < r->nrows; i++) {
    const ss_row *w = &r->rows[i];
    double v[] = {w->loss, w->acc, w->avg.entropy, w->avg.entropy_distinct, w->avg.common_mass,
                  w->avg.distinct_mass, w->avg.kendall_tau, w->y_norm, w->z_norm};
    fprintf(a.f, "%lld", w->step);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
      fputc(',', a.f);
      put_num(a.f, v[k], 0);
    }
    for (int k = 0; k < r->nextra; k++) {
      fputc(',', a.f);
      put_num(a.f, w->extra[k], 0);
    }
    fputc('\n', a.f);
  }
  if ((rc = ss_afile_commit(&a, err))) return rc;

  p = ss_path_join(dir, "metrics.jsonl");
  rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  static const char *names[] = {"loss", "acc", "entropy", "entropy_distinct", "common_mass", "distinct_mass", "kendall_tau", "y_norm", "z_norm"};
  for (int i = 0; i < r->nrows; i++) {
    const ss_row *w = &r->rows[i];
    double v[] = {w->loss, w->acc, w->avg.entropy, w->avg.entropy_distinct, w->avg.common_mass,
                  w->avg.distinct_mass, w->avg.kendall_tau, w->y_norm, w->z_norm};
    fprintf(a.f, "{\"step\": %lld", w->step);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
      fprintf(a.f, ", \"%s\": ", names[k]);
      put_num(a.f, v[k], 1);
    }
    for (int k = 0; k < r->nextra; k++) {
      fprintf(a.f, ", \"%s\": ", r->extra_names[k]);
      put_num(a.f, w->extra[k], 1);
    }
    /* per-class values */
    const ss_class_metrics *pc = r->per + (size_t)N * i;
    const char *pn[] = {"class_entropy", "class_entropy_distinct", "class_common_mass", "class_kendall_tau"};
    for (int q = 0; q < 4; q++) {
      fprintf(a.f, ", \"%s\": [", pn[q]);
      for (int n = 0; n < N; n++) {
        double x = q == 0 ? pc[n].entropy : q == 1 ? pc[n].entropy_distinct : q == 2 ? pc[n].common_mass : pc[n].kendall_tau;
        if (n) fputs(", ", a.f);
        put_num(a.f, x, 1);
      }
      fputc(']', a.f);
    }
    fputs("}\n", a.f);
  }
  if ((rc = ss_afile_commit(&a, err))) return rc;

  int64_t *steps = malloc(sizeof(int64_t) * (size_t)(r->nrows ? r->nrows : 1));
  int32_t *q = malloc(sizeof(int32_t) * (size_t)N), *nx = malloc(sizeof(int32_t) * (size_t)N);
  if (!steps || !q || !nx) {
    free(steps); free(q); free(nx);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  for (int i = 0; i < r->nrows; i++) steps[i] = r->rows[i].step;
  for (int n = 0; n < N; n++) {
    q[n] = r->cl->query[n];
    nx[n] = r->cl->next[n];
  }
  ss_tensor t[] = {
      {"steps", SS_I64, 1, {r->nrows}, steps},
      {"c", SS_F64, 3, {r->nrows, N, M}, r->c},
      {"query", SS_I32, 1, {N}, q},
      {"next", SS_I32, 1, {N}, nx},
      {"prob", SS_F64, 2, {N, M}, r->cl->prob},
  };
  const char *meta[] = {"format", "scansnap-dynamics-1", NULL};
  p = ss_path_join(dir, "dynamics.safetensors");
  rc = ss_safetensors_write(p, t, 5, meta, err);
  free(p);
  free(steps);
  free(q);
  free(nx);
  return rc;
}
