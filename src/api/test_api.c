/* The public API (<scansnap.h>) through its own header only: configurations by key with the
 * CLI's messages, a Figure-4 run whose arrays agree with each other (c_n sums to 1, the
 * entropy column recomputed from c_n, steps = the step column), a run stopped by its callback
 * and resumed that ends with the same arrays and checkpoint as a run never stopped, a stop
 * requested from another thread, divergence, reading a run back, theory + compare, verify's
 * claims, a small sweep, and the errors of misuse (a handle used twice, a missing directory). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scansnap.h>

#include "ss_test.h"

static char *tmp;

static int setup(void **state) {
  (void)state;
  tmp = ss_test_tmpdir("api");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(tmp);
  return 0;
}

/* tmp/name, in a static buffer (one at a time) */
static const char *at(const char *name) {
  static char buf[4][1024];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
  return buf[k];
}

static ss_config *config(ss_err *e, const char *out) {
  ss_config *c = ss_config_new();
  assert_non_null(c);
  assert_int_equal(ss_config_set(c, "out", at(out), e), SS_OK);
  return c;
}

static void test_config_keys(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = ss_config_new();
  char buf[64];
  assert_string_equal(ss_version(), SS_VERSION);
  assert_int_equal(ss_err_code(e), SS_OK);
  assert_string_equal(ss_err_message(e), "");
  /* an alias of the paper's, read back by its canonical name */
  assert_int_equal(ss_config_set(c, "L", "64", e), SS_OK);
  assert_int_equal(ss_config_get(c, "data.T", buf, sizeof buf, e), SS_OK);
  assert_string_equal(buf, "64");
  assert_int_equal(ss_config_get(c, "model.type", buf, sizeof buf, e), SS_OK);
  assert_string_equal(buf, "yz");
  /* the CLI's messages: the nearest key, what a value must be */
  assert_int_equal(ss_config_set(c, "opt.lr_zz", "2", e), SS_EINPUT);
  assert_int_equal(ss_err_code(e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "unknown key 'opt.lr_zz' (did you mean 'opt.lr_z'?"));
  assert_int_equal(ss_config_get(c, "opt.lr_zz", buf, sizeof buf, e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "did you mean 'opt.lr_z'?"));
  assert_int_equal(ss_config_set(c, "niter", "many", e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "key 'niter': 'many' is not an integer"));
  assert_int_equal(ss_config_set(c, "niter", "7", NULL), SS_OK); /* err may be NULL */
  assert_int_equal(ss_config_set(c, "nope", "7", NULL), SS_EINPUT);
  /* a buffer too small says how much it needs */
  assert_int_equal(ss_config_get(c, "niter", buf, 1, e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "needs a buffer of 2 bytes"));
  /* a copy is independent */
  ss_config *d = ss_config_copy(c);
  assert_int_equal(ss_config_set(d, "niter", "9", e), SS_OK);
  assert_int_equal(ss_config_get(c, "niter", buf, sizeof buf, e), SS_OK);
  assert_string_equal(buf, "7");
  /* the key table */
  const int n = ss_config_nkeys();
  assert_true(n > 50);
  int found = 0;
  for (int i = 0; i < n; i++) {
    assert_non_null(ss_config_key_name(i));
    assert_non_null(ss_config_key_help(i));
    assert_non_null(ss_config_key_default(i));
    if (!strcmp(ss_config_key_name(i), "opt.lr_z")) found = !strcmp(ss_config_key_type(i), "float");
  }
  assert_true(found);
  assert_null(ss_config_key_name(n));
  assert_null(ss_config_key_name(-1));
  ss_config_free(d);
  ss_config_free(c);
  ss_err_free(e);
  ss_config_free(NULL);
  ss_err_free(NULL);
  ss_run_free(NULL);
  ss_grid_free(NULL);
  ss_comparison_free(NULL);
}

static const double *column(const ss_run *r, const char *name, int64_t want) {
  int64_t n = -1;
  const double *v = ss_run_column(r, name, &n);
  assert_non_null(v);
  assert_int_equal(n, want);
  return v;
}

/* c_n of every row sums to 1 per class, its mean entropy is the entropy column, the steps are
 * the step column: the getters point at the run's data. */
static void check_fig4(const ss_run *r) {
  assert_string_equal(ss_run_state(r), "complete");
  assert_int_equal(ss_run_nrows(r), 51);
  assert_string_equal(ss_run_column_name(r, 0), "step");
  assert_null(ss_run_column_name(r, ss_run_ncolumns(r)));
  const double *step = column(r, "step", 51), *H = column(r, "entropy", 51);
  int64_t n = 0;
  assert_null(ss_run_column(r, "no_such_column", &n));
  assert_int_equal(n, 0);
  int64_t S, N, M, ns, nq, nx, pn, pm;
  const double *c = ss_run_cn(r, &S, &N, &M);
  const int64_t *steps = ss_run_steps(r, &ns);
  const int32_t *q = ss_run_class_query(r, &nq), *x = ss_run_class_next(r, &nx);
  const double *prob = ss_run_class_prob(r, &pn, &pm);
  assert_non_null(c);
  assert_int_equal(S, 51);
  assert_int_equal(N, 2);
  assert_int_equal(M, 34);
  assert_int_equal(ns, 51);
  assert_int_equal(nq, 2);
  assert_int_equal(nx, 2);
  assert_int_equal(pn, 2);
  assert_int_equal(pm, 34);
  /* the generator's layout (SPEC §1): queries 30, 31, next tokens 32, 33 */
  assert_int_equal(q[0], 30);
  assert_int_equal(q[1], 31);
  assert_int_equal(x[0], 32);
  assert_int_equal(x[1], 33);
  for (int64_t s = 0; s < S; s++) {
    assert_true(steps[s] == (int64_t)step[s]);
    double h = 0;
    for (int64_t k = 0; k < N; k++) {
      double sum = 0, hk = 0, psum = 0;
      for (int64_t l = 0; l < M; l++) {
        const double v = c[(s * N + k) * M + l];
        sum += v;
        if (v > 0) hk -= v * log(v);
        psum += prob[k * M + l];
      }
      assert_true(fabs(sum - 1) < 1e-12);
      assert_true(fabs(psum - 1) < 1e-12);
      h += hk / (double)N;
    }
    assert_true(fabs(h - H[s]) < 1e-12);
  }
  /* the paper's Figure-4 value */
  assert_true(H[50] > 2.74 && H[50] < 2.745);
  assert_null(ss_run_attention(r, &S, NULL, NULL));
  assert_int_equal(S, 0);
  assert_int_equal(ss_run_nclaims(r), 0);
}

static void test_train_fig4_and_open(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = config(e, "fig4");
  ss_run *r = ss_run_new();
  assert_int_equal(ss_run_train(r, c, e), SS_OK);
  assert_string_equal(ss_run_path(r), at("fig4"));
  check_fig4(r);
  char buf[32];
  assert_int_equal(ss_config_get(ss_run_config(r), "seed", buf, sizeof buf, e), SS_OK);
  assert_string_equal(buf, "2");
  /* one run per handle; the directory now holds a run */
  assert_int_equal(ss_run_train(r, c, e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "already holds the run"));
  ss_run *again = ss_run_new();
  assert_int_equal(ss_run_train(again, c, e), SS_EINPUT);
  ss_run_free(again);
  /* read back: the same arrays */
  ss_run *o = ss_run_new();
  assert_int_equal(ss_run_open(o, at("fig4"), e), SS_OK);
  check_fig4(o);
  int64_t S, N, M;
  const double *cr = ss_run_cn(r, &S, &N, &M);
  assert_memory_equal(cr, ss_run_cn(o, NULL, NULL, NULL), sizeof(double) * (size_t)(S * N * M));
  for (int i = 0; i < ss_run_ncolumns(r); i++)
    assert_memory_equal(ss_run_column(r, ss_run_column_name(r, i), NULL), ss_run_column(o, ss_run_column_name(o, i), NULL),
                        sizeof(double) * 51);
  ss_run_free(o);
  ss_run_free(r);
  ss_config_free(c);
  ss_err_free(e);
}

static int stop_at_30(void *user, int64_t step, int64_t total, double loss, double seconds) {
  (void)seconds;
  int *calls = user;
  ++*calls;
  assert_int_equal(total, 100);
  assert_true(isfinite(loss));
  return step >= 30;
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  rewind(f);
  char *b = malloc(*n + 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void test_stop_by_callback_then_resume(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = config(e, "stopped");
  assert_int_equal(ss_config_set(c, "save_every", "25", e), SS_OK);
  ss_run *r = ss_run_new();
  int calls = 0;
  ss_run_set_callback(r, stop_at_30, &calls);
  assert_int_equal(ss_run_train(r, c, e), SS_ESTOP);
  assert_non_null(strstr(ss_err_message(e), "stopped on request at step 31 of 100; checkpoint written"));
  assert_string_equal(ss_run_state(r), "interrupted");
  assert_int_equal(calls, 31);
  /* the rows before the stop are readable: 0, 2, ..., 30 */
  const double *step = column(r, "step", 16);
  assert_true(step[15] == 30);
  ss_run_free(r);

  /* resumed: the same arrays and checkpoint as a run never stopped */
  r = ss_run_new();
  assert_int_equal(ss_run_resume(r, at("stopped"), NULL, 0, e), SS_OK);
  ss_run *ref = ss_run_new();
  assert_int_equal(ss_config_set(c, "out", at("unstopped"), e), SS_OK);
  assert_int_equal(ss_run_train(ref, c, e), SS_OK);
  check_fig4(r);
  int64_t S, N, M;
  const double *cr = ss_run_cn(r, &S, &N, &M);
  assert_memory_equal(cr, ss_run_cn(ref, NULL, NULL, NULL), sizeof(double) * (size_t)(S * N * M));
  for (int i = 0; i < ss_run_ncolumns(ref); i++)
    assert_memory_equal(ss_run_column(r, ss_run_column_name(ref, i), NULL), ss_run_column(ref, ss_run_column_name(ref, i), NULL),
                        sizeof(double) * 51);
  size_t na, nb;
  char *a = slurp(at("stopped/checkpoint.safetensors"), &na), *b = slurp(at("unstopped/checkpoint.safetensors"), &nb);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na);
  free(a);
  free(b);
  ss_run_free(ref);
  ss_run_free(r);
  /* the resume policy of the library: only niter= and threads= */
  r = ss_run_new();
  const char *bad[] = {"seed=3"};
  assert_int_equal(ss_run_resume(r, at("stopped"), bad, 1, e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "'seed=3' cannot be given with --resume"));
  /* complete at that niter: only opened */
  const char *same[] = {"niter=100"};
  assert_int_equal(ss_run_resume(r, at("stopped"), same, 1, e), SS_OK);
  check_fig4(r);
  ss_run_free(r);
  ss_config_free(c);
  ss_err_free(e);
}

typedef struct {
  ss_run *r;
  const ss_config *c;
  ss_err *e;
  int rc;
  volatile int step;
} long_run;

static int note_step(void *user, int64_t step, int64_t total, double loss, double seconds) {
  (void)total;
  (void)loss;
  (void)seconds;
  __atomic_store_n(&((long_run *)user)->step, (int)step, __ATOMIC_SEQ_CST);
  return 0;
}

static void *run_thread(void *p) {
  long_run *l = p;
  l->rc = ss_run_train(l->r, l->c, l->e);
  return NULL;
}

static void test_stop_from_another_thread(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = config(e, "long");
  assert_int_equal(ss_config_set(c, "niter", "100000000", e), SS_OK);
  assert_int_equal(ss_config_set(c, "save_per_minibatch", "1000000", e), SS_OK);
  assert_int_equal(ss_config_set(c, "max_output_mb", "0", e), SS_OK);
  assert_int_equal(ss_config_set(c, "data.T", "16", e), SS_OK);
  assert_int_equal(ss_config_set(c, "batchsize", "8", e), SS_OK);
  long_run l = {ss_run_new(), c, e, -1, 0};
  ss_run_set_callback(l.r, note_step, &l);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, run_thread, &l), 0);
  while (__atomic_load_n(&l.step, __ATOMIC_SEQ_CST) < 5) usleep(1000);
  ss_run_request_stop(l.r);
  pthread_join(t, NULL);
  assert_int_equal(l.rc, SS_ESTOP);
  assert_non_null(strstr(ss_err_message(e), "stopped on request at step"));
  assert_string_equal(ss_run_state(l.r), "interrupted");
  assert_true(access(at("long/checkpoint.safetensors"), R_OK) == 0);
  ss_run_free(l.r);
  ss_config_free(c);
  ss_err_free(e);
}

static void test_divergence_keeps_rows(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = config(e, "diverged");
  assert_int_equal(ss_config_set(c, "opt.method", "adam", e), SS_OK);
  assert_int_equal(ss_config_set(c, "opt.lr", "1e308", e), SS_OK);
  assert_int_equal(ss_config_set(c, "niter", "5", e), SS_OK);
  assert_int_equal(ss_config_set(c, "save_per_minibatch", "1", e), SS_OK);
  ss_run *r = ss_run_new();
  assert_int_equal(ss_run_train(r, c, e), SS_EDIVERGE);
  assert_non_null(strstr(ss_err_message(e), "diverged at step"));
  assert_string_equal(ss_run_state(r), "diverged");
  assert_true(ss_run_nrows(r) >= 1);
  ss_run_free(r);
  ss_config_free(c);
  ss_err_free(e);
}

static void test_theory_compare(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = config(e, "theory");
  ss_run *t = ss_run_new(), *s = ss_run_new();
  assert_int_equal(ss_run_theory(t, c, e), SS_OK);
  assert_string_equal(ss_run_state(t), "complete");
  assert_int_equal(ss_config_set(c, "out", at("sgd"), e), SS_OK);
  assert_int_equal(ss_run_train(s, c, e), SS_OK);
  ss_comparison *cmp = NULL;
  assert_int_equal(ss_compare_dirs(ss_run_path(s), ss_run_path(t), -1, &cmp, e), SS_OK);
  int64_t first, last, N;
  assert_int_equal(ss_comparison_nsteps(cmp, &first, &last), 51);
  assert_int_equal(first, 0);
  assert_int_equal(last, 100);
  const double *mx = ss_comparison_class_max(cmp, &N);
  assert_int_equal(N, 2);
  /* SGD follows the population dynamics closely but not exactly (docs/theory.md) */
  assert_true(ss_comparison_max(cmp) == fmax(mx[0], mx[1]));
  assert_true(ss_comparison_max(cmp) > 0 && ss_comparison_max(cmp) < 0.1);
  assert_true(ss_comparison_mean(cmp) > 0 && ss_comparison_mean(cmp) <= ss_comparison_max(cmp));
  int found = 0;
  for (int i = 0; i < ss_comparison_ncolumns(cmp); i++)
    if (!strcmp(ss_comparison_column_name(cmp, i), "entropy")) found = isfinite(ss_comparison_column_max(cmp, i));
  assert_true(found);
  ss_comparison_free(cmp);
  assert_int_equal(ss_compare_dirs(ss_run_path(s), at("nothing-here"), -1, &cmp, e), SS_EINPUT);
  assert_null(cmp);
  ss_run_free(s);
  ss_run_free(t);
  ss_config_free(c);
  ss_err_free(e);
}

static void test_verify_claims(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_config *c = config(e, "verify");
  assert_int_equal(ss_config_set(c, "verify.grid", "false", e), SS_OK);
  ss_run *r = ss_run_new();
  assert_int_equal(ss_run_verify(r, c, NULL, e), SS_OK);
  assert_string_equal(ss_run_state(r), "complete");
  assert_int_equal(ss_run_nclaims(r), 4);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(ss_run_claim_id(r, i), i + 1);
    const char *st = ss_run_claim_status(r, i);
    assert_true(!strcmp(st, "PASS") || !strcmp(st, "FAIL") || !strcmp(st, "SKIP"));
    assert_non_null(ss_run_claim_name(r, i));
    assert_non_null(ss_run_claim_measured(r, i));
    assert_non_null(ss_run_claim_why(r, i));
    for (int k = 0; k < ss_run_claim_nnumbers(r, i); k++) assert_non_null(ss_run_claim_number_name(r, i, k));
  }
  /* claim 1 on the Figure-4 run: common mass falls (theory and SGD); no corpus: claim 4 skips */
  assert_string_equal(ss_run_claim_status(r, 0), "PASS");
  assert_string_equal(ss_run_claim_number_name(r, 0, 0), "theory_common_mass_start");
  assert_true(ss_run_claim_number(r, 0, 0) > ss_run_claim_number(r, 0, 1));
  assert_string_equal(ss_run_claim_status(r, 3), "SKIP");
  assert_true(isnan(ss_run_claim_number(r, 0, 999)));
  ss_run_free(r);
  ss_config_free(c);
  ss_err_free(e);
}

static int count_points(void *user, int64_t done, int64_t total, int64_t failed, double seconds) {
  (void)seconds;
  int *n = user;
  assert_int_equal(total, 2);
  assert_int_equal(failed, 0);
  *n = (int)done;
  return 0;
}

static void test_grid(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_grid *g = ss_grid_new();
  assert_int_equal(ss_grid_set(g, "seed", "1,2", e), SS_OK);
  assert_int_equal(ss_grid_set(g, "niter", "20", e), SS_OK);
  assert_int_equal(ss_grid_set(g, "jobs", "2", e), SS_OK);
  assert_int_equal(ss_grid_set(g, "out", at("grid"), e), SS_OK);
  assert_int_equal(ss_grid_set(g, "opt.lr_zz", "1,2", e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "opt.lr_z"));
  int done = 0;
  ss_grid_set_callback(g, count_points, &done);
  assert_int_equal(ss_grid_run(g, e), SS_OK);
  assert_int_equal(done, 2);
  assert_string_equal(ss_grid_path(g), at("grid"));
  assert_int_equal(ss_grid_nrows(g), 2);
  int64_t n;
  const double *seed = ss_grid_column(g, "seed", &n), *H = ss_grid_column(g, "entropy", NULL);
  assert_int_equal(n, 2);
  assert_true(seed[0] == 1 && seed[1] == 2);
  assert_true(isfinite(H[0]) && isfinite(H[1]) && H[0] != H[1]);
  int status = -1, dir = -1;
  for (int i = 0; i < ss_grid_ncolumns(g); i++) {
    if (!strcmp(ss_grid_column_name(g, i), "status")) status = i;
    if (!strcmp(ss_grid_column_name(g, i), "dir")) dir = i;
  }
  assert_true(status >= 0 && dir >= 0);
  assert_string_equal(ss_grid_cell(g, 0, status), "complete");
  assert_true(isnan(ss_grid_column(g, "status", NULL)[0]));
  assert_null(ss_grid_cell(g, 2, 0));
  /* a point is a normal run, and the sweep reads back the same */
  char point[1024];
  snprintf(point, sizeof point, "%s/%s", at("grid"), ss_grid_cell(g, 1, dir));
  ss_run *r = ss_run_new();
  assert_int_equal(ss_run_open(r, point, e), SS_OK);
  assert_true(column(r, "entropy", 11)[10] == H[1]);
  ss_run_free(r);
  ss_grid *o = ss_grid_new();
  assert_int_equal(ss_grid_open(o, at("grid"), e), SS_OK);
  assert_int_equal(ss_grid_nrows(o), 2);
  assert_memory_equal(ss_grid_column(o, "entropy", NULL), H, 2 * sizeof(double));
  ss_grid_free(o);
  assert_int_equal(ss_grid_set(g, "seed", "3", e), SS_EINPUT); /* the handle holds its sweep */
  ss_grid_free(g);
  ss_err_free(e);
}

static int stop_after_one(void *user, int64_t done, int64_t total, int64_t failed, double seconds) {
  (void)user;
  (void)total;
  (void)failed;
  (void)seconds;
  return done >= 1;
}

/* A sweep stopped by its callback keeps what finished and a second call resumes it. */
static void test_grid_stop_and_resume(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  for (int pass = 0; pass < 2; pass++) {
    ss_grid *g = ss_grid_new();
    assert_int_equal(ss_grid_set(g, "seed", "1,2,3", e), SS_OK);
    assert_int_equal(ss_grid_set(g, "niter", "20", e), SS_OK);
    assert_int_equal(ss_grid_set(g, "jobs", "1", e), SS_OK);
    assert_int_equal(ss_grid_set(g, "out", at("grid-stop"), e), SS_OK);
    if (pass == 0) ss_grid_set_callback(g, stop_after_one, NULL);
    assert_int_equal(ss_grid_run(g, e), pass == 0 ? SS_ESTOP : SS_OK);
    assert_int_equal(ss_grid_nrows(g), 3);
    int status = -1;
    for (int i = 0; i < ss_grid_ncolumns(g); i++)
      if (!strcmp(ss_grid_column_name(g, i), "status")) status = i;
    assert_true(status >= 0);
    assert_string_equal(ss_grid_cell(g, 0, status), "complete");
    assert_true(pass == 1 ? !strcmp(ss_grid_cell(g, 2, status), "complete") : strcmp(ss_grid_cell(g, 2, status), "complete") != 0);
    ss_grid_free(g);
  }
  ss_err_free(e);
}

static void test_open_errors(void **state) {
  (void)state;
  ss_err *e = ss_err_new();
  ss_run *r = ss_run_new();
  assert_int_equal(ss_run_open(r, at("missing"), e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "no run directory"));
  char *empty = ss_test_tmpdir("api-empty");
  assert_int_equal(ss_run_open(r, empty, e), SS_EINPUT);
  assert_non_null(strstr(ss_err_message(e), "holds no run"));
  assert_string_equal(ss_run_path(r), ""); /* still empty: usable */
  free(empty);
  ss_run_free(r);
  ss_grid *g = ss_grid_new();
  assert_int_equal(ss_grid_open(g, at("missing"), e), SS_EINPUT);
  ss_grid_free(g);
  ss_err_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_keys),
      cmocka_unit_test(test_train_fig4_and_open),
      cmocka_unit_test(test_stop_by_callback_then_resume),
      cmocka_unit_test(test_stop_from_another_thread),
      cmocka_unit_test(test_divergence_keeps_rows),
      cmocka_unit_test(test_theory_compare),
      cmocka_unit_test(test_verify_claims),
      cmocka_unit_test(test_grid),
      cmocka_unit_test(test_grid_stop_and_resume),
      cmocka_unit_test(test_open_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
