/* The streaming tokenizer of SPEC §5 (rules in include/scansnap/text.h and docs/text.md).
 * Bytes go through a UTF-8 decoder, code points through a small matcher that recognises
 * the WikiText tokens `<unk>` and `@x@`, then into words. Chunks may cut anywhere (inside
 * a UTF-8 sequence, a word or `<unk>`): all state lives in ss_tokenizer, so the result does
 * not depend on how the text was cut. */
#include <string.h>

#include "scansnap/text.h"

void ss_tok_init(ss_tokenizer *t, ss_tok_emit emit, void *ctx) {
  memset(t, 0, sizeof *t);
  t->emit = emit;
  t->ctx = ctx;
  t->nul_at = -1;
}

static size_t utf8_put(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static int is_space(uint32_t c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c < 0x20 || c == 0x7F || c == 0x85 ||
         c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static int is_ascii_punct(uint32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

static int is_punct(uint32_t c) {
  return is_ascii_punct(c) || (c >= 0xA1 && c <= 0xBF) || c == 0xD7 || c == 0xF7 || (c >= 0x2010 && c <= 0x2027) ||
         (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x303F);
}

static uint32_t lower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;           /* Latin-1 */
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;        /* Greek */
  if (c >= 0x410 && c <= 0x42F) return c + 32;                      /* Cyrillic */
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

static void emit_word(ss_tokenizer *t, const char *w, size_t n) {
  t->emit(t->ctx, w, n, SS_TOK_WORD);
  t->line_tokens++;
  t->tokens++;
}

static void flush_word(ss_tokenizer *t) {
  if (!t->wlen) return;
  emit_word(t, t->word, t->wlen);
  t->wlen = 0;
  t->cut = 0;
}

/* A code point after the matcher: separators end words, punctuation is a token. */
static void plain(ss_tokenizer *t, uint32_t c) {
  if (c == '\n') {
    flush_word(t);
    if (t->line_tokens) {
      t->emit(t->ctx, "<eos>", 5, SS_TOK_EOS);
      t->tokens++;
    }
    t->line_tokens = 0;
  } else if (is_space(c)) {
    flush_word(t);
  } else if (is_punct(c)) {
    char o[4];
    flush_word(t);
    emit_word(t, o, utf8_put(c, o));
  } else {
    char o[4];
    size_t k = utf8_put(lower(c), o);
    if (t->wlen + k > SS_TOK_MAXLEN) {
      if (!t->cut) t->truncated++;
      t->cut = 1; /* the word is emitted as its first bytes, cut at a character boundary */
      return;
    }
    memcpy(t->word + t->wlen, o, k);
    t->wlen += k;
  }
}

/* Is pend[0..n) a prefix of `<unk>` or of `@x@` (x one ASCII punctuation character)? 2 = whole. */
static int pend_match(const uint32_t *p, int n) {
  if (p[0] == '<') {
    static const char u[] = "<unk>";
    for (int i = 0; i < n; i++)
      if (i >= 5 || p[i] != (uint32_t)u[i]) return 0;
    return n == 5 ? 2 : 1;
  }
  if (p[0] == '@') {
    if (n >= 2 && (!is_ascii_punct(p[1]) || p[1] == '@')) return 0;
    if (n >= 3 && p[2] != '@') return 0;
    return n == 3 ? 2 : n < 3 ? 1 : 0;
  }
  return 0;
}

static void matcher(ss_tokenizer *t, uint32_t c);

/* The pending characters did not make a special token: the first is plain punctuation,
 * the rest go through the matcher again (one of them may start a new match). */
static void pend_fail(ss_tokenizer *t) {
  uint32_t s[8];
  int n = t->npend;
  memcpy(s, t->pend, sizeof(uint32_t) * (size_t)n);
  t->npend = 0;
  plain(t, s[0]);
  for (int i = 1; i < n; i++) matcher(t, s[i]);
}

static void matcher(ss_tokenizer *t, uint32_t c) {
  if (t->npend == 0) {
    if (c == '<' || c == '@') {
      flush_word(t);
      t->pend[t->npend++] = c;
    } else {
      plain(t, c);
    }
    return;
  }
  t->pend[t->npend++] = c;
  int m = pend_match(t->pend, t->npend);
  if (m == 2) {
    char o[8 * 4];
    size_t k = 0;
    for (int i = 0; i < t->npend; i++) k += utf8_put(t->pend[i], o + k);
    t->npend = 0;
    emit_word(t, o, k);
  } else if (m == 0) {
    pend_fail(t);
  }
}

static void bad_seq(ss_tokenizer *t) {
  t->invalid += t->have ? t->have : 1;
  t->need = t->have = 0;
  matcher(t, 0xFFFD);
}

void ss_tok_feed(ss_tokenizer *t, const char *buf, size_t n) {
  const unsigned char *b = (const unsigned char *)buf;
  for (size_t i = 0; i < n; i++, t->bytes++) {
    unsigned c = b[i];
    if (t->need) {
      if ((c & 0xC0) == 0x80) {
        t->cp = (t->cp << 6) | (c & 0x3F);
        t->raw[t->have++] = (unsigned char)c;
        if (--t->need) continue;
        uint32_t cp = t->cp;
        int len = t->have;
        /* overlong forms, surrogates and code points past U+10FFFF are invalid */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
          bad_seq(t);
          continue;
        }
        t->have = 0;
        matcher(t, cp);
        continue;
      }
      bad_seq(t); /* the sequence stopped early; this byte starts afresh */
    }
    if (c < 0x80) {
      if (c == 0 && t->nul_at < 0) t->nul_at = t->bytes;
      matcher(t, c);
    } else if (c >= 0xC2 && c <= 0xDF) {
      t->need = 1, t->cp = c & 0x1F, t->raw[0] = (unsigned char)c, t->have = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      t->need = 2, t->cp = c & 0x0F, t->raw[0] = (unsigned char)c, t->have = 1;
    } else if (c >= 0xF0 && c <= 0xF4) {
      t->need = 3, t->cp = c & 0x07, t->raw[0] = (unsigned char)c, t->have = 1;
    } else {
      t->have = 0;
      bad_seq(t);
    }
  }
}

void ss_tok_finish(ss_tokenizer *t) {
  if (t->need) bad_seq(t);
  while (t->npend) pend_fail(t);
  plain(t, '\n'); /* the last line need not end with a newline */
}
