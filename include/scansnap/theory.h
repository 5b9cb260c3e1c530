/* Population dynamics (SPEC §4): the T->inf, batch->inf limit of the Y/Z model, integrated
 * as a gradient flow (theory.mode=flow) or with the run's own optimizer applied to the exact
 * population gradient (theory.mode=steps). A theory run writes the same files as a training
 * run, plus snap.json (snap detection and comparing runs: scansnap/run.h; the claims:
 * scansnap/verify.h).
 * docs/theory.md explains every definition for a user. */
#ifndef SCANSNAP_THEORY_H
#define SCANSNAP_THEORY_H
#include "scansnap/joma.h"
#include "scansnap/train.h"
#include "scansnap/yz.h"

/* The theory task of the trainer (theory.mode steps or flow): runs in a directory (same files
 * as a training run, plus snap.json; command "theory") or in memory (ss_run_opts.dir = NULL;
 * verify's grids). Theory runs are not resumed: a stopped one is run again. */
extern const ss_task_ops ss_task_theory;
/* The smallest adaptive-flow tolerance (theory.tol) accepted: below it the step-doubling
 * error estimate is rounding noise and the step size collapses. */
#define SS_THEORY_MIN_TOL 1e-13
/* JoMA's two systems (SPEC §6, docs/joma.md; src/theory/task_joma.c): model.type=joma_linear
 * and joma_toy, joma.* keys; resumable. */
extern const ss_task_ops ss_task_joma_linear;
extern const ss_task_ops ss_task_joma_toy;
/* The task of a theory run of cfg: the population dynamics (yz) or a JoMA system. */
const ss_task_ops *ss_theory_task(const ss_config *cfg);
/* The systems' options from a configuration (seed, joma.*, niter = steps, save_per_minibatch
 * = every, opt.lr = lr / eta); SS_EINPUT naming the key. The toy's mu list (joma.mu) is
 * parsed into mu [joma.d] and o->mu points at it; "" leaves o->mu NULL (drawn). */
#define SS_JOMA_TOY_MAX_D (SS_MAX_EXTRA - 2) /* v's components are metrics columns */
int ss_joma_linear_opts_from_config(const ss_config *cfg, ss_joma_linear_opts *o, ss_err *err);
int ss_joma_toy_opts_from_config(const ss_config *cfg, ss_joma_toy_opts *o, double *mu, ss_err *err);

/* The whole theory run into dir (created), like ss_train. */
int ss_theory_run(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err);
int ss_theory_run_opts(const ss_config *cfg, const ss_run_opts *o, ss_run_summary *sum, ss_err *err);
/* The same with the whole summary (a JoMA run's numbers in task_numbers). */
int ss_theory_run_summary(const ss_config *cfg, const ss_run_opts *o, ss_train_summary *sum, ss_err *err);

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

#endif
