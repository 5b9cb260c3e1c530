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

/* OpenBLAS (Debian's DYNAMIC_ARCH build 0.3.21) picks its kernels at load time from the CPU
 * model and falls back to SSE3 "Prescott" kernels on CPUs it does not know (e.g. recent
 * Xeons under KVM): 5-8x slower sgemm. Returns the OPENBLAS_CORETYPE value to set before
 * the library loads (e.g. "SkylakeX" when the CPU has AVX-512), or NULL when the kernels
 * in use already fit the CPU or the user set OPENBLAS_CORETYPE (the caller passes its value,
 * NULL when unset: the library reads no environment). */
const char *ss_blas_coretype_hint(const char *user_coretype);
/* "OpenBLAS 0.3.21 ... core SkylakeX, 1 thread(s) per call" for run logs and benchmarks. */
void ss_blas_describe(char *buf, size_t n, const char *user_coretype);

#endif
