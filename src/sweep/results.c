/* The results of a sweep's points: status, snap time and the final metrics row of each run,
 * by column name (the union of the runs' metrics.csv columns, in order of first appearance). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/sweep.h"

const char *ss_sweep_status_name(int st) {
  switch (st) {
  case SS_PT_COMPLETE: return "complete";
  case SS_PT_FAILED: return "failed";
  case SS_PT_DIVERGED: return "diverged";
  case SS_PT_INTERRUPTED: return "interrupted";
  case SS_PT_BUSY: return "busy";
  case SS_PT_FOREIGN: return "foreign";
  default: return "pending";
  }
}

int ss_sweep_results_init(ss_sweep_results *r, long n, ss_err *err) {
  memset(r, 0, sizeof *r);
  r->pt = calloc((size_t)(n > 0 ? n : 1), sizeof *r->pt);
  if (!r->pt) return ss_seterr(err, SS_ERUN, "out of memory (results of %ld runs)", n);
  r->n = n;
  for (long i = 0; i < n; i++) r->pt[i].t0 = NAN;
  return SS_OK;
}

void ss_sweep_results_free(ss_sweep_results *r) {
  for (long i = 0; r->pt && i < r->n; i++) free(r->pt[i].m);
  free(r->pt);
  memset(r, 0, sizeof *r);
}

int ss_sweep_is_column_name(const char *name) {
  if (!(isalpha((unsigned char)name[0]) || name[0] == '_')) return 0;
  size_t n = 0;
  for (; name[n]; n++)
    if (!(isalnum((unsigned char)name[n]) || name[n] == '_')) return 0;
  return n < SS_SWEEP_COL_LEN;
}

int ss_sweep_results_col(const ss_sweep_results *r, const char *name) {
  for (int c = 0; c < r->ncols; c++)
    if (!strcmp(r->col[c], name)) return c;
  return -1;
}

int ss_sweep_results_add_col(ss_sweep_results *r, const char *name) {
  int c = ss_sweep_results_col(r, name);
  if (c >= 0) return c;
  if (r->ncols == SS_SWEEP_MAX_COLS || !ss_sweep_is_column_name(name)) return -1;
  snprintf(r->col[r->ncols], sizeof r->col[0], "%s", name);
  return r->ncols++;
}

double ss_sweep_value(const ss_sweep_results *r, long i, int c) {
  const ss_sweep_result *p = &r->pt[i];
  return c >= 0 && c < p->nm ? p->m[c] : NAN;
}

int ss_sweep_set_value(ss_sweep_results *r, long i, int c, double v) {
  ss_sweep_result *p = &r->pt[i];
  if (c < 0 || c >= SS_SWEEP_MAX_COLS) return SS_EINPUT;
  if (c >= p->nm) {
    double *m = realloc(p->m, sizeof *m * (size_t)(c + 1));
    if (!m) return SS_ERUN;
    for (int k = p->nm; k <= c; k++) m[k] = NAN;
    p->m = m;
    p->nm = c + 1;
  }
  p->m[c] = v;
  return SS_OK;
}
