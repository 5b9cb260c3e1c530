/* The streaming text tokenizer (ss_tok_feed/finish) on arbitrary bytes.
 * Properties: every token is non-empty, at most SS_TOK_MAXLEN bytes and valid UTF-8 with
 * no white space; and the token stream does not depend on how the text is cut into chunks
 * (the first byte of the input picks the chunk size), as corpus building relies on. */
#include "fuzz.h"

#include <scansnap/text.h>

typedef struct {
  uint64_t h;
  int64_t n;
} stream;

static void emit(void *ctx, const char *tok, size_t len, int kind) {
  stream *s = ctx;
  SS_FUZZ_ASSERT(kind == SS_TOK_EOS || (len >= 1 && len <= SS_TOK_MAXLEN));
  for (size_t i = 0; i < len; i++) SS_FUZZ_ASSERT(tok[i] != ' ' && tok[i] != '\n' && tok[i] != 0);
  s->h = ss_fnv1a64(&kind, sizeof kind, s->h);
  s->h = ss_fnv1a64(tok, len, s->h);
  s->h = ss_fnv1a64(&len, sizeof len, s->h);
  s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 7;
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  stream whole = {SS_FNV_INIT, 0}, cut = {SS_FNV_INIT, 0};
  ss_tokenizer t;
  ss_tok_init(&t, emit, &whole);
  ss_tok_feed(&t, text, n);
  ss_tok_finish(&t);
  ss_tok_init(&t, emit, &cut);
  for (size_t i = 0; i < n; i += chunk) ss_tok_feed(&t, text + i, n - i < chunk ? n - i : chunk);
  ss_tok_finish(&t);
  SS_FUZZ_ASSERT(whole.n == cut.n && whole.h == cut.h);
  return 0;
}
