/* Metrics rows of a run, and the files they go to (include/scansnap/run.h).
 *
 * metrics.csv / metrics.jsonl: one line per row (SS_METRIC_COLUMNS, then the run's extra
 * columns; jsonl adds the per-class lists). dynamics.safetensors:
 *   steps  I64 [S]        step of each save
 *   c      F64 [S, N, M]  c_n[l] at each save
 *   query  I32 [N], next I32 [N], prob F64 [N, M]   the class table, so the file stands alone
 * The streams a run appends to while it trains (little-endian, native doubles):
 *   metrics.bin   32-byte header ("SSROWS1\n", u32 version 1, u32 nextra, u32 N, u32 M,
 *                 8 bytes 0), then per row: i64 step, f64 loss, acc, y_norm, z_norm, extra[nextra]
 *   dynamics.bin  8-byte header ("SSDYN1\n\0"), then per row: f64 c[N*M]
 * Per-class metrics are a deterministic function of c (SPEC §3), so a resumed run recomputes
 * them from dynamics.bin and writes byte-identical files. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scansnap/csv.h"
#include "scansnap/io.h"
#include "scansnap/run.h"

#define HDR_M 32
#define HDR_D 8
static const char magic_m[8] = "SSROWS1\n", magic_d[8] = "SSDYN1\n";

int ss_recorder_init(ss_recorder *r, const ss_classes *cl, ss_err *err) {
  (void)err;
  memset(r, 0, sizeof *r);
  r->cl = cl;
  r->sum = SS_FNV_INIT;
  return SS_OK;
}

int ss_recorder_add_column(ss_recorder *r, const char *name) {
  if (r->nextra >= SS_MAX_EXTRA) return -1;
  snprintf(r->extra_names[r->nextra], sizeof r->extra_names[0], "%s", name);
  return r->nextra++;
}

void ss_recorder_free(ss_recorder *r) {
  free(r->pend_m);
  free(r->pend_d);
  free(r->path_m);
  free(r->path_d);
  free(r->rows);
  free(r->c);
  free(r->per);
  free(r->steps);
  free(r->c_last);
  memset(r, 0, sizeof *r);
}

static size_t NMof(const ss_recorder *r) { return (size_t)r->cl->N * r->cl->M; }
static size_t row_doubles(const ss_recorder *r) { return 4 + (size_t)r->nextra; } /* after the step */

/* The class averages of a row: plain means over classes in class order (SPEC §3); rows
 * without classes (real text) have none. */
static void average(const ss_recorder *r, const ss_class_metrics *per, ss_class_metrics *avg) {
  const int N = r->cl->N;
  memset(avg, 0, sizeof *avg);
  for (int n = 0; n < N; n++) {
    avg->entropy += per[n].entropy / N;
    avg->entropy_distinct += per[n].entropy_distinct / N;
    avg->common_mass += per[n].common_mass / N;
    avg->distinct_mass += per[n].distinct_mass / N;
    avg->kendall_tau += per[n].kendall_tau / N;
  }
  if (N == 0) avg->entropy = avg->entropy_distinct = avg->common_mass = avg->distinct_mass = avg->kendall_tau = NAN;
}

static int grow(ss_recorder *r, ss_err *err) {
  if (r->nrows < r->cap) return SS_OK;
  const int nc = r->cap ? r->cap * 2 : 64;
  const size_t N = (size_t)(r->cl->N ? r->cl->N : 1), NM = NMof(r) ? NMof(r) : 1;
  long long *st = realloc(r->steps, sizeof(long long) * (size_t)nc);
  if (st) r->steps = st;
  ss_class_metrics *np = realloc(r->per, sizeof(ss_class_metrics) * N * (size_t)nc);
  if (np) r->per = np;
  int ok = st && np;
  if (ok && !r->streaming) { /* in memory: every row and its c_n too */
    ss_row *nr = realloc(r->rows, sizeof(ss_row) * (size_t)nc);
    if (nr) r->rows = nr;
    double *ncc = realloc(r->c, sizeof(double) * NM * (size_t)nc);
    if (ncc) r->c = ncc;
    ok = nr && ncc;
  }
  if (!ok) return ss_seterr(err, SS_ERUN, "out of memory recording metrics");
  r->cap = nc;
  return SS_OK;
}

/* The in-memory part of a row (both modes). */
static int keep(ss_recorder *r, const ss_row *row_in, const double *c, ss_err *err) {
  int rc = grow(r, err);
  if (rc) return rc;
  const size_t NM = NMof(r);
  if (!r->c_last && !(r->c_last = malloc(sizeof(double) * (NM ? NM : 1)))) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_row row = *row_in;
  ss_class_metrics *per = r->per + (size_t)r->cl->N * r->nrows;
  ss_metrics_all(r->cl, c, per, &row.avg);
  average(r, per, &row.avg);
  r->steps[r->nrows] = row.step;
  memcpy(r->c_last, c, sizeof(double) * NM);
  if (r->nrows == 0) r->first = row;
  r->last = row;
  if (!r->streaming) {
    r->rows[r->nrows] = row;
    memcpy(r->c + NM * (size_t)r->nrows, c, sizeof(double) * NM);
  }
  r->nrows++;
  return SS_OK;
}

/* The raw record of a row in metrics.bin: step, then the doubles. */
static void pack(const ss_recorder *r, const ss_row *w, unsigned char *buf) {
  int64_t st = w->step;
  memcpy(buf, &st, 8);
  double v[4 + SS_MAX_EXTRA] = {w->loss, w->acc, w->y_norm, w->z_norm};
  for (int k = 0; k < r->nextra; k++) v[4 + k] = w->extra[k];
  memcpy(buf + 8, v, sizeof(double) * row_doubles(r));
}

/* Appends n bytes to a pending buffer. */
static int pend(unsigned char **buf, size_t *len, size_t *cap, const void *data, size_t n) {
  if (*len + n > *cap) {
    size_t nc = (*cap ? *cap * 2 : 65536) + n;
    unsigned char *nb = realloc(*buf, nc);
    if (!nb) return -1;
    *buf = nb;
    *cap = nc;
  }
  if (n) memcpy(*buf + *len, data, n); /* rows without classes have no c_n (data may be NULL) */
  *len += n;
  return 0;
}

/* Appends the pending bytes of one stream to its file (opened for this, never following a
 * symlink, closed again); fsync when sync. */
static int append(const char *path, unsigned char *buf, size_t *len, int sync, ss_err *err) {
  if (!*len && !sync) return SS_OK;
  int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ss_seterr(err, SS_ERUN, "cannot write '%s': %s", path, strerror(errno));
  size_t off = 0;
  while (off < *len) {
    ssize_t w = write(fd, buf + off, *len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      return ss_seterr(err, SS_ERUN, "cannot write '%s': %s", path, strerror(e));
    }
    off += (size_t)w;
  }
  if ((sync && ss_io_sync() && fsync(fd)) | close(fd)) return ss_seterr(err, SS_ERUN, "cannot write '%s': %s", path, strerror(errno));
  *len = 0;
  return SS_OK;
}

static void header_m(const ss_recorder *r, unsigned char *h) {
  memset(h, 0, HDR_M);
  memcpy(h, magic_m, 8);
  const uint32_t v[4] = {1, (uint32_t)r->nextra, (uint32_t)r->cl->N, (uint32_t)r->cl->M};
  memcpy(h + 8, v, sizeof v);
}

/* Creates one stream with its header (a symlink in its place is refused). */
static int create_stream(const char *path, const void *hdr, size_t n, ss_err *err) {
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return ss_seterr(err, SS_ERUN, "cannot create '%s': %s", path, strerror(errno));
  ssize_t w = write(fd, hdr, n);
  if ((close(fd) != 0) | (w != (ssize_t)n)) return ss_seterr(err, SS_ERUN, "cannot write '%s': %s", path, strerror(errno));
  return SS_OK;
}

/* The checksum after one more row: its metrics.bin record (nb bytes), then its c_n (db bytes). */
static uint64_t hash_row(uint64_t h, const void *rec, size_t nb, const void *c, size_t db) {
  return ss_fnv1a64(c, db, ss_fnv1a64(rec, nb, h));
}

/* Adds the pending rows not yet hashed to sum (sum_prev: before the last of them). */
static void hash_pending(ss_recorder *r) {
  const size_t nb = 8 + 8 * row_doubles(r), db = sizeof(double) * NMof(r);
  while (r->hashed_m + nb <= r->npend_m) {
    r->sum_prev = r->sum;
    r->sum = hash_row(r->sum, r->pend_m + r->hashed_m, nb, db ? r->pend_d + r->hashed_d : NULL, db); /* no c_n: no buffer */
    r->hashed_m += nb;
    r->hashed_d += db;
  }
}

/* Creates both streams with their headers (a symlink in their place is refused). */
static int create_streams(ss_recorder *r, ss_err *err) {
  unsigned char h[HDR_M];
  header_m(r, h);
  int rc = create_stream(r->path_m, h, HDR_M, err);
  if (rc == SS_OK) rc = create_stream(r->path_d, magic_d, HDR_D, err);
  if (rc == SS_OK) r->created = 1;
  return rc;
}

static int flush(ss_recorder *r, int sync, ss_err *err) {
  if (!r->streaming) return SS_OK;
  hash_pending(r);
  int rc = r->created ? SS_OK : create_streams(r, err);
  if (rc == SS_OK) rc = append(r->path_m, r->pend_m, &r->npend_m, sync, err);
  if (rc == SS_OK) rc = append(r->path_d, r->pend_d, &r->npend_d, sync, err);
  if (rc == SS_OK) r->hashed_m = r->hashed_d = 0;
  return rc;
}

/* Rows wait in memory up to this many bytes before they are appended. */
#define PENDING_MAX (4u << 20)

int ss_recorder_add(ss_recorder *r, long long step, double loss, double acc, const double *c, double y_norm, double z_norm,
                    const double *extra, ss_err *err) {
  ss_row row;
  memset(&row, 0, sizeof row);
  row.step = step;
  row.loss = loss;
  row.acc = acc;
  row.y_norm = y_norm;
  row.z_norm = z_norm;
  if (extra)
    for (int i = 0; i < r->nextra; i++) row.extra[i] = extra[i];
  if (r->streaming) {
    unsigned char buf[8 + 8 * (4 + SS_MAX_EXTRA)];
    const size_t nb = 8 + 8 * row_doubles(r), NM = NMof(r);
    pack(r, &row, buf);
    if (pend(&r->pend_m, &r->npend_m, &r->cap_m, buf, nb) || pend(&r->pend_d, &r->npend_d, &r->cap_d, c, sizeof(double) * NM))
      return ss_seterr(err, SS_ERUN, "out of memory recording metrics");
    if (r->npend_m + r->npend_d > PENDING_MAX) {
      int rc = flush(r, 0, err);
      if (rc) return rc;
    }
  }
  return keep(r, &row, c, err);
}

static int paths(ss_recorder *r, const char *dir, ss_err *err) {
  r->path_m = ss_path_join(dir, "metrics.bin");
  r->path_d = ss_path_join(dir, "dynamics.bin");
  return r->path_m && r->path_d ? SS_OK : ss_seterr(err, SS_ERUN, "out of memory");
}

int ss_recorder_open(ss_recorder *r, const char *dir, ss_err *err) {
  int rc = paths(r, dir, err);
  if (rc) return rc;
  r->streaming = 1;
  r->created = 0;
  return r->lazy ? SS_OK : create_streams(r, err);
}

/* Opens a stream to read it back (not through a symlink). */
static FILE *read_stream(const char *path, int writable, ss_err *err) {
  int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
  FILE *f = fd >= 0 ? fdopen(fd, writable ? "r+b" : "rb") : NULL;
  if (!f) {
    if (fd >= 0) close(fd);
    ss_seterr(err, SS_EINPUT, "cannot read '%s': %s", path, strerror(errno));
  }
  return f;
}

int ss_recorder_resume(ss_recorder *r, const char *dir, long long step, long long rows, uint64_t sum, ss_err *err) {
  int rc = paths(r, dir, err);
  if (rc) return rc;
  FILE *fm = read_stream(r->path_m, 1, err), *fd = fm ? read_stream(r->path_d, 1, err) : NULL;
  if (!fm || !fd) {
    if (fm) fclose(fm);
    return err->code;
  }
  r->streaming = 1;
  r->created = 1;
  unsigned char h[HDR_M], want[HDR_M];
  char hd[HDR_D];
  header_m(r, want);
  const size_t nb = 8 + 8 * row_doubles(r), NM = NMof(r);
  unsigned char buf[8 + 8 * (4 + SS_MAX_EXTRA)];
  double *c = malloc(sizeof(double) * (NM ? NM : 1));
  long long k = 0;
  uint64_t h2 = SS_FNV_INIT;
  if (!c) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
  } else if (fread(h, 1, HDR_M, fm) != HDR_M || memcmp(h, want, HDR_M) != 0) {
    rc = ss_seterr(err, SS_EINPUT, "'%s' is not the metrics stream of this run (header differs); the run cannot be resumed", r->path_m);
  } else if (fread(hd, 1, HDR_D, fd) != HDR_D || memcmp(hd, magic_d, HDR_D) != 0) {
    rc = ss_seterr(err, SS_EINPUT, "'%s' is not the dynamics stream of this run; the run cannot be resumed", r->path_d);
  } else {
    /* the rows before the checkpoint's step: exactly those it counted, with its checksum */
    for (;; k++) {
      if (fread(buf, 1, nb, fm) != nb) break;
      int64_t st;
      memcpy(&st, buf, 8);
      if (st >= step) break;
      if (NM && fread(c, sizeof(double), NM, fd) != NM) break;
      r->sum_prev = h2;
      h2 = hash_row(h2, buf, nb, c, sizeof(double) * NM);
      ss_row row;
      memset(&row, 0, sizeof row);
      double v[4 + SS_MAX_EXTRA];
      memcpy(v, buf + 8, sizeof(double) * row_doubles(r));
      row.step = st;
      row.loss = v[0];
      row.acc = v[1];
      row.y_norm = v[2];
      row.z_norm = v[3];
      for (int e = 0; e < r->nextra; e++) row.extra[e] = v[4 + e];
      if ((rc = keep(r, &row, c, err))) break;
    }
    if (rc == SS_OK && (k != rows || h2 != sum))
      rc = ss_seterr(err, SS_EINPUT,
                     "'%s' / '%s' hold %lld rows before step %lld that do not match the checkpoint's %lld (damaged or from another run); the run cannot be resumed",
                     r->path_m, r->path_d, k, step, rows);
  }
  free(c);
  r->sum = h2;
  /* cut off the rows after the checkpoint (they are redone); later rows are appended */
  if (rc == SS_OK && (ftruncate(fileno(fm), HDR_M + (off_t)k * (off_t)nb) || ftruncate(fileno(fd), HDR_D + (off_t)k * (off_t)(NM * sizeof(double)))))
    rc = ss_seterr(err, SS_ERUN, "cannot cut '%s' back to the checkpoint: %s", r->path_m, strerror(errno));
  fclose(fm);
  fclose(fd);
  return rc;
}

int ss_recorder_sync(ss_recorder *r, long long before_step, long long *rows, uint64_t *sum, ss_err *err) {
  const int drop = r->nrows > 0 && r->last.step >= before_step; /* only the last row can be at or past it */
  hash_pending(r);
  *rows = r->nrows - drop;
  *sum = drop ? r->sum_prev : r->sum;
  return flush(r, 1, err);
}

void ss_recorder_estimate(const ss_classes *cl, int nextra, long long rows, double *disk_bytes, double *memory_bytes) {
  const double NM = (double)cl->N * cl->M, n = (double)rows;
  /* per row: csv ~24 bytes a column; jsonl the same with names, plus 4 per-class lists;
   * dynamics.safetensors and dynamics.bin 8 NM each; metrics.bin 8 (5 + nextra) */
  const double csv = 24.0 * (10 + nextra), jsonl = csv + 20.0 * (10 + nextra) + 4 * 24.0 * cl->N;
  *disk_bytes = n * (csv + jsonl + 16 * NM + 8 * (5 + nextra));
  *memory_bytes = n * (8 + sizeof(ss_class_metrics) * (double)cl->N);
}

static void put_num(FILE *f, double v, int json) {
  if (isfinite(v))
    fprintf(f, "%.17g", v);
  else
    fputs(json ? "null" : (isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"), f);
}

/* Row i with its class averages: from memory, read back from metrics.bin, or (streams never
 * created: every row still pending) from the pending buffer. */
static int row_at(const ss_recorder *r, int i, FILE *fm, ss_row *w) {
  if (!fm && !r->streaming) {
    *w = r->rows[i];
    return 0;
  }
  unsigned char buf[8 + 8 * (4 + SS_MAX_EXTRA)];
  const size_t nb = 8 + 8 * row_doubles(r);
  if (!fm) {
    if ((size_t)(i + 1) * nb > r->npend_m) return -1;
    memcpy(buf, r->pend_m + (size_t)i * nb, nb);
  } else if (fread(buf, 1, nb, fm) != nb) {
    return -1;
  }
  memset(w, 0, sizeof *w);
  int64_t st;
  double v[4 + SS_MAX_EXTRA];
  memcpy(&st, buf, 8);
  memcpy(v, buf + 8, sizeof(double) * row_doubles(r));
  w->step = st;
  w->loss = v[0];
  w->acc = v[1];
  w->y_norm = v[2];
  w->z_norm = v[3];
  for (int e = 0; e < r->nextra; e++) w->extra[e] = v[4 + e];
  average(r, r->per + (size_t)r->cl->N * i, &w->avg);
  return 0;
}

static int write_text(const ss_recorder *r, const char *dir, int json, ss_err *err) {
  const int N = r->cl->N;
  char *p = ss_path_join(dir, json ? "metrics.jsonl" : "metrics.csv");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  FILE *fm = NULL;
  if (r->streaming && r->created) { /* read the rows back from the stream */
    fm = read_stream(r->path_m, 0, err);
    if (!fm || fseek(fm, HDR_M, SEEK_SET)) {
      if (fm) fclose(fm);
      ss_afile_abort(&a);
      return ss_seterr(err, SS_ERUN, "cannot read '%s': %s", r->path_m, strerror(errno));
    }
  }
  static const char *names[] = {"loss", "acc", "entropy", "entropy_distinct", "common_mass", "distinct_mass", "kendall_tau", "y_norm", "z_norm"};
  ss_csv_writer cw;
  ss_csv_writer_init(&cw, a.f);
  if (!json) {
    ss_csv_field(&cw, "step");
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) ss_csv_field(&cw, names[k]);
    for (int k = 0; k < r->nextra; k++) ss_csv_field(&cw, r->extra_names[k]);
    ss_csv_endrow(&cw);
  }
  for (int i = 0; i < r->nrows && rc == SS_OK; i++) {
    ss_row row;
    if (row_at(r, i, fm, &row)) {
      rc = ss_seterr(err, SS_ERUN, "'%s' ends before row %d", r->path_m, i);
      break;
    }
    double v[] = {row.loss, row.acc, row.avg.entropy, row.avg.entropy_distinct, row.avg.common_mass, row.avg.distinct_mass, row.avg.kendall_tau, row.y_norm, row.z_norm};
    if (!json) {
      ss_csv_int(&cw, row.step);
      for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) ss_csv_num(&cw, v[k]);
      for (int k = 0; k < r->nextra; k++) ss_csv_num(&cw, row.extra[k]);
      ss_csv_endrow(&cw);
      continue;
    }
    fprintf(a.f, "{\"step\": %lld", row.step);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
      fprintf(a.f, ", \"%s\": ", names[k]);
      put_num(a.f, v[k], 1);
    }
    for (int k = 0; k < r->nextra; k++) {
      fprintf(a.f, ", \"%s\": ", r->extra_names[k]);
      put_num(a.f, row.extra[k], 1);
    }
    /* per-class values */
    const ss_class_metrics *pc = r->per + (size_t)N * i;
    const char *pn[] = {"class_entropy", "class_entropy_distinct", "class_common_mass", "class_kendall_tau"};
    for (int q = 0; q < 4; q++) {
      fprintf(a.f, ", \"%s\": [", pn[q]);
      for (int n = 0; n < N; n++) {
        double x = q == 0 ? pc[n].entropy : q == 1 ? pc[n].entropy_distinct : q == 2 ? pc[n].common_mass : pc[n].kendall_tau;
        if (n) fputs(", ", a.f);
        put_num(a.f, x, 1);
      }
      fputc(']', a.f);
    }
    fputs("}\n", a.f);
  }
  if (fm) fclose(fm);
  if (rc) {
    ss_afile_abort(&a);
    return rc;
  }
  return ss_afile_commit(&a, err);
}

int ss_recorder_write(ss_recorder *r, const char *dir, ss_err *err) {
  const int N = r->cl->N, M = r->cl->M;
  long long nrows;
  uint64_t sum;
  int rc = SS_OK;
  /* a light run whose streams were never needed writes metrics.csv from the pending rows and
   * creates no stream (they would be deleted at once) */
  if (!(r->light && r->streaming && !r->created)) rc = ss_recorder_sync(r, LLONG_MAX, &nrows, &sum, err);
  if (rc || (rc = write_text(r, dir, 0, err))) return rc;
  if (r->light) return SS_OK;
  if ((rc = write_text(r, dir, 1, err))) return rc;
  /* c of every row: in memory, or mapped from dynamics.bin */
  const size_t NM = (size_t)N * M, cbytes = sizeof(double) * NM * (size_t)r->nrows;
  const double *c = r->c;
  void *map = NULL;
  size_t maplen = 0;
  if (r->streaming && cbytes) {
    FILE *fd = read_stream(r->path_d, 0, err);
    if (!fd) return SS_ERUN;
    maplen = HDR_D + cbytes;
    map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fileno(fd), 0);
    fclose(fd);
    if (map == MAP_FAILED) return ss_seterr(err, SS_ERUN, "cannot map '%s': %s", r->path_d, strerror(errno));
    c = (const double *)((const char *)map + HDR_D);
  }
  static const double none = 0;
  int64_t *steps = malloc(sizeof(int64_t) * (size_t)(r->nrows ? r->nrows : 1));
  int32_t *q = malloc(sizeof(int32_t) * (size_t)(N ? N : 1)), *nx = malloc(sizeof(int32_t) * (size_t)(N ? N : 1));
  if (!steps || !q || !nx) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
  } else {
    for (int i = 0; i < r->nrows; i++) steps[i] = r->steps[i];
    for (int n = 0; n < N; n++) {
      q[n] = r->cl->query[n];
      nx[n] = r->cl->next[n];
    }
    ss_tensor t[] = {
        {"steps", SS_I64, 1, {r->nrows}, steps},
        {"c", SS_F64, 3, {r->nrows, N, M}, c ? (void *)c : (void *)&none},
        {"query", SS_I32, 1, {N}, q},
        {"next", SS_I32, 1, {N}, nx},
        {"prob", SS_F64, 2, {N, M}, r->cl->prob},
    };
    const char *meta[] = {"format", "scansnap-dynamics-1", NULL};
    char *p = ss_path_join(dir, "dynamics.safetensors");
    rc = ss_safetensors_write(p, t, 5, meta, err);
    free(p);
  }
  if (map) munmap(map, maplen);
  free(steps);
  free(q);
  free(nx);
  return rc;
}
