/* Text into scripts, data files, HTML, a terminal and file names (plot_int.h). Every string that did not
 * come from this program's own source reaches a gnuplot script through ss_gp_text only. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"

void ss_sb_put(ss_sbuf *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t nc = (b->cap ? b->cap * 2 : 4096) + len;
    char *nb = realloc(b->buf, nc);
    if (!nb) {
      b->oom = 1;
      return;
    }
    b->buf = nb;
    b->cap = nc;
  }
  memcpy(b->buf + b->n, s, len);
  b->n += len;
  b->buf[b->n] = 0;
}

void ss_sb_puts(ss_sbuf *b, const char *s) { ss_sb_put(b, s, strlen(s)); }

void ss_sb_printf(ss_sbuf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (need < 0) return;
  if ((size_t)need < sizeof tmp) {
    ss_sb_put(b, tmp, (size_t)need);
    return;
  }
  char *big = malloc((size_t)need + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)need + 1, fmt, ap);
  va_end(ap);
  ss_sb_put(b, big, (size_t)need);
  free(big);
}

void ss_sb_free(ss_sbuf *b) {
  free(b->buf);
  memset(b, 0, sizeof *b);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if s does not start one. */
static int utf8_len(const unsigned char *s) {
  int n;
  unsigned int c = s[0];
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3;
  else if (c >= 0xf0 && c <= 0xf4) n = 4;
  else return 0;
  for (int k = 1; k < n; k++)
    if ((s[k] & 0xc0) != 0x80) return 0;
  if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))) return 0; /* overlong, surrogates */
  if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))) return 0;
  return n;
}

/* Walks s character by character: control characters as ' ', invalid bytes as U+FFFD, each
 * character handed to put (with its bytes); stops after maxchars characters with "…". */
typedef void (*put_char_fn)(ss_sbuf *b, const char *c, int len);

/* keep_lines: line breaks and tabs pass (text shown in a <pre>) */
static void walk_text(ss_sbuf *b, const char *s, int maxchars, int keep_lines, put_char_fn put) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  for (int count = 0; *p; count++) {
    if (maxchars > 0 && count == maxchars) {
      ss_sb_puts(b, "\xe2\x80\xa6"); /* … */
      return;
    }
    int len = utf8_len(p);
    if (len == 0) {
      put(b, "\xef\xbf\xbd", 3);
      p++;
    } else if (len == 1 && (*p < 0x20 || *p == 0x7f) && !(keep_lines && (*p == '\n' || *p == '\t'))) {
      put(b, " ", 1);
      p++;
    } else if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0) { /* C1 controls */
      put(b, " ", 1);
      p += 2;
    } else {
      put(b, (const char *)p, len);
      p += len;
    }
  }
}

static void put_gp(ss_sbuf *b, const char *c, int len) {
  if (len == 1) {
    switch (*c) {
    case '\'': ss_sb_puts(b, "\\047"); return; /* no quote inside: see plot_int.h */
    case '&': ss_sb_puts(b, "\xef\xbc\x86"); return; /* U+FF06 FULLWIDTH AMPERSAND */
    case '\\': case '^': case '_': case '@': case '~': case '{': case '}':
      ss_sb_put(b, "\\", 1);
      break;
    default: break;
    }
  }
  ss_sb_put(b, c, (size_t)len);
}

void ss_gp_text(ss_sbuf *b, const char *s, int maxchars) { walk_text(b, s, maxchars, 0, put_gp); }

void ss_gp_str(ss_sbuf *b, const char *s, int maxchars) {
  ss_sb_put(b, "'", 1);
  ss_gp_text(b, s, maxchars);
  ss_sb_put(b, "'", 1);
}

void ss_gp_num(ss_sbuf *b, double v) {
  if (isfinite(v)) ss_sb_printf(b, "%.10g", v);
  else ss_sb_puts(b, "NaN");
}

static void put_plain(ss_sbuf *b, const char *c, int len) { ss_sb_put(b, c, (size_t)len); }

char *ss_text_clean(const char *s, int maxchars) {
  ss_sbuf b = {0};
  walk_text(&b, s, maxchars, 0, put_plain);
  ss_sb_put(&b, "", 0);
  if (b.oom) {
    ss_sb_free(&b);
    return NULL;
  }
  return b.buf ? b.buf : strdup("");
}

static void put_html(ss_sbuf *b, const char *c, int len) {
  if (len == 1) {
    switch (*c) {
    case '<': ss_sb_puts(b, "&lt;"); return;
    case '>': ss_sb_puts(b, "&gt;"); return;
    case '&': ss_sb_puts(b, "&amp;"); return;
    case '"': ss_sb_puts(b, "&quot;"); return;
    case '\'': ss_sb_puts(b, "&#39;"); return;
    default: break;
    }
  }
  ss_sb_put(b, c, (size_t)len);
}

void ss_html_text(ss_sbuf *b, const char *s) { walk_text(b, s, 0, 1, put_html); }

void ss_fname_part(char *dst, size_t n, const char *s) {
  size_t k = 0;
  for (; *s && k + 1 < n && k < 48; s++) {
    char c = *s;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && k > 0);
    dst[k++] = ok ? c : '_';
  }
  if (n) dst[k] = 0;
}

int ss_is_ident(const char *s) {
  size_t k = 0;
  for (; s[k]; k++) {
    char c = s[k];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return 0;
  }
  return k >= 1 && k <= 63;
}

int ss_parse_num(const char *s, double *v) {
  char *e;
  if (!s || !*s) return 0;
  double x = strtod(s, &e);
  if (*e) return 0;
  *v = x;
  return 1;
}
