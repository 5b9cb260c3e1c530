/* scansnap train [FILE.yaml] [key=value ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static void train_help(void) {
  printf("usage: scansnap train [FILE.yaml] [key=value ...] [out=DIR]\n\n"
         "Trains the configured model (default: the paper's Figure-4 run, configs/fig4.yaml)\n"
         "and writes config.yaml, classes.json, metrics.csv, metrics.jsonl,\n"
         "dynamics.safetensors, checkpoint.safetensors and run.json into DIR\n"
         "(default runs/train-<UTC time>). The paper's command lines work as written.\n\n");
  ss_config_print_help(stdout);
}

/* model.task=lm: the real-text run, its summary, and Figure 7 through gnuplot if present. */
static int train_lm(const ss_config *cfg, const char *dir) {
  ss_err err = {0};
  ss_lm_summary s;
  int rc = ss_lm_train(cfg, dir, &s, &err);
  if (s.note[0]) fprintf(stderr, "scansnap: note: %s\n", s.note);
  if (rc) {
    fprintf(stderr, "scansnap: run failed: %s\n", err.msg);
    return ss_cli_exit_code(rc);
  }
  printf("run:            %s\n", dir);
  printf("text:           %s: V = %d words, %lld training tokens (%s in %.2f s)\n", cfg->data.path, s.V, (long long)s.train_tokens,
         s.cache_built ? "tokenized" : "cache mapped", s.seconds_tokenize);
  printf("steps:          %lld in %d epoch(s), %.0f tokens/s (%.2f s training, %.2f s validation)\n", s.steps, s.epochs,
         s.tokens_per_second, s.seconds_train, s.seconds_valid);
  printf("train loss:     %.4f -> %.4f\n", s.first_train_loss, s.final_train_loss);
  printf("valid loss:     %.4f -> %.4f (perplexity %.2f)\n", s.first_valid_loss, s.final_valid_loss, s.final_valid_ppl);
  printf("attn entropy:   %.4f -> %.4f\n", s.attn_entropy_first, s.attn_entropy_last);
  printf("freq. mass:     %.4f -> %.4f on the top-%d tokens (uniform attention: %.4f)\n", s.freq_mass_first, s.freq_mass_last,
         cfg->text.top_k, s.freq_mass_uniform);
  if (!access("/usr/bin/gnuplot", X_OK) && !getenv("SS_NO_GNUPLOT")) {
    char cmd[SS_PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot attention.gp 2>/dev/null", dir);
    if (strchr(dir, '\'') == NULL && system(cmd) == 0) printf("figure 7:       %s/attention.png\n", dir);
  }
  return 0;
}

int cmd_train(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      train_help();
      return 0;
    }
  ss_config cfg;
  int rest[64], nrest;
  if (argc > 64) {
    fprintf(stderr, "scansnap: too many arguments\n");
    return 2;
  }
  int rc = ss_cli_config(argc, argv, &cfg, rest, &nrest);
  if (rc) return rc;
  if (nrest) {
    fprintf(stderr, "scansnap: unknown option '%s' for train (see 'scansnap train --help')\n", argv[rest[0]]);
    return 2;
  }
  char unused[512];
  ss_config_unused(&cfg, unused, sizeof unused);
  if (unused[0]) fprintf(stderr, "scansnap: note: keys not used by model.type=%s: %s\n", cfg.model.type == SS_MODEL_YZ ? "yz" : "transformer", unused);
  char dir[SS_PATH_MAX];
  ss_err err = {0};
  if (ss_run_dir(&cfg, "train", dir, sizeof dir, &err)) return ss_cli_fail(&err);
  if (cfg.model.type == SS_MODEL_TRANSFORMER && cfg.model.task == SS_TASK_LM) return train_lm(&cfg, dir);
  ss_run_summary s;
  rc = ss_train(&cfg, dir, &s, &err);
  if (rc) {
    fprintf(stderr, "scansnap: run failed: %s\n", err.msg);
    return ss_cli_exit_code(rc);
  }
  printf("run:            %s\n", dir);
  printf("classes:        N = %d over M = %d tokens, %d metric rows\n", s.N, s.M, s.rows);
  printf("loss:           %.4f -> %.4f (final accuracy %.3f)\n", s.first_loss, s.final_loss, s.final_acc);
  printf("entropy c_n:    %.4f -> %.4f (distinct tokens only: %.4f -> %.4f)\n", s.start.entropy, s.end.entropy, s.start.entropy_distinct, s.end.entropy_distinct);
  printf("common mass:    %.4f -> %.4f\n", s.start.common_mass, s.end.common_mass);
  printf("kendall tau:    %.4f at the end\n", s.end.kendall_tau);
  printf("throughput:     %.0f sequences/s (%.4f s of compute)\n", s.seqs_per_second, s.train_seconds);
  return 0;
}
