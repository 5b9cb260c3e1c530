/* Inside the Y/Z model (not a public header): what yz.c (the fast kernels' driver) and
 * yz_ref.c (the reference, model.kernels=reference) share. */
#ifndef SS_MODEL_YZ_IMPL_H
#define SS_MODEL_YZ_IMPL_H
#include "scansnap/yz.h"

/* Makes m (allocated and initialised by ss_yz_new) compute with the reference. */
int yz_ref_attach(ss_model *m, const ss_yz_opts *o, ss_err *err);
/* The composition op of both: ss_yz_composition_from_Z of the model's Z. */
int yz_composition(ss_model *m, const ss_classes *cl, double *c, ss_err *err);

#endif
