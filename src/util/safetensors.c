/* safetensors writer and a strict reader (every offset, size and dtype is checked, so a
 * truncated or foreign file is an error, never a crash). */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"

static const char *dtype_name[] = {"F64", "F32", "I64", "I32", "U64", "U8"};

size_t ss_dtype_size(ss_dtype d) {
  static const size_t sz[] = {8, 4, 8, 4, 8, 1};
  return sz[d];
}

int64_t ss_tensor_numel(const ss_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

int ss_safetensors_write(const char *path, const ss_tensor *t, int n, const char *const *meta,
                         ss_err *err) {
  json_t *hdr = json_object();
  uint64_t off = 0, sum = SS_FNV_INIT;
  for (int i = 0; i < n; i++) {
    uint64_t bytes = (uint64_t)ss_tensor_numel(&t[i]) * ss_dtype_size(t[i].dtype);
    json_t *shape = json_array();
    for (int d = 0; d < t[i].ndim; d++) json_array_append_new(shape, json_integer(t[i].shape[d]));
    json_object_set_new(hdr, t[i].name,
                        json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype_name[t[i].dtype], "shape",
                                  shape, "data_offsets", (json_int_t)off,
                                  (json_int_t)(off + bytes)));
    sum = ss_fnv1a64(t[i].data, bytes, sum);
    off += bytes;
  }
  json_t *md = json_object();
  for (int i = 0; meta && meta[i] && meta[i + 1]; i += 2)
    json_object_set_new(md, meta[i], json_string(meta[i + 1]));
  char cs[32];
  snprintf(cs, sizeof cs, "%016" PRIx64, sum);
  json_object_set_new(md, "ss_checksum", json_string(cs));
  json_object_set_new(hdr, "__metadata__", md);
  char *js = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(hdr);
  if (!js) return ss_seterr(err, SS_ERUN, "out of memory writing '%s'", path);
  size_t hl = strlen(js), padded = (hl + 7) & ~(size_t)7;

  ss_afile a;
  int rc = ss_afile_open(&a, path, err);
  if (rc) {
    free(js);
    return rc;
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  fwrite(len8, 1, 8, a.f);
  fwrite(js, 1, hl, a.f);
  for (size_t i = hl; i < padded; i++) fputc(' ', a.f);
  free(js);
  for (int i = 0; i < n; i++) {
    size_t bytes = (size_t)ss_tensor_numel(&t[i]) * ss_dtype_size(t[i].dtype);
    if (bytes) fwrite(t[i].data, 1, bytes, a.f);
  }
  return ss_afile_commit(&a, err);
}

void ss_st_free(ss_stfile *f) {
  for (int i = 0; i < f->n; i++) {
    free(f->t[i].name);
    free(f->t[i].data);
  }
  for (int i = 0; i < f->nmeta; i++) {
    free(f->meta_key[i]);
    free(f->meta_val[i]);
  }
  free(f->t);
  free(f->meta_key);
  free(f->meta_val);
  memset(f, 0, sizeof *f);
}

static int parse_dtype(const char *s, ss_dtype *d) {
  for (int i = 0; i < 6; i++)
    if (strcmp(s, dtype_name[i]) == 0) {
      *d = (ss_dtype)i;
      return 1;
    }
  return 0;
}

#define BAD(...)                                  \
  do {                                            \
    ss_seterr(err, SS_EINPUT, __VA_ARGS__);       \
    goto fail;                                    \
  } while (0)

int ss_safetensors_read(const char *path, ss_stfile *out, ss_err *err) {
  memset(out, 0, sizeof *out);
  char *buf = NULL;
  size_t size = 0;
  json_t *hdr = NULL;
  int rc = ss_read_file(path, &buf, &size, err);
  if (rc) return rc;
  if (size < 8) BAD("'%s' is not a safetensors file: %zu bytes, shorter than its 8-byte header", path, size);
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)buf[i] << (8 * i);
  if (hl > size - 8) BAD("'%s' is truncated or not a safetensors file: header of %" PRIu64 " bytes in a %zu-byte file", path, hl, size);
  json_error_t je;
  hdr = json_loadb(buf + 8, (size_t)hl, 0, &je);
  if (!hdr || !json_is_object(hdr)) BAD("'%s': safetensors header is not a JSON object (%s)", path, hdr ? "wrong type" : je.text);
  const unsigned char *data = (const unsigned char *)buf + 8 + hl;
  uint64_t dlen = size - 8 - hl;
  size_t nk = json_object_size(hdr);
  out->t = calloc(nk ? nk : 1, sizeof *out->t);
  if (!out->t) BAD("out of memory reading '%s'", path);
  uint64_t sum = SS_FNV_INIT, expect_off = 0;
  const char *key;
  json_t *val;
  /* Tensors are checked in data order so that the checksum covers the data as laid out. */
  int order_ok = 1;
  json_object_foreach(hdr, key, val) {
    if (strcmp(key, "__metadata__") == 0) {
      if (!json_is_object(val)) BAD("'%s': __metadata__ is not an object", path);
      size_t m = json_object_size(val);
      out->meta_key = calloc(m ? m : 1, sizeof(char *));
      out->meta_val = calloc(m ? m : 1, sizeof(char *));
      const char *mk;
      json_t *mv;
      json_object_foreach(val, mk, mv) {
        if (!json_is_string(mv)) BAD("'%s': __metadata__ value of '%s' is not a string", path, mk);
        out->meta_key[out->nmeta] = strdup(mk);
        out->meta_val[out->nmeta] = strdup(json_string_value(mv));
        out->nmeta++;
      }
      continue;
    }
    ss_tensor *t = &out->t[out->n];
    const char *dt = NULL;
    json_t *shape = NULL;
    json_int_t b = -1, e = -1;
    if (json_unpack(val, "{s:s, s:o, s:[II]}", "dtype", &dt, "shape", &shape, "data_offsets", &b, &e) != 0 || !json_is_array(shape))
      BAD("'%s': tensor '%s' lacks dtype, shape or data_offsets", path, key);
    if (!parse_dtype(dt, &t->dtype)) BAD("'%s': tensor '%s' has unsupported dtype '%s'", path, key, dt);
    if (json_array_size(shape) > SS_MAX_DIMS) BAD("'%s': tensor '%s' has more than %d dimensions", path, key, SS_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
      json_t *x = json_array_get(shape, d);
      if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > ((json_int_t)1 << 40))
        BAD("'%s': tensor '%s' has a bad shape", path, key);
      t->shape[d] = json_integer_value(x);
      numel *= (uint64_t)t->shape[d];
      if (numel > ((uint64_t)1 << 40)) BAD("'%s': tensor '%s' is too large", path, key);
    }
    uint64_t bytes = numel * ss_dtype_size(t->dtype);
    if (b < 0 || e < b || (uint64_t)e > dlen || (uint64_t)(e - b) != bytes)
      BAD("'%s' is truncated or corrupt: tensor '%s' data [%lld, %lld) does not fit %" PRIu64 " bytes of data", path, key, (long long)b, (long long)e, dlen);
    if ((uint64_t)b != expect_off) order_ok = 0;
    expect_off = (uint64_t)e;
    t->name = strdup(key);
    t->data = malloc(bytes ? bytes : 1);
    if (!t->name || !t->data) BAD("out of memory reading '%s'", path);
    memcpy(t->data, data + b, bytes);
    out->n++;
  }
  const char *cs = ss_st_meta(out, "ss_checksum");
  if (cs) {
    /* scansnap's own files are dense: tensors tile the data section exactly, so bytes
     * after the last tensor mean the file was damaged (appended to, or a wrong header). */
    uint64_t total = 0;
    for (int i = 0; i < out->n; i++) total += (uint64_t)ss_tensor_numel(&out->t[i]) * ss_dtype_size(out->t[i].dtype);
    if (total != dlen) BAD("'%s' is corrupt: its tensors cover %" PRIu64 " of %" PRIu64 " data bytes", path, total, dlen);
    /* Recompute over the tensors in offset order. */
    int *idx = malloc(sizeof(int) * (size_t)(out->n > 0 ? out->n : 1));
    for (int i = 0; i < out->n; i++) idx[i] = i;
    if (!order_ok) {
      /* sort by data offset: small n, insertion sort on recomputed offsets */
      uint64_t *offs = malloc(sizeof(uint64_t) * (size_t)(out->n > 0 ? out->n : 1));
      for (int i = 0; i < out->n; i++) {
        json_int_t b, e;
        json_unpack(json_object_get(hdr, out->t[i].name), "{s:[II]}", "data_offsets", &b, &e);
        offs[i] = (uint64_t)b;
      }
      for (int i = 1; i < out->n; i++)
        for (int j = i; j > 0 && offs[idx[j - 1]] > offs[idx[j]]; j--) {
          int tmp = idx[j];
          idx[j] = idx[j - 1];
          idx[j - 1] = tmp;
        }
      free(offs);
    }
    for (int i = 0; i < out->n; i++) {
      ss_tensor *t = &out->t[idx[i]];
      sum = ss_fnv1a64(t->data, (size_t)ss_tensor_numel(t) * ss_dtype_size(t->dtype), sum);
    }
    free(idx);
    char got[32];
    snprintf(got, sizeof got, "%016" PRIx64, sum);
    if (strcmp(got, cs) != 0) BAD("'%s' is corrupt: checksum %s does not match the stored %s", path, got, cs);
  }
  json_decref(hdr);
  free(buf);
  return SS_OK;
fail:
  json_decref(hdr);
  free(buf);
  ss_st_free(out);
  return SS_EINPUT;
}

const ss_tensor *ss_st_get(const ss_stfile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
  return NULL;
}

const char *ss_st_meta(const ss_stfile *f, const char *key) {
  for (int i = 0; i < f->nmeta; i++)
    if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
  return NULL;
}
