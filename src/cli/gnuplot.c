/* Runs gnuplot on the scripts the library wrote (plot.h): one child process per figure. The
 * children work in a fresh private folder inside figures/ (mkdtemp, mode 0700) and find the
 * scripts and data in figures/ through gnuplot's loadpath, so what they write (NAME.png,
 * NAME.svg, gnuplot.log) is created new there; each output is then renamed into figures/,
 * which replaces a link of that name instead of writing through it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static int regular_nonempty(const char *dir, const char *name) {
  char p[SS_PATH_MAX + 256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  return lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static int move_out(const char *tmp, const char *figdir, const char *name, ss_err *err) {
  char a[SS_PATH_MAX + 256], b[SS_PATH_MAX + 256];
  snprintf(a, sizeof a, "%s/%s", tmp, name);
  snprintf(b, sizeof b, "%s/%s", figdir, name);
  if (rename(a, b) != 0) return ss_seterr(err, SS_ERUN, "cannot move %s into %s: %s", name, figdir, strerror(errno));
  return SS_OK;
}

/* Empties and removes the private folder (only this process wrote into it). */
static void remove_tmp(const char *tmp) {
  DIR *d = opendir(tmp);
  if (d) {
    int fd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(fd, e->d_name, 0);
    closedir(d);
  }
  rmdir(tmp);
}

static int run_one(const char *tmp, int logfd, const char *name, int verbose, ss_err *err) {
  char script[160];
  snprintf(script, sizeof script, "../%s.gp", name);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return ss_seterr(err, SS_ERUN, "cannot start gnuplot: %s", strerror(errno));
  if (pid == 0) {
    if (chdir(tmp) != 0) _exit(126);
    if (!verbose) {
      /* gnuplot's chatter (font or range warnings) goes to figures/gnuplot.log */
      int nul = open("/dev/null", O_WRONLY);
      if (nul >= 0) dup2(nul, 1);
      if (logfd >= 0) dup2(logfd, 2);
    }
    execlp("gnuplot", "gnuplot", "-e", "set loadpath '..'", script, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return ss_seterr(err, SS_ERUN, "waiting for gnuplot: %s", strerror(errno));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return ss_seterr(err, SS_ERUN, "gnuplot is not installed (install gnuplot and rerun)");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return ss_seterr(err, SS_ERUN, "gnuplot failed on %s.gp (exit %d; see gnuplot.log in the figures folder)", name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  return SS_OK;
}

int ss_cli_gnuplot(const ss_plot_set *set, int verbose, ss_err *err) {
  if (set->n == 0) return SS_OK;
  char tmp[SS_PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s/.gnuplot-XXXXXX", set->figdir);
  if (!mkdtemp(tmp)) return ss_seterr(err, SS_ERUN, "cannot create a folder in %s: %s", set->figdir, strerror(errno));
  char logp[SS_PATH_MAX + 64];
  snprintf(logp, sizeof logp, "%s/gnuplot.log", tmp);
  int logfd = open(logp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0644);
  int rc = SS_OK;
  for (int i = 0; i < set->n && rc == SS_OK; i++) {
    const char *name = set->fig[i].name;
    if ((rc = run_one(tmp, logfd, name, verbose, err))) break;
    char png[128], svg[128];
    snprintf(png, sizeof png, "%s.png", name);
    snprintf(svg, sizeof svg, "%s.svg", name);
    if (!regular_nonempty(tmp, png) || !regular_nonempty(tmp, svg)) {
      rc = ss_seterr(err, SS_ERUN, "gnuplot wrote no %s.png/.svg for %s", name, set->figdir);
      break;
    }
    if ((rc = move_out(tmp, set->figdir, png, err)) == SS_OK) rc = move_out(tmp, set->figdir, svg, err);
  }
  if (logfd >= 0) {
    close(logfd);
    ss_err e2;
    move_out(tmp, set->figdir, "gnuplot.log", &e2); /* the log is a help, not a result */
  }
  remove_tmp(tmp);
  return rc;
}
