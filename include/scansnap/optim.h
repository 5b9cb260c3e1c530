/* Optimizers with torch.optim's exact definitions (SPEC §2.1), one learning rate per
 * parameter group. State is one flat array per moment, the layout of the params.
 *   SGD:   g += wd*theta; v = mu*v + (1-dampening)*g (first step v = g);
 *          g = nesterov ? g + mu*v : v; theta -= lr*g
 *   Adam:  g += wd*theta; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *          theta -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   AdamW: theta *= 1 - lr*wd, then Adam without the L2 term. */
#ifndef SCANSNAP_OPTIM_H
#define SCANSNAP_OPTIM_H
#include "scansnap/config.h"
#include "scansnap/model.h"

typedef struct {
  int method, nesterov;
  double momentum, dampening, wd, beta1, beta2, eps;
  long long t;   /* updates done */
  void *m1, *m2; /* moments (SGD uses m1 as the momentum buffer); dtype of the model */
  /* groups with row-sparse gradients (ss_param_group.row_len): per row, whether its momentum
   * may be other than +0 (rows never live are left alone: see ss_optim_step); built from m1
   * when live_ok[g] is 0 (at the first step, and after ss_optim_loaded) */
  unsigned char *live[SS_MAX_GROUPS];
  int live_ok[SS_MAX_GROUPS];
} ss_optim;

int ss_optim_init(ss_optim *o, const ss_config *cfg, const ss_model *m, ss_err *err);
/* One update of every group with its lr times lr_scale (learning-rate schedules). Returns 0
 * when every parameter it wrote is finite (SGD checks them as it writes them; rows it left
 * alone are unchanged), 1 when one is Inf or NaN or was not checked (Adam): then the caller
 * looks (ss_model_find_nonfinite). */
int ss_optim_step(ss_optim *o, ss_model *m, double lr_scale);
void ss_optim_free(ss_optim *o);
/* The moments were written from outside (a checkpoint was loaded into m1/m2). */
void ss_optim_loaded(ss_optim *o);
/* Scales the gradient to norm at most max_norm (torch.nn.utils.clip_grad_norm_); returns the norm before. */
double ss_clip_grad_norm(ss_model *m, double max_norm);

#endif
