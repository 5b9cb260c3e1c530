/* Population dynamics (SPEC §4): the T->inf, batch->inf limit of the Y/Z model, integrated
 * as a gradient flow (theory.mode=flow) or with the run's own optimizer applied to the exact
 * population gradient (theory.mode=steps). A theory run writes the same files as a training
 * run, plus snap.json. Also here: snap detection (the phase transition of SPEC §4 claim 3),
 * comparing two runs, and `verify`, the measured check of the four claims.
 * docs/theory.md explains every definition for a user. */
#ifndef SCANSNAP_THEORY_H
#define SCANSNAP_THEORY_H
#include "scansnap/train.h"
#include "scansnap/yz.h"

/* The whole theory run into dir (created), like ss_train. */
int ss_theory_run(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err);

/* ---- population loss and exact gradient (SPEC §4) ---------------------------------------
 * J(Y,Z) = sum_n pi_n (-log softmax(Y f_n)[next_n]), pi uniform, f_n = c~_n/||c~_n|| (or c~_n
 * when normalize is off), c~_n = c_n (+ e_{query_n} with residual). include_base_token has no
 * effect in the limit (one key among infinitely many). Cost O(N M S) per call, S = largest
 * class support (+1): f_n is sparse. */
typedef struct ss_pop ss_pop;
int ss_pop_new(const ss_classes *cl, const ss_yz_opts *o, ss_pop **out, ss_err *err);
/* params/grads: [Y (M*M) | Z (M*M)], row-major; grads overwritten with dJ/dparams.
 * acc = fraction of classes whose largest logit is their next token. grads may be NULL. */
void ss_pop_eval(ss_pop *p, const double *params, double *grads, double *loss, double *acc);
void ss_pop_free(ss_pop *p);

/* The theory trajectory of cfg over class table cl into rec (initialised by the caller), in
 * memory: rows at step 0, every save_per_minibatch and niter, as a training run. final, if
 * non-NULL, receives the model at the end (caller frees with ss_model_free). */
int ss_theory_trajectory(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_model **final,
                         ss_err *err);

/* The SGD run ss_train would make (synthetic batches), in memory without its files: same
 * rows, bit for bit (verify's grids; checked in test_verify). */
int ss_sgd_trajectory(const ss_config *cfg, const ss_classes *cl, ss_recorder *rec, ss_err *err);

/* ---- snap detection (docs/theory.md "The snap") ----------------------------------------
 * Concentration of class n: kappa_n(t) = H(c_n(0)) - H(c_n(t)) (nats). It is smoothed by a
 * centred moving average over `window` rows (shrinking at the ends); rate_max is the largest
 * slope between consecutive smoothed rows (per step), at row i_p. t0 is the step of the first
 * row i > i_p such that for every later row j >= i + min_after the smoothed curve rises by at
 * most rho * rate_max per step: (s_j - s_i)/(t_j - t_i) <= rho * rate_max. Chords of at least
 * min_after intervals average out row-to-row SGD noise. No transition (t0 = null) when
 * rate_max <= min_rate (nothing concentrates) or no such row exists with min_after intervals
 * to spare (still accelerating, or growing linearly, to the end of the run). */
typedef struct {
  double rho;      /* "much more slowly": fraction of the fastest rate (default 0.1) */
  int window;      /* moving-average window in rows, odd (default 5) */
  int min_after;   /* shortest stretch (in intervals) that must follow t0 (default 3) */
  double min_rate; /* nats per step below which nothing is happening (default 1e-4) */
} ss_snap_opts;

typedef struct {
  int found;
  double t0;         /* step; NAN when not found */
  double rate_max;   /* nats per step */
  double step_max;   /* step at which the fastest interval starts */
  double rate_after; /* mean rate from t0 to the end; NAN when not found */
} ss_snap_class;

void ss_snap_default_opts(ss_snap_opts *o);
/* One series: steps[n] increasing, kappa[n]. */
void ss_snap_detect(const double *steps, const double *kappa, int n, const ss_snap_opts *o, ss_snap_class *out);
/* Every class of a recorder; out: [N]; returns the number of classes with a transition and
 * their mean t0 in *t0_mean (NAN if none). */
int ss_snap_recorder(const ss_recorder *r, const ss_snap_opts *o, ss_snap_class *out, double *t0_mean);
/* snap.json into dir (default options):
 * {"method", "measure", "rho", "window", "min_after", "min_rate", "t0", "found", "classes": [...]} */
int ss_snap_write(const ss_recorder *r, const char *dir, ss_err *err);

/* ---- comparing two runs ------------------------------------------------------------------
 * Over the save steps both runs share (up to max_step when >= 0): for each class n,
 * d_n(t) = max_l |c_A[n,l](t) - c_B[n,l](t)|, reported as its max and mean over t; and for
 * each scalar column of metrics.csv both have, the max and mean over t of |A - B|. */
#define SS_CMP_MAX_SCALARS 32
typedef struct {
  char name[48];
  double max, mean;
} ss_cmp_scalar;
typedef struct {
  int N, M, nshared;
  long long first, last; /* shared steps range */
  double *cls_max, *cls_mean; /* [N] */
  double max, mean;           /* max over classes of cls_max, mean over classes of cls_mean */
  int nscalar;
  ss_cmp_scalar scalar[SS_CMP_MAX_SCALARS];
} ss_compare;
int ss_compare_runs(const char *dir_a, const char *dir_b, long long max_step, ss_compare *out, ss_err *err);
void ss_compare_free(ss_compare *c);

/* ---- verify: the four claims of SPEC §4 -------------------------------------------------- */
enum { SS_CLAIM_PASS = 0, SS_CLAIM_FAIL = 1, SS_CLAIM_SKIP = 2 };
#define SS_CLAIM_MAX_NUMBERS 160
typedef struct {
  int id;
  const char *name;
  int status;
  char measured[512];
  char why[512];
  int nnumbers, nkey; /* the first nkey numbers are the headline ones (printed in the table) */
  char number_names[SS_CLAIM_MAX_NUMBERS][40];
  double numbers[SS_CLAIM_MAX_NUMBERS];
} ss_claim;

/* Runs every claim from cfg (the Figure-4 run plus the user's overrides; the claim-3 grids
 * set their own data/learning-rate keys), writes claims.json and the runs it made into dir.
 * Returns SS_OK when the checks ran (whatever they found); claims[4] receives the results. */
int ss_verify(const ss_config *cfg, const char *dir, ss_claim claims[4], ss_err *err);

/* Claim 4 (real text) hook, implemented by the real-text concern (src/text/claim4.c); verify
 * calls it with dir = <verify dir>/text. Contract:
 *   measured: one line saying what was measured (n bytes);
 *   numbers:  SS_CLAIM4_NUMBERS values, named by ss_claim4_number_names (NAN when unknown):
 *             attention entropy at the start and at the end, attention mass on the most
 *             frequent tokens at the start and at the end;
 *   status:   SS_CLAIM_PASS / SS_CLAIM_FAIL / SS_CLAIM_SKIP; write the reason of a SKIP or
 *             FAIL into err->msg (err->code stays SS_OK) and return SS_OK;
 *   return:   an SS_E* code only when the check itself broke (then verify fails). */
#define SS_CLAIM4_NUMBERS 4
extern const char *const ss_claim4_number_names[SS_CLAIM4_NUMBERS];
int ss_claim4_text(const ss_config *cfg, const char *dir, char *measured, size_t n, double *numbers, int *status,
                   ss_err *err);

#endif
