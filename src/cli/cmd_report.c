/* scansnap report DIR [the options of plot] */
#include <stdio.h>
#include <string.h>

#include <scansnap/report.h>

#include "cli/cli.h"

static void report_help(void) {
  printf("usage: scansnap report DIR [theory=THEORY_RUN_DIR] [class=K] [x=KEY] [by=KEY] [panel=KEY]\n"
         "                      [metric=NAME] [colour=linear|log] [csv=true|false]\n\n"
         "Writes DIR/report.html: one self-contained page (inline SVG figures, the\n"
         "configuration, the first and last value of every metric and the metrics table; for a\n"
         "sweep its keys, the aggregate and the comparison with the paper; the claims of\n"
         "`scansnap verify` when DIR/claims.json exists; for verify's directory each of its runs).\n"
         "It draws the figures first (as `scansnap plot`, with the same options); without gnuplot\n"
         "the report has no figures. DIR may be any run, sweep or verify directory.\n");
}

int cmd_report(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    report_help();
    return 0;
  }
  const char *dir;
  ss_plot_opts o;
  int rc = ss_cli_plot_args(argc, argv, &dir, &o);
  if (rc) return rc;
  ss_plot_set set;
  ss_err err = {0};
  if ((rc = ss_plot_prepare(dir, &o, &set, &err))) {
    /* a bad option or no directory of ours is an error; a directory that cannot be drawn
     * (a run that failed before its first metrics row) still gets its page */
    if (set.bad_option || !set.kind) return ss_cli_fail(&err);
    fprintf(stderr, "scansnap: note: %s; the report has no figures\n", err.msg);
  } else if (ss_cli_gnuplot(&set, 0, &err)) {
    fprintf(stderr, "scansnap: note: %s; the report has no figures\n", err.msg);
    set.n = 0;
  }
  char path[SS_PATH_MAX + 32];
  if ((rc = ss_report_write(dir, &set, path, sizeof path, &err))) return ss_cli_fail(&err);
  printf("report:         %s\n", path);
  return 0;
}
