/* What a sweep writes: sweep.csv, the aggregate over seeds, the comparison with a reference
 * table, sweep.json (the grid that identifies the sweep, then the counts); and reading
 * sweep.json back (plots, reports). Every CSV goes through the CSV writer (scansnap/csv.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/sweep.h"
#include "sweep/sweep_internal.h"

/* ---- aggregate ------------------------------------------------------------------------------ */

static int is_seed(const ss_sweep_axis *a) { return !strcmp(a->key, "seed"); }

int ss_sweep_aggregate(const ss_sweep *s, const ss_sweep_results *res, ss_sweep_group **groups, int *ngroups, ss_err *err) {
  const long np = ss_sweep_npoints(s);
  const int nc = res->ncols;
  /* Group id: the mixed-radix number of the non-seed axis indices (at most np groups). */
  long ng_max = 1;
  for (int a = 0; a < s->naxes; a++)
    if (!is_seed(&s->axes[a])) ng_max *= s->axes[a].n;
  long *slot = malloc(sizeof(long) * (size_t)ng_max);
  long *gid = malloc(sizeof(long) * (size_t)(np ? np : 1));
  /* the groups, then their mean and std rows, in one block */
  ss_sweep_group *g = calloc(1, sizeof *g * (size_t)ng_max + sizeof(double) * 2 * (size_t)nc * (size_t)ng_max);
  if (!slot || !gid || !g) {
    free(slot);
    free(gid);
    free(g);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  double *rows = (double *)(g + ng_max);
  for (long k = 0; k < ng_max; k++) {
    slot[k] = -1;
    g[k].mean = rows + 2 * (size_t)nc * k;
    g[k].std = g[k].mean + nc;
  }
  int ng = 0;
  for (long i = 0; i < np; i++) {
    int idx[SS_SWEEP_MAX_AXES];
    ss_sweep_indices(s, i, idx);
    long key = 0;
    for (int a = 0; a < s->naxes; a++)
      if (!is_seed(&s->axes[a])) key = key * s->axes[a].n + idx[a];
    if (slot[key] < 0) {
      slot[key] = ng;
      g[ng].first = i;
      ng++;
    }
    gid[i] = slot[key];
  }
  /* Two passes (mean, then squared deviations) for an accurate std. */
  for (long i = 0; i < np; i++) {
    ss_sweep_group *G = &g[gid[i]];
    if (res->pt[i].status != SS_PT_COMPLETE) {
      G->failed++;
      continue;
    }
    G->count++;
    for (int k = 0; k < nc; k++) G->mean[k] += ss_sweep_value(res, i, k);
    if (isfinite(res->pt[i].t0)) {
      G->t0_count++;
      G->t0_mean += res->pt[i].t0;
    }
  }
  for (int j = 0; j < ng; j++) {
    for (int k = 0; k < nc; k++) g[j].mean[k] = g[j].count ? g[j].mean[k] / g[j].count : NAN;
    g[j].t0_mean = g[j].t0_count ? g[j].t0_mean / g[j].t0_count : NAN;
  }
  for (long i = 0; i < np; i++) {
    ss_sweep_group *G = &g[gid[i]];
    if (res->pt[i].status != SS_PT_COMPLETE) continue;
    for (int k = 0; k < nc; k++) {
      const double d = ss_sweep_value(res, i, k) - G->mean[k];
      G->std[k] += d * d;
    }
    if (isfinite(res->pt[i].t0)) G->t0_std += (res->pt[i].t0 - G->t0_mean) * (res->pt[i].t0 - G->t0_mean);
  }
  for (int j = 0; j < ng; j++) {
    for (int k = 0; k < nc; k++) g[j].std[k] = g[j].count > 1 ? sqrt(g[j].std[k] / (g[j].count - 1)) : NAN;
    g[j].t0_std = g[j].t0_count > 1 ? sqrt(g[j].t0_std / (g[j].t0_count - 1)) : NAN;
  }
  free(slot);
  free(gid);
  *groups = g;
  *ngroups = ng;
  return SS_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* A metric column in the tables: not one that would repeat a column of their own (a swept key,
 * status, t0, dir: a foreign metrics.csv could have any header). */
static int table_col(const ss_sweep *s, const ss_sweep_results *res, int k) {
  const char *c = res->col[k];
  return ss_sweep_axis_of(s, c) < 0 && strcmp(c, "status") && strcmp(c, "t0") && strcmp(c, "dir") && strcmp(c, "count") &&
         strcmp(c, "failed");
}

static int any_snap(const ss_sweep_results *res) {
  for (long i = 0; i < res->n; i++)
    if (res->pt[i].has_snap) return 1;
  return 0;
}

static int write_sweep_csv(const ss_sweep *s, const ss_sweep_results *res, ss_err *err) {
  char *p = ss_path_join(s->out, "sweep.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  const int snap = any_snap(res);
  ss_csv_writer w;
  ss_csv_writer_init(&w, a.f);
  for (int k = 0; k < s->naxes; k++) ss_csv_field(&w, s->axes[k].key);
  ss_csv_field(&w, "status");
  for (int k = 0; k < res->ncols; k++)
    if (table_col(s, res, k)) ss_csv_field(&w, res->col[k]);
  if (snap) ss_csv_field(&w, "t0");
  ss_csv_field(&w, "dir");
  ss_csv_endrow(&w);
  for (long i = 0; i < res->n; i++) {
    int idx[SS_SWEEP_MAX_AXES];
    ss_sweep_indices(s, i, idx);
    for (int k = 0; k < s->naxes; k++) ss_csv_field(&w, s->axes[k].values[idx[k]]);
    ss_csv_field(&w, ss_sweep_status_name(res->pt[i].status));
    for (int k = 0; k < res->ncols; k++)
      if (table_col(s, res, k)) ss_csv_num(&w, ss_sweep_value(res, i, k));
    if (snap) ss_csv_num(&w, res->pt[i].t0);
    ss_config c;
    char name[SS_PATH_MAX];
    ss_err e;
    ss_sweep_point(s, i, &c, name, sizeof name, &e);
    ss_csv_field(&w, name);
    ss_csv_endrow(&w);
  }
  return ss_afile_commit(&a, err);
}

static int write_aggregate(const ss_sweep *s, const ss_sweep_results *res, const ss_sweep_group *g, int ng, ss_err *err) {
  char *p = ss_path_join(s->out, "aggregate.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  const int snap = any_snap(res);
  ss_csv_writer w;
  ss_csv_writer_init(&w, a.f);
  for (int k = 0; k < s->naxes; k++)
    if (!is_seed(&s->axes[k])) ss_csv_field(&w, s->axes[k].key);
  ss_csv_field(&w, "count");
  ss_csv_field(&w, "failed");
  char h[SS_SWEEP_COL_LEN + 8];
  for (int k = 0; k < res->ncols; k++) {
    if (!table_col(s, res, k)) continue;
    snprintf(h, sizeof h, "%s_mean", res->col[k]);
    ss_csv_field(&w, h);
    snprintf(h, sizeof h, "%s_std", res->col[k]);
    ss_csv_field(&w, h);
  }
  if (snap) {
    ss_csv_field(&w, "t0_mean");
    ss_csv_field(&w, "t0_std");
    ss_csv_field(&w, "t0_count");
  }
  ss_csv_endrow(&w);
  for (int j = 0; j < ng; j++) {
    int idx[SS_SWEEP_MAX_AXES];
    ss_sweep_indices(s, g[j].first, idx);
    for (int k = 0; k < s->naxes; k++)
      if (!is_seed(&s->axes[k])) ss_csv_field(&w, s->axes[k].values[idx[k]]);
    ss_csv_int(&w, g[j].count);
    ss_csv_int(&w, g[j].failed);
    for (int k = 0; k < res->ncols; k++) {
      if (!table_col(s, res, k)) continue;
      ss_csv_num(&w, g[j].mean[k]);
      ss_csv_num(&w, g[j].std[k]);
    }
    if (snap) {
      ss_csv_num(&w, g[j].t0_mean);
      ss_csv_num(&w, g[j].t0_std);
      ss_csv_int(&w, g[j].t0_count);
    }
    ss_csv_endrow(&w);
  }
  if ((rc = ss_afile_commit(&a, err))) return rc;

  /* Markdown: the sweep's metric first, then the others. */
  p = ss_path_join(s->out, "aggregate.md");
  rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  const int mi = ss_sweep_results_col(res, s->metric);
  int order[SS_SWEEP_MAX_COLS], no = 0;
  if (mi >= 0 && table_col(s, res, mi)) order[no++] = mi;
  for (int k = 0; k < res->ncols; k++)
    if (k != mi && table_col(s, res, k)) order[no++] = k;
  fputc('|', a.f);
  int nk = 0;
  for (int k = 0; k < s->naxes; k++)
    if (!is_seed(&s->axes[k])) {
      fprintf(a.f, " %s |", s->axes[k].label);
      nk++;
    }
  fputs(" runs |", a.f);
  for (int k = 0; k < no; k++) fprintf(a.f, " %s |", res->col[order[k]]);
  if (snap) fputs(" t0 |", a.f);
  fputs("\n|", a.f);
  for (int k = 0; k < nk + 1 + no + snap; k++) fputs(k < nk ? "---|" : "---:|", a.f);
  fputc('\n', a.f);
  for (int j = 0; j < ng; j++) {
    int idx[SS_SWEEP_MAX_AXES];
    ss_sweep_indices(s, g[j].first, idx);
    fputc('|', a.f);
    for (int k = 0; k < s->naxes; k++)
      if (!is_seed(&s->axes[k])) fprintf(a.f, " %s |", s->axes[k].values[idx[k]]);
    if (g[j].failed)
      fprintf(a.f, " %d (%d not complete) |", g[j].count, g[j].failed);
    else
      fprintf(a.f, " %d |", g[j].count);
    for (int k = 0; k < no; k++) {
      int m = order[k];
      if (g[j].count == 0)
        fputs(" – |", a.f);
      else if (g[j].count == 1)
        fprintf(a.f, " %.4g [1] |", g[j].mean[m]);
      else
        fprintf(a.f, " %.4g ± %.2g [%d] |", g[j].mean[m], g[j].std[m], g[j].count);
    }
    if (snap) {
      if (g[j].t0_count == 0)
        fputs(" – |", a.f);
      else if (g[j].t0_count == 1)
        fprintf(a.f, " %.4g [1] |", g[j].t0_mean);
      else
        fprintf(a.f, " %.4g ± %.2g [%d] |", g[j].t0_mean, isfinite(g[j].t0_std) ? g[j].t0_std : 0.0, g[j].t0_count);
    }
    fputc('\n', a.f);
  }
  return ss_afile_commit(&a, err);
}

/* ---- comparison with a reference table ------------------------------------------------------ */

/* Reference columns: keys, then <metric>_mean, <metric>_std and a count column (seeds/n/count). */
static int ref_is_key(const char *h) {
  size_t n = strlen(h);
  if (n > 5 && !strcmp(h + n - 5, "_mean")) return 0;
  if (n > 4 && !strcmp(h + n - 4, "_std")) return 0;
  return strcmp(h, "seeds") && strcmp(h, "n") && strcmp(h, "count");
}

static int axis_for_column(const ss_sweep *s, const char *col) {
  int a = ss_sweep_axis_of(s, col);
  if (a >= 0) return a;
  for (int k = 0; k < s->naxes; k++) {
    const char *dot = strrchr(s->axes[k].key, '.');
    if (!strcmp(s->axes[k].label, col) || (dot && !strcmp(dot + 1, col))) return k;
  }
  return -1;
}

static int same_value(const char *a, const char *b) {
  char *ea, *eb;
  double x = strtod(a, &ea), y = strtod(b, &eb);
  if (*ea || *eb || ea == a || eb == b) return !strcmp(a, b);
  return fabs(x - y) <= 1e-9 * (fabs(x) + fabs(y)) + 1e-12;
}

/* A reference key column that is not swept must equal the sweep's fixed value of that key. */
static const ss_keydef *key_for_column(const char *col) {
  const ss_keydef *k = ss_config_find(col);
  if (k) return k;
  int n;
  const ss_keydef *all = ss_config_keys(&n);
  for (int i = 0; i < n; i++) {
    const char *dot = strrchr(all[i].name, '.');
    if (dot && !strcmp(dot + 1, col)) return &all[i];
  }
  return NULL;
}

int ss_sweep_ref_row_fixed_ok(const ss_sweep *s, const ss_csv *ref, int row) {
  for (int c = 0; c < ref->ncols; c++) {
    if (!ref_is_key(ref->head[c]) || axis_for_column(s, ref->head[c]) >= 0) continue;
    const ss_keydef *k = key_for_column(ref->head[c]);
    if (!k) return 0;
    char v[SS_PATH_MAX + 64];
    ss_config_format(&s->base, k, v, sizeof v);
    if (!same_value(v, ss_csv_cell(ref, row, c))) return 0;
  }
  return 1;
}

/* Where a reference table keeps what: <metric>_mean, <metric>_std, a count, and key columns
 * (swept keys to match groups, or fixed keys its rows must agree with). */
typedef struct {
  int cmean, cstd, ccount, nk;
  int kcol[32], kax[32]; /* swept key columns and their axes */
} ref_layout;

static int ref_columns(const ss_sweep *s, const ss_csv *t, const char *refpath, ref_layout *L, ss_err *err) {
  memset(L, 0, sizeof *L);
  L->cmean = L->cstd = L->ccount = -1;
  for (int c = 0; c < t->ncols; c++) {
    const char *h = t->head[c];
    size_t n = strlen(h);
    if (n > 5 && !strcmp(h + n - 5, "_mean")) L->cmean = c;
    else if (n > 4 && !strcmp(h + n - 4, "_std")) L->cstd = c;
    else if (!ref_is_key(h)) L->ccount = c;
    else {
      const int ax = axis_for_column(s, h);
      if (ax < 0) {
        if (!key_for_column(h)) return ss_seterr(err, SS_EINPUT, "sweep reference '%s': column '%s' is not a configuration key", refpath, h);
        continue; /* a fixed key of this sweep: rows must match its value */
      }
      if (L->nk == 32) return ss_seterr(err, SS_EINPUT, "sweep reference '%s': more than 32 key columns", refpath);
      L->kcol[L->nk] = c;
      L->kax[L->nk++] = ax;
    }
  }
  if (L->cmean < 0 || L->cstd < 0)
    return ss_seterr(err, SS_EINPUT, "sweep reference '%s': expected <metric>_mean and <metric>_std columns", refpath);
  return SS_OK;
}

int ss_sweep_check_reference(const ss_sweep *s, ss_err *err) {
  if (!s->reference[0]) return SS_OK;
  ss_csv t;
  int rc = ss_csv_read(s->reference, &t, err);
  if (rc) return ss_seterr(err, SS_EINPUT, "sweep reference: %s", err->msg);
  ref_layout L;
  rc = ref_columns(s, &t, s->reference, &L, err);
  ss_csv_free(&t);
  return rc;
}

int ss_sweep_compare(const ss_sweep *s, const ss_sweep_group *g, int ng, int mi, const char *refpath, ss_sweep_cmp **out, int *n,
                     ss_err *err) {
  *out = NULL;
  *n = 0;
  ss_csv t;
  int rc = ss_csv_read(refpath, &t, err);
  if (rc) return ss_seterr(err, SS_EINPUT, "sweep reference: %s", err->msg);
  ref_layout L;
  if ((rc = ref_columns(s, &t, refpath, &L, err))) {
    ss_csv_free(&t);
    return rc;
  }
  ss_sweep_cmp *c = calloc((size_t)(t.nrows ? t.nrows : 1), sizeof *c);
  if (!c) {
    ss_csv_free(&t);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  int nout = 0;
  for (int r = 0; r < t.nrows; r++) {
    if (!ss_sweep_ref_row_fixed_ok(s, &t, r)) continue;
    ss_sweep_cmp *x = &c[nout++];
    x->group_first = -1;
    x->ref_mean = strtod(ss_csv_cell(&t, r, L.cmean), NULL);
    x->ref_std = strtod(ss_csv_cell(&t, r, L.cstd), NULL);
    x->ref_n = L.ccount >= 0 ? atoi(ss_csv_cell(&t, r, L.ccount)) : 1;
    x->keys[0] = 0;
    for (int k = 0; k < L.nk; k++) {
      size_t len = strlen(x->keys);
      snprintf(x->keys + len, sizeof x->keys - len, "%s%s=%s", k ? " " : "", t.head[L.kcol[k]], ss_csv_cell(&t, r, L.kcol[k]));
    }
    x->ours_mean = x->ours_std = x->diff = x->z = NAN;
    for (int j = 0; j < ng; j++) {
      int idx[SS_SWEEP_MAX_AXES], ok = 1;
      ss_sweep_indices(s, g[j].first, idx);
      for (int k = 0; k < L.nk && ok; k++) ok = same_value(s->axes[L.kax[k]].values[idx[L.kax[k]]], ss_csv_cell(&t, r, L.kcol[k]));
      if (!ok) continue;
      x->group_first = g[j].first;
      x->ours_mean = mi >= 0 ? g[j].mean[mi] : NAN;
      x->ours_std = mi >= 0 ? g[j].std[mi] : NAN;
      x->ours_n = g[j].count;
      x->diff = x->ours_mean - x->ref_mean;
      double se = x->ref_std / sqrt(x->ref_n > 0 ? x->ref_n : 1);
      x->z = se > 0 ? x->diff / se : NAN;
      break;
    }
  }
  *out = c;
  *n = nout;
  ss_csv_free(&t);
  return SS_OK;
}

static int write_comparison(const ss_sweep *s, const ss_sweep_cmp *c, int n, ss_err *err) {
  char *p = ss_path_join(s->out, "comparison.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  ss_csv_writer w;
  ss_csv_writer_init(&w, a.f);
  static const char *const head[] = {"group", "ours_mean", "ours_std", "ours_n", "ref_mean", "ref_std", "ref_n", "diff", "diff_in_ref_se"};
  for (size_t k = 0; k < sizeof head / sizeof head[0]; k++) ss_csv_field(&w, head[k]);
  ss_csv_endrow(&w);
  for (int i = 0; i < n; i++) {
    ss_csv_field(&w, c[i].keys);
    ss_csv_num(&w, c[i].ours_mean);
    ss_csv_num(&w, c[i].ours_std);
    ss_csv_int(&w, c[i].ours_n);
    ss_csv_num(&w, c[i].ref_mean);
    ss_csv_num(&w, c[i].ref_std);
    ss_csv_int(&w, c[i].ref_n);
    ss_csv_num(&w, c[i].diff);
    ss_csv_num(&w, c[i].z);
    ss_csv_endrow(&w);
  }
  if ((rc = ss_afile_commit(&a, err))) return rc;

  p = ss_path_join(s->out, "comparison.md");
  rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  fprintf(a.f, "| group | sweep %s | reference | diff | diff / ref SE |\n|---|---:|---:|---:|---:|\n", s->metric);
  int k = 0, nse = 0, nz = 0, within1 = 0, within2 = 0;
  double sd = 0, sad = 0, sz2 = 0, so = 0, sr = 0, sse2 = 0;
  for (int i = 0; i < n; i++) {
    const ss_sweep_cmp *x = &c[i];
    if (x->group_first < 0 || !isfinite(x->ours_mean)) {
      fprintf(a.f, "| %s | – | %.3f ± %.3f [%d] | – | – |\n", x->keys, x->ref_mean, x->ref_std, x->ref_n);
      continue;
    }
    char z[32] = "–";
    if (isfinite(x->z)) snprintf(z, sizeof z, "%+.1f", x->z);
    char ours[96];
    if (isfinite(x->ours_std))
      snprintf(ours, sizeof ours, "%.3f ± %.3f [%d]", x->ours_mean, x->ours_std, x->ours_n);
    else
      snprintf(ours, sizeof ours, "%.3f [%d]", x->ours_mean, x->ours_n);
    fprintf(a.f, "| %s | %s | %.3f ± %.3f [%d] | %+.3f | %s |\n", x->keys, ours, x->ref_mean, x->ref_std, x->ref_n, x->diff, z);
    k++;
    sd += x->diff;
    sad += fabs(x->diff);
    so += x->ours_mean;
    sr += x->ref_mean;
    double se = x->ref_std / sqrt(x->ref_n > 0 ? x->ref_n : 1);
    if (isfinite(se)) { /* a reference row of one seed has no std */
      sse2 += se * se;
      nse++;
    }
    if (isfinite(x->z)) {
      nz++;
      sz2 += x->z * x->z;
      within1 += fabs(x->z) <= 1;
      within2 += fabs(x->z) <= 2;
    }
  }
  if (k) {
    /* SE of the reference's grand mean over groups (groups without a std counted at the
     * mean variance of the others) */
    double gse = nse ? sqrt(sse2 * k / nse) / k : NAN;
    fprintf(a.f, "\nOverall (%d of %d groups): mean over groups %.4f vs reference %.4f, difference %+.4f = %+.1f reference SE;\n"
                 "mean |difference| %.4f; RMS of diff/SE %.2f; %d groups within 1 SE, %d within 2 SE.\n",
            k, n, so / k, sr / k, (so - sr) / k, gse > 0 ? (so - sr) / k / gse : NAN, sad / k, nz ? sqrt(sz2 / nz) : NAN, within1, within2);
  } else {
    fprintf(a.f, "\nNo group of this sweep matches the reference table.\n");
  }
  (void)sd;
  return ss_afile_commit(&a, err);
}

/* ---- sweep.json ------------------------------------------------------------------------------ */

/* The keys given explicitly and not swept (the fixed keys), as text; threads is left out:
 * results do not depend on it, and a resume may use another. */
static json_t *fixed_json(const ss_sweep *s) {
  const ss_config *c = &s->base;
  json_t *o = json_object();
  int nk;
  const ss_keydef *k = ss_config_keys(&nk);
  char v[SS_PATH_MAX + 64];
  for (int i = 0; i < nk; i++) {
    if (!c->set[i] || !strcmp(k[i].name, "threads") || !strcmp(k[i].name, "out") || !strcmp(k[i].name, "resume") ||
        ss_sweep_axis_of(s, k[i].name) >= 0)
      continue;
    ss_config_format(c, &k[i], v, sizeof v);
    json_object_set_new(o, k[i].name, json_string(v));
  }
  return o;
}

static json_t *axes_json(const ss_sweep *s) {
  json_t *ax = json_array();
  for (int a = 0; a < s->naxes; a++) {
    json_t *v = json_array();
    for (int i = 0; i < s->axes[a].n; i++) json_array_append_new(v, json_string(s->axes[a].values[i]));
    json_array_append_new(ax, json_pack("{s:s, s:s, s:o}", "key", s->axes[a].key, "label", s->axes[a].label, "values", v));
  }
  return ax;
}

/* "a,b,c" of a JSON array of strings (cut at n bytes). */
static void join_strings(json_t *arr, char *buf, size_t n) {
  buf[0] = 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    size_t L = strlen(buf);
    snprintf(buf + L, n - L, "%s%s", i ? "," : "", json_is_string(v) ? json_string_value(v) : "?");
  }
  if (strlen(buf) + 1 >= n && n > 4) strcpy(buf + n - 4, "...");
}

int ss_sweepi_same_grid(const ss_sweep *s, json_t *old, char *why, size_t n) {
  why[0] = 0;
  if (json_is_true(json_object_get(old, "theory")) != (s->theory != 0)) {
    snprintf(why, n, "theory=%s here, %s there", s->theory ? "true" : "false", s->theory ? "false" : "true");
    return 0;
  }
  json_t *ax = json_object_get(old, "axes"), *mine = axes_json(s), *fx = json_object_get(old, "fixed"), *myfx = fixed_json(s);
  char a[200], b[200];
  int same = 1;
  if (!json_is_array(ax) || json_array_size(ax) != (size_t)s->naxes) {
    json_t *ka = json_array(), *kb = json_array();
    for (int i = 0; i < s->naxes; i++) json_array_append_new(ka, json_string(s->axes[i].key));
    size_t i;
    json_t *x;
    json_array_foreach(ax, i, x) json_array_append(kb, json_object_get(x, "key"));
    join_strings(ka, a, sizeof a);
    join_strings(kb, b, sizeof b);
    snprintf(why, n, "swept keys %s here, %s there", a[0] ? a : "none", b[0] ? b : "none");
    json_decref(ka);
    json_decref(kb);
    same = 0;
  }
  for (int i = 0; same && i < s->naxes; i++) {
    json_t *x = json_array_get(ax, (size_t)i), *y = json_array_get(mine, (size_t)i);
    const char *k = json_string_value(json_object_get(x, "key"));
    if (!k || strcmp(k, s->axes[i].key)) {
      snprintf(why, n, "swept key %d is %s here, %s there", i + 1, s->axes[i].key, k ? k : "?");
      same = 0;
    } else if (!json_equal(json_object_get(x, "values"), json_object_get(y, "values"))) {
      join_strings(json_object_get(y, "values"), a, sizeof a);
      join_strings(json_object_get(x, "values"), b, sizeof b);
      snprintf(why, n, "swept key '%s' has the values %s here, %s there", k, a, b);
      same = 0;
    }
  }
  if (same && !json_equal(fx, myfx)) {
    same = 0;
    const char *key;
    json_t *v;
    json_object_foreach(myfx, key, v) {
      json_t *w = json_object_get(fx, key);
      if (!json_equal(v, w)) {
        snprintf(why, n, "fixed key '%s' is %.80s here, %s%.80s%s there", key, json_string_value(v), w ? "" : "not given",
                 w && json_is_string(w) ? json_string_value(w) : "", "");
        break;
      }
    }
    if (!why[0] && json_is_object(fx))
      json_object_foreach(fx, key, v) {
        if (!json_object_get(myfx, key)) {
          snprintf(why, n, "fixed key '%s' is not given here, %.80s there", key, json_is_string(v) ? json_string_value(v) : "?");
          break;
        }
      }
    if (!why[0]) snprintf(why, n, "the fixed keys differ");
  }
  json_decref(mine);
  json_decref(myfx);
  return same;
}

int ss_sweepi_write_json(const ss_sweep *s, const ss_sweep_results *res, double wall, int has_ref, int stopped, ss_err *err) {
  json_t *o = json_object();
  json_object_set_new(o, "format", json_string(SS_SWEEP_FORMAT));
  json_object_set_new(o, "id", json_string(s->id));
  json_object_set_new(o, "command", json_string(s->command));
  json_object_set_new(o, "version", json_string(SS_VERSION));
  json_object_set_new(o, "metric", json_string(s->metric));
  json_object_set_new(o, "theory", json_boolean(s->theory));
  json_object_set_new(o, "reference", json_string(has_ref ? "reference.csv" : ""));
  json_object_set_new(o, "mpi_ranks", json_integer(s->nranks));
  json_object_set_new(o, "jobs", json_integer(s->jobs));
  json_object_set_new(o, "npoints", json_integer(ss_sweep_npoints(s)));
  if (res) {
    long cnt[SS_PT_FOREIGN + 1] = {0}, skipped = 0;
    for (long i = 0; i < res->n; i++) {
      cnt[res->pt[i].status]++;
      skipped += res->pt[i].skipped;
    }
    json_object_set_new(o, "status", json_string(stopped ? "interrupted" : cnt[SS_PT_COMPLETE] == res->n ? "complete" : "incomplete"));
    json_object_set_new(o, "complete", json_integer(cnt[SS_PT_COMPLETE]));
    json_object_set_new(o, "failed", json_integer(cnt[SS_PT_FAILED] + cnt[SS_PT_DIVERGED]));
    json_object_set_new(o, "skipped", json_integer(skipped));
    for (int st = SS_PT_INTERRUPTED; st <= SS_PT_FOREIGN; st++) json_object_set_new(o, ss_sweep_status_name(st), json_integer(cnt[st]));
    json_object_set_new(o, "pending", json_integer(cnt[SS_PT_PENDING]));
    json_object_set_new(o, "wall_seconds", json_real(wall));
  } else {
    json_object_set_new(o, "status", json_string("running"));
  }
  json_object_set_new(o, "axes", axes_json(s));
  json_object_set_new(o, "fixed", fixed_json(s));
  char *p = ss_path_join(s->out, "sweep.json");
  int rc = ss_write_json_atomic(p, o, JSON_INDENT(2) | JSON_REAL_PRECISION(17), err);
  free(p);
  return rc;
}

int ss_sweep_write_tables(const ss_sweep *s, const ss_sweep_results *res, double wall_seconds, ss_err *err) {
  int rc = write_sweep_csv(s, res, err);
  if (rc) return rc;
  ss_sweep_group *g;
  int ng;
  if ((rc = ss_sweep_aggregate(s, res, &g, &ng, err))) return rc;
  rc = write_aggregate(s, res, g, ng, err);
  /* The metric must be a column of the runs: known before the runs for synthetic and theory
   * runs (ss_sweep_check), only now for language-model runs. */
  const int mi = ss_sweep_results_col(res, s->metric);
  long complete = 0;
  for (long i = 0; i < res->n; i++) complete += res->pt[i].status == SS_PT_COMPLETE;
  if (rc == SS_OK && mi < 0 && complete > 0) {
    char cols[600] = "";
    for (int k = 0; k < res->ncols; k++) {
      size_t L = strlen(cols);
      snprintf(cols + L, sizeof cols - L, "%s%s", k ? ", " : "", res->col[k]);
    }
    rc = ss_seterr(err, SS_EINPUT, "sweep metric '%s' is not a column of the runs' metrics.csv (%s); run the sweep again with metric=<column> for the comparison", s->metric, cols);
  }
  int has_ref = 0;
  if (rc == SS_OK && s->reference[0]) {
    ss_sweep_cmp *c;
    int nc;
    rc = ss_sweep_compare(s, g, ng, mi, s->reference, &c, &nc, err);
    if (rc == SS_OK) rc = write_comparison(s, c, nc, err);
    free(c);
    if (rc == SS_OK) {
      /* a copy, so the sweep directory (plots, report) stands alone; written from the
       * parsed table, so it is valid CSV whatever the original's line ends and quoting */
      ss_csv t;
      if ((rc = ss_csv_read(s->reference, &t, err)) == SS_OK) {
        char *p = ss_path_join(s->out, "reference.csv");
        rc = ss_csv_write_file(p, &t, err);
        free(p);
        ss_csv_free(&t);
        has_ref = rc == SS_OK;
      }
    }
  }
  free(g);
  if (rc) return rc;
  /* the fixed keys: the configuration every run starts from */
  char *p = ss_path_join(s->out, "config.yaml");
  ss_afile a;
  if ((rc = ss_afile_open(&a, p, err)) == SS_OK) {
    fprintf(a.f, "# base configuration of the sweep; swept keys are listed in sweep.json\n");
    ss_config_write_yaml(&s->base, a.f);
    rc = ss_afile_commit(&a, err);
  }
  free(p);
  if (rc) return rc;
  int stopped = 0;
  for (long i = 0; i < res->n; i++) stopped |= res->pt[i].status == SS_PT_INTERRUPTED;
  return ss_sweepi_write_json(s, res, wall_seconds, has_ref, stopped, err);
}

/* ---- reading sweep.json back (plots, reports) -------------------------------------------------- */

int ss_sweep_load_dir(ss_sweep *s, const char *dir, ss_err *err) {
  ss_sweep_init(s);
  char *p = ss_path_join(dir, "sweep.json");
  json_error_t je;
  json_t *o = json_load_file(p, 0, &je);
  free(p);
  if (!o) return ss_seterr(err, SS_EINPUT, "'%s' is not a sweep directory (no readable sweep.json: %s)", dir, je.text);
  snprintf(s->out, sizeof s->out, "%s", dir);
  int rc = SS_OK;
  /* every field is checked like user input: the file may come from anyone */
  const char *m = json_string_value(json_object_get(o, "metric"));
  if (m && !ss_sweep_is_column_name(m))
    rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': metric is not a column name", dir);
  else if (m)
    snprintf(s->metric, sizeof s->metric, "%s", m);
  s->theory = json_is_true(json_object_get(o, "theory"));
  const char *ref = json_string_value(json_object_get(o, "reference"));
  if (rc == SS_OK && ref && ref[0]) {
    if (strcmp(ref, "reference.csv"))
      rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': reference must be \"reference.csv\" or empty", dir);
    else
      snprintf(s->reference, sizeof s->reference, "%s/%s", dir, ref);
  }
  const char *cmd = json_string_value(json_object_get(o, "command"));
  if (cmd) snprintf(s->command, sizeof s->command, "%s", cmd);
  const char *id = json_string_value(json_object_get(o, "id"));
  if (id) snprintf(s->id, sizeof s->id, "%s", id);
  json_t *ax = json_object_get(o, "axes");
  if (rc == SS_OK && ax && !json_is_array(ax)) rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': axes is not a list", dir);
  if (rc == SS_OK && json_array_size(ax) > SS_SWEEP_MAX_AXES)
    rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': %zu axes (at most %d)", dir, json_array_size(ax), SS_SWEEP_MAX_AXES);
  size_t i;
  json_t *a;
  json_array_foreach(ax, i, a) {
    if (rc) break;
    ss_sweep_axis *A = &s->axes[s->naxes];
    const char *k = json_string_value(json_object_get(a, "key"));
    const char *l = json_string_value(json_object_get(a, "label"));
    json_t *v = json_object_get(a, "values");
    const ss_keydef *kd = k ? ss_config_find(k) : NULL;
    if (!kd || strcmp(kd->name, k) || !json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SS_SWEEP_MAX_POINTS ||
        (l && strlen(l) >= sizeof A->label)) {
      rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': axis %zu is malformed (expected a configuration key and a non-empty list of values)", dir, i + 1);
      break;
    }
    snprintf(A->key, sizeof A->key, "%s", k);
    snprintf(A->label, sizeof A->label, "%s", l ? l : k);
    A->cap = (int)json_array_size(v);
    A->values = calloc((size_t)A->cap, sizeof(char *));
    s->naxes++;
    if (!A->values) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    for (int j = 0; j < A->cap && rc == SS_OK; j++) {
      const char *sv = json_string_value(json_array_get(v, (size_t)j));
      if (!sv) rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': axis '%s' value %d is not a string", dir, k, j + 1);
      else if (!(A->values[j] = strdup(sv))) rc = ss_seterr(err, SS_ERUN, "out of memory");
      else A->n++;
    }
  }
  json_decref(o);
  if (rc == SS_OK && ss_sweep_npoints(s) > SS_SWEEP_MAX_POINTS)
    rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': the grid has more than %d points", dir, SS_SWEEP_MAX_POINTS);
  if (rc == SS_OK) {
    /* the fixed keys (config.yaml of the sweep), for matching a reference table */
    char *cy = ss_path_join(dir, "config.yaml");
    ss_err e;
    if (ss_file_exists(cy)) ss_config_load_yaml(&s->base, cy, &e);
    free(cy);
  }
  if (rc) ss_sweep_free(s);
  return rc;
}
