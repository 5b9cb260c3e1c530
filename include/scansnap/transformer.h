/* The standard 1-layer transformer (SPEC §2.2) behind the ss_model interface, float32,
 * matrix products through CBLAS. Two tasks: synthetic (output of the last position, no
 * mask; batch->label) and language model (causal mask; batch->y holds a target for every
 * position). */
#ifndef SCANSNAP_TRANSFORMER_H
#define SCANSNAP_TRANSFORMER_H
#include "scansnap/config.h"
#include "scansnap/model.h"

/* Builds the model of cfg->model.* over a vocabulary of M tokens and sequences of up to
 * T positions; parameter groups get their learning rates from cfg (attention vs decoder). */
int ss_tf_new(const ss_config *cfg, int M, int T, ss_model **out, ss_err *err);
/* Attention probabilities of one sequence x[0..T-1] after a forward pass in eval mode
 * (no dropout): att[h*T*T + i*T + j] = weight of position i on position j, head h. */
int ss_tf_attention(ss_model *m, const int *x, int T, float *att, ss_err *err);
/* Sets training (dropout on) or eval mode. */
void ss_tf_set_training(ss_model *m, int training);

#endif
