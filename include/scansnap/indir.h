/* Files inside a directory someone else may have written (a shared run or sweep folder, an
 * unpacked tarball): what `plot`, `report` and `show` read there is reached without
 * following a symbolic link and is a regular file, so a planted link can neither pull a file
 * from outside into a figure or a page, nor make a FIFO or device block the reader.
 *
 * rel is a path relative to dir ("metrics.csv", "sgd/run.json"): every component before the
 * last must be a real directory inside dir (no link, no "..", not absolute); dir itself is
 * the user's choice and may be a link. */
#ifndef SCANSNAP_INDIR_H
#define SCANSNAP_INDIR_H
#include <stddef.h>

#include "scansnap/common.h"

typedef enum {
  SS_IN_ABSENT = 0, /* no such entry (or a component before it is missing) */
  SS_IN_FILE,       /* a regular file, reached without a link */
  SS_IN_DIR,        /* a real directory, reached without a link */
  SS_IN_OTHER       /* a symbolic link, FIFO, socket or device, or a path that leaves dir */
} ss_in_kind;

/* What rel is inside dir (lstat of every component; never follows a link). */
ss_in_kind ss_in_stat(const char *dir, const char *rel);

/* The whole of dir/rel, NUL-terminated, in *data (malloc'd; *n bytes without the NUL), read
 * through descriptors opened with O_NOFOLLOW component by component, so no link is followed
 * even if one appears while reading. SS_EINPUT naming the file when it is absent, not a
 * regular file, reached through a link, or larger than max bytes. */
int ss_in_read(const char *dir, const char *rel, size_t max, char **data, size_t *n, ss_err *err);

/* "dir/rel" (malloc'd) when ss_in_stat says it is a regular file; NULL and SS_EINPUT naming the
 * file otherwise. For readers that take a path (the CSV, YAML and safetensors readers). */
char *ss_in_file(const char *dir, const char *rel, ss_err *err);

/* dir/name as a real directory for outputs: created (0777 & umask) when absent, accepted when
 * it is a real directory, refused (SS_EINPUT) when it is a link or anything else. */
int ss_in_mkdir(const char *dir, const char *name, ss_err *err);

#endif
