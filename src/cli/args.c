/* Shared argument handling: YAML files and key=value overrides into an ss_config. */
#include <math.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* The stop request of this process: the SIGINT/SIGTERM handler stores the signal number;
 * every run polls it through ss_run_opts.stop (a volatile sig_atomic_t is the only object a
 * signal handler may portably write). */
static volatile sig_atomic_t g_stop = 0;

int ss_cli_exit_code(int rc) {
  switch (rc) {
  case SS_OK: return 0;
  case SS_EINPUT: return 2;
  case SS_EDIVERGE: return 3;
  case SS_ESTOP: {
    /* the shell convention for a process ended by signal s: 128 + s (130 SIGINT, 143 SIGTERM) */
    int s = (int)g_stop;
    return 128 + (s > 0 && s < 64 ? s : SIGINT);
  }
  default: return 1;
  }
}

int ss_cli_fail(const ss_err *err) {
  fprintf(stderr, "scansnap: %s\n", err->msg);
  return ss_cli_exit_code(err->code);
}

static int is_yaml(const char *a) {
  size_t n = strlen(a);
  return (n > 5 && !strcmp(a + n - 5, ".yaml")) || (n > 4 && !strcmp(a + n - 4, ".yml"));
}

int ss_cli_config(int argc, char **argv, ss_config *cfg, int *rest, int *nrest) {
  ss_config_defaults(cfg);
  *nrest = 0;
  ss_err err = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int rc;
    if (!strncmp(a, "--", 2)) {
      rest[(*nrest)++] = i;
      continue;
    }
    if (strchr(a, '='))
      rc = ss_config_override(cfg, a, &err);
    else if (is_yaml(a))
      rc = ss_config_load_yaml(cfg, a, &err);
    else
      rc = ss_seterr(&err, SS_EINPUT, "argument '%s' is neither key=value nor a .yaml file", a);
    if (rc) return ss_cli_fail(&err);
  }
  if (ss_config_validate(cfg, &err)) return ss_cli_fail(&err);
  return 0;
}

static void on_stop_signal(int sig) { g_stop = sig; }

const volatile sig_atomic_t *ss_cli_stop_flag(void) { return &g_stop; }

long ss_cli_test_step_delay(void) {
  /* test hook (tests/lib_resume.sh): slow every step down so that a kill lands mid-run */
  const char *v = getenv("SS_TEST_STEP_DELAY_US");
  return v ? atol(v) : 0;
}

void ss_cli_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  /* one-shot: a second Ctrl-C kills at once, for a user who will not wait for the step */
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

const char *ss_cli_find_resume(int argc, char **argv, unsigned char *skip) {
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--resume")) {
      skip[i] = 1;
      dir = i + 1 < argc ? argv[i + 1] : "";
      if (i + 1 < argc) skip[++i] = 1;
    } else if (!strncmp(a, "--resume=", 9) || !strncmp(a, "resume=", 7) || !strncmp(a, "+resume=", 8)) {
      skip[i] = 1;
      dir = strchr(a, '=') + 1;
    }
  }
  return dir;
}

int ss_cli_resume_config(int argc, char **argv, const char *dir, const unsigned char *skip, ss_config *cfg, int *nothing, char *msg, size_t n) {
  const char *over[SS_CLI_MAX_ARGS];
  int k = 0;
  for (int i = 1; i < argc && k < 64; i++)
    if (!skip[i]) over[k++] = argv[i];
  ss_err err = {0};
  *nothing = 0;
  if (ss_train_resume_config(dir, over, k, cfg, nothing, msg, n, &err)) return ss_cli_fail(&err);
  return 0;
}

int ss_cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

int ss_cli_check_argc(int argc) {
  if (argc <= SS_CLI_MAX_ARGS) return 0;
  fprintf(stderr, "scansnap: too many arguments (%d; at most %d)\n", argc - 1, SS_CLI_MAX_ARGS - 1);
  return 2;
}

int ss_cli_command_config(int argc, char **argv, const char *cmd, ss_config *cfg) {
  int rest[SS_CLI_MAX_ARGS], nrest;
  int rc = ss_cli_check_argc(argc);
  if (rc) return rc;
  rc = ss_cli_config(argc, argv, cfg, rest, &nrest);
  if (rc) return rc;
  if (nrest) {
    fprintf(stderr, "scansnap: unknown option '%s' for %s (see 'scansnap %s --help')\n", argv[rest[0]], cmd, cmd);
    return 2;
  }
  return 0;
}

void ss_cli_run_opts(ss_run_opts *o, const char *dir, const char *command) {
  ss_run_opts_default(o);
  o->dir = dir;
  o->command = command;
  o->stop = ss_cli_stop_flag();
  o->step_delay_us = ss_cli_test_step_delay();
}

/* Progress of a long run on stderr: on a terminal one line rewritten at most five times a
 * second; otherwise a line every 10 s. Runs shorter than 2 s print nothing. */
typedef struct {
  int tty, shown;
  double last;
  long long first;
  const char *unit;
} progress_state;

void ss_cli_clock(double s, char *buf, size_t n) {
  if (!(s >= 0) || !isfinite(s) || s > 1e9) {
    snprintf(buf, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(void *ud, const ss_progress *p) {
  progress_state *st = ud;
  if (st->first < 0) st->first = p->step;
  const int end = p->step >= p->total;
  if (p->seconds < 2.0 || (!end && p->seconds - st->last < (st->tty ? 0.2 : 10.0))) return;
  if (end && !st->shown) return;
  st->last = p->seconds;
  const double done = (double)(p->step - st->first), left = (double)(p->total - p->step);
  const double rate = p->train_seconds > 0 ? p->items_per_step * done / p->train_seconds : 0;
  char el[32], eta[32];
  ss_cli_clock(p->seconds, el, sizeof el);
  ss_cli_clock(done > 0 ? p->seconds / done * left : -1, eta, sizeof eta);
  fprintf(stderr, "%sstep %lld/%lld (%.0f%%), loss %.4g, %.0f %s/s, %s elapsed, ETA %s%s", st->tty ? "\r" : "", p->step, p->total,
          p->total ? 100.0 * (double)p->step / (double)p->total : 100.0, p->loss, rate, st->unit, el, eta, st->tty ? "   " : "\n");
  if (st->tty && end) fputc('\n', stderr);
  fflush(stderr);
  st->shown = 1;
}

void ss_cli_progress(ss_run_opts *o, int tokens) {
  static progress_state st;
  st = (progress_state){isatty(2), 0, 0, -1, tokens ? "tokens" : "sequences"};
  o->progress = on_progress;
  o->progress_ud = &st;
}
