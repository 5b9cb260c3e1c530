/* Sweeps: a grid of runs (the Hydra multirun habit of the paper's code), run by a pool of
 * worker processes (and, under mpirun, spread over MPI ranks), resumable, summarised.
 *
 * Grid syntax (one axis per key; the grid is the Cartesian product, first axis slowest):
 *   key=v1,v2,v3        a list (any key type)
 *   key=a:b[:step]      a range of numbers a, a+step, ... up to and including b (step 1)
 * Every point is a normal run directory <out>/<label>=<value>,<label>=<value>,... (label =
 * the key's last dotted part, the full key where two would clash).
 *
 * A sweep directory holds: sweep.json (axes, options, counts), the run directories,
 * sweep.csv (one row per point in grid order: the swept keys, status, the final metrics
 * row of the run, t0 where the run wrote snap.json, the run directory name), aggregate.csv
 * and aggregate.md (grouped by every swept key except seed: mean, sample std and count of
 * each final metric over the complete runs), and with a reference table reference.csv,
 * comparison.csv and comparison.md (our means against the reference's, per group and
 * overall, in units of the reference's standard error std/sqrt(n)). */
#ifndef SCANSNAP_SWEEP_H
#define SCANSNAP_SWEEP_H
#include "scansnap/config.h"
#include "scansnap/csv.h"

#define SS_SWEEP_MAX_AXES 16
#define SS_SWEEP_MAX_POINTS 1000000
#define SS_SWEEP_NAME_MAX 255 /* bytes of a run directory name (NAME_MAX) */
/* Final metrics kept per run: the columns of SS_METRIC_COLUMNS after "step". */
#define SS_SWEEP_NMETRICS 9
extern const char *const ss_sweep_metric_names[SS_SWEEP_NMETRICS];

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
  char metric[64];                /* metric compared and plotted (default entropy_distinct) */
  char command[2048];             /* the command line, recorded in sweep.json */
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

enum { SS_PT_PENDING = 0, SS_PT_COMPLETE = 1, SS_PT_FAILED = 2, SS_PT_DIVERGED = 3 };
typedef struct {
  int status;
  int skipped;                 /* already complete before this invocation */
  double m[SS_SWEEP_NMETRICS]; /* final metrics row (NaN unless complete) */
  double t0;                   /* snap.json's t0 (NaN if none or null) */
  int has_snap;
} ss_sweep_result;

typedef struct {
  long done, total, failed, skipped, running;
  double elapsed, eta; /* seconds; eta < 0 when unknown */
  int rank, nranks;
  int finished;        /* last call */
} ss_sweep_progress;
typedef void (*ss_sweep_progress_fn)(void *ud, const ss_sweep_progress *p);

/* MPI: initialises MPI only when launched by mpirun (OMPI_COMM_WORLD_SIZE/PMI_SIZE set);
 * rank and size are 0 and 1 otherwise. ss_sweep_mpi_finalize is safe in either case. */
int ss_sweep_mpi_init(int *argc, char ***argv, int *rank, int *size);
void ss_sweep_mpi_finalize(void);

/* Runs every point not yet complete in s->out (this rank's share under MPI), then gathers
 * the results on rank 0. res is [npoints] and valid on rank 0. A failed run is recorded and
 * the sweep goes on; the return value is about the sweep itself (bad out, lock held...). */
int ss_sweep_run(ss_sweep *s, ss_sweep_result *res, ss_sweep_progress_fn fn, void *ud, ss_err *err);

/* Aggregate over every swept key except seed (groups in order of first appearance). */
typedef struct {
  long first;                 /* first point of the group (gives its key values) */
  int count, failed;          /* complete runs averaged / runs not complete */
  double mean[SS_SWEEP_NMETRICS], std[SS_SWEEP_NMETRICS]; /* sample std (n-1); NaN if count < 2 */
  double t0_mean, t0_std;
  int t0_count;
} ss_sweep_group;
int ss_sweep_aggregate(const ss_sweep *s, const ss_sweep_result *res, ss_sweep_group **groups, int *ngroups,
                       ss_err *err);
/* Index of a metric name in ss_sweep_metric_names, or -1. */
int ss_sweep_metric_index(const char *name);

/* Writes sweep.csv, aggregate.csv, aggregate.md, sweep.json and, with a reference,
 * reference.csv, comparison.csv and comparison.md into s->out. extra: JSON object text
 * merged into sweep.json (may be NULL). */
int ss_sweep_write_tables(const ss_sweep *s, const ss_sweep_result *res, int nranks, double wall_seconds,
                          ss_err *err);

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
int ss_sweep_compare(const ss_sweep *s, const ss_sweep_group *g, int ng, const char *refpath, ss_sweep_cmp **out,
                     int *n, ss_err *err);

/* Reads a sweep directory's sweep.json back into s (axes, options) — for plots and reports. */
int ss_sweep_load_dir(ss_sweep *s, const char *dir, ss_err *err);

/* 1 if a reference table's row matches the sweep's fixed value of every key column that is
 * not swept (so `--preset fig6 opt.lr_z=1` compares with the lr_z = 1 rows only). */
int ss_sweep_ref_row_fixed_ok(const ss_sweep *s, const ss_csv *ref, int row);

#endif
