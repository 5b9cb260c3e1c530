/* The reparameterised 1-layer model of the paper (SPEC §2.1). Y is the decoder (row i =
 * logit of token i), row m of Z holds the attention logits of query m over key tokens.
 * Params are [Y (M*M, row-major) | Z (M*M, row-major)], doubles. */
#ifndef SCANSNAP_YZ_H
#define SCANSNAP_YZ_H
#include "scansnap/model.h"

typedef struct {
  int M;
  int normalize, residual, include_base_token, zero_init;
  /* model.precision = float32: the grouped path (generated batches) computes in float32 from
   * the float64 parameters (Y^T, e^Z and every product in float; loss sums, parameters,
   * gradients and the optimizer in double); the general path stays float64 */
  int f32;
  /* model.kernels: SS_KERNELS_AUTO (0, the fastest set this CPU runs), SS_KERNELS_REFERENCE
   * (yz_ref.c: plain float64, the kernels' oracle) or one instruction set's kernels
   * (scansnap/config.h); every set gives the same bits */
  int kernels;
} ss_yz_opts;

/* zero_init = 0 draws each entry uniform in +-1/sqrt(M) from rng (Y first, then Z). */
int ss_yz_new(const ss_yz_opts *o, ss_rng *rng, ss_model **out, ss_err *err);
/* Long-sequence-limit composition from Z: c_n[l] = P(l|n) e^{Z[m,l]} / sum_l' P(l'|n) e^{Z[m,l']}. */
void ss_yz_composition_from_Z(const double *Z, const ss_classes *cl, double *c);

#endif
