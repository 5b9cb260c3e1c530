/* scansnap theory [FILE.yaml] [key=value ...]: the population dynamics of SPEC §4, and
 * JoMA's two simulated systems (SPEC §6: model.type=joma_linear | joma_toy).
 * scansnap theory --resume DIR [niter=N]: continues a JoMA run from its checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void theory_help(void) {
  printf("usage: scansnap theory [FILE.yaml] [key=value ...] [out=DIR]\n"
         "       scansnap theory --resume DIR [niter=N]   (JoMA runs)\n\n"
         "Integrates the population (T -> inf, batch -> inf) dynamics of the Y/Z model for the\n"
         "same configuration as 'scansnap train': same class table, init and learning rates.\n"
         "  theory.mode=steps  the run's optimizer on the exact population gradient (default)\n"
         "  theory.mode=flow   RK4 gradient flow, t in SGD iterations (theory.dt, theory.tol)\n"
         "Writes the files of a training run plus snap.json into DIR (default runs/theory-<UTC time>).\n"
         "See docs/theory.md.\n\n"
         "JoMA's simulated systems (SPEC §6, docs/joma.md), with the joma.* keys below:\n"
         "  model.type=joma_linear  the linear case (JoMA Figs. 2-3): SGD on W and z; rows hold\n"
         "                          loss, acc, attn_entropy, nc = NC(zhat, z), nc_w, nc_x, rel_err\n"
         "                          (defaults: niter 2000, opt.lr 0.1, every step recorded)\n"
         "  model.type=joma_toy     the nonlinear toy (Fig. 4): v += eta (mu - v) . softmax(v^2/T),\n"
         "                          eta = opt.lr; rows hold attn_entropy, top, v0..v{d-1} and\n"
         "                          loss = |mu - v|^2/2 (defaults: niter 5000, opt.lr 0.02)\n"
         "They write config.yaml, metrics.csv, metrics.jsonl, joma.safetensors, checkpoint and\n"
         "run.json; `scansnap plot DIR` draws them; --resume DIR continues a stopped one.\n\n");
  ss_config_print_help_for(stdout, 1 << SS_SCOPE_YZ | 1 << SS_SCOPE_JOMA);
}

static double task_number(const ss_train_summary *s, const char *name) {
  for (int i = 0; i < s->ntask; i++)
    if (!strcmp(s->task_names[i], name)) return s->task_numbers[i];
  return NAN;
}

static void print_joma(const ss_config *cfg, const char *dir, const ss_train_summary *s) {
  const ss_run_summary *r = &s->run;
  const int lin = cfg->model.type == SS_MODEL_JOMA_LINEAR;
  printf("run:            %s (JoMA %s, seed %lld)\n", dir, lin ? "linear case" : "nonlinear toy", cfg->seed);
  printf("rows:           %d (every %d of %d steps)\n", r->rows, cfg->save_per_minibatch, cfg->niter);
  if (lin) {
    printf("system:         Mc = %d contextual tokens, K = %d classes, d = %d, T = %g, X %s, lr %g\n", r->M, cfg->joma.K, cfg->joma.d,
           cfg->joma.T, cfg->joma.variant ? "gaussian" : "uniform", ss_config_lr_z(cfg));
    printf("loss:           %.4f -> %.4f (final accuracy %.3f)\n", r->first_loss, r->final_loss, r->final_acc);
    printf("NC(zhat, z):    %.4f -> %.4f, minimum %.4f at step %.0f\n", task_number(s, "nc_first"), task_number(s, "nc_last"),
           task_number(s, "nc_min"), task_number(s, "nc_min_step"));
  } else {
    printf("system:         d = %d, T = %g, eta %g, mu %s\n", r->M, cfg->joma.T, ss_config_lr_z(cfg), cfg->joma.mu[0] ? "given (joma.mu)" : "drawn");
    printf("|mu - v|^2/2:   %.4f -> %.4f\n", r->first_loss, r->final_loss);
    printf("entropy of s:   %.4f -> minimum %.4f at step %.0f -> %.4f\n", task_number(s, "attn_entropy_first"), task_number(s, "attn_entropy_min"),
           task_number(s, "attn_entropy_min_step"), task_number(s, "attn_entropy_last"));
  }
  printf("time:           %.2f ms; figures: scansnap plot %s\n", r->train_seconds * 1e3, dir);
}

static int run_theory(const ss_config *cfg, const char *dir) {
  ss_err err = {0};
  ss_train_summary *s = malloc(sizeof *s);
  if (!s) {
    fprintf(stderr, "scansnap: out of memory\n");
    return 1;
  }
  ss_run_opts o;
  ss_cli_run_opts(&o, dir, "theory");
  ss_cli_progress(&o, 0);
  ss_cli_catch_signals();
  int rc = ss_theory_run_summary(cfg, &o, s, &err);
  if (rc) {
    fprintf(stderr, "scansnap: %s%s\n", rc == SS_ESTOP || rc == SS_EINPUT ? "" : "theory run failed: ", err.msg);
    free(s);
    return ss_cli_exit_code(rc);
  }
  if (SS_MODEL_IS_JOMA(cfg->model.type)) {
    print_joma(cfg, dir, s);
    free(s);
    return 0;
  }
  const ss_run_summary *r = &s->run;
  printf("run:            %s (theory, mode %s)\n", dir, cfg->theory.mode == SS_THEORY_FLOW ? "flow" : "steps");
  printf("classes:        N = %d over M = %d tokens, %d metric rows\n", r->N, r->M, r->rows);
  printf("loss J:         %.4f -> %.4f (final class accuracy %.3f)\n", r->first_loss, r->final_loss, r->final_acc);
  printf("entropy c_n:    %.4f -> %.4f (distinct tokens only: %.4f -> %.4f)\n", r->start.entropy, r->end.entropy, r->start.entropy_distinct, r->end.entropy_distinct);
  printf("common mass:    %.4f -> %.4f\n", r->start.common_mass, r->end.common_mass);
  printf("kendall tau:    %.4f at the end\n", r->end.kendall_tau);
  printf("time:           %.2f ms\n", r->train_seconds * 1e3);
  free(s);
  return 0;
}

int cmd_theory(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    theory_help();
    return 0;
  }
  if (ss_cli_check_argc(argc)) return 2;
  unsigned char skip[SS_CLI_MAX_ARGS] = {0};
  const char *resume = ss_cli_find_resume(argc, argv, skip);
  if (resume) {
    ss_config cfg;
    int nothing;
    char msg[SS_PATH_MAX + 128];
    const int rc = ss_cli_resume_config(argc, argv, resume, skip, &cfg, &nothing, msg, sizeof msg);
    if (rc) return rc;
    if (!SS_MODEL_IS_JOMA(cfg.model.type)) {
      fprintf(stderr, "scansnap: --resume: '%s' is a %s run; theory runs of the yz model are run again, not resumed (JoMA runs resume)\n", resume,
              ss_config_model_name(cfg.model.type));
      return 2;
    }
    if (nothing) {
      printf("%s\n", msg);
      return 0;
    }
    return run_theory(&cfg, resume);
  }
  ss_config cfg;
  int rc = ss_cli_command_config(argc, argv, "theory", &cfg);
  if (rc) return rc;
  char dir[SS_PATH_MAX];
  ss_err err = {0};
  if (ss_run_dir(&cfg, "theory", dir, sizeof dir, &err)) return ss_cli_fail(&err);
  return run_theory(&cfg, dir);
}
