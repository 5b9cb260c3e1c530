/* Runs gnuplot on the scripts the library wrote (plot.h): one child process per figure, in
 * the figures folder, so the scripts can use plain file names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static long file_size(const char *dir, const char *name, const char *ext) {
  char p[SS_PATH_MAX + 200];
  snprintf(p, sizeof p, "%s/%s.%s", dir, name, ext);
  struct stat st;
  return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int ss_cli_gnuplot(const ss_plot_set *set, int verbose, ss_err *err) {
  for (int i = 0; i < set->n; i++) {
    char script[96];
    snprintf(script, sizeof script, "%s.gp", set->name[i]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return ss_seterr(err, SS_ERUN, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
      if (chdir(set->figdir) != 0) _exit(126);
      if (!verbose) {
        /* gnuplot's chatter (font or range warnings) goes to figures/gnuplot.log */
        FILE *n = freopen("/dev/null", "w", stdout);
        FILE *l = freopen("gnuplot.log", "a", stderr);
        (void)n;
        (void)l;
      }
      execlp("gnuplot", "gnuplot", script, (char *)NULL);
      _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
      if (errno != EINTR) return ss_seterr(err, SS_ERUN, "waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
      return ss_seterr(err, SS_ERUN, "gnuplot is not installed (the scripts are in %s; install gnuplot and rerun)", set->figdir);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      return ss_seterr(err, SS_ERUN, "gnuplot failed on %s/%s (exit %d; see %s/gnuplot.log)", set->figdir, script, WIFEXITED(st) ? WEXITSTATUS(st) : -1, set->figdir);
    if (file_size(set->figdir, set->name[i], "png") <= 0 || file_size(set->figdir, set->name[i], "svg") <= 0)
      return ss_seterr(err, SS_ERUN, "gnuplot wrote no %s.png/.svg in %s", set->name[i], set->figdir);
  }
  return SS_OK;
}
