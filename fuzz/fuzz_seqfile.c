/* The sequence-file reader (data.sequences: text rows or .npy, ss_seqfile_load) and the
 * batches drawn from it (ss_seqfile_next wraps around the rows).
 * Property: every token read is inside the vocabulary, and rows have T+1 >= 3 columns. */
#include "fuzz.h"

enum { M = 40 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ss_seqfile s;
  ss_err err;
  if (ss_seqfile_load(ss_fuzz_path(0, data, size), M, &s, &err) != SS_OK) return 0;
  SS_FUZZ_ASSERT(s.rows >= 1 && s.T >= 2);
  for (size_t i = 0; i < (size_t)s.rows * (size_t)(s.T + 1); i++) SS_FUZZ_ASSERT(s.data[i] >= 0 && s.data[i] < M);
  ss_batch b;
  if (s.T <= 4096 && ss_batch_alloc(&b, 3, s.T, &err) == SS_OK) {
    for (int k = 0; k < 3; k++) ss_seqfile_next(&s, NULL, &b);
    SS_FUZZ_ASSERT(s.pos >= 0 && s.pos < s.rows);
    ss_batch_free(&b);
  }
  ss_seqfile_free(&s);
  return 0;
}
