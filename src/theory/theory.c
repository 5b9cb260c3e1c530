/* Placeholder until the population dynamics land (issue: theory and claims). */
#include "scansnap/theory.h"

int ss_theory_run(const ss_config *cfg, const char *dir, ss_run_summary *sum, ss_err *err) {
  (void)cfg;
  (void)dir;
  (void)sum;
  return ss_seterr(err, SS_ERUN, "theory runs are not implemented yet");
}
