/* Default claim 4 (real text, SPEC §4): SKIP until the real-text concern replaces this file
 * with its own ss_claim4_text (contract in include/scansnap/theory.h). */
#include <math.h>
#include <stdio.h>

#include "scansnap/theory.h"

int ss_claim4_text(const ss_config *cfg, const char *dir, char *measured, size_t n, double *numbers, int *status,
                   ss_err *err) {
  (void)cfg;
  (void)dir;
  for (int i = 0; i < SS_CLAIM4_NUMBERS; i++) numbers[i] = NAN;
  snprintf(measured, n, "attention entropy and mass on frequent tokens of a 1-layer transformer on real text");
  *status = SS_CLAIM_SKIP;
  ss_seterr(err, SS_OK, "real-text training is not in this build yet");
  return SS_OK;
}
