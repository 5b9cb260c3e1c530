/* Checkpoints and resuming a run (docs/reliability.md).
 *
 * checkpoint.safetensors is the whole state of a run at a step boundary s (the start of
 * iteration s of the training loop):
 *   <tensor>            model dtype   each named model tensor, after s updates
 *   opt.m1.<tensor>     model dtype   first moment / SGD momentum buffer (if the optimizer has one)
 *   opt.m2.<tensor>     model dtype   Adam second moment (adam/adamw only)
 *   step                I64 [3]       [s, optimizer updates, data position before batch s]
 *   rng                 U64 [4]       data RNG state before batch s is drawn
 *   metrics.steps       I64 [R]       the metrics rows recorded so far (steps < s; the final
 *   metrics.values      F64 [R, 4+E]    checkpoint also holds the row at niter): loss, acc,
 *   metrics.c           F64 [R, N, M]   y_norm, z_norm, E extra columns, and c_n per row
 *   <extra>             any        tensors of the run's own loop (ss_checkpoint_save_ext;
 *                                   the language-model run keeps lm.* there, src/text/lm_train.c)
 * __metadata__: format, the metrics column names, FNV-1a checksums of the class table and of
 * the sequence file, and ss_checksum (FNV-1a-64 of the data section, verified on load).
 * Per-class metrics are not stored: they are a deterministic function of c (SPEC §3) and
 * are recomputed, so a resumed run writes byte-identical metrics files. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/run.h"

#define CKPT_FORMAT "scansnap-checkpoint-1"

int ss_checkpoint_save(const char *path, const ss_model *m, const ss_optim *o, const ss_train_pos *pos,
                       const ss_recorder *rec, const char *const *meta, ss_err *err) {
  return ss_checkpoint_save_ext(path, m, o, pos, rec, meta, NULL, 0, err);
}

int ss_checkpoint_save_ext(const char *path, const ss_model *m, const ss_optim *o, const ss_train_pos *pos,
                           const ss_recorder *rec, const char *const *meta, const ss_tensor *extra, int nextra, ss_err *err) {
  if (nextra < 0 || nextra > SS_CKPT_MAX_EXTRA)
    return ss_seterr(err, SS_ERUN, "checkpoint '%s': %d extra tensors, at most %d", path, nextra, SS_CKPT_MAX_EXTRA);
  ss_tensor t[3 * SS_MAX_TENSORS + 5 + SS_CKPT_MAX_EXTRA];
  char names[2 * SS_MAX_TENSORS][80];
  int n = 0;
  for (int i = 0; i < m->ntensors; i++) t[n++] = m->tensors[i];
  void *moments[2] = {o ? o->m1 : NULL, o ? o->m2 : NULL};
  const char *mname[2] = {"opt.m1.", "opt.m2."};
  for (int k = 0; k < 2; k++) {
    if (!moments[k]) continue;
    for (int i = 0; i < m->ntensors; i++) {
      /* the moments share the params' layout: same offset into their own array */
      size_t off = (size_t)((const char *)m->tensors[i].data - (const char *)m->params);
      snprintf(names[k * SS_MAX_TENSORS + i], sizeof names[0], "%s%s", mname[k], m->tensors[i].name);
      t[n] = m->tensors[i];
      t[n].name = names[k * SS_MAX_TENSORS + i];
      t[n].data = (char *)moments[k] + off;
      n++;
    }
  }
  int64_t st[3] = {pos->step, o ? o->t : 0, pos->data_pos};
  uint64_t rs[4];
  memcpy(rs, pos->rng.s, sizeof rs);
  t[n++] = (ss_tensor){"step", SS_I64, 1, {3}, st};
  t[n++] = (ss_tensor){"rng", SS_U64, 1, {4}, rs};

  int R = rec ? rec->nrows : 0, V = rec ? 4 + rec->nextra : 4;
  int64_t *steps = NULL;
  double *vals = NULL;
  char columns[SS_MAX_EXTRA * 49 + 64] = "loss,acc,y_norm,z_norm";
  if (rec) {
    for (int k = 0; k < rec->nextra; k++) {
      strcat(columns, ",");
      strcat(columns, rec->extra_names[k]);
    }
    steps = malloc(sizeof(int64_t) * (size_t)(R ? R : 1));
    vals = malloc(sizeof(double) * (size_t)(R ? R : 1) * (size_t)V);
    if (!steps || !vals) {
      free(steps);
      free(vals);
      return ss_seterr(err, SS_ERUN, "out of memory writing '%s'", path);
    }
    for (int r = 0; r < R; r++) {
      const ss_row *w = &rec->rows[r];
      double *v = vals + (size_t)r * V;
      steps[r] = w->step;
      v[0] = w->loss;
      v[1] = w->acc;
      v[2] = w->y_norm;
      v[3] = w->z_norm;
      for (int k = 0; k < rec->nextra; k++) v[4 + k] = w->extra[k];
    }
    static double none;
    t[n++] = (ss_tensor){"metrics.steps", SS_I64, 1, {R}, steps};
    t[n++] = (ss_tensor){"metrics.values", SS_F64, 2, {R, V}, vals};
    t[n++] = (ss_tensor){"metrics.c", SS_F64, 3, {R, rec->cl->N, rec->cl->M}, rec->c ? rec->c : &none};
  }
  for (int i = 0; i < nextra; i++) t[n++] = extra[i];
  const char *md[2 * 16 + 1];
  int k = 0;
  md[k++] = "format";
  md[k++] = CKPT_FORMAT;
  md[k++] = "step_layout";
  md[k++] = "[step, optimizer_updates, data_position]";
  if (rec) {
    md[k++] = "metrics_columns";
    md[k++] = columns;
  }
  for (int i = 0; meta && meta[i] && meta[i + 1] && k < 2 * 16 - 2; i += 2) {
    md[k++] = meta[i];
    md[k++] = meta[i + 1];
  }
  md[k] = NULL;
  int rc = ss_safetensors_write(path, t, n, md, err);
  free(steps);
  free(vals);
  return rc;
}

int ss_checkpoint_write(const char *path, const ss_model *m, const ss_optim *o, long long step, const ss_rng *rng,
                        long long data_pos, ss_err *err) {
  ss_train_pos pos = {step, {{0, 0, 0, 0}}, data_pos};
  if (rng) pos.rng = *rng;
  return ss_checkpoint_save(path, m, o, &pos, NULL, NULL, err);
}

/* Copies checkpoint tensor NAME into dst (count elements of dtype dt). */
static int take(const ss_stfile *f, const char *path, const char *name, ss_dtype dt, int64_t count, void *dst,
                ss_err *err) {
  const ss_tensor *t = ss_st_get(f, name);
  if (!t)
    return ss_seterr(err, SS_EINPUT, "checkpoint '%s' lacks tensor '%s' (written by another model or configuration?)", path, name);
  if (t->dtype != dt || ss_tensor_numel(t) != count)
    return ss_seterr(err, SS_EINPUT, "checkpoint '%s': tensor '%s' has %lld elements of another type or count than the %lld this run needs", path, name,
                     (long long)ss_tensor_numel(t), (long long)count);
  memcpy(dst, t->data, (size_t)count * ss_dtype_size(dt));
  return SS_OK;
}

int ss_checkpoint_load(const char *path, ss_model *m, ss_optim *o, ss_train_pos *pos, ss_recorder *rec,
                       const char *const *expect, ss_err *err) {
  return ss_checkpoint_load_ext(path, m, o, pos, rec, expect, NULL, 0, err);
}

int ss_checkpoint_load_ext(const char *path, ss_model *m, ss_optim *o, ss_train_pos *pos, ss_recorder *rec,
                           const char *const *expect, ss_tensor *extra, int nextra, ss_err *err) {
  ss_stfile f;
  int rc = ss_safetensors_read(path, &f, err);
  if (rc) return rc;
  const char *fmt = ss_st_meta(&f, "format");
  if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
    rc = ss_seterr(err, SS_EINPUT, "'%s' is not a scansnap checkpoint (format '%s', expected '%s')", path, fmt ? fmt : "none", CKPT_FORMAT);
    goto out;
  }
  if (!ss_st_meta(&f, "ss_checksum")) {
    rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s' carries no checksum (ss_checksum); it cannot be trusted", path);
    goto out;
  }
  for (int i = 0; expect && expect[i] && expect[i + 1]; i += 2) {
    const char *got = ss_st_meta(&f, expect[i]);
    if (!got || strcmp(got, expect[i + 1]) != 0) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': %s is %s but this run has %s (its inputs changed since the checkpoint was written)", path,
                     expect[i], got ? got : "missing", expect[i + 1]);
      goto out;
    }
  }
  size_t es = ss_dtype_size(m->dtype);
  void *moments[2] = {o ? o->m1 : NULL, o ? o->m2 : NULL};
  const char *mname[2] = {"opt.m1.", "opt.m2."};
  for (int i = 0; i < m->ntensors; i++) {
    const ss_tensor *mt = &m->tensors[i];
    int64_t cnt = ss_tensor_numel(mt);
    if ((rc = take(&f, path, mt->name, m->dtype, cnt, mt->data, err))) goto out;
    size_t off = (size_t)((const char *)mt->data - (const char *)m->params);
    for (int k = 0; k < 2; k++) {
      if (!moments[k]) continue;
      char nm[80];
      snprintf(nm, sizeof nm, "%s%s", mname[k], mt->name);
      if ((rc = take(&f, path, nm, m->dtype, cnt, (char *)moments[k] + off, err))) goto out;
    }
  }
  (void)es;
  int64_t st[3];
  uint64_t rs[4];
  if ((rc = take(&f, path, "step", SS_I64, 3, st, err)) || (rc = take(&f, path, "rng", SS_U64, 4, rs, err))) goto out;
  if (st[0] < 0 || st[1] < 0 || st[2] < 0) {
    rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': negative step, update count or data position", path);
    goto out;
  }
  pos->step = st[0];
  pos->data_pos = st[2];
  memcpy(pos->rng.s, rs, sizeof rs);
  if (o) o->t = st[1];
  if (rec) {
    const ss_tensor *ts = ss_st_get(&f, "metrics.steps"), *tv = ss_st_get(&f, "metrics.values"), *tc = ss_st_get(&f, "metrics.c");
    const char *cols = ss_st_meta(&f, "metrics_columns");
    char want[SS_MAX_EXTRA * 49 + 64] = "loss,acc,y_norm,z_norm";
    for (int k = 0; k < rec->nextra; k++) {
      strcat(want, ",");
      strcat(want, rec->extra_names[k]);
    }
    int V = 4 + rec->nextra, N = rec->cl->N, M = rec->cl->M;
    if (!ts || !tv || !tc || !cols) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s' holds no metrics rows (metrics.steps, metrics.values, metrics.c)", path);
      goto out;
    }
    if (strcmp(cols, want) != 0) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': metrics columns '%s', expected '%s'", path, cols, want);
      goto out;
    }
    int64_t R = ss_tensor_numel(ts);
    if (ts->dtype != SS_I64 || tv->dtype != SS_F64 || tc->dtype != SS_F64 || tv->ndim != 2 || tv->shape[0] != R ||
        tv->shape[1] != V || tc->ndim != 3 || tc->shape[0] != R || tc->shape[1] != N || tc->shape[2] != M) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': metrics tensors do not match %d classes over %d tokens", path, N, M);
      goto out;
    }
    const int64_t *sv = ts->data;
    const double *vv = tv->data, *cv = tc->data;
    for (int64_t r = 0; r < R; r++)
      if (sv[r] < 0 || (r > 0 && sv[r] <= sv[r - 1])) {
        rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': metrics rows are not in increasing step order (row %lld)", path, (long long)r);
        goto out;
      }
    for (int64_t r = 0; r < R; r++) {
      /* Rows at or after the checkpoint's step are redone by the resumed loop (the final
       * checkpoint holds the row at niter, which a run extended to a larger niter redoes). */
      if (sv[r] >= pos->step) break;
      const double *v = vv + (size_t)r * V;
      static const double zero = 0; /* runs without classes (N = 0): no c_n to copy */
      const double *cr = N > 0 && M > 0 ? cv + (size_t)r * N * M : &zero;
      if ((rc = ss_recorder_add(rec, sv[r], v[0], v[1], cr, v[2], v[3], v + 4, err))) goto out;
    }
  }
  for (int i = 0; i < nextra; i++)
    if ((rc = take(&f, path, extra[i].name, extra[i].dtype, ss_tensor_numel(&extra[i]), extra[i].data, err))) goto out;
out:
  ss_st_free(&f);
  return rc;
}

