/* Batches: drawn from a class table (SPEC §1), or read in order from a sequence file. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/data.h"
#include "scansnap/io.h"
#include "util/xoshiro.h"

int ss_batch_alloc(ss_batch *b, int B, int T, ss_err *err) {
  memset(b, 0, sizeof *b);
  b->B = B;
  b->T = T;
  b->x = malloc(sizeof(int) * (size_t)B * (size_t)T);
  b->label = malloc(sizeof(int) * (size_t)B);
  b->cls = malloc(sizeof(int) * (size_t)B);
  if (!b->x || !b->label || !b->cls) {
    ss_batch_free(b);
    return ss_seterr(err, SS_EINPUT, "a batch of %d sequences of length %d does not fit in memory", B, T);
  }
  return SS_OK;
}

void ss_batch_free(ss_batch *b) {
  free(b->x);
  free(b->label);
  free(b->cls);
  free(b->y);
  memset(b, 0, sizeof *b);
}

/* The tokens of one sequence of class n: one 64-bit draw per token, the high half picks a
 * support slot (Lemire's multiply-shift; k is tiny, so the bias is below 2^-32 * k), the low
 * half the coin of the alias table. The generator is ss_rng_u64's step (ss_xoshiro_next), on
 * a copy of its state held in locals for the whole sequence: the same stream of draws,
 * without a call and four loads/stores per token (this loop was ~40 % of a Figure-4 run's
 * instructions). test_generator checks the stream against ss_rng_u64. */

static void sample_tokens(const ss_classes *cl, int n, ss_rng *rng, int *restrict x, int cnt) {
  const int off = cl->supp_off[n];
  const uint64_t k = (uint64_t)(uint32_t)(cl->supp_off[n + 1] - off);
  const double *restrict ap = cl->alias_p + off;
  const int *restrict ai = cl->alias_i + off, *restrict tok = cl->supp_tok + off;
  uint64_t s0 = rng->s[0], s1 = rng->s[1], s2 = rng->s[2], s3 = rng->s[3];
  for (int t = 0; t < cnt; t++) {
    const uint64_t r = ss_xoshiro_next(&s0, &s1, &s2, &s3);
    const int j = (int)(((r >> 32) * k) >> 32);
    const double coin = (double)(uint32_t)r * 0x1.0p-32;
    const int own = -(int)(coin < ap[j]); /* a mask, not a branch: the coin is random */
    x[t] = tok[(j & own) | (ai[j] & ~own)];
  }
  rng->s[0] = s0;
  rng->s[1] = s1;
  rng->s[2] = s2;
  rng->s[3] = s3;
}

/* The alias table of every class with the coin as an integer test: coin < p with coin =
 * u * 2^-32 (u the low 32 bits) is exactly u < p * 2^32 (a power-of-two scaling, exact), i.e.
 * u < thr = ceil(p * 2^32) (clamped to [0, 2^32]; a NaN p never passes, as before), and the
 * two candidate tokens side by side: one load less and no int -> double conversion per token. */
typedef struct {
  uint64_t thr;
  int tok[2]; /* [0] the alias, [1] the slot's own token: picked by the coin's test as an
               * index, never by a branch (a random coin mispredicts one token in four, and
               * the branch made the sampling about 3x slower) */
} alias_ent;
#define SS_ALIAS_STACK 512

static void sample_tokens_tab(const alias_ent *restrict tab, int k32, ss_rng *rng, int *restrict x, int cnt) {
  const uint64_t k = (uint64_t)(uint32_t)k32;
  uint64_t s0 = rng->s[0], s1 = rng->s[1], s2 = rng->s[2], s3 = rng->s[3];
  for (int t = 0; t < cnt; t++) {
    const uint64_t r = ss_xoshiro_next(&s0, &s1, &s2, &s3);
    const alias_ent *e = tab + (((r >> 32) * k) >> 32);
    x[t] = e->tok[(uint64_t)(uint32_t)r < e->thr];
  }
  rng->s[0] = s0;
  rng->s[1] = s1;
  rng->s[2] = s2;
  rng->s[3] = s3;
}

void ss_batch_sample(const ss_classes *cl, ss_rng *rng, ss_batch *b) {
  int T = b->T;
  const int ns = cl->supp_off[cl->N];
  alias_ent tab[SS_ALIAS_STACK];
  const int use_tab = ns <= SS_ALIAS_STACK;
  if (use_tab)
    for (int n = 0; n < cl->N; n++)
      for (int j = cl->supp_off[n]; j < cl->supp_off[n + 1]; j++) {
        const double P = cl->alias_p[j] * 0x1.0p32;
        tab[j].thr = P >= 0x1.0p32 ? (uint64_t)1 << 32 : P > 0 ? (uint64_t)ceil(P) : 0;
        tab[j].tok[1] = cl->supp_tok[j];
        tab[j].tok[0] = cl->supp_tok[cl->supp_off[n] + cl->alias_i[j]];
      }
  for (int i = 0; i < b->B; i++) {
    int n = (int)ss_rng_below(rng, (uint32_t)cl->N);
    int *x = b->x + (size_t)i * T;
    if (use_tab)
      sample_tokens_tab(tab + cl->supp_off[n], cl->supp_off[n + 1] - cl->supp_off[n], rng, x, T - 1);
    else
      sample_tokens(cl, n, rng, x, T - 1);
    x[T - 1] = cl->query[n];
    b->label[i] = cl->next[n];
    b->cls[i] = n;
  }
  b->classes = cl;
}

void ss_seqfile_free(ss_seqfile *s) {
  free(s->data);
  memset(s, 0, sizeof *s);
}

static int find_class(const ss_classes *cl, int q, int label) {
  for (int n = 0; n < cl->N; n++)
    if (cl->query[n] == q && cl->next[n] == label) return n;
  return -1;
}

void ss_seqfile_next(ss_seqfile *s, const ss_classes *cl, ss_batch *b) {
  int T = s->T;
  for (int i = 0; i < b->B; i++) {
    const int32_t *r = s->data + (size_t)s->pos * (T + 1);
    for (int t = 0; t < T; t++) b->x[(size_t)i * T + t] = r[t];
    b->label[i] = r[T];
    b->cls[i] = cl ? find_class(cl, r[T - 1], r[T]) : -1;
    s->pos = (s->pos + 1) % s->rows;
  }
  b->classes = cl;
}

/* .npy: magic, version, header dict with descr '<i4' or '<i8', fortran_order False, shape (r, c). */
static int load_npy(const char *path, const char *buf, size_t n, int M, ss_seqfile *s, ss_err *err) {
  if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return ss_seterr(err, SS_EINPUT, "sequence file '%s': not a .npy file", path);
  size_t hl, off;
  if (buf[6] == 1) {
    hl = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
    off = 10;
  } else {
    if (n < 12) return ss_seterr(err, SS_EINPUT, "sequence file '%s': truncated .npy header", path);
    hl = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8) | ((size_t)(unsigned char)buf[10] << 16) | ((size_t)(unsigned char)buf[11] << 24);
    off = 12;
  }
  if (hl > n - off) return ss_seterr(err, SS_EINPUT, "sequence file '%s': truncated .npy header", path);
  char *h = strndup(buf + off, hl);
  if (!h) return ss_seterr(err, SS_ERUN, "out of memory");
  int esize = strstr(h, "'<i4'") ? 4 : strstr(h, "'<i8'") ? 8 : 0;
  int fortran = strstr(h, "'fortran_order': True") != NULL;
  char *sh = strstr(h, "'shape': (");
  long r = -1, c = -1;
  if (sh) sscanf(sh, "'shape': (%ld, %ld)", &r, &c);
  free(h);
  if (!esize || fortran || r < 1 || c < 3)
    return ss_seterr(err, SS_EINPUT, "sequence file '%s': expected a C-order int32 or int64 .npy array of shape (rows, T+1) with T >= 2", path);
  /* bound the shape before multiplying: r*c*esize must not wrap around */
  size_t avail = n - off - hl;
  if (r > INT_MAX || c > INT_MAX || (size_t)r > SIZE_MAX / (size_t)c / (size_t)esize)
    return ss_seterr(err, SS_EINPUT, "sequence file '%s': shape (%ld, %ld) is too large", path, r, c);
  size_t need = (size_t)r * (size_t)c * (size_t)esize;
  if (need > avail) return ss_seterr(err, SS_EINPUT, "sequence file '%s': truncated: shape (%ld, %ld) needs %zu data bytes, file has %zu", path, r, c, need, n - off - hl);
  s->rows = (int)r;
  s->T = (int)c - 1;
  s->data = malloc(sizeof(int32_t) * (size_t)r * (size_t)c);
  if (!s->data) return ss_seterr(err, SS_EINPUT, "sequence file '%s' does not fit in memory", path);
  const unsigned char *d = (const unsigned char *)buf + off + hl;
  for (size_t i = 0; i < (size_t)r * (size_t)c; i++) {
    /* assemble unsigned (a shift into the sign bit of a signed type is undefined), then
     * reinterpret as two's complement */
    uint64_t u = 0;
    for (int k = 0; k < esize; k++) u |= (uint64_t)d[i * esize + k] << (8 * k);
    long long v = esize == 4 ? (long long)(int32_t)(uint32_t)u : (long long)(int64_t)u;
    if (v < 0 || v >= M) {
      int row = (int)(i / (size_t)c), col = (int)(i % (size_t)c);
      ss_seqfile_free(s);
      return ss_seterr(err, SS_EINPUT, "sequence file '%s' row %d column %d: token id %lld outside the vocabulary 0..%d", path, row + 1, col + 1, v, M - 1);
    }
    s->data[i] = (int32_t)v;
  }
  return SS_OK;
}

int ss_seqfile_load(const char *path, int M, ss_seqfile *s, ss_err *err) {
  memset(s, 0, sizeof *s);
  char *buf;
  size_t n;
  int rc = ss_read_file(path, &buf, &n, err);
  if (rc) {
    char m[sizeof err->msg]; /* err->msg cannot be both the output and an argument */
    snprintf(m, sizeof m, "%s", err->msg);
    return ss_seterr(err, SS_EINPUT, "key 'data.sequences': %s", m);
  }
  if (n >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0) {
    rc = load_npy(path, buf, n, M, s, err);
    free(buf);
    return rc;
  }
  size_t cap = 0;
  int line = 0, width = -1;
  char *p = buf;
  while (*p) {
    line++;
    char *eol = strchr(p, '\n');
    if (eol) *eol = 0;
    int cnt = 0;
    char *q = p;
    for (;;) {
      while (*q == ' ' || *q == '\t' || *q == '\r') q++;
      if (!*q || *q == '#') break;
      char *end;
      errno = 0;
      long long v = strtoll(q, &end, 10);
      if (end == q || errno || (*end && !isspace((unsigned char)*end))) {
        /* q points into buf: format the message before freeing it */
        char *w = q;
        while (*w && !isspace((unsigned char)*w)) w++;
        ss_seterr(err, SS_EINPUT, "sequence file '%s' line %d: '%.*s' is not an integer token id", path, line,
                  (int)(w - q < 20 ? w - q : 20), q);
        ss_seqfile_free(s);
        free(buf);
        return SS_EINPUT;
      }
      if (v < 0 || v >= M) {
        ss_seqfile_free(s);
        free(buf);
        return ss_seterr(err, SS_EINPUT, "sequence file '%s' line %d: token id %lld outside the vocabulary 0..%d", path, line, v, M - 1);
      }
      if ((size_t)s->rows * (size_t)(width > 0 ? width : 1) + (size_t)cnt + 1 > cap) {
        cap = cap ? cap * 2 : 4096;
        int32_t *nd = realloc(s->data, cap * sizeof(int32_t));
        if (!nd) {
          ss_seqfile_free(s);
          free(buf);
          return ss_seterr(err, SS_EINPUT, "sequence file '%s' does not fit in memory", path);
        }
        s->data = nd;
      }
      s->data[(size_t)s->rows * (size_t)(width > 0 ? width : 0) + (size_t)cnt] = (int32_t)v;
      cnt++;
      q = end;
    }
    if (cnt > 0) {
      if (width < 0) {
        if (cnt < 3) {
          ss_seqfile_free(s);
          free(buf);
          return ss_seterr(err, SS_EINPUT, "sequence file '%s' line %d: %d values; a row needs at least 2 tokens and a label", path, line, cnt);
        }
        width = cnt;
      } else if (cnt != width) {
        ss_seqfile_free(s);
        free(buf);
        return ss_seterr(err, SS_EINPUT, "sequence file '%s' line %d: %d values where earlier rows have %d (ragged rows)", path, line, cnt, width);
      }
      s->rows++;
    }
    if (!eol) break;
    p = eol + 1;
  }
  free(buf);
  if (s->rows == 0) {
    ss_seqfile_free(s);
    return ss_seterr(err, SS_EINPUT, "sequence file '%s' holds no sequences", path);
  }
  s->T = width - 1;
  return SS_OK;
}
