/* scansnap train [FILE.yaml] [key=value ...]
 * scansnap train --resume DIR [niter=N] [threads=K] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static void train_help(void) {
  printf("usage: scansnap train [FILE.yaml] [key=value ...] [out=DIR]\n"
         "       scansnap train --resume DIR [niter=N] [threads=K]   (or resume=DIR)\n\n"
         "Trains the configured model (default: the paper's Figure-4 run, configs/fig4.yaml)\n"
         "and writes config.yaml, classes.json, metrics.csv, metrics.jsonl,\n"
         "dynamics.safetensors, checkpoint.safetensors and run.json into DIR\n"
         "(default runs/train-<UTC time>). The paper's command lines work as written.\n\n"
         "--resume DIR continues an interrupted run from its last checkpoint with the run's\n"
         "own config.yaml; the finished run is byte-identical to one never interrupted.\n"
         "Only niter= (to extend a run) and threads= may be given with it; a language-model\n"
         "run (model.task=lm) resumes too but keeps its text.epochs.\n"
         "save_every=K writes a checkpoint every K updates. SIGINT/SIGTERM stop at the next\n"
         "step with a checkpoint (exit 130/143). Exit 3: the run diverged (NaN/Inf).\n\n");
  ss_config_print_help(stdout);
}

/* The summary of a language-model run, and its figures (Figure 7) when gnuplot is there. */
static void print_lm(const ss_config *cfg, const char *dir, const ss_lm_summary *s) {
  if (s->note[0]) fprintf(stderr, "scansnap: note: %s\n", s->note);
  printf("run:            %s\n", dir);
  printf("text:           %s: V = %d words, %lld training tokens (%s in %.2f s)\n", cfg->data.path, s->V, (long long)s->train_tokens,
         s->cache_built ? "tokenized" : "cache mapped", s->seconds_tokenize);
  printf("steps:          %lld in %d epoch(s), %.0f tokens/s (%.2f s training, %.2f s validation)\n", s->steps, s->epochs,
         s->tokens_per_second, s->seconds_train, s->seconds_valid);
  printf("train loss:     %.4f -> %.4f\n", s->first_train_loss, s->final_train_loss);
  printf("valid loss:     %.4f -> %.4f (perplexity %.2f)\n", s->first_valid_loss, s->final_valid_loss, s->final_valid_ppl);
  printf("attn entropy:   %.4f -> %.4f\n", s->attn_entropy_first, s->attn_entropy_last);
  printf("freq. mass:     %.4f -> %.4f on the top-%d tokens (uniform attention: %.4f)\n", s->freq_mass_first, s->freq_mass_last,
         cfg->text.top_k, s->freq_mass_uniform);
  printf("  in context:   %.4f -> %.4f of the mass on earlier positions (uniform: %.4f); on itself %.4f -> %.4f\n",
         s->ctx_mass_first, s->ctx_mass_last, s->ctx_mass_uniform, s->self_mass_first, s->self_mass_last);
  /* the run's figures, Figure 7 among them, as `scansnap plot DIR` draws them */
  if (getenv("SS_NO_GNUPLOT")) return;
  ss_plot_opts po;
  ss_plot_opts_default(&po);
  ss_plot_set set;
  ss_err e = {0};
  if (ss_plot_prepare(dir, &po, &set, &e) || ss_cli_gnuplot(&set, 0, &e)) {
    fprintf(stderr, "scansnap: note: no figures (%s); the run itself is complete\n", e.msg);
    return;
  }
  for (int i = 0; i < set.n; i++)
    if (strstr(set.fig[i].name, "attention")) printf("figure 7:       %s/%s.png\n", set.figdir, set.fig[i].name);
}

static void print_run(const ss_run_summary *s) {
  printf("run:            %s\n", s->dir);
  printf("classes:        N = %d over M = %d tokens, %d metric rows\n", s->N, s->M, s->rows);
  printf("loss:           %.4f -> %.4f (final accuracy %.3f)\n", s->first_loss, s->final_loss, s->final_acc);
  printf("entropy c_n:    %.4f -> %.4f (distinct tokens only: %.4f -> %.4f)\n", s->start.entropy, s->end.entropy, s->start.entropy_distinct, s->end.entropy_distinct);
  printf("common mass:    %.4f -> %.4f\n", s->start.common_mass, s->end.common_mass);
  printf("kendall tau:    %.4f at the end\n", s->end.kendall_tau);
  printf("throughput:     %.0f sequences/s (%.4f s of compute)\n", s->seqs_per_second, s->train_seconds);
}

static int run_and_report(const ss_config *cfg, const char *dir) {
  ss_err err = {0};
  ss_train_summary s;
  ss_run_opts o;
  ss_cli_run_opts(&o, dir, "train");
  ss_cli_progress(&o, cfg->model.type == SS_MODEL_TRANSFORMER && cfg->model.task == SS_TASK_LM);
  ss_cli_catch_signals();
  int rc = ss_train_run(cfg, &o, &s, &err);
  if (rc) {
    /* bad input is found before the run starts, and a requested stop is not a failure:
     * say what happened, not that a run failed */
    fprintf(stderr, "scansnap: %s%s\n", rc == SS_EINPUT || rc == SS_ESTOP ? "" : "run failed: ", err.msg);
    return ss_cli_exit_code(rc);
  }
  if (s.is_lm)
    print_lm(cfg, dir, &s.lm);
  else
    print_run(&s.run);
  return 0;
}

static int train_resume(int argc, char **argv, const char *dir, const unsigned char *skip) {
  ss_config cfg;
  int nothing;
  char msg[SS_PATH_MAX + 128];
  const int rc = ss_cli_resume_config(argc, argv, dir, skip, &cfg, &nothing, msg, sizeof msg);
  if (rc) return rc;
  if (nothing) {
    printf("%s\n", msg);
    return 0;
  }
  return run_and_report(&cfg, dir);
}

int cmd_train(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    train_help();
    return 0;
  }
  if (ss_cli_check_argc(argc)) return 2;
  unsigned char skip[SS_CLI_MAX_ARGS] = {0};
  const char *resume = ss_cli_find_resume(argc, argv, skip);
  if (resume) return train_resume(argc, argv, resume, skip);
  ss_config cfg;
  int rc = ss_cli_command_config(argc, argv, "train", &cfg);
  if (rc) return rc;
  if (cfg.resume[0]) {
    fprintf(stderr, "scansnap: key 'resume': give it on the command line alone (scansnap train --resume DIR), not in a YAML file\n");
    return 2;
  }
  char unused[512];
  ss_config_unused(&cfg, unused, sizeof unused);
  if (unused[0]) fprintf(stderr, "scansnap: note: keys not used by model.type=%s: %s\n", ss_config_model_name(cfg.model.type), unused);
  char dir[SS_PATH_MAX];
  ss_err err = {0};
  if (ss_run_dir(&cfg, "train", dir, sizeof dir, &err)) return ss_cli_fail(&err);
  return run_and_report(&cfg, dir);
}
