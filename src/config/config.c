/* Parsing, validating and printing configuration values; YAML through libyaml. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "scansnap/config.h"

/* The paper's names (decoder_only.py + Hydra) → ours. */
static const struct {
  const char *from, *to;
} aliases[] = {
    {"L", "data.T"},
    {"d", "model.d"},
    {"H", "model.H"},
    {"model.attn_include_base_token", "model.include_base_token"},
    {"lr", "opt.lr"},
};
static const struct {
  const char *from, *to;
} prefix_aliases[] = {{"dataset2.", "data."}, {"dataset.", "data."}, {"model2.", "model."}};

const char *ss_config_canonical(const char *name) {
  static _Thread_local char buf[256];
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].from) == 0) return aliases[i].to;
  for (size_t i = 0; i < sizeof prefix_aliases / sizeof prefix_aliases[0]; i++) {
    size_t n = strlen(prefix_aliases[i].from);
    if (strncmp(name, prefix_aliases[i].from, n) == 0) {
      snprintf(buf, sizeof buf, "%s%s", prefix_aliases[i].to, name + n);
      for (size_t j = 0; j < sizeof aliases / sizeof aliases[0]; j++)
        if (strcmp(buf, aliases[j].from) == 0) return aliases[j].to;
      return buf;
    }
  }
  return name;
}

const ss_keydef *ss_config_find(const char *name) {
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  const char *c = ss_config_canonical(name);
  for (int i = 0; i < n; i++)
    if (strcmp(k[i].name, c) == 0) return &k[i];
  return NULL;
}

static int key_index(const ss_keydef *k) {
  int n;
  return (int)(k - ss_config_keys(&n));
}

static size_t levenshtein(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t *row = malloc((lb + 1) * sizeof *row);
  if (!row) return (size_t)-1;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (a[i - 1] != b[j - 1]);
      size_t del = row[j] + 1, ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      prev = cur;
    }
  }
  size_t d = row[lb];
  free(row);
  return d;
}

/* 1 if the characters of a appear in b in order (a is a subsequence of b). */
static int in_order(const char *a, const char *b) {
  for (; *a && *b; b++)
    if (*a == *b) a++;
  return *a == 0;
}

static size_t common_prefix(const char *a, const char *b) {
  size_t n = 0;
  while (a[n] && a[n] == b[n]) n++;
  return n;
}

/* The key nearest to a name that is not one: fewest edits (to the whole name, or one more
 * than to the part after the section, so 'lr_zz' finds 'opt.lr_z'); among equals, a key that
 * holds the typed characters in order ('opt.lrz' is in 'opt.lr_z', not in 'opt.lr'), then the
 * longer common prefix, then the table's order. */
static const char *nearest_key(const char *name) {
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  const char *c = ss_config_canonical(name);
  const char *best = NULL;
  size_t bd = (size_t)-1, bp = 0;
  int bo = 0;
  for (int i = 0; i < n; i++) {
    size_t d = levenshtein(c, k[i].name);
    const char *dot = strrchr(k[i].name, '.');
    if (dot) {
      size_t d2 = levenshtein(c, dot + 1) + 1;
      if (d2 < d) d = d2;
    }
    const int o = in_order(c, k[i].name);
    const size_t p = common_prefix(c, k[i].name);
    if (d < bd || (d == bd && (o > bo || (o == bo && p > bp)))) {
      bd = d;
      bo = o;
      bp = p;
      best = k[i].name;
    }
  }
  return best;
}

static int parse_int(const char *s, long long *v) {
  char *end;
  errno = 0;
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return 0;
  long long x = strtoll(s, &end, 10);
  if (errno || end == s) {
    /* accept integral floats like 1e3 */
    double d = strtod(s, &end);
    if (end == s || !isfinite(d) || d != floor(d) || fabs(d) > 9.2e18) return 0;
    x = (long long)d;
  } else if (*end == '.' || *end == 'e' || *end == 'E') {
    double d = strtod(s, &end);
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9.2e18) return 0;
    x = (long long)d;
  }
  while (isspace((unsigned char)*end)) end++;
  if (*end) return 0;
  *v = x;
  return 1;
}

static int parse_double(const char *s, double *v) {
  char *end;
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return 0;
  errno = 0;
  double x = strtod(s, &end);
  if (end == s) return 0;
  while (isspace((unsigned char)*end)) end++;
  if (*end) return 0;
  *v = x;
  return 1;
}

static int parse_bool(const char *s, int *v) {
  static const char *t[] = {"true", "True", "TRUE", "1", "yes", "on"};
  static const char *f[] = {"false", "False", "FALSE", "0", "no", "off"};
  for (int i = 0; i < 6; i++) {
    if (strcmp(s, t[i]) == 0) return *v = 1, 1;
    if (strcmp(s, f[i]) == 0) return *v = 0, 1;
  }
  return 0;
}

static int parse_enum(const char *choices, const char *s, int *v) {
  int idx = 0;
  const char *p = choices;
  size_t ls = strlen(s);
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == ls && strncmp(p, s, len) == 0) return *v = idx, 1;
    idx++;
    if (!bar) break;
    p = bar + 1;
  }
  return 0;
}

static const char *enum_name(const char *choices, int v, char *buf, size_t n) {
  const char *p = choices;
  for (int i = 0; i < v && p; i++) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p) {
    snprintf(buf, n, "%d", v);
    return buf;
  }
  const char *bar = strchr(p, '|');
  size_t len = bar ? (size_t)(bar - p) : strlen(p);
  if (len >= n) len = n - 1;
  memcpy(buf, p, len);
  buf[len] = 0;
  return buf;
}

/* Length of the UTF-8 sequence at s (1..4), or 0 if it is not well-formed (overlong
 * forms, surrogates and code points above U+10FFFF are not). *cp gets the code point. */
static int utf8_seq(const unsigned char *s, unsigned *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  int n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
  if (!n) return 0;
  unsigned v = s[0] & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

/* Text values (paths) must survive config.yaml, which resuming reads back: YAML holds
 * only well-formed UTF-8, and a control character in a path is a mistake anyway. */
static int check_text(const char *key, const char *value, ss_err *err) {
  const unsigned char *p = (const unsigned char *)value;
  for (size_t i = 0; p[i];) {
    unsigned cp;
    int n = utf8_seq(p + i, &cp);
    if (!n) return ss_seterr(err, SS_EINPUT, "key '%s': value is not valid UTF-8 (byte %zu)", key, i + 1);
    if (cp < 0x20 || cp == 0x7F) return ss_seterr(err, SS_EINPUT, "key '%s': value contains the control character 0x%02x (byte %zu)", key, cp, i + 1);
    i += (size_t)n;
  }
  return SS_OK;
}

static int set_value(ss_config *c, const ss_keydef *k, const char *key, const char *value,
                     ss_err *err) {
  char *base = (char *)c + k->offset;
  int has_range = k->min <= k->max;
  switch (k->type) {
  case SS_KEY_INT: {
    long long v;
    if (!parse_int(value, &v))
      return ss_seterr(err, SS_EINPUT, "key '%s': '%s' is not an integer", key, value);
    if (has_range && (v < k->min || v > k->max))
      return ss_seterr(err, SS_EINPUT, "key '%s': %s is out of range [%.15g, %.15g]", key, value, k->min, k->max);
    if (k->offset == offsetof(ss_config, seed))
      *(long long *)base = v;
    else
      *(int *)base = (int)v;
    break;
  }
  case SS_KEY_DOUBLE: {
    double v;
    if (!parse_double(value, &v))
      return ss_seterr(err, SS_EINPUT, "key '%s': '%s' is not a number", key, value);
    if (!isfinite(v))
      return ss_seterr(err, SS_EINPUT, "key '%s': %s is not finite", key, value);
    if (has_range && (v < k->min || v > k->max)) {
      if (k->max >= 1e300)
        return ss_seterr(err, SS_EINPUT, "key '%s': %s is out of range (expected >= %.15g)", key, value, k->min);
      return ss_seterr(err, SS_EINPUT, "key '%s': %s is out of range [%.15g, %.15g]", key, value, k->min, k->max);
    }
    *(double *)base = v;
    break;
  }
  case SS_KEY_BOOL: {
    int v;
    if (!parse_bool(value, &v))
      return ss_seterr(err, SS_EINPUT, "key '%s': '%s' is not a boolean (true/false)", key, value);
    *(int *)base = v;
    break;
  }
  case SS_KEY_ENUM: {
    int v;
    if (!parse_enum(k->choices, value, &v))
      return ss_seterr(err, SS_EINPUT, "key '%s': '%s' is not one of %s", key, value, k->choices);
    *(int *)base = v;
    break;
  }
  case SS_KEY_STRING:
  case SS_KEY_LIST:
    if (check_text(key, value, err)) return SS_EINPUT;
    if (strlen(value) >= k->size)
      return ss_seterr(err, SS_EINPUT, "key '%s': value is longer than %zu characters", key, k->size - 1);
    strcpy(base, value);
    break;
  }
  return SS_OK;
}

void ss_config_defaults(ss_config *c) {
  memset(c, 0, sizeof *c);
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  for (int i = 0; i < n; i++) {
    ss_err e;
    /* every built-in default parses: test_config checks it (a failure here is a bug of the
     * key table, which the library reports by the test, not by ending the program) */
    (void)set_value(c, &k[i], k[i].name, k[i].def, &e);
  }
  memset(c->set, 0, sizeof c->set);
}

int ss_config_unknown_key(const char *key, ss_err *err) {
  const char *near = nearest_key(key);
  return ss_seterr(err, SS_EINPUT, "unknown key '%s' (did you mean '%s'? see 'scansnap --help')", key, near ? near : "?");
}

int ss_config_set(ss_config *c, const char *key, const char *value, ss_err *err) {
  const ss_keydef *k = ss_config_find(key);
  if (!k) return ss_config_unknown_key(key, err);
  int rc = set_value(c, k, key, value, err);
  if (rc == SS_OK) c->set[key_index(k)] = 1;
  return rc;
}

int ss_config_override(ss_config *c, const char *arg, ss_err *err) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    return ss_seterr(err, SS_EINPUT, "argument '%s' is not of the form key=value", arg);
  char key[256];
  size_t n = (size_t)(eq - arg);
  if (n >= sizeof key) return ss_seterr(err, SS_EINPUT, "argument '%.60s...': key too long", arg);
  memcpy(key, arg, n);
  key[n] = 0;
  /* Hydra's '+key=value' / '++key=value' forms mean the same here. */
  const char *k = key;
  while (*k == '+') k++;
  return ss_config_set(c, k, eq + 1, err);
}

const char *ss_config_model_name(int type) {
  static const char *const names[] = {"yz", "transformer", "joma_linear", "joma_toy"};
  return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "?";
}

int ss_config_is_set(const ss_config *c, const char *name) {
  const ss_keydef *k = ss_config_find(name);
  return k ? c->set[key_index(k)] : 0;
}

double ss_config_lr_z(const ss_config *c) {
  return ss_config_is_set(c, "opt.lr_z") ? c->opt.lr_z : c->opt.lr;
}

double ss_config_lr_y(const ss_config *c) {
  return ss_config_is_set(c, "opt.lr_y") ? c->opt.lr_y : ss_config_lr_z(c) * c->opt.lr_y_multi_on_z;
}

int ss_config_validate(ss_config *c, ss_err *err) {
  /* The built-in learning rate (1) is the Y/Z model's of the paper's Figure 4; the transformer
   * runs away with it (loss 6.4 -> 2e12 in 5 steps on the Figure-4 data) and trains with 0.1,
   * so a transformer run that sets no learning rate gets that instead (config.yaml records it). */
  if (c->model.type == SS_MODEL_TRANSFORMER && !ss_config_is_set(c, "opt.lr") && !ss_config_is_set(c, "opt.lr_z") &&
      !ss_config_is_set(c, "opt.lr_y"))
    c->opt.lr = SS_TF_DEFAULT_LR;
  /* JoMA's systems (SPEC §6) have their own step sizes, lengths and sizes; a key not given
   * takes the system's value (config.yaml records it). Plain SGD: no momentum unless asked. */
  if (SS_MODEL_IS_JOMA(c->model.type)) {
    const int lin = c->model.type == SS_MODEL_JOMA_LINEAR;
    if (!ss_config_is_set(c, "opt.lr") && !ss_config_is_set(c, "opt.lr_z") && !ss_config_is_set(c, "opt.lr_y")) c->opt.lr = lin ? 0.1 : 0.02;
    if (!ss_config_is_set(c, "opt.momentum")) c->opt.momentum = 0;
    if (!ss_config_is_set(c, "niter")) c->niter = lin ? 2000 : 5000;
    if (!ss_config_is_set(c, "save_per_minibatch")) c->save_per_minibatch = 1;
    if (!ss_config_is_set(c, "joma.d") || c->joma.d == 0) c->joma.d = lin ? 30 : 10;
    if (!ss_config_is_set(c, "joma.T") || c->joma.T == 0) c->joma.T = lin ? 0.5 : 3;
  }
  double lz = ss_config_lr_z(c), ly = ss_config_lr_y(c);
  const char *kz = ss_config_is_set(c, "opt.lr_z") ? "opt.lr_z" : "opt.lr";
  if (!(lz > 0) || !isfinite(lz))
    return ss_seterr(err, SS_EINPUT, "key '%s': learning rate %g must be positive and finite", kz, lz);
  if (!(ly > 0) || !isfinite(ly))
    return ss_seterr(err, SS_EINPUT, "key '%s': learning rate %g must be positive and finite",
                     ss_config_is_set(c, "opt.lr_y") ? "opt.lr_y" : "opt.lr_y_multi_on_z", ly);
  if (c->niter < 0) return ss_seterr(err, SS_EINPUT, "key 'niter': must be >= 0");
  if (c->data.unique_unnormalized_min > c->data.unique_unnormalized_max)
    return ss_seterr(err, SS_EINPUT, "key 'data.unique_unnormalized_min': %g is above data.unique_unnormalized_max %g",
                     c->data.unique_unnormalized_min, c->data.unique_unnormalized_max);
  if (c->model.type == SS_MODEL_TRANSFORMER && c->model.d % c->model.H != 0)
    return ss_seterr(err, SS_EINPUT, "key 'model.H': %d heads do not divide model.d = %d", c->model.H, c->model.d);
  if (!c->data.classes[0] && c->data.num_unique_per_next == 0 && c->data.num_common == 0 && c->data.num_common_per_last == 0)
    return ss_seterr(err, SS_EINPUT, "key 'data.num_unique_per_next': classes have no contextual tokens (num_common, num_common_per_last and num_unique_per_next are all 0)");
  return SS_OK;
}

void ss_config_format(const ss_config *c, const ss_keydef *k, char *buf, size_t n) {
  const char *base = (const char *)c + k->offset;
  switch (k->type) {
  case SS_KEY_INT:
    if (k->offset == offsetof(ss_config, seed))
      snprintf(buf, n, "%lld", *(const long long *)base);
    else
      snprintf(buf, n, "%d", *(const int *)base);
    break;
  case SS_KEY_DOUBLE: {
    /* the shortest of 15, 16, 17 significant digits that reads back to the same double */
    const double v = *(const double *)base;
    for (int digits = 15; digits <= 17; digits++) {
      snprintf(buf, n, "%.*g", digits, v);
      if (strtod(buf, NULL) == v) break;
    }
    break;
  }
  case SS_KEY_BOOL: snprintf(buf, n, "%s", *(const int *)base ? "true" : "false"); break;
  case SS_KEY_ENUM: enum_name(k->choices, *(const int *)base, buf, n); break;
  case SS_KEY_STRING:
  case SS_KEY_LIST: snprintf(buf, n, "%s", base); break;
  }
}

static void yaml_scalar(FILE *f, const ss_keydef *k, const char *v) {
  if (k->type != SS_KEY_STRING && k->type != SS_KEY_LIST) {
    fputs(v, f);
    return;
  }
  /* double-quoted, ASCII only: non-ASCII code points as backslash-u / backslash-U escapes,
   * so the file reads back the same whatever YAML does with line-break-like characters
   * (U+0085, U+2028) or characters it does not allow raw (U+0080..U+009F) */
  fputc('"', f);
  const unsigned char *p = (const unsigned char *)v;
  while (*p) {
    unsigned cp;
    int n = utf8_seq(p, &cp);
    if (!n) { /* not reachable through ss_config_set; keep the file well-formed anyway */
      fputs("\\uFFFD", f);
      p++;
      continue;
    }
    if (cp == '"' || cp == '\\')
      fprintf(f, "\\%c", (int)cp);
    else if (cp < 0x20 || cp == 0x7F)
      fprintf(f, "\\x%02X", cp);
    else if (cp < 0x80)
      fputc((int)cp, f);
    else if (cp <= 0xFFFF)
      fprintf(f, "\\u%04X", cp);
    else
      fprintf(f, "\\U%08X", cp);
    p += n;
  }
  fputc('"', f);
}

int ss_config_write_yaml(const ss_config *c_in, FILE *f) {
  /* Every key is written, so on reload opt.lr_z and opt.lr_y count as given: write the
   * learning rates the run resolved (from opt.lr / opt.lr_y_multi_on_z), not the raw
   * fields, or the file would describe a different run. */
  ss_config resolved = *c_in;
  resolved.opt.lr_z = ss_config_lr_z(c_in);
  resolved.opt.lr_y = ss_config_lr_y(c_in);
  const ss_config *c = &resolved;
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  char v[SS_PATH_MAX + 64];
  char section[64] = "";
  fprintf(f, "# scansnap resolved configuration (every key, defaults included)\n");
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      const char *dot = strchr(k[i].name, '.');
      if ((pass == 0) != (dot == NULL)) continue; /* top-level keys first */
      ss_config_format(c, &k[i], v, sizeof v);
      if (!dot) {
        fprintf(f, "%s: ", k[i].name);
      } else {
        size_t sl = (size_t)(dot - k[i].name);
        if (strlen(section) != sl || strncmp(section, k[i].name, sl) != 0) {
          snprintf(section, sizeof section, "%.*s", (int)sl, k[i].name);
          fprintf(f, "%s:\n", section);
        }
        fprintf(f, "  %s: ", dot + 1);
      }
      yaml_scalar(f, &k[i], v);
      fputc('\n', f);
    }
  }
  if (c->model.type == SS_MODEL_YZ) {
    fprintf(f, "# resolved learning rates: lr_y = %.17g, lr_z = %.17g\n", ss_config_lr_y(c), ss_config_lr_z(c));
  }
  return ferror(f) ? SS_ERUN : SS_OK;
}

void ss_config_unused(const ss_config *c, char *buf, size_t n) {
  int nk;
  const ss_keydef *k = ss_config_keys(&nk);
  int want = c->model.type == SS_MODEL_YZ ? SS_SCOPE_YZ : c->model.type == SS_MODEL_TRANSFORMER ? SS_SCOPE_TF : SS_SCOPE_JOMA;
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < nk; i++) {
    if (!c->set[i] || k[i].scope == SS_SCOPE_ALL || k[i].scope == want) continue;
    int w = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", k[i].name);
    if (w < 0 || (size_t)w >= n - len) break;
    len += (size_t)w;
  }
}

void ss_config_print_help(FILE *f) { ss_config_print_help_for(f, -1); }

void ss_config_print_help_for(FILE *f, int scopes) {
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  fprintf(f, "Configuration keys (key=value on the command line, or nested in a YAML file):\n");
  for (int i = 0; i < n; i++) {
    if (scopes >= 0 && k[i].scope != SS_SCOPE_ALL && !(scopes & (1 << k[i].scope))) continue;
    char d[64];
    if (k[i].type == SS_KEY_ENUM)
      snprintf(d, sizeof d, "%s", k[i].choices);
    else
      snprintf(d, sizeof d, "%s", k[i].def[0] ? k[i].def : "\"\"");
    fprintf(f, "  %-30s default %-12s %s%s\n", k[i].name, k[i].type == SS_KEY_ENUM ? k[i].def : d,
            k[i].help, k[i].scope == SS_SCOPE_YZ ? " [yz]" : k[i].scope == SS_SCOPE_TF ? " [transformer]" : k[i].scope == SS_SCOPE_JOMA ? " [joma]" : "");
    if (k[i].type == SS_KEY_ENUM) fprintf(f, "  %-30s   choices: %s\n", "", k[i].choices);
  }
  fprintf(f, "Aliases (the paper's names): L=data.T d=model.d H=model.H dataset2.*=data.* model2.*=model.* model.attn_include_base_token\n");
}

/* ---- YAML ---------------------------------------------------------------------------- */

void ss_yaml_free_pairs(ss_yaml_pair *p, int n) {
  for (int i = 0; i < n; i++) {
    free(p[i].key);
    free(p[i].value);
    for (int j = 0; j < p[i].nitems; j++) free(p[i].items[j].text);
    free(p[i].items);
  }
  free(p);
}

/* The pair being built: a scalar, or a sequence whose items are added one by one. */
static ss_yaml_pair *push_pair(ss_yaml_pair **p, int *n, int *cap, const char *key, const char *val, int line) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 32;
    ss_yaml_pair *np = realloc(*p, (size_t)nc * sizeof *np);
    if (!np) return NULL;
    *p = np;
    *cap = nc;
  }
  ss_yaml_pair *q = &(*p)[*n];
  memset(q, 0, sizeof *q);
  q->key = strdup(key);
  q->value = strdup(val);
  q->line = line;
  (*n)++;
  if (!q->key || !q->value) return NULL;
  return q;
}

static int push_item(ss_yaml_pair *q, const char *text, int quoted) {
  if ((q->nitems & (q->nitems - 1)) == 0) { /* grow at powers of two */
    ss_yaml_item *ni = realloc(q->items, sizeof *ni * (size_t)(q->nitems ? 2 * q->nitems : 1));
    if (!ni) return 0;
    q->items = ni;
  }
  size_t lv = strlen(q->value), lt = strlen(text);
  char *nv = realloc(q->value, lv + lt + 2);
  if (!nv) return 0;
  q->value = nv;
  if (q->nitems) nv[lv++] = ',';
  memcpy(nv + lv, text, lt + 1);
  q->items[q->nitems].text = strdup(text);
  q->items[q->nitems].quoted = quoted;
  return q->items[q->nitems++].text != NULL;
}

typedef struct {
  const char *v;
  int i;
} value_at;

static int cmp_value_at(const void *x, const void *y) {
  const value_at *a = x, *b = y;
  const int c = strcmp(a->v, b->v);
  return c ? c : (a->i > b->i) - (a->i < b->i);
}

int ss_first_repeat(const char *const *v, int n, int *earlier) {
  if (n < 2) return -1;
  value_at *t = malloc(sizeof *t * (size_t)n);
  if (!t) return -2;
  for (int i = 0; i < n; i++) t[i] = (value_at){v[i], i};
  qsort(t, (size_t)n, sizeof *t, cmp_value_at);
  int first = -1;
  for (int i = 1, run = 0; i < n; i++) {
    if (strcmp(t[i].v, t[i - 1].v)) {
      run = i; /* a run of equal values starts, positions ascending */
      continue;
    }
    if (i == run + 1 && (first < 0 || t[i].i < first)) { /* the run's second position repeats its first */
      first = t[i].i;
      *earlier = t[run].i;
    }
  }
  free(t);
  return first;
}

/* A key given twice, by the same name or through an alias (L and data.T). */
static int check_duplicates(const char *path, const ss_yaml_pair *p, int n, ss_err *err) {
  char **canon = calloc((size_t)(n ? n : 1), sizeof *canon);
  int rc = canon ? SS_OK : ss_seterr(err, SS_ERUN, "out of memory");
  for (int i = 0; rc == SS_OK && i < n; i++) {
    const char *k = p[i].key;
    while (*k == '+') k++; /* Hydra's +key */
    if (!(canon[i] = strdup(ss_config_canonical(k)))) rc = ss_seterr(err, SS_ERUN, "out of memory");
  }
  int first = -1;
  const int later = rc ? -1 : ss_first_repeat((const char *const *)canon, n, &first);
  if (later == -2) rc = ss_seterr(err, SS_ERUN, "out of memory");
  if (later >= 0) {
    const ss_yaml_pair *a = &p[first], *b = &p[later];
    char as[300] = "", via[300] = "";
    if (strcmp(a->key, b->key)) snprintf(as, sizeof as, " as '%s'", a->key);
    if (strcmp(b->key, canon[later]) && strcmp(a->key, b->key)) snprintf(via, sizeof via, " (%s)", canon[later]);
    rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: key '%s'%s is given twice (first at line %d%s)", path, b->line, b->key,
                   via, a->line, as);
  }
  for (int i = 0; canon && i < n; i++) free(canon[i]);
  free(canon);
  return rc;
}

/* The dotted name of the key at depth (keys of the enclosing mappings joined with '.'). */
static void dotted(char *full, size_t n, char cur_key[][128], int depth) {
  full[0] = 0;
  for (int d = 1; d <= depth; d++) {
    strncat(full, cur_key[d], n - strlen(full) - 2);
    if (d < depth) strcat(full, ".");
  }
}

static int yaml_pairs_from(FILE *f, const char *path, ss_yaml_pair **pairs, int *npairs, ss_err *err);

int ss_yaml_load_pairs(const char *path, ss_yaml_pair **pairs, int *npairs, ss_err *err) {
  *pairs = NULL;
  *npairs = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return ss_seterr(err, SS_EINPUT, "cannot read config file '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return ss_seterr(err, SS_EINPUT, "cannot read config file '%s': not a regular file", path);
  }
  return yaml_pairs_from(f, path, pairs, npairs, err);
}

/* Parses the YAML of f (closed here) into pairs; path names it in messages. */
static int yaml_pairs_from(FILE *f, const char *path, ss_yaml_pair **pairs, int *npairs, ss_err *err) {
  *pairs = NULL;
  *npairs = 0;
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_file(&parser, f);
  /* A stack of mapping keys gives the dotted prefix. */
  int depth = 0; /* mapping nesting */
  int expect_key[17] = {0};
  char cur_key[17][128];
  ss_yaml_pair *list = NULL; /* the sequence being read */
  int cap = 0, rc = SS_OK, done = 0;
  while (!done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      if (parser.error == YAML_READER_ERROR) /* the reader knows a byte offset, not a line */
        rc = ss_seterr(err, SS_EINPUT, "config file '%s': %s at byte %zu (YAML files must be UTF-8 text)", path,
                       parser.problem ? parser.problem : "unreadable", parser.problem_offset + 1);
      else
        rc = ss_seterr(err, SS_EINPUT, "config file '%s': YAML syntax error at line %zu: %s", path,
                       parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
      break;
    }
    int line = (int)ev.start_mark.line + 1;
    char full[1024];
    switch (ev.type) {
    case YAML_STREAM_END_EVENT: done = 1; break;
    case YAML_MAPPING_START_EVENT:
      if (list) {
        rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: a list may hold only plain values", path, line);
        done = 1;
        break;
      }
      if (depth >= 15) {
        rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: nested too deeply", path, line);
        done = 1;
        break;
      }
      depth++;
      expect_key[depth] = 1;
      break;
    case YAML_MAPPING_END_EVENT:
      depth--;
      if (depth > 0) expect_key[depth] = 1;
      break;
    case YAML_SEQUENCE_START_EVENT:
      if (depth == 0 || expect_key[depth] || list) {
        rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: unexpected list", path, line);
        done = 1;
        break;
      }
      dotted(full, sizeof full, cur_key, depth);
      if (!(list = push_pair(pairs, npairs, &cap, full, "", line))) {
        rc = ss_seterr(err, SS_ERUN, "out of memory");
        done = 1;
        break;
      }
      list->is_list = 1;
      break;
    case YAML_SEQUENCE_END_EVENT:
      list = NULL;
      expect_key[depth] = 1;
      break;
    case YAML_SCALAR_EVENT: {
      const char *v = (const char *)ev.data.scalar.value;
      const int quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
      if (depth == 0) {
        /* a document that is a bare scalar (or empty) */
        if (ev.data.scalar.length) {
          rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: expected a mapping of key: value", path, line);
          done = 1;
        }
        break;
      }
      if (list) {
        if (list->nitems >= 1000000) {
          rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: list too long (more than 1000000 values)", path, line);
          done = 1;
        } else if (!push_item(list, v, quoted)) {
          rc = ss_seterr(err, SS_ERUN, "out of memory");
          done = 1;
        }
      } else if (expect_key[depth]) {
        if (strlen(v) >= 127) {
          rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: key too long", path, line);
          done = 1;
          break;
        }
        strcpy(cur_key[depth], v);
        expect_key[depth] = 0;
      } else {
        dotted(full, sizeof full, cur_key, depth);
        ss_yaml_pair *q = push_pair(pairs, npairs, &cap, full, v, line);
        if (!q) {
          rc = ss_seterr(err, SS_ERUN, "out of memory");
          done = 1;
          break;
        }
        q->quoted = quoted;
        expect_key[depth] = 1;
      }
      break;
    }
    case YAML_ALIAS_EVENT:
      rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: YAML aliases are not supported", path, line);
      done = 1;
      break;
    default: break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  fclose(f);
  if (rc == SS_OK) rc = check_duplicates(path, *pairs, *npairs, err);
  if (rc != SS_OK) {
    ss_yaml_free_pairs(*pairs, *npairs);
    *pairs = NULL;
    *npairs = 0;
  }
  return rc;
}

static int apply_pairs(ss_config *c, const char *path, ss_yaml_pair *p, int n, ss_err *err);

int ss_config_load_yaml(ss_config *c, const char *path, ss_err *err) {
  ss_yaml_pair *p;
  int n, rc = ss_yaml_load_pairs(path, &p, &n, err);
  if (rc) return rc;
  return apply_pairs(c, path, p, n, err);
}

int ss_config_load_yaml_text(ss_config *c, const char *text, const char *name, ss_err *err) {
  FILE *f = fmemopen((void *)text, strlen(text), "r");
  if (!f) return ss_seterr(err, SS_ERUN, "config '%s': cannot read it: %s", name, strerror(errno));
  ss_yaml_pair *p;
  int n;
  *err = (ss_err){0};
  int rc = yaml_pairs_from(f, name, &p, &n, err);
  if (rc) return rc;
  return apply_pairs(c, name, p, n, err);
}

/* Sets the keys of pairs (freed here); a list value is an error (lists are for sweeps). */
static int apply_pairs(ss_config *c, const char *path, ss_yaml_pair *p, int n, ss_err *err) {
  int rc = SS_OK;
  for (int i = 0; i < n && rc == SS_OK; i++) {
    if (p[i].is_list) {
      rc = ss_seterr(err, SS_EINPUT, "config file '%s' line %d: key '%s' has a list of values; lists are for 'scansnap sweep'", path, p[i].line, p[i].key);
      break;
    }
    ss_err e;
    rc = ss_config_set(c, p[i].key, p[i].value, &e);
    if (rc) ss_seterr(err, rc, "config file '%s' line %d: %s", path, p[i].line, e.msg);
  }
  ss_yaml_free_pairs(p, n);
  return rc;
}
