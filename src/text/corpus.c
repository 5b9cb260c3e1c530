/* Corpus of SPEC §5: where the splits are, the vocabulary of the training split, and the
 * token-id cache.
 *
 * Building streams the text twice through the tokenizer (1 MiB chunks): pass 1 counts the
 * words of the training split in a hash table, the vocabulary is cut from the counts, pass
 * 2 writes the ids of train, valid and test straight into the cache file. Nothing holds
 * the text or the ids in memory; the caller reaches the ids through mmap.
 *
 * Cache file (native little-endian, one file per data path):
 *   header  128 bytes: magic "SSTOKEN\0", version, header size, data signature (paths,
 *           byte ranges, sizes and mtimes of the sources + tokenizer version), vocabulary
 *           hash, min_freq, max_vocab, V, n_train, n_valid, n_test, offsets, file size,
 *           invalid UTF-8 count, FNV-1a-64 of the header
 *   ids     int32 [n_train + n_valid + n_test] at offset 128
 *   vocab   int64 counts[V], uint64 string offsets[V], the words NUL-terminated
 * Vocabulary: id 0 = <unk>, id 1 = <eos>, then the words with count >= min_freq by count
 * (descending), ties by bytes (ascending); at most max_vocab ids in all. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/cache_format.h"
#include "scansnap/io.h"
#include "scansnap/text.h"

#define CHUNK (1u << 20)
#define TOKENIZER_VERSION 1u /* bump when the tokenizer's rules change: old caches are rebuilt */
#define HDR_SIZE SS_CACHE_HDR_SIZE
typedef ss_cache_hdr cache_hdr;

static const char MAGIC[8] = "SSTOKEN";

/* ---- word table: open addressing over entries, words in one growing pool ---------------- */
typedef struct {
  uint64_t h;
  int64_t count;
  uint64_t off; /* into pool */
  uint32_t len;
  int32_t id;
} entry;

typedef struct {
  entry *e;
  size_t n, cap;
  int32_t *slot; /* -1 = empty */
  size_t nslot;  /* power of two, kept >= 2n */
  char *pool;
  size_t plen, pcap;
  int64_t unk, eos; /* counts of <unk> and <eos> */
} wtab;

static void wtab_free(wtab *w) {
  free(w->e);
  free(w->slot);
  free(w->pool);
  memset(w, 0, sizeof *w);
}

static int wtab_rehash(wtab *w, size_t nslot) {
  int32_t *s = malloc(sizeof(int32_t) * nslot);
  if (!s) return -1;
  memset(s, 0xFF, sizeof(int32_t) * nslot);
  for (size_t i = 0; i < w->n; i++) {
    size_t j = w->e[i].h & (nslot - 1);
    while (s[j] >= 0) j = (j + 1) & (nslot - 1);
    s[j] = (int32_t)i;
  }
  free(w->slot);
  w->slot = s;
  w->nslot = nslot;
  return 0;
}

/* Index of the word, adding it (count 0) when add is set; -1 when absent or out of memory. */
static long wtab_find(wtab *w, const char *s, size_t len, int add) {
  uint64_t h = ss_fnv1a64(s, len, SS_FNV_INIT);
  if (w->nslot) {
    size_t j = h & (w->nslot - 1);
    for (; w->slot[j] >= 0; j = (j + 1) & (w->nslot - 1)) {
      const entry *e = &w->e[w->slot[j]];
      if (e->h == h && e->len == len && !memcmp(w->pool + e->off, s, len)) return w->slot[j];
    }
  }
  if (!add) return -1;
  if (w->n >= INT32_MAX - 1) return -1;
  if (2 * (w->n + 1) > w->nslot && wtab_rehash(w, w->nslot ? 2 * w->nslot : 4096)) return -1;
  if (w->n == w->cap) {
    size_t nc = w->cap ? 2 * w->cap : 4096;
    entry *ne = realloc(w->e, sizeof(entry) * nc);
    if (!ne) return -1;
    w->e = ne;
    w->cap = nc;
  }
  if (w->plen + len + 1 > w->pcap) {
    size_t nc = w->pcap ? 2 * w->pcap : 65536;
    while (nc < w->plen + len + 1) nc *= 2;
    char *np = realloc(w->pool, nc);
    if (!np) return -1;
    w->pool = np;
    w->pcap = nc;
  }
  memcpy(w->pool + w->plen, s, len);
  w->pool[w->plen + len] = 0;
  w->e[w->n] = (entry){h, 0, w->plen, (uint32_t)len, -1};
  w->plen += len + 1;
  size_t j = h & (w->nslot - 1);
  while (w->slot[j] >= 0) j = (j + 1) & (w->nslot - 1);
  w->slot[j] = (int32_t)w->n;
  return (long)w->n++;
}

/* ---- sources ---------------------------------------------------------------------------- */
typedef struct {
  char path[SS_PATH_MAX];
  int64_t begin, end; /* byte range; end = -1: to the end of the file */
  int present;
  struct stat st;
} source;

/* The first byte after the next newline at or after pos (or the file size). */
static int64_t cut_after_newline(FILE *f, int64_t pos, int64_t size) {
  if (pos <= 0) return 0;
  if (fseeko(f, pos - 1, SEEK_SET)) return size;
  int ch;
  int64_t p = pos - 1;
  while ((ch = fgetc(f)) != EOF) {
    p++;
    if (ch == '\n') return p;
  }
  return size;
}

static int find_sources(const char *path, source src[3], ss_err *err) {
  struct stat st;
  memset(src, 0, sizeof(source) * 3);
  if (!path || !path[0]) return ss_seterr(err, SS_EINPUT, "key 'data.path': not set (a WikiText folder or a plain UTF-8 text file)");
  if (stat(path, &st))
    return ss_seterr(err, SS_EINPUT, "data.path '%s': %s%s", path, strerror(errno),
                     strstr(path, "brown") ? " (scripts/fetch-brown fetches the Brown corpus)" : "");
  if (S_ISDIR(st.st_mode)) {
    static const char *split[3] = {"train", "valid", "test"};
    static const char *pat[3] = {"wiki.%s.tokens", "wiki.%s.raw", "%s.txt"};
    for (int s = 0; s < 3; s++) {
      for (int p = 0; p < 3 && !src[s].present; p++) {
        char name[64];
        snprintf(name, sizeof name, pat[p], split[s]);
        int k = snprintf(src[s].path, sizeof src[s].path, "%s/%s", path, name);
        if (k < 0 || (size_t)k >= sizeof src[s].path) return ss_seterr(err, SS_EINPUT, "data.path '%s': path too long", path);
        if (!stat(src[s].path, &src[s].st)) src[s].present = 1;
      }
      src[s].begin = 0;
      src[s].end = -1;
      if (!src[s].present && s < 2)
        return ss_seterr(err, SS_EINPUT,
                         "data.path '%s': folder has no wiki.%s.tokens (WikiText layout: wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens)",
                         path, split[s]);
    }
    return SS_OK;
  }
  if (!S_ISREG(st.st_mode)) return ss_seterr(err, SS_EINPUT, "data.path '%s': not a regular file or folder", path);
  if (st.st_size == 0) return ss_seterr(err, SS_EINPUT, "text file '%s' is empty", path);
  FILE *f = fopen(path, "rb");
  if (!f) return ss_seterr(err, SS_EINPUT, "cannot read text file '%s': %s", path, strerror(errno));
  int64_t S = st.st_size;
  int64_t c1 = cut_after_newline(f, (int64_t)(S * SS_TEXT_TRAIN_FRAC), S);
  int64_t c2 = cut_after_newline(f, (int64_t)(S * (SS_TEXT_TRAIN_FRAC + SS_TEXT_VALID_FRAC)), S);
  fclose(f);
  if (c2 < c1) c2 = c1;
  int64_t cuts[4] = {0, c1, c2, S};
  for (int s = 0; s < 3; s++) {
    snprintf(src[s].path, sizeof src[s].path, "%s", path);
    src[s].begin = cuts[s];
    src[s].end = cuts[s + 1];
    src[s].present = 1;
    src[s].st = st;
  }
  return SS_OK;
}

static uint64_t data_signature(const source src[3]) {
  uint64_t h = SS_FNV_INIT;
  uint32_t tv = TOKENIZER_VERSION;
  h = ss_fnv1a64(&tv, sizeof tv, h);
  for (int s = 0; s < 3; s++) {
    int64_t v[6] = {src[s].present, src[s].begin, src[s].end, (int64_t)src[s].st.st_size, (int64_t)src[s].st.st_mtim.tv_sec,
                    (int64_t)src[s].st.st_mtim.tv_nsec};
    h = ss_fnv1a64(src[s].path, strlen(src[s].path), h);
    h = ss_fnv1a64(v, sizeof v, h);
  }
  return h;
}

/* Streams one source through a tokenizer. Binary (NUL byte) and mostly-invalid UTF-8 are
 * bad input; a read error names the file. */
static int tokenize_source(const source *s, ss_tok_emit emit, void *ctx, int64_t *invalid, int *ooms, ss_err *err) {
  if (!s->present) return SS_OK;
  FILE *f = fopen(s->path, "rb");
  if (!f) return ss_seterr(err, SS_EINPUT, "cannot read text file '%s': %s", s->path, strerror(errno));
  char *buf = malloc(CHUNK);
  if (!buf) {
    fclose(f);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  ss_tokenizer t;
  ss_tok_init(&t, emit, ctx);
  int rc = SS_OK;
  if (s->begin > 0 && fseeko(f, s->begin, SEEK_SET)) rc = ss_seterr(err, SS_EINPUT, "cannot read text file '%s': %s", s->path, strerror(errno));
  int64_t left = s->end < 0 ? INT64_MAX : s->end - s->begin;
  while (rc == SS_OK && left > 0) {
    size_t want = left < CHUNK ? (size_t)left : CHUNK;
    errno = 0;
    size_t got = fread(buf, 1, want, f);
    if (got == 0) {
      if (ferror(f)) rc = ss_seterr(err, SS_EINPUT, "cannot read text file '%s': %s", s->path, strerror(errno ? errno : EIO));
      break;
    }
    ss_tok_feed(&t, buf, got);
    left -= (int64_t)got;
    if (t.nul_at >= 0)
      rc = ss_seterr(err, SS_EINPUT, "text file '%s' looks binary (NUL byte at offset %lld); expected UTF-8 text", s->path,
                     (long long)(s->begin + t.nul_at));
    else if (t.bytes >= 4096 && t.invalid * 10 > t.bytes)
      rc = ss_seterr(err, SS_EINPUT, "text file '%s' is not UTF-8 text (%lld of the first %lld bytes are invalid)", s->path,
                     (long long)t.invalid, (long long)t.bytes);
    if (*ooms) rc = ss_seterr(err, SS_ERUN, "out of memory counting the words of '%s'", s->path);
  }
  if (rc == SS_OK) {
    ss_tok_finish(&t);
    /* short files: judge the whole file */
    if (t.bytes > 0 && t.invalid * 10 > t.bytes)
      rc = ss_seterr(err, SS_EINPUT, "text file '%s' is not UTF-8 text (%lld of %lld bytes are invalid)", s->path,
                     (long long)t.invalid, (long long)t.bytes);
  }
  if (rc == SS_OK && *ooms) rc = ss_seterr(err, SS_ERUN, "out of memory counting the words of '%s'", s->path);
  *invalid += t.invalid;
  free(buf);
  fclose(f);
  return rc;
}

/* pass 1: counts */
typedef struct {
  wtab *w;
  int oom;
} count_ctx;

static void count_emit(void *vctx, const char *tok, size_t len, int kind) {
  count_ctx *c = vctx;
  if (kind == SS_TOK_EOS) {
    c->w->eos++;
    return;
  }
  if (len == 5 && !memcmp(tok, "<unk>", 5)) {
    c->w->unk++;
    return;
  }
  long i = wtab_find(c->w, tok, len, 1);
  if (i < 0)
    c->oom = 1;
  else
    c->w->e[i].count++;
}

/* pass 2: ids into the cache file */
typedef struct {
  wtab *w;
  FILE *f;
  int32_t buf[16384];
  int nb, werr, oom;
  int64_t n;
} id_ctx;

static void id_flush(id_ctx *c) {
  if (c->nb && fwrite(c->buf, sizeof(int32_t), (size_t)c->nb, c->f) != (size_t)c->nb) c->werr = 1;
  c->nb = 0;
}

static void id_emit(void *vctx, const char *tok, size_t len, int kind) {
  id_ctx *c = vctx;
  int32_t id = SS_TEXT_UNK;
  if (kind == SS_TOK_EOS)
    id = SS_TEXT_EOS;
  else {
    long i = wtab_find(c->w, tok, len, 0);
    if (i >= 0 && c->w->e[i].id > 0) id = c->w->e[i].id;
  }
  c->buf[c->nb++] = id;
  c->n++;
  if (c->nb == (int)(sizeof c->buf / sizeof c->buf[0])) id_flush(c);
}

static const wtab *g_sort_w; /* qsort has no context argument in C11 */
static int by_count(const void *a, const void *b) {
  const entry *x = &g_sort_w->e[*(const int32_t *)a], *y = &g_sort_w->e[*(const int32_t *)b];
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  uint32_t m = x->len < y->len ? x->len : y->len;
  int c = memcmp(g_sort_w->pool + x->off, g_sort_w->pool + y->off, m);
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static int write_cache(const char *cpath, const source src[3], const ss_corpus_opts *o, uint64_t sig, ss_err *err) {
  wtab w;
  memset(&w, 0, sizeof w);
  int64_t invalid = 0;
  count_ctx cc = {&w, 0};
  int rc = tokenize_source(&src[0], count_emit, &cc, &invalid, &cc.oom, err);
  if (rc) goto out;
  if (w.n == 0 && w.unk == 0) {
    rc = ss_seterr(err, SS_EINPUT, "text file '%s' has no words in its training part (empty?)", src[0].path);
    goto out;
  }
  /* the vocabulary: sort the candidates, keep the head */
  int32_t *order = malloc(sizeof(int32_t) * (w.n ? w.n : 1));
  if (!order) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
    goto out;
  }
  size_t nc = 0;
  for (size_t i = 0; i < w.n; i++)
    if (w.e[i].count >= o->min_freq) order[nc++] = (int32_t)i;
  g_sort_w = &w;
  qsort(order, nc, sizeof(int32_t), by_count);
  size_t keep = nc;
  if (o->max_vocab > 0 && keep > (size_t)o->max_vocab - 2) keep = o->max_vocab > 2 ? (size_t)o->max_vocab - 2 : 0;
  int64_t unk = w.unk;
  for (size_t i = 0; i < w.n; i++) w.e[i].id = 0;
  for (size_t r = 0; r < keep; r++) w.e[order[r]].id = (int32_t)(r + 2);
  for (size_t i = 0; i < w.n; i++)
    if (w.e[i].id == 0) unk += w.e[i].count;
  int V = (int)keep + 2;

  ss_afile a;
  if ((rc = ss_afile_open(&a, cpath, err))) {
    free(order);
    goto out;
  }
  char zero[HDR_SIZE] = {0};
  fwrite(zero, 1, HDR_SIZE, a.f);
  cache_hdr h;
  memset(&h, 0, sizeof h);
  for (int s = 0; s < 3 && rc == SS_OK; s++) {
    id_ctx *ic = calloc(1, sizeof *ic);
    if (!ic) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    ic->w = &w;
    ic->f = a.f;
    int64_t inv = 0;
    rc = tokenize_source(&src[s], id_emit, ic, &inv, &ic->oom, err);
    if (s > 0) invalid += inv;
    id_flush(ic);
    if (rc == SS_OK && ic->werr) rc = ss_seterr(err, SS_ERUN, "cannot write token cache '%s': %s", cpath, strerror(errno));
    h.n[s] = ic->n;
    free(ic);
  }
  if (rc == SS_OK) {
    /* vocabulary section, 8-aligned */
    int64_t pos = HDR_SIZE + 4 * (h.n[0] + h.n[1] + h.n[2]);
    int64_t pad = (8 - pos % 8) % 8;
    fwrite(zero, 1, (size_t)pad, a.f);
    h.vocab_off = (uint64_t)(pos + pad);
    uint64_t vh = ss_fnv1a64(&V, sizeof V, SS_FNV_INIT);
    int64_t cnt[2] = {unk, w.eos};
    fwrite(cnt, sizeof(int64_t), 2, a.f);
    for (size_t r = 0; r < keep; r++) fwrite(&w.e[order[r]].count, sizeof(int64_t), 1, a.f);
    uint64_t off = 0;
    const char *special[2] = {"<unk>", "<eos>"};
    for (int i = 0; i < V; i++) {
      fwrite(&off, sizeof off, 1, a.f);
      off += (i < 2 ? strlen(special[i]) : w.e[order[i - 2]].len) + 1;
    }
    for (int i = 0; i < V; i++) {
      const char *s = i < 2 ? special[i] : w.pool + w.e[order[i - 2]].off;
      size_t len = strlen(s) + 1;
      fwrite(s, 1, len, a.f);
      vh = ss_fnv1a64(s, len, vh);
    }
    memcpy(h.magic, MAGIC, 8);
    h.version = SS_TEXT_CACHE_VERSION;
    h.header_size = HDR_SIZE;
    h.data_sig = sig;
    h.vocab_hash = vh;
    h.min_freq = o->min_freq;
    h.max_vocab = o->max_vocab;
    h.V = V;
    h.ids_off = HDR_SIZE;
    h.file_size = h.vocab_off + (uint64_t)V * 16 + off;
    h.invalid_utf8 = invalid;
    h.header_sum = ss_fnv1a64(&h, offsetof(cache_hdr, header_sum), SS_FNV_INIT);
    if (fflush(a.f) || fseeko(a.f, 0, SEEK_SET) || fwrite(&h, sizeof h, 1, a.f) != 1 || ferror(a.f))
      rc = ss_seterr(err, SS_ERUN, "cannot write token cache '%s': %s", cpath, strerror(errno));
  }
  free(order);
  if (rc == SS_OK)
    rc = ss_afile_commit(&a, err);
  else
    ss_afile_abort(&a);
out:
  wtab_free(&w);
  return rc;
}

/* Maps the cache; returns 1 when it is usable, 0 when it must be rebuilt (note says why),
 * -1 when it does not exist. */
static int map_cache(const char *cpath, const ss_corpus_opts *o, uint64_t sig, ss_corpus *c) {
  int fd = open(cpath, O_RDONLY);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) || st.st_size < HDR_SIZE) {
    close(fd);
    snprintf(c->note, sizeof c->note, "'%s' is not a scansnap token cache; rebuilt it", cpath);
    return 0;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    close(fd);
    snprintf(c->note, sizeof c->note, "token cache '%s' could not be mapped (%s); rebuilt it", cpath, strerror(errno));
    return 0;
  }
  const cache_hdr *h = map;
  const char *why = NULL;
  char buf[512];
  if (memcmp(h->magic, MAGIC, 8) || h->header_size != HDR_SIZE)
    why = "is not a scansnap token cache";
  else if (h->version != SS_TEXT_CACHE_VERSION) {
    snprintf(buf, sizeof buf, "has format version %u, this build writes version %u", h->version, SS_TEXT_CACHE_VERSION);
    why = buf;
  } else if (h->header_sum != ss_fnv1a64(h, offsetof(cache_hdr, header_sum), SS_FNV_INIT) || h->file_size != (uint64_t)st.st_size)
    why = "is damaged (header checksum or size)";
  else if (h->min_freq != o->min_freq || h->max_vocab != o->max_vocab) {
    snprintf(buf, sizeof buf, "was built for another vocabulary (data.min_freq=%d data.max_vocab=%d; now %d and %d)", h->min_freq,
             h->max_vocab, o->min_freq, o->max_vocab);
    why = buf;
  } else if (h->data_sig != sig)
    why = "was built from other data (the text files or the tokenizer changed)";
  int V = why ? 0 : h->V;
  const char **words = NULL;
  if (!why) {
    /* The header checksum does not cover the layout's consistency with the file, nor the
     * ids: check both (a crafted or damaged cache must be rebuilt, never read out of
     * bounds or give an id outside the vocabulary; found by fuzz/fuzz_textcache.c). */
    uint64_t nids = 0;
    int bad = V < 2 || h->ids_off != HDR_SIZE || h->vocab_off % 8 != 0;
    for (int s = 0; s < 3 && !bad; s++) {
      bad = h->n[s] < 0 || (uint64_t)h->n[s] > h->file_size / 4;
      nids += bad ? 0 : (uint64_t)h->n[s];
    }
    if (bad || h->vocab_off < HDR_SIZE + 4 * nids || h->vocab_off > h->file_size || (uint64_t)V > (h->file_size - h->vocab_off) / 16)
      why = "is damaged (layout)";
    /* The scan reads the file 64 KiB at a time (pread) rather than through the mapping,
     * so checking does not make the ids resident: memory stays bounded (docs/text.md). */
    enum { WIN = 1 << 14 }; /* 64 KiB */
    int32_t *win = why ? NULL : malloc(sizeof(int32_t) * WIN);
    if (!why && !win) why = "could not be checked (out of memory)";
    for (uint64_t i = 0; !why && i < nids;) {
      size_t k = nids - i < WIN ? (size_t)(nids - i) : WIN;
      if (pread(fd, win, k * 4, (off_t)(HDR_SIZE + 4 * i)) != (ssize_t)(k * 4)) {
        why = "could not be read";
        break;
      }
      for (size_t j = 0; j < k; j++)
        if (win[j] < 0 || win[j] >= V) {
          why = "is damaged (a token id outside the vocabulary)";
          break;
        }
      i += k;
    }
    free(win);
  }
  if (!why) {
    const char *base = (const char *)map;
    const uint64_t *off = (const uint64_t *)(base + h->vocab_off + 8 * (uint64_t)V);
    const char *str = base + h->vocab_off + 16 * (uint64_t)V;
    size_t slen = h->file_size - (h->vocab_off + 16 * (uint64_t)V);
    words = malloc(sizeof(char *) * (size_t)V);
    uint64_t vh = ss_fnv1a64(&V, sizeof V, SS_FNV_INIT);
    for (int i = 0; words && i < V && !why; i++) {
      if (off[i] >= slen || !memchr(str + off[i], 0, slen - off[i])) {
        why = "is damaged (vocabulary)";
        break;
      }
      words[i] = str + off[i];
      vh = ss_fnv1a64(words[i], strlen(words[i]) + 1, vh);
    }
    if (!words)
      why = "could not be loaded (out of memory)";
    else if (!why && vh != h->vocab_hash)
      why = "is damaged (vocabulary hash mismatch)";
  }
  close(fd);
  if (why) {
    free(words);
    snprintf(c->note, sizeof c->note, "token cache '%.300s' %.160s; rebuilt it", cpath, why);
    munmap(map, (size_t)st.st_size);
    return 0;
  }
  c->map = map;
  c->maplen = (size_t)st.st_size;
  c->V = V;
  c->words = words;
  c->counts = (const int64_t *)((const char *)map + h->vocab_off);
  const int32_t *ids = (const int32_t *)((const char *)map + h->ids_off);
  for (int s = 0; s < 3; s++) {
    c->n[s] = h->n[s];
    c->ids[s] = ids;
    ids += h->n[s];
  }
  c->vocab_hash = h->vocab_hash;
  c->invalid_utf8 = h->invalid_utf8;
  return 1;
}

static int cache_path_for(const ss_corpus_opts *o, const source src[3], int is_dir, char *out, size_t n) {
  int k;
  if (o->cache && o->cache[0]) {
    char real[PATH_MAX];
    const char *p = realpath(o->path, real) ? real : o->path;
    const char *base = strrchr(p, '/');
    base = base && base[1] ? base + 1 : p;
    k = snprintf(out, n, "%s/%s-%016llx.sstok", o->cache, base, (unsigned long long)ss_fnv1a64(p, strlen(p), SS_FNV_INIT));
  } else if (is_dir) {
    k = snprintf(out, n, "%s/scansnap-tokens.sstok", o->path);
  } else {
    k = snprintf(out, n, "%s.sstok", src[0].path);
  }
  return k < 0 || (size_t)k >= n ? -1 : 0;
}

int ss_corpus_open(const ss_corpus_opts *o, ss_corpus *c, ss_err *err) {
  memset(c, 0, sizeof *c);
  source src[3];
  int rc = find_sources(o->path, src, err);
  if (rc) return rc;
  if (o->max_vocab == 1 || o->max_vocab == 2)
    return ss_seterr(err, SS_EINPUT, "key 'data.max_vocab': %d leaves no room for words besides <unk> and <eos> (use 0 or >= 3)", o->max_vocab);
  if (o->min_freq < 1) return ss_seterr(err, SS_EINPUT, "key 'data.min_freq': %d must be >= 1", o->min_freq);
  struct stat st;
  int is_dir = !stat(o->path, &st) && S_ISDIR(st.st_mode);
  uint64_t sig = data_signature(src);
  if (o->cache && o->cache[0] && (rc = ss_mkdir_p(o->cache, err))) return ss_seterr(err, SS_EINPUT, "key 'data.cache': %s", err->msg);
  if (cache_path_for(o, src, is_dir, c->cache_path, sizeof c->cache_path))
    return ss_seterr(err, SS_EINPUT, "data.path '%.300s': the token cache path would be too long", o->path);
  int m = map_cache(c->cache_path, o, sig, c);
  if (m == 1) return SS_OK;
  char note[sizeof c->note];
  memcpy(note, c->note, sizeof note);
  if ((rc = write_cache(c->cache_path, src, o, sig, err))) {
    ss_corpus_close(c);
    return rc;
  }
  m = map_cache(c->cache_path, o, sig, c);
  if (m != 1) {
    rc = ss_seterr(err, SS_ERUN, "token cache '%s' was written but cannot be read back: %s", c->cache_path, c->note);
    ss_corpus_close(c);
    return rc;
  }
  memcpy(c->note, note, sizeof note);
  c->built = 1;
  return SS_OK;
}

int ss_corpus_open_config(const ss_config *cfg, ss_corpus *c, ss_err *err) {
  ss_corpus_opts o = {cfg->data.path, cfg->data.min_freq, cfg->data.max_vocab, cfg->data.cache};
  return ss_corpus_open(&o, c, err);
}

void ss_corpus_close(ss_corpus *c) {
  if (c->map) munmap(c->map, c->maplen);
  free((void *)c->words);
  memset(c, 0, sizeof *c);
}

int ss_corpus_id(const ss_corpus *c, const char *word) {
  for (int i = 0; i < c->V; i++)
    if (!strcmp(c->words[i], word)) return i;
  return SS_TEXT_UNK;
}

static const int64_t *g_sort_counts;
static int by_count_id(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  if (g_sort_counts[x] != g_sort_counts[y]) return g_sort_counts[x] > g_sort_counts[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

void ss_corpus_top_mask(const ss_corpus *c, int k, unsigned char *mask) {
  memset(mask, 0, (size_t)c->V);
  int *idx = malloc(sizeof(int) * (size_t)c->V);
  if (!idx) return;
  for (int i = 0; i < c->V; i++) idx[i] = i;
  g_sort_counts = c->counts;
  qsort(idx, (size_t)c->V, sizeof(int), by_count_id);
  for (int i = 0; i < k && i < c->V; i++) mask[idx[i]] = 1;
  free(idx);
}
