/* scansnap theory [FILE.yaml] [key=value ...]: the population dynamics of SPEC §4. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void theory_help(void) {
  printf("usage: scansnap theory [FILE.yaml] [key=value ...] [out=DIR]\n\n"
         "Integrates the population (T -> inf, batch -> inf) dynamics of the Y/Z model for the\n"
         "same configuration as 'scansnap train': same class table, init and learning rates.\n"
         "  theory.mode=steps  the run's optimizer on the exact population gradient (default)\n"
         "  theory.mode=flow   RK4 gradient flow, t in SGD iterations (theory.dt, theory.tol)\n"
         "Writes the files of a training run plus snap.json into DIR (default runs/theory-<UTC time>).\n"
         "See docs/theory.md.\n\n");
  ss_config_print_help_for(stdout, SS_MODEL_YZ);
}

int cmd_theory(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    theory_help();
    return 0;
  }
  ss_config cfg;
  int rc = ss_cli_command_config(argc, argv, "theory", &cfg);
  if (rc) return rc;
  char dir[SS_PATH_MAX];
  ss_err err = {0};
  if (ss_run_dir(&cfg, "theory", dir, sizeof dir, &err)) return ss_cli_fail(&err);
  ss_run_summary s;
  ss_run_opts o;
  ss_cli_run_opts(&o, dir, "theory");
  ss_cli_progress(&o, 0);
  ss_cli_catch_signals();
  rc = ss_theory_run_opts(&cfg, &o, &s, &err);
  if (rc) {
    fprintf(stderr, "scansnap: %s%s\n", rc == SS_ESTOP || rc == SS_EINPUT ? "" : "theory run failed: ", err.msg);
    return ss_cli_exit_code(rc);
  }
  printf("run:            %s (theory, mode %s)\n", dir, cfg.theory.mode == SS_THEORY_FLOW ? "flow" : "steps");
  printf("classes:        N = %d over M = %d tokens, %d metric rows\n", s.N, s.M, s.rows);
  printf("loss J:         %.4f -> %.4f (final class accuracy %.3f)\n", s.first_loss, s.final_loss, s.final_acc);
  printf("entropy c_n:    %.4f -> %.4f (distinct tokens only: %.4f -> %.4f)\n", s.start.entropy, s.end.entropy, s.start.entropy_distinct, s.end.entropy_distinct);
  printf("common mass:    %.4f -> %.4f\n", s.start.common_mass, s.end.common_mass);
  printf("kendall tau:    %.4f at the end\n", s.end.kendall_tau);
  printf("time:           %.2f ms\n", s.train_seconds * 1e3);
  return 0;
}
