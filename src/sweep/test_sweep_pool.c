/* The worker pool inside a host program (issue 12 item 5): ss_sweep_run waits only for the
 * workers it started; a child of the host that exits meanwhile is still there for the host
 * to wait for (waitpid(-1) in the pool reaped it), and the host's signal dispositions are
 * unchanged. The results are those of the runs (every point complete, metrics read back). */
#include "ss_test.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <scansnap/sweep.h>

static void test_the_pool_leaves_the_hosts_children_alone(void **st) {
  (void)st;
  char *d = ss_test_tmpdir("sweep-pool");
  pid_t mine = fork();
  assert_true(mine >= 0);
  if (mine == 0) {
    usleep(20000);
    _exit(42);
  }
  ss_sweep s;
  ss_sweep_init(&s);
  ss_err e;
  const char *args[] = {"seed=1:6", "niter=3", "jobs=2", "threads=1"};
  for (int i = 0; i < 4; i++) assert_int_equal(ss_sweep_arg(&s, args[i], &e), SS_OK);
  snprintf(s.out, sizeof s.out, "%s/sw", d);
  assert_int_equal(ss_sweep_check(&s, &e), SS_OK);
  ss_sweep_results r;
  assert_int_equal(ss_sweep_results_init(&r, ss_sweep_npoints(&s), &e), SS_OK);
  const double t0 = ss_now();
  if (ss_sweep_run(&s, &r, NULL, NULL, &e)) fail_msg("%s", e.msg);
  assert_true(ss_now() - t0 > 0.02); /* the host's child exited during the sweep */
  for (long i = 0; i < r.n; i++) {
    assert_int_equal(r.pt[i].status, SS_PT_COMPLETE);
    assert_true(isfinite(ss_sweep_value(&r, i, ss_sweep_results_col(&r, "entropy_distinct"))));
  }
  int status = 0;
  assert_int_equal(waitpid(mine, &status, 0), mine);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 42);
  struct sigaction sa;
  assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
  assert_true(sa.sa_handler == SIG_DFL);
  ss_sweep_results_free(&r);
  ss_sweep_free(&s);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_pool_leaves_the_hosts_children_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
