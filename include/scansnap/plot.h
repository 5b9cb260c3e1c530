/* Figures: the library writes the data files and gnuplot scripts into DIR/figures/; the
 * caller (the CLI) runs `gnuplot NAME.gp` in that folder, which writes NAME.png (pngcairo if
 * the gnuplot has it, else png) and NAME.svg.
 *
 * For a run directory: loss_acc (loss and accuracy), composition (the paper's Figure 4:
 * c_n of one class over the save steps as a heatmap, common and distinct blocks marked),
 * mass (mass of c_n on common vs distinct tokens), entropy (entropy and distinct-token
 * entropy); a theory run given as theory_dir is drawn over the SGD curves.
 * For a sweep directory: fig6 (the paper's Figure 6: final metric against eta_Y/eta_Z, one
 * panel per num_last, one line per eta_Z, error bars = std over seeds, the reference's
 * points alongside) and t0 (snap time against eta_Y/eta_Z) when the runs wrote snap.json. */
#ifndef SCANSNAP_PLOT_H
#define SCANSNAP_PLOT_H
#include "scansnap/common.h"
#include "scansnap/config.h"

#define SS_PLOT_MAX 16

typedef struct {
  int n;
  int is_sweep;
  char figdir[SS_PATH_MAX];
  char name[SS_PLOT_MAX][64];   /* NAME: NAME.gp, NAME.png, NAME.svg in figdir */
  char title[SS_PLOT_MAX][320]; /* a caption for reports */
} ss_plot_set;

typedef struct {
  const char *theory_dir; /* may be NULL */
  int cls;                /* class drawn in the Figure-4 heatmap */
} ss_plot_opts;

/* Writes DIR/figures/{*.dat, *.gp}; fills set. */
int ss_plot_prepare(const char *dir, const ss_plot_opts *o, ss_plot_set *set, ss_err *err);

#endif
