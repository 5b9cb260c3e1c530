/* The on-disk header of the token-id cache (src/text/corpus.c, format version 1), shared by
 * the reader/writer and the tests/fuzz targets that forge damaged caches, so a format change
 * cannot leave a stale copy behind. Internal: not part of the public API. */
#ifndef SS_TEXT_CACHE_FORMAT_H
#define SS_TEXT_CACHE_FORMAT_H
#include <stdint.h>

#define SS_CACHE_HDR_SIZE 128

typedef struct {
  char magic[8];
  uint32_t version, header_size;
  uint64_t data_sig, vocab_hash;
  int32_t min_freq, max_vocab, V, pad;
  int64_t n[3];
  uint64_t ids_off, vocab_off, file_size;
  int64_t invalid_utf8;
  uint64_t header_sum; /* FNV-1a-64 of the bytes before it */
} ss_cache_hdr;
_Static_assert(sizeof(ss_cache_hdr) <= SS_CACHE_HDR_SIZE, "cache header must fit in SS_CACHE_HDR_SIZE");

#endif
