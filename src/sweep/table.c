/* What a sweep writes: sweep.csv, the aggregate over seeds, the comparison with a reference
 * table, sweep.json; and reading them back (sweep.json loader). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/sweep.h"

/* ---- aggregate ------------------------------------------------------------------------------ */

static int is_seed(const ss_sweep_axis *a) { return !strcmp(a->key, "seed"); }

int ss_sweep_aggregate(const ss_sweep *s, const ss_sweep_result *res, ss_sweep_group **groups, int *ngroups,
                       ss_err *err) {
  long np = ss_sweep_npoints(s);
  /* Group id: the mixed-radix number of the non-seed axis indices. */
  long ng_max = 1;
  for (int a = 0; a < s->naxes; a++)
    if (!is_seed(&s->axes[a])) ng_max *= s->axes[a].n;
  long *slot = malloc(sizeof(long) * (size_t)ng_max);
  long *gid = malloc(sizeof(long) * (size_t)(np ? np : 1));
  ss_sweep_group *g = calloc((size_t)ng_max, sizeof *g);
  if (!slot || !gid || !g) {
    free(slot);
    free(gid);
    free(g);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  for (long k = 0; k < ng_max; k++) slot[k] = -1;
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
    if (res[i].status != SS_PT_COMPLETE) {
      G->failed++;
      continue;
    }
    G->count++;
    for (int k = 0; k < SS_SWEEP_NMETRICS; k++) G->mean[k] += res[i].m[k];
    if (isfinite(res[i].t0)) {
      G->t0_count++;
      G->t0_mean += res[i].t0;
    }
  }
  for (int j = 0; j < ng; j++) {
    for (int k = 0; k < SS_SWEEP_NMETRICS; k++) g[j].mean[k] = g[j].count ? g[j].mean[k] / g[j].count : NAN;
    g[j].t0_mean = g[j].t0_count ? g[j].t0_mean / g[j].t0_count : NAN;
  }
  for (long i = 0; i < np; i++) {
    ss_sweep_group *G = &g[gid[i]];
    if (res[i].status != SS_PT_COMPLETE) continue;
    for (int k = 0; k < SS_SWEEP_NMETRICS; k++) G->std[k] += (res[i].m[k] - G->mean[k]) * (res[i].m[k] - G->mean[k]);
    if (isfinite(res[i].t0)) G->t0_std += (res[i].t0 - G->t0_mean) * (res[i].t0 - G->t0_mean);
  }
  for (int j = 0; j < ng; j++) {
    for (int k = 0; k < SS_SWEEP_NMETRICS; k++) g[j].std[k] = g[j].count > 1 ? sqrt(g[j].std[k] / (g[j].count - 1)) : NAN;
    g[j].t0_std = g[j].t0_count > 1 ? sqrt(g[j].t0_std / (g[j].t0_count - 1)) : NAN;
  }
  free(slot);
  free(gid);
  *groups = g;
  *ngroups = ng;
  return SS_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

static const char *status_name(int st) {
  switch (st) {
  case SS_PT_COMPLETE: return "complete";
  case SS_PT_FAILED: return "failed";
  case SS_PT_DIVERGED: return "diverged";
  default: return "pending";
  }
}

static int write_sweep_csv(const ss_sweep *s, const ss_sweep_result *res, int any_snap, ss_err *err) {
  char *p = ss_path_join(s->out, "sweep.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  ss_csv_writer w;
  ss_csv_writer_init(&w, a.f);
  for (int k = 0; k < s->naxes; k++) ss_csv_field(&w, s->axes[k].key);
  ss_csv_field(&w, "status");
  for (int k = 0; k < SS_SWEEP_NMETRICS; k++) ss_csv_field(&w, ss_sweep_metric_names[k]);
  if (any_snap) ss_csv_field(&w, "t0");
  ss_csv_field(&w, "dir");
  ss_csv_endrow(&w);
  long np = ss_sweep_npoints(s);
  for (long i = 0; i < np; i++) {
    int idx[SS_SWEEP_MAX_AXES];
    ss_sweep_indices(s, i, idx);
    for (int k = 0; k < s->naxes; k++) ss_csv_field(&w, s->axes[k].values[idx[k]]);
    ss_csv_field(&w, status_name(res[i].status));
    for (int k = 0; k < SS_SWEEP_NMETRICS; k++) ss_csv_num(&w, res[i].m[k]);
    if (any_snap) ss_csv_num(&w, res[i].t0);
    ss_config c;
    char name[SS_PATH_MAX];
    ss_err e;
    ss_sweep_point(s, i, &c, name, sizeof name, &e);
    ss_csv_field(&w, name);
    ss_csv_endrow(&w);
  }
  return ss_afile_commit(&a, err);
}

static int write_aggregate(const ss_sweep *s, const ss_sweep_group *g, int ng, int any_snap, ss_err *err) {
  char *p = ss_path_join(s->out, "aggregate.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  ss_csv_writer w;
  ss_csv_writer_init(&w, a.f);
  for (int k = 0; k < s->naxes; k++)
    if (!is_seed(&s->axes[k])) ss_csv_field(&w, s->axes[k].key);
  ss_csv_field(&w, "count");
  ss_csv_field(&w, "failed");
  char h[128];
  for (int k = 0; k < SS_SWEEP_NMETRICS; k++) {
    snprintf(h, sizeof h, "%s_mean", ss_sweep_metric_names[k]);
    ss_csv_field(&w, h);
    snprintf(h, sizeof h, "%s_std", ss_sweep_metric_names[k]);
    ss_csv_field(&w, h);
  }
  if (any_snap) {
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
    for (int k = 0; k < SS_SWEEP_NMETRICS; k++) {
      ss_csv_num(&w, g[j].mean[k]);
      ss_csv_num(&w, g[j].std[k]);
    }
    if (any_snap) {
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
  int mi = ss_sweep_metric_index(s->metric);
  int order[SS_SWEEP_NMETRICS], no = 0;
  if (mi >= 0) order[no++] = mi;
  for (int k = 0; k < SS_SWEEP_NMETRICS; k++)
    if (k != mi) order[no++] = k;
  fputc('|', a.f);
  int nk = 0;
  for (int k = 0; k < s->naxes; k++)
    if (!is_seed(&s->axes[k])) {
      fprintf(a.f, " %s |", s->axes[k].label);
      nk++;
    }
  fputs(" runs |", a.f);
  for (int k = 0; k < no; k++) fprintf(a.f, " %s |", ss_sweep_metric_names[order[k]]);
  if (any_snap) fputs(" t0 |", a.f);
  fputs("\n|", a.f);
  for (int k = 0; k < nk + 1 + no + any_snap; k++) fputs(k < nk ? "---|" : "---:|", a.f);
  fputc('\n', a.f);
  for (int j = 0; j < ng; j++) {
    int idx[SS_SWEEP_MAX_AXES];
    ss_sweep_indices(s, g[j].first, idx);
    fputc('|', a.f);
    for (int k = 0; k < s->naxes; k++)
      if (!is_seed(&s->axes[k])) fprintf(a.f, " %s |", s->axes[k].values[idx[k]]);
    if (g[j].failed)
      fprintf(a.f, " %d (%d failed) |", g[j].count, g[j].failed);
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
    if (any_snap) {
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

int ss_sweep_compare(const ss_sweep *s, const ss_sweep_group *g, int ng, const char *refpath, ss_sweep_cmp **out,
                     int *n, ss_err *err) {
  *out = NULL;
  *n = 0;
  ss_csv t;
  int rc = ss_csv_read(refpath, &t, err);
  if (rc) return ss_seterr(err, SS_EINPUT, "sweep reference: %s", err->msg);
  int cmean = -1, cstd = -1, ccount = -1, kcol[32], kax[32], nk = 0;
  for (int c = 0; c < t.ncols; c++) {
    const char *h = t.head[c];
    size_t L = strlen(h);
    if (L > 5 && !strcmp(h + L - 5, "_mean")) cmean = c;
    else if (L > 4 && !strcmp(h + L - 4, "_std")) cstd = c;
    else if (!ref_is_key(h)) ccount = c;
    else if (nk < 32) {
      kcol[nk] = c;
      kax[nk] = axis_for_column(s, h);
      if (kax[nk] < 0) {
        if (!key_for_column(h)) {
          rc = ss_seterr(err, SS_EINPUT, "sweep reference '%s': column '%s' is not a configuration key", refpath, h);
          ss_csv_free(&t);
          return rc;
        }
        continue; /* a fixed key of this sweep: rows must match its value */
      }
      nk++;
    }
  }
  if (cmean < 0 || cstd < 0) {
    ss_csv_free(&t);
    return ss_seterr(err, SS_EINPUT, "sweep reference '%s': expected <metric>_mean and <metric>_std columns", refpath);
  }
  int mi = ss_sweep_metric_index(s->metric);
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
    x->ref_mean = strtod(ss_csv_cell(&t, r, cmean), NULL);
    x->ref_std = strtod(ss_csv_cell(&t, r, cstd), NULL);
    x->ref_n = ccount >= 0 ? atoi(ss_csv_cell(&t, r, ccount)) : 1;
    x->keys[0] = 0;
    for (int k = 0; k < nk; k++) {
      size_t L = strlen(x->keys);
      snprintf(x->keys + L, sizeof x->keys - L, "%s%s=%s", k ? " " : "", t.head[kcol[k]], ss_csv_cell(&t, r, kcol[k]));
    }
    x->ours_mean = x->ours_std = x->diff = x->z = NAN;
    for (int j = 0; j < ng; j++) {
      int idx[SS_SWEEP_MAX_AXES], ok = 1;
      ss_sweep_indices(s, g[j].first, idx);
      for (int k = 0; k < nk && ok; k++) ok = same_value(s->axes[kax[k]].values[idx[kax[k]]], ss_csv_cell(&t, r, kcol[k]));
      if (!ok) continue;
      x->group_first = g[j].first;
      x->ours_mean = g[j].mean[mi];
      x->ours_std = g[j].std[mi];
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
  int k = 0, within1 = 0, within2 = 0;
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
    sse2 += se * se;
    if (isfinite(x->z)) {
      sz2 += x->z * x->z;
      within1 += fabs(x->z) <= 1;
      within2 += fabs(x->z) <= 2;
    }
  }
  if (k) {
    double gse = sqrt(sse2) / k; /* SE of the reference's grand mean over groups */
    fprintf(a.f, "\nOverall (%d of %d groups): mean over groups %.4f vs reference %.4f, difference %+.4f = %+.1f reference SE;\n"
                 "mean |difference| %.4f; RMS of diff/SE %.2f; %d groups within 1 SE, %d within 2 SE.\n",
            k, n, so / k, sr / k, (so - sr) / k, gse > 0 ? (so - sr) / k / gse : NAN, sad / k, sqrt(sz2 / k), within1, within2);
  } else {
    fprintf(a.f, "\nNo group of this sweep matches the reference table.\n");
  }
  (void)sd;
  return ss_afile_commit(&a, err);
}

/* ---- sweep.json ------------------------------------------------------------------------------ */

static int write_sweep_json(const ss_sweep *s, const ss_sweep_result *res, int nranks, double wall, int has_ref,
                            ss_err *err) {
  long np = ss_sweep_npoints(s), done = 0, failed = 0, skipped = 0;
  for (long i = 0; res && i < np; i++) {
    done += res[i].status == SS_PT_COMPLETE;
    failed += res[i].status == SS_PT_FAILED || res[i].status == SS_PT_DIVERGED;
    skipped += res[i].skipped;
  }
  json_t *o = json_object();
  json_object_set_new(o, "format", json_string("scansnap-sweep-1"));
  json_object_set_new(o, "command", json_string(s->command));
  json_object_set_new(o, "version", json_string(SS_VERSION));
  json_object_set_new(o, "metric", json_string(s->metric));
  json_object_set_new(o, "theory", json_boolean(s->theory));
  json_object_set_new(o, "reference", json_string(has_ref ? "reference.csv" : ""));
  json_object_set_new(o, "mpi_ranks", json_integer(nranks));
  json_object_set_new(o, "jobs", json_integer(s->jobs));
  json_object_set_new(o, "npoints", json_integer(np));
  json_object_set_new(o, "complete", json_integer(done));
  json_object_set_new(o, "failed", json_integer(failed));
  json_object_set_new(o, "skipped", json_integer(skipped));
  json_object_set_new(o, "wall_seconds", json_real(wall));
  json_t *ax = json_array();
  for (int a = 0; a < s->naxes; a++) {
    json_t *v = json_array();
    for (int i = 0; i < s->axes[a].n; i++) json_array_append_new(v, json_string(s->axes[a].values[i]));
    json_array_append_new(ax, json_pack("{s:s, s:s, s:o}", "key", s->axes[a].key, "label", s->axes[a].label, "values", v));
  }
  json_object_set_new(o, "axes", ax);
  char *p = ss_path_join(s->out, "sweep.json");
  int rc = ss_write_json_atomic(p, o, JSON_INDENT(2) | JSON_REAL_PRECISION(17), err);
  free(p);
  return rc;
}

int ss_sweep_write_tables(const ss_sweep *s, const ss_sweep_result *res, int nranks, double wall_seconds,
                          ss_err *err) {
  long np = ss_sweep_npoints(s);
  int any_snap = 0;
  for (long i = 0; i < np; i++) any_snap |= res[i].has_snap;
  int rc = write_sweep_csv(s, res, any_snap, err);
  if (rc) return rc;
  ss_sweep_group *g;
  int ng;
  if ((rc = ss_sweep_aggregate(s, res, &g, &ng, err))) return rc;
  rc = write_aggregate(s, g, ng, any_snap, err);
  int has_ref = 0;
  if (rc == SS_OK && s->reference[0]) {
    ss_sweep_cmp *c;
    int nc;
    rc = ss_sweep_compare(s, g, ng, s->reference, &c, &nc, err);
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
  return write_sweep_json(s, res, nranks, wall_seconds, has_ref, err);
}

int ss_sweep_load_dir(ss_sweep *s, const char *dir, ss_err *err) {
  ss_sweep_init(s);
  char *p = ss_path_join(dir, "sweep.json");
  json_error_t je;
  json_t *o = json_load_file(p, 0, &je);
  free(p);
  if (!o) return ss_seterr(err, SS_EINPUT, "'%s' is not a sweep directory (no readable sweep.json: %s)", dir, je.text);
  snprintf(s->out, sizeof s->out, "%s", dir);
  const char *m = json_string_value(json_object_get(o, "metric"));
  if (m && ss_sweep_metric_index(m) >= 0) snprintf(s->metric, sizeof s->metric, "%s", m);
  s->theory = json_is_true(json_object_get(o, "theory"));
  const char *ref = json_string_value(json_object_get(o, "reference"));
  if (ref && ref[0]) snprintf(s->reference, sizeof s->reference, "%s/%s", dir, ref);
  const char *cmd = json_string_value(json_object_get(o, "command"));
  if (cmd) snprintf(s->command, sizeof s->command, "%s", cmd);
  json_t *ax = json_object_get(o, "axes");
  size_t i;
  json_t *a;
  int rc = SS_OK;
  json_array_foreach(ax, i, a) {
    if (s->naxes == SS_SWEEP_MAX_AXES) break;
    ss_sweep_axis *A = &s->axes[s->naxes];
    const char *k = json_string_value(json_object_get(a, "key"));
    const char *l = json_string_value(json_object_get(a, "label"));
    json_t *v = json_object_get(a, "values");
    if (!k || !json_is_array(v)) {
      rc = ss_seterr(err, SS_EINPUT, "sweep.json in '%s': malformed axis %zu", dir, i);
      break;
    }
    snprintf(A->key, sizeof A->key, "%s", k);
    snprintf(A->label, sizeof A->label, "%s", l ? l : k);
    A->n = (int)json_array_size(v);
    A->cap = A->n ? A->n : 1;
    A->values = calloc((size_t)A->cap, sizeof(char *));
    for (int j = 0; j < A->n; j++) {
      const char *sv = json_string_value(json_array_get(v, (size_t)j));
      A->values[j] = strdup(sv ? sv : "");
    }
    s->naxes++;
  }
  json_decref(o);
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
