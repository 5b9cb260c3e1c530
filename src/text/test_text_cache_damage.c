/* A token cache whose header checksum is right but whose body is not (an id outside the
 * vocabulary, an ids offset elsewhere) is rebuilt with a note, never mapped as is (found
 * by fuzz/fuzz_textcache.c: ids outside 0..V-1 were handed to the model). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"
#include <scansnap/text.h>
#include "text/cache_format.h"

typedef ss_cache_hdr hdr;

/* Rewrites the cache with edit applied and a header checksum that matches again. */
static void damage(const char *path, void (*edit)(hdr *h, char *buf)) {
  char *buf;
  size_t n;
  ss_err err;
  assert_int_equal(ss_read_file(path, &buf, &n, &err), SS_OK);
  hdr h;
  memcpy(&h, buf, sizeof h);
  edit(&h, buf);
  h.header_sum = ss_fnv1a64(&h, offsetof(hdr, header_sum), SS_FNV_INIT);
  memcpy(buf, &h, sizeof h);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, n, f), n);
  fclose(f);
  free(buf);
}

static void id_beyond_vocab(hdr *h, char *buf) {
  int32_t v = h->V + 5;
  memcpy(buf + h->ids_off + 4, &v, 4);
}
static void ids_elsewhere(hdr *h, char *buf) {
  (void)buf;
  h->ids_off = h->file_size + 4096;
}
static void misaligned_vocab(hdr *h, char *buf) {
  (void)buf;
  h->vocab_off += 4;
}

static void damaged_cache_body_is_rebuilt(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("textcache-damage");
  char *text = ss_path_join(dir, "t.txt");
  const char *words = "the cat sat on the mat .\na dog ran far away .\nthe end\n";
  ss_err err;
  assert_int_equal(ss_write_file_atomic(text, words, strlen(words), &err), SS_OK);
  ss_corpus_opts o = {text, 1, 0, NULL};
  ss_corpus c;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_int_equal(c.built, 1);
  char cache[4200];
  snprintf(cache, sizeof cache, "%s", c.cache_path);
  int V = c.V;
  ss_corpus_close(&c);
  void (*edits[])(hdr *, char *) = {id_beyond_vocab, ids_elsewhere, misaligned_vocab};
  const char *why[] = {"token id outside the vocabulary", "layout", "layout"};
  for (int k = 0; k < 3; k++) {
    damage(cache, edits[k]);
    assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
    assert_int_equal(c.built, 1);
    assert_non_null(strstr(c.note, why[k]));
    assert_int_equal(c.V, V);
    for (int s = 0; s < 3; s++)
      for (int64_t i = 0; i < c.n[s]; i++) assert_true(c.ids[s][i] >= 0 && c.ids[s][i] < c.V);
    ss_corpus_close(&c);
  }
  free(text);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(damaged_cache_body_is_rebuilt)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
