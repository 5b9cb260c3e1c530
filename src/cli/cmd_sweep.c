/* scansnap sweep [FILE.yaml] [--preset NAME] [key=value ...] key=v1,v2 key=a:b[:step]
 *                [out=DIR] [jobs=N] [theory=true] */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scansnap/sweep.h>

#include "cli/cli.h"

static void sweep_help(void) {
  printf("usage: scansnap sweep [FILE.yaml] [--preset NAME] [key=value ...] key=v1,v2,... key=a:b[:step]\n"
         "                      [out=DIR] [jobs=N] [theory=true] [reference=FILE.csv] [metric=NAME]\n\n"
         "Runs every point of the grid (the Cartesian product of the swept keys, first key slowest)\n"
         "as a normal run directory DIR/<key>=<value>,..., on a pool of worker processes\n"
         "(jobs, default = cores), then writes DIR/sweep.csv (one row per run: swept keys,\n"
         "status, every column of its final metrics row), DIR/aggregate.csv and aggregate.md\n"
         "(mean ± std [count] over every swept key except seed) and prints the aggregate.\n\n"
         "  key=v1,v2,v3    a list of values (any key)\n"
         "  key=a:b[:step]  numbers a, a+step, ... up to and including b (step 1)\n"
         "  'key=\"a,b\"'     one value holding commas; key=[a,b] for list keys (text.probe_steps=[0,500])\n"
         "  out=DIR         sweep directory: new, empty, or this grid's sweep to resume\n"
         "                  (default runs/sweep-<name>-<hash of the grid>)\n"
         "  jobs=N          worker processes (0 = all cores); results do not depend on it\n"
         "  theory=true     population runs (SPEC §4) instead of SGD runs\n"
         "  reference=CSV   compare the aggregate with a reference table (the paper's Figure 6)\n"
         "  metric=NAME     metrics.csv column compared and plotted (default entropy_distinct)\n"
         "  --preset NAME   configs/NAME.yaml (fig6 = the paper's Figure-6 sweep)\n\n"
         "In a YAML file a list is an axis (and a plain a:b range); any other value is one value.\n"
         "Rerunning the same command resumes: complete runs are skipped, unfinished ones continued\n"
         "from their checkpoints or redone. A sweep touches only run directories it made, under\n"
         "their run lock (a run in use elsewhere is 'busy', a folder it did not make 'foreign').\n"
         "SIGINT/SIGTERM: the runs stop with a checkpoint, the tables of what finished are written.\n"
         "Under `mpirun -np N scansnap sweep ...` the runs are spread over the ranks and rank 0\n"
         "writes the tables. Exit status: 0 all runs complete, 1 some run failed, diverged or was\n"
         "left alone (the tables are still written), 2 bad arguments, 130/143 stopped by a signal.\n");
}

static int is_yaml(const char *a) {
  size_t n = strlen(a);
  return (n > 5 && !strcmp(a + n - 5, ".yaml")) || (n > 4 && !strcmp(a + n - 4, ".yml"));
}

/* configs/NAME.yaml: $SS_CONFIGS, ./configs, then next to the executable (build/../configs). */
static int find_preset(const char *name, char *path, size_t n) {
  const char *env = getenv("SS_CONFIGS");
  if (env) {
    snprintf(path, n, "%s/%s.yaml", env, name);
    if (access(path, R_OK) == 0) return 1;
  }
  snprintf(path, n, "configs/%s.yaml", name);
  if (access(path, R_OK) == 0) return 1;
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0) {
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    const char *rel[] = {"../configs", "../../configs", "../share/scansnap/configs"};
    for (int i = 0; i < 3; i++) {
      if (snprintf(path, n, "%.900s/%s/%.60s.yaml", exe, rel[i], name) >= (int)n) continue;
      if (access(path, R_OK) == 0) return 1;
    }
  }
  return 0;
}

typedef struct {
  int tty, rank;
  double last;
} progress_state;

static void on_progress(void *ud, const ss_sweep_progress *p) {
  progress_state *st = ud;
  if (st->rank != 0) return;
  double now = p->elapsed;
  char eta[32], el[32], who[48] = "";
  ss_cli_clock(p->eta, eta, sizeof eta);
  ss_cli_clock(p->elapsed, el, sizeof el);
  if (p->nranks > 1) snprintf(who, sizeof who, " (rank 0 of %d)", p->nranks);
  if (st->tty) {
    int width = 30, fill = p->total ? (int)(width * p->done / p->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r[%s] %ld/%ld runs%s, %ld failed, %ld skipped, %s elapsed, ETA %s   ", bar, p->done, p->total, who,
            p->failed, p->skipped, el, eta);
    if (p->finished) fputc('\n', stderr);
    fflush(stderr);
    return;
  }
  if (p->finished || p->done == 0 || now - st->last >= 5.0) {
    fprintf(stderr, "sweep: %ld/%ld runs done%s, %ld failed, %ld skipped, %s elapsed, ETA %s\n", p->done, p->total, who,
            p->failed, p->skipped, el, eta);
    st->last = now;
  }
}

static int print_file(const char *dir, const char *name) {
  char *p = ss_path_join(dir, name);
  FILE *f = fopen(p, "r");
  free(p);
  if (!f) return 0;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 1;
}

/* A name for the default out=: the preset or YAML stem and a hash of every argument that
 * shapes the grid, so the same command resumes the same directory. */
static void default_out(ss_sweep *s, const char *stem, char *out, size_t n) {
  uint64_t h = SS_FNV_INIT;
  int nk;
  const ss_keydef *k = ss_config_keys(&nk);
  char v[SS_PATH_MAX + 64];
  for (int i = 0; i < nk; i++) {
    ss_config_format(&s->base, &k[i], v, sizeof v);
    h = ss_fnv1a64(k[i].name, strlen(k[i].name), h);
    h = ss_fnv1a64(v, strlen(v), h);
  }
  for (int a = 0; a < s->naxes; a++) {
    h = ss_fnv1a64(s->axes[a].key, strlen(s->axes[a].key), h);
    for (int j = 0; j < s->axes[a].n; j++) h = ss_fnv1a64(s->axes[a].values[j], strlen(s->axes[a].values[j]) + 1, h);
  }
  h = ss_fnv1a64(&s->theory, sizeof s->theory, h);
  snprintf(out, n, "runs/sweep-%s-%08x", stem, (unsigned)(h & 0xffffffffu));
}

static int sweep_main(int argc, char **argv, int rank, int size, int local) {
  ss_sweep s;
  ss_sweep_init(&s);
  s.rank = rank;
  s.nranks = size;
  s.local_ranks = local;
  ss_err err = {0};
  char stem[128] = "grid";
  int rc = 0;
  size_t len = 0;
  len += (size_t)snprintf(s.command, sizeof s.command, "scansnap sweep");
  for (int i = 1; i < argc && len < sizeof s.command; i++) len += (size_t)snprintf(s.command + len, sizeof s.command - len, " %s", argv[i]);
  for (int i = 1; i < argc && rc == 0; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--preset") || !strncmp(a, "--preset=", 9)) {
      const char *name = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
      char path[SS_PATH_MAX];
      if (!name || !*name) {
        rc = ss_seterr(&err, SS_EINPUT, "--preset needs a name (e.g. --preset fig6)");
      } else if (!find_preset(name, path, sizeof path)) {
        rc = ss_seterr(&err, SS_EINPUT, "--preset '%s': no configs/%s.yaml found (set SS_CONFIGS to the configs folder)", name, name);
      } else {
        rc = ss_sweep_load_yaml(&s, path, &err);
        snprintf(stem, sizeof stem, "%s", name);
      }
    } else if (!strncmp(a, "--", 2)) {
      rc = ss_seterr(&err, SS_EINPUT, "unknown option '%s' for sweep (see 'scansnap sweep --help')", a);
    } else if (strchr(a, '=')) {
      rc = ss_sweep_arg(&s, a, &err);
    } else if (is_yaml(a)) {
      rc = ss_sweep_load_yaml(&s, a, &err);
      const char *b = strrchr(a, '/');
      snprintf(stem, sizeof stem, "%.*s", (int)(strlen(b ? b + 1 : a) - (strstr(a, ".yml") ? 4 : 5)), b ? b + 1 : a);
    } else {
      rc = ss_seterr(&err, SS_EINPUT, "argument '%s' is neither key=value nor a .yaml file", a);
    }
  }
  if (rc == 0 && !s.out[0]) default_out(&s, stem, s.out, sizeof s.out);
  if (rc == 0) rc = ss_sweep_check(&s, &err);
  if (rc) {
    if (rank == 0) ss_cli_fail(&err);
    ss_sweep_free(&s);
    return ss_cli_exit_code(rc);
  }
  long np = ss_sweep_npoints(&s);
  ss_sweep_results res;
  if (ss_sweep_results_init(&res, np, &err)) {
    ss_sweep_free(&s);
    return ss_cli_fail(&err);
  }
  if (rank == 0)
    fprintf(stderr, "sweep: %ld runs (%d swept key%s) into %s%s\n", np, s.naxes, s.naxes == 1 ? "" : "s", s.out,
            s.theory ? " [theory runs]" : "");
  progress_state ps = {isatty(2), rank, 0};
  double t0 = ss_now();
  /* SIGINT/SIGTERM: the runs stop at a step boundary with a checkpoint, the tables of what
   * finished are written, exit 130/143; the same command resumes */
  ss_cli_catch_signals();
  s.stop = ss_cli_stop_flag();
  s.step_delay_us = ss_cli_test_step_delay();
  rc = ss_sweep_run(&s, &res, on_progress, &ps, &err);
  if (rc && rc != SS_ESTOP) {
    if (size == 1)
      ss_cli_fail(&err);
    else if (rank == 0 || !strstr(err.msg, "another MPI rank"))
      fprintf(stderr, "scansnap: rank %d: %s\n", rank, err.msg);
  } else if (rank == 0) {
    const int stopped = rc;
    ss_err terr = {0};
    int trc = ss_sweep_write_tables(&s, &res, ss_now() - t0, &terr);
    long cnt[SS_PT_FOREIGN + 1] = {0};
    for (long i = 0; i < np; i++) cnt[res.pt[i].status]++;
    if (trc == SS_OK || trc == SS_EINPUT) { /* EINPUT: the metric is no column; the other tables are there */
      printf("## Aggregate over seeds (%s)\n\n", s.out);
      print_file(s.out, "aggregate.md");
      if (s.reference[0] && trc == SS_OK) {
        printf("\n## Compared with the reference table (%s)\n\n", s.reference);
        print_file(s.out, "comparison.md");
      }
      printf("\nsweep:          %s (%ld runs, %ld complete, %.1f s, %.2f runs/s)\n", s.out, np, cnt[SS_PT_COMPLETE], ss_now() - t0,
             (double)np / (ss_now() - t0));
      printf("tables:         sweep.csv aggregate.csv aggregate.md%s\n", s.reference[0] && trc == SS_OK ? " comparison.csv comparison.md" : "");
    }
    if (trc) {
      rc = ss_cli_fail(&terr) == 2 && !stopped ? SS_EINPUT : stopped ? stopped : SS_ERUN;
    } else {
      const long failed = cnt[SS_PT_FAILED] + cnt[SS_PT_DIVERGED];
      if (failed) fprintf(stderr, "scansnap: %ld of %ld runs failed or diverged (status in sweep.csv, the reason in each run's run.json)\n", failed, np);
      if (cnt[SS_PT_BUSY])
        fprintf(stderr, "scansnap: %ld run%s in use by another scansnap process (busy in sweep.csv): left alone; run the sweep again when they are done\n",
                cnt[SS_PT_BUSY], cnt[SS_PT_BUSY] == 1 ? " is" : "s are");
      if (cnt[SS_PT_FOREIGN])
        fprintf(stderr, "scansnap: %ld run director%s not made by this sweep (foreign in sweep.csv: a file, a symlink or a folder without its marker): left alone\n",
                cnt[SS_PT_FOREIGN], cnt[SS_PT_FOREIGN] == 1 ? "y is in the way," : "ies are in the way,");
      if (!stopped && (failed || cnt[SS_PT_BUSY] || cnt[SS_PT_FOREIGN])) rc = SS_ERUN;
    }
    if (stopped) fprintf(stderr, "scansnap: %s\n", err.msg);
  } else if (rc == SS_ESTOP) {
    fprintf(stderr, "scansnap: rank %d: %s\n", rank, err.msg);
  }
  ss_sweep_results_free(&res);
  ss_sweep_free(&s);
  return ss_cli_exit_code(rc);
}

#ifdef SS_HAVE_MPI
#include <mpi.h>
#endif

int cmd_sweep(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    sweep_help();
    return 0;
  }
  /* MPI only under a launcher: a plain `scansnap sweep` must not depend on MPI starting up.
   * The library is given the rank, the size and the ranks sharing this host. */
  int rank = 0, size = 1, local = 1, mpi = 0;
#ifdef SS_HAVE_MPI
  if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")) {
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
      fprintf(stderr, "scansnap: MPI_Init failed\n");
      return 1;
    }
    mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
      MPI_Comm_size(node, &local);
      MPI_Comm_free(&node);
    }
  }
#endif
  int rc = sweep_main(argc, argv, rank, size, local);
#ifdef SS_HAVE_MPI
  if (mpi) MPI_Finalize();
#endif
  (void)mpi;
  return rc;
}
