/* Tokenizer, vocabulary, token cache (roundtrip, mmap reuse, stale rebuild), WikiText layout,
 * plain-file split, bad text, and a bounded-memory build of a large generated file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/text.h"
#include "ss_test.h"

/* ---- tokenizer ---- */
typedef struct {
  char out[4096];
  size_t n;
} collect;

static void collect_emit(void *ctx, const char *tok, size_t len, int kind) {
  collect *c = ctx;
  if (c->n) c->out[c->n++] = '|';
  if (kind == SS_TOK_EOS) {
    memcpy(c->out + c->n, "EOS", 3);
    c->n += 3;
  } else {
    memcpy(c->out + c->n, tok, len);
    c->n += len;
  }
  c->out[c->n] = 0;
}

static const char *tokenize_in_pieces(const char *text, size_t piece, collect *c, ss_tokenizer *t) {
  memset(c, 0, sizeof *c);
  ss_tok_init(t, collect_emit, c);
  size_t n = strlen(text);
  for (size_t i = 0; i < n; i += piece) ss_tok_feed(t, text + i, i + piece <= n ? piece : n - i);
  ss_tok_finish(t);
  return c->out;
}

static void tokenizer_lowercases_and_splits_punctuation(void **state) {
  (void)state;
  collect c;
  ss_tokenizer t;
  assert_string_equal(tokenize_in_pieces("Hello, World! It's 3.5km.\n", 1000, &c, &t),
                      "hello|,|world|!|it|'|s|3|.|5km|.|EOS");
  /* blank lines give no <eos>; the last line needs no newline */
  assert_string_equal(tokenize_in_pieces("\n\n  A b\n\n\nC", 1000, &c, &t), "a|b|EOS|c|EOS");
}

static void tokenizer_keeps_wikitext_unk_and_at_tokens(void **state) {
  (void)state;
  collect c;
  ss_tokenizer t;
  const char *wt = " = Valkyria Chronicles = \n the <unk> of 1 @,@ 000 and well @-@ known <un <unk\n";
  const char *want = "=|valkyria|chronicles|=|EOS|the|<unk>|of|1|@,@|000|and|well|@-@|known|<|un|<|unk|EOS";
  assert_string_equal(tokenize_in_pieces(wt, 1000, &c, &t), want);
  /* chunk boundaries anywhere give the same tokens */
  for (size_t piece = 1; piece < 9; piece++) assert_string_equal(tokenize_in_pieces(wt, piece, &c, &t), want);
  assert_string_equal(tokenize_in_pieces("a@@b @x@ @-", 1000, &c, &t), "a|@|@|b|@|x|@|@|-|EOS");
}

static void tokenizer_decodes_utf8_and_replaces_invalid_bytes(void **state) {
  (void)state;
  collect c;
  ss_tokenizer t;
  /* "ÉCOLE — Ωmega" : Latin-1 and Greek capitals lower-cased, the em dash is punctuation */
  const char *s = "\xC3\x89" "COLE \xE2\x80\x94 \xCE\xA9mega\n";
  for (size_t piece = 1; piece < 5; piece++) {
    assert_string_equal(tokenize_in_pieces(s, piece, &c, &t), "\xC3\xA9" "cole|\xE2\x80\x94|\xCF\x89" "mega|EOS");
    assert_int_equal(t.invalid, 0);
  }
  /* a lone continuation byte, a truncated sequence and an overlong form: U+FFFD each */
  tokenize_in_pieces("a\x80" "b \xE2\x82 c \xC0\xAF\n", 1000, &c, &t);
  assert_string_equal(c.out, "a\xEF\xBF\xBD" "b|\xEF\xBF\xBD|c|\xEF\xBF\xBD\xEF\xBF\xBD|EOS");
  assert_int_equal(t.invalid, 5);
  /* NUL is remembered (the corpus rejects the file as binary) */
  memset(&c, 0, sizeof c);
  ss_tok_init(&t, collect_emit, &c);
  ss_tok_feed(&t, "ab\0cd", 5);
  ss_tok_finish(&t);
  assert_int_equal(t.nul_at, 2);
}

static void tokenizer_cuts_very_long_words(void **state) {
  (void)state;
  char *s = malloc(1000);
  memset(s, 'x', 999);
  s[999] = 0;
  collect c;
  ss_tokenizer t;
  tokenize_in_pieces(s, 7, &c, &t);
  assert_int_equal(strlen(c.out), SS_TOK_MAXLEN + 4); /* word + "|EOS" */
  assert_int_equal(t.truncated, 1);
  free(s);
}

/* ---- corpus ---- */

static char *make_wikitext(const char *tag) {
  char *d = ss_test_tmpdir(tag);
  free(ss_test_write_file(d, "wiki.train.tokens",
             " \n = Heading One = \n \n the cat sat on the mat . the dog sat . \n a cat and a dog and a <unk> . \n"));
  free(ss_test_write_file(d, "wiki.valid.tokens", " \n the bird sat on the cat . \n"));
  free(ss_test_write_file(d, "wiki.test.tokens", " the mat . \n"));
  return d;
}

static void corpus_reads_wikitext_layout_with_vocab_by_frequency(void **state) {
  (void)state;
  char *d = make_wikitext("wikitext");
  ss_corpus c;
  ss_err err = {0};
  ss_corpus_opts o = {d, 1, 0, NULL};
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_int_equal(c.built, 1);
  assert_string_equal(c.words[0], "<unk>");
  assert_string_equal(c.words[1], "<eos>");
  /* train: "= heading one =" (4+eos), 11+eos, 9+eos -> 27 tokens; ".", "a", "the" occur 3
   * times each, the most of any word, and "." sorts first among them */
  assert_int_equal(c.n[SS_SPLIT_TRAIN], 5 + 12 + 10);
  assert_string_equal(c.words[2], ".");
  assert_int_equal(c.counts[2], 3);
  assert_int_equal(c.counts[SS_TEXT_EOS], 3);
  assert_int_equal(c.counts[SS_TEXT_UNK], 1);
  /* 'bird' is not in the training split: <unk> in valid */
  assert_int_equal(c.n[SS_SPLIT_VALID], 8);
  assert_int_equal(c.ids[SS_SPLIT_VALID][1], SS_TEXT_UNK);
  assert_int_equal(c.ids[SS_SPLIT_VALID][0], ss_corpus_id(&c, "the"));
  assert_int_equal(c.ids[SS_SPLIT_VALID][7], SS_TEXT_EOS);
  assert_int_equal(c.n[SS_SPLIT_TEST], 4);
  /* counts are those of the train ids */
  int64_t *cnt = calloc((size_t)c.V, sizeof(int64_t));
  for (int64_t i = 0; i < c.n[0]; i++) cnt[c.ids[0][i]]++;
  for (int v = 0; v < c.V; v++) assert_int_equal(cnt[v], c.counts[v]);
  free(cnt);
  /* ids by count, descending; ties by bytes ("a" and "the" both occur 3 times) */
  assert_true(ss_corpus_id(&c, "a") < ss_corpus_id(&c, "the"));
  assert_true(ss_corpus_id(&c, "the") < ss_corpus_id(&c, "sat"));
  for (int v = 3; v < c.V; v++) assert_true(c.counts[v] <= c.counts[v - 1]);
  unsigned char mask[64];
  ss_corpus_top_mask(&c, 2, mask);
  assert_int_equal(mask[2], 1);
  ss_corpus_close(&c);
  free(d);
}

static void corpus_vocab_honours_min_freq_and_max_vocab(void **state) {
  (void)state;
  char *d = make_wikitext("minfreq");
  ss_corpus c;
  ss_err err = {0};
  ss_corpus_opts o = {d, 3, 0, NULL};
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  for (int v = 2; v < c.V; v++) assert_true(c.counts[v] >= 3);
  assert_int_equal(ss_corpus_id(&c, "mat"), SS_TEXT_UNK); /* seen once */
  int V3 = c.V;
  ss_corpus_close(&c);
  ss_corpus_opts o2 = {d, 1, 4, NULL};
  assert_int_equal(ss_corpus_open(&o2, &c, &err), SS_OK);
  assert_int_equal(c.V, 4);
  assert_int_equal(c.built, 1); /* another vocabulary: the cache was rebuilt ... */
  assert_non_null(strstr(c.note, "another vocabulary")); /* ... with a note */
  int64_t total = 0;
  for (int v = 0; v < c.V; v++) total += c.counts[v];
  assert_int_equal(total, c.n[0]);
  assert_true(V3 > 4);
  ss_corpus_close(&c);
  ss_corpus_opts bad = {d, 1, 2, NULL};
  assert_int_equal(ss_corpus_open(&bad, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "data.max_vocab"));
  free(d);
}

static void cache_roundtrip_is_mapped_on_the_second_open(void **state) {
  (void)state;
  char *d = make_wikitext("cache");
  ss_corpus a, b;
  ss_err err = {0};
  ss_corpus_opts o = {d, 1, 0, NULL};
  assert_int_equal(ss_corpus_open(&o, &a, &err), SS_OK);
  assert_int_equal(a.built, 1);
  assert_string_equal(a.note, "");
  assert_int_equal(ss_corpus_open(&o, &b, &err), SS_OK);
  assert_int_equal(b.built, 0); /* mapped, not rebuilt */
  assert_string_equal(b.note, "");
  assert_int_equal(a.V, b.V);
  assert_true(a.vocab_hash == b.vocab_hash);
  for (int s = 0; s < 3; s++) {
    assert_int_equal(a.n[s], b.n[s]);
    assert_memory_equal(a.ids[s], b.ids[s], sizeof(int32_t) * (size_t)a.n[s]);
  }
  for (int v = 0; v < a.V; v++) assert_string_equal(a.words[v], b.words[v]);
  ss_corpus_close(&a);
  ss_corpus_close(&b);
  /* a separate cache folder works the same way */
  char *cd = ss_test_tmpdir("cachedir");
  ss_corpus_opts oc = {d, 1, 0, cd};
  assert_int_equal(ss_corpus_open(&oc, &a, &err), SS_OK);
  assert_int_equal(a.built, 1);
  assert_non_null(strstr(a.cache_path, cd));
  ss_corpus_close(&a);
  assert_int_equal(ss_corpus_open(&oc, &a, &err), SS_OK);
  assert_int_equal(a.built, 0);
  ss_corpus_close(&a);
  free(cd);
  free(d);
}

static void stale_or_foreign_cache_is_rebuilt_with_a_note(void **state) {
  (void)state;
  char *d = make_wikitext("stale");
  ss_corpus c;
  ss_err err = {0};
  ss_corpus_opts o = {d, 1, 0, NULL};
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  char path[SS_PATH_MAX];
  snprintf(path, sizeof path, "%s", c.cache_path);
  int V = c.V;
  ss_corpus_close(&c);
  /* another format version: patch the version field (offset 8) */
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  uint32_t ver = 99;
  fseek(f, 8, SEEK_SET);
  fwrite(&ver, 4, 1, f);
  fclose(f);
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_int_equal(c.built, 1);
  assert_non_null(strstr(c.note, "format version 99"));
  ss_corpus_close(&c);
  /* not a cache at all */
  free(ss_test_write_file(d, "scansnap-tokens.sstok", "hello, I am not a cache file but long enough to hold a header .........................................................................."));
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_non_null(strstr(c.note, "not a scansnap token cache"));
  assert_int_equal(c.V, V);
  ss_corpus_close(&c);
  /* the data changed: a longer training file (size differs) */
  free(ss_test_write_file(d, "wiki.train.tokens", " the cat sat on the mat . zebra zebra \n"));
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_int_equal(c.built, 1);
  assert_non_null(strstr(c.note, "other data"));
  assert_int_not_equal(ss_corpus_id(&c, "zebra"), SS_TEXT_UNK);
  ss_corpus_close(&c);
  free(d);
}

static void plain_file_is_split_80_10_10_at_line_breaks(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("plain");
  char *p = ss_path_join(d, "book.txt");
  FILE *f = fopen(p, "wb");
  for (int i = 0; i < 100; i++) fprintf(f, "Line %03d has words.\n", i); /* 20 bytes, 5 tokens + eos each */
  fclose(f);
  ss_corpus c;
  ss_err err = {0};
  ss_corpus_opts o = {p, 1, 0, NULL};
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_int_equal(c.n[0], 80 * 6);
  assert_int_equal(c.n[1], 10 * 6);
  assert_int_equal(c.n[2], 10 * 6);
  /* the validation split starts at line 080 */
  assert_int_equal(c.ids[1][1], SS_TEXT_UNK); /* "080" never occurs in the training part */
  assert_int_not_equal(ss_corpus_id(&c, "079"), SS_TEXT_UNK);
  assert_int_equal(ss_corpus_id(&c, "080"), SS_TEXT_UNK);
  assert_int_equal(c.ids[1][0], ss_corpus_id(&c, "line"));
  char *cp = ss_path_join(d, "book.txt.sstok");
  assert_true(ss_file_exists(cp));
  free(cp);
  ss_corpus_close(&c);
  free(p);
  free(d);
}

static void bad_text_files_are_one_line_input_errors(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("badtext");
  ss_corpus c;
  ss_err err = {0};
  char *missing = ss_path_join(d, "nope.txt");
  ss_corpus_opts o = {missing, 1, 0, NULL};
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "No such file"));
  assert_null(strchr(err.msg, '\n'));
  /* empty */
  free(ss_test_write_file(d, "empty.txt", ""));
  char *empty = ss_path_join(d, "empty.txt");
  o.path = empty;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "empty"));
  /* only white space: no words */
  free(ss_test_write_file(d, "blank.txt", " \n\n   \n"));
  char *blank = ss_path_join(d, "blank.txt");
  o.path = blank;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "no words"));
  /* binary */
  char *bin = ss_path_join(d, "data.bin");
  FILE *f = fopen(bin, "wb");
  for (int i = 0; i < 5000; i++) fputc(i % 256, f);
  fclose(f);
  o.path = bin;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "binary"));
  /* mostly invalid UTF-8 (no NUL) is rejected; a few bad bytes are replaced */
  char *lat = ss_path_join(d, "latin1.txt");
  f = fopen(lat, "wb");
  for (int i = 0; i < 2000; i++) fputs("\xE9t\xE9 \xE0 ", f);
  fclose(f);
  o.path = lat;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "not UTF-8"));
  char *few = ss_path_join(d, "few.txt");
  f = fopen(few, "wb");
  for (int i = 0; i < 200; i++) fputs("some fine words here\n", f);
  fputs("caf\xE9\n", f);
  fclose(f);
  o.path = few;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  assert_int_equal(c.invalid_utf8, 1);
  ss_corpus_close(&c);
  /* a folder without the WikiText files; a train "file" that cannot be read */
  char *sub = ss_path_join(d, "wt");
  mkdir(sub, 0755);
  o.path = sub;
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "wiki.train.tokens"));
  char *tr = ss_path_join(sub, "wiki.train.tokens");
  mkdir(tr, 0755);
  free(ss_test_write_file(sub, "wiki.valid.tokens", "a b\n"));
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "cannot read"));
  free(tr);
  free(sub);
  free(few);
  free(lat);
  free(bin);
  free(blank);
  free(empty);
  free(missing);
  free(d);
}

static long max_rss_kb(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

/* A 24 MiB text (about 4.6M tokens, 18 MiB of ids) builds while the process grows by far less
 * than either: the text is streamed and the ids go to the file. */
static void large_text_builds_in_bounded_memory(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("large");
  char *p = ss_path_join(d, "big.txt");
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  ss_rng r;
  ss_rng_seed(&r, 7);
  long bytes = 0;
  const long target = 24L << 20;
  char line[256];
  while (bytes < target) {
    int k = 0;
    for (int w = 0; w < 12; w++) {
      /* Zipf-ish word ids over 20000 words */
      uint32_t id = (uint32_t)(20000.0 * ss_rng_uniform(&r) * ss_rng_uniform(&r));
      k += snprintf(line + k, sizeof line - (size_t)k, "w%u ", id);
    }
    line[k - 1] = '\n';
    fwrite(line, 1, (size_t)k, f);
    bytes += k;
  }
  fclose(f);
  long before = max_rss_kb();
  ss_corpus c;
  ss_err err = {0};
  ss_corpus_opts o = {p, 1, 0, NULL};
  double t0 = ss_now();
  assert_int_equal(ss_corpus_open(&o, &c, &err), SS_OK);
  double dt = ss_now() - t0;
  long grown = max_rss_kb() - before;
  int64_t ntok = c.n[0] + c.n[1] + c.n[2];
  print_message("large text: %ld bytes, %lld tokens, V = %d, built in %.2f s, max RSS grew by %ld KiB\n", bytes, (long long)ntok, c.V,
                dt, grown);
  assert_true(ntok > 3000000);
  assert_true(c.V > 10000);
  /* bound: under the text (24 MiB) and under the ids (ntok*4 = 18 MiB); Release grows by
   * about 2.5 MiB, ASan by about 8.5 MiB (its quarantine keeps the freed 1 MiB chunk buffers) */
  assert_true(grown < 12 * 1024);
  assert_true(grown < ntok * 4 / 1024 * 3 / 4);
  ss_corpus_close(&c);
  free(p);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tokenizer_lowercases_and_splits_punctuation),
      cmocka_unit_test(tokenizer_keeps_wikitext_unk_and_at_tokens),
      cmocka_unit_test(tokenizer_decodes_utf8_and_replaces_invalid_bytes),
      cmocka_unit_test(tokenizer_cuts_very_long_words),
      cmocka_unit_test(corpus_reads_wikitext_layout_with_vocab_by_frequency),
      cmocka_unit_test(corpus_vocab_honours_min_freq_and_max_vocab),
      cmocka_unit_test(cache_roundtrip_is_mapped_on_the_second_open),
      cmocka_unit_test(stale_or_foreign_cache_is_rebuilt_with_a_note),
      cmocka_unit_test(plain_file_is_split_80_10_10_at_line_breaks),
      cmocka_unit_test(bad_text_files_are_one_line_input_errors),
      cmocka_unit_test(large_text_builds_in_bounded_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
