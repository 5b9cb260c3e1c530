/* JoMA's two simulated systems (SPEC §6; Tian et al., "JoMA: Demystifying Multilayer
 * Transformers via JOint Dynamics of MLP and Attention", ICLR 2024, Figs. 2-4), as pure
 * computation: options in a plain struct with a defaults constructor, results in arrays the
 * caller provides. No files, no printing. docs/joma.md has the equations and the claims.
 *
 * Recorded rows: the state after t updates for t = 0, every, 2 every, ... and t = steps
 * (as a training run's metrics rows); ss_joma_nrows gives their number. */
#ifndef SCANSNAP_JOMA_H
#define SCANSNAP_JOMA_H
#include "scansnap/common.h"

/* Rows recorded by a run of `steps` updates recording every `every` (>= 1). */
long ss_joma_nrows(long steps, long every);
/* NC(a, b) = <a - mean a, b - mean b> / (||a - mean a|| ||b - mean b||); NAN when either
 * centred vector is exactly zero. */
double ss_joma_nc(const double *a, const double *b, int n);

/* ---- linear case (Figs. 2-3) --------------------------------------------------------------
 * Mc = n_distinct + n_common contextual tokens, one query token, K classes.
 * X [Mc, K] (column k = class k's token distribution): entries uniform in [0, 0.5); the
 * gaussian variant replaces the distinct rows l < n_distinct of class k by
 * exp(-(l - k n_distinct / K)^2 / 30); then every column is normalised to sum 1.
 * U [d, Mc+1]: identity on the Mc + 1 tokens, zero rows below (d >= Mc + 1).
 * Class k: b_k = softmax_l(z_l / T + log X[l,k]) (= exp(z/T) . x_k normalised),
 *          F_k = U_C b_k + u_q (U_C = first Mc columns, u_q = the query's column),
 *          logits F_k^T W (W [d, K]), loss = mean over k of CE(logits_k, k).
 * SGD at lr on W and z (both N(0,1) * init_scale at t = 0). JoMA's invariant:
 *   zhat = zhat_w + zhat_x + C,  zhat_w[l] = (1/2T) sum_k ((U^T W)[l,k])^2,
 *   zhat_x[l] = -(1/2T) xbar_l ||W||_F^2 (xbar = row means of X), C = z(0) - (zhat_w + zhat_x)(0). */
enum { SS_JOMA_UNIFORM = 0, SS_JOMA_GAUSSIAN = 1 };

typedef struct {
  long long seed;           /* X from stream SS_STREAM_DATA, then W and z from SS_STREAM_INIT */
  int variant;              /* SS_JOMA_UNIFORM (X uniform) or SS_JOMA_GAUSSIAN */
  int n_distinct, n_common; /* 10, 10 */
  int K;                    /* classes: 20 */
  int d;                    /* embedding rows: 30 (>= Mc + 1) */
  double T;                 /* temperature: 0.5 */
  double lr;                /* SGD on W and z: 0.1 */
  double init_scale;        /* W, z ~ N(0,1) * init_scale: 0.01 */
  long steps;               /* updates: 2000 */
  long every;               /* record every this many updates: 1 */
} ss_joma_linear_opts;

typedef struct {
  long step;      /* updates done */
  double loss;    /* mean cross-entropy over the K classes */
  double acc;     /* fraction of classes whose largest logit is their own */
  double entropy; /* mean over k of the entropy of b_k (nats) */
  double nc;      /* NC(zhat, z) */
  double nc_w;    /* NC(zhat_w, z): the sum_k (U^T w_k)^2 part alone */
  double nc_x;    /* NC(zhat_x, z): the xbar ||W||^2 part alone */
  double rel_err; /* ||z - zhat|| / ||z|| */
  double w_norm;  /* ||W||_F */
  double z_norm;  /* ||z|| */
} ss_joma_linear_row;

/* Optional outputs of a linear run (any pointer may be NULL); r = ss_joma_nrows rows. */
typedef struct {
  double *X;    /* [Mc * K] the token distribution, X[l*K + k] */
  double *z;    /* [r * Mc] z at each row */
  double *zhat; /* [r * Mc] zhat at each row */
  double *V;    /* [r * (Mc+1) * K] V = U^T W at each row (Fig. 3), V[(row*(Mc+1) + l)*K + k] */
  double *b;    /* [r * Mc * K] attention b_k at each row, b[(row*Mc + l)*K + k] */
} ss_joma_linear_trace;

void ss_joma_linear_defaults(ss_joma_linear_opts *o);
/* Runs o->steps updates; rows: [ss_joma_nrows(steps, every)]. SS_EINPUT for bad options. */
int ss_joma_linear_run(const ss_joma_linear_opts *o, ss_joma_linear_row *rows, const ss_joma_linear_trace *trace,
                       ss_err *err);

/* The linear system step by step (what ss_joma_linear_run is made of; the trainer's
 * joma_linear task runs the same pieces, so its rows are these bits):
 *   ss_joma_linear_sys_init   checks the options; X, U, xbar; W(0), z(0) into the caller's
 *                             arrays (X from the data stream, then W and z from the init
 *                             stream); C = z(0) - (zhat_w + zhat_x)(0)
 *   ss_joma_linear_sys_eval   loss and exact gradient at (W, z) (dW, dz may be NULL); keeps
 *                             the attention b and the hits for the row
 *   ss_joma_linear_sys_row    the row of the state last evaluated (zhat into s->zhat)
 * One SGD update is W -= lr dW, z -= lr dz. */
typedef struct {
  ss_joma_linear_opts o;
  int Mc, K, d;
  double *X;    /* [Mc * K] */
  double *xbar; /* [Mc] row means of X */
  double *C;    /* [Mc] zhat's constant */
  double *b;    /* [Mc * K] attention at the last evaluation */
  double *zhat; /* [Mc] at the last row */
  int hits;     /* classes whose largest logit is their own, at the last evaluation */
  double *blk;  /* the one allocation (scratch included) */
} ss_joma_linear_sys;

int ss_joma_linear_sys_init(ss_joma_linear_sys *s, const ss_joma_linear_opts *o, double *W, double *z, ss_err *err);
double ss_joma_linear_sys_eval(ss_joma_linear_sys *s, const double *W, const double *z, double *dW, double *dz);
void ss_joma_linear_sys_row(ss_joma_linear_sys *s, long step, double loss, const double *W, const double *z, ss_joma_linear_row *row);
/* V = U^T W [(Mc+1) * K] of W. */
void ss_joma_linear_sys_V(const ss_joma_linear_sys *s, const double *W, double *V);
void ss_joma_linear_sys_free(ss_joma_linear_sys *s);

/* The linear case's loss and exact gradient at (W, z) for a given X (for tests and for
 * anyone who wants the system without its SGD loop): X [Mc*K], W [d*K], z [Mc]; dW, dz
 * overwritten (either may be NULL); b [Mc*K] receives the attention if non-NULL. */
double ss_joma_linear_loss(const ss_joma_linear_opts *o, const double *X, const double *W, const double *z, double *dW,
                           double *dz, double *b);

/* ---- nonlinear toy (Fig. 4) ---------------------------------------------------------------
 * v in R^d, v(0) = v0 * 1; s = softmax(v^2 / T); v <- v + eta (mu - v) . s. */
typedef struct {
  long long seed;      /* mu's draws (stream SS_STREAM_DATA) when mu is NULL */
  int d;               /* 10 */
  double T, eta, v0;   /* 3, 0.02, 0.05 */
  double mu_lo, mu_hi; /* mu drawn uniform in [mu_lo, mu_hi), sorted ascending: 1, 4 */
  const double *mu;    /* [d] explicit targets, used in the order given; NULL = drawn */
  long steps;          /* 5000 */
  long every;          /* 1 */
} ss_joma_toy_opts;

typedef struct {
  long step;
  double entropy; /* H(softmax(v^2/T)) (nats; uniform = log d) */
  double top;     /* largest entry of softmax(v^2/T) */
  double dist;    /* (1/2) ||mu - v||^2: every component moves towards its target, so it falls */
} ss_joma_toy_row;

void ss_joma_toy_defaults(ss_joma_toy_opts *o);
/* Step by step (what ss_joma_toy_run is made of; the trainer's joma_toy task runs the same):
 * init checks the options and fills mu [d] (o->mu, or drawn and sorted) and v [d] = v0;
 * eval sets s [d] = softmax(v^2/T) and, when row is not NULL, the row of v at step `step`;
 * update is v += eta (mu - v) . s with the s of v. */
int ss_joma_toy_init(const ss_joma_toy_opts *o, double *mu, double *v, ss_err *err);
void ss_joma_toy_eval(const ss_joma_toy_opts *o, const double *mu, const double *v, double *s, long step, ss_joma_toy_row *row);
void ss_joma_toy_update(const ss_joma_toy_opts *o, const double *mu, double *v, const double *s);
/* rows: [ss_joma_nrows(steps, every)]; v (may be NULL): [rows * d] v at each row;
 * mu (may be NULL): [d] the targets used. SS_EINPUT for bad options. */
int ss_joma_toy_run(const ss_joma_toy_opts *o, ss_joma_toy_row *rows, double *v, double *mu, ss_err *err);

/* ---- the claims (docs/joma.md), computed from runs ---------------------------------------
 * J1: in the linear case NC(zhat, z) stays high over the whole run: its minimum over every
 *     row of every run (both X variants, each seed) is at least SS_JOMA_J1_NC_MIN.
 * J2: in the toy, the entropy falls to a minimum strictly inside the run (neither the first
 *     nor the last row) and then rises again by the end, by at least SS_JOMA_J2_RISE nats
 *     and by at least SS_JOMA_J2_RISE_FRAC of the fall (h_start - h_min). */
#define SS_JOMA_J1_NC_MIN 0.9
#define SS_JOMA_J2_RISE 0.05
#define SS_JOMA_J2_RISE_FRAC 0.1
#define SS_JOMA_MAX_SEEDS 16

typedef struct {
  int pass;
  int nseeds;
  long long seeds[SS_JOMA_MAX_SEEDS];
  double nc_min[2][SS_JOMA_MAX_SEEDS];  /* [variant][seed]: minimum of NC(zhat, z) over the run */
  long step_min[2][SS_JOMA_MAX_SEEDS];  /* where it is reached */
  double nc_end[2][SS_JOMA_MAX_SEEDS];  /* at the last row */
  double nc_w_min[2][SS_JOMA_MAX_SEEDS]; /* the parts alone: minima of NC(zhat_w, z), NC(zhat_x, z) */
  double nc_x_min[2][SS_JOMA_MAX_SEEDS];
  double worst; /* minimum over everything */
} ss_joma_j1;

typedef struct {
  int pass;
  double h_start, h_min, h_end; /* entropy at the first row, its minimum, at the last row */
  long step_min, step_end;
  double fall; /* h_start - h_min */
  double rise; /* h_end - h_min */
} ss_joma_j2;

/* J1 over both variants and seeds[0..nseeds) (at most SS_JOMA_MAX_SEEDS) with every other
 * option from base (its seed and variant are ignored). */
int ss_joma_claim_j1(const ss_joma_linear_opts *base, const long long *seeds, int nseeds, ss_joma_j1 *out, ss_err *err);
/* J2 from a toy run's rows. */
void ss_joma_claim_j2(const ss_joma_toy_row *rows, long n, ss_joma_j2 *out);

#endif
