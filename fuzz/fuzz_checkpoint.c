/* Resuming: ss_checkpoint_load into a small Y/Z model with an Adam optimizer, asking for the
 * metadata a resume needs (the metrics rows on disk and their checksum), the path `scansnap
 * train --resume` takes. Property: a checkpoint that loads gives a position a run can continue
 * from (step, update count and data position >= 0) and bounded metadata strings. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ss_config cfg;
  static ss_classes cl;
  static int ready;
  ss_err err;
  if (!ready) {
    ss_config_defaults(&cfg);
    const char *kv[] = {"data.num_common=2", "data.num_unique_per_next=2", "opt.method=adam", NULL};
    for (int i = 0; kv[i]; i++)
      if (ss_config_override(&cfg, kv[i], &err)) abort();
    if (ss_config_validate(&cfg, &err) || ss_classes_generate(&cfg, &cl, &err)) abort();
    ready = 1;
  }
  ss_model *m;
  ss_optim o;
  ss_train_pos pos;
  if (ss_model_from_config(&cfg, &cl, &m, &err) || ss_optim_init(&o, &cfg, m, &err)) abort();
  static const char *const want[] = {"metrics_rows", "metrics_fnv1a", NULL};
  char got[2][64];
  if (ss_checkpoint_load(ss_fuzz_path(0, data, size), m, &o, &pos, NULL, NULL, 0, want, got, &err) == SS_OK) {
    SS_FUZZ_ASSERT(pos.step >= 0 && pos.data_pos >= 0 && o.t >= 0);
    SS_FUZZ_ASSERT(strlen(got[0]) < 64 && strlen(got[1]) < 64);
  }
  ss_optim_free(&o);
  ss_model_free(m);
  return 0;
}
