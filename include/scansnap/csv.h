/* CSV, one reader and one writer for every table scansnap reads or writes (RFC 4180).
 *
 * Writing: fields are separated by ',' and rows end with '\n'; a field that holds a comma, a
 * double quote, CR or LF is written in double quotes with its quotes doubled, every other field
 * as is (so tables of plain names and numbers look as they always did). Numbers are written
 * with 17 significant digits (they read back to the same double); NaN and infinities as nan,
 * inf, -inf (what Python's float() and pandas read).
 *
 *   ss_csv_writer w;
 *   ss_csv_writer_init(&w, f);
 *   ss_csv_field(&w, "dir"); ss_csv_field(&w, "loss"); ss_csv_endrow(&w);
 *   ss_csv_field(&w, "lr_z=0.5,seed=1"); ss_csv_num(&w, 0.25); ss_csv_endrow(&w);
 * writes
 *   dir,loss
 *   "lr_z=0.5,seed=1",0.25
 *
 * Reading: quoted fields (doubled quotes, commas, line breaks inside), LF or CRLF line ends, an
 * optional UTF-8 byte-order mark; blank lines are skipped. The first row is the header; every
 * row must have as many fields as the header (SS_EINPUT naming the file and line otherwise). */
#ifndef SCANSNAP_CSV_H
#define SCANSNAP_CSV_H
#include <stdio.h>

#include "scansnap/common.h"

typedef struct {
  FILE *f;
  int col; /* fields written in the current row */
} ss_csv_writer;

void ss_csv_writer_init(ss_csv_writer *w, FILE *f);
void ss_csv_field(ss_csv_writer *w, const char *s); /* text, quoted when it needs to be */
void ss_csv_num(ss_csv_writer *w, double v);        /* %.17g, nan, inf, -inf */
void ss_csv_int(ss_csv_writer *w, long long v);
void ss_csv_endrow(ss_csv_writer *w);

/* A table read whole: head[ncols], cells[nrows * ncols] (row-major), all NUL-terminated. */
typedef struct {
  int ncols, nrows;
  char **head;
  char **cells;
} ss_csv;
int ss_csv_read(const char *path, ss_csv *t, ss_err *err);
/* The same from memory (data[0..n)); name is what messages call it. */
int ss_csv_parse(const char *data, size_t n, const char *name, ss_csv *t, ss_err *err);
int ss_csv_col(const ss_csv *t, const char *name); /* -1 if absent */
const char *ss_csv_cell(const ss_csv *t, int row, int col);
void ss_csv_free(ss_csv *t);
/* Writes t (header and rows) to path atomically through the writer above. */
int ss_csv_write_file(const char *path, const ss_csv *t, ss_err *err);

#endif
