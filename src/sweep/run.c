/* Running a sweep: resume, the worker pool, MPI ranks.
 *
 * Workers are processes (fork), one run each, so a run that crashes is recorded as failed
 * and the sweep goes on, and every run executes exactly the code of a run alone (each in a
 * fresh process, single-threaded unless cores are left over): its files are byte-identical
 * to `scansnap train` with the same keys. jobs=1 runs in-process, one after the other.
 *
 * Resume: a point whose run.json says "complete" is skipped; any other directory of a
 * point (half-written by a killed sweep, failed) is removed and the point redone. Runs
 * write run.json "complete" last (train.h), so no half-written run is ever counted.
 *
 * MPI: point i belongs to rank i mod size (deterministic, so a rerun with the same -np
 * resumes the same points on the same hosts); each rank runs its share with its own pool,
 * then sends its results (status + final metrics, as doubles, bit for bit) to rank 0. The
 * run directories stay where the ranks wrote them: a shared filesystem is not needed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef SS_HAVE_MPI
#include <mpi.h>
#endif

#include "scansnap/io.h"
#include "scansnap/sweep.h"
#include "scansnap/theory.h"
#include "scansnap/train.h"

/* ---- MPI -------------------------------------------------------------------------------- */

static int g_rank = 0, g_size = 1;
#ifdef SS_HAVE_MPI
static int g_mpi_on = 0; /* only builds with MPI use it (-Wunused-variable otherwise) */
#endif

int ss_sweep_mpi_init(int *argc, char ***argv, int *rank, int *size) {
  *rank = 0;
  *size = 1;
#ifdef SS_HAVE_MPI
  /* Only under a launcher: a plain `scansnap sweep` must not depend on MPI starting up. */
  if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) return SS_ERUN;
    g_mpi_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  }
#else
  (void)argc;
  (void)argv;
#endif
  *rank = g_rank;
  *size = g_size;
  return SS_OK;
}

void ss_sweep_mpi_finalize(void) {
#ifdef SS_HAVE_MPI
  if (g_mpi_on) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    g_mpi_on = 0;
  }
#endif
}

/* ---- files of a point ------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int rm_rf(const char *path) {
  if (!ss_file_exists(path)) return 0;
  return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* run.json's status: 1 complete, 2 failed, 3 diverged, 0 running/absent/unreadable. */
static int run_status(const char *dir) {
  char *p = ss_path_join(dir, "run.json");
  json_error_t je;
  json_t *o = json_load_file(p, 0, &je);
  free(p);
  if (!o) return SS_PT_PENDING;
  const char *st = json_string_value(json_object_get(o, "status"));
  int r = SS_PT_PENDING;
  if (st && !strcmp(st, "complete")) r = SS_PT_COMPLETE;
  else if (st && !strcmp(st, "diverged")) r = SS_PT_DIVERGED;
  else if (st && !strcmp(st, "failed")) r = SS_PT_FAILED;
  json_decref(o);
  return r;
}

/* The last row of metrics.csv, by column name (so extra columns do not matter). */
static int read_final_metrics(const char *dir, double *m) {
  for (int k = 0; k < SS_SWEEP_NMETRICS; k++) m[k] = NAN;
  char *p = ss_path_join(dir, "metrics.csv");
  ss_csv t;
  ss_err e;
  int rc = ss_csv_read(p, &t, &e);
  free(p);
  if (rc) return rc;
  if (t.nrows < 1) {
    ss_csv_free(&t);
    return SS_ERUN;
  }
  for (int k = 0; k < SS_SWEEP_NMETRICS; k++) {
    int c = ss_csv_col(&t, ss_sweep_metric_names[k]);
    if (c >= 0) m[k] = strtod(ss_csv_cell(&t, t.nrows - 1, c), NULL);
  }
  ss_csv_free(&t);
  return SS_OK;
}

static void read_result(const char *dir, ss_sweep_result *r) {
  r->status = run_status(dir);
  for (int k = 0; k < SS_SWEEP_NMETRICS; k++) r->m[k] = NAN;
  r->t0 = NAN;
  r->has_snap = 0;
  if (r->status != SS_PT_COMPLETE) return;
  if (read_final_metrics(dir, r->m)) {
    r->status = SS_PT_FAILED;
    return;
  }
  char *p = ss_path_join(dir, "snap.json");
  json_error_t je;
  json_t *o = ss_file_exists(p) ? json_load_file(p, 0, &je) : NULL;
  free(p);
  if (o) {
    r->has_snap = 1;
    json_t *t0 = json_object_get(o, "t0");
    if (json_is_number(t0)) r->t0 = json_number_value(t0);
    json_decref(o);
  }
}

/* Text of config.yaml for c (NULL on failure; malloc'd). */
static char *config_text(const ss_config *c, size_t *n) {
  char *t = NULL;
  FILE *f = open_memstream(&t, n);
  if (!f) return NULL;
  ss_config_write_yaml(c, f);
  fclose(f);
  return t;
}

/* An unfinished SGD run that can continue from its checkpoint (docs/reliability.md):
 * run.json and a checkpoint exist, it did not diverge, and its saved configuration equals
 * this point's up to the thread count, which results do not depend on (a sweep rerun
 * with other fixed keys starts the run afresh). */
static int resumable(const ss_sweep *s, const ss_config *cfg, const char *dir) {
  if (s->theory) return 0;
  char *ck = ss_path_join(dir, "checkpoint.safetensors");
  char status[64] = "";
  ss_err e;
  ss_config saved;
  int ok = ck && ss_file_exists(ck) && ss_run_status(dir, status, sizeof status, &e) == SS_OK &&
           strcmp(status, "diverged") != 0 && strcmp(status, "complete") != 0 && ss_run_load_config(dir, &saved, &e) == SS_OK;
  free(ck);
  if (!ok) return 0;
  saved.threads = cfg->threads;
  memcpy(saved.out, cfg->out, sizeof saved.out);
  memcpy(saved.resume, cfg->resume, sizeof saved.resume);
  size_t na = 0, nb = 0;
  char *a = config_text(&saved, &na), *b = config_text(cfg, &nb);
  ok = a && b && na == nb && memcmp(a, b, na) == 0;
  free(a);
  free(b);
  return ok;
}

static int run_point(const ss_sweep *s, const ss_config *cfg, const char *dir, ss_err *err) {
  ss_run_summary sum;
  if (s->theory) return ss_theory_run(cfg, dir, &sum, err);
  if (resumable(s, cfg, dir)) {
    /* byte-identical to running it again from the start, minus the steps already done */
    ss_config c = *cfg;
    snprintf(c.resume, sizeof c.resume, "%s", dir);
    int rc = ss_train(&c, dir, &sum, err);
    if (rc != SS_EINPUT) return rc;
    /* the checkpoint cannot be used (damaged, inputs changed): start the run again */
    if (rm_rf(dir)) return ss_seterr(err, SS_ERUN, "sweep: cannot remove the unfinished run '%s': %s", dir, strerror(errno));
  }
  return ss_train(cfg, dir, &sum, err);
}

/* A point whose process died without a final run.json: record it as failed. */
static void mark_failed(const char *dir, const ss_config *cfg, const char *why) {
  ss_err e;
  if (ss_mkdir_p(dir, &e)) return;
  ss_run_finish(dir, "sweep", "failed", cfg, NULL, why, &e);
}

static int cores_available(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- the pool ---------------------------------------------------------------------------- */

typedef struct {
  pid_t pid;
  long point;
} ss_worker;

static int lock_dir(const char *out, int rank, int *fd, ss_err *err) {
  char name[64];
  snprintf(name, sizeof name, ".sweep.lock.%d", rank);
  char *p = ss_path_join(out, name);
  *fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  free(p);
  if (*fd < 0) return ss_seterr(err, SS_EINPUT, "sweep out '%s': cannot create its lock file: %s", out, strerror(errno));
  /* The workers of a killed sweep die with it (PDEATHSIG); give them a moment. */
  for (int i = 0; i < 100; i++) {
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0) return SS_OK;
    usleep(100000);
  }
  close(*fd);
  *fd = -1;
  return ss_seterr(err, SS_EINPUT, "sweep out '%s': another sweep is running in this directory", out);
}

int ss_sweep_run(ss_sweep *s, ss_sweep_result *res, ss_sweep_progress_fn fn, void *ud, ss_err *err) {
  long np = ss_sweep_npoints(s), mine = 0;
  for (long i = g_rank; i < np; i += g_size) mine++;
  memset(res, 0, sizeof *res * (size_t)np);
  int lockfd = -1;
  int rc = ss_sweep_check(s, err);
  if (rc) goto gather;
  if (!s->out[0]) {
    rc = ss_seterr(err, SS_EINPUT, "sweep: no out= directory given");
    goto gather;
  }
  if ((rc = ss_mkdir_p(s->out, err))) {
    rc = ss_seterr(err, SS_EINPUT, "sweep key 'out': %s", err->msg);
    goto gather;
  }
  if ((rc = lock_dir(s->out, g_rank, &lockfd, err))) goto gather;

  int cores = cores_available();
  const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  int local = ls && atoi(ls) > 0 ? atoi(ls) : 1;
  int per_rank = cores / local > 0 ? cores / local : 1;
  int jobs = s->jobs > 0 ? s->jobs : per_rank;
  int threads = per_rank / jobs > 0 ? per_rank / jobs : 1;

  ss_sweep_progress pr;
  memset(&pr, 0, sizeof pr);
  pr.rank = g_rank;
  pr.nranks = g_size;
  pr.eta = -1;
  pr.total = mine;
  double t0 = ss_now();
  char name[SS_PATH_MAX];

  /* Skip what is complete; clear what is not. */
  long *todo = malloc(sizeof(long) * (size_t)(mine ? mine : 1));
  ss_worker *w = calloc((size_t)jobs, sizeof *w);
  if (!todo || !w) {
    free(todo);
    free(w);
    close(lockfd);
    rc = ss_seterr(err, SS_ERUN, "out of memory");
    goto gather;
  }
  long ntodo = 0;
  for (long i = g_rank; i < np && rc == SS_OK; i += g_size) {
    ss_config cfg;
    if ((rc = ss_sweep_point(s, i, &cfg, name, sizeof name, err))) break;
    char *dir = ss_path_join(s->out, name);
    read_result(dir, &res[i]);
    if (res[i].status == SS_PT_COMPLETE) {
      res[i].skipped = 1;
      pr.done++;
      pr.skipped++;
    } else {
      memset(&res[i], 0, sizeof res[i]);
      /* an unfinished run with a usable checkpoint is continued (run_point), others redone */
      if (!resumable(s, &cfg, dir) && rm_rf(dir))
        rc = ss_seterr(err, SS_ERUN, "sweep: cannot remove the unfinished run '%s': %s", dir, strerror(errno));
      todo[ntodo++] = i;
    }
    free(dir);
  }
  if (fn && rc == SS_OK) fn(ud, &pr);

  long next = 0, nrun = 0, ran = 0;
  while (rc == SS_OK && (next < ntodo || nrun > 0)) {
    /* fill the pool */
    while (next < ntodo && (jobs == 1 || nrun < jobs)) {
      long i = todo[next++];
      ss_config cfg;
      if ((rc = ss_sweep_point(s, i, &cfg, name, sizeof name, err))) break;
      if (!ss_config_is_set(&s->base, "threads")) cfg.threads = threads;
      char *dir = ss_path_join(s->out, name);
      if (jobs == 1) {
        ss_err e;
        run_point(s, &cfg, dir, &e);
        read_result(dir, &res[i]);
        if (res[i].status == SS_PT_PENDING) {
          mark_failed(dir, &cfg, e.msg);
          res[i].status = SS_PT_FAILED;
        }
        free(dir);
        pr.done++;
        ran++;
        if (res[i].status != SS_PT_COMPLETE) pr.failed++;
        pr.elapsed = ss_now() - t0;
        pr.eta = pr.elapsed / (double)ran * (double)(pr.total - pr.done);
        if (fn) fn(ud, &pr);
        continue;
      }
      pid_t pid = fork();
      if (pid < 0) {
        free(dir);
        rc = ss_seterr(err, SS_ERUN, "sweep: fork failed: %s", strerror(errno));
        break;
      }
      if (pid == 0) {
        /* A worker dies with the sweep, so a restarted sweep never races a leftover. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(1);
        ss_err e;
        int r = run_point(s, &cfg, dir, &e);
        _exit(r);
      }
      free(dir);
      for (int k = 0; k < jobs; k++)
        if (w[k].pid == 0) {
          w[k].pid = pid;
          w[k].point = i;
          break;
        }
      nrun++;
      pr.running = nrun;
    }
    if (rc || nrun == 0) continue;
    int st;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      rc = ss_seterr(err, SS_ERUN, "sweep: waitpid failed: %s", strerror(errno));
      break;
    }
    for (int k = 0; k < jobs; k++) {
      if (w[k].pid != pid) continue;
      long i = w[k].point;
      w[k].pid = 0;
      nrun--;
      ss_config cfg;
      ss_err e;
      ss_sweep_point(s, i, &cfg, name, sizeof name, &e);
      char *dir = ss_path_join(s->out, name);
      read_result(dir, &res[i]);
      if (res[i].status == SS_PT_PENDING) {
        char why[128];
        if (WIFSIGNALED(st))
          snprintf(why, sizeof why, "worker killed by signal %d", WTERMSIG(st));
        else
          snprintf(why, sizeof why, "worker exited with status %d before finishing the run", WEXITSTATUS(st));
        mark_failed(dir, &cfg, why);
        res[i].status = SS_PT_FAILED;
      }
      free(dir);
      pr.done++;
      ran++;
      if (res[i].status != SS_PT_COMPLETE) pr.failed++;
      pr.running = nrun;
      pr.elapsed = ss_now() - t0;
      pr.eta = pr.elapsed / (double)ran * (double)(pr.total - pr.done);
      if (fn) fn(ud, &pr);
    }
  }
  if (rc) {
    for (int k = 0; k < jobs; k++)
      if (w[k].pid > 0) {
        kill(w[k].pid, SIGKILL);
        waitpid(w[k].pid, NULL, 0);
      }
  }
  free(todo);
  free(w);
  pr.elapsed = ss_now() - t0;
  pr.eta = 0;
  pr.finished = 1;
  pr.running = 0;
  if (fn && rc == SS_OK) fn(ud, &pr);
  close(lockfd);

gather:
#ifdef SS_HAVE_MPI
  if (g_mpi_on && g_size > 1) {
    /* Gather: every rank's points as [status, skipped, has_snap, t0, m...] doubles. The rc
     * travels too, so rank 0 fails if any rank did. */
    enum { W = 4 + SS_SWEEP_NMETRICS };
    int any = rc;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
      /* nothing to gather */
    } else if (g_rank != 0) {
      double *buf = malloc(sizeof(double) * W * (size_t)(mine ? mine : 1));
      long k = 0;
      for (long i = g_rank; i < np; i += g_size, k++) {
        double *b = buf + W * k;
        b[0] = res[i].status;
        b[1] = res[i].skipped;
        b[2] = res[i].has_snap;
        b[3] = res[i].t0;
        memcpy(b + 4, res[i].m, sizeof res[i].m);
      }
      MPI_Send(buf, (int)(W * mine), MPI_DOUBLE, 0, 7, MPI_COMM_WORLD);
      free(buf);
    } else {
      for (int r = 1; r < g_size; r++) {
        long cnt = 0;
        for (long i = r; i < np; i += g_size) cnt++;
        double *buf = malloc(sizeof(double) * W * (size_t)(cnt ? cnt : 1));
        MPI_Recv(buf, (int)(W * cnt), MPI_DOUBLE, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        long k = 0;
        for (long i = r; i < np; i += g_size, k++) {
          const double *b = buf + W * k;
          res[i].status = (int)b[0];
          res[i].skipped = (int)b[1];
          res[i].has_snap = (int)b[2];
          res[i].t0 = b[3];
          memcpy(res[i].m, b + 4, sizeof res[i].m);
        }
        free(buf);
      }
    }
    if (any && !rc) rc = ss_seterr(err, SS_ERUN, "sweep: another MPI rank failed (see its message)");
  }
#endif
  return rc;
}
