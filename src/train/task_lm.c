/* The language-model task on real text (SPEC §5; the paper's Figure-7 experiment), one
 * task of the trainer (src/train/trainer.c).
 *
 * Data (PyTorch word_language_model's batchify): the training ids are cut into B =
 * batchsize streams of L = n_train / B tokens each (the remainder is dropped); stream b is
 * ids[b*L .. (b+1)*L). Step k of an epoch reads positions i = k*T .. k*T+T-1 (T = data.T)
 * of every stream as x[B,T] and the next token of each as y[B,T]. The last, shorter batch
 * of an epoch is dropped, so every step has T positions. Validation uses the same layout
 * on the validation split.
 *
 * Update: grads of the mean cross-entropy; clipped to norm opt.clip (0 = off); the run's
 * optimizer (SGD for the paper) with each group's learning rate (attention = opt.lr_z,
 * decoder/embedding/FFN = opt.lr_y) times opt.lr_decay^epoch.
 *
 * Probes: text.probes fixed sequences of length T from the validation split (evenly spaced
 * offsets). At every metrics row the model's attention on them (eval mode) gives
 *   attn_entropy  = mean over probes, heads and positions i of -sum_j a_ij log a_ij
 *   freq_mass     = mean of sum_j a_ij [x_j among the text.top_k most frequent tokens]
 *   freq_mass_uniform = the same for uniform causal attention (what the mass would be if
 *                   attention ignored the tokens), constant over the run
 * With several layers (model.nlayers) the columns are means over layers and heads, and
 * attn_entropy_l0, attn_entropy_l1, ... give each layer's entropy. At the steps of
 * text.probe_steps and at the last step the maps of probe 0 are kept (attention.safetensors:
 * `attention` [S, H, T, T], layer 0; with several layers also `attention_l<l>` for each;
 * `scansnap plot` draws them: Figure 7). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/optim.h"
#include "scansnap/text.h"
#include "scansnap/train.h"
#include "scansnap/transformer.h"

/* Weak references: a build without the transformer still links, and the run then reports
 * that the model is not implemented (the tests skip on exactly that message). */
#pragma weak ss_tf_new
#pragma weak ss_tf_attention
#pragma weak ss_tf_set_training

#define MAX_PROBE_STEPS 64

enum { X_EPOCH, X_LR, X_TRAIN_PPL, X_VALID_LOSS, X_VALID_PPL, X_ATTN_ENT, X_FREQ, X_REST, X_FREQ_UNI, X_SELF, X_CTX, X_CTX_UNI, X_GNORM, X_VALID_BEST, X_COUNT };
static const char *const xnames[X_COUNT] = {"epoch", "lr_scale", "train_ppl", "valid_loss", "valid_ppl", "attn_entropy",
                                            "freq_mass", "rest_mass", "freq_mass_uniform", "self_mass", "freq_mass_ctx",
                                            "freq_mass_ctx_uniform", "grad_norm", "valid_loss_best"};

static int parse_steps(const char *s, long long *out, int *n, ss_err *err) {
  *n = 0;
  const char *p = s;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '[' || *p == ']') p++;
    if (!*p) break;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0 || *n >= MAX_PROBE_STEPS)
      return ss_seterr(err, SS_EINPUT, "key 'text.probe_steps': '%s' is not a comma-separated list of at most %d steps >= 0", s,
                       MAX_PROBE_STEPS);
    out[(*n)++] = v;
    p = end;
    if (*p && *p != ',' && *p != ' ' && *p != ']')
      return ss_seterr(err, SS_EINPUT, "key 'text.probe_steps': '%s' is not a comma-separated list of steps", s);
  }
  return SS_OK;
}

/* Fills x/y with step k of a batchified split (B streams of L tokens). */
static int fill_batch(const ss_corpus *c, const int32_t *ids, int64_t L, int64_t k, ss_batch *b, ss_err *err) {
  const int B = b->B, T = b->T;
  for (int s = 0; s < B; s++) {
    const int32_t *src = ids + (int64_t)s * L + k * T;
    for (int t = 0; t < T; t++) {
      int32_t a = src[t], n = src[t + 1];
      if (a < 0 || a >= c->V || n < 0 || n >= c->V)
        return ss_seterr(err, SS_ERUN, "token cache '%s' is damaged (id outside the vocabulary); delete it to rebuild", c->cache_path);
      b->x[s * T + t] = a;
      b->y[s * T + t] = n;
    }
  }
  return SS_OK;
}

/* Mean validation loss over the full batches of the validation split (eval mode). */
static int validate(ss_model *m, const ss_corpus *c, ss_batch *b, int max_batches, double *loss, ss_err *err) {
  int64_t L = c->n[SS_SPLIT_VALID] / b->B;
  int64_t nb = (L - 1) / b->T;
  if (max_batches > 0 && nb > max_batches) nb = max_batches;
  double sum = 0;
  ss_tf_set_training(m, 0);
  for (int64_t k = 0; k < nb; k++) {
    int rc = fill_batch(c, c->ids[SS_SPLIT_VALID], L, k, b, err);
    double l, a;
    if (!rc) rc = m->ops->eval(m, b, &l, &a, err);
    if (rc) return rc;
    sum += l;
  }
  ss_tf_set_training(m, 1);
  *loss = nb ? sum / (double)nb : NAN;
  return SS_OK;
}

typedef struct {
  int P, T, H, L;      /* probes, length, heads, layers */
  int *x;              /* [P, T] probe tokens */
  unsigned char *top;  /* [V] 1 for the top_k most frequent ids */
  float *att;          /* [L, H, T, T] */
  double uniform_mass; /* freq_mass of uniform causal attention */
  double uniform_ctx;  /* freq_mass_ctx of uniform attention */
} probes;

/* What the probes measure besides the entropy (all means over probes, heads, positions):
 *   mass  = sum_j a_ij [x_j frequent]                 (keys 0..i, the query's own token too)
 *   self  = a_ii                                       (attention on the query position)
 *   ctx   = sum_{j<i} a_ij [x_j frequent] / sum_{j<i} a_ij   (i >= 1: among the context
 *           before the query, which share goes to frequent tokens; the residual already
 *           carries the query's own token, so this is where "moving off" shows) */
typedef struct {
  double ent, mass, self, ctx;
  double ent_l[SS_MAX_EXTRA]; /* per layer */
} probe_stats;

/* Attention entropy and mass on frequent tokens over every probe; att of probe 0 in keep0. */
static int probe_metrics(ss_model *m, probes *p, probe_stats *ps, float *keep0, ss_err *err) {
  const int T = p->T, H = p->H, L = p->L;
  double se = 0, sm = 0, ss = 0, sc = 0;
  for (int l = 0; l < L; l++) ps->ent_l[l] = 0;
  ss_tf_set_training(m, 0);
  for (int q = 0; q < p->P; q++) {
    const int *x = p->x + (size_t)q * T;
    int rc = L == 1 ? ss_tf_attention(m, x, T, p->att, err) : ss_tf_attention_layer(m, x, T, SS_TF_ALL_LAYERS, p->att, err);
    if (rc) return rc;
    if (q == 0 && keep0) memcpy(keep0, p->att, sizeof(float) * (size_t)L * H * T * T);
    for (int l = 0; l < L; l++)
      for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
          const float *a = p->att + (((size_t)l * H + h) * T + i) * T;
          double e = 0, f = 0, fc = 0, mc = 0;
          for (int j = 0; j <= i; j++) { /* causal: row i covers positions 0..i */
            double v = a[j];
            if (v > 0) e -= v * log(v);
            if (p->top[x[j]]) f += v;
            if (j < i) {
              mc += v;
              if (p->top[x[j]]) fc += v;
            }
          }
          se += e;
          ps->ent_l[l] += e;
          sm += f;
          ss += a[i];
          if (i > 0) sc += mc > 1e-30 ? fc / mc : 0;
        }
  }
  ss_tf_set_training(m, 1);
  double n = (double)p->P * L * H * T;
  ps->ent = se / n;
  for (int l = 0; l < L; l++) ps->ent_l[l] /= (double)p->P * H * T;
  ps->mass = sm / n;
  ps->self = ss / n;
  ps->ctx = T > 1 ? sc / ((double)p->P * L * H * (T - 1)) : NAN;
  return SS_OK;
}

/* Where the loop stands at a step boundary: the start of iteration k of epoch `epoch`
 * (k == per_epoch: the epoch's updates are done, its validation is not), after `step`
 * updates. With the model (dropout counter included), the optimizer and the metrics rows it
 * is everything the rest of the run depends on; lr_scale = opt.lr_decay^epoch is recomputed.
 * Kept in the checkpoint as lm.state (F64 [LS_COUNT]), lm.map_steps and lm.maps (the probe-0
 * attention maps kept so far, at full capacity so the tensors' shapes are fixed). */
enum { LS_EPOCH, LS_K, LS_VALID_FRESH, LS_VALID_LOSS, LS_GNORM, LS_NMAPS, LS_FIRST_VALID, LS_FINAL_TRAIN, LS_VALID_BEST, LS_COUNT };

static int write_attention(const char *dir, const ss_corpus *c, const probes *p, const float *maps, const long long *steps, int S,
                           ss_err *err) {
  const int T = p->T, H = p->H, L = p->L;
  const size_t map = (size_t)H * T * T; /* one layer's maps of one step */
  /* the probe's words as a JSON list, for readers of the file */
  size_t cap = 64;
  for (int t = 0; t < T; t++) cap += 2 * strlen(c->words[p->x[t]]) + 4;
  char *words = malloc(cap);
  int64_t *st = malloc(sizeof(int64_t) * (size_t)(S ? S : 1));
  /* [S, L, H, T, T] as kept -> one [S, H, T, T] block per layer */
  float *per = L > 1 ? malloc(sizeof(float) * map * (size_t)(S ? S : 1) * (size_t)L) : NULL;
  if (!words || !st || (L > 1 && !per)) {
    free(words);
    free(st);
    free(per);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  size_t k = 0;
  words[k++] = '[';
  for (int t = 0; t < T; t++) {
    if (t) words[k++] = ',';
    words[k++] = '"';
    for (const char *w = c->words[p->x[t]]; *w; w++) {
      if (*w == '"' || *w == '\\') words[k++] = '\\';
      words[k++] = *w;
    }
    words[k++] = '"';
  }
  words[k++] = ']';
  words[k] = 0;
  for (int i = 0; i < S; i++) st[i] = steps[i];
  for (int l = 0; l < L && per; l++)
    for (int s = 0; s < S; s++) memcpy(per + ((size_t)l * S + s) * map, maps + ((size_t)s * L + l) * map, sizeof(float) * map);
  ss_tensor t[3 + 64];
  char names[64][24];
  int n = 0;
  t[n++] = (ss_tensor){"attention", SS_F32, 4, {S, H, T, T}, per ? (void *)per : (void *)maps};
  t[n++] = (ss_tensor){"steps", SS_I64, 1, {S}, st};
  t[n++] = (ss_tensor){"tokens", SS_I32, 1, {T}, p->x};
  for (int l = 0; l < L && per && l < 64; l++) {
    snprintf(names[l], sizeof names[l], "attention_l%d", l);
    t[n++] = (ss_tensor){names[l], SS_F32, 4, {S, H, T, T}, per + (size_t)l * S * map};
  }
  const char *meta[] = {"format", "scansnap-attention-1", "layout",
                        L > 1 ? "attention_l<l>[s, h, i, j] = weight of position i on position j in layer l at steps[s]; attention = attention_l0"
                              : "attention[s, h, i, j] = weight of position i on position j at steps[s]",
                        "words", words, NULL};
  char *path = ss_path_join(dir, "attention.safetensors");
  int rc = ss_safetensors_write(path, t, n, meta, err);
  free(path);
  free(words);
  free(st);
  free(per);
  return rc;
}

/* ---- the task ------------------------------------------------------------------------
 * The loop's steps are flat: step s is iteration k = s mod P of epoch s div P (P updates
 * per epoch); the final row (s = niter = epochs * P) evaluates batch 0, no update. The live
 * state below is what the rest of the run depends on besides the model, the optimizer and
 * the rows; a checkpoint keeps it as lm.state (F64 [LS_COUNT]), with lm.map_steps and
 * lm.maps (the probe-0 attention maps kept so far, at full capacity so the tensors' shapes
 * are fixed). k == P means: the epoch's updates are done, its validation is not. */
typedef struct {
  ss_corpus c;
  int corpus_open;
  ss_batch b;
  probes p;
  ss_classes nocl;      /* text has no classes: the class-metric columns are NaN */
  double dummy_c, dummy_prob;
  long long psteps[MAX_PROBE_STEPS];
  int npsteps, mapcap;
  float *maps;
  long long *map_steps;
  int64_t L, per_epoch;
  char corpus_sum[32];
  const char *meta[3];
  /* live state */
  int epoch;
  int64_t k;
  int valid_fresh, nmaps;
  double valid_loss, gnorm, first_valid_loss, final_train_loss;
  double valid_best;     /* the lowest validation loss so far */
  double bnd[LS_COUNT];  /* the state at the latest step boundary */
  double st[LS_COUNT];   /* staging of lm.state for checkpoints */
  double t_valid;
  ss_lm_summary sum;     /* the fields the rows do not give */
} lm_task;

static void lm_free(ss_trainer *tr) {
  lm_task *t = tr->task;
  if (!t) return;
  free(t->maps);
  free(t->map_steps);
  free(t->p.x);
  free(t->p.top);
  free(t->p.att);
  ss_batch_free(&t->b);
  if (t->corpus_open) ss_corpus_close(&t->c);
  free(t);
  tr->task = NULL;
}

static void live_state(const lm_task *t, double *st) {
  const double here[LS_COUNT] = {t->epoch,           (double)t->k,        t->valid_fresh, t->valid_loss, t->gnorm,
                                 t->nmaps,           t->first_valid_loss, t->final_train_loss, t->valid_best};
  memcpy(st, here, sizeof here);
}

static int lm_init(ss_trainer *tr, ss_err *err) {
  const ss_config *cfg = &tr->cfg;
  const int B = cfg->batchsize, T = cfg->data.T;
  lm_task *t = calloc(1, sizeof *t);
  if (!t) return ss_seterr(err, SS_ERUN, "out of memory");
  tr->task = t;
  t->valid_loss = t->gnorm = t->first_valid_loss = t->final_train_loss = t->valid_best = NAN;
  if (cfg->model.d % cfg->model.H)
    return ss_seterr(err, SS_EINPUT, "key 'model.H': %d heads do not divide model.d = %d", cfg->model.H, cfg->model.d);
  if (!ss_tf_new) return ss_seterr(err, SS_EINPUT, "key 'model.type': transformer is not implemented in this build");
  int rc = parse_steps(cfg->text.probe_steps, t->psteps, &t->npsteps, err);
  if (rc) return rc;
  ss_corpus *c = &t->c;
  double t0 = ss_now();
  if ((rc = ss_corpus_open_config(cfg, c, err))) return rc;
  t->corpus_open = 1;
  t->sum.seconds_tokenize = ss_now() - t0;
  snprintf(t->sum.note, sizeof t->sum.note, "%s", c->note);
  t->sum.V = c->V;
  t->sum.cache_built = c->built;
  t->sum.train_tokens = c->n[SS_SPLIT_TRAIN];

  /* checks that need the corpus, before the run directory exists */
  t->L = c->n[SS_SPLIT_TRAIN] / B;
  if (c->V < 3)
    return ss_seterr(err, SS_EINPUT, "key 'data.min_freq': the vocabulary of '%s' has no words besides <unk> and <eos> (data.min_freq = %d)",
                     cfg->data.path, cfg->data.min_freq);
  if (cfg->text.top_k >= c->V)
    return ss_seterr(err, SS_EINPUT,
                     "key 'text.top_k': %d frequent tokens leave no others in a vocabulary of V = %d (data.path '%s'); lower text.top_k or use more text",
                     cfg->text.top_k, c->V, cfg->data.path);
  if (t->L < T + 1)
    return ss_seterr(err, SS_EINPUT, "key 'batchsize': the training split has %lld tokens, too few for %d streams of data.T+1 = %d tokens",
                     (long long)c->n[SS_SPLIT_TRAIN], B, T + 1);
  if (c->n[SS_SPLIT_VALID] / B < T + 1)
    return ss_seterr(err, SS_EINPUT, "key 'batchsize': the validation split has %lld tokens, too few for %d streams of data.T+1 = %d tokens",
                     (long long)c->n[SS_SPLIT_VALID], B, T + 1);

  ss_model *m = NULL;
  if ((rc = ss_check_memory(cfg, c->V, err)) || (rc = ss_tf_new(cfg, c->V, T, &m, err))) return rc;
  if ((rc = ss_trainer_set_model(tr, m, 1, err))) return rc;
  if ((rc = ss_batch_alloc(&t->b, B, T, err))) return rc;
  t->b.y = malloc(sizeof(int) * (size_t)B * T);
  probes *p = &t->p;
  p->P = cfg->text.probes;
  p->T = T;
  p->H = cfg->model.H;
  p->L = ss_tf_nlayers(m);
  if (X_COUNT + (p->L > 1 ? p->L : 0) > SS_MAX_EXTRA)
    return ss_seterr(err, SS_EINPUT, "key 'model.nlayers': %d layers need more metrics columns than the %d a run records", p->L, SS_MAX_EXTRA);
  p->x = malloc(sizeof(int) * (size_t)p->P * T);
  p->top = malloc((size_t)c->V);
  p->att = malloc(sizeof(float) * (size_t)p->L * p->H * T * T);
  t->mapcap = t->npsteps + 1; /* the probe steps and the last step */
  /* zeroed: the unused slots go into checkpoints, which must not depend on heap garbage */
  t->maps = calloc((size_t)p->L * p->H * T * T * (size_t)t->mapcap, sizeof(float));
  t->map_steps = calloc((size_t)t->mapcap, sizeof(long long));
  if (!t->b.y || !p->x || !p->top || !p->att || !t->maps || !t->map_steps) return ss_seterr(err, SS_ERUN, "out of memory");
  ss_corpus_top_mask(c, cfg->text.top_k, p->top);
  const int64_t nv = c->n[SS_SPLIT_VALID];
  double um = 0, uc = 0;
  for (int q = 0; q < p->P; q++) {
    int64_t off = p->P > 1 ? (int64_t)q * (nv - T) / (p->P - 1) : 0;
    int seen = 0;
    for (int i = 0; i < T; i++) {
      p->x[q * T + i] = c->ids[SS_SPLIT_VALID][off + i];
      if (p->x[q * T + i] < 0 || p->x[q * T + i] >= c->V)
        return ss_seterr(err, SS_ERUN, "token cache '%s' is damaged (id outside the vocabulary); delete it to rebuild", c->cache_path);
      if (i > 0) uc += (double)seen / i; /* context j < i */
      seen += p->top[p->x[q * T + i]];
      um += (double)seen / (i + 1);
    }
  }
  p->uniform_mass = um / ((double)p->P * T);
  p->uniform_ctx = T > 1 ? uc / ((double)p->P * (T - 1)) : NAN;
  t->nocl.M = c->V;
  t->nocl.prob = &t->dummy_prob;
  if ((rc = ss_trainer_set_classes(tr, &t->nocl, err))) return rc;
  for (int k = 0; k < X_COUNT; k++) ss_recorder_add_column(&tr->rec, xnames[k]);
  for (int l = 0; l < p->L && p->L > 1; l++) {
    char name[32];
    snprintf(name, sizeof name, "attn_entropy_l%d", l);
    ss_recorder_add_column(&tr->rec, name);
  }

  const int64_t per_epoch_all = (t->L - 1) / T;
  t->per_epoch = cfg->text.epoch_steps > 0 && cfg->text.epoch_steps < per_epoch_all ? cfg->text.epoch_steps : per_epoch_all;
  /* niter optimizer updates, at most text.epochs epochs of per_epoch updates */
  const long long budget = (long long)cfg->text.epochs * t->per_epoch;
  tr->niter = cfg->niter < budget ? cfg->niter : budget;
  tr->extra_rows = cfg->text.epochs + t->npsteps; /* fresh validations, probe steps */
  if (cfg->text.valid_every > 0) tr->extra_rows += tr->niter / cfg->text.valid_every;
  /* probe steps the run never reaches: say so (the maps of the last step are kept anyway) */
  char past[256] = "";
  for (int i = 0; i < t->npsteps; i++)
    if (t->psteps[i] > tr->niter && strlen(past) < sizeof past - 24)
      snprintf(past + strlen(past), sizeof past - strlen(past), "%s%lld", past[0] ? ", " : "", t->psteps[i]);
  if (past[0]) {
    size_t n = strlen(t->sum.note);
    snprintf(t->sum.note + n, sizeof t->sum.note - n, "%stext.probe_steps %s lie past the run's last step %lld: no maps there (the last step's are kept)",
             n ? "; " : "", past, tr->niter);
  }
  /* the token streams the run reads: a resumed run refuses a corpus that changed under it */
  uint64_t h = ss_fnv1a64(c->ids[SS_SPLIT_TRAIN], sizeof(int32_t) * (size_t)c->n[SS_SPLIT_TRAIN], SS_FNV_INIT);
  h = ss_fnv1a64(c->ids[SS_SPLIT_VALID], sizeof(int32_t) * (size_t)c->n[SS_SPLIT_VALID], h);
  snprintf(t->corpus_sum, sizeof t->corpus_sum, "%016" PRIx64 "-V%d", h, c->V);
  t->meta[0] = "corpus_fnv1a";
  t->meta[1] = t->corpus_sum;
  t->meta[2] = NULL;
  tr->meta = t->meta;
  tr->items_per_step = (double)B * T;
  live_state(t, t->bnd);
  return SS_OK;
}

static int lm_validate(ss_trainer *tr, lm_task *t, ss_err *err) {
  double tv = ss_now();
  int rc = validate(tr->m, &t->c, &t->b, tr->cfg.text.eval_batches, &t->valid_loss, err);
  t->t_valid += ss_now() - tv;
  if (rc == SS_OK) t->valid_fresh = 1;
  if (rc == SS_OK && !(t->valid_best <= t->valid_loss)) t->valid_best = t->valid_loss;
  return rc;
}

static int lm_start(ss_trainer *tr, int restored, ss_err *err) {
  lm_task *t = tr->task;
  ss_tf_set_training(tr->m, 1);
  if (restored) return SS_OK; /* a restored run has the validation of its boundary in lm.state */
  int rc = lm_validate(tr, t, err);
  t->first_valid_loss = t->valid_loss;
  return rc;
}

/* After an epoch's last update: its validation, then the next epoch; a run that niter ends
 * inside an epoch is validated before its final row too, and with text.valid_every = K also
 * every K updates. */
static int lm_boundary(ss_trainer *tr, long long s, ss_err *err) {
  lm_task *t = tr->task;
  if (s == tr->niter && t->k > 0 && t->k < t->per_epoch && !t->valid_fresh) return lm_validate(tr, t, err);
  if (t->k < t->per_epoch) {
    const int every = tr->cfg.text.valid_every;
    return every > 0 && s > 0 && s % every == 0 && !t->valid_fresh ? lm_validate(tr, t, err) : SS_OK;
  }
  int rc = lm_validate(tr, t, err);
  if (rc) return rc;
  t->epoch++;
  t->k = 0;
  t->sum.epochs = t->epoch;
  return SS_OK;
}

static void lm_snapshot(ss_trainer *tr) {
  lm_task *t = tr->task;
  live_state(t, t->bnd);
}

static int lm_state(ss_trainer *tr, int boundary, ss_train_pos *pos, ss_tensor *extra, int *nextra) {
  lm_task *t = tr->task;
  const int T = tr->cfg.data.T;
  if (boundary)
    memcpy(t->st, t->bnd, sizeof t->st);
  else
    live_state(t, t->st);
  pos->data_pos = (long long)t->st[LS_K];
  const ss_tensor ex[] = {
      {"lm.state", SS_F64, 1, {LS_COUNT}, t->st},
      {"lm.map_steps", SS_I64, 1, {t->mapcap}, t->map_steps},
      {"lm.maps", SS_F32, 4, {t->mapcap, (int64_t)t->p.L * t->p.H, T, T}, t->maps},
  };
  memcpy(extra, ex, sizeof ex);
  *nextra = 3;
  return SS_OK;
}

static int lm_restore(ss_trainer *tr, const ss_train_pos *pos, ss_err *err) {
  (void)pos;
  lm_task *t = tr->task;
  const double *st = t->st;
  const int epochs = tr->cfg.text.epochs;
  if (!(st[LS_EPOCH] >= 0 && st[LS_EPOCH] <= epochs && st[LS_K] >= 0 && st[LS_K] <= t->per_epoch && st[LS_NMAPS] >= 0 &&
        st[LS_NMAPS] <= t->mapcap && (st[LS_EPOCH] < epochs || st[LS_K] == 0)))
    return ss_seterr(err, SS_EINPUT, "checkpoint '%s': epoch %g, batch %g is outside this run's %d epoch(s) of %lld batches", tr->ckpt,
                     st[LS_EPOCH], st[LS_K], epochs, (long long)t->per_epoch);
  t->epoch = (int)st[LS_EPOCH];
  t->k = (int64_t)st[LS_K];
  t->valid_fresh = st[LS_VALID_FRESH] != 0;
  t->valid_loss = st[LS_VALID_LOSS];
  t->gnorm = st[LS_GNORM];
  t->nmaps = (int)st[LS_NMAPS];
  t->first_valid_loss = st[LS_FIRST_VALID];
  t->final_train_loss = st[LS_FINAL_TRAIN];
  t->valid_best = st[LS_VALID_BEST];
  t->sum.epochs = t->epoch;
  return SS_OK;
}

static int lm_batch(ss_trainer *tr, long long s, int last, ss_err *err) {
  (void)s;
  (void)last;
  lm_task *t = tr->task;
  /* the batch the next update uses (for the final row, evaluated without an update; after
   * the last epoch that is the first batch of the epoch that would follow) */
  return fill_batch(&t->c, t->c.ids[SS_SPLIT_TRAIN], t->L, t->k, &t->b, err);
}

static int lm_forward(ss_trainer *tr, long long s, int last, double *loss, double *acc, ss_err *err) {
  (void)s;
  lm_task *t = tr->task;
  ss_model *m = tr->m;
  return last ? m->ops->eval(m, &t->b, loss, acc, err) : m->ops->step(m, &t->b, loss, acc, err);
}

/* Whether the maps of step s are kept: a probe step, or the last step. */
static int keeps_map(const ss_trainer *tr, const lm_task *t, long long s) {
  if (s == tr->niter) return 1;
  for (int i = 0; i < t->npsteps; i++)
    if (t->psteps[i] == s) return 1;
  return 0;
}

static int lm_want_row(ss_trainer *tr, long long s) {
  lm_task *t = tr->task;
  return t->valid_fresh || keeps_map(tr, t, s);
}

static int lm_record(ss_trainer *tr, long long s, double loss, double acc, ss_err *err) {
  lm_task *t = tr->task;
  probes *p = &t->p;
  const int T = p->T;
  probe_stats ps;
  float *keep = keeps_map(tr, t, s) && t->nmaps < t->mapcap ? t->maps + (size_t)t->nmaps * p->L * p->H * T * T : NULL;
  int rc = probe_metrics(tr->m, p, &ps, keep, err);
  if (rc) return rc;
  if (keep) t->map_steps[t->nmaps++] = s;
  const double lr_scale = pow(tr->cfg.opt.lr_decay, t->epoch);
  double x[SS_MAX_EXTRA] = {t->epoch, lr_scale, exp(loss), t->valid_fresh ? t->valid_loss : NAN, t->valid_fresh ? exp(t->valid_loss) : NAN,
                            ps.ent, ps.mass, 1 - ps.mass, p->uniform_mass, ps.self, ps.ctx, p->uniform_ctx, t->gnorm, t->valid_best};
  for (int l = 0; l < p->L && p->L > 1; l++) x[X_COUNT + l] = ps.ent_l[l];
  double yn, zn;
  ss_model_norms01(tr->m, &yn, &zn);
  if ((rc = ss_recorder_add(&tr->rec, s, loss, acc, &t->dummy_c, yn, zn, x, err)))
    return rc;
  t->valid_fresh = 0;
  return SS_OK;
}

static int lm_update(ss_trainer *tr, long long s, double loss, ss_err *err) {
  (void)s;
  (void)err;
  lm_task *t = tr->task;
  t->final_train_loss = loss;
  t->gnorm = ss_clip_grad_norm(tr->m, tr->cfg.opt.clip);
  ss_optim_step(&tr->opt, tr->m, pow(tr->cfg.opt.lr_decay, t->epoch));
  t->k++;
  return SS_OK;
}

static int lm_finish(ss_trainer *tr, const char *dir, ss_err *err) {
  lm_task *t = tr->task;
  return write_attention(dir, &t->c, &t->p, t->maps, t->map_steps, t->nmaps, err);
}

static void lm_summarize(ss_trainer *tr, ss_train_summary *s) {
  lm_task *t = tr->task;
  if (!t) return;
  ss_lm_summary *l = &s->lm;
  *l = t->sum;
  s->is_lm = 1;
  l->first_train_loss = l->attn_entropy_first = l->freq_mass_first = l->ctx_mass_first = l->self_mass_first = NAN;
  l->attn_entropy_last = l->freq_mass_last = l->ctx_mass_last = l->self_mass_last = NAN;
  const ss_recorder *rec = &tr->rec;
  if (tr->has_rec && rec->nrows) {
    const ss_row *f = &rec->first, *e = &rec->last;
    l->first_train_loss = f->loss;
    l->attn_entropy_first = f->extra[X_ATTN_ENT];
    l->freq_mass_first = f->extra[X_FREQ];
    l->ctx_mass_first = f->extra[X_CTX];
    l->self_mass_first = f->extra[X_SELF];
    l->attn_entropy_last = e->extra[X_ATTN_ENT];
    l->freq_mass_last = e->extra[X_FREQ];
    l->ctx_mass_last = e->extra[X_CTX];
    l->self_mass_last = e->extra[X_SELF];
  }
  l->steps = tr->step;
  l->final_train_loss = t->final_train_loss;
  l->first_valid_loss = t->first_valid_loss;
  l->final_valid_loss = t->valid_loss;
  l->final_valid_ppl = exp(t->valid_loss);
  l->freq_mass_uniform = t->p.uniform_mass;
  l->ctx_mass_uniform = t->p.uniform_ctx;
  l->seconds_train = tr->t_train;
  l->seconds_valid = t->t_valid;
  l->tokens_per_second = tr->t_train > 0 ? tr->items_per_step * (double)tr->step / tr->t_train : 0;
  /* run.json's summary: the vocabulary, train loss at the start, validation loss at the end */
  s->run.M = t->sum.V;
  s->run.first_loss = l->first_train_loss;
  s->run.final_loss = l->final_valid_loss;
  memset(&s->run.start, 0, sizeof s->run.start);
  memset(&s->run.end, 0, sizeof s->run.end);
  s->run.final_acc = 0;
  s->run.seqs_per_second = tr->t_train > 0 ? (double)tr->cfg.batchsize * (double)tr->step / tr->t_train : 0;
}

const ss_task_ops ss_task_lm = {
    .name = "language model",
    .init = lm_init,
    .start = lm_start,
    .boundary = lm_boundary,
    .batch = lm_batch,
    .forward = lm_forward,
    .want_row = lm_want_row,
    .record = lm_record,
    .update = lm_update,
    .snapshot = lm_snapshot,
    .state = lm_state,
    .restore = lm_restore,
    .finish = lm_finish,
    .summarize = lm_summarize,
    .free = lm_free,
};
