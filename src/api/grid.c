/* The public API's sweep handle (<scansnap.h>): the sweep layer's grid (ss_sweep_arg,
 * ss_sweep_load_yaml, ss_sweep_run, ss_sweep_write_tables), and its table read back from
 * sweep.csv, the same for a sweep just run and one the command line wrote. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/csv.h"
#include "scansnap/io.h"
#include "scansnap/run.h"
#include "scansnap/sweep.h"

struct ss_grid {
  ss_sweep s;
  volatile sig_atomic_t stop;
  ss_grid_callback cb;
  void *cb_user;
  int used;
  char *dir;
  int has_table;
  ss_csv t;
  double *num; /* [ncols * nrows], column-major: every cell as a number (NaN if not one) */
};

ss_grid *ss_grid_new(void) {
  ss_grid *g = calloc(1, sizeof *g);
  if (g) ss_sweep_init(&g->s);
  return g;
}

static void free_table(ss_grid *g) {
  if (g->has_table) ss_csv_free(&g->t);
  g->has_table = 0;
  free(g->num);
  g->num = NULL;
}

void ss_grid_free(ss_grid *g) {
  if (!g) return;
  free_table(g);
  ss_sweep_free(&g->s);
  free(g->dir);
  free(g);
}

static int settable(ss_grid *g, ss_err *err) {
  if (!g) return ss_seterr(err, SS_EINPUT, "no sweep handle given (ss_grid_new)");
  if (g->used) return ss_seterr(err, SS_EINPUT, "this sweep handle already holds the sweep '%s'; make a new one (ss_grid_new)", g->dir);
  return SS_OK;
}

int ss_grid_set(ss_grid *g, const char *key, const char *values, ss_err *err) {
  int rc = settable(g, err);
  if (rc) return rc;
  if (!key || !values) return ss_seterr(err, SS_EINPUT, "ss_grid_set: no key or value given");
  const size_t n = strlen(key) + strlen(values) + 2;
  char *arg = malloc(n);
  if (!arg) return ss_seterr(err, SS_ERUN, "out of memory");
  snprintf(arg, n, "%s=%s", key, values);
  ss_err local;
  rc = ss_sweep_arg(&g->s, arg, err ? err : &local);
  free(arg);
  return rc;
}

int ss_grid_load_yaml(ss_grid *g, const char *path, ss_err *err) {
  int rc = settable(g, err);
  if (rc) return rc;
  ss_err local;
  return ss_sweep_load_yaml(&g->s, path, err ? err : &local);
}

void ss_grid_set_callback(ss_grid *g, ss_grid_callback fn, void *user) {
  g->cb = fn;
  g->cb_user = user;
}

void ss_grid_request_stop(ss_grid *g) { __atomic_store_n(&g->stop, (sig_atomic_t)-1, __ATOMIC_SEQ_CST); }

/* sweep.csv of dir into g's table */
static int read_table(ss_grid *g, const char *dir, ss_err *err) {
  char *p = ss_path_join(dir, "sweep.csv");
  if (!p) return ss_seterr(err, SS_ERUN, "out of memory");
  int rc = ss_file_exists(p) ? ss_csv_read(p, &g->t, err) : ss_seterr(err, SS_EINPUT, "'%s' holds no sweep (no sweep.csv)", dir);
  free(p);
  if (rc) return rc;
  g->has_table = 1;
  const size_t n = (size_t)g->t.ncols * (size_t)g->t.nrows;
  g->num = malloc(sizeof(double) * (n ? n : 1));
  if (!g->num) return ss_seterr(err, SS_ERUN, "out of memory");
  for (int c = 0; c < g->t.ncols; c++)
    for (int r = 0; r < g->t.nrows; r++) {
      const char *cell = ss_csv_cell(&g->t, r, c);
      char *end;
      const double v = strtod(cell, &end);
      g->num[(size_t)c * (size_t)g->t.nrows + (size_t)r] = cell[0] && !*end ? v : NAN;
    }
  return SS_OK;
}

static void on_progress(void *ud, const ss_sweep_progress *p) {
  ss_grid *g = ud;
  if (g->cb && g->cb(g->cb_user, p->done, p->total, p->failed, p->elapsed)) ss_grid_request_stop(g);
}

/* The sweep layer's run and tables: stopped (SS_ESTOP), the tables of what finished are
 * written too, as the command line does, and the same sweep run again resumes. */
static int sweep(ss_grid *g, double t0, int *tables, ss_err *err) {
  ss_sweep_results res;
  *tables = 0;
  int rc = ss_sweep_results_init(&res, ss_sweep_npoints(&g->s), err);
  if (rc) return rc;
  g->s.stop = &g->stop;
  rc = ss_sweep_run(&g->s, &res, on_progress, g, err);
  if (rc == SS_OK || rc == SS_ESTOP) {
    /* a metric that is no column is SS_EINPUT after sweep.csv and the aggregate */
    ss_err e = {0};
    const int trc = ss_sweep_write_tables(&g->s, &res, ss_now() - t0, &e);
    *tables = trc == SS_OK || trc == SS_EINPUT;
    if (trc && rc == SS_OK) rc = ss_seterr(err, trc, "%s", e.msg);
  }
  ss_sweep_results_free(&res);
  return rc;
}

int ss_grid_run(ss_grid *g, ss_err *err) {
  ss_err local;
  if (!err) err = &local;
  int rc = settable(g, err);
  if (rc) return rc;
  const double t0 = ss_now();
  if (!g->s.out[0] && (rc = ss_run_dir(&g->s.base, "sweep", g->s.out, sizeof g->s.out, err))) return rc;
  if ((rc = ss_sweep_check(&g->s, err))) return rc;
  snprintf(g->s.command, sizeof g->s.command, "ss_grid_run (libscansnap %s)", SS_VERSION);
  if (!(g->dir = strdup(g->s.out))) return ss_seterr(err, SS_ERUN, "out of memory");
  int tables;
  rc = sweep(g, t0, &tables, err);
  if (!tables) { /* nothing to read: refused (fix and call again) or failed */
    if (rc == SS_EINPUT) {
      free(g->dir);
      g->dir = NULL;
    } else {
      g->used = 1;
    }
    return rc;
  }
  g->used = 1;
  /* the table of what is there, also when the sweep stopped or its metric is no column */
  ss_err e = {0};
  const int trc = read_table(g, g->dir, rc == SS_OK ? err : &e);
  if (trc) free_table(g);
  return rc ? rc : trc;
}

int ss_grid_open(ss_grid *g, const char *dir, ss_err *err) {
  ss_err local;
  if (!err) err = &local;
  int rc = settable(g, err);
  if (rc) return rc;
  if (!dir || !dir[0]) return ss_seterr(err, SS_EINPUT, "ss_grid_open: no directory given");
  if ((rc = read_table(g, dir, err))) {
    free_table(g);
    return rc;
  }
  if (!(g->dir = strdup(dir))) return ss_seterr(err, SS_ERUN, "out of memory");
  g->used = 1;
  return SS_OK;
}

const char *ss_grid_path(const ss_grid *g) { return g && g->dir ? g->dir : ""; }
int64_t ss_grid_nrows(const ss_grid *g) { return g && g->has_table ? g->t.nrows : 0; }
int ss_grid_ncolumns(const ss_grid *g) { return g && g->has_table ? g->t.ncols : 0; }

const char *ss_grid_column_name(const ss_grid *g, int i) {
  return g && g->has_table && i >= 0 && i < g->t.ncols ? g->t.head[i] : NULL;
}

const char *ss_grid_cell(const ss_grid *g, int64_t row, int i) {
  if (!g || !g->has_table || row < 0 || row >= g->t.nrows || i < 0 || i >= g->t.ncols) return NULL;
  return ss_csv_cell(&g->t, (int)row, i);
}

const double *ss_grid_column(const ss_grid *g, const char *name, int64_t *n) {
  if (n) *n = 0;
  if (!g || !g->has_table || !name) return NULL;
  const int c = ss_csv_col(&g->t, name);
  if (c < 0) return NULL;
  if (n) *n = g->t.nrows;
  return g->num + (size_t)c * (size_t)g->t.nrows;
}
