/* Views of the transformer's activations after the last forward, for tests that compare
 * them with PyTorch (not a public interface). */
#ifndef SS_TF_INTERNAL_H
#define SS_TF_INTERNAL_H
#include "scansnap/model.h"

/* what: "logits" ([rows, V]; after eval, before the softmax) or "att" ([B, H, T, T] of
 * layer `layer`; NULL for a layer that does not exist). */
const float *ss_tfi_buffer(const ss_model *m, const char *what, int layer);

#endif
