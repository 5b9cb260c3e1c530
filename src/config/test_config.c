/* Configuration (the paper's Hydra habit): the paper's names are aliases of ours, key=value
 * overrides and nested YAML set the same fields, lists are refused for a training run, the
 * resolved config.yaml reproduces the configuration, and every bad input is SS_EINPUT with
 * one line naming the key, value or file (unknown keys get the nearest valid key). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void set_ok(ss_config *c, const char *kv) {
  ss_err e;
  if (ss_config_override(c, kv, &e) != SS_OK) fail_msg("'%s' rejected: %s", kv, e.msg);
}

static void paper_aliases_set_our_keys(void **state) {
  (void)state;
  ss_config c;
  ss_config_defaults(&c);
  set_ok(&c, "dataset2.num_last=5");
  set_ok(&c, "dataset2.num_next_per_last=3");
  set_ok(&c, "dataset.num_common=7");
  set_ok(&c, "model2.normalize=false");
  set_ok(&c, "model2.residual=true");
  set_ok(&c, "L=64");
  set_ok(&c, "d=32");
  set_ok(&c, "H=4");
  set_ok(&c, "model.attn_include_base_token=true");
  set_ok(&c, "lr=0.5");
  assert_int_equal(c.data.num_last, 5);
  assert_int_equal(c.data.num_next_per_last, 3);
  assert_int_equal(c.data.num_common, 7);
  assert_int_equal(c.model.normalize, 0);
  assert_int_equal(c.model.residual, 1);
  assert_int_equal(c.data.T, 64);
  assert_int_equal(c.model.d, 32);
  assert_int_equal(c.model.H, 4);
  assert_int_equal(c.model.include_base_token, 1);
  assert_true(c.opt.lr == 0.5);
  assert_true(ss_config_is_set(&c, "data.T"));
  assert_true(ss_config_is_set(&c, "L"));
  assert_string_equal(ss_config_canonical("model2.attn_include_base_token"), "model.include_base_token");
  assert_string_equal(ss_config_canonical("dataset2.num_common_per_last"), "data.num_common_per_last");
  /* d and H do not apply to the Y/Z model: reported as unused, not dropped */
  char unused[512];
  ss_config_unused(&c, unused, sizeof unused);
  assert_non_null(strstr(unused, "model.d"));
  assert_non_null(strstr(unused, "model.H"));
  assert_null(strstr(unused, "data.T"));
}

static void overrides_and_learning_rate_resolution(void **state) {
  (void)state;
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  /* defaults = Figure 4 */
  assert_int_equal(c.niter, 100);
  assert_int_equal(c.batchsize, 128);
  assert_int_equal(c.data.T, 128);
  assert_int_equal(c.seed, 2);
  assert_int_equal(c.opt.method, SS_OPT_SGD);
  assert_true(c.opt.momentum == 0.9);
  set_ok(&c, "niter=7");
  set_ok(&c, "+seed=11");
  set_ok(&c, "++opt.method=adamw");
  set_ok(&c, "niter=1e3"); /* later wins; integral floats are integers */
  assert_int_equal(c.niter, 1000);
  assert_int_equal(c.seed, 11);
  assert_int_equal(c.opt.method, SS_OPT_ADAMW);
  /* lr_z = opt.lr_z if given else opt.lr; lr_y = opt.lr_y if given else lr_z * multi */
  ss_config_defaults(&c);
  set_ok(&c, "opt.lr=0.25");
  set_ok(&c, "opt.lr_y_multi_on_z=4");
  assert_true(ss_config_lr_z(&c) == 0.25);
  assert_true(ss_config_lr_y(&c) == 1.0);
  set_ok(&c, "opt.lr_z=2");
  assert_true(ss_config_lr_y(&c) == 8.0);
  set_ok(&c, "opt.lr_y=3");
  assert_true(ss_config_lr_y(&c) == 3.0);
  assert_int_equal(ss_config_validate(&c, &e), SS_OK);
}

static void nested_yaml_sets_keys_and_aliases(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("cfg-yaml");
  char *p = ss_test_write_file(dir, "a.yaml",
                       "# comment\nseed: 9\nniter: 12\ndataset2:\n  num_last: 3\n  num_common: 4\nmodel:\n"
                       "  normalize: false\n  attn_include_base_token: true\nopt:\n  lr_z: 0.5\n  method: adam\n"
                       "data:\n  classes: \"some file.json\"\n");
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  assert_int_equal(ss_config_load_yaml(&c, p, &e), SS_OK);
  assert_int_equal(c.seed, 9);
  assert_int_equal(c.niter, 12);
  assert_int_equal(c.data.num_last, 3);
  assert_int_equal(c.data.num_common, 4);
  assert_int_equal(c.model.normalize, 0);
  assert_int_equal(c.model.include_base_token, 1);
  assert_true(c.opt.lr_z == 0.5);
  assert_int_equal(c.opt.method, SS_OPT_ADAM);
  assert_string_equal(c.data.classes, "some file.json");
  /* configs/fig4.yaml equals the built-in defaults */
  char fig4[2048];
  snprintf(fig4, sizeof fig4, "%s/configs/fig4.yaml", ss_test_srcdir());
  ss_config d, f;
  ss_config_defaults(&d);
  ss_config_defaults(&f);
  if (ss_config_load_yaml(&f, fig4, &e) != SS_OK) fail_msg("configs/fig4.yaml: %s", e.msg);
  int nk;
  const ss_keydef *k = ss_config_keys(&nk);
  for (int i = 0; i < nk; i++) {
    char a[SS_PATH_MAX + 64], b[SS_PATH_MAX + 64];
    ss_config_format(&d, &k[i], a, sizeof a);
    ss_config_format(&f, &k[i], b, sizeof b);
    if (strcmp(a, b)) fail_msg("configs/fig4.yaml sets %s = %s, default is %s", k[i].name, b, a);
  }
  assert_true(ss_config_lr_y(&d) == ss_config_lr_y(&f) && ss_config_lr_z(&d) == ss_config_lr_z(&f));
  free(p);
  free(dir);
}

static void resolved_config_yaml_reloads_to_the_same_run(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("cfg-roundtrip");
  ss_config c, r;
  ss_err e;
  ss_config_defaults(&c);
  set_ok(&c, "opt.lr_z=0.5");
  set_ok(&c, "opt.lr_y_multi_on_z=3");
  set_ok(&c, "data.num_last=4");
  set_ok(&c, "model.zero_init=false");
  set_ok(&c, "data.sequences=x \"quoted\" \\ y.txt");
  char *p = ss_path_join(dir, "config.yaml");
  FILE *f = fopen(p, "wb");
  assert_int_equal(ss_config_write_yaml(&c, f), SS_OK);
  fclose(f);
  ss_config_defaults(&r);
  if (ss_config_load_yaml(&r, p, &e)) fail_msg("%s", e.msg);
  int nk;
  const ss_keydef *k = ss_config_keys(&nk);
  for (int i = 0; i < nk; i++) {
    if (!strcmp(k[i].name, "opt.lr_y") || !strcmp(k[i].name, "opt.lr_z") || !strcmp(k[i].name, "opt.lr")) continue;
    char a[SS_PATH_MAX + 64], b[SS_PATH_MAX + 64];
    ss_config_format(&c, &k[i], a, sizeof a);
    ss_config_format(&r, &k[i], b, sizeof b);
    if (strcmp(a, b)) fail_msg("%s: %s written, %s read back", k[i].name, a, b);
  }
  /* the learning rates the run used, not the raw fields */
  if (ss_config_lr_y(&r) != ss_config_lr_y(&c) || ss_config_lr_z(&r) != ss_config_lr_z(&c))
    fail_msg("config.yaml reloads with lr_y %g lr_z %g; the run used lr_y %g lr_z %g", ss_config_lr_y(&r),
             ss_config_lr_z(&r), ss_config_lr_y(&c), ss_config_lr_z(&c));
  free(p);
  free(dir);
}

/* config.yaml holds the shortest text that reads back to the same double: 0.1, not
 * 0.10000000000000001 (and still every bit of values that need 17 digits). */
static void doubles_are_written_shortest_and_exact(void **state) {
  (void)state;
  const struct {
    const char *in, *want;
  } v[] = {{"0.1", "0.1"}, {"0.3", "0.3"}, {"1e-8", "1e-08"}, {"0.30000000000000004", "0.30000000000000004"},
           {"2.5", "2.5"}, {"0.1234567890123456", "0.1234567890123456"}, {"1e300", "1e+300"}};
  const ss_keydef *k = ss_config_find("opt.lr");
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    ss_config c;
    ss_err e;
    ss_config_defaults(&c);
    assert_int_equal(ss_config_set(&c, "opt.lr", v[i].in, &e), SS_OK);
    char buf[SS_PATH_MAX + 64];
    ss_config_format(&c, k, buf, sizeof buf);
    assert_true(strtod(buf, NULL) == c.opt.lr);
    assert_string_equal(buf, v[i].want);
  }
}

/* `theory --help` lists the keys of the Y/Z model only (the key table's scope). */
static void help_for_one_model_omits_the_other_models_keys(void **state) {
  (void)state;
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  ss_config_print_help_for(f, 1 << SS_SCOPE_YZ);
  fclose(f);
  assert_non_null(strstr(buf, "model.normalize"));
  assert_non_null(strstr(buf, "theory.dt"));
  assert_non_null(strstr(buf, "opt.lr_z"));
  assert_null(strstr(buf, "text.probe_steps"));
  assert_null(strstr(buf, "model.use_Wq"));
  assert_null(strstr(buf, "data.max_vocab"));
  free(buf);
  f = open_memstream(&buf, &n);
  ss_config_print_help(f);
  fclose(f);
  assert_non_null(strstr(buf, "text.probe_steps"));
  assert_non_null(strstr(buf, "model.normalize"));
  free(buf);
}

static void expect_set_error(const char *kv, const char *must1, const char *must2) {
  ss_config c;
  ss_err e = {0};
  ss_config_defaults(&c);
  int rc = ss_config_override(&c, kv, &e);
  if (rc == SS_OK) rc = ss_config_validate(&c, &e);
  if (rc != SS_EINPUT) fail_msg("'%s' gave status %d, expected SS_EINPUT", kv, rc);
  if (must1 && !strstr(e.msg, must1)) fail_msg("'%s': message lacks '%s': %s", kv, must1, e.msg);
  if (must2 && !strstr(e.msg, must2)) fail_msg("'%s': message lacks '%s': %s", kv, must2, e.msg);
  assert_null(strchr(e.msg, '\n'));
}

static void unknown_keys_suggest_the_nearest(void **state) {
  (void)state;
  expect_set_error("niterr=5", "'niterr'", "did you mean 'niter'");
  expect_set_error("opt.lr_zz=1", "'opt.lr_zz'", "'opt.lr_z'");
  expect_set_error("dataset2.num_lst=2", "num_lst", "'data.num_last'");
  expect_set_error("batch_size=3", "'batch_size'", "'batchsize'");
  expect_set_error("model.normalise=true", "normalise", "'model.normalize'");
  /* ties in edit distance go to the key holding the typed characters in order */
  expect_set_error("opt.lrz=1", "'opt.lrz'", "did you mean 'opt.lr_z'");
  expect_set_error("lrz=1", "'lrz'", "did you mean 'opt.lr_z'");
  expect_set_error("opt.lry=1", "'opt.lry'", "did you mean 'opt.lr_y'");
  expect_set_error("novalue", "novalue", "key=value");
  expect_set_error("=3", "key=value", NULL);
}

static void wrong_types_and_out_of_range_values_are_rejected(void **state) {
  (void)state;
  expect_set_error("niter=abc", "'niter'", "'abc' is not an integer");
  expect_set_error("niter=1.5", "'niter'", "not an integer");
  expect_set_error("niter=", "'niter'", "not an integer");
  expect_set_error("niter=-1", "'niter'", "out of range");
  expect_set_error("opt.lr=fast", "'opt.lr'", "not a number");
  expect_set_error("model.normalize=maybe", "'model.normalize'", "not a boolean");
  expect_set_error("opt.method=lbfgs", "'opt.method'", "sgd|adam|adamw");
  expect_set_error("batchsize=0", "'batchsize'", "out of range");
  expect_set_error("batchsize=-4", "'batchsize'", "out of range");
  expect_set_error("L=1", "'L'", "out of range");
  expect_set_error("data.T=0", "'data.T'", "out of range");
  expect_set_error("data.num_last=0", "'data.num_last'", "out of range");
  expect_set_error("dataset2.num_next_per_last=-2", "num_next_per_last", "out of range");
  expect_set_error("data.num_unique_per_next=-1", "num_unique_per_next", "out of range");
  expect_set_error("data.num_common=-3", "data.num_common", "out of range");
  expect_set_error("save_per_minibatch=0", "save_per_minibatch", "out of range");
  expect_set_error("opt.lr=0", "'opt.lr'", "positive");
  expect_set_error("opt.lr_z=0", "'opt.lr_z'", "positive");
  expect_set_error("opt.lr_z=-1", "'opt.lr_z'", "-1");
  expect_set_error("opt.lr_y=0", "'opt.lr_y'", "positive");
  expect_set_error("opt.lr_y_multi_on_z=0", "opt.lr_y_multi_on_z", "positive");
  expect_set_error("opt.lr=nan", "'opt.lr'", "not finite");
  expect_set_error("opt.lr_z=inf", "'opt.lr_z'", "not finite");
  expect_set_error("opt.lr=1e999", "'opt.lr'", NULL);
  expect_set_error("data.common_unnormalized_prob=-1", "common_unnormalized_prob", "out of range");
  expect_set_error("data.unique_unnormalized_min=-0.5", "unique_unnormalized_min", "out of range");
  expect_set_error("data.unique_unnormalized_max=-2", "unique_unnormalized_max", NULL);
  expect_set_error("opt.momentum=1.5", "opt.momentum", "out of range");
  expect_set_error("seed=-1", "'seed'", "out of range");
  expect_set_error("threads=-1", "'threads'", "out of range");
}

static void expect_yaml_error(const char *dir, const char *name, const char *text, const char *must1, const char *must2) {
  char *p = ss_test_write_file(dir, name, text);
  ss_config c;
  ss_err e = {0};
  ss_config_defaults(&c);
  assert_int_equal(ss_config_load_yaml(&c, p, &e), SS_EINPUT);
  if (!strstr(e.msg, p)) fail_msg("message does not name the file: %s", e.msg);
  if (must1 && !strstr(e.msg, must1)) fail_msg("message lacks '%s': %s", must1, e.msg);
  if (must2 && !strstr(e.msg, must2)) fail_msg("message lacks '%s': %s", must2, e.msg);
  assert_null(strchr(e.msg, '\n'));
  free(p);
}

static void yaml_errors_name_file_and_line(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("cfg-yamlerr");
  expect_yaml_error(dir, "syntax.yaml", "niter: 5\nseed: 3\ndata:\n  T: [1, 2\nopt:\n", "syntax error", "line ");
  expect_yaml_error(dir, "syntax2.yaml", "niter: 5\nseed: 3: 4\n", "syntax error", "line 2");
  expect_yaml_error(dir, "tab.yaml", "niter: 5\ndata:\n\tT: 3\n", "line", NULL);
  expect_yaml_error(dir, "list.yaml", "niter: 5\nopt:\n  lr_z: [0.5, 1, 2]\n", "line 3", "list");
  expect_yaml_error(dir, "unknown.yaml", "niter: 5\ndata:\n  num_lst: 2\n", "line 3", "data.num_last");
  expect_yaml_error(dir, "type.yaml", "niter: 5\nbatchsize: many\n", "line 2", "'many' is not an integer");
  expect_yaml_error(dir, "range.yaml", "data:\n  T: 1\n", "line 2", "out of range");
  expect_yaml_error(dir, "scalar.yaml", "just a string\n", "mapping", NULL);
  /* a key given twice is an error naming both lines, not "the last one wins" */
  expect_yaml_error(dir, "dup.yaml", "niter: 5\nopt:\n  lr: 1\nseed: 2\nopt:\n  lr: 3\n", "line 6", "'opt.lr' is given twice (first at line 3)");
  expect_yaml_error(dir, "dup2.yaml", "niter: 5\nniter: 6\n", "line 2", "'niter' is given twice (first at line 1)");
  expect_yaml_error(dir, "dup3.yaml", "data:\n  T: 5\nL: 6\n", "line 3", "'L' (data.T) is given twice (first at line 2");
  expect_yaml_error(dir, "dup4.yaml", "dataset2:\n  num_last: 2\ndata:\n  num_last: 3\n", "line 4", "given twice");
  char *missing = ss_path_join(dir, "missing.yaml");
  ss_config c;
  ss_err e;
  ss_config_defaults(&c);
  assert_int_equal(ss_config_load_yaml(&c, missing, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, missing));
  free(missing);
  /* a directory is not a readable config file either */
  assert_int_equal(ss_config_load_yaml(&c, dir, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, dir));
  free(dir);
}

/* Every key's built-in default is a valid value of that key (ss_config_defaults relies on it). */
static void every_builtin_default_parses(void **state) {
  (void)state;
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  for (int i = 0; i < n; i++) {
    ss_config c;
    ss_err e = {0};
    ss_config_defaults(&c);
    if (ss_config_set(&c, k[i].name, k[i].def, &e) != SS_OK) fail_msg("default of %s ('%s'): %s", k[i].name, k[i].def, e.msg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_builtin_default_parses),
      cmocka_unit_test(paper_aliases_set_our_keys),
      cmocka_unit_test(overrides_and_learning_rate_resolution),
      cmocka_unit_test(nested_yaml_sets_keys_and_aliases),
      cmocka_unit_test(resolved_config_yaml_reloads_to_the_same_run),
      cmocka_unit_test(unknown_keys_suggest_the_nearest),
      cmocka_unit_test(wrong_types_and_out_of_range_values_are_rejected),
      cmocka_unit_test(yaml_errors_name_file_and_line),
      cmocka_unit_test(doubles_are_written_shortest_and_exact),
      cmocka_unit_test(help_for_one_model_omits_the_other_models_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
