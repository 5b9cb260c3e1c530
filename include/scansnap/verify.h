/* verify: the claims of SPEC §4 (and JoMA's of §6), each measured from runs and reported
 * PASS/FAIL/SKIP with its numbers (docs/theory.md and docs/joma.md state every criterion). One function per claim
 * (src/verify/verify.c, src/verify/claim4.c); the configurations of the runs they make are
 * YAML files in configs/ (claim3.yaml, claim4.yaml), built into the library. */
#ifndef SCANSNAP_VERIFY_H
#define SCANSNAP_VERIFY_H
#include "scansnap/csv.h"
#include "scansnap/theory.h"

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

typedef struct {
  /* Claim 4's corpus: a WikiText-layout folder (wiki.train.tokens, ...) or a plain text file.
   * NULL or "": data.path when set, else claim 4 is a SKIP naming the command that fetches
   * the Brown corpus (scripts/fetch-brown data/brown). */
  const char *corpus;
  const volatile sig_atomic_t *stop; /* stop request, polled by every run (NULL: none) */
} ss_verify_opts;
void ss_verify_opts_default(ss_verify_opts *o);

/* Runs the claims cfg->verify.claims names (paper: 1-4 from cfg, the Figure-4 run plus the
 * user's overrides, the claim-3 grids setting their own data/learning-rate keys; joma: J1, J2
 * and with verify.j3 J3, ids 5, 6, 7; all: both), writes claims.json and the runs it made into
 * dir. Returns SS_OK when the checks ran (whatever they found); claims (room for
 * SS_VERIFY_MAX_CLAIMS) receives the results, *n their number. o may be NULL (defaults). */
#define SS_VERIFY_MAX_CLAIMS 7
int ss_verify(const ss_config *cfg, const ss_verify_opts *o, const char *dir, ss_claim *claims, int *n, ss_err *err);

/* JoMA's claims (src/verify/joma_claims.c, docs/joma.md): each fills c (status, measured,
 * numbers, why) from runs of the systems with cfg's joma.* keys (J1 linear, J2 toy: seeds
 * 1..verify.seeds) or, J3, of the language models of configs/joma_text.yaml on o->corpus /
 * data.path (SKIP without one); each leaves its runs in dir. */
int ss_claim_joma_j1(const ss_config *cfg, const ss_verify_opts *o, const char *dir, ss_claim *c, ss_err *err);
int ss_claim_joma_j2(const ss_config *cfg, const ss_verify_opts *o, const char *dir, ss_claim *c, ss_err *err);
int ss_claim_joma_j3(const ss_config *cfg, const ss_verify_opts *o, const char *dir, ss_claim *c, ss_err *err);
/* JoMA's curve of (nlayers, layer) from a reference table in the layout of
 * configs/reference/joma_wikitext2_lr1e-4.csv (nlayers, layer, checkpoint, attn_entropy,
 * val_loss, one row per seed): per checkpoint, in increasing order, the mean over the rows
 * (seeds) of the entropy and validation loss; at most max checkpoints; returns how many. */
int ss_joma_ref_curve(const ss_csv *ref, int nlayers, int layer, double *step, double *ent, double *val, int max);

/* Claim 4 (real text): a short language-model run (configs/claim4.yaml) on o->corpus into
 * dir, judged from its first and last rows; fills claim c (status, measured, numbers, why).
 * No corpus, or one too small for the run: SKIP with the reason. Returns an SS_E* code only
 * when the check itself broke (then verify fails). */
int ss_claim4_text(const ss_config *cfg, const ss_verify_opts *o, const char *dir, ss_claim *c, ss_err *err);

#endif
