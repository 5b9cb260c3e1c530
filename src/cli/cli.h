/* The thin command-line front end: each subcommand parses its arguments into an
 * ss_config and calls the library. Only this layer prints and chooses exit codes
 * (0 ok, 1 run failed, 2 bad usage or input, 3 diverged, 130/143 stopped by SIGINT/SIGTERM). */
#ifndef SS_CLI_H
#define SS_CLI_H
#include "scansnap/all.h"
#include <scansnap/verify.h>
#include <scansnap/plot.h>
#include <scansnap/sweep.h>

/* Defaults, then FILE.yaml arguments, then key=value arguments, in the order given.
 * Arguments starting with "--" are left for the subcommand (their indices in *rest).
 * Prints the error and returns 2 on bad input. */
int ss_cli_config(int argc, char **argv, ss_config *cfg, int *rest, int *nrest);
/* For a command whose only arguments are FILE.yaml and key=value: 0, or the exit code after
 * printing what is wrong (too many arguments, an unknown --option of command cmd). */
int ss_cli_command_config(int argc, char **argv, const char *cmd, ss_config *cfg);
/* The DIR of '--resume DIR', '--resume=DIR' or 'resume=DIR' (NULL if none; "" if the option
 * lacks its value); skip[i] marks the argv entries it used (argc <= SS_CLI_MAX_ARGS). */
const char *ss_cli_find_resume(int argc, char **argv, unsigned char *skip);
/* The configuration of run DIR to resume, the arguments not marked in skip as its overrides
 * (ss_train_resume_config): 0 with *nothing set and msg saying why when the run is already
 * complete, else the exit code after printing the failure. */
int ss_cli_resume_config(int argc, char **argv, const char *dir, const unsigned char *skip, ss_config *cfg, int *nothing, char *msg, size_t n);
/* Whether --help or -h is among the arguments. */
int ss_cli_wants_help(int argc, char **argv);
/* The most arguments a command takes (its own name included): the commands mark the ones
 * they use in arrays of this size. */
#define SS_CLI_MAX_ARGS 64
/* 0 when argc is at most SS_CLI_MAX_ARGS, else 2 after saying so. */
int ss_cli_check_argc(int argc);
/* Prints "scansnap: <msg>" to stderr and returns the exit code for err->code. */
int ss_cli_fail(const ss_err *err);
int ss_cli_exit_code(int rc);
/* SIGINT/SIGTERM set this process's stop flag (ss_cli_stop_flag, given to every run as
 * ss_run_opts.stop): the run stops at the next step boundary with a checkpoint and the
 * command exits 128 + signal (130 / 143). */
void ss_cli_catch_signals(void);
const volatile sig_atomic_t *ss_cli_stop_flag(void);
/* Run options of the CLI: the stop flag, and the test hook SS_TEST_STEP_DELAY_US (a sleep
 * before every step, so that tests can kill a run mid-way). */
long ss_cli_test_step_delay(void);
void ss_cli_run_opts(ss_run_opts *o, const char *dir, const char *command);
/* Progress lines of a long run on stderr (step, loss, sequences or tokens per second, ETA). */
void ss_cli_progress(ss_run_opts *o, int tokens);
/* Seconds as m:ss or h:mm:ss ("?" when not a time), for progress lines. */
void ss_cli_clock(double s, char *buf, size_t n);

int cmd_train(int argc, char **argv);
int cmd_theory(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_show(int argc, char **argv);

/* Runs gnuplot for every figure of set (in set->figdir); checks the PNG and SVG appeared. */
int ss_cli_gnuplot(const ss_plot_set *set, int verbose, ss_err *err);
/* DIR and the options of `plot` and `report` (cmd_plot.c); prints and returns 2 on bad usage.
 * An argument that is an existing directory is DIR, whatever its name. */
int ss_cli_plot_args(int argc, char **argv, const char **dir, ss_plot_opts *o);
#endif
