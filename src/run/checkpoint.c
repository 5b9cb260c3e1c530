/* Checkpoints and resuming a run (docs/reliability.md).
 *
 * checkpoint.safetensors is the whole state of a run at a step boundary s (the start of
 * iteration s of the training loop):
 *   <tensor>            model dtype   each named model tensor, after s updates
 *   opt.m1.<tensor>     model dtype   first moment / SGD momentum buffer (if the optimizer has one)
 *   opt.m2.<tensor>     model dtype   Adam second moment (adam/adamw only)
 *   step                I64 [3]       [s, optimizer updates, data position before batch s]
 *   rng                 U64 [4]       data RNG state before batch s is drawn
 *   <extra>             any           tensors of the run's task (the language model keeps lm.*
 *                                     there: src/train/task_lm.c)
 * __metadata__: format, the run's own pairs (the trainer: how many metrics rows were on disk
 * and their checksum, so a resume cuts metrics.bin/dynamics.bin back to them; FNV-1a
 * checksums of the class table and sequence file or of the corpus), and ss_checksum (FNV-1a-64
 * of the data section, verified on load). The metrics rows themselves are not in the
 * checkpoint: it stays the size of the parameters however long the run. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/run.h"

#define CKPT_FORMAT "scansnap-checkpoint-1"

int ss_checkpoint_save(const char *path, const ss_model *m, const ss_optim *o, const ss_train_pos *pos, const char *const *meta,
                       const ss_tensor *extra, int nextra, ss_err *err) {
  if (nextra < 0 || nextra > SS_CKPT_MAX_EXTRA)
    return ss_seterr(err, SS_ERUN, "checkpoint '%s': %d extra tensors, at most %d", path, nextra, SS_CKPT_MAX_EXTRA);
  ss_tensor t[3 * SS_MAX_TENSORS + 2 + SS_CKPT_MAX_EXTRA];
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
  for (int i = 0; i < nextra; i++) t[n++] = extra[i];
  const char *md[2 * 16 + 1];
  int k = 0;
  md[k++] = "format";
  md[k++] = CKPT_FORMAT;
  md[k++] = "step_layout";
  md[k++] = "[step, optimizer_updates, data_position]";
  for (int i = 0; meta && meta[i] && meta[i + 1] && k < 2 * 16 - 2; i += 2) {
    md[k++] = meta[i];
    md[k++] = meta[i + 1];
  }
  md[k] = NULL;
  return ss_safetensors_write(path, t, n, md, err);
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

int ss_checkpoint_load(const char *path, ss_model *m, ss_optim *o, ss_train_pos *pos, const char *const *expect, ss_tensor *extra,
                       int nextra, const char *const *want, char (*got)[64], ss_err *err) {
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
    const char *g = ss_st_meta(&f, expect[i]);
    if (!g || strcmp(g, expect[i + 1]) != 0) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': %s is %s but this run has %s (its inputs changed since the checkpoint was written)", path,
                     expect[i], g ? g : "missing", expect[i + 1]);
      goto out;
    }
  }
  for (int i = 0; want && want[i]; i++) {
    const char *g = ss_st_meta(&f, want[i]);
    if (!g || strlen(g) >= 64) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s' lacks __metadata__ '%s' (written by an older scansnap?)", path, want[i]);
      goto out;
    }
    snprintf(got[i], 64, "%s", g);
  }
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
  if (o) {
    o->t = st[1];
    ss_optim_loaded(o);
  }
  for (int i = 0; i < nextra; i++)
    if ((rc = take(&f, path, extra[i].name, extra[i].dtype, ss_tensor_numel(&extra[i]), extra[i].data, err))) goto out;
out:
  ss_st_free(&f);
  return rc;
}

