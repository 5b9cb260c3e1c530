/* Theory runs (SPEC §4): a theory run writes every file a training run writes plus snap.json
 * and starts from the very parameters of the training run; the Figure-4 theory run takes
 * milliseconds; the RK4 flow is step-size independent and is the small-learning-rate limit
 * of plain SGD steps; and SGD converges to the steps theory as T and the batch grow
 * (32 -> 512 -> 4096): the c_n gap shrinks, and is below 0.02 over the first 20 steps at 4096. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void cfg_of(ss_config *c, const char *const *kv, int n) {
  ss_err err;
  ss_config_defaults(c);
  for (int i = 0; i < n; i++)
    if (ss_config_override(c, kv[i], &err)) fail_msg("%s: %s", kv[i], err.msg);
  assert_int_equal(ss_config_validate(c, &err), SS_OK);
}

static void writes_the_files_of_a_training_run_fast(void **state) {
  (void)state;
  char *tmp = ss_test_tmpdir("theory-files");
  ss_config c;
  cfg_of(&c, NULL, 0);
  char *d = ss_path_join(tmp, "th");
  ss_run_summary s;
  ss_err err;
  assert_int_equal(ss_theory_run(&c, d, &s, &err), SS_OK);
  const char *files[] = {"config.yaml", "classes.json", "metrics.csv", "metrics.jsonl", "dynamics.safetensors",
                         "checkpoint.safetensors", "run.json", "snap.json"};
  for (int i = 0; i < 8; i++) {
    char *p = ss_path_join(d, files[i]);
    if (!ss_file_exists(p)) fail_msg("theory run lacks %s", files[i]);
    free(p);
  }
  assert_int_equal(s.rows, 51); /* steps 0, 2, ..., 100 as in training */
  assert_true(s.end.common_mass < s.start.common_mass - 0.1);
  /* the Figure-4 theory run takes milliseconds (generous bound for sanitizer builds) */
  if (!(s.train_seconds < 0.5)) fail_msg("Figure-4 theory run took %g s", s.train_seconds);
  char *rj = ss_path_join(d, "run.json"), *txt;
  size_t n;
  assert_int_equal(ss_read_file(rj, &txt, &n, &err), SS_OK);
  assert_non_null(strstr(txt, "\"complete\""));
  assert_non_null(strstr(txt, "\"theory\""));
  free(txt);
  free(rj);
  free(d);
  free(tmp);
}

/* Same init as training, also for the random draw: step-0 c_n, ||Y|| and ||Z|| agree exactly. */
static void starts_where_training_starts(void **state) {
  (void)state;
  const char *kv[] = {"model.zero_init=false", "seed=5", "niter=4", "save_per_minibatch=1"};
  ss_config c;
  cfg_of(&c, kv, 4);
  char *tmp = ss_test_tmpdir("theory-init");
  char *a = ss_path_join(tmp, "th"), *b = ss_path_join(tmp, "sgd");
  ss_run_summary sa, sb;
  ss_err err;
  assert_int_equal(ss_theory_run(&c, a, &sa, &err), SS_OK);
  assert_int_equal(ss_train(&c, b, &sb, &err), SS_OK);
  ss_compare cmp;
  assert_int_equal(ss_compare_runs(a, b, 0, &cmp, &err), SS_OK);
  assert_int_equal(cmp.nshared, 1);
  assert_true(cmp.max == 0);
  for (int k = 0; k < cmp.nscalar; k++)
    if (!strcmp(cmp.scalar[k].name, "y_norm") || !strcmp(cmp.scalar[k].name, "z_norm")) assert_true(cmp.scalar[k].max == 0);
  assert_true(sa.start.entropy > 0 && sa.start.kendall_tau != 0); /* random Z: not the uniform start */
  ss_compare_free(&cmp);
  /* and the snap file of the training run is there too */
  char *sj = ss_path_join(b, "snap.json");
  assert_true(ss_file_exists(sj));
  free(sj);
  free(a);
  free(b);
  free(tmp);
}

/* c_n at the end of an in-memory run of task ops (the trainer with no directory). */
static void final_c_of(const ss_config *c, const ss_task_ops *ops, double *out) {
  ss_trainer tr;
  ss_err err;
  ss_run_opts o;
  ss_run_opts_default(&o);
  assert_int_equal(ss_trainer_init(&tr, c, &o, ops, &err), SS_OK);
  assert_int_equal(ss_trainer_run(&tr, &err), SS_OK);
  size_t NM = (size_t)tr.rec.cl->N * tr.rec.cl->M;
  memcpy(out, tr.rec.c_last, sizeof(double) * NM);
  ss_trainer_free(&tr);
}

static void final_c(const ss_config *c, double *out) { final_c_of(c, &ss_task_theory, out); }

static double maxdiff(const double *a, const double *b, int n) {
  double d = 0;
  for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
  return d;
}

/* RK4 with dt = 0.5, dt = 0.05 and adaptive agree; plain SGD steps (no momentum) approach the
 * flow as the learning rate shrinks (error O(lr) at fixed time lr * steps). */
static void flow_is_the_small_step_limit(void **state) {
  (void)state;
  enum { NMAX = 4096 };
  static double f1[NMAX], f2[NMAX], f3[NMAX], s1[NMAX], s2[NMAX];
  const char *base[] = {"theory.mode=flow", "niter=40", "opt.lr_z=1", "opt.lr_y=1", "theory.dt=0.5"};
  ss_config c;
  cfg_of(&c, base, 5);
  final_c(&c, f1);
  const char *fine[] = {"theory.mode=flow", "niter=40", "opt.lr_z=1", "opt.lr_y=1", "theory.dt=0.05"};
  cfg_of(&c, fine, 5);
  final_c(&c, f2);
  const char *ad[] = {"theory.mode=flow", "niter=40", "opt.lr_z=1", "opt.lr_y=1", "theory.dt=1", "theory.tol=1e-8"};
  cfg_of(&c, ad, 6);
  final_c(&c, f3);
  int n = 2 * 34; /* N*M of the Figure-4 table */
  assert_true(maxdiff(f1, f2, n) < 1e-5);
  assert_true(maxdiff(f3, f2, n) < 1e-5);
  /* flow time 40 = 40 steps at lr 1 = 160 steps at lr 0.25 = 640 steps at lr 1/16 */
  const char *st1[] = {"niter=160", "opt.lr_z=0.25", "opt.lr_y=0.25", "opt.momentum=0"};
  cfg_of(&c, st1, 4);
  final_c(&c, s1);
  const char *st2[] = {"niter=640", "opt.lr_z=0.0625", "opt.lr_y=0.0625", "opt.momentum=0"};
  cfg_of(&c, st2, 4);
  final_c(&c, s2);
  double e1 = maxdiff(s1, f2, n), e2 = maxdiff(s2, f2, n);
  if (!(e2 < e1 / 2.5 && e1 > 0)) fail_msg("SGD steps do not approach the flow: %g (lr 1/4) vs %g (lr 1/16)", e1, e2);
  /* the flow moved away from the uniform start c_n = P(.|n): the comparison is not vacuous */
  ss_classes cl;
  ss_err err;
  assert_int_equal(ss_classes_from_config(&c, &cl, &err), SS_OK);
  double l1 = 0;
  for (int i = 0; i < n; i++) l1 += fabs(f2[i] - cl.prob[i]);
  assert_true(l1 > 0.2);
  ss_classes_free(&cl);
}

/* A run in memory (verify's grids) is the run in a directory, row for row, bit for bit. */
static void sgd_in_memory_equals_train(void **state) {
  (void)state;
  const char *kv[] = {"model.zero_init=false", "seed=3", "niter=12", "save_per_minibatch=3", "data.num_last=1",
                      "data.num_next_per_last=2", "opt.lr_y=5"};
  ss_config c;
  cfg_of(&c, kv, 7);
  char *tmp = ss_test_tmpdir("theory-sgdmem");
  char *a = ss_path_join(tmp, "train"), *b = ss_path_join(tmp, "memory");
  ss_run_summary s;
  ss_err err;
  assert_int_equal(ss_train(&c, a, &s, &err), SS_OK);
  ss_trainer tr;
  ss_run_opts o;
  ss_run_opts_default(&o); /* no directory: in memory */
  assert_int_equal(ss_trainer_init(&tr, &c, &o, &ss_task_synthetic, &err), SS_OK);
  assert_int_equal(ss_trainer_run(&tr, &err), SS_OK);
  assert_int_equal(ss_mkdir_p(b, &err), SS_OK);
  assert_int_equal(ss_recorder_write(&tr.rec, b, &err), SS_OK);
  ss_compare cmp;
  assert_int_equal(ss_compare_runs(a, b, -1, &cmp, &err), SS_OK);
  assert_int_equal(cmp.nshared, 5); /* 0, 3, 6, 9, 12 */
  assert_true(cmp.max == 0);
  for (int k = 0; k < cmp.nscalar; k++)
    if (cmp.scalar[k].max != 0) fail_msg("%s differs by %g", cmp.scalar[k].name, cmp.scalar[k].max);
  ss_compare_free(&cmp);
  ss_trainer_free(&tr);
  free(a);
  free(b);
  free(tmp);
}

/* The CLI: a flow run from the command line, and bad input (the transformer has no
 * population theory here; an unknown option) exits 2 naming the key. */
static void cli_runs_and_rejects_bad_input(void **state) {
  (void)state;
  char *tmp = ss_test_tmpdir("theory-cli"), *out = NULL;
  int rc = ss_test_sh(&out, "'%s' theory theory.mode=flow theory.tol=1e-6 theory.dt=1 niter=10 out='%s/flow'", ss_test_cli(), tmp);
  if (rc != 0) fail_msg("theory flow exited %d:\n%s", rc, out);
  assert_non_null(strstr(out, "mode flow"));
  free(out);
  char p[4300];
  snprintf(p, sizeof p, "%s/flow/snap.json", tmp);
  assert_true(ss_file_exists(p));
  rc = ss_test_sh(&out, "'%s' theory model.type=transformer out='%s/tf'", ss_test_cli(), tmp);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "model.type"));
  free(out);
  assert_int_equal(ss_test_sh(NULL, "'%s' theory --bogus out='%s/x'", ss_test_cli(), tmp), 2);
  free(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(writes_the_files_of_a_training_run_fast),
      cmocka_unit_test(starts_where_training_starts),
      cmocka_unit_test(flow_is_the_small_step_limit),
      cmocka_unit_test(cli_runs_and_rejects_bad_input),
      cmocka_unit_test(sgd_in_memory_equals_train),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
