/* scansnap plot DIR [theory=DIR] [class=K] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void plot_help(void) {
  printf("usage: scansnap plot DIR [theory=THEORY_RUN_DIR] [class=K]\n\n"
         "Writes figures (PNG and SVG, with their gnuplot scripts and data) into DIR/figures/.\n"
         "A run directory: loss_acc, mass (common vs distinct tokens), entropy, composition\n"
         "(the paper's Figure 4: c_n of class K over the save steps). theory=DIR draws a theory\n"
         "run (scansnap theory) over the SGD curves.\n"
         "A sweep directory: fig6 (the paper's Figure 6, with the paper's points when the sweep\n"
         "has a reference table) and t0 (snap time) when the runs wrote snap.json.\n");
}

int ss_cli_plot_args(int argc, char **argv, const char **dir, ss_plot_opts *o) {
  *dir = NULL;
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "theory=", 7)) {
      o->theory_dir = a + 7;
    } else if (!strncmp(a, "class=", 6)) {
      char *e;
      long k = strtol(a + 6, &e, 10);
      if (*e || e == a + 6 || k < 0 || k > 1000000) {
        fprintf(stderr, "scansnap: argument '%s': class must be a class index (0, 1, ...)\n", a);
        return 2;
      }
      o->cls = (int)k;
    } else if (!*dir && !strchr(a, '=') && strncmp(a, "--", 2)) {
      *dir = a;
    } else {
      fprintf(stderr, "scansnap: unexpected argument '%s' (usage: scansnap %s DIR [theory=DIR] [class=K])\n", a, argv[0]);
      return 2;
    }
  }
  if (!*dir) {
    fprintf(stderr, "scansnap: %s needs a run or sweep directory\n", argv[0]);
    return 2;
  }
  return 0;
}

int cmd_plot(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    plot_help();
    return 0;
  }
  const char *dir;
  ss_plot_opts o;
  int rc = ss_cli_plot_args(argc, argv, &dir, &o);
  if (rc) return rc;
  ss_plot_set set;
  ss_err err = {0};
  if ((rc = ss_plot_prepare(dir, &o, &set, &err))) return ss_cli_fail(&err);
  if ((rc = ss_cli_gnuplot(&set, 0, &err))) return ss_cli_fail(&err);
  for (int i = 0; i < set.n; i++) printf("figure:         %s/%s.png  %s.svg  (%s)\n", set.figdir, set.name[i], set.name[i], set.title[i]);
  return 0;
}
