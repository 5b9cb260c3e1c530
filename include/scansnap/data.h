/* Synthetic sequence classes (SPEC §1): the class table, the paper's generator, batches
 * drawn from it, and batches read from a file.
 *
 * Class n has a query token query[n] = psi(n), a next token (label) next[n], and a
 * distribution P(l|n) over contextual tokens, stored densely as prob[n*M + l].
 * kind[n*M + l] says whether token l is common (P>0 in more than one class), distinct
 * (in exactly this class) or absent. */
#ifndef SCANSNAP_DATA_H
#define SCANSNAP_DATA_H
#include <stdint.h>

#include "scansnap/common.h"
#include "scansnap/config.h"

enum { SS_TOK_ABSENT = 0, SS_TOK_COMMON = 1, SS_TOK_DISTINCT = 2 };

typedef struct {
  int M; /* vocabulary size */
  int N; /* number of classes */
  int *query;         /* [N] */
  int *next;          /* [N] label token */
  double *prob;       /* [N*M] P(l|n), each row sums to 1 */
  unsigned char *kind;/* [N*M] SS_TOK_* */
  /* sampling tables: the support of each class with its cumulative distribution */
  int *supp_off;      /* [N+1] */
  int *supp_tok;      /* [supp_off[N]] */
  double *supp_cdf;   /* [supp_off[N]] */
  /* Walker/Vose alias tables over each support (O(1) sampling): slot j of class n keeps
   * its own token with probability alias_p[j], else takes token alias_i[j] (both indices
   * into the class's support). */
  double *alias_p;    /* [supp_off[N]] */
  int *alias_i;       /* [supp_off[N]] */
} ss_classes;

/* The paper's generator from the data.* knobs (token layout of SPEC §1). */
int ss_classes_generate(const ss_config *cfg, ss_classes *cl, ss_err *err);
/* A user's class table (JSON, the format classes.json is written in). */
int ss_classes_load_json(const char *path, ss_classes *cl, ss_err *err);
int ss_classes_write_json(const ss_classes *cl, const char *path, ss_err *err);
/* Generator or data.classes, whichever the configuration asks for. */
int ss_classes_from_config(const ss_config *cfg, ss_classes *cl, ss_err *err);
/* Recomputes kind[] and the sampling tables from query/next/prob; checks the table. */
int ss_classes_finish(ss_classes *cl, const char *what, ss_err *err);
void ss_classes_free(ss_classes *cl);

/* A batch: x[b*T + t] for t < T (x[b*T + T-1] is the query), label[b], cls[b] (class index,
 * -1 when read from a file and no class has that query/label pair). */
typedef struct {
  int B, T;
  int *x, *label, *cls;
  const ss_classes *classes; /* the table cls indexes (NULL when none): the model may use a
                              * class's support to lay out its work, never assume it */
  int *y; /* [B*T] per-position targets for the language-model task; NULL otherwise */
} ss_batch;

int ss_batch_alloc(ss_batch *b, int B, int T, ss_err *err);
void ss_batch_free(ss_batch *b);
/* Draws each sequence's class uniformly, T-1 contextual tokens iid from P(.|n), the query,
 * and the label; consumes the rng sequentially, so it does not depend on threads. */
void ss_batch_sample(const ss_classes *cl, ss_rng *rng, ss_batch *b);

/* Sequences read from a file (data.sequences): a text file with one sequence per line,
 * 'x_1 ... x_{T-1} x_T label', or a .npy int32/int64 array [rows, T+1] (same columns). */
typedef struct {
  int rows, T;
  int32_t *data; /* [rows*(T+1)] */
  long pos;      /* next row to consume */
} ss_seqfile;

int ss_seqfile_load(const char *path, int M, ss_seqfile *s, ss_err *err);
/* Fills the next B rows (wrapping around at the end of the file). */
void ss_seqfile_next(ss_seqfile *s, const ss_classes *cl, ss_batch *b);
void ss_seqfile_free(ss_seqfile *s);

#endif
