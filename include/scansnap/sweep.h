/* Sweeps: a grid of runs (the Hydra multirun habit of the paper's code), run by a pool of
 * worker processes (and, under mpirun, spread over MPI ranks), resumable, summarised.
 *
 * Grid syntax (one axis per key; the grid is the Cartesian product, first axis slowest):
 *   key=v1,v2,v3        a list (any key type)
 *   key=a:b[:step]      a range of numbers a, a+step, ... up to and including b (step 1)
 *   key="a,b"  key=[a,b] one value holding commas (the second for list keys: text.probe_steps)
 * Every point is a normal run directory <out>/<label>=<value>,<label>=<value>,... (label =
 * the key's last dotted part, the full key where two would clash), or <out>/run without axes.
 *
 * A sweep directory holds: sweep.json (written first: format, id, axes, fixed keys; at the end
 * also the counts), the run directories (each with a marker .sweep-point.json naming the
 * sweep's id: the only directories a sweep ever clears), sweep.csv (one row per point in grid
 * order: the swept keys, status, every column of the run's final metrics row, t0 where the run
 * wrote snap.json, the run directory name), aggregate.csv and aggregate.md (grouped by every
 * swept key except seed: mean, sample std and count of each final metric over the complete
 * runs), and with a reference table reference.csv, comparison.csv and comparison.md (our means
 * against the reference's, per group and overall, in units of the reference's standard error
 * std/sqrt(n)). Every CSV goes through the CSV writer (scansnap/csv.h). */
#ifndef SCANSNAP_SWEEP_H
#define SCANSNAP_SWEEP_H
#include <signal.h>

#include "scansnap/config.h"
#include "scansnap/csv.h"

#define SS_SWEEP_MAX_AXES 16
#define SS_SWEEP_MAX_COLS 64  /* metric columns kept from the runs' metrics.csv (the rest are ignored) */
#define SS_SWEEP_COL_LEN 48   /* bytes of a column name, NUL included */
#define SS_SWEEP_MAX_POINTS 1000000
#define SS_SWEEP_NAME_MAX 255 /* bytes of a run directory name (NAME_MAX) */
typedef struct {
  char key[128];  /* canonical key name */
  char label[128];/* name in run directories: last dotted part, or the full key on a clash */
  int n;
  char **values;  /* [n] values as text, in grid order */
  int cap;        /* entries allocated in values (grown geometrically while parsing) */
} ss_sweep_axis;

typedef struct {
  ss_config base; /* the fixed keys */
  int naxes;
  ss_sweep_axis axes[SS_SWEEP_MAX_AXES];
  /* sweep options (not run keys) */
  int jobs;                       /* worker processes per rank; 0 = cores / local ranks */
  int theory;                     /* 1: population runs (ss_theory_run) instead of SGD */
  char out[SS_PATH_MAX];          /* sweep directory */
  char reference[SS_PATH_MAX];    /* reference table to compare with ("" = none) */
  char metric[SS_SWEEP_COL_LEN];  /* metric compared and plotted: a metrics.csv column (default entropy_distinct) */
  char command[2048];             /* the command line, recorded in sweep.json */
  /* where this process runs (set by the caller; the library never initialises MPI): */
  int rank, nranks;               /* MPI rank and size, 0 and 1 without MPI (ss_sweep_init) */
  int local_ranks;                /* ranks on this host, sharing its cores (1 without MPI) */
  char id[40];                    /* the sweep's id, from sweep.json (set by ss_sweep_run) */
  /* Polled by the sweep and given to every run (ss_run_opts.stop): nonzero = stop (the CLI
   * points it at its SIGINT/SIGTERM flag). NULL: never stops. */
  const volatile sig_atomic_t *stop;
  long step_delay_us; /* test hook given to every run (ss_run_opts.step_delay_us) */
} ss_sweep;

void ss_sweep_init(ss_sweep *s);
void ss_sweep_free(ss_sweep *s);
/* One "key=value" argument: a list or range makes (or replaces) an axis, a plain value a
 * fixed key (dropping an axis of that key). Sweep options: out, jobs, theory, and
 * sweep.reference / sweep.metric. Bad syntax names the offending token. */
int ss_sweep_arg(ss_sweep *s, const char *arg, ss_err *err);
/* A YAML file: list values become axes, a 'sweep:' section sets sweep options (paths
 * relative to the file's folder). */
int ss_sweep_load_yaml(ss_sweep *s, const char *path, ss_err *err);
/* Checks the size of the grid, every point's configuration, that run names are distinct
 * and short enough (SS_SWEEP_NAME_MAX, and out/name under SS_PATH_MAX when out is set). */
int ss_sweep_check(ss_sweep *s, ss_err *err);
/* The number of points (the product of the axes' lengths), SS_SWEEP_MAX_POINTS + 1 for any
 * grid larger than SS_SWEEP_MAX_POINTS (computed without overflow; ss_sweep_check refuses it). */
long ss_sweep_npoints(const ss_sweep *s);
/* Axis value indices of point i (axis 0 slowest). */
void ss_sweep_indices(const ss_sweep *s, long i, int *idx);
/* The configuration of point i and its run directory name (relative to out). */
int ss_sweep_point(const ss_sweep *s, long i, ss_config *cfg, char *name, size_t n, ss_err *err);
/* Index of the axis of key (canonical or alias), or -1. */
int ss_sweep_axis_of(const ss_sweep *s, const char *key);

/* A point's status. BUSY: its directory is locked by another scansnap process (a `train
 * --resume` of it, say): left alone. FOREIGN: a directory this sweep did not make (no marker
 * with its id, a symlink, a file) is in the way: left alone. */
enum { SS_PT_PENDING = 0, SS_PT_COMPLETE, SS_PT_FAILED, SS_PT_DIVERGED, SS_PT_INTERRUPTED, SS_PT_BUSY, SS_PT_FOREIGN };
const char *ss_sweep_status_name(int status); /* "complete", "busy", ... */

typedef struct {
  int status;
  int skipped;  /* already complete before this invocation */
  int has_snap; /* the run wrote snap.json */
  double t0;    /* snap.json's t0 (NaN if none or null) */
  int nm;       /* values in m: the columns known when the run was read (later ones are NaN) */
  double *m;    /* the run's final metrics row, by column of ss_sweep_results.col */
} ss_sweep_result;

/* The results of every point and the metric columns they have: the union of the runs'
 * metrics.csv columns (step excluded), in order of first appearance. */
typedef struct {
  long n;
  ss_sweep_result *pt; /* [n] */
  int ncols;
  char col[SS_SWEEP_MAX_COLS][SS_SWEEP_COL_LEN];
} ss_sweep_results;
int ss_sweep_results_init(ss_sweep_results *r, long n, ss_err *err);
void ss_sweep_results_free(ss_sweep_results *r);
int ss_sweep_results_col(const ss_sweep_results *r, const char *name); /* -1 if absent */
/* Adds a column (or finds it): its index, -1 if the table is full or name is not a column name. */
int ss_sweep_results_add_col(ss_sweep_results *r, const char *name);
/* Point i's value of column c (NaN where the run has none). */
double ss_sweep_value(const ss_sweep_results *r, long i, int c);
/* Sets point i's value of column c (growing its row). */
int ss_sweep_set_value(ss_sweep_results *r, long i, int c, double v);
/* Whether name can be a metric column: [A-Za-z_][A-Za-z0-9_]*, shorter than SS_SWEEP_COL_LEN. */
int ss_sweep_is_column_name(const char *name);

typedef struct {
  long done, total, failed, skipped, running;
  double elapsed, eta; /* seconds; eta < 0 when unknown */
  int rank, nranks;
  int finished;        /* last call */
} ss_sweep_progress;
typedef void (*ss_sweep_progress_fn)(void *ud, const ss_sweep_progress *p);

/* Runs every point not yet complete in s->out (this rank's share under MPI: point i belongs
 * to rank i mod nranks), then gathers the results on rank 0 (MPI, when the caller has
 * initialised it). res (ss_sweep_results_init with ss_sweep_npoints) is valid on rank 0.
 *
 * out: created, or empty, or a sweep directory of the same grid (sweep.json: the same axes,
 * values and fixed keys: a resume); anything else is SS_EINPUT naming what differs, before
 * anything is written. sweep.json is written first. A point directory is touched only under
 * its run lock (ss_run_lock) and cleared only when its marker names this sweep; a locked one
 * is BUSY, one that is not ours FOREIGN, and the sweep goes on. Runs that fail are recorded
 * and the sweep goes on; the return value is about the sweep itself.
 *
 * Stop: once *s->stop is set (the CLI's SIGINT/SIGTERM flag) no new run starts, the workers
 * get SIGTERM (the in-process run sees the flag), each run stops at a step boundary with a
 * checkpoint and run.json "interrupted", and ss_sweep_run returns SS_ESTOP once they have
 * exited, with the results of what finished: write the tables, and run the same sweep again
 * to resume. Workers are forked processes, waited for by pid (never waitpid(-1)). */
int ss_sweep_run(ss_sweep *s, ss_sweep_results *res, ss_sweep_progress_fn fn, void *ud, ss_err *err);

/* Aggregate over every swept key except seed (groups in order of first appearance). The
 * groups and their mean/std rows are one allocation: free(*groups). */
typedef struct {
  long first;         /* first point of the group (gives its key values) */
  int count, failed;  /* complete runs averaged / runs not complete */
  double *mean, *std; /* [res->ncols]; sample std (n-1); NaN if count < 2 */
  double t0_mean, t0_std;
  int t0_count;
} ss_sweep_group;
int ss_sweep_aggregate(const ss_sweep *s, const ss_sweep_results *res, ss_sweep_group **groups, int *ngroups, ss_err *err);

/* Writes sweep.csv, aggregate.csv, aggregate.md, config.yaml, sweep.json and, with a
 * reference, reference.csv, comparison.csv and comparison.md into s->out. A metric that is no
 * column of any complete run (possible only for language-model sweeps, whose columns are
 * known once they ran) is SS_EINPUT naming the columns, after sweep.csv and the aggregate. */
int ss_sweep_write_tables(const ss_sweep *s, const ss_sweep_results *res, double wall_seconds, ss_err *err);

/* A parsed comparison against a reference table (the paper's Figure 6 numbers). */
typedef struct {
  long group_first;       /* our group's first point, -1 if we have no such group */
  double ours_mean, ours_std;
  int ours_n;
  double ref_mean, ref_std;
  int ref_n;
  double diff, z;         /* ours - ref, and diff / (ref_std / sqrt(ref_n)) */
  char keys[256];         /* "num_last=1 lr_z=0.5 ..." */
} ss_sweep_cmp;
/* The metric is column metric_col of the groups' mean/std. */
int ss_sweep_compare(const ss_sweep *s, const ss_sweep_group *g, int ng, int metric_col, const char *refpath, ss_sweep_cmp **out,
                     int *n, ss_err *err);
/* Checks a reference table's columns against the sweep (before any run). */
int ss_sweep_check_reference(const ss_sweep *s, ss_err *err);

/* Reads a sweep directory's sweep.json back into s (axes, options) — for plots and reports.
 * Validated as input: every axis has values, the grid at most SS_SWEEP_MAX_POINTS points,
 * the metric a column name. */
int ss_sweep_load_dir(ss_sweep *s, const char *dir, ss_err *err);

/* 1 if a reference table's row matches the sweep's fixed value of every key column that is
 * not swept (so `--preset fig6 opt.lr_z=1` compares with the lr_z = 1 rows only). */
int ss_sweep_ref_row_fixed_ok(const ss_sweep *s, const ss_csv *ref, int row);

#endif
