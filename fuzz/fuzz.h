/* Shared by the libFuzzer targets in this folder (docs/reliability.md, "Fuzzing").
 *
 * A target is one file fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput, plus seed
 * inputs in fuzz/corpus/<name>/; CMake (-DSS_FUZZ=ON, clang) and scripts/fuzz find both
 * by name, nothing else needs an edit. Targets feed the input to the library's real entry
 * point, which reads a path: ss_fuzz_path() puts the bytes in an in-memory file
 * (memfd) and returns a /proc/self/fd path to it, so no disk I/O happens per input.
 * A target checks properties beyond "does not crash" where it can (round trips), and
 * calls SS_FUZZ_ASSERT, which aborts so that libFuzzer records the input. */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scansnap/all.h"

#define SS_FUZZ_ASSERT(cond)                                                      \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      abort();                                                                    \
    }                                                                             \
  } while (0)

/* Path of an in-memory file holding data[0..size); slot picks one of a few files (a
 * target that writes and re-reads uses a second slot). Valid until the next call with
 * the same slot. */
static inline const char *ss_fuzz_path(int slot, const uint8_t *data, size_t size) {
  static int fd[4] = {-1, -1, -1, -1};
  static char path[4][64];
  if (fd[slot] < 0) {
    fd[slot] = memfd_create("ss_fuzz", 0);
    if (fd[slot] < 0) abort();
    snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
  }
  if (ftruncate(fd[slot], 0) != 0 || pwrite(fd[slot], data, size, 0) != (ssize_t)size) abort();
  return path[slot];
}

static char ss_fuzz_dir[64];

static inline void ss_fuzz_scratch_remove(void) {
  DIR *d = opendir(ss_fuzz_dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", ss_fuzz_dir, e->d_name);
    if (e->d_name[0] != '.') unlink(p);
  }
  closedir(d);
  rmdir(ss_fuzz_dir);
}

/* A scratch directory (removed at exit) for targets that write real files: atomic
 * writes create a temporary file next to the target and rename it. */
static inline const char *ss_fuzz_scratch(void) {
  if (!ss_fuzz_dir[0]) {
    /* /dev/shm when there is one: the atomic writes fsync, which is free on tmpfs */
    snprintf(ss_fuzz_dir, sizeof ss_fuzz_dir, "%s/ss_fuzz-%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    ss_err err;
    if (ss_mkdir_p(ss_fuzz_dir, &err)) abort();
    atexit(ss_fuzz_scratch_remove);
  }
  return ss_fuzz_dir;
}

#endif
