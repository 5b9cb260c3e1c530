/* scansnap: subcommand dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scansnap/transformer.h"

#include "cli/cli.h"

typedef struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} ss_cmd;

static const ss_cmd cmds[] = {
    {"train", cmd_train, "train a model on sequence classes and record its dynamics"},
    {"theory", cmd_theory, "integrate the population (T -> inf) dynamics of the same configuration"},
    {"compare", cmd_compare, "how far apart two runs' c_n and metrics are (e.g. SGD vs theory)"},
    {"verify", cmd_verify, "check the paper's four claims, print PASS/FAIL, write claims.json"},
    {"plot", cmd_plot, "figures of a run, a sweep or verify's directory (gnuplot: PNG and SVG)"},
    {"report", cmd_report, "one self-contained report.html of a run, a sweep or verify's directory"},
    {"show", cmd_show, "a summary of a run, sweep or verify directory (status, config, metrics, t0, claims)"},
    {"sweep", cmd_sweep, "run a grid of runs (lists/ranges of keys) on every core or under mpirun"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: scansnap <command> [FILE.yaml] [key=value ...]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
  fprintf(f, "\n'scansnap <command> --help' for the command's options.\n\n");
  ss_config_print_help(f);
}

/* OpenBLAS is set up when it is loaded, before main, from two variables:
 * - OPENBLAS_CORETYPE: its kernels; on CPUs it does not know it falls back to SSE3 kernels;
 * - OPENBLAS_NUM_THREADS: its own thread pool. scansnap calls BLAS single-threaded from its
 *   OpenMP threads (src/transformer), so the pool never works, but its idle threads spin in
 *   sched_yield for a while after loading and take a core from OpenMP: on 2 cores that made
 *   a threads=2 Figure-4 run 10-20x slower (docs/bench.md). One thread means no pool.
 * When either is unset, set it and run ourselves again, once (SS_BLAS_REEXEC guards the loop;
 * SS_NO_BLAS_FIX=1 turns it off). */
static void fix_blas_env(char **argv) {
  if (getenv("SS_BLAS_REEXEC") || getenv("SS_NO_BLAS_FIX")) return;
  int again = 0;
  const char *hint = ss_blas_coretype_hint(getenv("OPENBLAS_CORETYPE"));
  if (hint) {
    setenv("OPENBLAS_CORETYPE", hint, 1);
    again = 1;
  }
  if (!getenv("OPENBLAS_NUM_THREADS")) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    again = 1;
  }
  if (!again) return;
  setenv("SS_BLAS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv); /* returns only on failure: carry on as we are */
}

/* What the command printed must have reached stdout: a full disk or a closed pipe behind
 * `scansnap show DIR > file` is a failure (exit 1 with a message), not a silent success. */
static int finish(int rc) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "scansnap: cannot write to standard output (disk full or output closed)\n");
    return rc ? rc : 1;
  }
  return rc;
}

static int dispatch(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("scansnap %s\n", SS_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "scansnap: unknown command '%s' (see 'scansnap --help')\n", argv[1]);
  return 2;
}

int main(int argc, char **argv) {
  fix_blas_env(argv);
  return finish(dispatch(argc, argv));
}
