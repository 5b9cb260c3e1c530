/* The token-id cache reader (ss_corpus_open mapping a *.sstok file next to the text).
 * The input is the cache file; the harness fills in what a fuzzer cannot guess — the
 * data signature of the text it sits next to and the header checksum — for 3 inputs in 4,
 * so the layout checks behind them are reached. Property: a cache that is accepted gives
 * a vocabulary of V >= 2 NUL-terminated words, counts and ids that lie inside the file,
 * with every id in 0..V-1. Otherwise the cache is rebuilt from the text. */
#include "fuzz.h"

#include <scansnap/text.h>
#include "text/cache_format.h"

#include <stddef.h>
#include <sys/stat.h>

typedef ss_cache_hdr hdr;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char text[160], cache[170];
  static uint64_t sig;
  ss_err err;
  ss_corpus c;
  if (!text[0]) {
    snprintf(text, sizeof text, "%s/corpus.txt", ss_fuzz_scratch());
    snprintf(cache, sizeof cache, "%s.sstok", text);
    const char *words = "the cat sat on the mat .\na dog ran far away .\nthe end\n";
    if (ss_write_file_atomic(text, words, strlen(words), &err)) abort();
    ss_corpus_opts o = {text, 1, 0, NULL};
    if (ss_corpus_open(&o, &c, &err)) abort();
    sig = ((const hdr *)c.map)->data_sig;
    ss_corpus_close(&c);
  }
  uint8_t *buf = malloc(size + 1);
  memcpy(buf, data, size);
  if (size >= 128 && data[0] % 4 != 0) {
    hdr h;
    memcpy(&h, buf, sizeof h);
    memcpy(h.magic, "SSTOKEN", 8);
    h.version = 1;
    h.header_size = 128;
    h.data_sig = sig;
    h.min_freq = 1;
    h.max_vocab = 0;
    h.file_size = size;
    h.header_sum = ss_fnv1a64(&h, offsetof(hdr, header_sum), SS_FNV_INIT);
    memcpy(buf, &h, sizeof h);
  }
  if (ss_write_file_atomic(cache, buf, size, &err)) abort();
  free(buf);
  ss_corpus_opts o = {text, 1, 0, NULL};
  if (ss_corpus_open(&o, &c, &err) == SS_OK) {
    SS_FUZZ_ASSERT(c.V >= 2);
    uint64_t acc = 0;
    for (int i = 0; i < c.V; i++) acc += strlen(c.words[i]) + (uint64_t)c.counts[i];
    for (int s = 0; s < 3; s++) {
      SS_FUZZ_ASSERT(c.n[s] >= 0);
      for (int64_t k = 0; k < c.n[s]; k++) SS_FUZZ_ASSERT(c.ids[s][k] >= 0 && c.ids[s][k] < c.V);
    }
    (void)acc;
    ss_corpus_close(&c);
  }
  return 0;
}
