/* The configuration parser: a YAML file (ss_config_load_yaml), and the same bytes read as
 * key=value overrides, one per line (ss_config_override, the command line's path).
 * Property: a configuration that validates survives config.yaml (ss_config_write_yaml)
 * read back the way a resume does (ss_run_load_config: the file, then the explicit keys
 * of run.json) with every value unchanged, which resuming needs. config.yaml holds the
 * resolved learning rates in opt.lr_z / opt.lr_y, so those two compare resolved. */
#include "fuzz.h"

static void check_round_trip(const ss_config *c) {
  ss_err err;
  char path[128];
  snprintf(path, sizeof path, "%s/config.yaml", ss_fuzz_scratch());
  FILE *f = fopen(path, "w");
  if (!f) abort();
  ss_config_write_yaml(c, f);
  fclose(f);
  ss_config back;
  ss_config_defaults(&back);
  int rc = ss_config_load_yaml(&back, path, &err);
  if (rc) fprintf(stderr, "config.yaml does not load back: %s\n", err.msg);
  SS_FUZZ_ASSERT(rc == SS_OK);
  memcpy(back.set, c->set, sizeof back.set);
  SS_FUZZ_ASSERT(ss_config_lr_z(&back) == ss_config_lr_z(c) && ss_config_lr_y(&back) == ss_config_lr_y(c));
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  for (int i = 0; i < n; i++) {
    if (!strcmp(k[i].name, "opt.lr_z") || !strcmp(k[i].name, "opt.lr_y")) continue;
    char a[SS_PATH_MAX + 64], b[SS_PATH_MAX + 64];
    ss_config_format(c, &k[i], a, sizeof a);
    ss_config_format(&back, &k[i], b, sizeof b);
    if (strcmp(a, b)) fprintf(stderr, "key %s: '%s' came back as '%s'\n", k[i].name, a, b);
    SS_FUZZ_ASSERT(strcmp(a, b) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ss_config c;
  ss_err err;
  ss_config_defaults(&c);
  if (ss_config_load_yaml(&c, ss_fuzz_path(0, data, size), &err) == SS_OK && ss_config_validate(&c, &err) == SS_OK)
    check_round_trip(&c);

  ss_config_defaults(&c);
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  int ok = 1;
  for (char *line = text, *next; line && ok; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (*line) ok = ss_config_override(&c, line, &err) == SS_OK;
  }
  free(text);
  if (ok && ss_config_validate(&c, &err) == SS_OK) {
    char unused[512];
    ss_config_unused(&c, unused, sizeof unused);
    check_round_trip(&c);
  }
  return 0;
}
