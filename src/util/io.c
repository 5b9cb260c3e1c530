/* Atomic writes and whole-file reads. Nothing a user wrote is lost: results appear under
 * their final name only once complete and on disk. */
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scansnap/io.h"

char *ss_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a && dir[a - 1] != '/') p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

int ss_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int ss_mkdir_p(const char *path, ss_err *err) {
  /* the directory itself first: already there (a sweep's point) or made at once, the usual
   * cases, without a mkdir per component */
  struct stat st0;
  if (mkdir(path, 0777) == 0 || (errno == EEXIST && stat(path, &st0) == 0 && S_ISDIR(st0.st_mode))) return SS_OK;
  char *p = strdup(path);
  if (!p) return ss_seterr(err, SS_ERUN, "out of memory");
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
      int e = errno;
      free(p);
      return ss_seterr(err, SS_EINPUT, "cannot create directory '%s': %s", path, strerror(e));
    }
    *s = '/';
  }
  int rc = mkdir(p, 0777);
  int e = errno;
  free(p);
  struct stat st;
  if (rc != 0 && !(e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
    return ss_seterr(err, SS_EINPUT, "cannot create directory '%s': %s", path,
                     strerror(e == EEXIST ? ENOTDIR : e));
  return SS_OK;
}

int ss_afile_open(ss_afile *a, const char *path, ss_err *err) {
  memset(a, 0, sizeof *a);
  size_t n = strlen(path);
  a->path = strdup(path);
  a->tmp = malloc(n + 16);
  if (!a->path || !a->tmp) {
    ss_afile_abort(a);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  snprintf(a->tmp, n + 16, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(a->tmp);
  if (fd < 0) {
    int e = errno;
    free(a->tmp);
    a->tmp = NULL;
    ss_afile_abort(a);
    return ss_seterr(err, SS_EINPUT, "cannot write '%s': %s", path, strerror(e));
  }
  fchmod(fd, 0644);
  a->f = fdopen(fd, "wb");
  if (!a->f) {
    close(fd);
    ss_afile_abort(a);
    return ss_seterr(err, SS_ERUN, "cannot write '%s'", path);
  }
  return SS_OK;
}

/* Whether commits reach the disk before they return (fsync of the file and of its folder):
 * per thread, set by a run for its own calls (ss_io_sync_set), like the thread count. */
static _Thread_local int g_nosync = 0;

int ss_io_sync(void) { return !g_nosync; }

int ss_io_sync_set(int sync) {
  const int old = !g_nosync;
  g_nosync = !sync;
  return old;
}

static void fsync_dir_of(const char *path) {
  if (g_nosync) return;
  char *p = strdup(path);
  if (!p) return;
  int fd = open(dirname(p), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(p);
}

int ss_afile_commit(ss_afile *a, ss_err *err) {
  int bad = ferror(a->f) || fflush(a->f) != 0;
  int e = errno;
  if (!bad && !g_nosync && fsync(fileno(a->f)) != 0) {
    bad = 1;
    e = errno;
  }
  if (fclose(a->f) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  a->f = NULL;
  if (bad) {
    ss_seterr(err, SS_ERUN, "cannot write '%s': %s", a->path, strerror(e ? e : EIO));
    ss_afile_abort(a);
    return SS_ERUN;
  }
  if (rename(a->tmp, a->path) != 0) {
    e = errno;
    ss_seterr(err, SS_ERUN, "cannot write '%s': %s", a->path, strerror(e));
    ss_afile_abort(a);
    return SS_ERUN;
  }
  fsync_dir_of(a->path);
  free(a->tmp);
  free(a->path);
  a->tmp = a->path = NULL;
  return SS_OK;
}

void ss_afile_abort(ss_afile *a) {
  if (a->f) fclose(a->f);
  if (a->tmp) unlink(a->tmp);
  free(a->tmp);
  free(a->path);
  memset(a, 0, sizeof *a);
}

int ss_write_file_atomic(const char *path, const void *data, size_t n, ss_err *err) {
  ss_afile a;
  int rc = ss_afile_open(&a, path, err);
  if (rc) return rc;
  if (n && fwrite(data, 1, n, a.f) != n) {
    ss_seterr(err, SS_ERUN, "cannot write '%s': %s", path, strerror(errno));
    ss_afile_abort(&a);
    return SS_ERUN;
  }
  return ss_afile_commit(&a, err);
}

int ss_write_json_atomic(const char *path, json_t *root, size_t flags, ss_err *err) {
  char *js = json_dumps(root, flags);
  json_decref(root);
  if (!js) return ss_seterr(err, SS_ERUN, "out of memory");
  const size_t n = strlen(js);
  js[n] = '\n'; /* json_dumps's terminator becomes the final newline */
  const int rc = ss_write_file_atomic(path, js, n + 1, err);
  free(js);
  return rc;
}

int ss_read_file(const char *path, char **data, size_t *n, ss_err *err) {
  *data = NULL;
  if (n) *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return ss_seterr(err, SS_EINPUT, "cannot read '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
    fclose(f);
    return ss_seterr(err, SS_EINPUT, "cannot read '%s': not a regular file", path);
  }
  size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fclose(f);
    return ss_seterr(err, SS_ERUN, "out of memory reading '%s'", path);
  }
  for (;;) {
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        fclose(f);
        return ss_seterr(err, SS_ERUN, "out of memory reading '%s'", path);
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - 1 - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return ss_seterr(err, SS_EINPUT, "cannot read '%s'", path);
  }
  buf[len] = 0;
  *data = buf;
  if (n) *n = len;
  return SS_OK;
}

uint64_t ss_fnv1a64(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
