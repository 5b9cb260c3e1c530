/* The model interface the training loop, the optimizer and checkpoints see (llm.c habit):
 * all parameters in one flat allocation, gradients in another of the same layout, named
 * tensor views into them, and parameter groups with their own learning rates.
 * groups[0] is the decoder (Y), groups[1] the attention (Z); y_norm/z_norm report them. */
#ifndef SCANSNAP_MODEL_H
#define SCANSNAP_MODEL_H
#include <stddef.h>

#include "scansnap/common.h"
#include "scansnap/data.h"
#include "scansnap/io.h"

#define SS_MAX_GROUPS 8
/* the transformer: 4 shared tensors, up to 16 per layer (64 layers), the dropout counter */
#define SS_MAX_TENSORS 1040

typedef struct {
  const char *name;
  size_t offset, count; /* element range in params */
  double lr;
  /* Row-sparse gradients (optional; row_len 0 = dense): the group is count / row_len rows of
   * row_len elements, and after each step only the nrows rows listed in rows (distinct,
   * relative to the group) may hold gradients other than +0; every other gradient of the
   * group is exactly +0. The optimizer then leaves alone the rows whose gradient and state
   * are all +0 (the same bits as updating them), and the finite check reads the listed rows
   * only. Set by the model (the Y/Z model's Z: only the batch's query rows). */
  size_t row_len;
  int nrows;
  const int *rows;
} ss_param_group;

typedef struct ss_model ss_model;

typedef struct {
  const char *name;
  /* Forward + exact backward on a batch; grads are overwritten with d(mean loss)/d(params). */
  int (*step)(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err);
  /* Forward only. */
  int (*eval)(ss_model *m, const ss_batch *b, double *loss, double *acc, ss_err *err);
  /* Attention composition c_n (SPEC §3) of every class: c[n*M + l]. */
  int (*composition)(ss_model *m, const ss_classes *cl, double *c, ss_err *err);
  void (*free_impl)(ss_model *m);
} ss_model_ops;

struct ss_model {
  const ss_model_ops *ops;
  ss_dtype dtype; /* SS_F64 or SS_F32: element type of params and grads */
  size_t nparams;
  void *params, *grads;
  int ngroups;
  ss_param_group groups[SS_MAX_GROUPS];
  int ntensors;
  ss_tensor tensors[SS_MAX_TENSORS]; /* views into params (names live as long as the model) */
  void *impl;
};

void ss_model_free(ss_model *m);
/* Euclidean norm of a group's parameters. */
double ss_model_group_norm(const ss_model *m, int g);
/* The norms of groups 0 and 1 (y_norm, z_norm; 0 for a group the model lacks), with the same
 * bits as ss_model_group_norm, in one pass. */
void ss_model_norms01(const ss_model *m, double *n0, double *n1);
/* First non-finite entry of params or grads, as "tensor[index]", or 0 if all finite. */
int ss_model_find_nonfinite(const ss_model *m, int grads, char *where, size_t n);

#endif
