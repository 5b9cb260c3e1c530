/* Checkpoints: a save/load round trip restores every piece of a run's state bit for bit
 * (the metrics rows: the recorder's streams, cut back to the checkpoint on resume);
 * a truncated, bit-flipped or extended checkpoint is an error naming the file (never a
 * crash, never a silently different state); resuming from a corrupt checkpoint exits 2;
 * NaN/Inf stops a run with exit 3, names the step and the tensor, marks run.json
 * "diverged" and keeps the last good checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss_test.h"
#include "scansnap/all.h"

typedef struct {
  ss_config cfg;
  ss_classes cl;
  ss_model *m;
  ss_optim o;
  ss_recorder rec;
} run_state;

static void state_init(run_state *s) {
  ss_err err;
  ss_config_defaults(&s->cfg);
  assert_int_equal(ss_config_set(&s->cfg, "opt.method", "adam", &err), SS_OK);
  assert_int_equal(ss_config_validate(&s->cfg, &err), SS_OK);
  assert_int_equal(ss_classes_generate(&s->cfg, &s->cl, &err), SS_OK);
  assert_int_equal(ss_model_from_config(&s->cfg, &s->cl, &s->m, &err), SS_OK);
  assert_int_equal(ss_optim_init(&s->o, &s->cfg, s->m, &err), SS_OK);
  assert_int_equal(ss_recorder_init(&s->rec, &s->cl, &err), SS_OK);
}

static void state_free(run_state *s) {
  ss_recorder_free(&s->rec);
  ss_optim_free(&s->o);
  ss_model_free(s->m);
  ss_classes_free(&s->cl);
}

/* A state with every field away from its initial value; rows at steps 0, 2, 4, 6 (the
 * recorder streams into dir when given). */
static void state_fill_rows(run_state *s, ss_train_pos *pos, const char *dir) {
  ss_rng r;
  ss_rng_seed(&r, 5);
  double *p = s->m->params, *m1 = s->o.m1, *m2 = s->o.m2;
  for (size_t i = 0; i < s->m->nparams; i++) {
    p[i] = ss_rng_normal(&r);
    m1[i] = ss_rng_normal(&r);
    m2[i] = ss_rng_uniform(&r);
  }
  s->o.t = 7;
  size_t NM = (size_t)s->cl.N * s->cl.M;
  double *c = malloc(sizeof(double) * NM);
  ss_err err;
  if (dir) assert_int_equal(ss_recorder_open(&s->rec, dir, &err), SS_OK);
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < NM; i++) c[i] = s->cl.prob[i] * (1 + ss_rng_uniform(&r));
    assert_int_equal(ss_recorder_add(&s->rec, 2 * k, ss_rng_uniform(&r), 0.5, c, 1.0 + k, 2.0 + k, NULL, &err), SS_OK);
  }
  free(c);
  pos->step = 6;
  ss_rng_seed(&pos->rng, 99);
  pos->data_pos = 3;
}

static void state_fill(run_state *s, ss_train_pos *pos) { state_fill_rows(s, pos, NULL); }

static char *save_fixture(run_state *s, ss_train_pos *pos, const char *tag) {
  char *dir = ss_test_tmpdir(tag);
  char *path = ss_path_join(dir, "checkpoint.safetensors");
  free(dir);
  ss_err err;
  const char *meta[] = {"classes_fnv1a", "0123456789abcdef", NULL};
  assert_int_equal(ss_checkpoint_save(path, s->m, &s->o, pos, meta, NULL, 0, &err), SS_OK);
  return path;
}

static void round_trip_restores_params_moments_position(void **state) {
  (void)state;
  run_state a, b;
  ss_train_pos pa, pb;
  state_init(&a);
  state_fill(&a, &pa);
  char *path = save_fixture(&a, &pa, "ckpt-roundtrip");
  state_init(&b);
  ss_err err;
  const char *expect[] = {"classes_fnv1a", "0123456789abcdef", NULL};
  assert_int_equal(ss_checkpoint_load(path, b.m, &b.o, &pb, expect, NULL, 0, NULL, NULL, &err), SS_OK);
  size_t bytes = a.m->nparams * sizeof(double);
  assert_memory_equal(a.m->params, b.m->params, bytes);
  assert_memory_equal(a.o.m1, b.o.m1, bytes);
  assert_memory_equal(a.o.m2, b.o.m2, bytes);
  assert_int_equal(b.o.t, 7);
  assert_int_equal(pb.step, 6);
  assert_int_equal(pb.data_pos, 3);
  assert_memory_equal(pa.rng.s, pb.rng.s, sizeof pa.rng.s);
  /* a different input checksum is refused */
  const char *other[] = {"classes_fnv1a", "fedcba9876543210", NULL};
  assert_int_equal(ss_checkpoint_load(path, b.m, &b.o, &pb, other, NULL, 0, NULL, NULL, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "inputs changed"));
  free(path);
  state_free(&a);
  state_free(&b);
}

/* The metrics rows live in the recorder's streams: a resume at the checkpoint's step keeps
 * exactly the rows before it (count and checksum as the checkpoint recorded them), restores
 * the in-memory state bit for bit, cuts off what came after, and refuses streams that do not
 * match. */
static void recorder_streams_resume_at_a_checkpoint(void **state) {
  (void)state;
  run_state a;
  ss_train_pos pa;
  state_init(&a);
  char *dir = ss_test_tmpdir("ckpt-rows");
  state_fill_rows(&a, &pa, dir); /* rows at 0, 2, 4, 6 */
  ss_recorder full;              /* the same rows in memory, and the sum after row 4 */
  ss_err err;
  ss_recorder_init(&full, &a.cl, &err);
  char *dir2 = ss_test_tmpdir("ckpt-rows-3");
  assert_int_equal(ss_recorder_open(&full, dir2, &err), SS_OK);
  const size_t NM = (size_t)a.cl.N * a.cl.M;
  double *c = malloc(sizeof(double) * NM);
  long long rows3 = -1, rows;
  uint64_t sum3 = 0, sum;
  for (int r = 0; r < 3; r++) {
    for (size_t i = 0; i < NM; i++) c[i] = a.cl.prob[i] * (1 + 0.1 * r) + 1e-3 * (double)i;
    assert_int_equal(ss_recorder_add(&full, 2 * r, 0.5 * r, 1, c, 1, 2, NULL, &err), SS_OK);
  }
  assert_int_equal(ss_recorder_sync(&full, 6, &rows3, &sum3, &err), SS_OK); /* what a checkpoint at step 6 records */
  assert_int_equal(rows3, 3);
  assert_int_equal(ss_recorder_add(&full, 6, 9, 1, c, 1, 2, NULL, &err), SS_OK); /* after the checkpoint */
  assert_int_equal(ss_recorder_sync(&full, 100, &rows, &sum, &err), SS_OK);
  ss_recorder_free(&full);
  /* resume at step 6: three rows back, the fourth cut off */
  ss_recorder b;
  ss_recorder_init(&b, &a.cl, &err);
  assert_int_equal(ss_recorder_resume(&b, dir2, 6, rows3, sum3, &err), SS_OK);
  assert_int_equal(b.nrows, 3);
  assert_int_equal(b.steps[2], 4);
  assert_true(b.last.loss == 1.0);
  ss_recorder_free(&b);
  char *mb = ss_path_join(dir2, "metrics.bin");
  struct stat st;
  assert_int_equal(stat(mb, &st), 0);
  assert_int_equal((long long)st.st_size, 32 + 3 * 8 * 5); /* header + 3 rows of step and 4 doubles */
  /* a count or checksum that does not match: refused, naming the stream */
  ss_recorder_init(&b, &a.cl, &err);
  assert_int_equal(ss_recorder_resume(&b, dir2, 6, rows3, sum3 ^ 1, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "metrics.bin"));
  ss_recorder_free(&b);
  ss_recorder_init(&b, &a.cl, &err);
  assert_int_equal(ss_recorder_resume(&b, dir2, 6, 2, sum3, &err), SS_EINPUT);
  ss_recorder_free(&b);
  /* the rows of state_fill_rows, all four, come back as they were recorded */
  assert_int_equal(ss_recorder_sync(&a.rec, 100, &rows, &sum, &err), SS_OK);
  ss_recorder_init(&b, &a.cl, &err);
  assert_int_equal(ss_recorder_resume(&b, dir, 100, rows, sum, &err), SS_OK);
  assert_int_equal(b.nrows, 4);
  assert_memory_equal(b.steps, a.rec.steps, 4 * sizeof(long long));
  assert_memory_equal(b.per, a.rec.per, 4 * (size_t)a.cl.N * sizeof(ss_class_metrics));
  assert_memory_equal(&b.first, &a.rec.first, sizeof(ss_row));
  assert_memory_equal(&b.last, &a.rec.last, sizeof(ss_row));
  assert_memory_equal(b.c_last, a.rec.c_last, NM * sizeof(double));
  ss_recorder_free(&b);
  free(mb);
  free(c);
  free(dir);
  free(dir2);
  state_free(&a);
}

static int write_bytes(const char *path, const char *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(buf, 1, n, f);
  fclose(f);
  return w == n ? 0 : -1;
}

/* Loads path into a fresh state; returns the status and whether the state equals a's. */
static int load_and_compare(const char *path, run_state *a, const ss_train_pos *pa, int *same, ss_err *err) {
  run_state b;
  ss_train_pos pb;
  state_init(&b);
  int rc = ss_checkpoint_load(path, b.m, &b.o, &pb, NULL, NULL, 0, NULL, NULL, err);
  size_t bytes = a->m->nparams * sizeof(double);
  *same = rc == SS_OK && !memcmp(a->m->params, b.m->params, bytes) && !memcmp(a->o.m1, b.o.m1, bytes) &&
          !memcmp(a->o.m2, b.o.m2, bytes) && a->o.t == b.o.t && pa->step == pb.step && pa->data_pos == pb.data_pos &&
          !memcmp(pa->rng.s, pb.rng.s, sizeof pa->rng.s);
  state_free(&b);
  return rc;
}

static void damaged_checkpoint_is_an_error_never_a_different_state(void **state) {
  (void)state;
  run_state a;
  ss_train_pos pa;
  state_init(&a);
  state_fill(&a, &pa);
  char *path = save_fixture(&a, &pa, "ckpt-damage");
  char *buf;
  size_t n;
  ss_err err;
  assert_int_equal(ss_read_file(path, &buf, &n, &err), SS_OK);
  size_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (size_t)(unsigned char)buf[i] << (8 * i);
  char *bad = malloc(n + 16);
  char *bpath = malloc(strlen(path) + 8);
  sprintf(bpath, "%s.bad", path);
  int same;
  /* truncations: inside the length, inside the header, inside every tensor's data */
  size_t cuts[] = {0, 4, 8, 9, 8 + hl / 2, 8 + hl, 8 + hl + 1, n / 2, n - 8, n - 1};
  for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
    assert_int_equal(write_bytes(bpath, buf, cuts[k]), 0);
    assert_int_equal(load_and_compare(bpath, &a, &pa, &same, &err), SS_EINPUT);
    assert_non_null(strstr(err.msg, bpath));
  }
  for (size_t cut = 8 + hl; cut < n; cut += 997) {
    assert_int_equal(write_bytes(bpath, buf, cut), 0);
    assert_int_equal(load_and_compare(bpath, &a, &pa, &same, &err), SS_EINPUT);
  }
  /* bytes appended */
  memcpy(bad, buf, n);
  memset(bad + n, 0, 8);
  assert_int_equal(write_bytes(bpath, bad, n + 8), 0);
  assert_int_equal(load_and_compare(bpath, &a, &pa, &same, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "corrupt"));
  /* every header byte changed: an error, or (padding, a free-text metadata value) the very same state */
  int errors = 0;
  for (size_t i = 0; i < 8 + hl; i++) {
    memcpy(bad, buf, n);
    bad[i] ^= 0x04;
    assert_int_equal(write_bytes(bpath, bad, n), 0);
    int rc = load_and_compare(bpath, &a, &pa, &same, &err);
    if (rc == SS_OK)
      assert_true(same);
    else
      errors++;
  }
  assert_true(errors > (int)hl / 2);
  /* data bytes changed: the checksum says so */
  ss_rng r;
  ss_rng_seed(&r, 3);
  for (int k = 0; k < 300; k++) {
    size_t i = 8 + hl + ss_rng_below(&r, (uint32_t)(n - 8 - hl));
    memcpy(bad, buf, n);
    bad[i] ^= (char)(1 + ss_rng_below(&r, 255));
    assert_int_equal(write_bytes(bpath, bad, n), 0);
    assert_int_equal(load_and_compare(bpath, &a, &pa, &same, &err), SS_EINPUT);
    assert_non_null(strstr(err.msg, "checksum"));
  }
  free(bad);
  free(bpath);
  free(buf);
  free(path);
  state_free(&a);
}

static void resume_from_corrupt_checkpoint_exits_2_naming_it(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("ckpt-cli");
  char *out = NULL;
  int rc = ss_test_sh(&out, "%s train out=%s/run niter=20 save_every=5 batchsize=16 data.T=16", ss_test_cli(), dir);
  assert_int_equal(rc, 0);
  free(out);
  /* flip one byte near the end (inside the data) */
  char path[4200];
  snprintf(path, sizeof path, "%s/run/checkpoint.safetensors", dir);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, -9, SEEK_END);
  int ch = fgetc(f);
  fseek(f, -9, SEEK_END);
  fputc(ch ^ 0x10, f);
  fclose(f);
  rc = ss_test_sh(&out, "%s train --resume %s/run niter=40", ss_test_cli(), dir);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "checkpoint.safetensors' is corrupt: checksum"));
  free(out);
  /* truncated */
  rc = ss_test_sh(&out, "truncate -s 100 %s && %s train --resume %s/run niter=40", path, ss_test_cli(), dir);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "truncated"));
  free(out);
  /* no changing the configuration of a resumed run */
  rc = ss_test_sh(&out, "%s train --resume %s/run opt.lr=2", ss_test_cli(), dir);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "cannot be given with --resume"));
  free(out);
  free(dir);
}

static long long ckpt_step_and_finite(const char *path) {
  ss_stfile f;
  ss_err err;
  if (ss_safetensors_read(path, &f, &err)) return -1;
  const ss_tensor *st = ss_st_get(&f, "step");
  long long step = st ? ((int64_t *)st->data)[0] : -1;
  for (int i = 0; i < f.n; i++)
    if (f.t[i].dtype == SS_F64)
      for (int64_t k = 0; k < ss_tensor_numel(&f.t[i]); k++)
        if (!isfinite(((double *)f.t[i].data)[k]) && strncmp(f.t[i].name, "metrics.", 8)) step = -2;
  ss_st_free(&f);
  return step;
}

static void huge_learning_rate_diverges_with_exit_3_naming_step_and_tensor(void **state) {
  (void)state;
  char *dir = ss_test_tmpdir("diverge");
  char *out = NULL;
  /* SGD: parameters stay finite but the loss overflows a few steps in */
  int rc = ss_test_sh(&out, "%s train out=%s/sgd opt.lr=1e308 save_every=1 niter=50", ss_test_cli(), dir);
  assert_int_equal(rc, 3);
  long long at = -1, kept = -1;
  const char *msg = strstr(out, "diverged at step ");
  assert_non_null(msg);
  assert_int_equal(sscanf(msg, "diverged at step %lld", &at), 1);
  assert_non_null(strstr(msg, "loss is"));
  const char *k = strstr(msg, "the checkpoint of step ");
  assert_non_null(k);
  assert_int_equal(sscanf(k, "the checkpoint of step %lld", &kept), 1);
  assert_true(kept <= at);
  free(out);
  char path[4200];
  snprintf(path, sizeof path, "%s/sgd/checkpoint.safetensors", dir);
  assert_int_equal(ckpt_step_and_finite(path), kept);
  rc = ss_test_sh(&out, "grep -c '\"status\": \"diverged\"' %s/sgd/run.json", dir);
  assert_int_equal(rc, 0);
  free(out);
  /* Adam: the first update overflows a parameter; no checkpoint exists to keep */
  rc = ss_test_sh(&out, "%s train out=%s/adam opt.method=adam opt.lr=1e308 save_every=1 niter=50", ss_test_cli(), dir);
  assert_int_equal(rc, 3);
  assert_non_null(strstr(out, "diverged at step 0: parameter Y["));
  assert_non_null(strstr(out, "is not finite after the update"));
  free(out);
  snprintf(path, sizeof path, "%s/adam/checkpoint.safetensors", dir);
  assert_false(ss_file_exists(path));
  free(dir);
}

/* A lazy recorder (a light run's: ss_recorder.lazy) creates no stream until a sync needs
 * them; its checksum and row count then equal an eager recorder's given the same rows, its
 * streams resume like the eager ones, and a light write with nothing synced leaves no stream
 * and the same metrics.csv. */
static char *read_all(const char *dir, const char *name) {
  char *p = ss_path_join(dir, name), *data = NULL;
  ss_err err;
  assert_int_equal(ss_read_file(p, &data, NULL, &err), SS_OK);
  free(p);
  return data;
}

static void lazy_recorder_creates_streams_only_when_needed(void **state) {
  (void)state;
  run_state a;
  state_init(&a);
  ss_err err;
  const size_t NM = (size_t)a.cl.N * a.cl.M;
  double *c = malloc(sizeof(double) * NM);
  char *de = ss_test_tmpdir("lazy-eager"), *dl = ss_test_tmpdir("lazy-lazy"), *dn = ss_test_tmpdir("lazy-never");
  ss_recorder eager, lazy, never;
  ss_recorder *all[3] = {&eager, &lazy, &never};
  const char *dirs[3] = {de, dl, dn};
  for (int k = 0; k < 3; k++) {
    ss_recorder_init(all[k], &a.cl, &err);
    all[k]->lazy = k > 0;
    all[k]->light = 1;
    assert_int_equal(ss_recorder_open(all[k], dirs[k], &err), SS_OK);
  }
  struct stat st;
  char *mb = ss_path_join(dl, "metrics.bin"), *db = ss_path_join(dl, "dynamics.bin");
  assert_int_equal(stat(mb, &st), -1); /* lazy: nothing yet */
  long long re = -1, rl = -2;
  uint64_t se = 1, sl = 2;
  for (int r = 0; r < 5; r++) {
    for (size_t i = 0; i < NM; i++) c[i] = a.cl.prob[i] * (1 + 0.1 * r) + 1e-3 * (double)i;
    for (int k = 0; k < 3; k++) assert_int_equal(ss_recorder_add(all[k], 2 * r, 0.5 * r, 1, c, 1, 2, NULL, &err), SS_OK);
    if (r == 2) { /* a checkpoint at step 4 (rows 0, 2 before it) */
      assert_int_equal(ss_recorder_sync(&eager, 4, &re, &se, &err), SS_OK);
      assert_int_equal(ss_recorder_sync(&lazy, 4, &rl, &sl, &err), SS_OK);
      assert_true(re == 2 && rl == 2 && se == sl);
      assert_int_equal(stat(mb, &st), 0);
      assert_int_equal(stat(db, &st), 0);
    }
  }
  assert_int_equal(ss_recorder_sync(&eager, 100, &re, &se, &err), SS_OK);
  assert_int_equal(ss_recorder_sync(&lazy, 100, &rl, &sl, &err), SS_OK);
  assert_true(re == 5 && rl == 5 && se == sl);
  /* the lazy streams resume like any */
  ss_recorder b;
  ss_recorder_init(&b, &a.cl, &err);
  assert_int_equal(ss_recorder_resume(&b, dl, 100, rl, sl, &err), SS_OK);
  assert_int_equal(b.nrows, 5);
  ss_recorder_free(&b);
  /* never synced: a light write creates no stream, and the same metrics.csv */
  for (int k = 0; k < 3; k += 2) assert_int_equal(ss_recorder_write(all[k], dirs[k], &err), SS_OK);
  char *mn = ss_path_join(dn, "metrics.bin"), *dyn = ss_path_join(dn, "dynamics.bin");
  assert_int_equal(stat(mn, &st), -1);
  assert_int_equal(stat(dyn, &st), -1);
  char *te = read_all(de, "metrics.csv"), *tn = read_all(dn, "metrics.csv");
  assert_string_equal(te, tn);
  assert_true(strlen(te) > 100);
  free(te);
  free(tn);
  free(mn);
  free(dyn);
  free(mb);
  free(db);
  for (int k = 0; k < 3; k++) ss_recorder_free(all[k]);
  free(de);
  free(dl);
  free(dn);
  free(c);
  state_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_restores_params_moments_position),
      cmocka_unit_test(recorder_streams_resume_at_a_checkpoint),
      cmocka_unit_test(lazy_recorder_creates_streams_only_when_needed),
      cmocka_unit_test(damaged_checkpoint_is_an_error_never_a_different_state),
      cmocka_unit_test(resume_from_corrupt_checkpoint_exits_2_naming_it),
      cmocka_unit_test(huge_learning_rate_diverges_with_exit_3_naming_step_and_tensor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
