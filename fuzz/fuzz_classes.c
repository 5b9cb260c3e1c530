/* The class-table reader (data.classes, ss_classes_load_json).
 * Property: a table that loads is written by ss_classes_write_json (classes.json) and
 * reads back identical. Tables whose dense size M*N is legitimately large are skipped
 * before loading: allocating them is not a bug, only slow. */
#include "fuzz.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *root = json_loadb((const char *)data, size, 0, NULL);
  json_t *jM = root ? json_object_get(root, "M") : NULL, *arr = root ? json_object_get(root, "classes") : NULL;
  int big = json_is_integer(jM) && json_is_array(arr) && (double)json_integer_value(jM) * (double)json_array_size(arr) > 1e6;
  json_decref(root);
  if (big) return 0;

  ss_classes cl, back;
  ss_err err;
  if (ss_classes_load_json(ss_fuzz_path(0, data, size), &cl, &err) != SS_OK) return 0;
  char path[128];
  snprintf(path, sizeof path, "%s/classes.json", ss_fuzz_scratch());
  SS_FUZZ_ASSERT(ss_classes_write_json(&cl, path, &err) == SS_OK);
  int rc = ss_classes_load_json(path, &back, &err);
  if (rc) fprintf(stderr, "classes.json does not load back: %s\n", err.msg);
  SS_FUZZ_ASSERT(rc == SS_OK);
  SS_FUZZ_ASSERT(back.M == cl.M && back.N == cl.N);
  SS_FUZZ_ASSERT(!memcmp(back.query, cl.query, sizeof(int) * (size_t)cl.N));
  SS_FUZZ_ASSERT(!memcmp(back.next, cl.next, sizeof(int) * (size_t)cl.N));
  SS_FUZZ_ASSERT(!memcmp(back.prob, cl.prob, sizeof(double) * (size_t)cl.N * cl.M));
  SS_FUZZ_ASSERT(!memcmp(back.kind, cl.kind, (size_t)cl.N * cl.M));
  ss_classes_free(&back);
  ss_classes_free(&cl);
  return 0;
}
