/* Run directories (include/scansnap/run.h): choosing one, its lock, the first files of a
 * run (config.yaml, classes.json, run.json) and its status, and reading a run's own
 * configuration back for a resume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/run.h"

int ss_run_dir(const ss_config *cfg, const char *prefix, char *dir, size_t n, ss_err *err) {
  if (cfg->out[0]) {
    snprintf(dir, n, "%s", cfg->out);
    return SS_OK;
  }
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
  for (int k = 0; k < 1000; k++) {
    if (k == 0)
      snprintf(dir, n, "runs/%s-%s", prefix, ts);
    else
      snprintf(dir, n, "runs/%s-%s-%d", prefix, ts, k);
    if (!ss_file_exists(dir)) return SS_OK;
  }
  return ss_seterr(err, SS_EINPUT, "cannot find a free run directory under runs/");
}

/* Prefixes err's message with what (vsnprintf into err->msg while reading err->msg is
 * undefined: copy first). */
static int prefix_err(ss_err *err, const char *what) {
  char m[sizeof err->msg];
  snprintf(m, sizeof m, "%s", err->msg);
  return ss_seterr(err, SS_EINPUT, "%s: %s", what, m);
}

int ss_run_lock(const char *dir, int *fd, ss_err *err) {
  *fd = -1;
  int rc = ss_mkdir_p(dir, err);
  if (rc) return prefix_err(err, "key 'out'");
  char *p = ss_path_join(dir, ".run.lock");
  /* read-only: an open writable file would keep the file system from being remounted read-only */
  const int f = open(p, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644); /* a planted link is refused */
  free(p);
  if (f < 0) return ss_seterr(err, SS_EINPUT, "run directory '%s': cannot create its lock file: %s", dir, strerror(errno));
  if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    close(f);
    if (e == EWOULDBLOCK)
      return ss_seterr(err, SS_EINPUT, "run directory '%s' is in use by another scansnap process (training or resuming it); wait for it to end", dir);
    return ss_seterr(err, SS_EINPUT, "run directory '%s': cannot lock it: %s", dir, strerror(e));
  }
  *fd = f;
  return SS_OK;
}

void ss_run_unlock(int fd) {
  if (fd >= 0) close(fd);
}

int ss_run_write_config(const ss_config *cfg, const char *dir, ss_err *err) {
  ss_config c = *cfg;
  c.resume[0] = 0; /* how this invocation started is not part of the run */
  char *p = ss_path_join(dir, "config.yaml");
  ss_afile a;
  int rc = ss_afile_open(&a, p, err);
  free(p);
  if (rc) return rc;
  ss_config_write_yaml(&c, a.f);
  return ss_afile_commit(&a, err);
}

int ss_run_begin(const ss_config *cfg, const ss_classes *cl, const char *dir, const char *command, ss_err *err) {
  char *rj = ss_path_join(dir, "run.json");
  int exists = ss_file_exists(rj);
  free(rj);
  if (exists)
    return ss_seterr(err, SS_EINPUT, "out directory '%s' already holds a run (run.json); choose another out= or remove it", dir);
  int rc = ss_mkdir_p(dir, err);
  if (rc) return prefix_err(err, "key 'out'");
  if ((rc = ss_run_write_config(cfg, dir, err))) return prefix_err(err, "key 'out'");
  char *p;
  if (cl) {
    p = ss_path_join(dir, "classes.json");
    rc = ss_classes_write_json(cl, p, err);
    free(p);
    if (rc) return rc;
  }
  return ss_run_finish(dir, command, "running", cfg, NULL, NULL, err);
}

static json_t *metrics_json(const ss_class_metrics *m) {
  return json_pack("{s:f, s:f, s:f, s:f, s:f}", "entropy", m->entropy, "entropy_distinct", m->entropy_distinct,
                   "common_mass", m->common_mass, "distinct_mass", m->distinct_mass, "kendall_tau",
                   isfinite(m->kendall_tau) ? m->kendall_tau : 0.0);
}

int ss_run_finish(const char *dir, const char *command, const char *status, const ss_config *cfg,
                  const ss_run_summary *s, const char *error, ss_err *err) {
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(status));
  json_object_set_new(o, "command", json_string(command));
  json_object_set_new(o, "version", json_string(SS_VERSION));
  json_object_set_new(o, "model", json_string(ss_config_model_name(cfg->model.type)));
  json_object_set_new(o, "seed", json_integer(cfg->seed));
  time_t now = time(NULL);
  char ts[32];
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_object_set_new(o, "time", json_string(ts));
  char unused[512];
  ss_config_unused(cfg, unused, sizeof unused);
  json_object_set_new(o, "unused_keys", json_string(unused));
  /* which keys the user gave: config.yaml lists them all, resuming needs to know these */
  json_t *ek = json_array();
  int nk;
  const ss_keydef *keys = ss_config_keys(&nk);
  for (int i = 0; i < nk; i++)
    if (cfg->set[i] && keys[i].offset != offsetof(ss_config, resume)) json_array_append_new(ek, json_string(keys[i].name));
  json_object_set_new(o, "explicit_keys", ek);
  if (s) {
    json_object_set_new(o, "M", json_integer(s->M));
    json_object_set_new(o, "N", json_integer(s->N));
    json_object_set_new(o, "rows", json_integer(s->rows));
    json_object_set_new(o, "timings", json_pack("{s:f, s:f}", "train_seconds", s->train_seconds, "seqs_per_second", s->seqs_per_second));
    json_object_set_new(o, "final", json_pack("{s:f, s:f, s:o}", "loss", isfinite(s->final_loss) ? s->final_loss : -1.0, "acc", s->final_acc, "metrics", metrics_json(&s->end)));
    json_object_set_new(o, "start", json_pack("{s:f, s:o}", "loss", isfinite(s->first_loss) ? s->first_loss : -1.0, "metrics", metrics_json(&s->start)));
  }
  if (s && s->resumed_from > 0) json_object_set_new(o, "resumed_from", json_integer(s->resumed_from));
  if (error) json_object_set_new(o, "error", json_string(error));
  char *p = ss_path_join(dir, "run.json");
  int rc = ss_write_json_atomic(p, o, JSON_INDENT(2) | JSON_REAL_PRECISION(17), err);
  free(p);
  return rc;
}

/* DIR/run.json, read as a regular file inside DIR (no link followed); NULL with a message. */
static json_t *read_run_json(const char *dir, ss_err *err) {
  char *data = NULL;
  size_t n = 0;
  ss_err e;
  if (ss_in_read(dir, "run.json", 1 << 24, &data, &n, &e) != SS_OK) {
    ss_seterr(err, SS_EINPUT, "'%s' holds no run to resume (%s)", dir, e.msg);
    return NULL;
  }
  json_error_t je;
  json_t *o = json_loadb(data, n, 0, &je);
  free(data);
  if (!o) ss_seterr(err, SS_EINPUT, "'%s' holds no run to resume (run.json: %s)", dir, je.text);
  return o;
}

int ss_run_status(const char *dir, char *status, size_t n, ss_err *err) {
  char *p = ss_path_join(dir, "run.json");
  json_t *o = read_run_json(dir, err);
  int rc = o ? SS_OK : SS_EINPUT;
  if (!o)
    ;
  else if (!json_is_string(json_object_get(o, "status")))
    rc = ss_seterr(err, SS_EINPUT, "'%s': run.json has no status", p);
  else
    snprintf(status, n, "%s", json_string_value(json_object_get(o, "status")));
  json_decref(o);
  free(p);
  return rc;
}

int ss_run_load_config(const char *dir, ss_config *cfg, ss_err *err) {
  if (!ss_file_exists(dir)) return ss_seterr(err, SS_EINPUT, "key 'resume': no run directory '%s'", dir);
  /* A run writes config.yaml and classes.json before run.json: without run.json it never
   * started, and the original command can simply be run again. */
  char *p = ss_path_join(dir, "run.json");
  int started = p && ss_file_exists(p);
  free(p);
  if (!started) return ss_seterr(err, SS_EINPUT, "key 'resume': '%s' holds no run to resume (no run.json; a run that never started is simply run again)", dir);
  p = ss_path_join(dir, "config.yaml");
  if (!p) return ss_seterr(err, SS_ERUN, "out of memory");
  if (!ss_file_exists(p)) {
    int rc = ss_seterr(err, SS_EINPUT, "key 'resume': '%s' has run.json but no config.yaml; it cannot be resumed", dir);
    free(p);
    return rc;
  }
  ss_config_defaults(cfg);
  char *text = NULL;
  size_t tn = 0;
  int rc = ss_in_read(dir, "config.yaml", 1 << 20, &text, &tn, err);
  if (rc == SS_OK) rc = ss_config_load_yaml_text(cfg, text, p, err);
  free(text);
  free(p);
  if (rc) return rc;
  /* config.yaml lists every key; which ones the user gave matters (learning-rate
   * resolution, unused-key notes), and run.json records them. */
  p = ss_path_join(dir, "run.json");
  ss_err e2;
  json_t *o = read_run_json(dir, &e2);
  json_t *ek = o ? json_object_get(o, "explicit_keys") : NULL;
  if (!json_is_array(ek)) {
    rc = ss_seterr(err, SS_EINPUT, "'%s' lacks the list explicit_keys; cannot restore the run's configuration", p);
  } else {
    memset(cfg->set, 0, sizeof cfg->set);
    int nk;
    const ss_keydef *keys = ss_config_keys(&nk);
    size_t i;
    json_t *v;
    json_array_foreach(ek, i, v) {
      const ss_keydef *k = json_is_string(v) ? ss_config_find(json_string_value(v)) : NULL;
      if (!k) {
        rc = ss_seterr(err, SS_EINPUT, "'%s': explicit_keys holds an unknown key", p);
        break;
      }
      cfg->set[k - keys] = 1;
    }
  }
  json_decref(o);
  free(p);
  if (rc) return rc;
  snprintf(cfg->resume, sizeof cfg->resume, "%s", dir); /* out stays as the run recorded it */
  return SS_OK;
}

void ss_run_clean_tmp(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    /* ss_afile_open names its temporary files NAME.tmp-XXXXXX (mkstemp); no result file
     * of a run has ".tmp-" in its name */
    if (!strstr(e->d_name, ".tmp-")) continue;
    char *p = ss_path_join(dir, e->d_name);
    if (p) unlink(p);
    free(p);
  }
  closedir(d);
}
