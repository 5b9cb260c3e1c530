/* Files: atomic writes (temp file, fsync, rename, fsync of the folder), whole-file reads,
 * and safetensors (https://github.com/huggingface/safetensors: 8-byte little-endian header
 * length N, N bytes of JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
 * then the raw little-endian data). Files scansnap writes carry an FNV-1a-64 checksum of the
 * data section in __metadata__["ss_checksum"], verified on load. */
#ifndef SCANSNAP_IO_H
#define SCANSNAP_IO_H
#include <stdint.h>
#include <stdio.h>

#include "scansnap/common.h"

typedef struct {
  FILE *f;
  char *path; /* final path */
  char *tmp;  /* path being written */
} ss_afile;

/* Opens PATH.tmp-XXXX for writing next to PATH; commit makes it PATH atomically. */
int ss_afile_open(ss_afile *a, const char *path, ss_err *err);
int ss_afile_commit(ss_afile *a, ss_err *err);
void ss_afile_abort(ss_afile *a);
int ss_write_file_atomic(const char *path, const void *data, size_t n, ss_err *err);
/* Whether atomic writes of the calling thread are flushed to the disk (fsync of the file and
 * its folder) before the rename returns: 1 (the default) or 0 (a sweep's runs: many small
 * files, synced once at the end; a crash may then lose the newest files, never leave a
 * half-written one). Returns the previous setting, for a call to restore. */
int ss_io_sync_set(int sync);
int ss_io_sync(void); /* the calling thread's setting */
/* Writes root as JSON (json_dumps flags) with a final newline to path atomically; takes the
 * caller's reference to root (decrefs it, also on error). */
struct json_t;
int ss_write_json_atomic(const char *path, struct json_t *root, size_t flags, ss_err *err);

int ss_mkdir_p(const char *path, ss_err *err);
int ss_read_file(const char *path, char **data, size_t *n, ss_err *err); /* NUL-terminated */
int ss_file_exists(const char *path);
char *ss_path_join(const char *dir, const char *name); /* malloc'd "dir/name" */
uint64_t ss_fnv1a64(const void *data, size_t n, uint64_t h);
#define SS_FNV_INIT 0xcbf29ce484222325ULL

typedef enum { SS_F64, SS_F32, SS_I64, SS_I32, SS_U64, SS_U8 } ss_dtype;
#define SS_MAX_DIMS 4

typedef struct {
  char *name; /* owned by the file object when read; borrowed when writing */
  ss_dtype dtype;
  int ndim;
  int64_t shape[SS_MAX_DIMS];
  void *data; /* aligned copy when read */
} ss_tensor;

size_t ss_dtype_size(ss_dtype d);
int64_t ss_tensor_numel(const ss_tensor *t);

/* meta: NULL-terminated list of key, value, key, value, ... (may be NULL). */
int ss_safetensors_write(const char *path, const ss_tensor *t, int n, const char *const *meta,
                         ss_err *err);

typedef struct {
  int n;
  ss_tensor *t;
  int nmeta;
  char **meta_key, **meta_val;
} ss_stfile;

int ss_safetensors_read(const char *path, ss_stfile *out, ss_err *err);
const ss_tensor *ss_st_get(const ss_stfile *f, const char *name);
const char *ss_st_meta(const ss_stfile *f, const char *key);
void ss_st_free(ss_stfile *f);

#endif
