/* The sweep grid: axes from key=v1,v2 / key=a:b[:step] arguments and YAML lists, the
 * configuration and run-directory name of every point. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/sweep.h"
#include "scansnap/train.h"

void ss_sweep_init(ss_sweep *s) {
  memset(s, 0, sizeof *s);
  ss_config_defaults(&s->base);
  snprintf(s->metric, sizeof s->metric, "entropy_distinct");
  s->nranks = 1;
  s->local_ranks = 1;
}

static void axis_free(ss_sweep_axis *a) {
  for (int i = 0; i < a->n; i++) free(a->values[i]);
  free(a->values);
  memset(a, 0, sizeof *a);
}

void ss_sweep_free(ss_sweep *s) {
  for (int i = 0; i < s->naxes; i++) axis_free(&s->axes[i]);
  s->naxes = 0;
}

int ss_sweep_axis_of(const ss_sweep *s, const char *key) {
  const char *c = ss_config_canonical(key);
  for (int i = 0; i < s->naxes; i++)
    if (!strcmp(s->axes[i].key, c)) return i;
  return -1;
}

static void drop_axis(ss_sweep *s, int i) {
  axis_free(&s->axes[i]);
  memmove(&s->axes[i], &s->axes[i + 1], sizeof s->axes[0] * (size_t)(s->naxes - i - 1));
  s->naxes--;
  memset(&s->axes[s->naxes], 0, sizeof s->axes[0]);
}

/* Appends a value; the array grows geometrically, so a range of a million values (the most
 * a grid takes) costs a few dozen reallocations, not a million. */
static int push_value(ss_sweep_axis *a, const char *v, size_t len) {
  if (a->n >= a->cap) {
    const int cap = a->n < 4 ? 8 : 2 * a->n;
    char **nv = realloc(a->values, sizeof(char *) * (size_t)cap);
    if (!nv) return 0;
    a->values = nv;
    a->cap = cap;
  }
  a->values[a->n] = strndup(v, len);
  if (!a->values[a->n]) return 0;
  a->n++;
  return 1;
}

static int parse_num(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return end != s && *end == 0 && !errno && isfinite(*v);
}

/* a:b[:step], inclusive of b: a, a+step, ..., the last value <= b (within 1e-9 step). */
static int expand_range(ss_sweep_axis *a, const ss_keydef *k, const char *arg, const char *spec, ss_err *err) {
  char buf[256];
  if (strlen(spec) >= sizeof buf) return ss_seterr(err, SS_EINPUT, "sweep argument '%s': range too long", arg);
  strcpy(buf, spec);
  char *part[4];
  int np = 0;
  char *p = buf;
  for (;;) {
    char *c = strchr(p, ':');
    if (np == 3) return ss_seterr(err, SS_EINPUT, "sweep argument '%s': range '%s' has more than 3 parts (expected a:b or a:b:step)", arg, spec);
    part[np++] = p;
    if (!c) break;
    *c = 0;
    p = c + 1;
  }
  if (np < 2) return ss_seterr(err, SS_EINPUT, "sweep argument '%s': '%s' is not a range a:b[:step]", arg, spec);
  double v[3] = {0, 0, 1};
  for (int i = 0; i < np; i++) {
    if (!parse_num(part[i], &v[i]))
      return ss_seterr(err, SS_EINPUT, "sweep argument '%s': '%s' in range '%s' is not a number", arg, part[i], spec);
    if (k->type == SS_KEY_INT && v[i] != floor(v[i]))
      return ss_seterr(err, SS_EINPUT, "sweep argument '%s': '%s' in range '%s' is not an integer (key '%s' is an integer)", arg, part[i], spec, k->name);
  }
  if (!(v[2] > 0)) return ss_seterr(err, SS_EINPUT, "sweep argument '%s': step '%s' of range '%s' must be positive", arg, part[2], spec);
  if (v[1] < v[0]) return ss_seterr(err, SS_EINPUT, "sweep argument '%s': range '%s' is empty (end %s below start %s)", arg, spec, part[1], part[0]);
  double cnt = floor((v[1] - v[0]) / v[2] + 1e-9) + 1;
  if (cnt > SS_SWEEP_MAX_POINTS) return ss_seterr(err, SS_EINPUT, "sweep argument '%s': range '%s' has %.0f values (at most %d)", arg, spec, cnt, SS_SWEEP_MAX_POINTS);
  for (long i = 0; i < (long)cnt; i++) {
    char t[64];
    double x = v[0] + (double)i * v[2];
    if (k->type == SS_KEY_INT)
      snprintf(t, sizeof t, "%.0f", x);
    else
      snprintf(t, sizeof t, "%.12g", x); /* 0.1:0.3:0.1 gives 0.3, not 0.30000000000000004 */
    if (!push_value(a, t, strlen(t))) return ss_seterr(err, SS_ERUN, "out of memory");
  }
  return SS_OK;
}

/* A value as given: the text, and whether it was written plain (so "a:b" on a numeric key is
 * a range) or quoted / in brackets (one value, whatever it holds). */
typedef struct {
  char *text;
  int plain;
} token;

static void tokens_free(token *t, int n) {
  for (int i = 0; i < n; i++) free(t[i].text);
  free(t);
}

static int is_numeric(const ss_keydef *k) { return k->type == SS_KEY_INT || k->type == SS_KEY_DOUBLE; }
static int is_range(const ss_keydef *k, const token *t) { return t->plain && is_numeric(k) && strchr(t->text, ':'); }

/* Splits a command-line value at the commas outside quotes and brackets:
 *   a,b,c          three values (each a range a:b[:step] on a numeric key)
 *   "a,b" / 'a,b'  one value, as written between the quotes
 *   [a,b]          one list value "a,b" (keys whose value is a list: text.probe_steps) */
static int split_value(const char *arg, const ss_keydef *k, const char *v, token **out, int *nout, ss_err *err) {
  token *t = NULL;
  int n = 0, rc = SS_OK;
  const char *p = v;
  for (;;) {
    const char *start = p;
    int plain = 1;
    size_t len;
    if (*p == '"' || *p == '\'') {
      const char *close = strchr(p + 1, *p);
      if (!close) {
        rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': the quote %c opened in '%s' is not closed", arg, *p, v);
        break;
      }
      start = p + 1;
      len = (size_t)(close - start);
      plain = 0;
      p = close + 1;
    } else if (*p == '[') {
      const char *close = strchr(p, ']');
      if (!close) {
        rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': the bracket [ opened in '%s' is not closed", arg, v);
        break;
      }
      if (k->type != SS_KEY_LIST) {
        rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': key '%s' takes one value, not a list [..]; to sweep it write %s=a,b", arg, k->name, k->name);
        break;
      }
      start = p + 1;
      len = (size_t)(close - start);
      plain = 0;
      p = close + 1;
    } else {
      len = strcspn(p, ",");
      p += len;
    }
    if (*p && *p != ',') {
      rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': expected ',' after a quoted or [..] value in '%s'", arg, v);
      break;
    }
    if (plain && len == 0 && (n > 0 || *p == ',')) { /* "key=" alone is the empty value */
      rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': empty value in list '%s'", arg, v);
      break;
    }
    token *nt = realloc(t, sizeof *t * (size_t)(n + 1));
    if (!nt) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    t = nt;
    t[n].plain = plain;
    if (!(t[n].text = strndup(start, len))) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    n++;
    if (!*p) break;
    p++; /* the comma */
    if (!*p) {
      rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': empty value in list '%s'", arg, v);
      break;
    }
  }
  if (rc) {
    tokens_free(t, n);
    return rc;
  }
  *out = t;
  *nout = n;
  return SS_OK;
}

/* The axis of key k over the values t[0..n) (ranges expanded), replacing any earlier axis of k. */
static int set_axis(ss_sweep *s, const char *arg, const ss_keydef *k, const token *t, int n, ss_err *err) {
  ss_sweep_axis a;
  memset(&a, 0, sizeof a);
  snprintf(a.key, sizeof a.key, "%s", k->name);
  int rc = SS_OK;
  for (int i = 0; i < n && rc == SS_OK; i++) {
    if (is_range(k, &t[i]))
      rc = expand_range(&a, k, arg, t[i].text, err);
    else if (!push_value(&a, t[i].text, strlen(t[i].text)))
      rc = ss_seterr(err, SS_ERUN, "out of memory");
  }
  /* Each value must be a valid value of the key (type and range). */
  for (int i = 0; rc == SS_OK && i < a.n; i++) {
    ss_config tmp = s->base;
    ss_err e;
    if (ss_config_set(&tmp, k->name, a.values[i], &e))
      rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': value '%s': %s", arg, a.values[i], e.msg);
  }
  if (rc == SS_OK) {
    int prev;
    const int rep = ss_first_repeat((const char *const *)a.values, a.n, &prev);
    if (rep == -2)
      rc = ss_seterr(err, SS_ERUN, "out of memory");
    else if (rep >= 0)
      rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': value '%s' is listed twice", arg, a.values[rep]);
  }
  if (rc) {
    axis_free(&a);
    return rc;
  }
  int at = ss_sweep_axis_of(s, k->name);
  if (at >= 0) {
    axis_free(&s->axes[at]);
    s->axes[at] = a;
  } else {
    if (s->naxes == SS_SWEEP_MAX_AXES) {
      axis_free(&a);
      return ss_seterr(err, SS_EINPUT, "sweep argument '%s': at most %d swept keys", arg, SS_SWEEP_MAX_AXES);
    }
    s->axes[s->naxes++] = a;
  }
  return SS_OK;
}

/* Sweep options, not run keys. Returns 1 if handled (rc in *rc). */
static int sweep_option(ss_sweep *s, const char *key, const char *v, const char *arg, const char *base_dir, int *rc, ss_err *err) {
  *rc = SS_OK;
  if (!strcmp(key, "out")) {
    if (!*v)
      *rc = ss_seterr(err, SS_EINPUT, "sweep argument 'out=': expected a directory");
    else if (strlen(v) >= sizeof s->out)
      *rc = ss_seterr(err, SS_EINPUT, "sweep argument 'out=%.60s...': the directory is %zu bytes long; at most %zu", v, strlen(v),
                      sizeof s->out - 1);
    else
      snprintf(s->out, sizeof s->out, "%s", v);
    return 1;
  }
  if (!strcmp(key, "jobs") || !strcmp(key, "sweep.jobs")) {
    char *end;
    long j = strtol(v, &end, 10);
    if (end == v || *end || j < 0 || j > 4096)
      *rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': jobs must be an integer in [0, 4096] (0 = all cores)", arg);
    else
      s->jobs = (int)j;
    return 1;
  }
  if (!strcmp(key, "theory") || !strcmp(key, "sweep.theory")) {
    if (!strcmp(v, "true") || !strcmp(v, "1")) s->theory = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0")) s->theory = 0;
    else *rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': theory must be true or false", arg);
    return 1;
  }
  if (!strcmp(key, "reference") || !strcmp(key, "sweep.reference")) {
    if (v[0] == '/' || !base_dir || !v[0])
      snprintf(s->reference, sizeof s->reference, "%s", v);
    else
      snprintf(s->reference, sizeof s->reference, "%s/%s", base_dir, v);
    return 1;
  }
  if (!strcmp(key, "metric") || !strcmp(key, "sweep.metric")) {
    if (!ss_sweep_is_column_name(v))
      *rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': metric '%s' is not a column name (expected a metrics.csv column, e.g. entropy_distinct)", arg, v);
    else
      snprintf(s->metric, sizeof s->metric, "%s", v);
    return 1;
  }
  if (!strncmp(key, "sweep.", 6)) {
    *rc = ss_seterr(err, SS_EINPUT, "sweep argument '%s': unknown sweep option '%s' (expected sweep.reference, sweep.metric, sweep.jobs or sweep.theory)", arg, key);
    return 1;
  }
  return 0;
}

/* key = the values t[0..n): two or more, or a range, make an axis; one is a fixed key (and a
 * later fixed value drops an earlier axis of the key). */
static int sweep_set(ss_sweep *s, const char *key, const token *t, int n, const char *arg, const char *base_dir, ss_err *err) {
  int rc;
  while (*key == '+') key++;
  if (n == 1 && sweep_option(s, key, t[0].text, arg, base_dir, &rc, err)) return rc;
  const ss_keydef *k = ss_config_find(key);
  if (!k) {
    ss_err e;
    if (!strncmp(key, "sweep.", 6) || !strcmp(key, "out") || !strcmp(key, "jobs") || !strcmp(key, "theory") ||
        !strcmp(key, "reference") || !strcmp(key, "metric"))
      return ss_seterr(err, SS_EINPUT, "sweep argument '%s': sweep option '%s' takes one value", arg, key);
    ss_config_set(&s->base, key, "", &e); /* for its 'did you mean' */
    return ss_seterr(err, SS_EINPUT, "sweep argument '%s': %s", arg, e.msg);
  }
  if (n > 1 || is_range(k, &t[0])) return set_axis(s, arg, k, t, n, err);
  ss_err e;
  if ((rc = ss_config_set(&s->base, key, t[0].text, &e))) {
    if (t[0].plain && strchr(t[0].text, ',') && k->type != SS_KEY_LIST)
      return ss_seterr(err, rc, "sweep argument '%s': %s (to sweep it, give a list of values)", arg, e.msg);
    return ss_seterr(err, rc, "sweep argument '%s': %s", arg, e.msg);
  }
  int at = ss_sweep_axis_of(s, key);
  if (at >= 0) drop_axis(s, at); /* a later plain value overrides an earlier list */
  return SS_OK;
}

int ss_sweep_arg(ss_sweep *s, const char *arg, ss_err *err) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) return ss_seterr(err, SS_EINPUT, "sweep argument '%s' is not of the form key=value", arg);
  char key[256];
  size_t n = (size_t)(eq - arg);
  if (n >= sizeof key) return ss_seterr(err, SS_EINPUT, "sweep argument '%.60s...': key too long", arg);
  memcpy(key, arg, n);
  key[n] = 0;
  const char *k0 = key;
  while (*k0 == '+') k0++;
  const ss_keydef *k = ss_config_find(k0);
  if (!k) { /* a sweep option or an unknown key: its value as it is */
    token one = {(char *)(eq + 1), 1};
    return sweep_set(s, key, &one, 1, arg, NULL, err);
  }
  token *t;
  int nt, rc = split_value(arg, k, eq + 1, &t, &nt, err);
  if (rc) return rc;
  rc = sweep_set(s, key, t, nt, arg, NULL, err);
  tokens_free(t, nt);
  return rc;
}

/* In a YAML file a sequence is an axis (each item a value, a plain a:b[:step] a range); a
 * plain scalar a:b[:step] on a numeric key is an axis too (seed: 1:10); any other scalar is
 * one value, commas and all (text.probe_steps: "0,500,1000"). */
int ss_sweep_load_yaml(ss_sweep *s, const char *path, ss_err *err) {
  ss_yaml_pair *p;
  int n, rc = ss_yaml_load_pairs(path, &p, &n, err);
  if (rc) return rc;
  char dir[SS_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = 0;
  else
    strcpy(dir, ".");
  for (int i = 0; i < n && rc == SS_OK; i++) {
    char arg[SS_PATH_MAX + 300];
    snprintf(arg, sizeof arg, p[i].is_list ? "%s: [%s]" : "%s: %s", p[i].key, p[i].value);
    ss_err e;
    token one = {p[i].value, !p[i].quoted}, *t = &one;
    int nt = 1;
    if (p[i].is_list) {
      nt = p[i].nitems;
      t = calloc((size_t)(nt ? nt : 1), sizeof *t);
      if (!t) {
        rc = ss_seterr(err, SS_ERUN, "out of memory");
        break;
      }
      for (int j = 0; j < nt; j++) t[j] = (token){p[i].items[j].text, !p[i].items[j].quoted};
    }
    if (nt == 0)
      rc = ss_seterr(&e, SS_EINPUT, "an empty list has no value to sweep");
    else
      rc = sweep_set(s, p[i].key, t, nt, arg, dir, &e);
    if (t != &one) free(t); /* the texts belong to p */
    if (rc) ss_seterr(err, rc, "config file '%s' line %d: %s", path, p[i].line, e.msg);
  }
  ss_yaml_free_pairs(p, n);
  return rc;
}

long ss_sweep_npoints(const ss_sweep *s) {
  long n = 1;
  for (int i = 0; i < s->naxes; i++) {
    if (s->axes[i].n <= 0) return 0;
    if (n > (SS_SWEEP_MAX_POINTS + 1L) / s->axes[i].n) return SS_SWEEP_MAX_POINTS + 1L; /* no overflow, still too many */
    n *= s->axes[i].n;
  }
  return n > SS_SWEEP_MAX_POINTS ? SS_SWEEP_MAX_POINTS + 1L : n;
}

void ss_sweep_indices(const ss_sweep *s, long i, int *idx) {
  for (int a = s->naxes - 1; a >= 0; a--) {
    idx[a] = (int)(i % s->axes[a].n);
    i /= s->axes[a].n;
  }
}

/* Characters kept in directory names; others become '_'. */
static void put_safe(char *dst, size_t n, const char *src) {
  size_t k = strlen(dst);
  for (const char *p = src; *p && k + 1 < n; p++)
    dst[k++] = (isalnum((unsigned char)*p) || strchr("._-+=,", *p)) ? *p : '_';
  dst[k] = 0;
}

int ss_sweep_point(const ss_sweep *s, long i, ss_config *cfg, char *name, size_t n, ss_err *err) {
  int idx[SS_SWEEP_MAX_AXES];
  ss_sweep_indices(s, i, idx);
  *cfg = s->base;
  /* a sweep's runs keep the small files only and are synced to the disk once, at the end of
   * the sweep (ss_sweep_run), unless the sweep says otherwise (files=full, fsync=true): the
   * Figure-6 sweep writes 640 runs */
  if (!ss_config_is_set(&s->base, "files")) cfg->files = SS_FILES_LIGHT;
  if (!ss_config_is_set(&s->base, "fsync")) cfg->fsync = 0;
  if (name) name[0] = 0;
  for (int a = 0; a < s->naxes; a++) {
    const char *v = s->axes[a].values[idx[a]];
    int rc = ss_config_set(cfg, s->axes[a].key, v, err);
    if (rc) return rc;
    if (name) {
      if (a) put_safe(name, n, ",");
      put_safe(name, n, s->axes[a].label);
      put_safe(name, n, "=");
      put_safe(name, n, v);
    }
  }
  if (name && !name[0]) snprintf(name, n, "run");
  cfg->out[0] = 0;
  return ss_config_validate(cfg, err);
}

int ss_sweep_check(ss_sweep *s, ss_err *err) {
  /* labels: the last dotted part unless two swept keys share it */
  for (int a = 0; a < s->naxes; a++) {
    const char *dot = strrchr(s->axes[a].key, '.');
    const char *shortn = dot ? dot + 1 : s->axes[a].key;
    int clash = 0;
    for (int b = 0; b < s->naxes; b++) {
      if (b == a) continue;
      const char *d2 = strrchr(s->axes[b].key, '.');
      if (!strcmp(shortn, d2 ? d2 + 1 : s->axes[b].key)) clash = 1;
    }
    snprintf(s->axes[a].label, sizeof s->axes[a].label, "%s", clash ? s->axes[a].key : shortn);
  }
  long np = ss_sweep_npoints(s);
  if (np > SS_SWEEP_MAX_POINTS) {
    char sizes[512] = "";
    for (int a = 0; a < s->naxes; a++) {
      size_t L = strlen(sizes);
      snprintf(sizes + L, sizeof sizes - L, "%s%d %s", a ? " x " : "", s->axes[a].n, s->axes[a].label);
    }
    return ss_seterr(err, SS_EINPUT, "the grid has more than %d points (%s); a sweep runs at most %d", SS_SWEEP_MAX_POINTS, sizes,
                     SS_SWEEP_MAX_POINTS);
  }
  /* Run directory names: at most NAME_MAX bytes, and out/name must fit a path of SS_PATH_MAX
   * (checked before anything is created: mkdir would fail with ENAMETOOLONG half-way). The
   * longest name takes the longest value of every axis. */
  size_t longest = s->naxes ? (size_t)(s->naxes - 1) : 3; /* commas, or "run" */
  for (int a = 0; a < s->naxes; a++) {
    size_t mv = 0;
    for (int i = 0; i < s->axes[a].n; i++)
      if (strlen(s->axes[a].values[i]) > mv) mv = strlen(s->axes[a].values[i]);
    longest += strlen(s->axes[a].label) + 1 + mv;
  }
  if (longest > SS_SWEEP_NAME_MAX)
    return ss_seterr(err, SS_EINPUT, "the longest run directory name of this grid is %zu bytes; a name has at most %d (sweep fewer keys or shorter values)",
                     longest, SS_SWEEP_NAME_MAX);
  if (s->out[0] && strlen(s->out) + 1 + longest >= SS_PATH_MAX)
    return ss_seterr(err, SS_EINPUT, "sweep key 'out': '%.80s...' and the longest run directory name make a path of %zu bytes; at most %d",
                     s->out, strlen(s->out) + 1 + longest, SS_PATH_MAX - 1);
  int lm = 0; /* language-model and JoMA runs: their metrics.csv columns are known once they ran */
  for (long i = 0; i < np; i++) {
    ss_config c;
    ss_err e;
    char name[SS_PATH_MAX];
    if (ss_sweep_point(s, i, &c, name, sizeof name, &e)) return ss_seterr(err, SS_EINPUT, "grid point %s: %s", name, e.msg);
    lm |= !s->theory && c.model.type == SS_MODEL_TRANSFORMER && c.model.task == SS_TASK_LM;
    lm |= s->theory && SS_MODEL_IS_JOMA(c.model.type);
    if (!s->theory && SS_MODEL_IS_JOMA(c.model.type))
      return ss_seterr(err, SS_EINPUT, "key 'model.type': %s is one of JoMA's simulated systems: sweep it with theory=true (grid point %s)",
                       ss_config_model_name(c.model.type), name);
  }
  /* Values that differ as text but sanitise to the same name would share a directory. */
  for (int a = 0; a < s->naxes; a++) {
    const ss_sweep_axis *A = &s->axes[a];
    char **safe = calloc((size_t)(A->n ? A->n : 1), sizeof *safe);
    int rep = safe ? -1 : -2;
    for (int i = 0; rep == -1 && i < A->n; i++) {
      char x[256] = "";
      put_safe(x, sizeof x, A->values[i]);
      if (!(safe[i] = strdup(x))) rep = -2;
    }
    int j = 0;
    if (rep == -1) rep = ss_first_repeat((const char *const *)safe, A->n, &j);
    for (int i = 0; safe && i < A->n; i++) free(safe[i]);
    free(safe);
    if (rep == -2) return ss_seterr(err, SS_ERUN, "out of memory");
    if (rep >= 0)
      return ss_seterr(err, SS_EINPUT, "sweep key '%s': values '%s' and '%s' would share a run directory name", A->key, A->values[j], A->values[rep]);
  }
  /* The metric: a column of every run's metrics.csv (SS_METRIC_COLUMNS after step) for
   * synthetic and theory runs; language-model runs add theirs (checked after the runs). */
  char cols[] = SS_METRIC_COLUMNS, *save = NULL;
  int known = 0;
  strtok_r(cols, ",", &save); /* step */
  for (char *c = strtok_r(NULL, ",", &save); c; c = strtok_r(NULL, ",", &save)) known |= !strcmp(c, s->metric);
  if (!lm && !known)
    return ss_seterr(err, SS_EINPUT, "sweep key 'metric': '%s' is not a column of these runs' metrics.csv (%s)", s->metric,
                     strchr(SS_METRIC_COLUMNS, ',') + 1);
  return ss_sweep_check_reference(s, err);
}
