/* Comparing two runs (training or theory) over the save steps they share: c_n from
 * dynamics.safetensors, scalars from metrics.csv. Definitions in include/scansnap/run.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/run.h"

typedef struct {
  int ncol, nrow;
  char names[SS_CMP_MAX_SCALARS + 1][48];
  double *v; /* [nrow, ncol]; column 0 is step */
} csv_t;

static int read_csv(const char *dir, csv_t *t, ss_err *err) {
  memset(t, 0, sizeof *t);
  char *p = ss_path_join(dir, "metrics.csv"), *data;
  size_t n;
  int rc = ss_read_file(p, &data, &n, err);
  free(p);
  if (rc) return ss_seterr(err, SS_EINPUT, "run '%s': %s", dir, err->msg);
  char *save = NULL, *line = strtok_r(data, "\n", &save);
  if (!line || strncmp(line, "step,", 5)) {
    free(data);
    return ss_seterr(err, SS_EINPUT, "run '%s': metrics.csv does not start with a 'step,...' header", dir);
  }
  char *s2 = NULL;
  for (char *tok = strtok_r(line, ",", &s2); tok && t->ncol <= SS_CMP_MAX_SCALARS; tok = strtok_r(NULL, ",", &s2))
    snprintf(t->names[t->ncol++], sizeof t->names[0], "%s", tok);
  int cap = 64;
  t->v = malloc(sizeof(double) * (size_t)cap * t->ncol);
  while (t->v && (line = strtok_r(NULL, "\n", &save))) {
    if (t->nrow == cap) {
      cap *= 2;
      double *nv = realloc(t->v, sizeof(double) * (size_t)cap * t->ncol);
      if (!nv) break;
      t->v = nv;
    }
    char *q = line;
    for (int k = 0; k < t->ncol; k++) {
      char *end;
      t->v[(size_t)t->nrow * t->ncol + k] = strtod(q, &end);
      if (end == q) {
        free(data);
        free(t->v);
        return ss_seterr(err, SS_EINPUT, "run '%s': metrics.csv row %d has too few columns", dir, t->nrow + 2);
      }
      q = *end == ',' ? end + 1 : end;
    }
    t->nrow++;
  }
  free(data);
  if (!t->v) return ss_seterr(err, SS_ERUN, "out of memory");
  return SS_OK;
}

typedef struct {
  ss_stfile f;
  const ss_tensor *steps, *c;
} dyn_t;

static int read_dyn(const char *dir, dyn_t *d, ss_err *err) {
  char *p = ss_path_join(dir, "dynamics.safetensors");
  int rc = ss_safetensors_read(p, &d->f, err);
  free(p);
  if (rc) return ss_seterr(err, SS_EINPUT, "run '%s': %s", dir, err->msg);
  d->steps = ss_st_get(&d->f, "steps");
  d->c = ss_st_get(&d->f, "c");
  if (!d->steps || !d->c || d->steps->dtype != SS_I64 || d->c->dtype != SS_F64 || d->c->ndim != 3 ||
      d->c->shape[0] != d->steps->shape[0]) {
    ss_st_free(&d->f);
    return ss_seterr(err, SS_EINPUT, "run '%s': dynamics.safetensors lacks steps I64 [S] and c F64 [S, N, M]", dir);
  }
  return SS_OK;
}

void ss_compare_free(ss_compare *c) {
  free(c->cls_max);
  free(c->cls_mean);
  c->cls_max = c->cls_mean = NULL;
}

int ss_compare_runs(const char *dir_a, const char *dir_b, long long max_step, ss_compare *out, ss_err *err) {
  memset(out, 0, sizeof *out);
  dyn_t a, b;
  int rc = read_dyn(dir_a, &a, err);
  if (rc) return rc;
  if ((rc = read_dyn(dir_b, &b, err))) {
    ss_st_free(&a.f);
    return rc;
  }
  csv_t ca, cb;
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  const int N = (int)a.c->shape[1], M = (int)a.c->shape[2];
  if (b.c->shape[1] != N || b.c->shape[2] != M) {
    rc = ss_seterr(err, SS_EINPUT, "runs '%s' (N = %d, M = %d) and '%s' (N = %lld, M = %lld) have different class tables", dir_a, N, M,
                   dir_b, (long long)b.c->shape[1], (long long)b.c->shape[2]);
    goto out;
  }
  if ((rc = read_csv(dir_a, &ca, err)) || (rc = read_csv(dir_b, &cb, err))) goto out;
  out->N = N;
  out->M = M;
  out->cls_max = calloc((size_t)N, sizeof(double));
  out->cls_mean = calloc((size_t)N, sizeof(double));
  if (!out->cls_max || !out->cls_mean) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
    goto out;
  }
  /* scalar columns both runs have (not step) */
  int colA[SS_CMP_MAX_SCALARS], colB[SS_CMP_MAX_SCALARS];
  for (int i = 1; i < ca.ncol && out->nscalar < SS_CMP_MAX_SCALARS; i++)
    for (int j = 1; j < cb.ncol; j++)
      if (!strcmp(ca.names[i], cb.names[j])) {
        snprintf(out->scalar[out->nscalar].name, sizeof out->scalar[0].name, "%s", ca.names[i]);
        colA[out->nscalar] = i;
        colB[out->nscalar] = j;
        out->nscalar++;
        break;
      }
  const int64_t *sa = a.steps->data, *sb = b.steps->data;
  const double *xa = a.c->data, *xb = b.c->data;
  const size_t NM = (size_t)N * M;
  int i = 0, j = 0, ra = 0, rb = 0;
  while (i < a.steps->shape[0] && j < b.steps->shape[0]) {
    if (sa[i] < sb[j]) { i++; continue; }
    if (sb[j] < sa[i]) { j++; continue; }
    if (max_step >= 0 && sa[i] > max_step) break;
    if (out->nshared == 0) out->first = sa[i];
    out->last = sa[i];
    out->nshared++;
    for (int n = 0; n < N; n++) {
      double d = 0;
      for (int l = 0; l < M; l++) d = fmax(d, fabs(xa[NM * i + (size_t)n * M + l] - xb[NM * j + (size_t)n * M + l]));
      out->cls_max[n] = fmax(out->cls_max[n], d);
      out->cls_mean[n] += d;
    }
    /* the csv rows of the same step */
    while (ra < ca.nrow && ca.v[(size_t)ra * ca.ncol] < (double)sa[i]) ra++;
    while (rb < cb.nrow && cb.v[(size_t)rb * cb.ncol] < (double)sa[i]) rb++;
    if (ra < ca.nrow && rb < cb.nrow && ca.v[(size_t)ra * ca.ncol] == (double)sa[i] && cb.v[(size_t)rb * cb.ncol] == (double)sa[i])
      for (int k = 0; k < out->nscalar; k++) {
        double d = fabs(ca.v[(size_t)ra * ca.ncol + colA[k]] - cb.v[(size_t)rb * cb.ncol + colB[k]]);
        if (d > out->scalar[k].max || isnan(d)) out->scalar[k].max = d;
        out->scalar[k].mean += d;
      }
    i++;
    j++;
  }
  if (out->nshared == 0) {
    rc = ss_seterr(err, SS_EINPUT, "runs '%s' and '%s' share no save step", dir_a, dir_b);
    goto out;
  }
  for (int n = 0; n < N; n++) {
    out->cls_mean[n] /= out->nshared;
    out->max = fmax(out->max, out->cls_max[n]);
    out->mean += out->cls_mean[n] / N;
  }
  for (int k = 0; k < out->nscalar; k++) out->scalar[k].mean /= out->nshared;
out:
  if (rc) ss_compare_free(out);
  free(ca.v);
  free(cb.v);
  ss_st_free(&a.f);
  ss_st_free(&b.f);
  return rc;
}
