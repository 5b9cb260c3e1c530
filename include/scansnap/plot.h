/* Figures of any directory scansnap writes: the library reads the directory (validated like
 * user input: only regular files inside it, every field checked), then writes the data files
 * and gnuplot scripts into DIR/figures/ (a real folder; never through a link); the caller
 * (the CLI) runs `gnuplot NAME.gp`, which writes NAME.png (pngcairo if the gnuplot has it,
 * else png) and NAME.svg. Scripts hold numbers and escaped text only (ss_gp_text), so no text
 * from a directory, a config or the command line is ever run by gnuplot.
 *
 * A run directory (train or theory; Y/Z model or transformer on classes): loss_acc (loss and
 * accuracy), mass (mass of c_n on common vs distinct tokens), entropy (entropy and
 * distinct-token entropy), composition (the paper's Figure 4: c_n of class K over the save
 * steps; with a theory run, the theory's heatmap beside it) and composition_classes (every
 * class, when there are several). A theory run given as theory_dir (of the same
 * configuration) is drawn dashed over the curves.
 * A language-model run: loss_acc (training-batch loss, validation loss, accuracy),
 * attn_entropy (all layers and per layer), freq_mass (attention mass on the most frequent
 * tokens, with the uniform-attention baselines) and attention (Figure 7: the probe's
 * attention maps, one panel per saved step and head, its words on the axes; attention_lL
 * per layer L of a multi-layer file).
 * A sweep: the final metric against one swept key, one panel per value of another, one line
 * per combination of the rest, error bars = std over seeds (fig6 for the paper's Figure-6
 * grid, with the paper's points; else METRIC_vs_X), and the snap time t0 likewise when the
 * runs wrote snap.json.
 * verify's directory: the figures of its sgd/ run with its theory/ run over it (sgd_*) and of
 * its text/ run (text_*). */
#ifndef SCANSNAP_PLOT_H
#define SCANSNAP_PLOT_H
#include "scansnap/common.h"
#include "scansnap/config.h"

#define SS_PLOT_MAX 64

typedef struct {
  char name[96];   /* NAME: NAME.gp, NAME.png, NAME.svg in figdir ([A-Za-z0-9_.-]) */
  char title[320]; /* a caption for reports (plain text) */
  char group[64];  /* the part of the directory it shows ("" = the directory; "sgd", "text") */
} ss_plot_fig;

typedef struct {
  int n;
  int kind; /* SS_KIND_RUN / SWEEP / VERIFY (plot_int.h) */
  char figdir[SS_PATH_MAX];
  ss_plot_fig fig[SS_PLOT_MAX];
  int bad_option;            /* ss_plot_prepare failed on an option (theory=, class=, x=, ...),
                              * not on what the directory holds */
  int ncsv;                  /* CSV exports written (csv=true) */
  char csv[4][64];           /* their names in figdir */
} ss_plot_set;

typedef struct {
  const char *theory_dir; /* a theory run drawn over a run (may be NULL) */
  int cls;                /* class drawn large in the Figure-4 heatmap */
  const char *x, *by, *panel; /* sweep figure: swept keys for the x axis, the lines, the
                               * panels (NULL = default; "none" = no lines / no panels) */
  const char *metric;     /* sweep figure: a metric column (NULL = sweep.json's metric) */
  int log_colour;         /* heatmaps on a log colour scale */
  int csv;                /* also write figures/c_n.csv (step,class,token,c) and
                           * figures/attention.csv (step,layer,head,query,key,query_word,
                           * key_word,weight) */
} ss_plot_opts;

void ss_plot_opts_default(ss_plot_opts *o);
/* Reads and checks DIR, then writes DIR/figures/{*.dat, *.gp, *.csv}; fills set. Bad input
 * (SS_EINPUT, one line naming the file or key) leaves DIR/figures untouched. */
int ss_plot_prepare(const char *dir, const ss_plot_opts *o, ss_plot_set *set, ss_err *err);

#endif
