/* Placeholder definitions of the transformer interface (include/scansnap/transformer.h) for
 * builds without the transformer yet. They are weak: the real model's definitions win at
 * link time, and this file is deleted when the transformer branch is merged. */
#include "scansnap/transformer.h"

__attribute__((weak)) int ss_tf_new(const ss_config *cfg, int M, int T, ss_model **out, ss_err *err) {
  (void)cfg, (void)M, (void)T;
  *out = 0;
  return ss_seterr(err, SS_EINPUT, "key 'model.type': transformer is not implemented in this build");
}

__attribute__((weak)) int ss_tf_attention(ss_model *m, const int *x, int T, float *att, ss_err *err) {
  (void)m, (void)x, (void)T, (void)att;
  return ss_seterr(err, SS_ERUN, "transformer is not implemented in this build");
}

__attribute__((weak)) void ss_tf_set_training(ss_model *m, int training) { (void)m, (void)training; }
