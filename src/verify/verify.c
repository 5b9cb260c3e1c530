/* `verify`: the four claims of SPEC §4 as measured PASS/FAIL/SKIP (docs/theory.md).
 *
 * Runs, under dir:
 *   theory/   the theory run (theory.mode from cfg) of the base configuration (built-in: the
 *             paper's Figure-4 run, plus the user's overrides)
 *   sgd/      the SGD training run of the same configuration
 *   text/     claim 4's language-model run (src/verify/claim4.c)
 * and, in memory only (milliseconds each; a run directory's fsyncs would cost more than the
 * run), the runs of the claim-3 grids (configs/claim3.yaml). Grid runs are independent, so
 * they run in parallel over runs (OpenMP); each writes its own slot of the result arrays, so
 * the results do not depend on the number of threads. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/verify.h"
#include "verify/verify_int.h"

/* Thresholds (docs/theory.md says why each is what it is). */
#define MASS_MOVE 0.01       /* claim 1: common mass must fall, distinct rise, by at least this */
#define TAU_THEORY 0.99      /* claim 2 */
#define TAU_SGD 0.8
#define SPREAD_MIN 1e-3      /* claim 2: log(c/P) over distinct tokens must spread this much, else tau orders noise */
#define NOT_ONE_HOT 0.5      /* claim 3: final distinct-token entropy (nats) above this */

/* The claim-3 grid: the paper's Figure-6 learning rates (configs/claim3.yaml says the rest). */
static const double grid_eta[4] = {0.5, 1, 2, 3};
static const double grid_ratio[4] = {1, 2, 5, 10};
static const int grid_more_last[3] = {3, 5, 10};

void ss_verify_opts_default(ss_verify_opts *o) { memset(o, 0, sizeof *o); }

void ss_claim_add(ss_claim *c, const char *name, double v) {
  if (c->nnumbers >= SS_CLAIM_MAX_NUMBERS) return;
  snprintf(c->number_names[c->nnumbers], sizeof c->number_names[0], "%.39s", name);
  c->numbers[c->nnumbers++] = v;
}

static int setk(ss_config *c, const char *key, const char *fmt, double v, ss_err *err) {
  char buf[64];
  snprintf(buf, sizeof buf, fmt, v);
  return ss_config_set(c, key, buf, err);
}

/* A claim-3 grid configuration: configs/claim3.yaml over the base, num_last query tokens,
 * eta_Z = eta, eta_Y = eta * ratio, the base run's optimizer and length. */
static int grid_cfg(const ss_config *base, int num_last, double eta, double ratio, int zero_init, long long seed, ss_config *c,
                    ss_err *err) {
  *c = *base;
  int rc = ss_config_load_yaml_text(c, ss_config_builtin("claim3"), "configs/claim3.yaml", err);
  if (rc || (rc = setk(c, "data.num_last", "%.0f", num_last, err)) || (rc = setk(c, "opt.lr_z", "%.17g", eta, err)) ||
      (rc = setk(c, "opt.lr_y", "%.17g", eta * ratio, err)) || (rc = setk(c, "seed", "%.0f", (double)seed, err)) ||
      (rc = ss_config_set(c, "model.zero_init", zero_init ? "true" : "false", err)))
    return rc;
  c->out[0] = 0;
  c->data.classes[0] = 0; /* the grid is the paper's generator */
  c->data.sequences[0] = 0;
  return ss_config_validate(c, err);
}

typedef struct {
  double H_end, t0;
  int found, rc;
  char msg[256];
} grid_res;

/* One in-memory run of task ops: final average distinct-token entropy and snap t0. */
static void grid_run(const ss_config *c, const ss_task_ops *ops, const ss_verify_opts *vo, grid_res *g) {
  ss_err err = {0};
  ss_trainer tr;
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.stop = vo->stop;
  g->H_end = g->t0 = NAN;
  g->rc = ss_trainer_init(&tr, c, &o, ops, &err);
  if (g->rc == SS_OK) g->rc = ss_trainer_run(&tr, &err);
  if (g->rc == SS_OK && tr.rec.nrows) {
    g->H_end = tr.rec.last.avg.entropy_distinct;
    ss_snap_opts so;
    ss_snap_default_opts(&so);
    ss_snap_class *sc = malloc(sizeof(ss_snap_class) * (size_t)tr.rec.cl->N);
    if (sc) {
      g->found = ss_snap_recorder(&tr.rec, &so, sc, &g->t0);
      free(sc);
    }
  } else if (g->rc) {
    snprintf(g->msg, sizeof g->msg, "%.250s", err.msg);
  }
  ss_trainer_free(&tr);
}

/* ---- the base runs: theory and SGD of the configuration itself ---------------------------- */
typedef struct {
  ss_trainer th;     /* the theory run (kept open: its rows, per-class metrics and c_n) */
  int have_th;
  ss_run_summary sgd;
  char *d_th, *d_sgd;
  ss_compare cmp;
  int have_cmp;
} base_runs;

static int run_base(const ss_config *cfg, const ss_verify_opts *vo, const char *dir, base_runs *b, ss_err *err) {
  memset(b, 0, sizeof *b);
  b->d_th = ss_path_join(dir, "theory");
  b->d_sgd = ss_path_join(dir, "sgd");
  if (!b->d_th || !b->d_sgd) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.stop = vo->stop;
  o.dir = b->d_th;
  o.command = "theory";
  int rc = ss_trainer_init(&b->th, cfg, &o, &ss_task_theory, err);
  b->have_th = 1;
  if (rc == SS_OK) rc = ss_trainer_run(&b->th, err);
  if (rc) return rc;
  ss_train_summary s;
  o.dir = b->d_sgd;
  o.command = "train";
  if ((rc = ss_train_run(cfg, &o, &s, err))) {
    if (rc != SS_EDIVERGE) return rc;
    rc = SS_OK; /* a diverged SGD run is a measured failure, not a broken check */
  }
  b->sgd = s.run;
  ss_err e2;
  b->have_cmp = ss_compare_runs(b->d_th, b->d_sgd, -1, &b->cmp, &e2) == SS_OK;
  return rc;
}

static void free_base(base_runs *b) {
  if (b->have_cmp) ss_compare_free(&b->cmp);
  if (b->have_th) ss_trainer_free(&b->th);
  free(b->d_th);
  free(b->d_sgd);
}

/* ---- claim 1: fates of tokens ---------------------------------------------------------- */
static void claim_fates(const base_runs *b, ss_claim *c) {
  const ss_recorder *rec = &b->th.rec;
  const ss_classes *cl = rec->cl;
  const int N = cl->N, M = cl->M, R = rec->nrows;
  const ss_class_metrics *per0 = rec->per, *perE = rec->per + (size_t)N * (R - 1);
  const ss_run_summary *sgd = &b->sgd;
  int ok_th = 1;
  double worst_fall = INFINITY, worst_rise = INFINITY;
  for (int n = 0; n < N; n++) {
    double fall = per0[n].common_mass - perE[n].common_mass, rise = perE[n].distinct_mass - per0[n].distinct_mass;
    worst_fall = fmin(worst_fall, fall);
    worst_rise = fmin(worst_rise, rise);
    int has_common = 0;
    for (int l = 0; l < M; l++) has_common |= cl->kind[(size_t)n * M + l] == SS_TOK_COMMON;
    if ((has_common && fall < MASS_MOVE) || rise < MASS_MOVE) ok_th = 0;
  }
  double fall_sgd = sgd->start.common_mass - sgd->end.common_mass, rise_sgd = sgd->end.distinct_mass - sgd->start.distinct_mass;
  int ok_sgd = fall_sgd >= MASS_MOVE && rise_sgd >= MASS_MOVE;
  const ss_class_metrics *a0 = &rec->first.avg, *aE = &rec->last.avg;
  c->status = ok_th && ok_sgd ? SS_CLAIM_PASS : SS_CLAIM_FAIL;
  snprintf(c->measured, sizeof c->measured,
           "common mass %.3f->%.3f theory, %.3f->%.3f SGD; distinct mass %.3f->%.3f theory, %.3f->%.3f SGD", a0->common_mass,
           aE->common_mass, sgd->start.common_mass, sgd->end.common_mass, a0->distinct_mass, aE->distinct_mass, sgd->start.distinct_mass,
           sgd->end.distinct_mass);
  ss_claim_add(c, "theory_common_mass_start", a0->common_mass);
  ss_claim_add(c, "theory_common_mass_end", aE->common_mass);
  ss_claim_add(c, "sgd_common_mass_start", sgd->start.common_mass);
  ss_claim_add(c, "sgd_common_mass_end", sgd->end.common_mass);
  ss_claim_add(c, "theory_distinct_mass_start", a0->distinct_mass);
  ss_claim_add(c, "theory_distinct_mass_end", aE->distinct_mass);
  ss_claim_add(c, "sgd_distinct_mass_start", sgd->start.distinct_mass);
  ss_claim_add(c, "sgd_distinct_mass_end", sgd->end.distinct_mass);
  c->nkey = c->nnumbers;
  ss_claim_add(c, "theory_min_class_common_fall", worst_fall);
  ss_claim_add(c, "theory_min_class_distinct_rise", worst_rise);
  if (b->have_cmp) {
    ss_claim_add(c, "theory_vs_sgd_max_abs_c_diff", b->cmp.max);
    ss_claim_add(c, "theory_vs_sgd_mean_abs_c_diff", b->cmp.mean);
  }
  snprintf(c->why, sizeof c->why,
           "PASS needs, from step 0 to the end, common mass to fall and distinct mass to rise by >= %.2f in every class in theory "
           "and on average in SGD (%s; %s)",
           MASS_MOVE, ok_th ? "theory ok" : "theory fails", ok_sgd ? "SGD ok" : "SGD fails");
}

/* ---- claim 2: scanning order ----------------------------------------------------------- */
static void claim_order(const base_runs *b, ss_claim *c) {
  const ss_recorder *rec = &b->th.rec;
  const ss_classes *cl = rec->cl;
  const int N = cl->N, M = cl->M, R = rec->nrows;
  double tau_min = INFINITY;
  for (int i = 1; i < R; i++)
    for (int n = 0; n < N; n++) tau_min = fmin(tau_min, rec->per[(size_t)N * i + n].kendall_tau);
  if (R < 2) tau_min = NAN;
  /* spread of log(c/P) = Z over the distinct tokens at the end, smallest over classes */
  double spread = INFINITY;
  const double *cE = rec->c_last;
  for (int n = 0; n < N; n++) {
    double lo = INFINITY, hi = -INFINITY;
    for (int l = 0; l < M; l++)
      if (cl->kind[(size_t)n * M + l] == SS_TOK_DISTINCT) {
        double v = log(cE[(size_t)n * M + l] / cl->prob[(size_t)n * M + l]);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
      }
    if (hi >= lo) spread = fmin(spread, hi - lo);
  }
  int ok = tau_min >= TAU_THEORY && b->sgd.end.kendall_tau >= TAU_SGD && spread >= SPREAD_MIN;
  c->status = ok ? SS_CLAIM_PASS : SS_CLAIM_FAIL;
  snprintf(c->measured, sizeof c->measured,
           "Kendall tau(P(l|n), c_n[l]/P(l|n)) over distinct tokens: min over classes and steps > 0 in theory %.4f; "
           "SGD at the end %.4f; spread of log(c/P) %.3g",
           tau_min, b->sgd.end.kendall_tau, spread);
  ss_claim_add(c, "theory_tau_min", tau_min);
  ss_claim_add(c, "sgd_tau_end", b->sgd.end.kendall_tau);
  ss_claim_add(c, "theory_logratio_spread_end", spread);
  c->nkey = c->nnumbers;
  ss_claim_add(c, "theory_tau_end", rec->last.avg.kendall_tau);
  snprintf(c->why, sizeof c->why,
           "PASS needs theory tau >= %.2f in every class at every save step after step 0, SGD mean tau >= %.2f at the end, "
           "and log(c/P) over distinct tokens spread by >= %.0e (else tau orders rounding noise)",
           TAU_THEORY, TAU_SGD, SPREAD_MIN);
}

/* ---- claim 3: snap ---------------------------------------------------------------------
 * grids: theory (zero init) at num_last = 1 and 3/5/10; SGD (default init) at num_last = 1. */
typedef struct {
  int G, GM, S, NS;
  grid_res *g1, *gm, *sgd; /* [G], [GM], [NS]: sgd cell k = (eta, ratio, seed) */
} grids;

static int run_grids(const ss_config *cfg, const ss_verify_opts *vo, int threads, grids *gr, ss_err *err) {
  const int grid = cfg->verify.grid;
  gr->G = grid ? 16 : 0;
  gr->GM = grid && cfg->verify.more_last ? 3 * 16 : 0;
  gr->S = cfg->verify.seeds;
  gr->NS = grid ? 16 * gr->S : 0;
  gr->g1 = calloc((size_t)gr->G + 1, sizeof *gr->g1);
  gr->gm = calloc((size_t)gr->GM + 1, sizeof *gr->gm);
  gr->sgd = calloc((size_t)gr->NS + 1, sizeof *gr->sgd);
  if (!gr->g1 || !gr->gm || !gr->sgd) return ss_seterr(err, SS_ERUN, "out of memory");
  const int G = gr->G, GM = gr->GM, S = gr->S, total = G + GM + gr->NS;
#pragma omp parallel for schedule(dynamic) num_threads(ss_threads_for(threads))
  for (int k = 0; k < total; k++) {
    ss_config gc;
    ss_err e = {0};
    grid_res *g;
    int rc;
    if (k < G + GM) { /* theory, zero init */
      const int nl = k < G ? 1 : grid_more_last[(k - G) / 16], cell = k % 16;
      g = k < G ? &gr->g1[k] : &gr->gm[k - G];
      rc = grid_cfg(cfg, nl, grid_eta[cell / 4], grid_ratio[cell % 4], 1, cfg->seed, &gc, &e);
      if (rc == SS_OK) grid_run(&gc, &ss_task_theory, vo, g);
    } else { /* SGD, default init, seeds 1..S */
      const int j = k - G - GM, ie = j / (4 * S), ir = (j / S) % 4, seed = 1 + j % S;
      g = &gr->sgd[j];
      rc = grid_cfg(cfg, 1, grid_eta[ie], grid_ratio[ir], 0, seed, &gc, &e);
      if (rc == SS_OK) grid_run(&gc, &ss_task_synthetic, vo, g);
    }
    if (rc) {
      g->rc = rc;
      g->H_end = g->t0 = NAN;
      snprintf(g->msg, sizeof g->msg, "%.250s", e.msg);
    }
  }
  /* the first run that broke (not diverged: that is a measured outcome) breaks the check */
  for (int k = 0; k < total; k++) {
    const grid_res *g = k < G ? &gr->g1[k] : k < G + GM ? &gr->gm[k - G] : &gr->sgd[k - G - GM];
    if (g->rc && g->rc != SS_EDIVERGE)
      return ss_seterr(err, g->rc, "%s%.900s", k < G + GM ? "claim-3 theory grid: " : "", g->msg);
  }
  return SS_OK;
}

static void free_grids(grids *gr) {
  free(gr->g1);
  free(gr->gm);
  free(gr->sgd);
}

static double read_snap_t0(const char *dir, int *found) {
  char *p = ss_path_join(dir, "snap.json");
  json_error_t je;
  json_t *j = p ? json_load_file(p, 0, &je) : NULL;
  free(p);
  double t0 = NAN;
  *found = 0;
  if (!j) return t0;
  json_t *t = json_object_get(j, "t0"), *f = json_object_get(j, "found");
  if (json_is_number(t)) t0 = json_number_value(t);
  if (json_is_integer(f)) *found = (int)json_integer_value(f);
  json_decref(j);
  return t0;
}

static void claim_snap(const ss_config *cfg, const base_runs *b, const grids *gr, ss_claim *c) {
  const ss_recorder *rec = &b->th.rec;
  const int N = rec->cl->N, grid = cfg->verify.grid, G = gr->G, GM = gr->GM, S = gr->S;
  ss_snap_opts so;
  ss_snap_default_opts(&so);
  ss_snap_class *sc = malloc(sizeof(ss_snap_class) * (size_t)N);
  double t0_th = NAN;
  int found_th = sc ? ss_snap_recorder(rec, &so, sc, &t0_th) : 0, found_sgd = 0;
  free(sc);
  const double t0_sgd = read_snap_t0(b->d_sgd, &found_sgd);
  const double H_th = rec->last.avg.entropy_distinct, H_sgd = b->sgd.end.entropy_distinct;
  const int ok_snap = found_th == N && found_sgd > 0;
  const int ok_hot = H_th > NOT_ONE_HOT && H_sgd > NOT_ONE_HOT;
  int ok_theory_mono = 1, ok_sgd_grid = 1;
  double worst_step = INFINITY, worst_sgd = INFINITY;
  for (int ie = 0; ie < 4 && grid; ie++) {
    for (int ir = 1; ir < 4; ir++) {
      double d = gr->g1[ie * 4 + ir].H_end - gr->g1[ie * 4 + ir - 1].H_end;
      if (!(d > 0)) ok_theory_mono = 0;
      worst_step = fmin(worst_step, d);
    }
    double m1 = 0, m10 = 0;
    for (int s = 0; s < S; s++) {
      m1 += gr->sgd[(ie * 4 + 0) * S + s].H_end / S;
      m10 += gr->sgd[(ie * 4 + 3) * S + s].H_end / S;
    }
    if (!(m10 > m1)) ok_sgd_grid = 0;
    worst_sgd = fmin(worst_sgd, m10 - m1);
  }
  c->status = !(ok_snap && ok_hot) ? SS_CLAIM_FAIL : !grid ? SS_CLAIM_SKIP : ok_theory_mono && ok_sgd_grid ? SS_CLAIM_PASS : SS_CLAIM_FAIL;
  if (grid)
    snprintf(c->measured, sizeof c->measured,
             "t0 theory %.0f (%d/%d classes), SGD %.0f (%d); final distinct entropy theory %.3f, SGD %.3f; num_last=1 grid: "
             "theory H rises with eta_Y/eta_Z %s (smallest step %+.4f), SGD mean H(10) - H(1) smallest %+.4f",
             t0_th, found_th, N, t0_sgd, found_sgd, H_th, H_sgd, ok_theory_mono ? "for every eta_Z" : "NOT for every eta_Z", worst_step,
             worst_sgd);
  else
    snprintf(c->measured, sizeof c->measured,
             "t0 theory %.0f (%d/%d classes), SGD %.0f (%d); final distinct entropy theory %.3f, SGD %.3f; learning-rate grid "
             "not run (verify.grid=false)",
             t0_th, found_th, N, t0_sgd, found_sgd, H_th, H_sgd);
  ss_claim_add(c, "theory_t0", t0_th);
  ss_claim_add(c, "sgd_t0", t0_sgd);
  ss_claim_add(c, "theory_H_distinct_end", H_th);
  ss_claim_add(c, "sgd_H_distinct_end", H_sgd);
  if (grid) {
    ss_claim_add(c, "theory_grid_min_step", worst_step);
    ss_claim_add(c, "sgd_grid_min_gain", worst_sgd);
  }
  c->nkey = c->nnumbers;
  char nm[64];
  for (int k = 0; k < G; k++) {
    snprintf(nm, sizeof nm, "theory_nl1_H_z%g_r%g", grid_eta[k / 4], grid_ratio[k % 4]);
    ss_claim_add(c, nm, gr->g1[k].H_end);
  }
  for (int k = 0; k < G; k++) {
    snprintf(nm, sizeof nm, "theory_nl1_t0_z%g_r%g", grid_eta[k / 4], grid_ratio[k % 4]);
    ss_claim_add(c, nm, gr->g1[k].t0);
  }
  for (int cell = 0; cell < 16 && grid; cell++) {
    const grid_res *g = gr->sgd + cell * S;
    double m = 0, v = 0, tm = 0;
    int tn = 0;
    for (int s = 0; s < S; s++) m += g[s].H_end / S;
    for (int s = 0; s < S; s++) v += pow(g[s].H_end - m, 2) / (S > 1 ? S - 1 : 1);
    for (int s = 0; s < S; s++)
      if (isfinite(g[s].t0)) {
        tm += g[s].t0;
        tn++;
      }
    snprintf(nm, sizeof nm, "sgd_nl1_H_mean_z%g_r%g", grid_eta[cell / 4], grid_ratio[cell % 4]);
    ss_claim_add(c, nm, m);
    snprintf(nm, sizeof nm, "sgd_nl1_H_std_z%g_r%g", grid_eta[cell / 4], grid_ratio[cell % 4]);
    ss_claim_add(c, nm, sqrt(v));
    snprintf(nm, sizeof nm, "sgd_nl1_t0_z%g_r%g", grid_eta[cell / 4], grid_ratio[cell % 4]);
    ss_claim_add(c, nm, tn ? tm / tn : NAN); /* mean over the seeds with a snap */
  }
  for (int k = 0; k < GM; k++) {
    snprintf(nm, sizeof nm, "theory_nl%d_H_z%g_r%g", grid_more_last[k / 16], grid_eta[(k % 16) / 4], grid_ratio[k % 4]);
    ss_claim_add(c, nm, gr->gm[k].H_end);
  }
  snprintf(c->why, sizeof c->why,
           "PASS needs: snap t0 found in every class in theory and in SGD (%s); final distinct-token entropy > %.1f nats in "
           "both (%s); with num_last=1 (theory, zero init) final entropy strictly rising in eta_Y/eta_Z in {1,2,5,10} for "
           "every eta_Z in {0.5,1,2,3} (%s); SGD (default init, seeds 1..%d) mean at ratio 10 above ratio 1 for every eta_Z (%s). "
           "t0 per cell and num_last=3/5/10 are reported only",
           ok_snap ? "ok" : "fails", NOT_ONE_HOT, ok_hot ? "ok" : "fails", !grid ? "not run" : ok_theory_mono ? "ok" : "fails", S,
           !grid ? "not run" : ok_sgd_grid ? "ok" : "fails");
}

/* ---- claims.json ---- */
static int write_claims(const char *dir, const ss_claim *cl, int n, ss_err *err) {
  static const char *st[] = {"PASS", "FAIL", "SKIP"};
  json_t *root = json_object(), *arr = json_array();
  int all = 1;
  for (int i = 0; i < n; i++) {
    json_t *o = json_object(), *nums = json_object();
    for (int k = 0; k < cl[i].nnumbers; k++)
      json_object_set_new(nums, cl[i].number_names[k], isfinite(cl[i].numbers[k]) ? json_real(cl[i].numbers[k]) : json_null());
    json_object_set_new(o, "id", json_integer(cl[i].id));
    json_object_set_new(o, "name", json_string(cl[i].name));
    json_object_set_new(o, "status", json_string(st[cl[i].status]));
    json_object_set_new(o, "measured", json_string(cl[i].measured));
    json_object_set_new(o, "numbers", nums);
    json_object_set_new(o, "why", json_string(cl[i].why));
    json_array_append_new(arr, o);
    if (cl[i].status == SS_CLAIM_FAIL) all = 0;
  }
  json_object_set_new(root, "claims", arr);
  json_object_set_new(root, "all_passed", json_boolean(all));
  char *p = ss_path_join(dir, "claims.json");
  int rc = ss_write_json_atomic(p, root, JSON_INDENT(2) | JSON_REAL_PRECISION(10), err);
  free(p);
  return rc;
}

/* Claims 1-4 of the paper into claims[0..4). */
static int verify_paper(const ss_config *cfg_in, const ss_verify_opts *vo, const char *dir, ss_claim *claims, ss_err *err) {
  ss_config cfg = *cfg_in;
  cfg.out[0] = 0;
  /* Every run verify makes is small (milliseconds): one thread each, parallelism over runs.
   * Results do not depend on the thread count. */
  cfg.threads = 1;
  base_runs b;
  grids gr = {0};
  int rc = run_base(&cfg, vo, dir, &b, err);
  if (rc) goto out;
  claim_fates(&b, &claims[0]);
  claim_order(&b, &claims[1]);
  if ((rc = run_grids(&cfg, vo, cfg_in->threads, &gr, err))) goto out;
  claim_snap(&cfg, &b, &gr, &claims[2]);
  char *d_text = ss_path_join(dir, "text");
  rc = ss_claim4_text(cfg_in, vo, d_text, &claims[3], err);
  free(d_text);
out:
  free_grids(&gr);
  free_base(&b);
  return rc;
}

int ss_verify(const ss_config *cfg_in, const ss_verify_opts *vo_in, const char *dir, ss_claim *claims, int *nclaims, ss_err *err) {
  static const char *names[SS_VERIFY_MAX_CLAIMS] = {"fates of tokens", "scanning order", "snap", "real text",
                                                    "J1: NC(zhat, z) stays high (JoMA linear)", "J2: toy entropy falls, then rises",
                                                    "J3: text: entropy falls, then rises"};
  *nclaims = 0;
  ss_verify_opts vo;
  if (vo_in)
    vo = *vo_in;
  else
    ss_verify_opts_default(&vo);
  const int which = cfg_in->verify.claims, paper = which != SS_VERIFY_JOMA, joma = which != SS_VERIFY_PAPER;
  if (paper && cfg_in->model.type != SS_MODEL_YZ)
    return ss_seterr(err, SS_EINPUT, "key 'model.type': verify checks the yz model's claims (claim 4 trains its own transformer; verify.claims=joma "
                                     "runs JoMA's systems whatever model.type)");
  if (cfg_in->verify.j3 && !joma) return ss_seterr(err, SS_EINPUT, "key 'verify.j3': J3 is one of JoMA's claims: give verify.claims=joma or all");
  if (!cfg_in->verify.j3 && (cfg_in->verify.j3_niter || cfg_in->verify.j3_max_vocab))
    return ss_seterr(err, SS_EINPUT, "key '%s': it shapes J3's runs, which run only with verify.j3=true", cfg_in->verify.j3_niter ? "verify.j3_niter" : "verify.j3_max_vocab");
  const int n = (paper ? 4 : 0) + (joma ? 2 + cfg_in->verify.j3 : 0);
  memset(claims, 0, sizeof(ss_claim) * (size_t)n);
  int rc = ss_mkdir_p(dir, err);
  if (rc) return rc;
  int k = 0;
  if (paper) {
    for (int i = 0; i < 4; i++) claims[i] = (ss_claim){.id = i + 1, .name = names[i]};
    if ((rc = verify_paper(cfg_in, &vo, dir, claims, err))) return rc;
    k = 4;
  }
  if (joma) {
    for (int i = 0; i < 2 + cfg_in->verify.j3; i++) claims[k + i] = (ss_claim){.id = 5 + i, .name = names[4 + i]};
    if ((rc = ss_claim_joma_j1(cfg_in, &vo, dir, &claims[k], err)) || (rc = ss_claim_joma_j2(cfg_in, &vo, dir, &claims[k + 1], err))) return rc;
    if (cfg_in->verify.j3 && (rc = ss_claim_joma_j3(cfg_in, &vo, dir, &claims[k + 2], err))) return rc;
  }
  *nclaims = n;
  return write_claims(dir, claims, n, err);
}
