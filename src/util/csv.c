/* CSV reading and writing (RFC 4180); see include/scansnap/csv.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/csv.h"
#include "scansnap/io.h"

/* ---- writing --------------------------------------------------------------------------------- */

void ss_csv_writer_init(ss_csv_writer *w, FILE *f) {
  w->f = f;
  w->col = 0;
}

static void sep(ss_csv_writer *w) {
  if (w->col++) fputc(',', w->f);
}

void ss_csv_field(ss_csv_writer *w, const char *s) {
  sep(w);
  if (!s[strcspn(s, ",\"\r\n")]) {
    fputs(s, w->f);
    return;
  }
  fputc('"', w->f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', w->f);
    fputc(*p, w->f);
  }
  fputc('"', w->f);
}

void ss_csv_num(ss_csv_writer *w, double v) {
  sep(w);
  if (isfinite(v))
    fprintf(w->f, "%.17g", v);
  else
    fputs(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", w->f);
}

void ss_csv_int(ss_csv_writer *w, long long v) {
  sep(w);
  fprintf(w->f, "%lld", v);
}

void ss_csv_endrow(ss_csv_writer *w) {
  fputc('\n', w->f);
  w->col = 0;
}

/* ---- reading --------------------------------------------------------------------------------- */

void ss_csv_free(ss_csv *t) {
  if (t->head)
    for (int i = 0; i < t->ncols; i++) free(t->head[i]);
  if (t->cells)
    for (long i = 0; i < (long)t->nrows * t->ncols; i++) free(t->cells[i]);
  free(t->head);
  free(t->cells);
  memset(t, 0, sizeof *t);
}

/* A growing array of strings: the fields of the row being read, or a field's bytes. */
typedef struct {
  char **v;
  int n, cap;
} strvec;

typedef struct {
  char *b;
  size_t n, cap;
} bytes;

static int bytes_put(bytes *s, char c) {
  if (s->n + 1 >= s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    char *nb = realloc(s->b, cap);
    if (!nb) return 0;
    s->b = nb;
    s->cap = cap;
  }
  s->b[s->n++] = c;
  return 1;
}

static int row_push(strvec *r, bytes *f) {
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 16;
    char **nv = realloc(r->v, sizeof(char *) * (size_t)cap);
    if (!nv) return 0;
    r->v = nv;
    r->cap = cap;
  }
  char *s = malloc(f->n + 1);
  if (!s) return 0;
  if (f->n) memcpy(s, f->b, f->n);
  s[f->n] = 0;
  r->v[r->n++] = s;
  f->n = 0;
  return 1;
}

static void row_clear(strvec *r) {
  for (int i = 0; i < r->n; i++) free(r->v[i]);
  r->n = 0;
}

/* Takes the fields of row r into the table (the first row becomes the header). */
static int add_row(ss_csv *t, strvec *r, int *cap, const char *name, int line, ss_err *err) {
  if (!t->head) {
    t->head = malloc(sizeof(char *) * (size_t)r->n);
    if (!t->head) return ss_seterr(err, SS_ERUN, "out of memory");
    memcpy(t->head, r->v, sizeof(char *) * (size_t)r->n);
    t->ncols = r->n;
    r->n = 0;
    return SS_OK;
  }
  if (r->n != t->ncols)
    return ss_seterr(err, SS_EINPUT, "file '%s' line %d: %d field%s, the header has %d", name, line, r->n, r->n == 1 ? "" : "s",
                     t->ncols);
  if (t->nrows == *cap) {
    int nc = *cap ? *cap * 2 : 64;
    char **cells = realloc(t->cells, sizeof(char *) * (size_t)nc * (size_t)t->ncols);
    if (!cells) return ss_seterr(err, SS_ERUN, "out of memory");
    t->cells = cells;
    *cap = nc;
  }
  memcpy(t->cells + (size_t)t->nrows * t->ncols, r->v, sizeof(char *) * (size_t)r->n);
  t->nrows++;
  r->n = 0;
  return SS_OK;
}

int ss_csv_parse(const char *data, size_t n, const char *name, ss_csv *t, ss_err *err) {
  memset(t, 0, sizeof *t);
  strvec row = {0};
  bytes field = {0};
  int rc = SS_OK, cap = 0, line = 1, row_line = 1;
  size_t i = 0;
  if (n >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) i = 3; /* UTF-8 byte-order mark */
  /* One field per iteration of the outer loop; the byte after it decides what follows. */
  while (rc == SS_OK && i < n) {
    if (row.n == 0 && field.n == 0) {
      row_line = line;
      if (data[i] == '\n' || (data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')) { /* blank line */
        i += data[i] == '\r' ? 2 : 1;
        line++;
        continue;
      }
    }
    if (data[i] == '"') { /* quoted: up to the closing quote, "" is one quote */
      i++;
      for (;;) {
        if (i >= n) {
          rc = ss_seterr(err, SS_EINPUT, "file '%s' line %d: a quoted field is not closed", name, row_line);
          break;
        }
        if (data[i] == '"') {
          if (i + 1 < n && data[i + 1] == '"') {
            if (!bytes_put(&field, '"')) rc = ss_seterr(err, SS_ERUN, "out of memory");
            i += 2;
            if (rc) break;
            continue;
          }
          i++;
          break;
        }
        if (data[i] == '\n') line++;
        if (!bytes_put(&field, data[i++])) {
          rc = ss_seterr(err, SS_ERUN, "out of memory");
          break;
        }
      }
      if (rc) break;
      if (i < n && data[i] != ',' && data[i] != '\n' && !(data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')) {
        rc = ss_seterr(err, SS_EINPUT, "file '%s' line %d: unexpected character after a closing quote", name, line);
        break;
      }
    } else {
      while (i < n && data[i] != ',' && data[i] != '\n' && !(data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')) {
        if (data[i] == '"') {
          rc = ss_seterr(err, SS_EINPUT, "file '%s' line %d: a quote inside an unquoted field (quote the field and double the quote)", name, line);
          break;
        }
        if (!bytes_put(&field, data[i++])) {
          rc = ss_seterr(err, SS_ERUN, "out of memory");
          break;
        }
      }
      if (rc) break;
    }
    if (!row_push(&row, &field)) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    if (i < n && data[i] == ',') {
      i++;
      if (i == n && !row_push(&row, &field)) rc = ss_seterr(err, SS_ERUN, "out of memory"); /* "a,b," at the end */
      if (i < n) continue;
    } else if (i < n) { /* line end */
      i += data[i] == '\r' ? 2 : 1;
      line++;
    }
    if (rc == SS_OK) rc = add_row(t, &row, &cap, name, row_line, err);
  }
  if (rc == SS_OK && row.n) rc = add_row(t, &row, &cap, name, row_line, err);
  row_clear(&row);
  free(row.v);
  free(field.b);
  if (rc == SS_OK && !t->head) rc = ss_seterr(err, SS_EINPUT, "file '%s' is empty (expected a CSV header)", name);
  if (rc) ss_csv_free(t);
  return rc;
}

int ss_csv_read(const char *path, ss_csv *t, ss_err *err) {
  memset(t, 0, sizeof *t);
  char *data;
  size_t len;
  int rc = ss_read_file(path, &data, &len, err);
  if (rc) return rc;
  rc = ss_csv_parse(data, len, path, t, err);
  free(data);
  return rc;
}

int ss_csv_col(const ss_csv *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (!strcmp(t->head[i], name)) return i;
  return -1;
}

const char *ss_csv_cell(const ss_csv *t, int row, int col) { return t->cells[(size_t)row * t->ncols + col]; }

int ss_csv_write_file(const char *path, const ss_csv *t, ss_err *err) {
  ss_afile a;
  int rc = ss_afile_open(&a, path, err);
  if (rc) return rc;
  ss_csv_writer w;
  ss_csv_writer_init(&w, a.f);
  for (int r = -1; r < t->nrows; r++) {
    for (int c = 0; c < t->ncols; c++) ss_csv_field(&w, r < 0 ? t->head[c] : ss_csv_cell(t, r, c));
    ss_csv_endrow(&w);
  }
  return ss_afile_commit(&a, err);
}
