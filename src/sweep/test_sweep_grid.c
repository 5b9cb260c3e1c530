/* Sweep grids and aggregates: lists, ranges and several keys expand to the right points in
 * grid order; bad syntax is exit 2 naming the offending token; the aggregate over seeds
 * matches numbers computed by hand. */
#include "ss_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <scansnap/sweep.h>

static void args(ss_sweep *s, const char **a) {
  ss_err e;
  for (; *a; a++) {
    int rc = ss_sweep_arg(s, *a, &e);
    if (rc) fail_msg("%s: %s", *a, e.msg);
  }
  assert_int_equal(ss_sweep_check(s, &e), SS_OK);
}

static void test_list_expands_to_its_values_in_order(void **st) {
  (void)st;
  ss_sweep s;
  ss_sweep_init(&s);
  args(&s, (const char *[]){"opt.lr_z=0.5,1,3", NULL});
  assert_int_equal(s.naxes, 1);
  assert_int_equal(ss_sweep_npoints(&s), 3);
  ss_config c;
  ss_err e;
  char name[256];
  double want[] = {0.5, 1, 3};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ss_sweep_point(&s, i, &c, name, sizeof name, &e), SS_OK);
    assert_true(c.opt.lr_z == want[i]);
    assert_true(ss_config_is_set(&c, "opt.lr_z"));
  }
  assert_string_equal(name, "lr_z=3");
  ss_sweep_free(&s);
}

static void test_ranges_are_inclusive_with_steps_and_exact_decimals(void **st) {
  (void)st;
  ss_sweep s;
  ss_sweep_init(&s);
  args(&s, (const char *[]){"seed=1:10", "opt.lr_z=0.1:0.3:0.1", "niter=2:9:3", NULL});
  assert_int_equal(s.axes[0].n, 10);
  assert_string_equal(s.axes[0].values[9], "10");
  assert_int_equal(s.axes[1].n, 3);
  assert_string_equal(s.axes[1].values[2], "0.3"); /* not 0.30000000000000004 */
  assert_int_equal(s.axes[2].n, 3);                 /* 2, 5, 8 */
  assert_string_equal(s.axes[2].values[2], "8");
  /* mixed: a list of ranges and values */
  args(&s, (const char *[]){"seed=1:3,7,9:10", NULL});
  assert_int_equal(s.axes[0].n, 6);
  assert_string_equal(s.axes[0].values[3], "7");
  assert_string_equal(s.axes[0].values[5], "10");
  ss_sweep_free(&s);
}

/* A range of a million values (the most a grid takes) parses in time linear-ish in its
 * length: a fuzzed 'niter=8:888888' hung the parser (a reallocation per value and a
 * comparison of every pair for repeats, O(n^2)). The repeat check still names the first value
 * repeated, in list order, after a million distinct ones. */
static void test_a_million_values_parse_and_repeats_are_found(void **st) {
  (void)st;
  ss_sweep s;
  ss_sweep_init(&s);
  args(&s, (const char *[]){"niter=1:1000000", NULL});
  assert_int_equal(s.axes[0].n, 1000000);
  assert_string_equal(s.axes[0].values[999999], "1000000");
  ss_err e;
  assert_int_equal(ss_sweep_arg(&s, "seed=1:999998,7,999999,3", &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "value '7' is listed twice"));
  assert_int_equal(s.axes[0].n, 1000000); /* the bad argument changed nothing */
  ss_sweep_free(&s);
  /* values that differ as text but not as directory names: the first such pair is named */
  ss_sweep_init(&s);
  assert_int_equal(ss_sweep_arg(&s, "data.classes=x y.json,b.json,x+y.json,x_y.json,b?json,b.json2", &e), SS_OK);
  assert_int_equal(ss_sweep_check(&s, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "values 'x y.json' and 'x_y.json' would share a run directory name"));
  ss_sweep_free(&s);
}

static void test_several_keys_make_a_product_first_key_slowest(void **st) {
  (void)st;
  ss_sweep s;
  ss_sweep_init(&s);
  args(&s, (const char *[]){"data.num_last=1,3", "opt.lr_y_multi_on_z=1,2,5", "seed=1:2", "niter=7", NULL});
  assert_int_equal(ss_sweep_npoints(&s), 12);
  ss_config c;
  ss_err e;
  char name[256];
  /* point 7 = (num_last index 1, ratio index 0, seed index 1) */
  assert_int_equal(ss_sweep_point(&s, 7, &c, name, sizeof name, &e), SS_OK);
  assert_int_equal(c.data.num_last, 3);
  assert_true(c.opt.lr_y_multi_on_z == 1);
  assert_int_equal(c.seed, 2);
  assert_int_equal(c.niter, 7); /* fixed keys reach every point */
  assert_string_equal(name, "num_last=3,lr_y_multi_on_z=1,seed=2");
  /* a later plain value removes the axis; the paper's alias names work */
  args(&s, (const char *[]){"seed=4", "dataset2.num_last=2,4,6", NULL});
  assert_int_equal(s.naxes, 2);
  assert_int_equal(ss_sweep_npoints(&s), 9);
  assert_int_equal(ss_sweep_point(&s, 0, &c, name, sizeof name, &e), SS_OK);
  assert_int_equal(c.seed, 4);
  assert_int_equal(c.data.num_last, 2);
  ss_sweep_free(&s);
}

static void test_yaml_lists_become_axes(void **st) {
  (void)st;
  char *d = ss_test_tmpdir("sweep-yaml");
  char *path = ss_test_write_file(d, "g.yaml", "niter: 3\nseed: 1:4\nopt:\n  lr_z: [0.5, 2]\nsweep:\n  reference: ref.csv\n");
  ss_sweep s;
  ss_sweep_init(&s);
  ss_err e;
  assert_int_equal(ss_sweep_load_yaml(&s, path, &e), SS_OK);
  /* the reference table is read before any run: missing, or without the columns, is bad input */
  assert_int_equal(ss_sweep_check(&s, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "ref.csv"));
  free(ss_test_write_file(d, "ref.csv", "lr_z,entropy_mean,seeds\n0.5,2,10\n"));
  assert_int_equal(ss_sweep_check(&s, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "expected <metric>_mean and <metric>_std columns"));
  free(ss_test_write_file(d, "ref.csv", "lr_z,entropy_mean,entropy_std,seeds\n0.5,2,0.1,10\n"));
  assert_int_equal(ss_sweep_check(&s, &e), SS_OK);
  assert_int_equal(ss_sweep_npoints(&s), 8);
  assert_int_equal(s.base.niter, 3);
  char want[4300];
  snprintf(want, sizeof want, "%s/ref.csv", d); /* relative to the YAML file */
  assert_string_equal(s.reference, want);
  ss_sweep_free(&s);
  free(path);
  free(d);
}

/* A quoted YAML scalar is one value, commas and all: configs/fig7.yaml's
 * text.probe_steps: "0,500,1000,1500" made 8 runs of `--preset fig7` instead of 1. A YAML
 * sequence is an axis; a plain a:b range on a numeric key too (configs/fig6.yaml's seed: 1:10). */
static void test_quoted_yaml_strings_are_one_value(void **st) {
  (void)st;
  ss_sweep s;
  ss_err e;
  char fig7[4300];
  snprintf(fig7, sizeof fig7, "%s/configs/fig7.yaml", ss_test_srcdir());
  ss_sweep_init(&s);
  if (ss_sweep_load_yaml(&s, fig7, &e)) fail_msg("%s", e.msg);
  assert_int_equal(s.naxes, 0);
  assert_int_equal(ss_sweep_npoints(&s), 1);
  assert_string_equal(s.base.text.probe_steps, "0,500,1000,1500");
  ss_sweep_free(&s);

  char *d = ss_test_tmpdir("sweep-yaml-quoted");
  char *path = ss_test_write_file(d, "q.yaml",
                                  "seed: [1, 2]\nniter: 2:4\ntext:\n  probe_steps: '0,50'\ndata:\n  classes: \"a,b.json\"\n"
                                  "opt:\n  lr_z:\n    - 0.5\n    - 1:2\n");
  ss_sweep_init(&s);
  assert_int_equal(ss_sweep_load_yaml(&s, path, &e), SS_OK);
  assert_int_equal(s.naxes, 3); /* seed, niter, opt.lr_z */
  assert_string_equal(s.axes[1].key, "niter");
  assert_int_equal(s.axes[1].n, 3);
  assert_string_equal(s.axes[2].key, "opt.lr_z");
  assert_int_equal(s.axes[2].n, 3); /* 0.5, 1, 2 */
  assert_string_equal(s.base.text.probe_steps, "0,50");
  assert_string_equal(s.base.data.classes, "a,b.json");
  ss_sweep_free(&s);
  free(path);

  /* a plain scalar with commas is one value too; a number key says how to sweep it */
  path = ss_test_write_file(d, "plain.yaml", "opt:\n  lr_z: 0.5,1\n");
  ss_sweep_init(&s);
  assert_int_equal(ss_sweep_load_yaml(&s, path, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "line 2"));
  assert_non_null(strstr(e.msg, "give a list of values"));
  ss_sweep_free(&s);
  free(path);
  /* so is a quoted range */
  path = ss_test_write_file(d, "qrange.yaml", "seed: \"1:3\"\n");
  ss_sweep_init(&s);
  assert_int_equal(ss_sweep_load_yaml(&s, path, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "'1:3' is not an integer"));
  ss_sweep_free(&s);
  free(path);
  free(d);
}

/* On the command line key=a,b sweeps; a list value of a list key (text.probe_steps) is
 * written [a,b] or quoted, and [..],[..] sweeps list values. */
static void test_list_values_on_the_command_line(void **st) {
  (void)st;
  ss_sweep s;
  ss_err e;
  ss_sweep_init(&s);
  args(&s, (const char *[]){"model.type=transformer", "text.probe_steps=[0,500]", NULL});
  assert_int_equal(s.naxes, 0);
  assert_string_equal(s.base.text.probe_steps, "0,500");
  args(&s, (const char *[]){"text.probe_steps=\"0,100,200\"", "data.classes='x,y.json'", NULL});
  assert_int_equal(s.naxes, 0);
  assert_string_equal(s.base.text.probe_steps, "0,100,200");
  assert_string_equal(s.base.data.classes, "x,y.json");
  args(&s, (const char *[]){"data.classes=", "text.probe_steps=[0,500],[0,100],'7'", NULL});
  assert_int_equal(s.naxes, 1);
  assert_int_equal(s.axes[0].n, 3);
  assert_string_equal(s.axes[0].values[0], "0,500");
  assert_string_equal(s.axes[0].values[1], "0,100");
  assert_string_equal(s.axes[0].values[2], "7");
  ss_config c;
  char name[256];
  assert_int_equal(ss_sweep_point(&s, 1, &c, name, sizeof name, &e), SS_OK);
  assert_string_equal(c.text.probe_steps, "0,100");
  assert_string_equal(name, "probe_steps=0,100");
  /* plain commas sweep, as for every key */
  args(&s, (const char *[]){"text.probe_steps=0,500", NULL});
  assert_int_equal(s.axes[0].n, 2);
  ss_sweep_free(&s);

  ss_sweep_init(&s);
  const struct {
    const char *arg, *want;
  } bad[] = {{"opt.lr_z=[0.5,1]", "write opt.lr_z=a,b"},
             {"text.probe_steps=[0,500", "not closed"},
             {"text.probe_steps=\"0,500", "not closed"},
             {"text.probe_steps=[0,5]x", "expected ','"},
             {"text.probe_steps=[0],", "empty value"},
             {"seed=\"1:3\"", "'1:3' is not an integer"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(ss_sweep_arg(&s, bad[i].arg, &e), SS_EINPUT);
    if (!strstr(e.msg, bad[i].want)) fail_msg("%s: '%s' lacks '%s'", bad[i].arg, e.msg, bad[i].want);
  }
  assert_int_equal(s.naxes, 0);
  ss_sweep_free(&s);
}

/* A grid past SS_SWEEP_MAX_POINTS is refused by name, whatever its size: 65536^4 = 2^64
 * points wrapped to 0 ("0 runs", then "out of memory"). */
static void test_huge_grids_are_refused_without_overflow(void **st) {
  (void)st;
  ss_sweep s;
  ss_err e;
  ss_sweep_init(&s);
  const char *a[] = {"seed=1:65536", "opt.lr_z=1:65536", "niter=0:65535", "batchsize=1:65536"};
  for (int i = 0; i < 4; i++) assert_int_equal(ss_sweep_arg(&s, a[i], &e), SS_OK);
  assert_true(ss_sweep_npoints(&s) > SS_SWEEP_MAX_POINTS);
  assert_int_equal(ss_sweep_check(&s, &e), SS_EINPUT);
  if (!strstr(e.msg, "more than 1000000 points (65536 seed x 65536 lr_z x 65536 niter x 65536 batchsize)")) fail_msg("%s", e.msg);
  ss_sweep_free(&s);
  /* just past the limit, and just at it */
  ss_sweep_init(&s);
  assert_int_equal(ss_sweep_arg(&s, "seed=1:1001", &e), SS_OK);
  assert_int_equal(ss_sweep_arg(&s, "niter=1:1000", &e), SS_OK);
  assert_int_equal(ss_sweep_npoints(&s), SS_SWEEP_MAX_POINTS + 1);
  assert_int_equal(ss_sweep_arg(&s, "seed=1:1000", &e), SS_OK);
  assert_int_equal(ss_sweep_npoints(&s), SS_SWEEP_MAX_POINTS);
  ss_sweep_free(&s);
}

/* A run directory name over 255 bytes failed at mkdir (ENAMETOOLONG) with a message about a
 * run.json that did not exist; now the limit is named before anything is created. */
static void test_too_long_names_are_refused_up_front(void **st) {
  (void)st;
  ss_sweep s;
  ss_err e;
  char arg[1200], big[1100];
  memset(big, 'x', 250);
  big[250] = 0;
  snprintf(arg, sizeof arg, "data.classes=%s.json,b.json", big);
  ss_sweep_init(&s);
  assert_int_equal(ss_sweep_arg(&s, arg, &e), SS_OK);
  assert_int_equal(ss_sweep_arg(&s, "seed=1,2", &e), SS_OK);
  assert_int_equal(ss_sweep_check(&s, &e), SS_EINPUT);
  if (!strstr(e.msg, "is 270 bytes; a name has at most 255")) fail_msg("%s", e.msg);
  ss_sweep_free(&s);
  /* out= and the names together under SS_PATH_MAX */
  ss_sweep_init(&s);
  memset(big, 'd', 1010);
  big[1010] = 0;
  snprintf(arg, sizeof arg, "out=/tmp/%.590s", big);
  assert_int_equal(ss_sweep_arg(&s, arg, &e), SS_OK);
  assert_int_equal(ss_sweep_arg(&s, "opt.lr_z=0.5,1", &e), SS_OK);
  assert_int_equal(ss_sweep_arg(&s, "seed=1,2", &e), SS_OK);
  assert_int_equal(ss_sweep_check(&s, &e), SS_OK);
  snprintf(s.out, sizeof s.out, "/tmp/%.1010s", big);
  assert_int_equal(ss_sweep_check(&s, &e), SS_EINPUT);
  if (!strstr(e.msg, "make a path of 1031 bytes; at most 1023")) fail_msg("%s", e.msg);
  ss_sweep_free(&s);
}

/* sweep.json read back (plot, report) is input like any other: an axis without values made
 * `plot` segfault (strtod on NULL), a crafted grid size a negative run count, a reference
 * path could point outside the folder. Each is SS_EINPUT with the file named. */
static void test_crafted_sweep_json_is_refused(void **st) {
  (void)st;
  char *d = ss_test_tmpdir("sweep-loaddir");
  const struct {
    const char *json, *want;
  } bad[] = {
      {"{\"axes\": [{\"key\": \"seed\", \"values\": []}]}", "axis 1 is malformed"},
      {"{\"axes\": [{\"key\": \"seed\", \"values\": [1, 2]}]}", "value 1 is not a string"},
      {"{\"axes\": [{\"key\": \"nokey\", \"values\": [\"1\"]}]}", "axis 1 is malformed"},
      {"{\"axes\": 5}", "axes is not a list"},
      {"{\"metric\": \"x\\\" system\", \"axes\": []}", "metric is not a column name"},
      {"{\"reference\": \"../../etc/passwd\", \"axes\": []}", "reference must be"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    free(ss_test_write_file(d, "sweep.json", bad[i].json));
    ss_sweep s;
    ss_err e;
    assert_int_equal(ss_sweep_load_dir(&s, d, &e), SS_EINPUT);
    if (!strstr(e.msg, bad[i].want) || !strstr(e.msg, d)) fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].want);
  }
  /* a grid past the limit, built from axes of 1001 values */
  char *big = malloc(200000);
  size_t n = (size_t)sprintf(big, "{\"axes\": [");
  for (int a = 0; a < 2; a++) {
    n += (size_t)sprintf(big + n, "%s{\"key\": \"%s\", \"values\": [", a ? ", " : "", a ? "niter" : "seed");
    for (int v = 0; v < 1001; v++) n += (size_t)sprintf(big + n, "%s\"%d\"", v ? ", " : "", v);
    n += (size_t)sprintf(big + n, "]}");
  }
  sprintf(big + n, "]}");
  free(ss_test_write_file(d, "sweep.json", big));
  free(big);
  ss_sweep s;
  ss_err e;
  assert_int_equal(ss_sweep_load_dir(&s, d, &e), SS_EINPUT);
  assert_non_null(strstr(e.msg, "more than 1000000 points"));
  /* and a good one loads */
  free(ss_test_write_file(d, "sweep.json", "{\"metric\": \"attn_entropy\", \"reference\": \"reference.csv\", "
                                           "\"axes\": [{\"key\": \"opt.lr_z\", \"label\": \"lr_z\", \"values\": [\"1\", \"2\"]}]}"));
  assert_int_equal(ss_sweep_load_dir(&s, d, &e), SS_OK);
  assert_int_equal(ss_sweep_npoints(&s), 2);
  assert_string_equal(s.metric, "attn_entropy");
  ss_sweep_free(&s);
  free(d);
}

static void expect_exit2(const char *argv_tail, const char *token) {
  char *out;
  int rc = ss_test_sh(&out, "'%s' sweep %s out=/nonexistent/never", ss_test_cli(), argv_tail);
  if (rc != 2 || !strstr(out, token)) fail_msg("sweep %s: exit %d, output '%s' (wanted 2 and '%s')", argv_tail, rc, out, token);
  free(out);
}

static void test_bad_syntax_exits_2_naming_the_token(void **st) {
  (void)st;
  expect_exit2("seed=1:x", "'x'");
  expect_exit2("seed=1,,2", "'1,,2'");
  expect_exit2("opt.lr_z=3:1", "'3:1'");
  expect_exit2("seed=1:5:0", "step '0'");
  expect_exit2("seed=1:2:3:4", "'1:2:3:4'");
  expect_exit2("seed=1.5:3", "'1.5'");
  expect_exit2("opt.lr_z=0.5,abc", "'abc'");
  expect_exit2("opt.lr_zz=1,2", "did you mean 'opt.lr_z'");
  expect_exit2("data.num_last=0,1", "'0'"); /* out of the key's range */
  expect_exit2("seed=1,1", "listed twice");
  expect_exit2("jobs=-1", "jobs");
  expect_exit2("model.type=yz,banana", "'banana'");
  expect_exit2("seed=1:65536 opt.lr_z=1:65536 niter=0:65535 batchsize=1:65536", "a sweep runs at most 1000000");
}

/* out= longer than SS_PATH_MAX: the message names the limit and is one whole line (it was
 * cut off mid-path), and nothing is created. */
static void test_long_out_is_refused_naming_the_limit(void **st) {
  (void)st;
  char *d = ss_test_tmpdir("sweep-longout");
  char big[1600];
  memset(big, 'o', sizeof big - 1);
  big[sizeof big - 1] = 0;
  char *out;
  int rc = ss_test_sh(&out, "cd '%s' && '%s' sweep seed=1,2 niter=2 out=%s; echo; ls | wc -l", d, ss_test_cli(), big);
  (void)rc;
  if (!strstr(out, "is 1599 bytes long; at most 1023")) fail_msg("%s", out);
  assert_non_null(strstr(out, "\n0\n")); /* nothing created */
  free(out);
  free(d);
}

/* Hand-computed: values 1,2,4 -> mean 7/3, sample std sqrt(((4/3)^2+(1/3)^2+(5/3)^2)/2) = sqrt(7/3). */
static void test_aggregate_matches_hand_computed_means_and_stds(void **st) {
  (void)st;
  ss_sweep s;
  ss_sweep_init(&s);
  args(&s, (const char *[]){"opt.lr_z=1,2", "seed=1:3", NULL});
  ss_sweep_results r;
  ss_err e;
  assert_int_equal(ss_sweep_results_init(&r, 6, &e), SS_OK);
  const char *cols[] = {"loss", "acc", "entropy", "entropy_distinct"};
  for (int k = 0; k < 4; k++) assert_int_equal(ss_sweep_results_add_col(&r, cols[k]), k);
  assert_int_equal(ss_sweep_results_add_col(&r, "acc"), 1);         /* known: its index */
  assert_int_equal(ss_sweep_results_add_col(&r, "not a name"), -1); /* only column names */
  double ed[6] = {1, 2, 4, 10, 10, 99};
  for (int i = 0; i < 6; i++) {
    r.pt[i].status = SS_PT_COMPLETE;
    for (int k = 0; k < 3; k++) assert_int_equal(ss_sweep_set_value(&r, i, k, k), SS_OK);
    if (i != 4) assert_int_equal(ss_sweep_set_value(&r, i, 3, ed[i]), SS_OK); /* point 4 read before the column existed */
  }
  ss_sweep_set_value(&r, 4, 3, 10);
  assert_true(isnan(ss_sweep_value(&r, 0, 7)));
  r.pt[5].status = SS_PT_FAILED; /* not averaged, counted as failed */
  ss_sweep_group *g;
  int ng;
  assert_int_equal(ss_sweep_aggregate(&s, &r, &g, &ng, &e), SS_OK);
  assert_int_equal(ng, 2);
  assert_int_equal(g[0].count, 3);
  assert_int_equal(g[0].failed, 0);
  assert_true(fabs(g[0].mean[3] - 7.0 / 3.0) < 1e-15);
  assert_true(fabs(g[0].std[3] - sqrt(7.0 / 3.0)) < 1e-15);
  assert_true(g[0].std[0] == 0 && g[0].mean[2] == 2);
  assert_int_equal(g[1].count, 2);
  assert_int_equal(g[1].failed, 1);
  assert_true(g[1].mean[3] == 10 && g[1].std[3] == 0);

  /* comparison with a reference table: diff and diff in units of std/sqrt(n) */
  char *d = ss_test_tmpdir("sweep-ref");
  /* lr_y_multi_on_z is fixed (default 1) in this sweep: the row with 2 is not ours */
  char *path = ss_test_write_file(d, "ref.csv",
                                  "lr_z,lr_y_multi_on_z,entropy_mean,entropy_std,seeds\n2.0,1,9.5,2,4\n1,2,7,1,1\n1,1,2.5,0.6,9\n5,1,1,1,1\n");
  ss_sweep_cmp *c;
  int nc;
  assert_int_equal(ss_sweep_compare(&s, g, ng, 3, path, &c, &nc, &e), SS_OK);
  assert_int_equal(nc, 3);
  assert_int_equal(c[0].group_first, 3); /* "2.0" matches our "2" */
  assert_true(fabs(c[0].diff - 0.5) < 1e-15 && fabs(c[0].z - 0.5) < 1e-15);           /* SE = 2/2 */
  assert_true(fabs(c[1].diff - (7.0 / 3 - 2.5)) < 1e-14 && fabs(c[1].z - (7.0 / 3 - 2.5) / 0.2) < 1e-12);
  assert_int_equal(c[2].group_first, -1);
  free(c);
  free(g);
  free(path);
  free(d);
  ss_sweep_results_free(&r);
  ss_sweep_free(&s);
}

/* `sweep --preset joma` (configs/joma.yaml): opt.lr {1e-5, 1e-4, 1e-3} x model.nlayers
 * {1, 2, 5} x seeds 1-3 = 27 runs, seed fastest, with its reference table, on data/brown, 3000
 * steps, and every other key as configs/joma_text.yaml (J3's runs) sets it. */
static void test_joma_preset_is_the_27_cell_grid(void **st) {
  (void)st;
  char path[4300], text[4300];
  snprintf(path, sizeof path, "%s/configs/joma.yaml", ss_test_srcdir());
  snprintf(text, sizeof text, "%s/configs/joma_text.yaml", ss_test_srcdir());
  ss_sweep s;
  ss_err e;
  ss_sweep_init(&s);
  if (ss_sweep_load_yaml(&s, path, &e) || ss_sweep_check(&s, &e)) fail_msg("%s", e.msg);
  assert_int_equal(ss_sweep_npoints(&s), 27);
  assert_int_equal(s.naxes, 3);
  static const char *const keys[3] = {"opt.lr", "model.nlayers", "seed"};
  static const double vals[3][3] = {{1e-5, 1e-4, 1e-3}, {1, 2, 5}, {1, 2, 3}};
  for (int a = 0; a < 3; a++) {
    assert_string_equal(s.axes[a].key, keys[a]);
    assert_int_equal(s.axes[a].n, 3);
    for (int i = 0; i < 3; i++) assert_true(strtod(s.axes[a].values[i], NULL) == vals[a][i]);
  }
  assert_string_equal(s.metric, "valid_loss_best");
  assert_non_null(strstr(s.reference, "reference/joma_wikitext2_best_valid.csv"));
  ss_config c, t;
  char name[512];
  ss_config_defaults(&t);
  if (ss_config_load_yaml(&t, text, &e)) fail_msg("%s", e.msg);
  int nk;
  const ss_keydef *k = ss_config_keys(&nk);
  for (long i = 0; i < 27; i++) {
    if (ss_sweep_point(&s, i, &c, name, sizeof name, &e)) fail_msg("point %ld: %s", i, e.msg);
    assert_int_equal(c.seed, 1 + i % 3);
    assert_int_equal(c.model.nlayers, (int)vals[1][(i / 3) % 3]);
    assert_true(c.opt.lr == vals[0][i / 9]);
    assert_string_equal(c.data.path, "data/brown");
    assert_int_equal(c.niter, 3000); /* 27 runs: fewer steps than J3's 5000 */
    for (int j = 0; j < nk; j++) {
      const char *n = k[j].name;
      if (!strcmp(n, "seed") || !strcmp(n, "model.nlayers") || !strcmp(n, "opt.lr") || !strcmp(n, "data.path") || !strcmp(n, "files") ||
          !strcmp(n, "fsync") || !strcmp(n, "niter"))
        continue;
      char a[SS_PATH_MAX + 64], b[SS_PATH_MAX + 64];
      ss_config_format(&c, &k[j], a, sizeof a);
      ss_config_format(&t, &k[j], b, sizeof b);
      if (strcmp(a, b)) fail_msg("configs/joma.yaml point %ld sets %s = %s, configs/joma_text.yaml %s", i, n, a, b);
    }
  }
  ss_sweep_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_expands_to_its_values_in_order),
      cmocka_unit_test(test_ranges_are_inclusive_with_steps_and_exact_decimals),
      cmocka_unit_test(test_a_million_values_parse_and_repeats_are_found),
      cmocka_unit_test(test_several_keys_make_a_product_first_key_slowest),
      cmocka_unit_test(test_yaml_lists_become_axes),
      cmocka_unit_test(test_quoted_yaml_strings_are_one_value),
      cmocka_unit_test(test_list_values_on_the_command_line),
      cmocka_unit_test(test_bad_syntax_exits_2_naming_the_token),
      cmocka_unit_test(test_huge_grids_are_refused_without_overflow),
      cmocka_unit_test(test_too_long_names_are_refused_up_front),
      cmocka_unit_test(test_long_out_is_refused_naming_the_limit),
      cmocka_unit_test(test_crafted_sweep_json_is_refused),
      cmocka_unit_test(test_aggregate_matches_hand_computed_means_and_stds),
      cmocka_unit_test(test_joma_preset_is_the_27_cell_grid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
