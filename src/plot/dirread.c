/* What a directory holds, read like user input (plot_int.h): only regular files inside it
 * (io.h, src/util/indir.c), every JSON field type-checked, every number parsed, every count bounded. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot/plot_int.h"
#include "scansnap/io.h"

#define JSON_MAX (64u << 20) /* run.json, sweep.json, claims.json: far below this */

/* A file that must be a regular file when present: SS_OK with *present, or SS_EINPUT. */
static int optional_file(const char *dir, const char *rel, int *present, ss_err *err) {
  ss_in_kind k = ss_in_stat(dir, rel);
  *present = k == SS_IN_FILE;
  if (k == SS_IN_ABSENT) return SS_OK;
  if (k == SS_IN_FILE) return SS_OK;
  char *p = ss_in_file(dir, rel, err); /* fills the message */
  free(p);
  return SS_EINPUT;
}

json_t *ss_json_in(const char *dir, const char *rel, ss_err *err) {
  char *data;
  size_t n;
  if (ss_in_read(dir, rel, JSON_MAX, &data, &n, err)) return NULL;
  json_error_t je;
  json_t *o = json_loadb(data, n, 0, &je);
  free(data);
  if (!o || !json_is_object(o)) {
    char *p = ss_path_join(dir, rel);
    ss_seterr(err, SS_EINPUT, "'%s' is not a JSON object (%s)", p ? p : rel, o ? "another JSON value" : je.text);
    free(p);
    json_decref(o);
    return NULL;
  }
  return o;
}

const ss_verify_sub ss_verify_subs[SS_VERIFY_NSUBS] = {
    {"sgd", "SGD run (sgd/), theory run (theory/) dashed over it"},
    {"theory", "Theory run (theory/)"},
    {"text", "Language-model run (text/)"},
    {"joma_linear_uniform", "J1: JoMA's linear case, X uniform (joma_linear_uniform/)"},
    {"joma_linear_gaussian", "J1: JoMA's linear case, X gaussian (joma_linear_gaussian/)"},
    {"joma_toy", "J2: JoMA's nonlinear toy (joma_toy/)"},
    {"j3_l1", "J3: 1-layer language model (j3_l1/)"},
    {"j3_l2", "J3: 2-layer language model (j3_l2/)"},
};

int ss_dir_kind(const char *dir, int *kind, ss_err *err) {
  *kind = SS_KIND_NONE;
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return ss_seterr(err, SS_EINPUT, "'%s' is not a directory (expected a run, sweep or verify directory)", dir);
  int run, sweep, claims;
  int rc = optional_file(dir, "run.json", &run, err);
  if (!rc) rc = optional_file(dir, "sweep.json", &sweep, err);
  if (!rc) rc = optional_file(dir, "claims.json", &claims, err);
  if (rc) return rc;
  if (run && sweep)
    return ss_seterr(err, SS_EINPUT, "'%s' holds both run.json and sweep.json: not a directory scansnap wrote as one thing", dir);
  if (run) *kind = SS_KIND_RUN;
  else if (sweep) *kind = SS_KIND_SWEEP;
  else if (claims) {
    for (int i = 0; i < SS_VERIFY_NSUBS; i++) {
      char rel[64];
      snprintf(rel, sizeof rel, "%s/run.json", ss_verify_subs[i].name);
      if (ss_in_stat(dir, rel) == SS_IN_FILE) *kind = SS_KIND_VERIFY;
    }
    if (!*kind)
      return ss_seterr(err, SS_EINPUT, "'%s' has claims.json but none of verify's runs (sgd/, theory/, text/, joma_*/, j3_*/ with run.json, as real folders)", dir);
  } else {
    return ss_seterr(err, SS_EINPUT, "'%s' is neither a run directory (run.json), a sweep directory (sweep.json) nor verify's directory (claims.json)", dir);
  }
  return SS_OK;
}

#define CSV_MAX ((size_t)1 << 30) /* a sweep of 10^6 runs' sweep.csv is a few hundred MB */

int ss_csv_read_in(const char *dir, const char *name, ss_csv *t, ss_err *err) {
  memset(t, 0, sizeof *t);
  char *data, *p = ss_path_join(dir, name);
  size_t n;
  int rc = ss_in_read(dir, name, CSV_MAX, &data, &n, err);
  if (rc == SS_OK) rc = ss_csv_parse(data, n, p ? p : name, t, err);
  free(data);
  free(p);
  return rc;
}

/* ---- metrics.csv as numbers ---------------------------------------------------------------- */

int ss_numtab_col(const ss_numtab *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (!strcmp(t->names[i], name)) return i;
  return -1;
}

double ss_numtab_at(const ss_numtab *t, int row, int col) { return t->v[(size_t)row * t->ncols + col]; }

int ss_numtab_span(const ss_numtab *t, int col, int *first, int *last) {
  *first = *last = -1;
  for (int i = 0; i < t->nrows; i++)
    if (isfinite(ss_numtab_at(t, i, col))) {
      if (*first < 0) *first = i;
      *last = i;
    }
  return *first >= 0;
}

void ss_numtab_free(ss_numtab *t) {
  for (int i = 0; i < t->ncols && t->names; i++) free(t->names[i]);
  free(t->names);
  free(t->v);
  memset(t, 0, sizeof *t);
}

static int numtab_read(const char *dir, const char *name, ss_numtab *t, ss_err *err) {
  memset(t, 0, sizeof *t);
  ss_csv c;
  int rc = ss_csv_read_in(dir, name, &c, err);
  if (rc) return rc;
  t->ncols = c.ncols;
  t->nrows = c.nrows;
  t->names = calloc((size_t)(c.ncols ? c.ncols : 1), sizeof(char *));
  t->v = malloc(sizeof(double) * ((size_t)c.nrows * (size_t)c.ncols + 1));
  if (!t->names || !t->v) {
    ss_csv_free(&c);
    ss_numtab_free(t);
    return ss_seterr(err, SS_ERUN, "out of memory reading '%s/%s'", dir, name);
  }
  for (int j = 0; j < c.ncols; j++) t->names[j] = strdup(ss_is_ident(c.head[j]) ? c.head[j] : "");
  for (int r = 0; r < c.nrows; r++)
    for (int j = 0; j < c.ncols; j++) {
      double x;
      t->v[(size_t)r * c.ncols + j] = ss_parse_num(ss_csv_cell(&c, r, j), &x) ? x : NAN;
    }
  ss_csv_free(&c);
  for (int j = 0; j < t->ncols; j++)
    if (!t->names[j]) {
      ss_numtab_free(t);
      return ss_seterr(err, SS_ERUN, "out of memory");
    }
  return SS_OK;
}

/* ---- a run --------------------------------------------------------------------------------- */

/* A short word from JSON (status, command, model): lower-case letters and '_' only, else "?". */
static void json_word(json_t *o, const char *key, char *dst, size_t n) {
  const char *s = json_string_value(json_object_get(o, key));
  int ok = s && *s && strlen(s) < n;
  for (const char *c = s; ok && *c; c++) ok = (*c >= 'a' && *c <= 'z') || *c == '_';
  snprintf(dst, n, "%s", ok ? s : "?");
}

void ss_rundir_free(ss_rundir *r) {
  ss_numtab_free(&r->m);
  if (r->has_dyn) ss_st_free(&r->dyn);
  memset(r, 0, sizeof *r);
}

static int load_dynamics(ss_rundir *r, ss_err *err) {
  int present;
  int rc = optional_file(r->dir, "dynamics.safetensors", &present, err);
  if (rc || !present) return rc;
  char *p = ss_in_file(r->dir, "dynamics.safetensors", err);
  if (!p) return SS_EINPUT;
  rc = ss_safetensors_read(p, &r->dyn, err);
  free(p);
  if (rc) return rc;
  const ss_tensor *ts = ss_st_get(&r->dyn, "steps"), *tc = ss_st_get(&r->dyn, "c"), *tp = ss_st_get(&r->dyn, "prob");
  if (!ts || !tc || !tp || ts->dtype != SS_I64 || ts->ndim != 1 || tc->dtype != SS_F64 || tc->ndim != 3 || tp->dtype != SS_F64 ||
      tp->ndim != 2 || tc->shape[0] != ts->shape[0] || tp->shape[0] != tc->shape[1] || tp->shape[1] != tc->shape[2] ||
      tc->shape[0] > 1000000 || tc->shape[1] > 100000 || tc->shape[2] > 10000000) {
    ss_st_free(&r->dyn);
    return ss_seterr(err, SS_EINPUT, "'%s/dynamics.safetensors': expected tensors steps (I64 [S]), c (F64 [S, N, M]), prob (F64 [N, M])", r->dir);
  }
  r->S = (int)tc->shape[0];
  r->N = (int)tc->shape[1];
  r->M = (int)tc->shape[2];
  if (r->N < 1 || r->S < 1 || r->M < 1) { /* a language-model run has no classes */
    ss_st_free(&r->dyn);
    return SS_OK;
  }
  r->has_dyn = 1;
  return SS_OK;
}

/* The toy's targets from joma.safetensors (optional: a run that stopped has none). */
static int load_mu(ss_rundir *r, ss_err *err) {
  int present;
  int rc = optional_file(r->dir, "joma.safetensors", &present, err);
  if (rc || !present) return rc;
  char *p = ss_in_file(r->dir, "joma.safetensors", err);
  if (!p) return SS_EINPUT;
  ss_stfile f;
  rc = ss_safetensors_read(p, &f, err);
  free(p);
  if (rc) return rc;
  const ss_tensor *t = ss_st_get(&f, "mu");
  if (!t || t->dtype != SS_F64 || t->ndim != 1 || t->shape[0] < 1) {
    ss_st_free(&f);
    return ss_seterr(err, SS_EINPUT, "'%s/joma.safetensors': expected a tensor mu (F64 [d])", r->dir);
  }
  r->nmu = t->shape[0] < 64 ? (int)t->shape[0] : 64;
  memcpy(r->mu, t->data, sizeof(double) * (size_t)r->nmu);
  ss_st_free(&f);
  return SS_OK;
}

int ss_rundir_load(const char *dir, ss_rundir *r, ss_err *err) {
  memset(r, 0, sizeof *r);
  if (strlen(dir) >= sizeof r->dir) return ss_seterr(err, SS_EINPUT, "path '%.64s...' is longer than %d bytes", dir, SS_PATH_MAX - 1);
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  json_t *o = ss_json_in(dir, "run.json", err);
  if (!o) return SS_EINPUT;
  json_word(o, "status", r->status, sizeof r->status);
  json_word(o, "command", r->command, sizeof r->command);
  json_word(o, "model", r->model, sizeof r->model);
  char *e = ss_text_clean(json_string_value(json_object_get(o, "error")), 200);
  snprintf(r->error, sizeof r->error, "%s", e ? e : "");
  free(e);
  json_decref(o);
  ss_config_defaults(&r->cfg);
  int present;
  int rc = optional_file(dir, "config.yaml", &present, err);
  if (rc) return rc;
  if (present) {
    char *p = ss_path_join(dir, "config.yaml");
    ss_err e2;
    ss_seterr(&e2, SS_ERUN, "out of memory");
    /* a config.yaml this version cannot read still leaves the run plottable */
    r->have_cfg = p && ss_config_load_yaml(&r->cfg, p, &e2) == SS_OK;
    free(p);
    if (!r->have_cfg) {
      ss_config_defaults(&r->cfg);
      snprintf(r->cfg_note, sizeof r->cfg_note, "%.190s", e2.msg);
    }
  }
  if (ss_in_stat(dir, "metrics.csv") == SS_IN_ABSENT && strcmp(r->status, "complete")) {
    /* a run that failed or stopped before its first row: what run.json says is all there is */
  } else if ((rc = numtab_read(dir, "metrics.csv", &r->m, err))) {
    ss_rundir_free(r);
    return rc;
  } else if (ss_numtab_col(&r->m, "step") != 0) {
    ss_rundir_free(r);
    return ss_seterr(err, SS_EINPUT, "'%s/metrics.csv' does not start with a 'step' column", dir);
  }
  r->joma = !strcmp(r->model, "joma_linear") ? SS_MODEL_JOMA_LINEAR : !strcmp(r->model, "joma_toy") ? SS_MODEL_JOMA_TOY : 0;
  r->lm = !r->joma && ss_numtab_col(&r->m, "attn_entropy") >= 0;
  if (r->joma == SS_MODEL_JOMA_TOY && (rc = load_mu(r, err))) {
    ss_numtab_free(&r->m);
    return rc;
  }
  if ((rc = load_dynamics(r, err))) {
    ss_numtab_free(&r->m);
    return rc;
  }
  static const char *const methods[] = {"SGD", "Adam", "AdamW"};
  const char *label = "SGD";
  if (r->joma) label = "";
  else if (!strcmp(r->command, "theory")) label = "theory";
  else if (r->have_cfg && r->cfg.opt.method >= 0 && r->cfg.opt.method < 3) label = methods[r->cfg.opt.method];
  snprintf(r->label, sizeof r->label, "%s", label);
  return SS_OK;
}

/* Keys a theory run may differ in from the run it is drawn over: where the data come from,
 * sampling, bookkeeping, precision; the learning rates are compared as resolved. */
static int dynamics_key(const char *name) {
  static const char *const skip[] = {"data.path", "data.cache", "data.sequences", "data.classes", "data.min_freq",
                                     "data.max_vocab", "model.precision", "opt.lr", "opt.lr_z", "opt.lr_y",
                                     "opt.lr_y_multi_on_z"};
  if (strncmp(name, "data.", 5) && strncmp(name, "model.", 6) && strncmp(name, "opt.", 4)) return 0;
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
    if (!strcmp(name, skip[i])) return 0;
  return 1;
}

int ss_rundir_same_dynamics(const ss_rundir *r, const ss_rundir *t, ss_err *err) {
  if (!r->has_dyn || !t->has_dyn)
    return ss_seterr(err, SS_EINPUT, "key 'theory': '%s' and '%s' must both be runs on classes (dynamics.safetensors with c_n)", r->dir, t->dir);
  if (r->N != t->N || r->M != t->M)
    return ss_seterr(err, SS_EINPUT, "key 'theory': runs '%s' (N = %d, M = %d) and '%s' (N = %d, M = %d) have different class tables", r->dir,
                     r->N, r->M, t->dir, t->N, t->M);
  const double *pa = ss_st_get(&r->dyn, "prob")->data, *pb = ss_st_get(&t->dyn, "prob")->data;
  for (size_t i = 0; i < (size_t)r->N * r->M; i++)
    if (!(fabs(pa[i] - pb[i]) <= 1e-12))
      return ss_seterr(err, SS_EINPUT, "key 'theory': runs '%s' and '%s' have different class tables (P(l|n) of class %zu differs)", r->dir, t->dir,
                       i / (size_t)r->M);
  if (!r->have_cfg || !t->have_cfg)
    return ss_seterr(err, SS_EINPUT, "key 'theory': cannot compare the configurations: '%s/config.yaml' is missing or unreadable", r->have_cfg ? t->dir : r->dir);
  char diff[640] = "";
  size_t used = 0;
  int ndiff = 0;
  double lz[2] = {ss_config_lr_z(&r->cfg), ss_config_lr_z(&t->cfg)}, ly[2] = {ss_config_lr_y(&r->cfg), ss_config_lr_y(&t->cfg)};
  if (lz[0] != lz[1]) used += (size_t)snprintf(diff + used, sizeof diff - used, "%slr_z %g here, %g there", ndiff++ ? "; " : "", lz[0], lz[1]);
  if (ly[0] != ly[1] && used < sizeof diff)
    used += (size_t)snprintf(diff + used, sizeof diff - used, "%slr_y %g here, %g there", ndiff++ ? "; " : "", ly[0], ly[1]);
  int nk;
  const ss_keydef *keys = ss_config_keys(&nk);
  for (int i = 0; i < nk && used < sizeof diff; i++) {
    if (!dynamics_key(keys[i].name)) continue;
    char a[SS_PATH_MAX + 64], b[SS_PATH_MAX + 64];
    ss_config_format(&r->cfg, &keys[i], a, sizeof a);
    ss_config_format(&t->cfg, &keys[i], b, sizeof b);
    if (strcmp(a, b)) {
      if (ndiff < 4) used += (size_t)snprintf(diff + used, sizeof diff - used, "%s%s %.40s here, %.40s there", ndiff ? "; " : "", keys[i].name, a, b);
      ndiff++;
    }
  }
  if (ndiff)
    return ss_seterr(err, SS_EINPUT, "key 'theory': '%s' is not of the configuration of '%s' (%s%s); make it with `scansnap theory %s/config.yaml`", t->dir,
                     r->dir, diff, ndiff > 4 ? "; ..." : "", r->dir);
  return SS_OK;
}

/* ---- a sweep ------------------------------------------------------------------------------- */

static int bad(ss_err *err, const char *dir, const char *what) {
  return ss_seterr(err, SS_EINPUT, "'%s/sweep.json': %s", dir, what);
}

/* A value as sweep.json holds it: a non-empty string of at most 256 bytes, no control character. */
static int good_value(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 256) return 0;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    if (*c < 0x20 || *c == 0x7f) return 0;
  return 1;
}

static long count_field(json_t *o, const char *key, long max, int *ok) {
  json_t *v = json_object_get(o, key);
  if (!v) return -1;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
    *ok = 0;
    return -1;
  }
  return (long)json_integer_value(v);
}

int ss_sweep_dir_load(const char *dir, ss_sweep *s, ss_sweep_info *info, ss_err *err) {
  ss_sweep_init(s);
  memset(info, 0, sizeof *info);
  json_t *o = ss_json_in(dir, "sweep.json", err);
  if (!o) return SS_EINPUT;
  int rc = SS_OK;
  char msg[400];
  json_t *axes = json_object_get(o, "axes");
  int nax = json_is_array(axes) ? (int)json_array_size(axes) : -1;
  long np = 1;
  int naxes_ok = nax >= 0 && nax <= SS_SWEEP_MAX_AXES;
  if (!naxes_ok) {
    snprintf(msg, sizeof msg, "'axes' must be a list of at most %d axes", SS_SWEEP_MAX_AXES);
    rc = bad(err, dir, msg);
  }
  int nvals[SS_SWEEP_MAX_AXES];
  const char *keys[SS_SWEEP_MAX_AXES];
  for (int a = 0; rc == SS_OK && a < nax; a++) {
    json_t *ax = json_array_get(axes, (size_t)a);
    const char *k = json_string_value(json_object_get(ax, "key"));
    const char *l = json_string_value(json_object_get(ax, "label"));
    json_t *v = json_object_get(ax, "values");
    if (!json_is_object(ax) || !k || !ss_config_find(k) || strlen(k) >= sizeof s->axes[0].key) {
      snprintf(msg, sizeof msg, "axis %d: 'key' must be a configuration key", a + 1);
      rc = bad(err, dir, msg);
    } else if (l && (!ss_is_ident(l) || strlen(l) >= sizeof s->axes[0].label)) {
      snprintf(msg, sizeof msg, "axis %d (%s): 'label' must be a name ([A-Za-z0-9_.])", a + 1, k);
      rc = bad(err, dir, msg);
    } else if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > SS_SWEEP_MAX_POINTS) {
      snprintf(msg, sizeof msg, "axis %d (%s): 'values' must be a list of 1 to %d values", a + 1, k, SS_SWEEP_MAX_POINTS);
      rc = bad(err, dir, msg);
    } else {
      for (size_t i = 0; rc == SS_OK && i < json_array_size(v); i++) {
        const char *sv = json_string_value(json_array_get(v, i));
        if (!sv || !good_value(sv)) {
          snprintf(msg, sizeof msg, "axis %d (%s): value %zu must be a non-empty string of at most 256 characters without control characters", a + 1, k, i + 1);
          rc = bad(err, dir, msg);
        }
      }
      for (int b = 0; rc == SS_OK && b < a; b++)
        if (!strcmp(ss_config_canonical(keys[b]), ss_config_canonical(k))) {
          snprintf(msg, sizeof msg, "key %s is swept twice", k);
          rc = bad(err, dir, msg);
        }
      if (rc == SS_OK) {
        nvals[a] = (int)json_array_size(v);
        keys[a] = k;
        if (np > SS_SWEEP_MAX_POINTS / nvals[a]) {
          snprintf(msg, sizeof msg, "the grid has more than %d points", SS_SWEEP_MAX_POINTS);
          rc = bad(err, dir, msg);
        }
        np *= nvals[a];
      }
    }
  }
  int ok = 1;
  if (rc == SS_OK) {
    info->npoints = count_field(o, "npoints", SS_SWEEP_MAX_POINTS, &ok);
    long lim = info->npoints >= 0 ? info->npoints : np;
    info->complete = count_field(o, "complete", lim, &ok);
    info->failed = count_field(o, "failed", lim, &ok);
    if (!ok || (info->npoints >= 0 && info->npoints != np))
      rc = bad(err, dir, "'npoints', 'complete' and 'failed' must be whole numbers within the grid's size");
  }
  const char *metric = json_string_value(json_object_get(o, "metric"));
  if (rc == SS_OK && json_object_get(o, "metric") && (!metric || !ss_is_ident(metric)))
    rc = bad(err, dir, "'metric' must be a metric name ([A-Za-z0-9_])");
  const char *ref = json_string_value(json_object_get(o, "reference"));
  if (rc == SS_OK && json_object_get(o, "reference") && (!ref || (ref[0] && (strchr(ref, '/') || !strcmp(ref, ".") || !strcmp(ref, "..") || strlen(ref) > 255))))
    rc = bad(err, dir, "'reference' must be the name of a file in the sweep directory");
  if (rc == SS_OK && ref && ref[0] && ss_in_stat(dir, ref) == SS_IN_OTHER) {
    char *p = ss_in_file(dir, ref, err);
    free(p);
    rc = SS_EINPUT;
  }
  json_t *th = json_object_get(o, "theory");
  if (rc == SS_OK && th && !json_is_boolean(th)) rc = bad(err, dir, "'theory' must be true or false");
  info->theory = json_is_true(th);
  int cfg_present = 0;
  if (rc == SS_OK) rc = optional_file(dir, "config.yaml", &cfg_present, err);
  if (rc == SS_OK && (rc = ss_sweep_load_dir(s, dir, err)) == SS_OK) {
    /* the loader read the file again: it must have seen what was checked */
    int same = s->naxes == nax;
    for (int a = 0; same && a < nax; a++) same = s->axes[a].n == nvals[a] && !strcmp(s->axes[a].key, keys[a]);
    if (!same) {
      ss_sweep_free(s);
      rc = bad(err, dir, "changed while it was being read");
    } else {
      snprintf(s->metric, sizeof s->metric, "%s", metric && metric[0] ? metric : "entropy_distinct");
      if (ref && ref[0] && ss_in_stat(dir, ref) == SS_IN_FILE) snprintf(s->reference, sizeof s->reference, "%s", ref);
      else s->reference[0] = 0;
    }
  }
  json_decref(o);
  return rc;
}
