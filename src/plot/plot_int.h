/* Internal to src/plot (and used by src/report): a growable text buffer, the one escaper of
 * text for gnuplot scripts, RFC-4180 CSV fields, safe file names; what a directory holds,
 * read and validated like user input; the figure plan (every script and data file kept in
 * memory until the whole directory has been read and checked, so bad input leaves nothing
 * behind); and what each kind of directory contributes to it. */
#ifndef SS_PLOT_INT_H
#define SS_PLOT_INT_H
#include <stdarg.h>

#include "scansnap/config.h"
#include "scansnap/csv.h"
#include "scansnap/io.h"
#include "scansnap/plot.h"
#include "scansnap/sweep.h"

/* ---- text ---------------------------------------------------------------------------------- */

typedef struct {
  char *buf; /* NUL-terminated when n > 0 */
  size_t n, cap;
  int oom; /* an allocation failed: the text is incomplete */
} ss_sbuf;

void ss_sb_put(ss_sbuf *b, const char *s, size_t len);
void ss_sb_puts(ss_sbuf *b, const char *s);
void ss_sb_printf(ss_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ss_sb_free(ss_sbuf *b);

/* Text from a directory, a config or the command line in a gnuplot script: the inside of a
 * single-quoted string that gnuplot's enhanced text shows literally. A single-quoted gnuplot
 * string is inert (no backslash escapes, no backquote substitution, no @macros) and ends at
 * a single quote, so the text never holds one: ' becomes the enhanced-text octal escape
 * \047 (gnuplot's own '' escape is read only after another character, so '''x' and
 * 'a''''b' end early). The enhanced-text markup characters \ ^ _ @ ~ { } get a
 * backslash, & becomes U+FF06 (gnuplot 5.4's SVG terminal writes an escaped & raw, which
 * breaks the SVG), line breaks and other control characters become spaces, bytes that are
 * not UTF-8 become U+FFFD; at most maxchars characters, then an ellipsis (0 = no limit). */
void ss_gp_text(ss_sbuf *b, const char *s, int maxchars);
/* A line break inside a single-quoted gnuplot string (which has no escapes): closes it,
 * concatenates a double-quoted "\n" and opens the next. */
#define SS_GP_NL "' . \"\\n\" . '"
/* The same as a whole single-quoted string: 'text'. */
void ss_gp_str(ss_sbuf *b, const char *s, int maxchars);
/* A number for a data file or a script: %.10g when finite, NaN otherwise. */
void ss_gp_num(ss_sbuf *b, double v);
/* s with control characters (terminal escapes, line breaks) and invalid UTF-8 replaced, for
 * printing to a terminal; at most maxchars characters. malloc'd. */
char *ss_text_clean(const char *s, int maxchars);
/* Text from anywhere into HTML (element content or a quoted attribute): & < > " ' as
 * entities, control characters other than line breaks and tabs as spaces, invalid UTF-8 as
 * U+FFFD. The one HTML escaper of report.html. */
void ss_html_text(ss_sbuf *b, const char *s);
/* s reduced to a safe file-name part: [A-Za-z0-9_.-] kept (others '_'), no leading dot. */
void ss_fname_part(char *dst, size_t n, const char *s);
/* 1 if s is a name made of [A-Za-z0-9_.] (a metric column, a key), 1..63 characters. */
int ss_is_ident(const char *s);
/* strtod of the whole string: 1 and *v if s is a number, 0 otherwise. */
int ss_parse_num(const char *s, double *v);

/* ---- what a directory holds ---------------------------------------------------------------- */

enum { SS_KIND_NONE = 0, SS_KIND_RUN, SS_KIND_SWEEP, SS_KIND_VERIFY };

/* verify's runs, each a folder inside its directory with its own run.json: the paper's claims
 * (sgd/, with theory/ drawn over it, text/) and JoMA's (docs/joma.md); how reports title them. */
typedef struct {
  const char *name, *title;
} ss_verify_sub;
#define SS_VERIFY_NSUBS 8
extern const ss_verify_sub ss_verify_subs[SS_VERIFY_NSUBS];

/* Which kind dir is (run.json, sweep.json, or claims.json with verify's sub-runs); SS_EINPUT
 * naming what was expected when it is none of them or when those files are not regular. */
int ss_dir_kind(const char *dir, int *kind, ss_err *err);

/* metrics.csv as numbers: every cell parsed (anything that is not a number is NaN), column
 * names checked (ss_is_ident; others are kept as "" and never used). */
typedef struct {
  int ncols, nrows;
  char **names; /* [ncols] */
  double *v;    /* [nrows * ncols] */
} ss_numtab;
int ss_numtab_col(const ss_numtab *t, const char *name); /* -1 if absent */
double ss_numtab_at(const ss_numtab *t, int row, int col);
/* The first and last row where column col holds a number; 0 if it never does (the class
 * metrics of a language-model run). */
int ss_numtab_span(const ss_numtab *t, int col, int *first, int *last);
void ss_numtab_free(ss_numtab *t);

/* A run directory, read and checked. */
typedef struct {
  char dir[SS_PATH_MAX];
  char status[24];  /* run.json's status ("complete", "diverged", ...; "?" if not a word) */
  char command[16]; /* "train" or "theory" ("?" otherwise) */
  char model[16];   /* "yz", "transformer", "joma_linear", "joma_toy" */
  char error[240];  /* run.json's error, cleaned of control characters ("" if none) */
  char label[16];   /* how its curves are labelled: "SGD", "Adam", "AdamW", "theory" */
  int have_cfg;
  ss_config cfg;    /* config.yaml (defaults where absent) */
  char cfg_note[200]; /* why config.yaml was not read ("" when it was, or is absent) */
  ss_numtab m;      /* metrics.csv (no columns when the run wrote none: it failed first) */
  int lm;           /* a language-model run (metrics.csv has attn_entropy) */
  int joma;         /* one of JoMA's systems (run.json's model): SS_MODEL_JOMA_LINEAR / _TOY, else 0 */
  int nmu;          /* the toy's targets mu (joma.safetensors), 0 when absent */
  double mu[64];
  int has_dyn;      /* dynamics.safetensors holds c [S, N, M] with N >= 1 */
  ss_stfile dyn;    /* steps I64 [S], c F64 [S, N, M], prob F64 [N, M], query/next I32 [N] */
  int S, N, M;
} ss_rundir;
int ss_rundir_load(const char *dir, ss_rundir *r, ss_err *err);
void ss_rundir_free(ss_rundir *r);
/* Whether theory (a run's directory) is the same configuration as r on the keys that shape
 * the dynamics (data, model and optimizer keys; learning rates as resolved; the class table
 * itself): SS_EINPUT naming the first differences otherwise. */
int ss_rundir_same_dynamics(const ss_rundir *r, const ss_rundir *theory, ss_err *err);

/* sweep.json read, checked field by field (axes: 1..SS_SWEEP_MAX_AXES objects with a known
 * key, a label, 1.. values that are non-empty strings without control characters; a grid of
 * at most SS_SWEEP_MAX_POINTS points; counts within 0..points; metric a name; reference a
 * plain file name in dir) and loaded into s (ss_sweep_load_dir). */
typedef struct {
  long npoints, complete, failed; /* -1 where sweep.json has no such count */
  int theory;
} ss_sweep_info;
int ss_sweep_dir_load(const char *dir, ss_sweep *s, ss_sweep_info *info, ss_err *err);

/* A JSON object file inside dir (regular, not a link, at most 64 MiB); NULL and SS_EINPUT
 * naming the file otherwise. */
struct json_t;
struct json_t *ss_json_in(const char *dir, const char *rel, ss_err *err);
/* A CSV file inside dir (regular, not a link), read through the checked descriptor and
 * parsed from memory (ss_csv_parse). */
int ss_csv_read_in(const char *dir, const char *name, ss_csv *t, ss_err *err);

/* ---- the plan: files and figures, written only when all is read ---------------------------- */

typedef struct {
  ss_plot_set *set;
  const ss_plot_opts *o;
  int nfiles, capfiles;
  char **fname;
  ss_sbuf *fdata;
  char prefix[32]; /* file-name prefix of the current part ("sgd_" for verify's sub-runs) */
  char group[64];  /* report group of the figures being added */
} ss_plan;

/* Takes data (its buffer is moved into the plan). name gets the plan's prefix. */
int ss_plan_file(ss_plan *p, const char *name, ss_sbuf *data, ss_err *err);
/* A figure: NAME.body.gp (body, taken) and NAME.gp drawing it into NAME.png and NAME.svg;
 * caption is plain text for reports. name gets the plan's prefix. */
int ss_plan_figure(ss_plan *p, const char *name, const char *caption, int w, int h, ss_sbuf *body, ss_err *err);
/* The prefixed name into buf. */
void ss_plan_name(const ss_plan *p, const char *name, char *buf, size_t n);
/* A CSV export of the plan (csv=true), written with the CSV writer (csv.h) into memory:
 * open, write rows through c->w, close (which adds it to the plan and to set->csv). */
typedef struct {
  FILE *f;
  char *buf;
  size_t n;
  ss_csv_writer w;
} ss_plan_csv;
int ss_plan_csv_open(ss_plan_csv *c, ss_err *err);
int ss_plan_csv_close(ss_plan *p, ss_plan_csv *c, const char *name, ss_err *err);
/* Writes every file of the plan into figdir (created as a real folder, never a link). */
int ss_plan_commit(ss_plan *p, const char *dir, ss_err *err);
void ss_plan_free(ss_plan *p);

/* ---- figures ------------------------------------------------------------------------------- */

extern const char *const ss_plot_colors[8];

/* The curves (loss and accuracy, masses, entropies; for a language model also validation
 * loss, attention entropy per layer and attention mass on frequent tokens) and the c_n
 * heatmaps of a run; theory (may be NULL) is drawn dashed over it and beside its heatmap. */
int ss_plot_run(ss_plan *p, const ss_rundir *r, const ss_rundir *theory, ss_err *err);
/* Figure 7 from attention.safetensors (checks the file first; 0 figures when there is none). */
int ss_plot_attention(ss_plan *p, const ss_rundir *r, ss_err *err);
/* J3 of verify's directory (j3_reference.csv and the runs j3_l1/, j3_l2/): attention entropy
 * per layer over minibatches, ours against JoMA's WikiText-2 runs (mean over their seeds), with
 * the validation losses; 0 figures when those files are not there. */
int ss_plot_j3(ss_plan *p, const char *dir, ss_err *err);
/* The sweep figures (metric against the x key, panels and lines by the other keys). */
int ss_plot_sweep(ss_plan *p, const char *dir, ss_err *err);

#endif
