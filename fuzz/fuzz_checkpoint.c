/* Resuming: ss_checkpoint_load into a small Y/Z model with an Adam optimizer and a
 * recorder, the path `scansnap train --resume` takes. Property: a checkpoint that loads
 * gives a position and rows a run can continue from (step >= 0, rows before it). */
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
  ss_recorder rec;
  ss_train_pos pos;
  if (ss_model_from_config(&cfg, &cl, &m, &err) || ss_optim_init(&o, &cfg, m, &err)) abort();
  ss_recorder_init(&rec, &cl, &err);
  if (ss_checkpoint_load(ss_fuzz_path(0, data, size), m, &o, &pos, &rec, NULL, &err) == SS_OK) {
    SS_FUZZ_ASSERT(pos.step >= 0 && pos.data_pos >= 0 && o.t >= 0);
    for (int r = 0; r < rec.nrows; r++) SS_FUZZ_ASSERT(rec.rows[r].step < pos.step);
  }
  ss_recorder_free(&rec);
  ss_optim_free(&o);
  ss_model_free(m);
  return 0;
}
