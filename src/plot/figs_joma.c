/* J3's figure in verify's directory (plot_int.h): the attention entropy of every layer of the
 * 1- and 2-layer runs (j3_l1/, j3_l2/) over minibatches, against JoMA's own runs on
 * WikiText-2 at the same learning rate (j3_reference.csv, verify's copy of
 * configs/reference/joma_wikitext2_lr1e-4.csv; mean over its seeds), and both validation
 * losses on the right axis. Top row: the range of our runs; bottom row: the paper's whole run
 * with ours in it. Everything from the files reaches the script as a number. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"
#include "scansnap/verify.h"

#define MAXC 256 /* checkpoints of a reference curve */

/* ours: step, then each layer's entropy (the run's mean for one layer); valid: step, loss */
static int ours_dat(ss_plan *p, const ss_rundir *r, int nl, const char *name, const char *vname, double *last, ss_err *err) {
  int col[2];
  for (int l = 0; l < nl; l++) {
    char c[32];
    snprintf(c, sizeof c, nl == 1 ? "attn_entropy" : "attn_entropy_l%d", l);
    col[l] = ss_numtab_col(&r->m, c);
  }
  const int cv = ss_numtab_col(&r->m, "valid_loss");
  ss_sbuf d = {0}, v = {0};
  ss_sb_puts(&d, "# step, attention entropy of each layer (nats)\n");
  ss_sb_puts(&v, "# step, validation loss (rows where it was measured)\n");
  *last = 0;
  for (int i = 0; i < r->m.nrows; i++) {
    const double st = ss_numtab_at(&r->m, i, 0);
    if (!isfinite(st)) continue;
    *last = fmax(*last, st);
    ss_gp_num(&d, st);
    for (int l = 0; l < nl; l++) {
      ss_sb_puts(&d, " ");
      ss_gp_num(&d, col[l] >= 0 ? ss_numtab_at(&r->m, i, col[l]) : NAN);
    }
    ss_sb_puts(&d, "\n");
    const double vl = cv >= 0 ? ss_numtab_at(&r->m, i, cv) : NAN;
    if (isfinite(vl)) {
      ss_gp_num(&v, st);
      ss_sb_puts(&v, " ");
      ss_gp_num(&v, vl);
      ss_sb_puts(&v, "\n");
    }
  }
  int rc = ss_plan_file(p, name, &d, err);
  if (rc == SS_OK) rc = ss_plan_file(p, vname, &v, err);
  else ss_sb_free(&v);
  return rc;
}

/* the paper's: checkpoint, each layer's mean entropy, the mean validation loss */
static int paper_dat(ss_plan *p, const ss_csv *ref, int nl, const char *name, double *last, ss_err *err) {
  double st[2][MAXC], e[2][MAXC], v[2][MAXC];
  int n = MAXC;
  for (int l = 0; l < nl; l++) {
    const int k = ss_joma_ref_curve(ref, nl, l, st[l], e[l], v[l], MAXC);
    n = k < n ? k : n;
  }
  ss_sbuf d = {0};
  ss_sb_printf(&d, "# JoMA (WikiText-2, %d layer(s), Adam lr 1e-4): checkpoint, mean entropy of each layer over seeds, mean validation loss\n", nl);
  *last = 0;
  for (int k = 0; k < n; k++) {
    ss_gp_num(&d, st[0][k]);
    for (int l = 0; l < nl; l++) {
      ss_sb_puts(&d, " ");
      ss_gp_num(&d, st[l][k] == st[0][k] ? e[l][k] : NAN);
    }
    ss_sb_puts(&d, " ");
    ss_gp_num(&d, v[0][k]);
    ss_sb_puts(&d, "\n");
    *last = fmax(*last, st[0][k]);
  }
  return ss_plan_file(p, name, &d, err);
}

int ss_plot_j3(ss_plan *p, const char *dir, ss_err *err) {
  if (ss_in_stat(dir, "j3_reference.csv") == SS_IN_ABSENT) return SS_OK;
  int have[2];
  for (int i = 0; i < 2; i++) {
    char rel[32];
    snprintf(rel, sizeof rel, "j3_l%d/run.json", i + 1);
    have[i] = ss_in_stat(dir, rel) == SS_IN_FILE;
  }
  if (!have[0] && !have[1]) return SS_OK;
  ss_csv ref;
  int rc = ss_csv_read_in(dir, "j3_reference.csv", &ref, err);
  if (rc) return rc;
  double ours_last[2] = {0, 0}, paper_last[2] = {0, 0};
  int ncols = 0;
  for (int i = 0; i < 2 && rc == SS_OK; i++) {
    if (!have[i]) continue;
    char sub[32], f1[64], f2[64], f3[64];
    snprintf(sub, sizeof sub, "j3_l%d", i + 1);
    snprintf(f1, sizeof f1, "j3_ours_l%d.dat", i + 1);
    snprintf(f2, sizeof f2, "j3_ours_valid_l%d.dat", i + 1);
    snprintf(f3, sizeof f3, "j3_paper_l%d.dat", i + 1);
    char *d = ss_path_join(dir, sub);
    ss_rundir r;
    rc = d ? ss_rundir_load(d, &r, err) : ss_seterr(err, SS_ERUN, "out of memory");
    free(d);
    if (rc) break;
    if (r.m.ncols == 0) {
      have[i] = 0;
      ss_rundir_free(&r);
      continue;
    }
    rc = ours_dat(p, &r, i + 1, f1, f2, &ours_last[i], err);
    ss_rundir_free(&r);
    if (rc == SS_OK) rc = paper_dat(p, &ref, i + 1, f3, &paper_last[i], err);
    ncols++;
  }
  ss_csv_free(&ref);
  if (rc || ncols == 0) return rc;
  ss_sbuf b = {0};
  const int w = 760 * ncols, h = 980;
  ss_sb_printf(&b, "reset\nset multiplot layout 2,%d title 'J3: attention entropy per layer over minibatches, these runs (solid) and JoMA on WikiText-2 (dashed, mean over seeds)" SS_GP_NL
                   "{/*0.8 top: the range of these runs; bottom: the whole of JoMA runs (20 epochs); grey: validation loss, right axis}' font 'Sans,14'\n",
               ncols);
  for (int row = 0; row < 2; row++)
    for (int i = 0; i < 2; i++) {
      if (!have[i]) continue;
      const int nl = i + 1;
      char f1[160], f2[160], f3[160], n1[64], n2[64], n3[64];
      snprintf(n1, sizeof n1, "j3_ours_l%d.dat", nl);
      snprintf(n2, sizeof n2, "j3_ours_valid_l%d.dat", nl);
      snprintf(n3, sizeof n3, "j3_paper_l%d.dat", nl);
      ss_plan_name(p, n1, f1, sizeof f1);
      ss_plan_name(p, n2, f2, sizeof f2);
      ss_plan_name(p, n3, f3, sizeof f3);
      const double xmax = row == 0 ? ours_last[i] : fmax(ours_last[i], paper_last[i]);
      ss_sb_printf(&b, "set title '%d-layer model%s' font 'Sans,13'\nset grid lc rgb '#dddddd'\n", nl, row ? ", the whole of the paper run" : "");
      ss_sb_printf(&b, "set xrange [0:%g]\nset xlabel 'minibatches (updates)'\nset ylabel 'attention entropy (nats)'\n", xmax > 0 ? xmax * 1.02 : 1);
      ss_sb_puts(&b, "set y2label 'validation loss (nats)'\nset ytics nomirror\nset y2tics\nset key top right box opaque font 'Sans,10'\n");
      ss_sb_puts(&b, "plot ");
      for (int l = 0; l < nl; l++) {
        const char *col = ss_plot_colors[l % 8];
        ss_sb_printf(&b, "%s'%s' u 1:%d w l lw 2 lc rgb '%s' t 'layer %d, this run', ", l ? ", " : "", f1, l + 2, col, l);
        ss_sb_printf(&b, "'%s' u 1:%d w lp lw 2 dt 2 pt 6 ps 0.8 lc rgb '%s' t 'layer %d, JoMA'", f3, l + 2, col, l);
      }
      ss_sb_printf(&b, ", '%s' u 1:2 axes x1y2 w lp lw 1.5 pt 7 ps 0.5 lc rgb '#777777' t 'validation loss, this run'", f2);
      ss_sb_printf(&b, ", '%s' u 1:%d axes x1y2 w lp lw 1.5 dt 2 pt 6 ps 0.5 lc rgb '#777777' t 'validation loss, JoMA'\n", f3, nl + 2);
    }
  ss_sb_puts(&b, "unset multiplot\n");
  return ss_plan_figure(p, "j3_attn_entropy", "J3: attention entropy of each layer over minibatches, these runs against JoMA's WikiText-2 runs (Adam lr 1e-4), with the validation losses",
                        w, h, &b, err);
}
