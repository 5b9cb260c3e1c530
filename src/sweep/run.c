/* Running a sweep: the sweep directory, resume, the worker pool, stops, MPI ranks.
 *
 * Workers are processes (fork), one per job, each running the points it is sent one after
 * the other, so a run that crashes takes only its worker down: it is recorded as failed, a
 * new worker takes the next point and the sweep goes on. Every run executes exactly the code
 * of a run alone (single-threaded unless cores are left over): its files are byte-identical
 * to `scansnap train` with the same keys. jobs=1 runs in-process, one after the other. The
 * pool waits for the pids it started and no other (a socket pair per worker carries points
 * out and results back; EOF tells when it exits), so a host program's own children are
 * never reaped.
 *
 * What is ours: the sweep directory is new, empty, or holds a sweep.json of the same grid
 * (written before anything else). A point directory is made by the sweep with a marker
 * (.sweep-point.json naming the sweep's id); only a directory with our marker is ever
 * cleared, only under its run lock (ss_run_lock, the lock `train` and `train --resume` hold),
 * and only its contents (the directory, its lock file and the marker stay), without following
 * symlinks. A locked point is BUSY and one in the way that is not ours FOREIGN: both are left
 * alone and reported.
 *
 * Resume: a point whose run.json says "complete" is skipped; an unfinished run whose
 * checkpoint and configuration fit is continued from its checkpoint; any other directory of
 * ours is cleared and the point redone. Runs write run.json "complete" last (train.h), so no
 * half-written run is ever counted.
 *
 * Stop (*s->stop, the flag of the CLI's SIGINT/SIGTERM handler): no new run starts, running
 * workers get SIGTERM once (they inherit the CLI's handler, made repeatable in the worker so
 * that a signal sent to the whole process group as well cannot kill it before its
 * checkpoint), each run stops at a step boundary with a checkpoint and run.json
 * "interrupted", and ss_sweep_run returns SS_ESTOP with what finished.
 *
 * MPI (initialised by the caller; rank and size in the ss_sweep): point i belongs to rank
 * i mod size (deterministic, so a rerun with the same -np resumes the same points on the same
 * hosts); each rank runs its share with its own pool, then sends its results (status, t0 and
 * the final metrics by column name, doubles bit for bit) to rank 0. The run directories stay
 * where the ranks wrote them: a shared filesystem is not needed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef SS_HAVE_MPI
#include <mpi.h>
#endif

#include "scansnap/io.h"
#include "scansnap/sweep.h"
#include "scansnap/theory.h"
#include "scansnap/train.h"
#include "sweep/sweep_internal.h"

#define MARKER ".sweep-point.json"
#define LOCKPREFIX ".sweep.lock."
#define NEWPREFIX ".sweep-new-"

/* The stop request the caller passed (the CLI's SIGINT/SIGTERM flag), 0 if none. */
static int stop_of(const ss_sweep *s) { return s->stop ? (int)*s->stop : 0; }

/* ---- files of a point ------------------------------------------------------------------ */

/* dir/name if it is a regular file (not a symlink: a run directory may come from anyone),
 * else NULL; malloc'd. */
static char *regular_file(const char *dir, const char *name) {
  char *p = ss_path_join(dir, name);
  struct stat st;
  if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
  free(p);
  return NULL;
}

static json_t *load_json(const char *dir, const char *name) {
  char *p = regular_file(dir, name);
  json_error_t je;
  json_t *o = p ? json_load_file(p, 0, &je) : NULL;
  free(p);
  if (o && !json_is_object(o)) {
    json_decref(o);
    o = NULL;
  }
  return o;
}

/* run.json's status as a point status; PENDING for running, absent or unreadable. */
static int run_status(const char *dir) {
  json_t *o = load_json(dir, "run.json");
  if (!o) return SS_PT_PENDING;
  const char *st = json_string_value(json_object_get(o, "status"));
  int r = SS_PT_PENDING;
  if (st && !strcmp(st, "complete")) r = SS_PT_COMPLETE;
  else if (st && !strcmp(st, "diverged")) r = SS_PT_DIVERGED;
  else if (st && !strcmp(st, "failed")) r = SS_PT_FAILED;
  else if (st && !strcmp(st, "interrupted")) r = SS_PT_INTERRUPTED;
  json_decref(o);
  return r;
}

/* The last row of metrics.csv, every column by name (step excluded). */
static int read_final_metrics(const char *dir, ss_sweep_results *res, long i) {
  char *p = regular_file(dir, "metrics.csv");
  if (!p) return SS_ERUN;
  ss_csv t;
  ss_err e;
  int rc = ss_csv_read(p, &t, &e);
  free(p);
  if (rc) return rc;
  if (t.nrows < 1) {
    ss_csv_free(&t);
    return SS_ERUN;
  }
  for (int c = 0; c < t.ncols && rc == SS_OK; c++) {
    if (!strcmp(t.head[c], "step")) continue;
    const int k = ss_sweep_results_add_col(res, t.head[c]);
    if (k < 0) continue; /* not a column name, or more columns than kept */
    const char *cell = ss_csv_cell(&t, t.nrows - 1, c);
    char *end;
    double v = strtod(cell, &end);
    rc = ss_sweep_set_value(res, i, k, end == cell || *end ? NAN : v);
  }
  ss_csv_free(&t);
  return rc;
}

static void read_result(const char *dir, ss_sweep_results *res, long i) {
  ss_sweep_result *r = &res->pt[i];
  r->status = run_status(dir);
  r->t0 = NAN;
  r->has_snap = 0;
  for (int k = 0; k < r->nm; k++) r->m[k] = NAN;
  if (r->status != SS_PT_COMPLETE) return;
  if (read_final_metrics(dir, res, i)) {
    r->status = SS_PT_FAILED;
    return;
  }
  json_t *o = load_json(dir, "snap.json");
  if (o) {
    r->has_snap = 1;
    json_t *t0 = json_object_get(o, "t0");
    if (json_is_number(t0)) r->t0 = json_number_value(t0);
    json_decref(o);
  }
}

/* ---- what is ours: markers, clearing a point directory -------------------------------------- */

enum { PT_ABSENT, PT_OURS, PT_NOT_OURS };

/* Whether dir is a point directory this sweep made: a directory (not a symlink) holding our
 * marker, a regular file naming this sweep's id. */
static int point_state(const ss_sweep *s, const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0) return errno == ENOENT ? PT_ABSENT : PT_NOT_OURS;
  if (!S_ISDIR(st.st_mode)) return PT_NOT_OURS;
  json_t *o = load_json(dir, MARKER);
  const char *id = o ? json_string_value(json_object_get(o, "sweep")) : NULL;
  const int ours = id && s->id[0] && !strcmp(id, s->id);
  json_decref(o);
  return ours ? PT_OURS : PT_NOT_OURS;
}

/* The marker, written straight into the new point's private temporary directory (nobody
 * sees that directory before it is renamed into place, whole; no temporary file of its own),
 * flushed to the disk only when the point's runs flush theirs (sync: its fsync key; a
 * sweep's default is one flush of everything at its end). */
static int write_marker(const ss_sweep *s, const char *dir, const char *name, int sync, ss_err *err) {
  char *p = ss_path_join(dir, MARKER);
  json_t *o = json_pack("{s:s, s:s, s:s}", "format", "scansnap-sweep-point-1", "sweep", s->id, "point", name);
  char *js = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
  json_decref(o);
  int rc = SS_OK;
  const int fd = p && js ? open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644) : -1;
  if (fd < 0) {
    rc = ss_seterr(err, SS_ERUN, "cannot write '%s': %s", p ? p : MARKER, p && js ? strerror(errno) : "out of memory");
  } else {
    const size_t n = strlen(js);
    js[n] = '\n'; /* json_dumps's terminator becomes the final newline */
    const int ok = write(fd, js, n + 1) == (ssize_t)(n + 1) && (!sync || fsync(fd) == 0);
    const int e = errno;
    if ((close(fd) != 0) | !ok) rc = ss_seterr(err, SS_ERUN, "cannot write '%s': %s", p, strerror(ok ? errno : e));
  }
  free(js);
  free(p);
  return rc;
}

/* Removes what dfd holds (the top level except .run.lock and the marker), depth first, by
 * file descriptors: unlinkat/openat with O_NOFOLLOW never follow a symlink, whatever is
 * swapped in meanwhile; it stays on dfd's file system. */
static int clear_at(int dfd, dev_t dev, int depth) {
  if (depth > 64) return ENAMETOOLONG;
  int fd2 = dup(dfd);
  DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
  if (!d) {
    if (fd2 >= 0) close(fd2);
    return errno;
  }
  /* names first: removing entries while reading the directory is not portable */
  char **names = NULL;
  size_t n = 0, cap = 0;
  int e = 0;
  for (struct dirent *de; (de = readdir(d));) {
    const char *nm = de->d_name;
    if (!strcmp(nm, ".") || !strcmp(nm, "..") || (depth == 0 && (!strcmp(nm, ".run.lock") || !strcmp(nm, MARKER)))) continue;
    if (n == cap) {
      char **nn = realloc(names, sizeof *nn * (cap = cap ? 2 * cap : 16));
      if (!nn) {
        e = ENOMEM;
        break;
      }
      names = nn;
    }
    if (!(names[n] = strdup(nm))) {
      e = ENOMEM;
      break;
    }
    n++;
  }
  closedir(d);
  for (size_t i = 0; i < n && !e; i++) {
    struct stat st;
    if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) e = errno;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        e = EXDEV; /* a mount point inside a run directory: not ours to empty */
        break;
      }
      int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        e = errno;
        break;
      }
      e = clear_at(sub, dev, depth + 1);
      close(sub);
      if (!e && unlinkat(dfd, names[i], AT_REMOVEDIR) != 0) e = errno;
    } else if (unlinkat(dfd, names[i], 0) != 0 && errno != ENOENT) {
      e = errno;
    }
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return e;
}

static int clear_point(const char *dir, ss_err *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  int e = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : clear_at(fd, st.st_dev, 0);
  if (fd >= 0) close(fd);
  if (e) return ss_seterr(err, SS_ERUN, "sweep: cannot clear the unfinished run '%s': %s", dir, strerror(e));
  return SS_OK;
}

/* A temporary point directory (NEWPREFIX): its marker, then itself. */
static void remove_tmp_point(const char *tmp) {
  char *m = ss_path_join(tmp, MARKER);
  if (m) unlink(m);
  free(m);
  rmdir(tmp);
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
  char *ck = regular_file(dir, "checkpoint.safetensors");
  char status[64] = "";
  ss_err e;
  ss_config saved;
  int ok = ck && ss_run_status(dir, status, sizeof status, &e) == SS_OK && strcmp(status, "diverged") != 0 &&
           strcmp(status, "complete") != 0 && ss_run_load_config(dir, &saved, &e) == SS_OK;
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

/* ---- one point ---------------------------------------------------------------------------- */

enum { CLAIM_FRESH = 100, CLAIM_RESUME }; /* besides a point status */

/* A new point directory, with its marker from the first moment it has its name: made as
 * out/.sweep-new-XXXXXX and renamed into place, without replacing anything there. Returns
 * CLAIM_FRESH, PT_NOT_OURS if dir appeared meanwhile, or -1 with err. (A temporary left by a
 * killed sweep is removed by the next one of the same rank: remove_leftovers.) */
static int new_point_dir(const ss_sweep *s, const char *dir, const char *name, int sync, ss_err *err) {
  char t[64];
  snprintf(t, sizeof t, NEWPREFIX "%d-XXXXXX", s->rank); /* per rank: each cleans its own */
  char *tmp = ss_path_join(s->out, t);
  if (!tmp) return ss_seterr(err, SS_ERUN, "out of memory"), -1;
  int r = -1;
  if (!mkdtemp(tmp)) {
    ss_seterr(err, SS_ERUN, "sweep: cannot create a run directory in '%s': %s", s->out, strerror(errno));
  } else if (write_marker(s, tmp, name, sync, err) == SS_OK) {
    int e = renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) == 0 ? 0 : errno;
    if (e == EINVAL || e == ENOSYS) /* a file system without RENAME_NOREPLACE: check, then rename */
      e = point_state(s, dir) != PT_ABSENT ? EEXIST : rename(tmp, dir) == 0 ? 0 : errno;
    if (e == 0)
      r = CLAIM_FRESH;
    else if (e == EEXIST || e == ENOTEMPTY)
      r = PT_NOT_OURS;
    else
      ss_seterr(err, SS_ERUN, "sweep: cannot create the run directory '%s': %s", dir, strerror(e));
  }
  if (r != CLAIM_FRESH) remove_tmp_point(tmp);
  free(tmp);
  return r;
}

/* Makes dir ready for point name's run, under its run lock: a new directory with our marker,
 * or ours with a run to continue, or ours cleared. Returns CLAIM_FRESH/CLAIM_RESUME, or the
 * status of a point not to run (COMPLETE, BUSY, FOREIGN), or -1 with err set. */
static int claim_point(const ss_sweep *s, const ss_config *cfg, const char *dir, const char *name, int force_fresh, ss_err *err) {
  int st = point_state(s, dir);
  if (st == PT_ABSENT) {
    const int r = new_point_dir(s, dir, name, cfg->fsync, err);
    if (r != PT_NOT_OURS) return r; /* made, or an error */
    st = point_state(s, dir);      /* made meanwhile by someone else */
  }
  if (st != PT_OURS) return SS_PT_FOREIGN;
  int fd;
  ss_err e;
  if (ss_run_lock(dir, &fd, &e)) return SS_PT_BUSY;
  int r;
  if (!force_fresh && run_status(dir) == SS_PT_COMPLETE)
    r = SS_PT_COMPLETE;
  else if (!force_fresh && resumable(s, cfg, dir))
    r = CLAIM_RESUME;
  else
    r = clear_point(dir, err) ? -1 : CLAIM_FRESH;
  ss_run_unlock(fd);
  return r;
}

/* A point whose run ended without a final run.json (its worker died, or the run could not
 * start): record it as failed, under its lock; a locked one is busy, not failed. */
static int mark_failed(const ss_sweep *s, const char *dir, const ss_config *cfg, const char *why) {
  if (point_state(s, dir) != PT_OURS) return SS_PT_FOREIGN;
  int fd;
  ss_err e;
  if (ss_run_lock(dir, &fd, &e)) return SS_PT_BUSY;
  ss_run_finish(dir, "sweep", "failed", cfg, NULL, why, &e);
  ss_run_unlock(fd);
  return SS_PT_FAILED;
}

/* Runs point name in dir (ss_train / ss_theory_run take the run lock themselves). Returns a
 * point status when the run did not start (COMPLETE, BUSY, FOREIGN, FAILED with its reason in
 * run.json, PENDING when stopped before it), else -1: the caller reads run.json. */
static int run_point(const ss_sweep *s, const ss_config *cfg, const char *dir, const char *name) {
  ss_err e = {0};
  if (stop_of(s)) return SS_PT_PENDING;
  int c = claim_point(s, cfg, dir, name, 0, &e);
  if (c < 0) return mark_failed(s, dir, cfg, e.msg);
  if (c < CLAIM_FRESH) return c;
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.dir = dir;
  o.stop = s->stop;
  o.step_delay_us = s->step_delay_us;
  ss_run_summary sum;
  ss_train_summary tsum;
  if (s->theory) {
    ss_theory_run_opts(cfg, &o, &sum, &e);
  } else {
    if (c == CLAIM_RESUME) {
      /* byte-identical to running it again from the start, minus the steps already done */
      ss_config rc = *cfg;
      snprintf(rc.resume, sizeof rc.resume, "%s", dir);
      const int r = ss_train_run(&rc, &o, &tsum, &e);
      /* SS_EINPUT: the checkpoint cannot be used (damaged, inputs changed) or the run is
       * locked: start again under the lock, or leave it to its owner */
      if (r == SS_EINPUT && !stop_of(s) && (c = claim_point(s, cfg, dir, name, 1, &e)) != CLAIM_FRESH)
        return c < 0 ? mark_failed(s, dir, cfg, e.msg) : c;
    }
    if (c == CLAIM_FRESH) ss_train_run(cfg, &o, &tsum, &e);
  }
  /* a run that could not start (bad input found inside it, its lock taken) wrote no status */
  return run_status(dir) == SS_PT_PENDING ? mark_failed(s, dir, cfg, e.msg[0] ? e.msg : "the run ended without a status") : -1;
}

/* The status of point i after run_point returned r (worker: its exit status), read from its
 * directory. */
static void finish_point(const ss_sweep *s, ss_sweep_results *res, long i, int r, const char *why) {
  ss_config cfg;
  char name[SS_PATH_MAX];
  ss_err e;
  ss_sweep_point(s, i, &cfg, name, sizeof name, &e);
  char *dir = ss_path_join(s->out, name);
  if (r == SS_PT_COMPLETE || r < 0) {
    read_result(dir, res, i);
    if (res->pt[i].status == SS_PT_PENDING) res->pt[i].status = mark_failed(s, dir, &cfg, why);
  } else {
    res->pt[i].status = r;
  }
  free(dir);
}

/* ---- the sweep directory --------------------------------------------------------------------- */

static void new_id(char *id, size_t n) {
  unsigned char b[8];
  if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ss_fnv1a64(&ts, sizeof ts, SS_FNV_INIT);
    pid_t pid = getpid();
    x = ss_fnv1a64(&pid, sizeof pid, x);
    memcpy(b, &x, sizeof b);
  }
  for (size_t i = 0; i < sizeof b && 2 * i + 2 < n; i++) snprintf(id + 2 * i, 3, "%02x", b[i]);
}

/* Whether out holds nothing but our lock files. */
static int empty_dir(const char *out, int *empty) {
  DIR *d = opendir(out);
  if (!d) return errno;
  *empty = 1;
  for (struct dirent *de; (de = readdir(d));)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strncmp(de->d_name, LOCKPREFIX, strlen(LOCKPREFIX))) *empty = 0;
  closedir(d);
  return 0;
}

/* out is ours: empty (*fresh), or a sweep of the same grid (its id into s->id). */
static int check_out(ss_sweep *s, int *fresh, ss_err *err) {
  *fresh = 0;
  struct stat st;
  if (lstat(s->out, &st) != 0) {
    if (errno != ENOENT) return ss_seterr(err, SS_EINPUT, "sweep key 'out': '%s': %s", s->out, strerror(errno));
    *fresh = 1;
    return SS_OK;
  }
  if (!S_ISDIR(st.st_mode) && !(S_ISLNK(st.st_mode) && stat(s->out, &st) == 0 && S_ISDIR(st.st_mode)))
    return ss_seterr(err, SS_EINPUT, "sweep key 'out': '%s' exists and is not a directory", s->out);
  int e = empty_dir(s->out, fresh);
  if (e) return ss_seterr(err, SS_EINPUT, "sweep key 'out': cannot read '%s': %s", s->out, strerror(e));
  if (*fresh) return SS_OK;
  json_t *o = load_json(s->out, "sweep.json");
  if (!o)
    return ss_seterr(err, SS_EINPUT,
                     "sweep key 'out': '%s' is not empty and holds no sweep.json: not a sweep directory (a sweep takes a new or empty "
                     "directory, or its own to resume); choose another out=",
                     s->out);
  const char *fmt = json_string_value(json_object_get(o, "format"));
  const char *id = json_string_value(json_object_get(o, "id"));
  char why[512];
  int rc = SS_OK;
  if (!fmt || strcmp(fmt, SS_SWEEP_FORMAT))
    rc = ss_seterr(err, SS_EINPUT, "sweep key 'out': '%s' holds a sweep.json of an unknown format (expected \"%s\")", s->out, SS_SWEEP_FORMAT);
  else if (!id || !*id || strlen(id) >= sizeof s->id || strspn(id, "0123456789abcdef") != strlen(id))
    rc = ss_seterr(err, SS_EINPUT, "sweep key 'out': '%s' holds a sweep of an older scansnap (its sweep.json has no id), which cannot be resumed safely; choose another out=", s->out);
  else if (!ss_sweepi_same_grid(s, o, why, sizeof why))
    rc = ss_seterr(err, SS_EINPUT, "sweep key 'out': '%s' holds another sweep (%s); choose another out=, or run that sweep's own command to resume it", s->out, why);
  else if (s->id[0] && strcmp(s->id, id))
    rc = ss_seterr(err, SS_EINPUT, "sweep key 'out': '%s' holds a sweep of id %s, rank 0's is %s", s->out, id, s->id);
  else
    snprintf(s->id, sizeof s->id, "%s", id);
  json_decref(o);
  return rc;
}

static int lock_dir(const char *out, int rank, int *fd, ss_err *err) {
  char name[64];
  snprintf(name, sizeof name, LOCKPREFIX "%d", rank);
  char *p = ss_path_join(out, name);
  *fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644);
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

/* The temporary point directories a killed sweep of this rank left: ours when they hold
 * nothing but our marker (this rank's lock is held: none of its workers is making one). */
static void remove_leftovers(const ss_sweep *s) {
  char pre[64];
  snprintf(pre, sizeof pre, NEWPREFIX "%d-", s->rank);
  DIR *d = opendir(s->out);
  if (!d) return;
  for (struct dirent *de; (de = readdir(d));) {
    if (strncmp(de->d_name, pre, strlen(pre))) continue;
    char *p = ss_path_join(s->out, de->d_name);
    if (p && point_state(s, p) == PT_OURS) remove_tmp_point(p); /* rmdir fails if it holds more */
    free(p);
  }
  closedir(d);
}

/* Takes out for this sweep (the checks of check_out, again under the lock, then sweep.json
 * written first) and holds its lock in *lockfd. given_id: rank 0's id (other ranks). */
static int prepare_out(ss_sweep *s, const char *given_id, int *lockfd, ss_err *err) {
  int fresh;
  *lockfd = -1;
  if (given_id) snprintf(s->id, sizeof s->id, "%s", given_id);
  int rc = check_out(s, &fresh, err);
  if (rc) return rc;
  if (fresh && (rc = ss_mkdir_p(s->out, err))) return ss_seterr(err, SS_EINPUT, "sweep key 'out': %s", err->msg);
  if ((rc = lock_dir(s->out, s->rank, lockfd, err))) return rc;
  if ((rc = check_out(s, &fresh, err)) == SS_OK) { /* another sweep may have taken it meanwhile */
    if (!s->id[0]) new_id(s->id, sizeof s->id);
    rc = ss_sweepi_write_json(s, NULL, 0, 0, 0, err);
    if (rc == SS_OK) remove_leftovers(s);
  }
  if (rc) {
    close(*lockfd);
    *lockfd = -1;
  }
  return rc;
}

static int cores_available(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- the pool ---------------------------------------------------------------------------- */

typedef struct {
  pid_t pid;   /* 0: no worker in this slot */
  long point;  /* the point it runs, -1 when idle */
  int fd;      /* our end of its socket pair: points go out, results come back, EOF = it exited */
  int retired; /* told that no more points come (its socket shut for writing) */
} ss_worker;

/* In a worker: the stop handler the CLI installed (inherited) stays installed after its first
 * signal, so the pool's SIGTERM and a signal to the whole process group cannot kill the run
 * before it writes its checkpoint. Without a handler (a host that installed none) nothing
 * changes. */
static void worker_signals(void) {
  const int sigs[] = {SIGINT, SIGTERM};
  for (int k = 0; k < 2; k++) {
    struct sigaction sa;
    if (sigaction(sigs[k], NULL, &sa) != 0) continue;
    if (!(sa.sa_flags & SA_SIGINFO) && (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)) continue;
    sa.sa_flags &= ~SA_RESETHAND;
    sigaction(sigs[k], &sa, NULL);
  }
}

/* The point's configuration as the pool runs it: the sweep's threads per run unless the
 * sweep set threads itself. */
static int pool_point(const ss_sweep *s, long i, int threads, ss_config *cfg, char *name, size_t n, ss_err *err) {
  const int rc = ss_sweep_point(s, i, cfg, name, n, err);
  if (rc == SS_OK && !ss_config_is_set(&s->base, "threads")) cfg->threads = threads;
  return rc;
}

/* A worker: one process that runs the points it is sent, one after the other, until its
 * socket is shut (or the sweep dies: PR_SET_PDEATHSIG). Each result goes back as run_point's
 * value; a worker that crashes in a run is seen by the pool as EOF and its run recorded as
 * failed. A run owns nothing of the process that outlives it (the library keeps no state
 * between runs), so its files are those of the same run alone (test_sweep_run_equals_run_alone:
 * several points per worker). One process per core instead of one per run: a fork, a fresh
 * address space and its page faults per run were a third of the Figure-6 sweep's CPU time. */
static void worker_main(const ss_sweep *s, int fd, int threads) {
  for (;;) {
    long i;
    const ssize_t n = recv(fd, &i, sizeof i, MSG_WAITALL);
    if (n < 0 && errno == EINTR) continue; /* a stop while idle: the pool shuts the socket */
    if (n != (ssize_t)sizeof i) return;
    ss_config cfg;
    char name[SS_PATH_MAX];
    ss_err e;
    int r = -1;
    if (pool_point(s, i, threads, &cfg, name, sizeof name, &e) == SS_OK) {
      char *dir = ss_path_join(s->out, name);
      if (dir) r = run_point(s, &cfg, dir, name);
      free(dir);
    }
    if (send(fd, &r, sizeof r, MSG_NOSIGNAL) != (ssize_t)sizeof r) return;
  }
}

static pid_t start_worker(const ss_sweep *s, ss_worker *w, int jobs, int k, int threads) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(sp[0]);
    close(sp[1]);
    return -1;
  }
  if (pid == 0) {
    /* A worker dies with the sweep, so a restarted sweep never races a leftover. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(1);
    close(sp[0]);
    for (int j = 0; j < jobs; j++) /* the other workers' sockets are the pool's, not ours */
      if (j != k && w[j].pid > 0) close(w[j].fd);
    worker_signals();
    worker_main(s, sp[1], threads);
    _exit(0);
  }
  close(sp[1]);
  w[k] = (ss_worker){pid, -1, sp[0], 0};
  return pid;
}

/* Why a worker ended in the middle of a run (its exit status; the run's status is read from
 * its directory). */
static void worker_died(int st, char *why, size_t n) {
  if (WIFSIGNALED(st))
    snprintf(why, n, "worker killed by signal %d", WTERMSIG(st));
  else
    snprintf(why, n, "worker exited with status %d before finishing the run", WEXITSTATUS(st));
}

static int gather(ss_sweep *s, ss_sweep_results *res, int rc, ss_err *err);

/* A point that ended without its result: failed, diverged, busy or foreign (progress counts). */
static int not_done(int st) { return st != SS_PT_COMPLETE && st != SS_PT_PENDING && st != SS_PT_INTERRUPTED; }

/* Point i ran (run_point's result r, or -1 with why): its status, then the progress counts,
 * the ETA over the `ran` points run so far, and the caller's progress function. */
static void point_finished(const ss_sweep *s, ss_sweep_results *res, long i, int r, const char *why, ss_sweep_progress *pr, long *ran, double t0,
                           ss_sweep_progress_fn fn, void *ud) {
  finish_point(s, res, i, r, why);
  pr->done++;
  (*ran)++;
  pr->failed += not_done(res->pt[i].status);
  pr->elapsed = ss_now() - t0;
  pr->eta = pr->elapsed / (double)*ran * (double)(pr->total - pr->done);
  if (fn) fn(ud, pr);
}

int ss_sweep_run(ss_sweep *s, ss_sweep_results *res, ss_sweep_progress_fn fn, void *ud, ss_err *err) {
  const long np = ss_sweep_npoints(s);
  const int rank = s->rank, nranks = s->nranks > 0 ? s->nranks : 1;
  long mine = 0;
  for (long i = rank; i < np; i += nranks) mine++;
  int lockfd = -1;
  int rc = ss_sweep_check(s, err);
  if (rc == SS_OK && res->n != np) rc = ss_seterr(err, SS_EINPUT, "sweep: results for %ld points, the grid has %ld", res->n, np);
  if (rc == SS_OK && !s->out[0]) rc = ss_seterr(err, SS_EINPUT, "sweep: no out= directory given");
  s->id[0] = 0;
  /* rank 0 takes the directory first and gives its id to the others */
  if (rc == SS_OK && rank == 0) rc = prepare_out(s, NULL, &lockfd, err);
#ifdef SS_HAVE_MPI
  int mpi_on = 0;
  MPI_Initialized(&mpi_on);
  if (mpi_on && nranks > 1) {
    struct {
      int rc;
      char id[40];
    } m = {rc, ""};
    memcpy(m.id, s->id, sizeof m.id);
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank != 0 && rc == SS_OK) rc = m.rc ? ss_seterr(err, m.rc, "sweep: rank 0 could not take the sweep directory (see its message)")
                                            : prepare_out(s, m.id, &lockfd, err);
  }
#endif
  if (rc) return gather(s, res, rc, err);

  const int cores = cores_available(), local = s->local_ranks > 0 ? s->local_ranks : 1;
  const int per_rank = cores / local > 0 ? cores / local : 1;
  const int jobs = s->jobs > 0 ? s->jobs : per_rank;
  const int threads = per_rank / jobs > 0 ? per_rank / jobs : 1;

  ss_sweep_progress pr;
  memset(&pr, 0, sizeof pr);
  pr.rank = rank;
  pr.nranks = nranks;
  pr.eta = -1;
  pr.total = mine;
  double t0 = ss_now();
  char name[SS_PATH_MAX];

  /* What is complete is skipped; a directory in the way that is not ours is left alone. */
  long *todo = malloc(sizeof(long) * (size_t)(mine ? mine : 1));
  ss_worker *w = calloc((size_t)jobs, sizeof *w);
  struct pollfd *pf = calloc((size_t)jobs, sizeof *pf);
  if (!todo || !w || !pf) {
    free(todo);
    free(w);
    free(pf);
    close(lockfd);
    return gather(s, res, ss_seterr(err, SS_ERUN, "out of memory"), err);
  }
  long ntodo = 0;
  for (long i = rank; i < np && rc == SS_OK && !stop_of(s); i += nranks) {
    ss_config cfg;
    if ((rc = ss_sweep_point(s, i, &cfg, name, sizeof name, err))) break;
    char *dir = ss_path_join(s->out, name);
    const int st = point_state(s, dir);
    if (st == PT_OURS) read_result(dir, res, i);
    if (st == PT_NOT_OURS) {
      res->pt[i].status = SS_PT_FOREIGN;
      pr.done++;
      pr.failed++;
    } else if (st == PT_OURS && res->pt[i].status == SS_PT_COMPLETE) {
      res->pt[i].skipped = 1;
      pr.done++;
      pr.skipped++;
    } else {
      res->pt[i].status = SS_PT_PENDING;
      todo[ntodo++] = i;
    }
    free(dir);
  }
  if (fn && rc == SS_OK) fn(ud, &pr);

  long next = 0, ran = 0;
  int nrun = 0, forwarded = 0;
  for (int k = 0; k < jobs; k++) w[k] = (ss_worker){0, -1, -1, 0};
  for (;;) {
    const int stop = stop_of(s);
    if (rc == SS_OK && stop && !forwarded) { /* once: the workers stop at a step boundary with a checkpoint */
      for (int k = 0; k < jobs; k++)
        if (w[k].pid > 0) kill(w[k].pid, SIGTERM);
      forwarded = 1;
    }
    /* fill the pool: an idle worker first, else a new one in a free slot */
    while (rc == SS_OK && !stop_of(s) && next < ntodo && nrun < jobs) {
      const long i = todo[next++];
      if (jobs == 1) {
        ss_config cfg;
        if ((rc = pool_point(s, i, threads, &cfg, name, sizeof name, err))) break;
        char *dir = ss_path_join(s->out, name);
        const int r = dir ? run_point(s, &cfg, dir, name) : -1;
        free(dir);
        point_finished(s, res, i, r, "the run ended without writing its status", &pr, &ran, t0, fn, ud);
        continue;
      }
      int k = 0;
      while (k < jobs && !(w[k].pid > 0 && w[k].point < 0 && !w[k].retired)) k++;
      if (k == jobs) { /* no idle worker: a new one in a free slot, if there is one yet */
        k = 0;
        while (k < jobs && w[k].pid > 0) k++;
        if (k == jobs) {
          next--;
          break;
        }
        if (start_worker(s, w, jobs, k, threads) < 0) {
          rc = ss_seterr(err, SS_ERUN, "sweep: cannot start a worker: %s", strerror(errno));
          break;
        }
      }
      if (send(w[k].fd, &i, sizeof i, MSG_NOSIGNAL) != (ssize_t)sizeof i) {
        next--; /* it died while idle: its EOF is collected below, the point goes to another */
        shutdown(w[k].fd, SHUT_WR);
        w[k].retired = 1;
        break;
      }
      w[k].point = i;
      nrun++;
    }
    /* idle workers with nothing more to do are told so; they exit and are collected below */
    const int more = rc == SS_OK && !stop_of(s) && next < ntodo;
    int alive = 0;
    for (int k = 0; k < jobs; k++) {
      if (w[k].pid > 0 && w[k].point < 0 && !w[k].retired && !more) {
        shutdown(w[k].fd, SHUT_WR);
        w[k].retired = 1;
      }
      alive += w[k].pid > 0;
    }
    pr.running = nrun;
    if (alive == 0) break;
    if (rc) { /* a hard error: no run is waited for */
      for (int k = 0; k < jobs; k++)
        if (w[k].pid > 0) {
          kill(w[k].pid, SIGKILL);
          while (waitpid(w[k].pid, NULL, 0) < 0 && errno == EINTR) {
          }
          close(w[k].fd);
          w[k].pid = 0;
        }
      break;
    }
    /* wait for a result or an exit of one of our workers (never waitpid(-1): a host program's
     * children are its own); a short timeout so that a stop is seen even if its signal went
     * to another thread */
    for (int k = 0; k < jobs; k++) pf[k] = (struct pollfd){w[k].pid > 0 ? w[k].fd : -1, POLLIN, 0};
    if (poll(pf, (nfds_t)jobs, 200) < 0) {
      if (errno == EINTR) continue;
      rc = ss_seterr(err, SS_ERUN, "sweep: poll failed: %s", strerror(errno));
      continue;
    }
    for (int k = 0; k < jobs; k++) {
      if (w[k].pid <= 0 || !pf[k].revents) continue;
      const long i = w[k].point;
      int r;
      ssize_t n;
      while ((n = recv(w[k].fd, &r, sizeof r, MSG_WAITALL)) < 0 && errno == EINTR) {
      }
      char why[128] = "";
      if (n == (ssize_t)sizeof r) {
        w[k].point = -1;
      } else { /* EOF: the worker ended (retired, or died in its run) */
        int st;
        while (waitpid(w[k].pid, &st, 0) < 0 && errno == EINTR) {
        }
        close(w[k].fd);
        w[k] = (ss_worker){0, -1, -1, 0};
        if (i < 0) continue;
        worker_died(st, why, sizeof why);
        r = -1;
      }
      if (i < 0) continue;
      nrun--;
      pr.running = nrun;
      point_finished(s, res, i, r, why[0] ? why : "the run ended without writing its status", &pr, &ran, t0, fn, ud);
    }
  }
  free(todo);
  free(w);
  free(pf);
  pr.elapsed = ss_now() - t0;
  pr.eta = 0;
  pr.finished = 1;
  pr.running = 0;
  if (fn && rc == SS_OK) fn(ud, &pr);
  /* the runs wrote their files without flushing each (fsync=false, a sweep's default): one
   * flush of the file system holding them, before anyone is told the sweep is done */
  if (ran > 0 && syncfs(lockfd) != 0 && rc == SS_OK)
    rc = ss_seterr(err, SS_ERUN, "sweep '%s': cannot flush the runs to the disk: %s", s->out, strerror(errno));
  close(lockfd);
  if (rc == SS_OK && stop_of(s)) {
    long stopped = 0, waiting = 0;
    for (long i = rank; i < np; i += nranks) {
      stopped += res->pt[i].status == SS_PT_INTERRUPTED;
      waiting += res->pt[i].status == SS_PT_PENDING;
    }
    rc = ss_seterr(err, SS_ESTOP, "stopped by signal %d: %ld run%s interrupted with a checkpoint, %ld not started; run the same sweep again to resume",
                   stop_of(s), stopped, stopped == 1 ? "" : "s", waiting);
  }
  return gather(s, res, rc, err);
}

/* ---- MPI: the results of every rank to rank 0 -------------------------------------------------- */

static int gather(ss_sweep *s, ss_sweep_results *res, int rc, ss_err *err) {
#ifdef SS_HAVE_MPI
  int mpi_on = 0;
  MPI_Initialized(&mpi_on);
  const int nranks = s->nranks, rank = s->rank;
  const long np = res->n;
  if (!mpi_on || nranks <= 1) return rc;
  /* A stop is not a failure: the ranks that stopped still send what finished. */
  int hard = rc != SS_OK && rc != SS_ESTOP, stopped = rc == SS_ESTOP, any_hard = 0, any_stop = 0;
  MPI_Allreduce(&hard, &any_hard, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&stopped, &any_stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_hard) return rc ? rc : ss_seterr(err, SS_ERUN, "sweep: another MPI rank failed (see its message)");
  /* Per point [status, skipped, has_snap, t0, m[ncols]] as doubles, with the rank's column
   * names, so rank 0 files each value under its name. */
  if (rank != 0) {
    long mine = 0;
    for (long i = rank; i < np; i += nranks) mine++;
    const int W = 4 + res->ncols;
    double *buf = malloc(sizeof(double) * (size_t)W * (size_t)(mine ? mine : 1));
    int head[2] = {res->ncols, buf != NULL};
    MPI_Send(head, 2, MPI_INT, 0, 7, MPI_COMM_WORLD);
    MPI_Send(res->col, (int)sizeof res->col[0] * res->ncols, MPI_CHAR, 0, 8, MPI_COMM_WORLD);
    if (buf) {
      long k = 0;
      for (long i = rank; i < np; i += nranks, k++) {
        double *b = buf + (size_t)W * k;
        b[0] = res->pt[i].status;
        b[1] = res->pt[i].skipped;
        b[2] = res->pt[i].has_snap;
        b[3] = res->pt[i].t0;
        for (int c = 0; c < res->ncols; c++) b[4 + c] = ss_sweep_value(res, i, c);
      }
      MPI_Send(buf, (int)(W * mine), MPI_DOUBLE, 0, 9, MPI_COMM_WORLD);
      free(buf);
    }
  } else {
    for (int r = 1; r < nranks && (rc == SS_OK || rc == SS_ESTOP); r++) {
      long cnt = 0;
      for (long i = r; i < np; i += nranks) cnt++;
      int head[2];
      char cols[SS_SWEEP_MAX_COLS][SS_SWEEP_COL_LEN];
      MPI_Recv(head, 2, MPI_INT, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      const int nc = head[0] >= 0 && head[0] <= SS_SWEEP_MAX_COLS ? head[0] : 0, W = 4 + nc;
      MPI_Recv(cols, (int)sizeof cols[0] * nc, MPI_CHAR, r, 8, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (!head[1]) {
        rc = ss_seterr(err, SS_ERUN, "sweep: MPI rank %d ran out of memory", r);
        break;
      }
      double *buf = malloc(sizeof(double) * (size_t)W * (size_t)(cnt ? cnt : 1));
      if (!buf) {
        rc = ss_seterr(err, SS_ERUN, "out of memory");
        break;
      }
      MPI_Recv(buf, (int)(W * cnt), MPI_DOUBLE, r, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      int map[SS_SWEEP_MAX_COLS];
      for (int c = 0; c < nc; c++) {
        cols[c][SS_SWEEP_COL_LEN - 1] = 0;
        map[c] = ss_sweep_results_add_col(res, cols[c]);
      }
      long k = 0;
      for (long i = r; i < np; i += nranks, k++) {
        const double *b = buf + (size_t)W * k;
        res->pt[i].status = (int)b[0];
        res->pt[i].skipped = (int)b[1];
        res->pt[i].has_snap = (int)b[2];
        res->pt[i].t0 = b[3];
        for (int c = 0; c < nc; c++)
          if (map[c] >= 0) ss_sweep_set_value(res, i, map[c], b[4 + c]);
      }
      free(buf);
    }
  }
  if (rc == SS_OK && any_stop) rc = ss_seterr(err, SS_ESTOP, "stopped by a signal on another MPI rank; run the same sweep again to resume");
#else
  (void)s;
  (void)res;
  (void)err;
#endif
  return rc;
}
