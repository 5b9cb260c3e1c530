/* Real text (SPEC §5): a streaming tokenizer, the vocabulary of the training split, the
 * token-id cache (memory-mapped on later runs) and the language-model training run.
 * (The language-model run itself is a task of the trainer: src/train/task_lm.c.)
 *
 * Memory: building a corpus reads the text in 1 MiB chunks and never holds it; what stays
 * in memory is the hash table of the distinct words of the training split (about
 * 48 bytes + the word per distinct word) and, once built, the vocabulary. Token ids live
 * in the cache file and are reached through mmap. docs/text.md states the bound. */
#ifndef SCANSNAP_TEXT_H
#define SCANSNAP_TEXT_H
#include <stddef.h>
#include <stdint.h>

#include "scansnap/config.h"

/* ---- tokenizer -------------------------------------------------------------------
 * Lower case (ASCII, Latin-1, Greek, Cyrillic capitals); white space separates words;
 * every punctuation character is a token of its own, except the WikiText forms `<unk>`
 * and `@-@`, `@,@`, `@.@` (one token each). Every line that produced a token ends with
 * the `<eos>` token (as PyTorch's word_language_model). Invalid UTF-8 bytes are replaced
 * by U+FFFD (counted); a NUL byte means the file is binary and is an error. */
#define SS_TOK_MAXLEN 256 /* longer words are cut to this many bytes (counted) */

enum { SS_TOK_WORD = 0, SS_TOK_EOS = 1 };
typedef void (*ss_tok_emit)(void *ctx, const char *tok, size_t len, int kind);

typedef struct {
  ss_tok_emit emit;
  void *ctx;
  /* UTF-8 decoder */
  uint32_t cp;
  int need, have;
  unsigned char raw[4];
  /* current word */
  char word[SS_TOK_MAXLEN + 8];
  size_t wlen;
  int cut;
  /* pending punctuation that may start `<unk>` or `@x@` (code points) */
  uint32_t pend[8];
  int npend;
  int line_tokens;
  /* statistics */
  int64_t bytes, invalid, truncated, nul_at, tokens;
} ss_tokenizer;

void ss_tok_init(ss_tokenizer *t, ss_tok_emit emit, void *ctx);
void ss_tok_feed(ss_tokenizer *t, const char *buf, size_t n);
void ss_tok_finish(ss_tokenizer *t); /* flushes the last word and line */

/* ---- corpus ----------------------------------------------------------------------- */
enum { SS_SPLIT_TRAIN = 0, SS_SPLIT_VALID = 1, SS_SPLIT_TEST = 2 };
#define SS_TEXT_UNK 0 /* id of <unk> */
#define SS_TEXT_EOS 1 /* id of <eos> */
/* A single plain-text file is split by bytes at these fractions (each cut moved to the
 * next line break): train = [0, 0.8), valid = [0.8, 0.9), test = [0.9, 1]. */
#define SS_TEXT_TRAIN_FRAC 0.8
#define SS_TEXT_VALID_FRAC 0.1
#define SS_TEXT_CACHE_VERSION 1u

typedef struct {
  int V;                   /* vocabulary size, <unk> and <eos> included */
  const char **words;      /* [V] id -> word (NUL-terminated, inside the mapping) */
  const int64_t *counts;   /* [V] occurrences in the training split (after <unk> mapping) */
  const int32_t *ids[3];   /* token ids of train/valid/test, inside the mapping */
  int64_t n[3];            /* their lengths */
  uint64_t vocab_hash;     /* FNV-1a-64 of the vocabulary (words in id order) */
  int64_t invalid_utf8;    /* bytes replaced by U+FFFD while building */
  int built;               /* 1: the cache was (re)built by this call; 0: mapped from disk */
  char cache_path[SS_PATH_MAX];
  char note[512];          /* why the cache was rebuilt (empty if it was not) */
  /* private */
  void *map;
  size_t maplen;
} ss_corpus;

typedef struct {
  const char *path;  /* WikiText folder or plain UTF-8 file */
  int min_freq;      /* words seen fewer times become <unk> */
  int max_vocab;     /* at most this many ids, <unk>/<eos> included (0 = no limit) */
  const char *cache; /* folder for the cache ("" or NULL = next to the data) */
} ss_corpus_opts;

/* Opens the corpus: maps a valid cache, or tokenizes the text (streaming) and writes the
 * cache first. A cache from another format version, vocabulary setting or data is rebuilt
 * and c->note says why. Errors (SS_EINPUT): missing/unreadable/empty/binary text. */
int ss_corpus_open(const ss_corpus_opts *o, ss_corpus *c, ss_err *err);
int ss_corpus_open_config(const ss_config *cfg, ss_corpus *c, ss_err *err);
void ss_corpus_close(ss_corpus *c);
/* Id of a word (already tokenized), SS_TEXT_UNK when absent. Linear scan: for tests/tools. */
int ss_corpus_id(const ss_corpus *c, const char *word);
/* mask[V]: 1 for the k most frequent ids of the training split (ties: smaller id). */
void ss_corpus_top_mask(const ss_corpus *c, int k, unsigned char *mask);

#endif
