/* The safetensors reader (checkpoints, dynamics, any .safetensors, ss_safetensors_read).
 * Property: a file that reads is written back by ss_safetensors_write and reads back with
 * the same tensors (names, dtypes, shapes, bytes). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ss_stfile f, g;
  ss_err err;
  if (ss_safetensors_read(ss_fuzz_path(0, data, size), &f, &err) != SS_OK) return 0;
  for (int i = 0; i < f.n; i++) SS_FUZZ_ASSERT(ss_st_get(&f, f.t[i].name) != NULL);
  const char **meta = calloc((size_t)2 * f.nmeta + 1, sizeof(char *));
  for (int i = 0; i < f.nmeta; i++) {
    meta[2 * i] = f.meta_key[i];
    meta[2 * i + 1] = f.meta_val[i];
  }
  char path[128];
  snprintf(path, sizeof path, "%s/x.safetensors", ss_fuzz_scratch());
  SS_FUZZ_ASSERT(ss_safetensors_write(path, f.t, f.n, meta, &err) == SS_OK);
  free(meta);
  int rc = ss_safetensors_read(path, &g, &err);
  if (rc) fprintf(stderr, "written file does not read back: %s\n", err.msg);
  SS_FUZZ_ASSERT(rc == SS_OK && g.n == f.n);
  for (int i = 0; i < f.n; i++) {
    const ss_tensor *a = &f.t[i], *b = ss_st_get(&g, a->name);
    SS_FUZZ_ASSERT(b && b->dtype == a->dtype && b->ndim == a->ndim);
    SS_FUZZ_ASSERT(!memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim));
    SS_FUZZ_ASSERT(!memcmp(a->data, b->data, (size_t)ss_tensor_numel(a) * ss_dtype_size(a->dtype)));
  }
  ss_st_free(&g);
  ss_st_free(&f);
  return 0;
}
