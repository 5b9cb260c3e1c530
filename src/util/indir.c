/* Reading inside a directory without following links (io.h): the path is walked one
 * component at a time with openat(O_NOFOLLOW), so what is read is what lies in the
 * directory, even if a link is planted while we read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scansnap/io.h"

/* Opens the folder holding rel's last component; *last points into the copy in *buf. -1 with
 * errno set: ENOENT (missing), ELOOP (a link on the way), ENOTDIR, EINVAL (a path leaving dir). */
static int open_parent(const char *dir, const char *rel, char **buf, const char **last) {
  *buf = NULL;
  if (!rel[0] || rel[0] == '/') {
    errno = EINVAL;
    return -1;
  }
  char *p = strdup(rel);
  if (!p) return -1;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char *s = p;
  for (char *slash; fd >= 0 && (slash = strchr(s, '/'));) {
    *slash = 0;
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) {
      close(fd);
      fd = -1;
      errno = EINVAL;
      break;
    }
    int sub = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(fd);
    fd = sub;
    errno = e;
    s = slash + 1;
  }
  if (fd >= 0 && (!*s || !strcmp(s, ".") || !strcmp(s, ".."))) {
    close(fd);
    fd = -1;
    errno = EINVAL;
  }
  if (fd < 0) {
    int e = errno;
    free(p);
    errno = e;
    return -1;
  }
  *buf = p;
  *last = s;
  return fd;
}

static ss_in_kind kind_of(const struct stat *st) {
  if (S_ISREG(st->st_mode)) return SS_IN_FILE;
  if (S_ISDIR(st->st_mode)) return SS_IN_DIR;
  return SS_IN_OTHER;
}

ss_in_kind ss_in_stat(const char *dir, const char *rel) {
  char *buf;
  const char *last;
  int fd = open_parent(dir, rel, &buf, &last);
  if (fd < 0) return errno == ENOENT ? SS_IN_ABSENT : SS_IN_OTHER;
  struct stat st;
  int rc = fstatat(fd, last, &st, AT_SYMLINK_NOFOLLOW);
  int e = errno;
  close(fd);
  free(buf);
  if (rc != 0) return e == ENOENT ? SS_IN_ABSENT : SS_IN_OTHER;
  return kind_of(&st);
}

static int refuse(ss_err *err, const char *dir, const char *rel, ss_in_kind k, int e) {
  char *p = ss_path_join(dir, rel);
  const char *shown = p ? p : rel;
  int rc;
  if (k == SS_IN_ABSENT)
    rc = ss_seterr(err, SS_EINPUT, "cannot read '%s': no such file", shown);
  else if (k == SS_IN_DIR)
    rc = ss_seterr(err, SS_EINPUT, "cannot read '%s': it is a folder, expected a file", shown);
  else if (e == ELOOP)
    rc = ss_seterr(err, SS_EINPUT, "'%s' is (or lies behind) a symbolic link: scansnap reads only regular files inside the directory", shown);
  else if (e == EINVAL)
    rc = ss_seterr(err, SS_EINPUT, "'%s' is not a path inside the directory", shown);
  else if (e)
    rc = ss_seterr(err, SS_EINPUT, "cannot read '%s': %s", shown, strerror(e));
  else
    rc = ss_seterr(err, SS_EINPUT, "'%s' is not a regular file (a link, FIFO or device): scansnap reads only regular files inside the directory", shown);
  free(p);
  return rc;
}

int ss_in_read(const char *dir, const char *rel, size_t max, char **data, size_t *n, ss_err *err) {
  *data = NULL;
  if (n) *n = 0;
  char *buf;
  const char *last;
  int dfd = open_parent(dir, rel, &buf, &last);
  if (dfd < 0) return refuse(err, dir, rel, errno == ENOENT ? SS_IN_ABSENT : SS_IN_OTHER, errno);
  struct stat st;
  /* look before opening: a FIFO or device is never opened (opening may block or act) */
  if (fstatat(dfd, last, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int e = errno;
    close(dfd);
    free(buf);
    return refuse(err, dir, rel, e == ENOENT ? SS_IN_ABSENT : SS_IN_OTHER, e);
  }
  if (!S_ISREG(st.st_mode)) {
    close(dfd);
    free(buf);
    return refuse(err, dir, rel, kind_of(&st), S_ISLNK(st.st_mode) ? ELOOP : 0);
  }
  int fd = openat(dfd, last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  int e = errno;
  close(dfd);
  free(buf);
  if (fd < 0) return refuse(err, dir, rel, SS_IN_OTHER, e);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return refuse(err, dir, rel, SS_IN_OTHER, 0);
  }
  char *p = ss_path_join(dir, rel);
  if ((size_t)st.st_size > max) {
    close(fd);
    int rc = ss_seterr(err, SS_EINPUT, "'%s' is %lld bytes, more than the %zu expected of it", p ? p : rel, (long long)st.st_size, max);
    free(p);
    return rc;
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *out = malloc(cap);
  int rc = SS_OK;
  while (out) {
    if (len + 1 == cap) { /* the file grew while we read: take what fits the limit */
      if (cap > max) {
        rc = ss_seterr(err, SS_EINPUT, "'%s' grew past the %zu bytes expected of it", p ? p : rel, max);
        break;
      }
      char *nb = realloc(out, cap * 2);
      if (!nb) break;
      out = nb;
      cap *= 2;
    }
    ssize_t got = read(fd, out + len, cap - 1 - len);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      rc = ss_seterr(err, SS_EINPUT, "cannot read '%s': %s", p ? p : rel, strerror(errno));
      break;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  close(fd);
  if (!out && rc == SS_OK) rc = ss_seterr(err, SS_ERUN, "out of memory reading '%s'", p ? p : rel);
  free(p);
  if (rc) {
    free(out);
    return rc;
  }
  out[len] = 0;
  *data = out;
  if (n) *n = len;
  return SS_OK;
}

char *ss_in_file(const char *dir, const char *rel, ss_err *err) {
  ss_in_kind k = ss_in_stat(dir, rel);
  if (k != SS_IN_FILE) {
    refuse(err, dir, rel, k, 0);
    return NULL;
  }
  char *p = ss_path_join(dir, rel);
  if (!p) ss_seterr(err, SS_ERUN, "out of memory");
  return p;
}

int ss_in_mkdir(const char *dir, const char *name, ss_err *err) {
  ss_in_kind k = ss_in_stat(dir, name);
  char *p = ss_path_join(dir, name);
  if (!p) return ss_seterr(err, SS_ERUN, "out of memory");
  int rc = SS_OK;
  if (k == SS_IN_ABSENT && mkdir(p, 0777) != 0 && errno != EEXIST)
    rc = ss_seterr(err, SS_EINPUT, "cannot create directory '%s': %s", p, strerror(errno));
  else if (k == SS_IN_OTHER || (k == SS_IN_ABSENT && ss_in_stat(dir, name) != SS_IN_DIR) || k == SS_IN_FILE)
    rc = ss_seterr(err, SS_EINPUT, "'%s' is not a real folder (a link, or a file): scansnap writes only into a folder of its own there; remove it and rerun", p);
  free(p);
  return rc;
}
