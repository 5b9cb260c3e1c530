/* Which OpenBLAS kernels run (see ss_blas_coretype_hint in scansnap/transformer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/transformer.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);

const char *ss_blas_coretype_hint(const char *user_coretype) {
  if (user_coretype) return NULL;
  const char *core = openblas_get_corename();
  if (!core) return NULL;
  __builtin_cpu_init();
  const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  /* kernels OpenBLAS picks when it does not recognise a CPU */
  static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                        "Coppermine", "Northwood", "Banias", "Sandybridge", "Barcelona", "unknown"};
  int weak = 0;
  for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
    if (!strcasecmp(core, generic[i])) weak = 1;
  if (!strcasecmp(core, "Haswell") || !strcasecmp(core, "Zen")) weak = avx512; /* AVX2 kernels on an AVX-512 CPU */
  if (!weak) return NULL;
  if (avx512) return "SkylakeX";
  if (avx2) return "Haswell";
  return NULL;
}

void ss_blas_describe(char *buf, size_t n, const char *user_coretype) {
  const char *cfg = openblas_get_config(), *core = openblas_get_corename();
  const char *env = user_coretype;
  snprintf(buf, n, "%s; kernels %s%s%s%s; called single-threaded per tile", cfg ? cfg : "OpenBLAS", core ? core : "?",
           env ? " (OPENBLAS_CORETYPE=" : "", env ? env : "", env ? ")" : "");
}
