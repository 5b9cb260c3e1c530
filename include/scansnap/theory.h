/* Population dynamics (SPEC §4): the T->inf, batch->inf limit of the Y/Z model, integrated
 * as a gradient flow (theory.mode=flow) or with the run's own optimizer applied to the exact
 * population gradient (theory.mode=steps). A theory run writes the same files as a training
 * run, plus snap.json. */
#ifndef SCANSNAP_THEORY_H
#define SCANSNAP_THEORY_H
#include "scansnap/train.h"

/* The whole theory run into dir (created), like ss_train. */
int ss_theory_run(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err);

#endif
