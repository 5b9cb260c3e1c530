/* The public API's comparison of two runs (<scansnap.h>): the run layer's ss_compare_runs
 * behind an opaque handle. */
#include <math.h>
#include <stdlib.h>

#include "scansnap/run.h"

struct ss_comparison {
  ss_compare c;
};

int ss_compare_dirs(const char *dir_a, const char *dir_b, int64_t until, ss_comparison **out, ss_err *err) {
  ss_err local;
  if (!err) err = &local;
  if (!out) return ss_seterr(err, SS_EINPUT, "ss_compare_dirs: nowhere to put the comparison");
  *out = NULL;
  if (!dir_a || !dir_b) return ss_seterr(err, SS_EINPUT, "compare needs two run directories");
  ss_comparison *c = calloc(1, sizeof *c);
  if (!c) return ss_seterr(err, SS_ERUN, "out of memory");
  int rc = ss_compare_runs(dir_a, dir_b, until < 0 ? -1 : (long long)until, &c->c, err);
  if (rc) {
    free(c);
    return rc;
  }
  *out = c;
  return SS_OK;
}

void ss_comparison_free(ss_comparison *c) {
  if (!c) return;
  ss_compare_free(&c->c);
  free(c);
}

int64_t ss_comparison_nsteps(const ss_comparison *c, int64_t *first, int64_t *last) {
  if (first) *first = c->c.first;
  if (last) *last = c->c.last;
  return c->c.nshared;
}

const double *ss_comparison_class_max(const ss_comparison *c, int64_t *classes) {
  if (classes) *classes = c->c.N;
  return c->c.cls_max;
}

const double *ss_comparison_class_mean(const ss_comparison *c, int64_t *classes) {
  if (classes) *classes = c->c.N;
  return c->c.cls_mean;
}

double ss_comparison_max(const ss_comparison *c) { return c->c.max; }
double ss_comparison_mean(const ss_comparison *c) { return c->c.mean; }
int ss_comparison_ncolumns(const ss_comparison *c) { return c->c.nscalar; }

const char *ss_comparison_column_name(const ss_comparison *c, int i) { return i >= 0 && i < c->c.nscalar ? c->c.scalar[i].name : NULL; }
double ss_comparison_column_max(const ss_comparison *c, int i) { return i >= 0 && i < c->c.nscalar ? c->c.scalar[i].max : NAN; }
double ss_comparison_column_mean(const ss_comparison *c, int i) { return i >= 0 && i < c->c.nscalar ? c->c.scalar[i].mean : NAN; }
