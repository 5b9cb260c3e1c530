/* Figures as gnuplot scripts + data files (plot.h). Every figure is NAME.body.gp (the plot,
 * no terminal) loaded twice by NAME.gp: once into a PNG, once into an SVG, so both show
 * the same picture. Sizes and fonts are chosen to be readable at 100%. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/data.h"
#include "scansnap/io.h"
#include "scansnap/plot.h"
#include "scansnap/sweep.h"

static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
#define NCOLORS 8

/* ---- small helpers ----------------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (need < 0) return;
  if (b->n + (size_t)need + 1 > b->cap) {
    size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)need;
    char *nb = realloc(b->buf, nc);
    if (!nb) return;
    b->buf = nb;
    b->cap = nc;
  }
  va_start(ap, fmt);
  vsnprintf(b->buf + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  b->n += (size_t)need;
}

static int write_text(const char *dir, const char *name, const sbuf *b, ss_err *err) {
  char *p = ss_path_join(dir, name);
  int rc = ss_write_file_atomic(p, b->buf ? b->buf : "", b->n, err);
  free(p);
  return rc;
}

static int add_figure(ss_plot_set *set, const char *name, const char *title, int w, int h, sbuf *body, ss_err *err) {
  if (set->n >= SS_PLOT_MAX) return ss_seterr(err, SS_ERUN, "too many figures");
  char fn[96];
  snprintf(fn, sizeof fn, "%s.body.gp", name);
  int rc = write_text(set->figdir, fn, body, err);
  if (rc) return rc;
  sbuf g = {0};
  sb_printf(&g,
            "# %s -- run `gnuplot %s.gp` in this folder; writes %s.png and %s.svg\n"
            "set encoding utf8\n"
            "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) {\n"
            "  set terminal pngcairo size %d,%d enhanced font 'Sans,12' background rgb 'white'\n"
            "} else {\n"
            "  set terminal png size %d,%d enhanced font 'Sans,12' background rgb 'white'\n"
            "}\n"
            "set output '%s.png'\nload '%s.body.gp'\nunset output\n"
            "set terminal svg size %d,%d enhanced font 'Sans,12' background rgb 'white'\n"
            "set output '%s.svg'\nload '%s.body.gp'\nunset output\n",
            title, name, name, name, w, h, w, h, name, name, w, h, name, name);
  snprintf(fn, sizeof fn, "%s.gp", name);
  rc = write_text(set->figdir, fn, &g, err);
  free(g.buf);
  if (rc) return rc;
  snprintf(set->name[set->n], sizeof set->name[0], "%s", name);
  snprintf(set->title[set->n], sizeof set->title[0], "%s", title);
  set->n++;
  return SS_OK;
}

/* metrics.csv -> whitespace table: step loss acc entropy entropy_distinct common_mass
 * distinct_mass kendall_tau (columns 1..8 of the gnuplot scripts). */
static int metrics_dat(const char *rundir, const char *figdir, const char *name, ss_err *err) {
  char *p = ss_path_join(rundir, "metrics.csv");
  ss_csv t;
  int rc = ss_csv_read(p, &t, err);
  free(p);
  if (rc) return rc;
  static const char *cols[] = {"step", "loss", "acc", "entropy", "entropy_distinct", "common_mass", "distinct_mass", "kendall_tau"};
  int ci[8];
  for (int k = 0; k < 8; k++)
    if ((ci[k] = ss_csv_col(&t, cols[k])) < 0) {
      rc = ss_seterr(err, SS_EINPUT, "'%s/metrics.csv' has no column '%s'", rundir, cols[k]);
      ss_csv_free(&t);
      return rc;
    }
  sbuf b = {0};
  sb_printf(&b, "# step loss acc entropy entropy_distinct common_mass distinct_mass kendall_tau\n");
  for (int r = 0; r < t.nrows; r++) {
    for (int k = 0; k < 8; k++) sb_printf(&b, "%s%s", k ? " " : "", ss_csv_cell(&t, r, ci[k]));
    sb_printf(&b, "\n");
  }
  ss_csv_free(&t);
  rc = write_text(figdir, name, &b, err);
  free(b.buf);
  return rc;
}

/* ---- a run ----------------------------------------------------------------------------------- */

static int plot_curves(ss_plot_set *set, int theory, ss_err *err) {
  sbuf b = {0};
  sb_printf(&b, "reset\nset grid lc rgb '#dddddd'\nset key top center horizontal box opaque\n"
                "set title 'Loss and accuracy' font 'Sans,14'\nset xlabel 'SGD step (updates)'\n"
                "set ylabel 'loss (nats, log scale)'\nset logscale y\nset format y '10^{%%L}'\n"
                "set y2label 'accuracy (fraction of the batch)'\nset y2range [0:1.1]\nset ytics nomirror\nset y2tics 0.2\n"
                "plot 'run.dat' u 1:($2>0?$2:1/0) w l lw 2 lc rgb '%s' t 'loss (SGD)', "
                "'' u 1:3 axes x1y2 w l lw 2 lc rgb '%s' t 'accuracy (SGD)'",
            colors[0], colors[1]);
  if (theory)
    sb_printf(&b, ", 'theory.dat' u 1:($2>0?$2:1/0) w l lw 2 dt 2 lc rgb '%s' t 'loss (theory)', "
                  "'' u 1:3 axes x1y2 w l lw 2 dt 2 lc rgb '%s' t 'accuracy (theory)'",
              colors[0], colors[1]);
  sb_printf(&b, "\n");
  int rc = add_figure(set, "loss_acc", "Loss and accuracy over training", 900, 560, &b, err);
  b.n = 0;
  if (rc == SS_OK) {
    sb_printf(&b, "reset\nset grid lc rgb '#dddddd'\nset key center right box opaque\n"
                  "set title 'Where the attention goes: mass of c_n on common vs distinct tokens' font 'Sans,14'\n"
                  "set xlabel 'SGD step (updates)'\nset ylabel 'mass of c_n (average over classes)'\nset yrange [0:1]\n"
                  "plot 'run.dat' u 1:6 w l lw 2 lc rgb '%s' t 'common tokens (SGD)', '' u 1:7 w l lw 2 lc rgb '%s' t 'distinct tokens (SGD)'",
              colors[1], colors[0]);
    if (theory)
      sb_printf(&b, ", 'theory.dat' u 1:6 w l lw 2 dt 2 lc rgb '%s' t 'common tokens (theory)', '' u 1:7 w l lw 2 dt 2 lc rgb '%s' t 'distinct tokens (theory)'",
                colors[1], colors[0]);
    sb_printf(&b, "\n");
    rc = add_figure(set, "mass", "Mass of c_n on common vs distinct tokens", 900, 560, &b, err);
  }
  b.n = 0;
  if (rc == SS_OK) {
    sb_printf(&b, "reset\nset grid lc rgb '#dddddd'\nset key top right box opaque\n"
                  "set title 'Entropy of the attention composition c_n' font 'Sans,14'\n"
                  "set xlabel 'SGD step (updates)'\nset ylabel 'entropy (nats, average over classes)'\n"
                  "plot 'run.dat' u 1:4 w l lw 2 lc rgb '%s' t 'all tokens (SGD)', '' u 1:5 w l lw 2 lc rgb '%s' t 'distinct tokens only (SGD)'",
              colors[3], colors[2]);
    if (theory)
      sb_printf(&b, ", 'theory.dat' u 1:4 w l lw 2 dt 2 lc rgb '%s' t 'all tokens (theory)', '' u 1:5 w l lw 2 dt 2 lc rgb '%s' t 'distinct tokens only (theory)'",
                colors[3], colors[2]);
    sb_printf(&b, "\n");
    rc = add_figure(set, "entropy", "Entropy of c_n (all tokens and distinct tokens)", 900, 560, &b, err);
  }
  free(b.buf);
  return rc;
}

typedef struct {
  int tok;
  double p;
} tokp;

static int cmp_tokp(const void *a, const void *b) {
  const tokp *x = a, *y = b;
  if (x->p != y->p) return x->p < y->p ? -1 : 1;
  return x->tok - y->tok;
}

/* Figure 4: c_n[l] of one class over the save steps; x = the class's tokens (common block,
 * then distinct block by increasing P(l|n)), y = save step. */
static int plot_composition(ss_plot_set *set, const char *dir, int cls, ss_err *err) {
  char *p = ss_path_join(dir, "dynamics.safetensors");
  ss_stfile st;
  int rc = ss_safetensors_read(p, &st, err);
  free(p);
  if (rc) return rc;
  const ss_tensor *ts = ss_st_get(&st, "steps"), *tc = ss_st_get(&st, "c"), *tp = ss_st_get(&st, "prob");
  if (!ts || !tc || !tp || tc->ndim != 3 || tc->dtype != SS_F64 || tp->dtype != SS_F64 || ts->dtype != SS_I64) {
    ss_st_free(&st);
    return ss_seterr(err, SS_EINPUT, "'%s/dynamics.safetensors': expected tensors steps (I64), c (F64 [S,N,M]), prob (F64 [N,M])", dir);
  }
  int S = (int)tc->shape[0], N = (int)tc->shape[1], M = (int)tc->shape[2];
  if (cls < 0 || cls >= N) {
    ss_st_free(&st);
    return ss_seterr(err, SS_EINPUT, "key 'class': %d is not a class of this run (0..%d)", cls, N - 1);
  }
  const double *c = tc->data, *prob = tp->data;
  const int64_t *steps = ts->data;
  /* Token kinds from classes.json (the run's class table); derived from prob otherwise. */
  ss_classes cl;
  ss_err e2;
  char *cj = ss_path_join(dir, "classes.json");
  int have_cl = ss_classes_load_json(cj, &cl, &e2) == SS_OK && cl.M == M && cl.N == N;
  free(cj);
  tokp *common = malloc(sizeof(tokp) * (size_t)M), *distinct = malloc(sizeof(tokp) * (size_t)M);
  int nc = 0, nd = 0;
  for (int l = 0; l < M; l++) {
    double pl = prob[(size_t)cls * M + l];
    if (!(pl > 0)) continue;
    int kind;
    if (have_cl) {
      kind = cl.kind[(size_t)cls * M + l];
    } else {
      int users = 0;
      for (int n = 0; n < N; n++) users += prob[(size_t)n * M + l] > 0;
      kind = users > 1 ? SS_TOK_COMMON : SS_TOK_DISTINCT;
    }
    if (kind == SS_TOK_COMMON) common[nc++] = (tokp){l, pl};
    else distinct[nd++] = (tokp){l, pl};
  }
  qsort(common, (size_t)nc, sizeof(tokp), cmp_tokp);
  qsort(distinct, (size_t)nd, sizeof(tokp), cmp_tokp);
  int nt = nc + nd;
  int *order = malloc(sizeof(int) * (size_t)(nt ? nt : 1));
  for (int j = 0; j < nc; j++) order[j] = common[j].tok;
  for (int j = 0; j < nd; j++) order[nc + j] = distinct[j].tok;
  sbuf d = {0};
  sb_printf(&d, "# x = token position (common block, then distinct by P(l|n)), y = save row, c_n[l]\n");
  for (int s = 0; s < S; s++) {
    for (int j = 0; j < nt; j++) sb_printf(&d, "%d %d %.9g\n", j, s, c[((size_t)s * N + cls) * M + order[j]]);
    sb_printf(&d, "\n");
  }
  rc = write_text(set->figdir, "composition.dat", &d, err);
  free(d.buf);
  sbuf b = {0};
  if (rc == SS_OK) {
    int q = have_cl ? cl.query[cls] : -1, nx = have_cl ? cl.next[cls] : -1;
    sb_printf(&b, "reset\nset title \"Figure 4: c_n[l] of class %d (next token %d, query token %d) over training\" font 'Sans,14' offset 0,1.2\n", cls, nx, q);
    sb_printf(&b, "set xlabel 'contextual token l (id below; common block, then distinct tokens by increasing P(l|n))' offset 0,-0.5\n"
                  "set ylabel 'SGD step (updates)'\nset cblabel 'c_n[l] (share of attention)'\n"
                  "set palette defined (0 '#ffffff', 1 '#fde725', 2 '#35b779', 3 '#31688e', 4 '#440154')\n"
                  "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset tmargin 6\nset bmargin 5\n",
              nt - 0.5, S - 0.5);
    sb_printf(&b, "set xtics rotate by 90 right font 'Sans,9' (");
    for (int j = 0; j < nt; j++) sb_printf(&b, "%s\"%d\" %d", j ? ", " : "", order[j], j);
    sb_printf(&b, ")\nset ytics (");
    int every = S > 10 ? (S + 9) / 10 : 1;
    for (int s = 0, k = 0; s < S; s++)
      if (s % every == 0 || s == S - 1) sb_printf(&b, "%s\"%lld\" %d", k++ ? ", " : "", (long long)steps[s], s);
    sb_printf(&b, ")\n");
    if (nc > 0 && nd > 0) sb_printf(&b, "set arrow from %g, graph 0 to %g, graph 1 nohead lw 3 lc rgb '#d62728' front\n", nc - 0.5, nc - 0.5);
    if (nc > 0) sb_printf(&b, "set label 'common tokens (%d)' at %g, graph 1.03 center font 'Sans,12' tc rgb '#d62728'\n", nc, (nc - 1) / 2.0);
    if (nd > 0) sb_printf(&b, "set label 'distinct tokens (%d), P(l|n) increasing →' at %g, graph 1.03 center font 'Sans,12' tc rgb '#1f77b4'\n", nd, nc + (nd - 1) / 2.0);
    sb_printf(&b, "plot 'composition.dat' u 1:2:3 with image pixels notitle\n");
    rc = add_figure(set, "composition", "Figure 4: c_n of one class over the save steps (common and distinct blocks marked)", 1000, 640, &b, err);
  }
  free(b.buf);
  free(order);
  free(common);
  free(distinct);
  if (have_cl) ss_classes_free(&cl);
  ss_st_free(&st);
  return rc;
}

/* ---- a sweep ----------------------------------------------------------------------------------- */

static int pick_axis(const ss_sweep *s, const char *key, int not1, int not2) {
  int a = ss_sweep_axis_of(s, key);
  return (a >= 0 && a != not1 && a != not2 && strcmp(s->axes[a].key, "seed")) ? a : -1;
}

static int is_num_equal(const char *a, const char *b) {
  char *ea, *eb;
  double x = strtod(a, &ea), y = strtod(b, &eb);
  if (ea == a || eb == b || *ea || *eb) return !strcmp(a, b);
  return fabs(x - y) <= 1e-9 * (fabs(x) + fabs(y)) + 1e-12;
}

/* Reference column for an axis: the key, its label or its last dotted part. */
static int ref_col(const ss_csv *t, const ss_sweep_axis *a) {
  const char *dot = strrchr(a->key, '.');
  for (int c = 0; c < t->ncols; c++)
    if (!strcmp(t->head[c], a->key) || !strcmp(t->head[c], a->label) || (dot && !strcmp(t->head[c], dot + 1))) return c;
  return -1;
}

static const char *pretty_key(const char *key) {
  if (!strcmp(key, "opt.lr_y_multi_on_z")) return "η_Y/η_Z";
  if (!strcmp(key, "opt.lr_z")) return "η_Z";
  if (!strcmp(key, "opt.lr_y")) return "η_Y";
  if (!strcmp(key, "data.num_last")) return "num\\_last";
  return key;
}

static const char *metric_label(const char *m) {
  if (!strcmp(m, "entropy_distinct")) return "final distinct-token entropy of c_n (nats)";
  if (!strcmp(m, "entropy")) return "final entropy of c_n (nats)";
  if (!strcmp(m, "loss")) return "final loss (nats)";
  if (!strcmp(m, "acc")) return "final accuracy";
  return m;
}

/* One figure of a per-group quantity (mean column mcol, std column scol of aggregate.csv)
 * against the x axis, one panel per panel-axis value, one line per line-axis value. */
static int sweep_figure(ss_plot_set *set, const ss_sweep *s, const ss_csv *agg, const char *mcol, const char *scol,
                        const ss_csv *ref, const char *name, const char *title, const char *ylabel, ss_err *err) {
  int ax = ss_sweep_axis_of(s, "opt.lr_y_multi_on_z");
  if (ax < 0 || !strcmp(s->axes[ax].key, "seed"))
    for (int a = s->naxes - 1; a >= 0; a--)
      if (strcmp(s->axes[a].key, "seed")) {
        ax = a;
        break;
      }
  int al = pick_axis(s, "opt.lr_z", ax, -1);
  int ap = pick_axis(s, "data.num_last", ax, al);
  int cm = ss_csv_col(agg, mcol), cs = ss_csv_col(agg, scol);
  if (cm < 0 || cs < 0) return ss_seterr(err, SS_EINPUT, "aggregate.csv has no column '%s'", mcol);
  int npan = ap >= 0 ? s->axes[ap].n : 1, nlin = al >= 0 ? s->axes[al].n : 1;
  int numeric_x = 1;
  if (ax >= 0)
    for (int i = 0; i < s->axes[ax].n; i++) {
      char *e;
      double v = strtod(s->axes[ax].values[i], &e);
      if (*e || !(v > 0)) numeric_x = 0;
    }
  int cx = ax >= 0 ? ss_csv_col(agg, s->axes[ax].key) : -1, cl = al >= 0 ? ss_csv_col(agg, s->axes[al].key) : -1,
      cp = ap >= 0 ? ss_csv_col(agg, s->axes[ap].key) : -1;
  int rx = -1, rl = -1, rp = -1, rm = -1, rs = -1;
  if (ref) {
    rx = ax >= 0 ? ref_col(ref, &s->axes[ax]) : -1;
    rl = al >= 0 ? ref_col(ref, &s->axes[al]) : -1;
    rp = ap >= 0 ? ref_col(ref, &s->axes[ap]) : -1;
    for (int c = 0; c < ref->ncols; c++) {
      size_t L = strlen(ref->head[c]);
      if (L > 5 && !strcmp(ref->head[c] + L - 5, "_mean")) rm = c;
      if (L > 4 && !strcmp(ref->head[c] + L - 4, "_std")) rs = c;
    }
    if (rx < 0 || rm < 0 || rs < 0 || (al >= 0 && rl < 0) || (ap >= 0 && rp < 0)) ref = NULL;
  }
  sbuf b = {0};
  int rc = SS_OK;
  /* margins leave a strip at the bottom for one legend under all panels */
  int width = npan > 1 ? 420 * npan : 900;
  sb_printf(&b, "reset\nset multiplot layout 1,%d title \"%s\" font 'Sans,15' margins %.3f,0.98,0.22,0.82 spacing %.3f,0.1\n", npan,
            title, 100.0 / width, 60.0 / width);
  for (int pi = 0; pi < npan && rc == SS_OK; pi++) {
    sbuf d = {0}, r = {0};
    int npts = 0;
    const char *pv = ap >= 0 ? s->axes[ap].values[pi] : NULL;
    for (int li = 0; li < nlin; li++) {
      const char *lv = al >= 0 ? s->axes[al].values[li] : NULL;
      sb_printf(&d, "# %s\n", lv ? lv : "all");
      for (int row = 0; row < agg->nrows; row++) {
        if (pv && !is_num_equal(ss_csv_cell(agg, row, cp), pv)) continue;
        if (lv && !is_num_equal(ss_csv_cell(agg, row, cl), lv)) continue;
        const char *xv = cx >= 0 ? ss_csv_cell(agg, row, cx) : "0";
        double x = numeric_x ? strtod(xv, NULL) : 0;
        if (!numeric_x && ax >= 0)
          for (int k = 0; k < s->axes[ax].n; k++)
            if (!strcmp(s->axes[ax].values[k], xv)) x = k;
        const char *sd = ss_csv_cell(agg, row, cs), *mv = ss_csv_cell(agg, row, cm);
        if (!isfinite(strtod(mv, NULL))) continue; /* no complete run (or no t0) in this group */
        npts++;
        sb_printf(&d, "%.12g %s %s\n", x, mv, isfinite(strtod(sd, NULL)) ? sd : "0");
      }
      sb_printf(&d, "\n\n");
      if (ref) {
        sb_printf(&r, "# %s\n", lv ? lv : "all");
        for (int row = 0; row < ref->nrows; row++) {
          if (!ss_sweep_ref_row_fixed_ok(s, ref, row)) continue;
          if (pv && !is_num_equal(ss_csv_cell(ref, row, rp), pv)) continue;
          if (lv && !is_num_equal(ss_csv_cell(ref, row, rl), lv)) continue;
          double x = strtod(ss_csv_cell(ref, row, rx), NULL);
          /* drawn just beside our point (log x: a fixed ratio) */
          sb_printf(&r, "%.12g %s %s\n", numeric_x ? x * 1.08 : x + 0.1, ss_csv_cell(ref, row, rm), ss_csv_cell(ref, row, rs));
        }
        sb_printf(&r, "\n\n");
      }
    }
    char fn[128];
    snprintf(fn, sizeof fn, "%s_%d.dat", name, pi);
    rc = write_text(set->figdir, fn, &d, err);
    if (rc == SS_OK && ref) {
      snprintf(fn, sizeof fn, "%s_ref_%d.dat", name, pi);
      rc = write_text(set->figdir, fn, &r, err);
    }
    free(d.buf);
    free(r.buf);
    sb_printf(&b, "set grid lc rgb '#dddddd'\nunset label\n");
    /* gnuplot cannot autoscale a panel without points */
    if (npts == 0) sb_printf(&b, "set yrange [0:1]\nset label 'no data' at graph 0.5, graph 0.5 center\n");
    else sb_printf(&b, "set autoscale y\n");
    if (pv) sb_printf(&b, "set title '%s = %s' font 'Sans,13'\n", pretty_key(s->axes[ap].key), pv);
    else sb_printf(&b, "unset title\n");
    if (ax >= 0) sb_printf(&b, "set xlabel '%s'\n", pretty_key(s->axes[ax].key));
    sb_printf(&b, "set ylabel '%s'\n", pi == 0 ? ylabel : "");
    if (numeric_x && ax >= 0) {
      double lo = strtod(s->axes[ax].values[0], NULL), hi = lo;
      for (int k = 0; k < s->axes[ax].n; k++) {
        double v = strtod(s->axes[ax].values[k], NULL);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      sb_printf(&b, "set logscale x\nset xrange [%g:%g]\nset xtics (", lo / 1.3, hi * 1.4);
      for (int k = 0; k < s->axes[ax].n; k++) sb_printf(&b, "%s\"%s\" %s", k ? ", " : "", s->axes[ax].values[k], s->axes[ax].values[k]);
      sb_printf(&b, ")\n");
    } else if (ax >= 0) {
      sb_printf(&b, "unset logscale x\nset xrange [-0.5:%g]\nset xtics (", s->axes[ax].n - 0.5);
      for (int k = 0; k < s->axes[ax].n; k++) sb_printf(&b, "%s\"%s\" %d", k ? ", " : "", s->axes[ax].values[k], k);
      sb_printf(&b, ")\n");
    }
    if (pi == 0) sb_printf(&b, "set key horizontal maxcols 8 maxrows 1 at screen 0.5, screen 0.06 center center box font 'Sans,12'\n");
    else sb_printf(&b, "unset key\n");
    sb_printf(&b, "plot ");
    for (int li = 0; li < nlin; li++) {
      const char *col = colors[li % NCOLORS];
      char lt[128];
      if (al >= 0) snprintf(lt, sizeof lt, "%s = %s", pretty_key(s->axes[al].key), s->axes[al].values[li]);
      else snprintf(lt, sizeof lt, "sweep");
      sb_printf(&b, "%s'%s_%d.dat' index %d u 1:2:3 w yerrorlines lw 2 pt 7 ps 1.1 lc rgb '%s' t '%s'",
                li ? ", " : "", name, pi, li, col, lt);
      if (ref)
        sb_printf(&b, ", '%s_ref_%d.dat' index %d u 1:2:3 w yerrorbars lw 1.5 pt 6 ps 1.3 lc rgb '%s' notitle", name, pi, li, col);
    }
    sb_printf(&b, "\n");
  }
  sb_printf(&b, "unset multiplot\n");
  if (rc == SS_OK) rc = add_figure(set, name, title, width, 640, &b, err);
  free(b.buf);
  return rc;
}

static int plot_sweep(ss_plot_set *set, const char *dir, ss_err *err) {
  ss_sweep s;
  int rc = ss_sweep_load_dir(&s, dir, err);
  if (rc) return rc;
  char *p = ss_path_join(dir, "aggregate.csv");
  ss_csv agg, ref;
  rc = ss_csv_read(p, &agg, err);
  free(p);
  if (rc) {
    ss_sweep_free(&s);
    return rc;
  }
  int have_ref = 0;
  if (s.reference[0] && ss_csv_read(s.reference, &ref, err) == SS_OK) have_ref = 1;
  char mcol[96], scol[96], title[256];
  snprintf(mcol, sizeof mcol, "%s_mean", s.metric);
  snprintf(scol, sizeof scol, "%s_std", s.metric);
  snprintf(title, sizeof title, "Figure 6: %s at the end vs η_Y/η_Z%s", !strcmp(s.metric, "entropy_distinct") ? "distinct-token entropy of c_n" : s.metric,
           have_ref ? "\\n{/*0.8 filled: this sweep, open: the paper (Tian et al. 2023); error bars: std over seeds}" : "\\n{/*0.8 error bars: std over seeds}");
  rc = sweep_figure(set, &s, &agg, mcol, scol, have_ref ? &ref : NULL, "fig6", title, metric_label(s.metric), err);
  if (rc == SS_OK) /* the caption for reports, without gnuplot's markup */
    snprintf(set->title[set->n - 1], sizeof set->title[0], "Figure 6: final %s vs eta_Y/eta_Z, one panel per num_last, one line per eta_Z; error bars = std over seeds%s",
             s.metric, have_ref ? "; open circles = the paper's published means" : "");
  int ct = ss_csv_col(&agg, "t0_mean"), any_t0 = 0;
  for (int r = 0; ct >= 0 && r < agg.nrows; r++) any_t0 |= isfinite(strtod(ss_csv_cell(&agg, r, ct), NULL));
  if (rc == SS_OK && any_t0)
    rc = sweep_figure(set, &s, &agg, "t0_mean", "t0_std", NULL, "t0", "Snap time t_0 vs η_Y/η_Z\\n{/*0.8 error bars: std over seeds}",
                      "snap time t_0 (SGD steps)", err);
  if (rc == SS_OK && set->n > 1)
    snprintf(set->title[set->n - 1], sizeof set->title[0], "Snap time t0 (snap.json) vs eta_Y/eta_Z, one panel per num_last, one line per eta_Z; error bars = std over seeds");
  if (have_ref) ss_csv_free(&ref);
  ss_csv_free(&agg);
  ss_sweep_free(&s);
  return rc;
}

int ss_plot_prepare(const char *dir, const ss_plot_opts *o, ss_plot_set *set, ss_err *err) {
  memset(set, 0, sizeof *set);
  char *fd = ss_path_join(dir, "figures");
  snprintf(set->figdir, sizeof set->figdir, "%s", fd);
  free(fd);
  char *sj = ss_path_join(dir, "sweep.json"), *rj = ss_path_join(dir, "run.json");
  int is_sweep = ss_file_exists(sj), is_run = ss_file_exists(rj);
  free(sj);
  free(rj);
  if (!is_sweep && !is_run) return ss_seterr(err, SS_EINPUT, "'%s' is neither a run directory (run.json) nor a sweep directory (sweep.json)", dir);
  int rc = ss_mkdir_p(set->figdir, err);
  if (rc) return rc;
  set->is_sweep = is_sweep;
  if (is_sweep) return plot_sweep(set, dir, err);
  if ((rc = metrics_dat(dir, set->figdir, "run.dat", err))) return rc;
  int theory = o && o->theory_dir && o->theory_dir[0];
  if (theory && (rc = metrics_dat(o->theory_dir, set->figdir, "theory.dat", err)))
    return ss_seterr(err, SS_EINPUT, "key 'theory': %s", err->msg);
  if ((rc = plot_curves(set, theory, err))) return rc;
  return plot_composition(set, dir, o ? o->cls : 0, err);
}
