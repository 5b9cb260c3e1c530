/* The figures of a sweep (plot.h): a metric against one swept key (x), one panel per value
 * of another (panel), one line per combination of the rest (by first), error bars = sample
 * std over seeds from aggregate.csv (or, with x = seed, each run from sweep.csv). Defaults
 * follow what was swept: the paper's Figure-6 layout when eta_Y/eta_Z is swept (x = it, lines
 * = eta_Z, panels = num_last), else x = the first swept non-seed key with numeric values,
 * lines = the next, panels = the next. Values from the files reach the scripts as numbers
 * or escaped text; columns are read by name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"

#define MAX_LINES 64

typedef struct {
  const ss_sweep *s;
  int x, by, panel;               /* axes (-1 = none) */
  int others[SS_SWEEP_MAX_AXES];  /* further non-seed axes: part of a line's identity */
  int nothers;
  int per_run;                    /* x = seed: points are runs (sweep.csv), no error bars */
  int fig6;                       /* the Figure-6 layout */
  int seeds;                      /* more than one seed per point (error bars mean something) */
  int numeric_x, log_x;
  double *xv;                     /* [n of x] numeric x values */
} layout;

static int is_seed(const ss_sweep *s, int a) { return a >= 0 && !strcmp(s->axes[a].key, "seed"); }

/* An axis by canonical key, alias or label; -1 if none. */
static int axis_named(const ss_sweep *s, const char *name) {
  if (ss_config_find(name)) {
    int a = ss_sweep_axis_of(s, name);
    if (a >= 0) return a;
  }
  for (int a = 0; a < s->naxes; a++)
    if (!strcmp(s->axes[a].label, name)) return a;
  return -1;
}

static int all_numeric(const ss_sweep_axis *a) {
  for (int i = 0; i < a->n; i++) {
    double v;
    if (!ss_parse_num(a->values[i], &v) || !isfinite(v)) return 0;
  }
  return 1;
}

static void swept_list(const ss_sweep *s, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (int a = 0; a < s->naxes && k < n; a++) k += (size_t)snprintf(buf + k, n - k, "%s%s", a ? ", " : "", s->axes[a].key);
}

/* key=VALUE from the command line: a swept key, "none" where allowed. */
static int pick(const ss_sweep *s, const char *opt, const char *val, int allow_none, int *out, const char *dir, ss_err *err) {
  if (!val) return SS_OK;
  if (allow_none && !strcmp(val, "none")) {
    *out = -1;
    return SS_OK;
  }
  int a = axis_named(s, val);
  if (a < 0) {
    char sw[400];
    swept_list(s, sw, sizeof sw);
    char *v = ss_text_clean(val, 60);
    int rc = ss_seterr(err, SS_EINPUT, "key '%s': '%s' is not a swept key of '%s' (swept: %s%s)", opt, v ? v : "?", dir, sw, allow_none ? "; or none" : "");
    free(v);
    return rc;
  }
  *out = a;
  return SS_OK;
}

static int make_layout(layout *L, const ss_sweep *s, const ss_plot_opts *o, const char *dir, ss_err *err) {
  memset(L, 0, sizeof *L);
  L->s = s;
  L->x = L->by = L->panel = -2; /* -2: not chosen yet */
  int rc = pick(s, "x", o->x, 0, &L->x, dir, err);
  if (!rc) rc = pick(s, "by", o->by, 1, &L->by, dir, err);
  if (!rc) rc = pick(s, "panel", o->panel, 1, &L->panel, dir, err);
  if (rc) return rc;
  int used[SS_SWEEP_MAX_AXES] = {0};
  if (L->x >= 0) used[L->x]++;
  if (L->by >= 0) used[L->by]++;
  if (L->panel >= 0) used[L->panel]++;
  for (int a = 0; a < s->naxes; a++)
    if (used[a] > 1) return ss_seterr(err, SS_EINPUT, "keys 'x', 'by', 'panel': '%s' is given for two of them", s->axes[a].key);
  int ratio = axis_named(s, "opt.lr_y_multi_on_z");
  if (L->x == -2 && ratio >= 0 && !used[ratio]) { /* the paper's Figure 6 */
    L->x = ratio;
    used[ratio] = 1;
    int z = axis_named(s, "opt.lr_z"), nl = axis_named(s, "data.num_last");
    if (L->by == -2 && z >= 0 && !used[z]) used[L->by = z] = 1;
    if (L->panel == -2 && nl >= 0 && !used[nl]) used[L->panel = nl] = 1;
  }
  if (L->x == -2) {
    for (int a = 0; a < s->naxes && L->x == -2; a++)
      if (!used[a] && !is_seed(s, a) && all_numeric(&s->axes[a])) L->x = a;
    for (int a = 0; a < s->naxes && L->x == -2; a++)
      if (!used[a] && !is_seed(s, a)) L->x = a;
    for (int a = 0; a < s->naxes && L->x == -2; a++)
      if (!used[a]) L->x = a; /* only seeds were swept */
    if (L->x == -2) return ss_seterr(err, SS_EINPUT, "'%s/sweep.json' has no swept key to draw against", dir);
    used[L->x] = 1;
  }
  for (int a = 0; a < s->naxes && L->by == -2; a++)
    if (!used[a] && !is_seed(s, a)) used[L->by = a] = 1;
  for (int a = 0; a < s->naxes && L->panel == -2; a++)
    if (!used[a] && !is_seed(s, a)) used[L->panel = a] = 1;
  if (L->by == -2) L->by = -1;
  if (L->panel == -2) L->panel = -1;
  if (is_seed(s, L->by) || is_seed(s, L->panel)) return ss_seterr(err, SS_EINPUT, "keys 'by', 'panel': seeds are averaged over (x=seed draws each run)");
  for (int a = 0; a < s->naxes; a++)
    if (!used[a] && !is_seed(s, a)) L->others[L->nothers++] = a;
  L->per_run = is_seed(s, L->x);
  for (int a = 0; a < s->naxes; a++) L->seeds |= is_seed(s, a) && s->axes[a].n > 1;
  const char *xk = s->axes[L->x].key;
  L->fig6 = !strcmp(xk, "opt.lr_y_multi_on_z") && (L->by < 0 || !strcmp(s->axes[L->by].key, "opt.lr_z")) &&
            (L->panel < 0 || !strcmp(s->axes[L->panel].key, "data.num_last")) && L->nothers == 0;
  const ss_sweep_axis *X = &s->axes[L->x];
  L->numeric_x = all_numeric(X);
  L->xv = malloc(sizeof(double) * (size_t)X->n);
  if (!L->xv) return ss_seterr(err, SS_ERUN, "out of memory");
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < X->n; i++) {
    double v = i;
    if (L->numeric_x) ss_parse_num(X->values[i], &v);
    L->xv[i] = v;
    lo = fmin(lo, v);
    hi = fmax(hi, v);
  }
  L->log_x = L->numeric_x && lo > 0 && hi / lo >= 10;
  int nlines = 1;
  if (L->by >= 0) nlines *= s->axes[L->by].n;
  for (int k = 0; k < L->nothers && nlines <= MAX_LINES; k++) nlines *= s->axes[L->others[k]].n;
  if (nlines > MAX_LINES || (L->panel >= 0 && s->axes[L->panel].n > 16))
    return ss_seterr(err, SS_EINPUT, "the figure would have %s: choose keys with x=, by=, panel= (swept: %d keys)",
                     nlines > MAX_LINES ? "more than 64 lines" : "more than 16 panels", s->naxes);
  return SS_OK;
}

static int nlines_of(const layout *L) {
  int n = L->by >= 0 ? L->s->axes[L->by].n : 1;
  for (int k = 0; k < L->nothers; k++) n *= L->s->axes[L->others[k]].n;
  return n;
}

/* The index of a table cell's value on an axis (the same text, or the same number). */
static int value_index(const ss_sweep_axis *a, const char *cell) {
  for (int i = 0; i < a->n; i++)
    if (!strcmp(a->values[i], cell)) return i;
  double x, y;
  if (!ss_parse_num(cell, &x)) return -1;
  for (int i = 0; i < a->n; i++)
    if (ss_parse_num(a->values[i], &y) && fabs(x - y) <= 1e-9 * (fabs(x) + fabs(y)) + 1e-12) return i;
  return -1;
}

/* The key columns of a table for the axes the figure uses; -1 when absent. */
typedef struct {
  int col[SS_SWEEP_MAX_AXES];
} keycols;

static void find_keycols(const ss_csv *t, const ss_sweep *s, keycols *k) {
  for (int a = 0; a < s->naxes; a++) k->col[a] = ss_csv_col(t, s->axes[a].key);
}

/* Line index (by, then the others, mixed radix) and panel/x indices of a row; 0 if it does
 * not fit the grid. */
static int row_place(const layout *L, const ss_csv *t, const keycols *k, int row, int *xi, int *li, int *pi) {
  const ss_sweep *s = L->s;
  int ax[2 + SS_SWEEP_MAX_AXES], n = 0;
  if (L->by >= 0) ax[n++] = L->by;
  for (int j = 0; j < L->nothers; j++) ax[n++] = L->others[j];
  *li = 0;
  for (int j = 0; j < n; j++) {
    if (k->col[ax[j]] < 0) return 0;
    int v = value_index(&s->axes[ax[j]], ss_csv_cell(t, row, k->col[ax[j]]));
    if (v < 0) return 0;
    *li = *li * s->axes[ax[j]].n + v;
  }
  *pi = 0;
  if (L->panel >= 0) {
    if (k->col[L->panel] < 0 || (*pi = value_index(&s->axes[L->panel], ss_csv_cell(t, row, k->col[L->panel]))) < 0) return 0;
  }
  if (k->col[L->x] < 0) return 0;
  *xi = value_index(&s->axes[L->x], ss_csv_cell(t, row, k->col[L->x]));
  return *xi >= 0;
}

/* How a key is shown: the paper's symbol for its learning-rate keys, else the key's label. */
static void key_text(ss_sbuf *b, const ss_sweep_axis *a) {
  static const char *const sym[][2] = {{"opt.lr_y_multi_on_z", "η_Y/η_Z"}, {"opt.lr_z", "η_Z"}, {"opt.lr_y", "η_Y"}};
  for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++)
    if (!strcmp(a->key, sym[i][0])) {
      ss_sb_puts(b, sym[i][1]);
      return;
    }
  ss_gp_text(b, a->label, 40);
}

static void key_plain(char *dst, size_t n, const ss_sweep_axis *a) {
  static const char *const sym[][2] = {{"opt.lr_y_multi_on_z", "eta_Y/eta_Z"}, {"opt.lr_z", "eta_Z"}, {"opt.lr_y", "eta_Y"}};
  for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++)
    if (!strcmp(a->key, sym[i][0])) {
      snprintf(dst, n, "%s", sym[i][1]);
      return;
    }
  snprintf(dst, n, "%s", a->label);
}

static const char *metric_words(const char *m) {
  static const char *const w[][2] = {{"entropy_distinct", "distinct-token entropy of c_n (nats)"},
                                     {"entropy", "entropy of c_n (nats)"},
                                     {"loss", "loss (nats)"},
                                     {"acc", "accuracy"},
                                     {"common_mass", "mass of c_n on common tokens"},
                                     {"distinct_mass", "mass of c_n on distinct tokens"},
                                     {"kendall_tau", "Kendall tau of c_n/P against P"},
                                     {"valid_loss", "validation loss (nats)"},
                                     {"valid_loss_best", "best validation loss (nats)"},
                                     {"attn_entropy", "attention entropy (nats)"},
                                     {"freq_mass", "attention mass on frequent tokens"},
                                     {"t0", "snap time t_0 (steps)"}};
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
    if (!strcmp(m, w[i][0])) return w[i][1];
  return NULL;
}

/* the metric in a script (escaped when it is not one we know) */
static void metric_text(ss_sbuf *b, const char *m) {
  const char *w = metric_words(m);
  if (w) ss_sb_puts(b, w);
  else ss_gp_text(b, m, 40);
}

typedef struct {
  const char *metric;   /* column name (aggregate: NAME_mean / NAME_std; per run: NAME) */
  const char *name;     /* figure name */
  const ss_csv *t;      /* aggregate.csv or sweep.csv */
  const ss_csv *ref;    /* the paper's points, or NULL */
  int theory;           /* the runs are theory runs (population dynamics) */
} fig_src;

/* Reference column for an axis: the key, its label or its last dotted part. */
static int ref_col(const ss_csv *t, const ss_sweep_axis *a) {
  const char *dot = strrchr(a->key, '.');
  for (int c = 0; c < t->ncols; c++)
    if (!strcmp(t->head[c], a->key) || !strcmp(t->head[c], a->label) || (dot && !strcmp(t->head[c], dot + 1))) return c;
  return -1;
}

static int figure(ss_plan *p, const layout *L, const fig_src *f, ss_err *err) {
  const ss_sweep *s = L->s;
  const ss_csv *t = f->t;
  char mcol[96], scol[96];
  snprintf(mcol, sizeof mcol, L->per_run ? "%s" : "%s_mean", f->metric);
  snprintf(scol, sizeof scol, "%s_std", f->metric);
  int cm = ss_csv_col(t, mcol), cs = L->per_run ? -1 : ss_csv_col(t, scol), cst = L->per_run ? ss_csv_col(t, "status") : -1;
  keycols kc;
  find_keycols(t, s, &kc);
  const ss_sweep_axis *X = &s->axes[L->x];
  const int npan = L->panel >= 0 ? s->axes[L->panel].n : 1, nlin = nlines_of(L);
  /* reference columns (the paper's Figure 6) */
  const ss_csv *ref = f->ref;
  int rx = -1, rl = -1, rp = -1, rm = -1, rs = -1;
  if (ref) {
    rx = ref_col(ref, X);
    rl = L->by >= 0 ? ref_col(ref, &s->axes[L->by]) : -1;
    rp = L->panel >= 0 ? ref_col(ref, &s->axes[L->panel]) : -1;
    for (int c = 0; c < ref->ncols; c++) {
      size_t n = strlen(ref->head[c]);
      if (n > 5 && !strcmp(ref->head[c] + n - 5, "_mean")) rm = c;
      if (n > 4 && !strcmp(ref->head[c] + n - 4, "_std")) rs = c;
    }
    if (rx < 0 || rm < 0 || rs < 0 || (L->by >= 0 && rl < 0) || (L->panel >= 0 && rp < 0)) ref = NULL;
  }
  /* where each row goes (x, line, panel), once: -1 for rows that do not fit the grid, are
   * not complete runs or have no value */
  int *place = malloc(sizeof(int) * 3 * (size_t)(t->nrows ? t->nrows : 1));
  if (!place) return ss_seterr(err, SS_ERUN, "out of memory");
  for (int row = 0; row < t->nrows; row++) {
    int *pl = place + 3 * row;
    double y;
    if (cm < 0 || !row_place(L, t, &kc, row, &pl[0], &pl[1], &pl[2]) || (cst >= 0 && strcmp(ss_csv_cell(t, row, cst), "complete")) ||
        !ss_parse_num(ss_csv_cell(t, row, cm), &y) || !isfinite(y)) /* no complete run in this group */
      pl[0] = -1;
  }
  int width = npan > 1 ? 420 * npan : 900, rc = SS_OK;
  ss_sbuf b = {0};
  ss_sb_printf(&b, "reset\nset multiplot layout 1,%d title '%s", npan, L->fig6 ? "Figure 6: " : "");
  ss_sb_puts(&b, L->per_run ? "" : "final ");
  metric_text(&b, f->metric);
  ss_sb_puts(&b, " vs ");
  key_text(&b, X);
  ss_sb_puts(&b, SS_GP_NL "{/*0.8 ");
  if (f->theory) ss_sb_puts(&b, "theory runs (population dynamics); ");
  if (ref) ss_sb_puts(&b, "filled: this sweep, open: the reference table (reference.csv); ");
  ss_sb_puts(&b, L->per_run || !L->seeds ? "one point per run" : "error bars: std over seeds");
  ss_sb_printf(&b, "}' font 'Sans,15' margins %.3f,0.98,0.24,0.82 spacing %.3f,0.1\n", 100.0 / width, 60.0 / width);
  for (int pi = 0; pi < npan && rc == SS_OK; pi++) {
    ss_sbuf d = {0}, r = {0};
    int npts = 0;
    for (int li = 0; li < nlin; li++) {
      ss_sb_printf(&d, "# line %d\n", li);
      /* points in the axis order of x */
      for (int xi = 0; xi < X->n; xi++)
        for (int row = 0; row < t->nrows; row++) {
          const int *pl = place + 3 * row;
          if (pl[0] != xi || pl[1] != li || pl[2] != pi) continue;
          double y, e = 0;
          ss_parse_num(ss_csv_cell(t, row, cm), &y);
          if (cs >= 0 && (!ss_parse_num(ss_csv_cell(t, row, cs), &e) || !isfinite(e))) e = 0;
          ss_gp_num(&d, L->xv[xi]);
          ss_sb_puts(&d, " ");
          ss_gp_num(&d, y);
          ss_sb_puts(&d, " ");
          ss_gp_num(&d, fabs(e));
          ss_sb_puts(&d, "\n");
          npts++;
        }
      ss_sb_puts(&d, "\n\n");
      if (ref) {
        ss_sb_printf(&r, "# line %d\n", li);
        for (int row = 0; row < ref->nrows; row++) {
          if (!ss_sweep_ref_row_fixed_ok(s, ref, row)) continue;
          if (L->panel >= 0 && value_index(&s->axes[L->panel], ss_csv_cell(ref, row, rp)) != pi) continue;
          if (L->by >= 0 && value_index(&s->axes[L->by], ss_csv_cell(ref, row, rl)) != li) continue;
          double x, y, e;
          if (!ss_parse_num(ss_csv_cell(ref, row, rx), &x) || !ss_parse_num(ss_csv_cell(ref, row, rm), &y) || !isfinite(x) || !isfinite(y))
            continue;
          if (!ss_parse_num(ss_csv_cell(ref, row, rs), &e) || !isfinite(e)) e = 0; /* one seed: no std, no bar */
          if (!L->numeric_x) {
            int xi = value_index(X, ss_csv_cell(ref, row, rx));
            if (xi < 0) continue;
            x = xi;
          }
          /* drawn just beside our point (log x: a fixed ratio) */
          ss_gp_num(&r, L->log_x ? x * 1.08 : x + 0.02 * (L->xv[X->n - 1] - L->xv[0] + 1));
          ss_sb_puts(&r, " ");
          ss_gp_num(&r, y);
          ss_sb_puts(&r, " ");
          ss_gp_num(&r, fabs(e));
          ss_sb_puts(&r, "\n");
        }
        ss_sb_puts(&r, "\n\n");
      }
    }
    char fn[128], fr[128], fnp[160], frp[160];
    snprintf(fn, sizeof fn, "%s_%d.dat", f->name, pi);
    snprintf(fr, sizeof fr, "%s_ref_%d.dat", f->name, pi);
    ss_plan_name(p, fn, fnp, sizeof fnp);
    ss_plan_name(p, fr, frp, sizeof frp);
    rc = ss_plan_file(p, fn, &d, err);
    if (rc == SS_OK && ref) rc = ss_plan_file(p, fr, &r, err);
    ss_sb_free(&d);
    ss_sb_free(&r);
    ss_sb_puts(&b, "set grid lc rgb '#dddddd'\nunset label\n");
    /* gnuplot cannot autoscale a panel without points */
    if (npts == 0) ss_sb_puts(&b, "set yrange [0:1]\nset label 'no complete run' at graph 0.5, graph 0.5 center\n");
    else ss_sb_puts(&b, "set autoscale y\n");
    if (L->panel >= 0) {
      ss_sb_puts(&b, "set title '");
      key_text(&b, &s->axes[L->panel]);
      ss_sb_puts(&b, " = ");
      ss_gp_text(&b, s->axes[L->panel].values[pi], 40);
      ss_sb_puts(&b, "' font 'Sans,13'\n");
    } else {
      ss_sb_puts(&b, "unset title\n");
    }
    ss_sb_puts(&b, "set xlabel '");
    key_text(&b, X);
    ss_sb_puts(&b, "'\nset ylabel '");
    if (pi == 0) {
      ss_sb_puts(&b, L->per_run ? "" : "final ");
      metric_text(&b, f->metric);
    }
    ss_sb_puts(&b, "'\n");
    if (L->numeric_x) {
      double lo = L->xv[0], hi = lo;
      for (int k = 0; k < X->n; k++) {
        lo = fmin(lo, L->xv[k]);
        hi = fmax(hi, L->xv[k]);
      }
      if (L->log_x) ss_sb_printf(&b, "set logscale x\nset xrange [%.10g:%.10g]\n", lo / 1.3, hi * 1.4);
      else {
        double pad = hi > lo ? 0.08 * (hi - lo) : (fabs(lo) > 0 ? 0.1 * fabs(lo) : 1);
        ss_sb_printf(&b, "unset logscale x\nset xrange [%.10g:%.10g]\n", lo - pad, hi + pad);
      }
    } else {
      ss_sb_printf(&b, "unset logscale x\nset xrange [-0.5:%d.5]\n", X->n - 1);
    }
    ss_sb_printf(&b, "set xtics %s(", X->n > 8 ? "rotate by 45 right " : "");
    for (int k = 0; k < X->n; k++) {
      ss_sb_puts(&b, k ? ", " : "");
      ss_gp_str(&b, X->values[k], 16);
      ss_sb_puts(&b, " ");
      ss_gp_num(&b, L->xv[k]);
    }
    ss_sb_puts(&b, ")\n");
    if (pi == 0) ss_sb_puts(&b, "set key horizontal maxcols 6 at screen 0.5, screen 0.07 center center box font 'Sans,11'\n");
    else ss_sb_puts(&b, "unset key\n");
    ss_sb_puts(&b, "plot ");
    for (int li = 0; li < nlin; li++) {
      const char *col = ss_plot_colors[li % 8];
      ss_sb_printf(&b, "%s'%s' index %d u 1:2:3 w %s lw 2 pt 7 ps 1.1 dt %d lc rgb '%s' t '", li ? ", " : "", fnp, li,
                   L->per_run ? "lp" : "yerrorlines", 1 + li / 8, col);
      /* the line's key values, last key fastest */
      int rest = li, parts = 0, ax[1 + SS_SWEEP_MAX_AXES], vi[1 + SS_SWEEP_MAX_AXES], n = 0;
      if (L->by >= 0) ax[n++] = L->by;
      for (int j = 0; j < L->nothers; j++) ax[n++] = L->others[j];
      for (int j = n - 1; j >= 0; j--) {
        vi[j] = rest % s->axes[ax[j]].n;
        rest /= s->axes[ax[j]].n;
      }
      for (int j = 0; j < n; j++) {
        ss_sb_puts(&b, parts++ ? ", " : "");
        key_text(&b, &s->axes[ax[j]]);
        ss_sb_puts(&b, " = ");
        ss_gp_text(&b, s->axes[ax[j]].values[vi[j]], 24);
      }
      if (!parts) ss_sb_puts(&b, L->per_run ? "runs" : "mean over seeds");
      ss_sb_puts(&b, "'");
      if (ref) ss_sb_printf(&b, ", '%s' index %d u 1:2:3 w yerrorbars lw 1.5 pt 6 ps 1.3 lc rgb '%s' notitle", frp, li, col);
    }
    ss_sb_puts(&b, "\n");
  }
  ss_sb_puts(&b, "unset multiplot\n");
  free(place);
  if (rc) {
    ss_sb_free(&b);
    return rc;
  }
  char cap[600], xk[64], bk[64] = "", pk[64] = "";
  key_plain(xk, sizeof xk, X);
  if (L->by >= 0) key_plain(bk, sizeof bk, &s->axes[L->by]);
  if (L->panel >= 0) key_plain(pk, sizeof pk, &s->axes[L->panel]);
  char *m = ss_text_clean(f->metric, 40);
  snprintf(cap, sizeof cap, "%s%s%s%s vs %s%s%s%s%s%s; %s%s", L->fig6 ? "Figure 6: " : "", f->theory ? "theory runs, " : "", L->per_run ? "" : "final ", m ? m : "?", xk,
           pk[0] ? ", one panel per " : "", pk, bk[0] || L->nothers ? ", one line per " : "", bk[0] ? bk : "", L->nothers ? (bk[0] ? " and the other keys" : "combination of the other keys") : "",
           L->per_run || !L->seeds ? "one point per run" : "error bars = std over seeds", ref ? "; open circles = the paper's published means" : "");
  free(m);
  return ss_plan_figure(p, f->name, cap, width, 660, &b, err);
}

static int metric_names(const ss_csv *t, int per_run, char *buf, size_t n) {
  size_t k = 0;
  int cnt = 0;
  buf[0] = 0;
  for (int c = 0; c < t->ncols && k < n; c++) {
    const char *h = t->head[c];
    size_t L = strlen(h);
    if (per_run) {
      if (!strcmp(h, "status") || !strcmp(h, "dir") || ss_config_find(h)) continue;
      k += (size_t)snprintf(buf + k, n - k, "%s%s", cnt++ ? ", " : "", h);
    } else if (L > 5 && !strcmp(h + L - 5, "_mean")) {
      k += (size_t)snprintf(buf + k, n - k, "%s%.*s", cnt++ ? ", " : "", (int)(L - 5), h);
    }
  }
  return cnt;
}

/* whether a metric's column (NAME_mean, or NAME per run) has a finite value */
static int has_values(const ss_csv *t, const char *metric, int per_run) {
  char col[96];
  snprintf(col, sizeof col, per_run ? "%s" : "%s_mean", metric);
  int c = ss_csv_col(t, col);
  for (int r = 0; c >= 0 && r < t->nrows; r++) {
    double v;
    if (ss_parse_num(ss_csv_cell(t, r, c), &v) && isfinite(v)) return 1;
  }
  return 0;
}

/* ---- attention entropy per layer over time, per cell (language-model sweeps) -------------- */

#define MAX_CELLS 64
#define MAX_LAYERS 16

/* A run's attention-entropy columns: attn_entropy_l0.. (several layers) or attn_entropy (one);
 * how many (0: not a language-model run). */
static int entropy_cols(const ss_csv *m, int *col) {
  int n = 0;
  for (; n < MAX_LAYERS; n++) {
    char c[32];
    snprintf(c, sizeof c, "attn_entropy_l%d", n);
    if ((col[n] = ss_csv_col(m, c)) < 0) break;
  }
  if (n == 0 && (col[0] = ss_csv_col(m, "attn_entropy")) >= 0) n = 1;
  return n;
}

typedef struct {
  int nruns, nlayers, nrows;
  double *step, *sum, *cnt; /* [nrows], [nrows * (MAX_LAYERS + 1)] (the last: valid_loss) */
} cell_acc;

/* One run's rows into its cell (rows beyond the cell's first run's steps are dropped). */
static int cell_add(cell_acc *c, const ss_csv *m) {
  int col[MAX_LAYERS];
  const int nl = entropy_cols(m, col), cv = ss_csv_col(m, "valid_loss"), W = MAX_LAYERS + 1;
  if (nl == 0 || m->nrows == 0) return SS_OK;
  if (c->nruns == 0) {
    c->nrows = m->nrows;
    c->step = malloc(sizeof(double) * (size_t)m->nrows);
    c->sum = calloc((size_t)m->nrows * W, sizeof(double));
    c->cnt = calloc((size_t)m->nrows * W, sizeof(double));
    if (!c->step || !c->sum || !c->cnt) return SS_ERUN;
    for (int r = 0; r < m->nrows; r++)
      if (!ss_parse_num(ss_csv_cell(m, r, 0), &c->step[r])) c->step[r] = NAN;
  }
  c->nruns++;
  if (nl > c->nlayers) c->nlayers = nl;
  for (int r = 0; r < m->nrows && r < c->nrows; r++) {
    double st, v;
    if (!ss_parse_num(ss_csv_cell(m, r, 0), &st) || st != c->step[r]) continue;
    for (int l = 0; l <= nl; l++) {
      const int k = l < nl ? col[l] : cv;
      if (k < 0 || !ss_parse_num(ss_csv_cell(m, r, k), &v) || !isfinite(v)) continue;
      const int slot = l < nl ? l : MAX_LAYERS;
      c->sum[r * W + slot] += v;
      c->cnt[r * W + slot] += 1;
    }
  }
  return SS_OK;
}

/* The cell of a sweep.csv row: mixed radix over the non-seed axes; -1 when it fits none. */
static int row_cell(const ss_sweep *s, const ss_csv *t, const keycols *k, int row) {
  int cell = 0;
  for (int a = 0; a < s->naxes; a++) {
    if (is_seed(s, a)) continue;
    const int v = k->col[a] < 0 ? -1 : value_index(&s->axes[a], ss_csv_cell(t, row, k->col[a]));
    if (v < 0) return -1;
    cell = cell * s->axes[a].n + v;
  }
  return cell;
}

/* The figure: one panel per cell (the non-seed keys' values), a line per layer, the mean over
 * the cell's complete runs (seeds) at each recorded step; validation loss on the right axis.
 * Nothing when the runs record no attention entropy. Run folders come from sweep.csv's dir
 * column and are read only as plain names inside the sweep's folder. */
static int entropy_layers(ss_plan *p, const ss_sweep *s, const char *dir, ss_err *err) {
  ss_csv t;
  int rc = ss_csv_read_in(dir, "sweep.csv", &t, err);
  if (rc) return rc;
  keycols kc;
  find_keycols(&t, s, &kc);
  const int cd = ss_csv_col(&t, "dir"), cst = ss_csv_col(&t, "status");
  int ncell = 1, last = -1;
  for (int a = 0; a < s->naxes; a++)
    if (!is_seed(s, a)) ncell *= s->axes[a].n, last = a;
  cell_acc *acc = ncell <= MAX_CELLS && cd >= 0 && cst >= 0 ? calloc((size_t)ncell, sizeof *acc) : NULL;
  for (int row = 0; acc && rc == SS_OK && row < t.nrows; row++) {
    const char *name = ss_csv_cell(&t, row, cd);
    const int cell = row_cell(s, &t, &kc, row);
    if (cell < 0 || strcmp(ss_csv_cell(&t, row, cst), "complete") || !name[0] || name[0] == '.' || strchr(name, '/')) continue;
    char rel[SS_PATH_MAX];
    if (snprintf(rel, sizeof rel, "%s/metrics.csv", name) >= (int)sizeof rel || ss_in_stat(dir, rel) != SS_IN_FILE) continue;
    ss_csv m;
    if ((rc = ss_csv_read_in(dir, rel, &m, err))) break;
    int col[MAX_LAYERS];
    const int lm = entropy_cols(&m, col) > 0;
    if (lm && cell_add(&acc[cell], &m)) rc = ss_seterr(err, SS_ERUN, "out of memory");
    ss_csv_free(&m);
    if (!lm) break; /* the runs of a sweep are of one kind: not language models, no figure */
  }
  ss_csv_free(&t);
  int any = 0, maxl = 0;
  for (int c = 0; acc && c < ncell; c++) {
    any |= acc[c].nruns > 0;
    if (acc[c].nlayers > maxl) maxl = acc[c].nlayers;
  }
  if (rc == SS_OK && any) {
    /* data: a block per cell (gnuplot index c): step, each layer's mean, validation loss */
    ss_sbuf d = {0}, b = {0};
    const int W = MAX_LAYERS + 1;
    ss_sb_puts(&d, "# per cell (index = cell): step, mean attention entropy of layer 0.., mean validation loss (over the cell's runs)\n");
    for (int c = 0; c < ncell; c++) {
      cell_acc *A = &acc[c];
      ss_sb_printf(&d, "# cell %d, %d run(s)\n", c, A->nruns);
      for (int r = 0; r < A->nrows; r++) {
        ss_gp_num(&d, A->step[r]);
        for (int l = 0; l < maxl; l++) {
          ss_sb_puts(&d, " ");
          ss_gp_num(&d, A->cnt[r * W + l] > 0 ? A->sum[r * W + l] / A->cnt[r * W + l] : NAN);
        }
        ss_sb_puts(&d, " ");
        ss_gp_num(&d, A->cnt[r * W + MAX_LAYERS] > 0 ? A->sum[r * W + MAX_LAYERS] / A->cnt[r * W + MAX_LAYERS] : NAN);
        ss_sb_puts(&d, "\n");
      }
      if (A->nrows == 0) ss_sb_puts(&d, "NaN\n");
      ss_sb_puts(&d, "\n\n");
    }
    char fd[160];
    ss_plan_name(p, "attn_entropy_layers.dat", fd, sizeof fd);
    const int cols = last >= 0 ? s->axes[last].n : 1, rows = (ncell + cols - 1) / cols;
    ss_sb_printf(&b, "reset\nset multiplot layout %d,%d title 'attention entropy of each layer over training, mean over seeds per cell" SS_GP_NL
                     "{/*0.8 grey points: validation loss (right axis)}' font 'Sans,14'\n",
                 rows, cols);
    ss_sb_puts(&b, "set grid lc rgb '#dddddd'\nset xlabel 'step (minibatches)'\nset ylabel 'attention entropy (nats)'\nset y2tics\nset ytics nomirror\n"
                   "set key top right font 'Sans,9'\n");
    for (int c = 0; c < ncell; c++) {
      /* the panel's title: key = value of each non-seed axis */
      int rest = c, vi[SS_SWEEP_MAX_AXES];
      for (int a = s->naxes - 1; a >= 0; a--) {
        if (is_seed(s, a)) continue;
        vi[a] = rest % s->axes[a].n;
        rest /= s->axes[a].n;
      }
      ss_sb_puts(&b, "set title '");
      int parts = 0;
      for (int a = 0; a < s->naxes; a++) {
        if (is_seed(s, a)) continue;
        ss_sb_puts(&b, parts++ ? ", " : "");
        key_text(&b, &s->axes[a]);
        ss_sb_puts(&b, " = ");
        ss_gp_text(&b, s->axes[a].values[vi[a]], 24);
      }
      ss_sb_printf(&b, " (%d run%s)' font 'Sans,11'\n", acc[c].nruns, acc[c].nruns == 1 ? "" : "s");
      if (acc[c].nruns == 0) {
        ss_sb_puts(&b, "set label 1 'no complete run' at graph 0.5, graph 0.5 center\nplot [0:1] NaN notitle\nunset label 1\n");
        continue;
      }
      ss_sb_puts(&b, "plot ");
      for (int l = 0; l < acc[c].nlayers; l++)
        ss_sb_printf(&b, "%s'%s' index %d u 1:%d w l lw 2 lc rgb '%s' t 'layer %d'", l ? ", " : "", fd, c, l + 2, ss_plot_colors[l % 8], l);
      ss_sb_printf(&b, ", '%s' index %d u 1:%d axes x1y2 w p pt 7 ps 0.5 lc rgb '#888888' notitle\n", fd, c, maxl + 2);
    }
    ss_sb_puts(&b, "unset multiplot\n");
    rc = ss_plan_file(p, "attn_entropy_layers.dat", &d, err);
    if (rc == SS_OK)
      rc = ss_plan_figure(p, "attn_entropy_layers", "attention entropy of each layer over training steps, one panel per cell of the sweep, mean over its seeds; validation loss (grey) on the right axis",
                          cols > 1 ? 480 * cols : 900, 380 * rows + 80, &b, err);
    else
      ss_sb_free(&b);
  }
  for (int c = 0; acc && c < ncell; c++) {
    free(acc[c].step);
    free(acc[c].sum);
    free(acc[c].cnt);
  }
  free(acc);
  return rc;
}

int ss_plot_sweep(ss_plan *p, const char *dir, ss_err *err) {
  ss_sweep s;
  ss_sweep_info info;
  int rc = ss_sweep_dir_load(dir, &s, &info, err);
  if (rc) return rc;
  layout L;
  ss_csv t, ref;
  int have_t = 0, have_ref = 0;
  const ss_plot_opts *o = p->o;
  const char *metric = o->metric ? o->metric : s.metric;
  if ((rc = make_layout(&L, &s, o, dir, err))) goto out;
  if (!ss_is_ident(metric)) {
    char *m = ss_text_clean(metric, 60);
    rc = ss_seterr(err, SS_EINPUT, "key 'metric': '%s' is not a metric name ([A-Za-z0-9_])", m ? m : "?");
    free(m);
    goto out;
  }
  if ((rc = ss_csv_read_in(dir, L.per_run ? "sweep.csv" : "aggregate.csv", &t, err))) goto out;
  have_t = 1;
  char col[96];
  if (!o->metric && !has_values(&t, metric, L.per_run)) {
    /* the sweep's metric was never measured (the class metrics of language-model runs):
     * the first of these that was */
    static const char *const alt[] = {"attn_entropy", "valid_loss", "loss"};
    for (size_t i = 0; i < sizeof alt / sizeof alt[0]; i++)
      if (has_values(&t, alt[i], L.per_run)) {
        metric = alt[i];
        break;
      }
  }
  snprintf(col, sizeof col, L.per_run ? "%s" : "%s_mean", metric);
  /* the sweep's own metric may have no column when no run measured it (all failed): the
   * figure then says so; a metric asked for must exist */
  if ((o->metric && ss_csv_col(&t, col) < 0) || (L.per_run && ss_csv_col(&t, "status") < 0)) {
    char names[600];
    metric_names(&t, L.per_run, names, sizeof names);
    rc = ss_seterr(err, SS_EINPUT, "key 'metric': '%s' is not a metric of '%s/%s' (its metrics: %s)", metric, dir, L.per_run ? "sweep.csv" : "aggregate.csv",
                   names[0] ? names : "none");
    goto out;
  }
  if (s.reference[0] && !strcmp(metric, s.metric)) {
    if ((rc = ss_csv_read_in(dir, s.reference, &ref, err))) goto out;
    have_ref = 1;
  }
  char xl[64], name[160];
  ss_fname_part(xl, sizeof xl, s.axes[L.x].label);
  if (L.fig6 && !strcmp(metric, "entropy_distinct")) snprintf(name, sizeof name, "fig6");
  else snprintf(name, sizeof name, "%s_vs_%s", metric, xl);
  fig_src f = {metric, name, &t, have_ref ? &ref : NULL, info.theory};
  if ((rc = figure(p, &L, &f, err))) goto out;
  /* the snap time, when the runs wrote snap.json */
  snprintf(col, sizeof col, L.per_run ? "t0" : "t0_mean");
  int ct = ss_csv_col(&t, col), any = 0;
  for (int r = 0; ct >= 0 && r < t.nrows; r++) {
    double v;
    any |= ss_parse_num(ss_csv_cell(&t, r, ct), &v) && isfinite(v);
  }
  if (any && strcmp(metric, "t0")) {
    char tn[160];
    if (L.fig6) snprintf(tn, sizeof tn, "t0");
    else snprintf(tn, sizeof tn, "t0_vs_%s", xl);
    fig_src g = {"t0", tn, &t, NULL, info.theory};
    rc = figure(p, &L, &g, err);
  }
  if (rc == SS_OK && !info.theory) rc = entropy_layers(p, &s, dir, err);
out:
  free(L.xv);
  if (have_t) ss_csv_free(&t);
  if (have_ref) ss_csv_free(&ref);
  ss_sweep_free(&s);
  return rc;
}
