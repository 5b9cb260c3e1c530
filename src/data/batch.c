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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SS_SAMPLE_AVX512 1
/* The same stream, 16 tokens at a time with AVX-512 (classes of at most 32 support slots):
 * the generator's state steps stay scalar (a chain of xors, ~2 cycles a draw), their s1 go
 * to a buffer, and the rest is done on vectors: the output rotl(5 s1, 7) 9, the slot ((r >>
 * 32) k) >> 32 (exact: a 32 x 32 -> 64-bit product), and the alias table held in registers
 * (two 16-lane halves per column, picked by vpermi2d): own token, alias token, and the coin's
 * threshold as u <= thr - 1 (32 bits; a slot with thr = 0 never keeps its own token, so its
 * own token is stored as the alias and the test does not matter). The last cnt mod 16
 * tokens through sample_tokens_tab. test_generator checks the stream against ss_rng_u64. */
typedef struct {
  uint32_t own[32], alias[32], thr1[32];
} alias_vec;

__attribute__((target("avx512f"))) static void sample_tokens_avx512(const alias_vec *v, const alias_ent *tab, int k, ss_rng *rng,
                                                                    int *restrict x, int cnt) {
  const __m512i kv = _mm512_set1_epi64((long long)(uint32_t)k);
  const __m512i O0 = _mm512_loadu_si512(v->own), O1 = _mm512_loadu_si512(v->own + 16);
  const __m512i A0 = _mm512_loadu_si512(v->alias), A1 = _mm512_loadu_si512(v->alias + 16);
  const __m512i H0 = _mm512_loadu_si512(v->thr1), H1 = _mm512_loadu_si512(v->thr1 + 16);
  uint64_t s0 = rng->s[0], s1 = rng->s[1], s2 = rng->s[2], s3 = rng->s[3];
  /* two buffers of 16 states: the next block's are stepped while this block's, stored a
   * block earlier, are read as vectors (reading 8-byte stores just made as one 64-byte load
   * stalls on store forwarding) */
  uint64_t sb[2][16] __attribute__((aligned(64)));
#define SS_STEP16(buf)                                                                     \
  for (int q = 0; q < 16; q++) {                                                           \
    (buf)[q] = s1;                                                                         \
    ss_xoshiro_step(&s0, &s1, &s2, &s3);                                                   \
  }
  const int nblk = cnt / 16;
  if (nblk) SS_STEP16(sb[0]);
  for (int blk = 0; blk < nblk; blk++) {
    if (blk + 1 < nblk) SS_STEP16(sb[(blk + 1) & 1]);
    const uint64_t *cur = sb[blk & 1];
    __m512i r[2], j[2];
    for (int h = 0; h < 2; h++) {
      __m512i a = _mm512_load_si512(cur + 8 * h);
      a = _mm512_add_epi64(_mm512_slli_epi64(a, 2), a); /* 5 s1 */
      a = _mm512_rol_epi64(a, 7);
      r[h] = _mm512_add_epi64(_mm512_slli_epi64(a, 3), a); /* 9 (...) */
      j[h] = _mm512_srli_epi64(_mm512_mul_epu32(_mm512_srli_epi64(r[h], 32), kv), 32);
    }
    const __m512i j16 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(j[0])), _mm512_cvtepi64_epi32(j[1]), 1);
    const __m512i u16 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(r[0])), _mm512_cvtepi64_epi32(r[1]), 1);
    const __m512i own = _mm512_permutex2var_epi32(O0, j16, O1), alias = _mm512_permutex2var_epi32(A0, j16, A1);
    const __mmask16 keep = _mm512_cmple_epu32_mask(u16, _mm512_permutex2var_epi32(H0, j16, H1));
    _mm512_storeu_si512(x + 16 * blk, _mm512_mask_blend_epi32(keep, alias, own));
  }
#undef SS_STEP16
  const int t = 16 * nblk;
  rng->s[0] = s0;
  rng->s[1] = s1;
  rng->s[2] = s2;
  rng->s[3] = s3;
  if (t < cnt) sample_tokens_tab(tab, k, rng, x + t, cnt - t);
}
#else
#define SS_SAMPLE_AVX512 0
#endif

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
#if SS_SAMPLE_AVX512
  /* the classes' tables in vector form, when every class has at most 32 slots */
  enum { VEC_CLASSES = 64 };
  alias_vec vec[VEC_CLASSES];
  int use_vec = use_tab && cl->N <= VEC_CLASSES && T - 1 >= 16 && __builtin_cpu_supports("avx512f");
  for (int n = 0; use_vec && n < cl->N; n++) {
    const int off = cl->supp_off[n], k = cl->supp_off[n + 1] - off;
    if (k > 32) {
      use_vec = 0;
      break;
    }
    memset(&vec[n], 0, sizeof vec[n]);
    for (int j = 0; j < k; j++) {
      const alias_ent *e = &tab[off + j];
      vec[n].alias[j] = (uint32_t)e->tok[0];
      vec[n].own[j] = (uint32_t)(e->thr ? e->tok[1] : e->tok[0]);
      vec[n].thr1[j] = e->thr ? (uint32_t)(e->thr - 1) : 0;
    }
  }
#endif
  for (int i = 0; i < b->B; i++) {
    int n = (int)ss_rng_below(rng, (uint32_t)cl->N);
    int *x = b->x + (size_t)i * T;
#if SS_SAMPLE_AVX512
    if (use_vec)
      sample_tokens_avx512(&vec[n], tab + cl->supp_off[n], cl->supp_off[n + 1] - cl->supp_off[n], rng, x, T - 1);
    else
#endif
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
