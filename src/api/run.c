/* The public API's run handle (<scansnap.h>): one run made by the library's own entry points
 * (ss_train_run, ss_theory_run_opts, the resume policy ss_train_resume_config, ss_verify) with
 * the handle's stop flag and callback, and its results read back from the run directory:
 * metrics.csv, dynamics.safetensors, attention.safetensors, claims.json, config.yaml,
 * run.json. Reading them is the same code whether the run was just made or written long ago
 * by the command line (ss_run_open). */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scansnap/io.h"
#include "scansnap/sweep.h"
#include "scansnap/theory.h"
#include "scansnap/train.h"
#include "scansnap/verify.h"

typedef struct {
  int id;
  char *name, *status, *measured, *why;
  int n;
  char **number_names;
  double *numbers;
} api_claim;

struct ss_run {
  volatile sig_atomic_t stop; /* the trainer polls it (ss_run_opts.stop); < 0: a request */
  ss_run_callback cb;
  void *cb_user;
  int used; /* one run per handle */
  char *dir;
  char state[32];
  ss_config *cfg;
  /* metrics.csv, column-major: cols[c * nrows + r] */
  int64_t nrows;
  int ncols;
  char **names;
  double *cols;
  /* dynamics.safetensors */
  int has_dyn;
  ss_stfile dyn;
  const ss_tensor *steps, *c, *query, *next, *prob;
  /* attention.safetensors */
  int has_att;
  ss_stfile att;
  const ss_tensor *maps, *att_steps, *tokens;
  int64_t nwords;
  char **words;
  /* claims.json */
  int nclaims;
  api_claim *claims;
};

ss_run *ss_run_new(void) { return calloc(1, sizeof(ss_run)); }

static void free_results(ss_run *r) {
  free(r->cfg);
  for (int i = 0; i < r->ncols; i++) free(r->names[i]);
  free(r->names);
  free(r->cols);
  if (r->has_dyn) ss_st_free(&r->dyn);
  if (r->has_att) ss_st_free(&r->att);
  for (int64_t i = 0; i < r->nwords; i++) free(r->words[i]);
  free(r->words);
  for (int i = 0; i < r->nclaims; i++) {
    api_claim *c = &r->claims[i];
    free(c->name);
    free(c->status);
    free(c->measured);
    free(c->why);
    for (int k = 0; k < c->n; k++) free(c->number_names[k]);
    free(c->number_names);
    free(c->numbers);
  }
  free(r->claims);
  /* keep the handle's settings and its history (dir, used), drop every result */
  r->cfg = NULL;
  r->names = NULL;
  r->cols = NULL;
  r->nrows = 0;
  r->ncols = 0;
  r->has_dyn = r->has_att = 0;
  r->steps = r->c = r->query = r->next = r->prob = r->maps = r->att_steps = r->tokens = NULL;
  r->words = NULL;
  r->nwords = 0;
  r->claims = NULL;
  r->nclaims = 0;
}

void ss_run_free(ss_run *run) {
  if (!run) return;
  free_results(run);
  free(run->dir);
  free(run);
}

void ss_run_set_callback(ss_run *run, ss_run_callback fn, void *user) {
  run->cb = fn;
  run->cb_user = user;
}

void ss_run_request_stop(ss_run *run) {
  /* any thread or a signal handler: one atomic store the trainer sees at its next boundary */
  __atomic_store_n(&run->stop, (sig_atomic_t)-1, __ATOMIC_SEQ_CST);
}

/* ---- reading a run directory ----------------------------------------------------------------- */

static int read_metrics(ss_run *r, const char *path, ss_err *err) {
  ss_csv t;
  int rc = ss_csv_read(path, &t, err);
  if (rc) return rc;
  if (t.ncols < 1 || strcmp(t.head[0], "step")) {
    ss_csv_free(&t);
    return ss_seterr(err, SS_EINPUT, "'%s' does not start with a 'step' column", path);
  }
  r->names = calloc((size_t)t.ncols, sizeof *r->names);
  r->cols = malloc(sizeof(double) * (size_t)t.ncols * (size_t)(t.nrows ? t.nrows : 1));
  if (!r->names || !r->cols) rc = ss_seterr(err, SS_ERUN, "out of memory");
  for (int c = 0; c < t.ncols && rc == SS_OK; c++) {
    if (!(r->names[c] = strdup(t.head[c]))) rc = ss_seterr(err, SS_ERUN, "out of memory");
    r->ncols = c + 1;
    for (int i = 0; i < t.nrows && rc == SS_OK; i++) {
      const char *cell = ss_csv_cell(&t, i, c);
      char *end;
      double v = strtod(cell, &end);
      if (!cell[0]) v = NAN;
      else if (*end)
        rc = ss_seterr(err, SS_EINPUT, "'%s' line %d, column '%s': '%s' is not a number", path, i + 2, t.head[c], cell);
      r->cols[(size_t)c * (size_t)t.nrows + (size_t)i] = v;
    }
  }
  r->nrows = t.nrows;
  ss_csv_free(&t);
  return rc;
}

/* The tensor `name` of f with dtype dt and ndim dimensions, or NULL after an error naming it. */
static const ss_tensor *tensor(const ss_stfile *f, const char *path, const char *name, ss_dtype dt, int ndim, ss_err *err) {
  const ss_tensor *t = ss_st_get(f, name);
  if (!t || t->dtype != dt || t->ndim != ndim) {
    ss_seterr(err, SS_EINPUT, "'%s': tensor '%s' is missing or not of the type and rank scansnap writes", path, name);
    return NULL;
  }
  return t;
}

static int read_dynamics(ss_run *r, const char *path, ss_err *err) {
  int rc = ss_safetensors_read(path, &r->dyn, err);
  if (rc) return rc;
  r->has_dyn = 1;
  if (!(r->steps = tensor(&r->dyn, path, "steps", SS_I64, 1, err)) || !(r->c = tensor(&r->dyn, path, "c", SS_F64, 3, err)) ||
      !(r->query = tensor(&r->dyn, path, "query", SS_I32, 1, err)) || !(r->next = tensor(&r->dyn, path, "next", SS_I32, 1, err)) ||
      !(r->prob = tensor(&r->dyn, path, "prob", SS_F64, 2, err)))
    return SS_EINPUT;
  const int64_t S = r->c->shape[0], N = r->c->shape[1], M = r->c->shape[2];
  if (r->steps->shape[0] != S || r->query->shape[0] != N || r->next->shape[0] != N || r->prob->shape[0] != N || r->prob->shape[1] != M)
    return ss_seterr(err, SS_EINPUT, "'%s': the shapes of steps, c, query, next and prob disagree", path);
  return SS_OK;
}

static int read_attention(ss_run *r, const char *path, ss_err *err) {
  int rc = ss_safetensors_read(path, &r->att, err);
  if (rc) return rc;
  r->has_att = 1;
  if (!(r->maps = tensor(&r->att, path, "attention", SS_F32, 4, err)) || !(r->att_steps = tensor(&r->att, path, "steps", SS_I64, 1, err)) ||
      !(r->tokens = tensor(&r->att, path, "tokens", SS_I32, 1, err)))
    return SS_EINPUT;
  const int64_t *sh = r->maps->shape;
  if (r->att_steps->shape[0] != sh[0] || r->tokens->shape[0] != sh[2] || sh[3] != sh[2])
    return ss_seterr(err, SS_EINPUT, "'%s': the shapes of attention, steps and tokens disagree", path);
  /* the probe's words: a JSON list in __metadata__ (absent: none) */
  const char *w = ss_st_meta(&r->att, "words");
  if (!w) return SS_OK;
  json_error_t je;
  json_t *a = json_loads(w, 0, &je);
  if (!json_is_array(a) || (int64_t)json_array_size(a) != sh[2]) {
    json_decref(a);
    return ss_seterr(err, SS_EINPUT, "'%s': __metadata__ words is not a list of the probe's %lld words", path, (long long)sh[2]);
  }
  r->words = calloc(json_array_size(a) + 1, sizeof *r->words);
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    if (!r->words || !(r->words[i] = strdup(json_is_string(v) ? json_string_value(v) : ""))) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    r->nwords = (int64_t)i + 1;
  }
  json_decref(a);
  return rc;
}

static char *json_text(const json_t *o, const char *key) { return strdup(json_is_string(json_object_get(o, key)) ? json_string_value(json_object_get(o, key)) : ""); }

static int read_claims(ss_run *r, const char *path, ss_err *err) {
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  json_t *arr = root ? json_object_get(root, "claims") : NULL;
  if (!json_is_array(arr)) {
    json_decref(root);
    return ss_seterr(err, SS_EINPUT, "'%s': %s", path, root ? "no list 'claims'" : je.text);
  }
  int rc = SS_OK;
  r->claims = calloc(json_array_size(arr) + 1, sizeof *r->claims);
  if (!r->claims) rc = ss_seterr(err, SS_ERUN, "out of memory");
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (rc) break;
    api_claim *c = &r->claims[i];
    r->nclaims = (int)i + 1;
    json_t *nums = json_object_get(o, "numbers");
    c->id = (int)json_integer_value(json_object_get(o, "id"));
    c->name = json_text(o, "name");
    c->status = json_text(o, "status");
    c->measured = json_text(o, "measured");
    c->why = json_text(o, "why");
    const size_t n = json_is_object(nums) ? json_object_size(nums) : 0;
    c->number_names = calloc(n + 1, sizeof *c->number_names);
    c->numbers = calloc(n + 1, sizeof *c->numbers);
    if (!c->name || !c->status || !c->measured || !c->why || !c->number_names || !c->numbers) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    const char *k;
    json_t *v;
    json_object_foreach(nums, k, v) { /* jansson keeps insertion order: claims.json's order */
      if (!(c->number_names[c->n] = strdup(k))) {
        rc = ss_seterr(err, SS_ERUN, "out of memory");
        break;
      }
      c->numbers[c->n++] = json_is_number(v) ? json_number_value(v) : NAN;
    }
  }
  json_decref(root);
  return rc;
}

/* Reads what dir holds into r (files it does not hold are left out); SS_EINPUT when it holds
 * none of run.json, metrics.csv, claims.json. */
static int load(ss_run *r, const char *dir, ss_err *err) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return ss_seterr(err, SS_EINPUT, "no run directory '%s'", dir);
  if (!r->dir && !(r->dir = strdup(dir))) return ss_seterr(err, SS_ERUN, "out of memory");
  static const char *const files[] = {"run.json", "config.yaml", "metrics.csv", "dynamics.safetensors", "attention.safetensors", "claims.json"};
  int have[6], rc = SS_OK;
  for (int i = 0; i < 6; i++) {
    char *p = ss_path_join(dir, files[i]);
    if (!p) return ss_seterr(err, SS_ERUN, "out of memory");
    have[i] = ss_file_exists(p);
    free(p);
  }
  if (!have[0] && !have[2] && !have[5])
    return ss_seterr(err, SS_EINPUT, "'%s' holds no run (none of run.json, metrics.csv, claims.json)", dir);
  if (have[0] && (rc = ss_run_status(dir, r->state, sizeof r->state, err))) return rc;
  if (!have[0] && have[5]) snprintf(r->state, sizeof r->state, "complete"); /* verify writes claims.json once done */
  if (have[0] && have[1]) {
    if (!(r->cfg = malloc(sizeof *r->cfg))) return ss_seterr(err, SS_ERUN, "out of memory");
    if ((rc = ss_run_load_config(dir, r->cfg, err))) return rc;
    r->cfg->resume[0] = 0; /* the run's configuration, not an instruction to resume it */
  }
  int (*const readers[6])(ss_run *, const char *, ss_err *) = {NULL, NULL, read_metrics, read_dynamics, read_attention, read_claims};
  for (int i = 2; i < 6 && rc == SS_OK; i++) {
    if (!have[i]) continue;
    char *p = ss_path_join(dir, files[i]);
    rc = p ? readers[i](r, p, err) : ss_seterr(err, SS_ERUN, "out of memory");
    free(p);
  }
  return rc;
}

/* ---- making a run -------------------------------------------------------------------------- */

static int fresh(ss_run *r, ss_err *err) {
  if (!r) return ss_seterr(err, SS_EINPUT, "no run handle given (ss_run_new)");
  if (r->used) return ss_seterr(err, SS_EINPUT, "this run handle already holds the run '%s'; make a new one (ss_run_new)", r->dir ? r->dir : "");
  return SS_OK;
}

static void on_progress(void *ud, const ss_progress *p) {
  ss_run *r = ud;
  if (r->cb && r->cb(r->cb_user, p->step, p->total, p->loss, p->seconds)) ss_run_request_stop(r);
}

static void run_opts(ss_run *r, ss_run_opts *o, const char *dir, const char *command) {
  ss_run_opts_default(o);
  o->dir = dir;
  o->command = command;
  o->stop = &r->stop;
  o->progress = on_progress;
  o->progress_ud = r;
}

/* A validated copy of cfg and its run directory. */
static int prepare(const ss_config *cfg, const char *command, ss_config **out, char *dir, size_t n, ss_err *err) {
  *out = NULL;
  if (!cfg) return ss_seterr(err, SS_EINPUT, "no configuration given (ss_config_new)");
  ss_config *c = ss_config_copy(cfg);
  if (!c) return ss_seterr(err, SS_ERUN, "out of memory");
  int rc = ss_config_validate(c, err);
  if (rc == SS_OK && c->resume[0])
    rc = ss_seterr(err, SS_EINPUT, "key 'resume': continue a run with ss_run_resume, not through the configuration");
  if (rc == SS_OK) rc = ss_run_dir(c, command, dir, n, err);
  if (rc) {
    free(c);
    return rc;
  }
  *out = c;
  return SS_OK;
}

/* After the run returned rc: its results from dir (nothing was made when rc is SS_EINPUT).
 * Reading may fail only for a run that succeeded: then that is the error. */
static int conclude(ss_run *r, const char *dir, int rc, ss_err *err) {
  if (rc == SS_EINPUT) return rc; /* the handle stays empty: fix the input and call again */
  r->used = 1;
  if (!r->dir && !(r->dir = strdup(dir))) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_err e = {0};
  int lr = load(r, dir, rc == SS_OK ? err : &e);
  if (lr) free_results(r);
  return rc ? rc : lr;
}

/* The run of c into dir: a training run (new or resumed: c->resume) or a theory run. */
static int run_into(ss_run *r, const ss_config *c, const char *dir, const char *command, ss_err *err) {
  ss_run_opts o;
  run_opts(r, &o, dir, command);
  if (!strcmp(command, "theory")) {
    ss_run_summary sum;
    return ss_theory_run_opts(c, &o, &sum, err);
  }
  ss_train_summary *sum = malloc(sizeof *sum);
  const int rc = sum ? ss_train_run(c, &o, sum, err) : ss_seterr(err, SS_ERUN, "out of memory");
  free(sum);
  return rc;
}

/* verify's claims of c into dir. */
static int verify_into(ss_run *r, const ss_config *c, const char *dir, const char *corpus, ss_err *err) {
  ss_verify_opts vo;
  ss_verify_opts_default(&vo);
  vo.corpus = corpus;
  vo.stop = &r->stop;
  ss_claim *claims = malloc(SS_VERIFY_MAX_CLAIMS * sizeof *claims);
  int n;
  const int rc = claims ? ss_verify(c, &vo, dir, claims, &n, err) : ss_seterr(err, SS_ERUN, "out of memory");
  free(claims);
  return rc;
}

/* A new run of cfg by command (train, theory, verify) into r. */
static int make(ss_run *r, const ss_config *cfg, const char *command, const char *corpus, ss_err *err) {
  ss_err local;
  if (!err) err = &local;
  int rc = fresh(r, err);
  ss_config *c;
  char dir[SS_PATH_MAX];
  if (rc || (rc = prepare(cfg, command, &c, dir, sizeof dir, err))) return rc;
  rc = !strcmp(command, "verify") ? verify_into(r, c, dir, corpus, err) : run_into(r, c, dir, command, err);
  free(c);
  return conclude(r, dir, rc, err);
}

int ss_run_train(ss_run *run, const ss_config *cfg, ss_err *err) { return make(run, cfg, "train", NULL, err); }

int ss_run_theory(ss_run *run, const ss_config *cfg, ss_err *err) { return make(run, cfg, "theory", NULL, err); }

int ss_run_verify(ss_run *run, const ss_config *cfg, const char *corpus, ss_err *err) {
  const int rc = make(run, cfg, "verify", corpus, err);
  if (rc == SS_ESTOP) snprintf(run->state, sizeof run->state, "interrupted"); /* verify writes no run.json */
  return rc;
}

int ss_run_resume(ss_run *run, const char *dir, const char *const *overrides, int n, ss_err *err) {
  ss_err local;
  if (!err) err = &local;
  int rc = fresh(run, err);
  if (rc) return rc;
  if (!dir) return ss_seterr(err, SS_EINPUT, "key 'resume': expected the run directory to continue");
  if (n < 0 || (n > 0 && !overrides)) return ss_seterr(err, SS_EINPUT, "ss_run_resume: %d overrides but no list of them", n);
  ss_config *c = malloc(sizeof *c);
  if (!c) return ss_seterr(err, SS_ERUN, "out of memory");
  int nothing = 0;
  char msg[SS_PATH_MAX + 128];
  rc = ss_train_resume_config(dir, overrides, n, c, &nothing, msg, sizeof msg, err);
  if (rc == SS_OK && !nothing) rc = run_into(run, c, dir, "train", err);
  free(c);
  return conclude(run, dir, rc, err);
}

int ss_run_open(ss_run *run, const char *dir, ss_err *err) {
  ss_err local;
  if (!err) err = &local;
  int rc = fresh(run, err);
  if (rc) return rc;
  if (!dir || !dir[0]) return ss_seterr(err, SS_EINPUT, "ss_run_open: no directory given");
  rc = load(run, dir, err);
  if (rc) {
    free_results(run);
    free(run->dir);
    run->dir = NULL;
  } else {
    run->used = 1;
  }
  return rc;
}

/* ---- results ----------------------------------------------------------------------------------- */

static void put(int64_t *p, int64_t v) {
  if (p) *p = v;
}

/* A tensor's data: NULL only when the run has no such tensor (one of 0 elements, as c_n of a
 * run without classes, may hold no allocation: then a valid pointer to nothing). */
static const void *data(const ss_tensor *t) {
  static const double none[1];
  return !t ? NULL : t->data ? t->data : (const void *)none;
}

const char *ss_run_path(const ss_run *run) { return run && run->dir ? run->dir : ""; }
const char *ss_run_state(const ss_run *run) { return run ? run->state : ""; }
const ss_config *ss_run_config(const ss_run *run) { return run ? run->cfg : NULL; }
int64_t ss_run_nrows(const ss_run *run) { return run ? run->nrows : 0; }
int ss_run_ncolumns(const ss_run *run) { return run ? run->ncols : 0; }

const char *ss_run_column_name(const ss_run *run, int i) { return run && i >= 0 && i < run->ncols ? run->names[i] : NULL; }

const double *ss_run_column(const ss_run *run, const char *name, int64_t *n) {
  put(n, 0);
  for (int c = 0; run && name && c < run->ncols; c++)
    if (!strcmp(run->names[c], name)) {
      put(n, run->nrows);
      return run->cols + (size_t)c * (size_t)run->nrows;
    }
  return NULL;
}

const double *ss_run_cn(const ss_run *run, int64_t *steps, int64_t *classes, int64_t *tokens) {
  const ss_tensor *t = run ? run->c : NULL;
  put(steps, t ? t->shape[0] : 0);
  put(classes, t ? t->shape[1] : 0);
  put(tokens, t ? t->shape[2] : 0);
  return data(t);
}

/* a 1-d tensor's data and length */
static const void *vec(const ss_tensor *t, int64_t *n) {
  put(n, t ? t->shape[0] : 0);
  return data(t);
}

const int64_t *ss_run_steps(const ss_run *run, int64_t *n) { return vec(run ? run->steps : NULL, n); }
const int32_t *ss_run_class_query(const ss_run *run, int64_t *n) { return vec(run ? run->query : NULL, n); }
const int32_t *ss_run_class_next(const ss_run *run, int64_t *n) { return vec(run ? run->next : NULL, n); }

const double *ss_run_class_prob(const ss_run *run, int64_t *classes, int64_t *tokens) {
  const ss_tensor *t = run ? run->prob : NULL;
  put(classes, t ? t->shape[0] : 0);
  put(tokens, t ? t->shape[1] : 0);
  return data(t);
}

const float *ss_run_attention(const ss_run *run, int64_t *steps, int64_t *heads, int64_t *T) {
  const ss_tensor *t = run ? run->maps : NULL;
  put(steps, t ? t->shape[0] : 0);
  put(heads, t ? t->shape[1] : 0);
  put(T, t ? t->shape[2] : 0);
  return data(t);
}

const int64_t *ss_run_attention_steps(const ss_run *run, int64_t *n) { return vec(run ? run->att_steps : NULL, n); }
const int32_t *ss_run_attention_tokens(const ss_run *run, int64_t *n) { return vec(run ? run->tokens : NULL, n); }

const char *ss_run_attention_word(const ss_run *run, int64_t i) { return run && i >= 0 && i < run->nwords ? run->words[i] : NULL; }

int ss_run_nclaims(const ss_run *run) { return run ? run->nclaims : 0; }

static const api_claim *claim(const ss_run *run, int i) { return run && i >= 0 && i < run->nclaims ? &run->claims[i] : NULL; }

int ss_run_claim_id(const ss_run *run, int i) { return claim(run, i) ? claim(run, i)->id : 0; }
const char *ss_run_claim_name(const ss_run *run, int i) { return claim(run, i) ? claim(run, i)->name : NULL; }
const char *ss_run_claim_status(const ss_run *run, int i) { return claim(run, i) ? claim(run, i)->status : NULL; }
const char *ss_run_claim_measured(const ss_run *run, int i) { return claim(run, i) ? claim(run, i)->measured : NULL; }
const char *ss_run_claim_why(const ss_run *run, int i) { return claim(run, i) ? claim(run, i)->why : NULL; }
int ss_run_claim_nnumbers(const ss_run *run, int i) { return claim(run, i) ? claim(run, i)->n : 0; }

const char *ss_run_claim_number_name(const ss_run *run, int i, int k) {
  const api_claim *c = claim(run, i);
  return c && k >= 0 && k < c->n ? c->number_names[k] : NULL;
}

double ss_run_claim_number(const ss_run *run, int i, int k) {
  const api_claim *c = claim(run, i);
  return c && k >= 0 && k < c->n ? c->numbers[k] : NAN;
}
