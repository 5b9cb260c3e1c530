/* The public API's small handles: the version, errors and configurations (<scansnap.h>).
 * An ss_err and an ss_config are the library's own structs behind an opaque name; setting a
 * key and loading YAML are the library's own functions (the public header declares them). */
#include <stdlib.h>
#include <string.h>

#include "scansnap/config.h"

const char *ss_version(void) { return SS_VERSION; }

ss_err *ss_err_new(void) { return calloc(1, sizeof(ss_err)); }

void ss_err_free(ss_err *err) { free(err); }

int ss_err_code(const ss_err *err) { return err ? err->code : SS_OK; }

const char *ss_err_message(const ss_err *err) { return err ? err->msg : ""; }

ss_config *ss_config_new(void) {
  ss_config *c = malloc(sizeof *c);
  if (c) ss_config_defaults(c);
  return c;
}

ss_config *ss_config_copy(const ss_config *cfg) {
  if (!cfg) return NULL;
  ss_config *c = malloc(sizeof *c);
  if (c) *c = *cfg;
  return c;
}

void ss_config_free(ss_config *cfg) { free(cfg); }

int ss_config_get(const ss_config *cfg, const char *key, char *buf, size_t n, ss_err *err) {
  if (!cfg || !key || !buf) return ss_seterr(err, SS_EINPUT, "ss_config_get: no configuration, key or buffer given");
  const ss_keydef *k = ss_config_find(key);
  if (!k) return ss_config_unknown_key(key, err);
  char v[SS_PATH_MAX + 64];
  ss_config_format(cfg, k, v, sizeof v);
  const size_t need = strlen(v) + 1;
  if (need > n) return ss_seterr(err, SS_EINPUT, "key '%s': its value needs a buffer of %zu bytes, %zu given", key, need, n);
  memcpy(buf, v, need);
  return SS_OK;
}

int ss_config_nkeys(void) {
  int n;
  ss_config_keys(&n);
  return n;
}

static const ss_keydef *key_at(int i) {
  int n;
  const ss_keydef *k = ss_config_keys(&n);
  return i >= 0 && i < n ? &k[i] : NULL;
}

const char *ss_config_key_name(int i) {
  const ss_keydef *k = key_at(i);
  return k ? k->name : NULL;
}

const char *ss_config_key_type(int i) {
  const ss_keydef *k = key_at(i);
  if (!k) return NULL;
  switch (k->type) {
  case SS_KEY_INT: return "int";
  case SS_KEY_DOUBLE: return "float";
  case SS_KEY_BOOL: return "bool";
  case SS_KEY_ENUM: return "choice";
  default: return "text";
  }
}

const char *ss_config_key_default(int i) {
  const ss_keydef *k = key_at(i);
  return k ? k->def : NULL;
}

const char *ss_config_key_help(int i) {
  const ss_keydef *k = key_at(i);
  return k ? k->help : NULL;
}
