/* The figures of one run (plot.h): curves from metrics.csv (every column written as numbers
 * to NAME.dat, gnuplot column = csv column + 1) and the c_n heatmaps from
 * dynamics.safetensors. Labels are this file's own text; anything from the run reaches a
 * script as a number. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"
#include "scansnap/data.h"

/* metrics.csv as a whitespace table of numbers. */
static int metrics_dat(ss_plan *p, const ss_rundir *r, const char *name, ss_err *err) {
  ss_sbuf d = {0};
  ss_sb_puts(&d, "# columns:");
  for (int j = 0; j < r->m.ncols; j++) ss_sb_printf(&d, " %s", r->m.names[j][0] ? r->m.names[j] : "?");
  ss_sb_puts(&d, "\n");
  for (int i = 0; i < r->m.nrows; i++) {
    for (int j = 0; j < r->m.ncols; j++) {
      if (j) ss_sb_puts(&d, " ");
      ss_gp_num(&d, ss_numtab_at(&r->m, i, j));
    }
    ss_sb_puts(&d, "\n");
  }
  return ss_plan_file(p, name, &d, err);
}

/* The finite rows of one column (step, value): for sparse series such as valid_loss. */
static int sparse_dat(ss_plan *p, const ss_rundir *r, int col, const char *name, ss_err *err) {
  ss_sbuf d = {0};
  ss_sb_printf(&d, "# step %s (rows where it was measured)\n", r->m.names[col]);
  for (int i = 0; i < r->m.nrows; i++) {
    double v = ss_numtab_at(&r->m, i, col);
    if (!isfinite(v)) continue;
    ss_gp_num(&d, ss_numtab_at(&r->m, i, 0));
    ss_sb_puts(&d, " ");
    ss_gp_num(&d, v);
    ss_sb_puts(&d, "\n");
  }
  return ss_plan_file(p, name, &d, err);
}

/* whether a column has a point to draw (a positive one on a log axis) */
static int drawable(const ss_numtab *m, int col, int positive) {
  for (int i = 0; i < m->nrows; i++) {
    double v = ss_numtab_at(m, i, col);
    if (isfinite(v) && isfinite(ss_numtab_at(m, i, 0)) && (!positive || v > 0)) return 1;
  }
  return 0;
}

typedef struct {
  const char *col;  /* metrics.csv column */
  const char *what; /* legend text (markup of this file) */
  int color;        /* ss_plot_colors index */
  int y2;           /* right axis */
  int sparse;       /* measured on some rows only: points joined by lines */
  int dash;         /* dash type (1 solid; a baseline 2) */
} curve;

typedef struct {
  const char *name, *title, *caption, *xlabel, *ylabel, *y2label;
  const char *key; /* gnuplot key position */
  int logy;
  double ymin, ymax; /* ymin < ymax: fixed range */
  const double *hl;  /* nhl horizontal dashed lines (the toy's targets), colours as the curves' */
  int nhl;
} curve_fig;

static int curves(ss_plan *p, const ss_rundir *r, const ss_rundir *th, const curve_fig *f, const curve *c, int nc, ss_err *err) {
  char runf[128], thf[128];
  ss_plan_name(p, "run.dat", runf, sizeof runf);
  ss_plan_name(p, "theory.dat", thf, sizeof thf);
  ss_sbuf b = {0};
  ss_sb_printf(&b, "reset\nset grid lc rgb '#dddddd'\nset key %s box opaque\nset title '%s' font 'Sans,14'\n", f->key, f->title);
  ss_sb_printf(&b, "set xlabel '%s'\nset ylabel '%s'\n", f->xlabel, f->ylabel);
  if (f->logy) ss_sb_puts(&b, "set logscale y\nset format y '10^{%L}'\n");
  if (f->ymin < f->ymax) ss_sb_printf(&b, "set yrange [%g:%g]\n", f->ymin, f->ymax);
  if (f->y2label) ss_sb_printf(&b, "set y2label '%s'\nset y2range [0:1.1]\nset ytics nomirror\nset y2tics 0.2\n", f->y2label);
  int drawn = 0, rc = SS_OK;
  const ss_rundir *runs[2] = {r, th};
  for (int k = 0; k < 2 && rc == SS_OK; k++) {
    const ss_rundir *x = runs[k];
    if (!x) continue;
    for (int i = 0; i < nc && rc == SS_OK; i++) {
      int col = ss_numtab_col(&x->m, c[i].col);
      if (col < 0 || !drawable(&x->m, col, f->logy && !c[i].y2)) continue; /* gnuplot fails on a series with no point */
      const char *u = f->logy && !c[i].y2 ? "($%d>0?$%d:1/0)" : "%d";
      char ucol[48];
      int gcol = c[i].sparse ? 2 : col + 1;
      snprintf(ucol, sizeof ucol, u, gcol, gcol);
      char file[160];
      if (c[i].sparse) {
        char base[96];
        snprintf(base, sizeof base, "%s_%s.dat", k ? "theory" : "run", c[i].col);
        if ((rc = sparse_dat(p, x, col, base, err))) break;
        ss_plan_name(p, base, file, sizeof file);
      } else {
        snprintf(file, sizeof file, "%s", k ? thf : runf);
      }
      ss_sb_printf(&b, "%s'%s' u 1:%s%s w %s lw 2 dt %d lc rgb '%s' t '", drawn ? ", " : "plot ", file, ucol, c[i].y2 ? " axes x1y2" : "",
                   c[i].sparse ? "lp pt 7 ps 0.8" : "l", k ? 2 : c[i].dash, ss_plot_colors[c[i].color % 8]);
      ss_gp_text(&b, c[i].what, 0);
      if (x->label[0]) { /* which run: SGD, Adam, theory (JoMA's systems: one run, no label) */
        ss_sb_puts(&b, " (");
        ss_gp_text(&b, x->label, 16);
        ss_sb_puts(&b, ")");
      }
      ss_sb_puts(&b, "'");
      drawn++;
    }
  }
  for (int i = 0; i < f->nhl && drawn > 0; i++) {
    ss_sb_puts(&b, ", ");
    ss_gp_num(&b, f->hl[i]);
    ss_sb_printf(&b, " w l lw 1 dt 2 lc rgb '%s' notitle", ss_plot_colors[i % 8]);
  }
  if (rc == SS_OK && drawn == 0)
    ss_sb_puts(&b, "set label 'no data' at graph 0.5, graph 0.5 center\nunset logscale y\nset xrange [0:1]\nset yrange [0:1]\nplot 1/0 notitle");
  ss_sb_puts(&b, "\n");
  if (rc) {
    ss_sb_free(&b);
    return rc;
  }
  return ss_plan_figure(p, f->name, f->caption, 900, 560, &b, err);
}

static int class_curves(ss_plan *p, const ss_rundir *r, const ss_rundir *th, ss_err *err) {
  const char *xl = strcmp(r->label, "theory") ? "step (updates)" : "step";
  static const curve la[] = {{"loss", "loss", 0, 0, 0, 1}, {"acc", "accuracy", 1, 1, 0, 1}};
  curve_fig f1 = {"loss_acc", "Loss and accuracy", "Loss and accuracy over training", xl, "loss (nats, log scale)",
                  "accuracy (fraction of the batch)", "bmargin center horizontal", 1, 0, 0, NULL, 0};
  int rc = curves(p, r, th, &f1, la, 2, err);
  static const curve ms[] = {{"common_mass", "common tokens", 1, 0, 0, 1}, {"distinct_mass", "distinct tokens", 0, 0, 0, 1}};
  curve_fig f2 = {"mass", "Where the attention goes: mass of c_n on common vs distinct tokens",
                  "Mass of c_n on common vs distinct tokens", xl, "mass of c_n (average over classes)", NULL, "center right", 0, 0, 1, NULL, 0};
  if (rc == SS_OK) rc = curves(p, r, th, &f2, ms, 2, err);
  static const curve en[] = {{"entropy", "all tokens", 3, 0, 0, 1}, {"entropy_distinct", "distinct tokens only", 2, 0, 0, 1}};
  curve_fig f3 = {"entropy", "Entropy of the attention composition c_n", "Entropy of c_n (all tokens and distinct tokens)", xl,
                  "entropy (nats, average over classes)", NULL, "top right", 0, 0, 0, NULL, 0};
  if (rc == SS_OK) rc = curves(p, r, th, &f3, en, 2, err);
  return rc;
}

/* A language-model run: loss (training batch and validation), attention entropy (all layers,
 * then each layer attn_entropy_lL), attention mass on the most frequent tokens. */
static int lm_curves(ss_plan *p, const ss_rundir *r, ss_err *err) {
  static const curve la[] = {{"loss", "training-batch loss", 0, 0, 0, 1}, {"valid_loss", "validation loss", 2, 0, 1, 1},
                             {"acc", "next-token accuracy", 1, 1, 0, 1}};
  curve_fig f1 = {"loss_acc", "Language model: loss and accuracy", "Training-batch loss, validation loss and next-token accuracy over training",
                  "step (updates)", "loss (nats)", "next-token accuracy (fraction of the batch)", "top right", 0, 0, 0, NULL, 0};
  int rc = curves(p, r, NULL, &f1, la, 3, err);
  curve ae[1 + 16];
  char names[16][32], what[16][32];
  int na = 0;
  ae[na++] = (curve){"attn_entropy", "attention entropy (mean over layers)", 3, 0, 0, 1};
  for (int j = 0; j < r->m.ncols && na < 17; j++) {
    const char *nm = r->m.names[j];
    char *e;
    if (strncmp(nm, "attn_entropy_l", 14) || !nm[14]) continue;
    long l = strtol(nm + 14, &e, 10);
    if (*e || l < 0 || l > 999) continue;
    snprintf(names[na - 1], sizeof names[0], "%s", nm);
    snprintf(what[na - 1], sizeof what[0], "layer %ld", l);
    ae[na] = (curve){names[na - 1], what[na - 1], (int)(na % 8), 0, 0, 2};
    na++;
  }
  curve_fig f2 = {"attn_entropy", "Attention entropy of the probe sequences", "Attention entropy (nats) of the probe sequences, mean and per layer",
                  "step (updates)", "entropy of the attention rows (nats)", NULL, "bottom left", 0, 0, 0, NULL, 0};
  if (rc == SS_OK) rc = curves(p, r, NULL, &f2, ae, na, err);
  static const curve fm[] = {{"freq_mass", "on the most frequent tokens", 0, 0, 0, 1},
                             {"freq_mass_uniform", "the same, uniform attention", 0, 0, 0, 2},
                             {"freq_mass_ctx", "on the most frequent, of the mass on earlier positions", 1, 0, 0, 1},
                             {"freq_mass_ctx_uniform", "the same, uniform attention", 1, 0, 0, 2},
                             {"self_mass", "on the query's own position", 2, 0, 0, 1}};
  curve_fig f3 = {"freq_mass", "Attention mass on the most frequent tokens",
                  "Attention mass on the most frequent tokens (text.top_k), with uniform attention's as a baseline (dashed)", "step (updates)",
                  "attention mass", NULL, "center right", 0, 0, 1, NULL, 0};
  if (rc == SS_OK) rc = curves(p, r, NULL, &f3, fm, 5, err);
  return rc;
}

/* JoMA's systems (docs/joma.md): the linear case's loss, NC(zhat, z) and its parts (JoMA's
 * Fig. 2), attention entropy and norms; the toy's entropy (Fig. 4) and v's components with
 * their targets mu dashed. */
static int joma_curves(ss_plan *p, const ss_rundir *r, ss_err *err) {
  int rc;
  if (r->joma == SS_MODEL_JOMA_LINEAR) {
    static const curve la[] = {{"loss", "loss", 0, 0, 0, 1}, {"acc", "accuracy", 1, 1, 0, 1}};
    curve_fig f1 = {"loss_acc", "JoMA linear case: loss and accuracy", "Loss (mean cross-entropy over the K classes) and accuracy over the SGD steps",
                    "step", "loss (nats)", "accuracy (fraction of classes)", "center right", 0, 0, 0, NULL, 0};
    rc = curves(p, r, NULL, &f1, la, 2, err);
    static const curve nc[] = {{"nc", "NC(ẑ, z)", 0, 0, 0, 1},
                               {"nc_w", "NC(ẑ_w, z): the Σ_k (Uᵀw_k)² part alone", 1, 0, 0, 1},
                               {"nc_x", "NC(ẑ_x, z): the x̄ ‖W‖² part alone", 2, 0, 0, 1}};
    curve_fig f2 = {"nc", "JoMA Fig. 2: attention logits z against the invariant ẑ(W)",
                    "Normalised correlation NC of z with JoMA's invariant zhat and with each of its two parts, over the SGD steps", "step",
                    "normalised correlation NC", NULL, "bottom right", 0, -1.05, 1.05, NULL, 0};
    if (rc == SS_OK) rc = curves(p, r, NULL, &f2, nc, 3, err);
    static const curve en[] = {{"attn_entropy", "mean over classes k of H(b_k)", 3, 0, 0, 1}};
    curve_fig f3 = {"attn_entropy", "JoMA linear case: entropy of the attention b_k", "Attention entropy (nats, mean over classes) over the SGD steps",
                    "step", "entropy (nats)", NULL, "top right", 0, 0, 0, NULL, 0};
    if (rc == SS_OK) rc = curves(p, r, NULL, &f3, en, 1, err);
    static const curve nm[] = {{"y_norm", "‖W‖_F", 0, 0, 0, 1}, {"z_norm", "‖z‖", 1, 0, 0, 1}, {"rel_err", "‖z - ẑ‖ / ‖z‖", 2, 1, 0, 1}};
    curve_fig f4 = {"norms", "JoMA linear case: weights and the error of the invariant", "Norms of W and z, and the relative distance of z from zhat", "step",
                    "norm", "‖z - ẑ‖ / ‖z‖", "top left", 0, 0, 0, NULL, 0};
    if (rc == SS_OK) rc = curves(p, r, NULL, &f4, nm, 3, err);
    return rc;
  }
  static const curve en[] = {{"attn_entropy", "H(softmax(v²/T))", 3, 0, 0, 1}, {"top", "its largest entry", 1, 1, 0, 1}};
  curve_fig f1 = {"attn_entropy", "JoMA Fig. 4: the attention of the toy sparsifies, then densifies",
                  "Entropy of softmax(v^2/T) (nats) and its largest entry over the steps", "step", "entropy (nats)", "largest entry of softmax(v²/T)",
                  "center right", 0, 0, 0, NULL, 0};
  rc = curves(p, r, NULL, &f1, en, 2, err);
  curve vc[16];
  char names[16][16], what[16][24];
  int nv = 0;
  for (int j = 0; j < r->m.ncols && nv < 16; j++) {
    const char *nm = r->m.names[j];
    char *e;
    if (nm[0] != 'v' || !nm[1]) continue;
    long i = strtol(nm + 1, &e, 10);
    if (*e || i < 0 || i > 999) continue;
    snprintf(names[nv], sizeof names[0], "%s", nm);
    snprintf(what[nv], sizeof what[0], "v_%ld", i);
    vc[nv] = (curve){names[nv], what[nv], nv % 8, 0, 0, 1 + nv / 8};
    nv++;
  }
  curve_fig f2 = {"v", "JoMA toy: the components of v move to their targets μ (dashed)",
                  "The components of v over the steps; dashed: their targets mu (joma.safetensors)", "step", "v_i", NULL, "outside right", 0, 0, 0,
                  r->mu, r->nmu < nv ? r->nmu : nv};
  if (rc == SS_OK) rc = curves(p, r, NULL, &f2, vc, nv, err);
  static const curve ds[] = {{"loss", "|μ - v|² / 2", 0, 0, 0, 1}};
  curve_fig f3 = {"loss", "JoMA toy: distance to the targets", "Half the squared distance of v from its targets mu over the steps", "step",
                  "|μ - v|² / 2 (log scale)", NULL, "top right", 1, 0, 0, NULL, 0};
  if (rc == SS_OK) rc = curves(p, r, NULL, &f3, ds, 1, err);
  return rc;
}

/* ---- c_n heatmaps (the paper's Figure 4) ----------------------------------------------------- */

typedef struct {
  int tok;
  double p;
} tokp;

static int cmp_tokp(const void *a, const void *b) {
  const tokp *x = a, *y = b;
  if (x->p != y->p) return x->p < y->p ? -1 : 1;
  return x->tok - y->tok;
}

/* The tokens of class n in Figure-4 order: the common block, then the distinct tokens by
 * increasing P(l|n) (common = P > 0 in more than one class, as data.h defines it). */
static int class_tokens(const ss_rundir *r, int n, int *order, int *ncommon) {
  const double *prob = ss_st_get(&r->dyn, "prob")->data;
  const int N = r->N, M = r->M;
  tokp *common = malloc(sizeof(tokp) * (size_t)M), *distinct = malloc(sizeof(tokp) * (size_t)M);
  int nc = 0, nd = 0;
  for (int l = 0; common && distinct && l < M; l++) {
    double pl = prob[(size_t)n * M + l];
    if (!(pl > 0)) continue;
    int users = 0;
    for (int k = 0; k < N; k++) users += prob[(size_t)k * M + l] > 0;
    if (users > 1) common[nc++] = (tokp){l, pl};
    else distinct[nd++] = (tokp){l, pl};
  }
  qsort(common, (size_t)nc, sizeof(tokp), cmp_tokp);
  qsort(distinct, (size_t)nd, sizeof(tokp), cmp_tokp);
  for (int j = 0; j < nc; j++) order[j] = common[j].tok;
  for (int j = 0; j < nd; j++) order[nc + j] = distinct[j].tok;
  free(common);
  free(distinct);
  *ncommon = nc;
  return nc + nd;
}

/* One class's heatmap as an image block: "x save-row c" rows, a blank line per save row. */
static void heat_block(ss_sbuf *d, const ss_rundir *r, int n, const int *order, int nt, int log_colour) {
  const double *c = ss_st_get(&r->dyn, "c")->data;
  for (int s = 0; s < r->S; s++) {
    for (int j = 0; j < nt; j++) {
      double v = c[((size_t)s * r->N + n) * r->M + order[j]];
      ss_sb_printf(d, "%d %d ", j, s);
      ss_gp_num(d, log_colour && !(v > 0) ? NAN : v);
      ss_sb_puts(d, "\n");
    }
    ss_sb_puts(d, "\n");
  }
}

static void palette(ss_sbuf *b, int log_colour) {
  ss_sb_puts(b, "set palette defined (0 '#ffffff', 1 '#fde725', 2 '#35b779', 3 '#31688e', 4 '#440154')\n");
  if (log_colour) ss_sb_puts(b, "set logscale cb\nset format cb '10^{%L}'\n");
}

static void step_tics(ss_sbuf *b, const ss_rundir *r) {
  const int64_t *steps = ss_st_get(&r->dyn, "steps")->data;
  ss_sb_puts(b, "set ytics (");
  int every = r->S > 10 ? (r->S + 9) / 10 : 1;
  for (int s = 0, k = 0; s < r->S; s++)
    if (s % every == 0 || s == r->S - 1) ss_sb_printf(b, "%s'%lld' %d", k++ ? ", " : "", (long long)steps[s], s);
  ss_sb_puts(b, ")\n");
}

/* Figure 4: class cls large, token ids below; the theory's heatmap of the same class beside it. */
static int composition(ss_plan *p, const ss_rundir *r, const ss_rundir *th, int cls, ss_err *err) {
  int *order = malloc(sizeof(int) * (size_t)r->M), nc;
  if (!order) return ss_seterr(err, SS_ERUN, "out of memory");
  int nt = class_tokens(r, cls, order, &nc), nd = nt - nc;
  const int lc = p->o->log_colour;
  ss_sbuf d = {0};
  ss_sb_puts(&d, "# x = token position (common block, then distinct by P(l|n)), y = save row, c_n[l]\n");
  heat_block(&d, r, cls, order, nt, lc);
  int rc = ss_plan_file(p, "composition.dat", &d, err);
  if (rc == SS_OK && th) {
    ss_sb_puts(&d, "# the theory run's c_n, same tokens and order\n");
    heat_block(&d, th, cls, order, nt, lc);
    rc = ss_plan_file(p, "composition_theory.dat", &d, err);
  }
  const int32_t *q = NULL, *nx = NULL;
  const ss_tensor *tq = ss_st_get(&r->dyn, "query"), *tn = ss_st_get(&r->dyn, "next");
  if (tq && tn && tq->dtype == SS_I32 && tn->dtype == SS_I32 && ss_tensor_numel(tq) == r->N && ss_tensor_numel(tn) == r->N) {
    q = tq->data;
    nx = tn->data;
  }
  ss_sbuf b = {0};
  char f1[128], f2[128];
  ss_plan_name(p, "composition.dat", f1, sizeof f1);
  ss_plan_name(p, "composition_theory.dat", f2, sizeof f2);
  const int panels = th ? 2 : 1;
  ss_sb_puts(&b, "reset\n");
  if (q) ss_sb_printf(&b, "set multiplot layout 1,%d title 'Figure 4: c_n[l] of class %d (next token %d, query token %d) over training' font 'Sans,14'\n", panels, cls, nx[cls], q[cls]);
  else ss_sb_printf(&b, "set multiplot layout 1,%d title 'Figure 4: c_n[l] of class %d over training' font 'Sans,14'\n", panels, cls);
  ss_sb_puts(&b, "set xlabel 'contextual token l (id; common block, then distinct tokens by increasing P(l|n))' offset 0,-0.5 font 'Sans,10'\n"
                 "set ylabel 'step (updates)'\nset cblabel 'c_n[l] (share of attention)'\n");
  palette(&b, lc);
  ss_sb_printf(&b, "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset tmargin 6\nset bmargin 6\n", nt - 0.5, r->S - 0.5);
  ss_sb_printf(&b, "set xtics rotate by 90 right font 'Sans,%d' (", nt > 60 ? 6 : 9);
  for (int j = 0; j < nt; j++) ss_sb_printf(&b, "%s'%d' %d", j ? ", " : "", order[j], j);
  ss_sb_puts(&b, ")\n");
  step_tics(&b, r);
  if (nc > 0 && nd > 0) ss_sb_printf(&b, "set arrow 1 from %g, graph 0 to %g, graph 1 nohead lw 3 lc rgb '#d62728' front\n", nc - 0.5, nc - 0.5);
  if (nc > 0) ss_sb_printf(&b, "set label 1 'common (%d)' at %g, graph 1.04 center font 'Sans,11' tc rgb '#d62728'\n", nc, (nc - 1) / 2.0);
  if (nd > 0) ss_sb_printf(&b, "set label 2 'distinct (%d), P(l|n) increasing →' at %g, graph 1.04 center font 'Sans,11' tc rgb '#1f77b4'\n", nd, nc + (nd - 1) / 2.0);
  if (th) {
    /* one colour scale for both panels */
    double hi = 0;
    const double *ca = ss_st_get(&r->dyn, "c")->data, *cb = ss_st_get(&th->dyn, "c")->data;
    for (size_t i = 0; i < (size_t)r->S * r->N * r->M; i++) hi = fmax(hi, isfinite(ca[i]) ? ca[i] : 0);
    for (size_t i = 0; i < (size_t)th->S * th->N * th->M; i++) hi = fmax(hi, isfinite(cb[i]) ? cb[i] : 0);
    if (!lc && hi > 0) ss_sb_printf(&b, "set cbrange [0:%g]\n", hi);
  }
  ss_sb_printf(&b, "set title '%s' font 'Sans,13' offset 0,1.6\n", th ? r->label : "");
  ss_sb_printf(&b, "plot '%s' u 1:2:3 with image pixels notitle\n", f1);
  if (th) {
    ss_sb_printf(&b, "set title 'theory' font 'Sans,13' offset 0,1.6\nset yrange [-0.5:%g]\n", th->S - 0.5);
    step_tics(&b, th);
    ss_sb_printf(&b, "plot '%s' u 1:2:3 with image pixels notitle\n", f2);
  }
  ss_sb_puts(&b, "unset multiplot\n");
  free(order);
  if (rc) {
    ss_sb_free(&b);
    return rc;
  }
  char cap[320];
  snprintf(cap, sizeof cap, "Figure 4: c_n of class %d over the save steps (common and distinct blocks marked)%s", cls,
           th ? "; left the run, right the theory run" : "");
  return ss_plan_figure(p, "composition", cap, th ? 1500 : 1000, 640, &b, err);
}

/* Every class's heatmap in one grid (at most 64 classes). */
static int composition_classes(ss_plan *p, const ss_rundir *r, ss_err *err) {
  const int N = r->N < 64 ? r->N : 64, lc = p->o->log_colour;
  int *order = malloc(sizeof(int) * (size_t)r->M);
  if (!order) return ss_seterr(err, SS_ERUN, "out of memory");
  int cols = 1;
  while (cols * cols < N * 2) cols++;
  if (cols > N) cols = N;
  int rows = (N + cols - 1) / cols;
  ss_sbuf d = {0}, b = {0};
  char f[128];
  ss_plan_name(p, "composition_classes.dat", f, sizeof f);
  double hi = 0;
  const double *c = ss_st_get(&r->dyn, "c")->data;
  for (size_t i = 0; i < (size_t)r->S * r->N * r->M; i++) hi = fmax(hi, isfinite(c[i]) ? c[i] : 0);
  const int w = cols * 300 + 170 > 1000 ? cols * 300 + 170 : 1000, h = rows * 260 + 130;
  ss_sb_printf(&b, "reset\nset multiplot layout %d,%d title 'c_n[l] of every class over training" SS_GP_NL
                   "{/*0.8 x: tokens of the class, common block then distinct tokens by increasing P(l|n); y: step, upwards; one colour scale}' font 'Sans,14'",
               rows, cols);
  ss_sb_printf(&b, " margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n", 70.0 / w, 1 - 120.0 / w, 30.0 / h, 1 - 100.0 / h, 40.0 / w, 50.0 / h);
  palette(&b, lc);
  if (!lc && hi > 0) ss_sb_printf(&b, "set cbrange [0:%g]\n", hi);
  ss_sb_printf(&b, "set colorbox user origin screen %.4f, screen 0.3 size screen %.4f, screen 0.45\nset cblabel 'c_n[l]'\n", 1 - 95.0 / w, 14.0 / w);
  ss_sb_puts(&b, "unset xtics\nset ytics font 'Sans,8'\n");
  step_tics(&b, r);
  for (int n = 0; n < N; n++) {
    int nc, nt = class_tokens(r, n, order, &nc);
    ss_sb_printf(&d, "# class %d\n", n);
    heat_block(&d, r, n, order, nt, lc);
    ss_sb_puts(&d, "\n");
    ss_sb_printf(&b, "set title 'class %d' font 'Sans,10'\nset xrange [-0.5:%g]\nset yrange [-0.5:%g]\nunset arrow\n", n, nt - 0.5, r->S - 0.5);
    if (nc > 0 && nc < nt) ss_sb_printf(&b, "set arrow 1 from %g, graph 0 to %g, graph 1 nohead lw 2 lc rgb '#d62728' front\n", nc - 0.5, nc - 0.5);
    ss_sb_printf(&b, "plot '%s' index %d u 1:2:3 with image pixels notitle\n", f, n);
  }
  ss_sb_puts(&b, "unset multiplot\n");
  free(order);
  int rc = ss_plan_file(p, "composition_classes.dat", &d, err);
  if (rc) {
    ss_sb_free(&b);
    return rc;
  }
  char cap[320];
  snprintf(cap, sizeof cap, "c_n of every class over the save steps (time upwards), one colour scale%s",
           r->N > 64 ? " (the first 64 classes)" : "");
  return ss_plan_figure(p, "composition_classes", cap, w, h, &b, err);
}

/* c_n.csv: step,class,token,c for one's own plots. */
static int cn_csv(ss_plan *p, const ss_rundir *r, ss_err *err) {
  const double *c = ss_st_get(&r->dyn, "c")->data;
  const int64_t *steps = ss_st_get(&r->dyn, "steps")->data;
  ss_plan_csv f;
  int rc = ss_plan_csv_open(&f, err);
  if (rc) return rc;
  static const char *const head[] = {"step", "class", "token", "c"};
  for (int k = 0; k < 4; k++) ss_csv_field(&f.w, head[k]);
  ss_csv_endrow(&f.w);
  for (int s = 0; s < r->S; s++)
    for (int n = 0; n < r->N; n++)
      for (int l = 0; l < r->M; l++) {
        ss_csv_int(&f.w, steps[s]);
        ss_csv_int(&f.w, n);
        ss_csv_int(&f.w, l);
        ss_csv_num(&f.w, c[((size_t)s * r->N + n) * r->M + l]);
        ss_csv_endrow(&f.w);
      }
  return ss_plan_csv_close(p, &f, "c_n.csv", err);
}

int ss_plot_run(ss_plan *p, const ss_rundir *r, const ss_rundir *th, ss_err *err) {
  const ss_plot_opts *o = p->o;
  if (th && (r->lm || r->joma || !r->has_dyn))
    return ss_seterr(err, SS_EINPUT, "key 'theory': '%s' has no classes (a language-model run); a theory run is drawn over runs on classes", r->dir);
  if (o->cls >= 0 && !r->has_dyn)
    return ss_seterr(err, SS_EINPUT, "key 'class': '%s' has no classes (no c_n in dynamics.safetensors)", r->dir);
  int cls = o->cls >= 0 ? o->cls : 0;
  if (r->has_dyn && cls >= r->N) return ss_seterr(err, SS_EINPUT, "key 'class': %d is not a class of this run (0..%d)", cls, r->N - 1);
  if (th && th->S < 1) th = NULL;
  int rc = metrics_dat(p, r, "run.dat", err);
  if (rc == SS_OK && th) rc = metrics_dat(p, th, "theory.dat", err);
  if (rc) return rc;
  if (r->lm) return lm_curves(p, r, err);
  if (r->joma) return joma_curves(p, r, err);
  if ((rc = class_curves(p, r, th, err))) return rc;
  if (!r->has_dyn) return SS_OK;
  if ((rc = composition(p, r, th, cls, err))) return rc;
  if (r->N > 1 && (rc = composition_classes(p, r, err))) return rc;
  if (o->csv) rc = cn_csv(p, r, err);
  return rc;
}
