/* scansnap compare RUN_A RUN_B [--until STEP]: how far apart two runs' dynamics are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_compare(int argc, char **argv) {
  const char *dirs[2] = {NULL, NULL};
  int nd = 0;
  long long until = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: scansnap compare RUN_A RUN_B [--until STEP]\n\n"
             "Over the save steps both runs share (up to STEP): per class n, the largest and the mean\n"
             "over steps of max_l |c_A[n,l] - c_B[n,l]|; then every scalar column of metrics.csv\n"
             "(largest and mean |A - B|). See docs/theory.md.\n");
      return 0;
    }
    if (!strcmp(argv[i], "--until") && i + 1 < argc) {
      char *end;
      until = strtoll(argv[++i], &end, 10);
      if (*end || until < 0) {
        fprintf(stderr, "scansnap: --until expects a step number >= 0, got '%s'\n", argv[i]);
        return 2;
      }
      continue;
    }
    if (nd == 2 || !strncmp(argv[i], "--", 2)) {
      fprintf(stderr, "scansnap: unexpected argument '%s' (usage: scansnap compare RUN_A RUN_B [--until STEP])\n", argv[i]);
      return 2;
    }
    dirs[nd++] = argv[i];
  }
  if (nd != 2) {
    fprintf(stderr, "scansnap: compare needs two run directories (usage: scansnap compare RUN_A RUN_B)\n");
    return 2;
  }
  ss_compare c;
  ss_err err = {0};
  int rc = ss_compare_runs(dirs[0], dirs[1], until, &c, &err);
  if (rc) return ss_cli_fail(&err);
  printf("A: %s\nB: %s\n", dirs[0], dirs[1]);
  printf("%d shared save steps, %lld..%lld; N = %d classes, M = %d tokens\n\n", c.nshared, c.first, c.last, c.N, c.M);
  printf("c_n: max_l |A - B| per step\n%-10s %12s %12s\n", "class", "max", "mean");
  for (int n = 0; n < c.N; n++) printf("%-10d %12.6f %12.6f\n", n, c.cls_max[n], c.cls_mean[n]);
  printf("%-10s %12.6f %12.6f\n\n", "all", c.max, c.mean);
  printf("scalars: |A - B|\n%-18s %12s %12s\n", "metric", "max", "mean");
  for (int k = 0; k < c.nscalar; k++) printf("%-18s %12.6g %12.6g\n", c.scalar[k].name, c.scalar[k].max, c.scalar[k].mean);
  ss_compare_free(&c);
  return 0;
}
