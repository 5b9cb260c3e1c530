/* The language-model run on real text (SPEC §5; the paper's Figure-7 experiment).
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
 * and at the steps of text.probe_steps the maps of probe 0 are kept (attention.safetensors,
 * attention_maps.dat + attention.gp = Figure 7). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scansnap/io.h"
#include "scansnap/optim.h"
#include "scansnap/text.h"
#include "scansnap/transformer.h"

/* Weak references: a build without the transformer still links, and the run then reports
 * that the model is not implemented (the tests skip on exactly that message). */
#pragma weak ss_tf_new
#pragma weak ss_tf_attention
#pragma weak ss_tf_set_training

#define MAX_PROBE_STEPS 64

enum { X_EPOCH, X_LR, X_TRAIN_PPL, X_VALID_LOSS, X_VALID_PPL, X_ATTN_ENT, X_FREQ, X_REST, X_FREQ_UNI, X_SELF, X_CTX, X_CTX_UNI, X_GNORM, X_COUNT };
static const char *const xnames[X_COUNT] = {"epoch", "lr_scale", "train_ppl", "valid_loss", "valid_ppl", "attn_entropy",
                                            "freq_mass", "rest_mass", "freq_mass_uniform", "self_mass", "freq_mass_ctx",
                                            "freq_mass_ctx_uniform", "grad_norm"};

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
  int P, T, H;
  int *x;              /* [P, T] probe tokens */
  unsigned char *top;  /* [V] 1 for the top_k most frequent ids */
  float *att;          /* [H, T, T] */
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
} probe_stats;

/* Attention entropy and mass on frequent tokens over every probe; att of probe 0 in keep0. */
static int probe_metrics(ss_model *m, probes *p, probe_stats *ps, float *keep0, ss_err *err) {
  const int T = p->T, H = p->H;
  double se = 0, sm = 0, ss = 0, sc = 0;
  ss_tf_set_training(m, 0);
  for (int q = 0; q < p->P; q++) {
    const int *x = p->x + (size_t)q * T;
    int rc = ss_tf_attention(m, x, T, p->att, err);
    if (rc) return rc;
    if (q == 0 && keep0) memcpy(keep0, p->att, sizeof(float) * (size_t)H * T * T);
    for (int h = 0; h < H; h++)
      for (int i = 0; i < T; i++) {
        const float *a = p->att + ((size_t)h * T + i) * T;
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
        sm += f;
        ss += a[i];
        if (i > 0) sc += mc > 1e-30 ? fc / mc : 0;
      }
  }
  ss_tf_set_training(m, 1);
  double n = (double)p->P * H * T;
  ps->ent = se / n;
  ps->mass = sm / n;
  ps->self = ss / n;
  ps->ctx = T > 1 ? sc / ((double)p->P * H * (T - 1)) : NAN;
  return SS_OK;
}

/* Where the loop stands at a step boundary: the start of iteration k of epoch `epoch`
 * (k == per_epoch: the epoch's updates are done, its validation is not), after `step`
 * updates. With the model (dropout counter included), the optimizer and the metrics rows it
 * is everything the rest of the run depends on; lr_scale = opt.lr_decay^epoch is recomputed.
 * Kept in the checkpoint as lm.state (F64 [LS_COUNT]), lm.map_steps and lm.maps (the probe-0
 * attention maps kept so far, at full capacity so the tensors' shapes are fixed). */
enum { LS_EPOCH, LS_K, LS_VALID_FRESH, LS_VALID_LOSS, LS_GNORM, LS_NMAPS, LS_FIRST_VALID, LS_FINAL_TRAIN, LS_COUNT };

static int lm_save(const char *path, const ss_model *m, const ss_optim *o, long long step, const double *st, const ss_recorder *rec,
                   const char *const *meta, long long *map_steps, float *maps, int cap, int H, int T, ss_err *err) {
  ss_train_pos pos = {step, {{0, 0, 0, 0}}, (long long)st[LS_K]};
  ss_tensor ex[] = {
      {"lm.state", SS_F64, 1, {LS_COUNT}, (void *)st},
      {"lm.map_steps", SS_I64, 1, {cap}, map_steps},
      {"lm.maps", SS_F32, 4, {cap, H, T, T}, maps},
  };
  return ss_checkpoint_save_ext(path, m, o, &pos, rec, meta, ex, 3, err);
}

static int write_attention(const char *dir, const ss_corpus *c, const probes *p, const float *maps, const long long *steps, int S,
                           ss_err *err) {
  const int T = p->T, H = p->H;
  /* the probe's words as a JSON list, for readers of the file */
  size_t cap = 64;
  for (int t = 0; t < T; t++) cap += 2 * strlen(c->words[p->x[t]]) + 4;
  char *words = malloc(cap);
  int64_t *st = malloc(sizeof(int64_t) * (size_t)(S ? S : 1));
  if (!words || !st) {
    free(words);
    free(st);
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
  ss_tensor t[] = {
      {"attention", SS_F32, 4, {S, H, T, T}, (void *)maps},
      {"steps", SS_I64, 1, {S}, st},
      {"tokens", SS_I32, 1, {T}, p->x},
  };
  const char *meta[] = {"format", "scansnap-attention-1", "layout", "attention[s, h, i, j] = weight of position i on position j at steps[s]",
                        "words", words, NULL};
  char *path = ss_path_join(dir, "attention.safetensors");
  int rc = ss_safetensors_write(path, t, 3, meta, err);
  free(path);
  free(words);
  free(st);
  if (rc) return rc;

  /* gnuplot: one block per saved step (head 0), "i j a" rows; the script draws them side by side */
  path = ss_path_join(dir, "attention_maps.dat");
  ss_afile a;
  rc = ss_afile_open(&a, path, err);
  free(path);
  if (rc) return rc;
  fprintf(a.f, "# attention of probe 0, head 0: one block per step (gnuplot index), columns key query weight\n");
  for (int s = 0; s < S; s++) {
    fprintf(a.f, "# step %lld\n", steps[s]);
    for (int i = 0; i < T; i++) {
      for (int j = 0; j < T; j++) fprintf(a.f, "%d %d %.6g\n", j, i, maps[(size_t)s * H * T * T + (size_t)i * T + j]);
      fputc('\n', a.f);
    }
    fputs("\n\n", a.f);
  }
  if ((rc = ss_afile_commit(&a, err))) return rc;
  path = ss_path_join(dir, "attention.gp");
  rc = ss_afile_open(&a, path, err);
  free(path);
  if (rc) return rc;
  fprintf(a.f, "# Figure 7: attention maps of a fixed probe sequence over training (run: gnuplot attention.gp)\n");
  fprintf(a.f, "set terminal pngcairo size %d,420 font ',9'\nset output 'attention.png'\n", 360 * (S ? S : 1));
  fprintf(a.f, "set multiplot layout 1,%d title 'attention of a fixed probe sequence (row: query position, column: key)'\n", S ? S : 1);
  fprintf(a.f, "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\nset cbrange [0:1]\nset palette defined (0 'white', 1 'dark-blue')\n", T - 1, T - 1);
  fprintf(a.f, "set size square\nunset key\n");
  for (int s = 0; s < S; s++) fprintf(a.f, "set title 'step %lld'\nplot 'attention_maps.dat' index %d using 1:2:3 with image\n", steps[s], s);
  fprintf(a.f, "unset multiplot\n");
  return ss_afile_commit(&a, err);
}

int ss_lm_train(const ss_config *cfg, const char *dir, ss_lm_summary *s, ss_err *err) {
  memset(s, 0, sizeof *s);
  s->first_train_loss = s->final_train_loss = s->first_valid_loss = s->final_valid_loss = NAN;
  ss_set_threads(cfg->threads);
  const int B = cfg->batchsize, T = cfg->data.T;
  if (cfg->model.type != SS_MODEL_TRANSFORMER)
    return ss_seterr(err, SS_EINPUT, "key 'model.task': lm needs model.type=transformer");
  if (cfg->model.d % cfg->model.H)
    return ss_seterr(err, SS_EINPUT, "key 'model.H': %d heads do not divide model.d = %d", cfg->model.H, cfg->model.d);
  const int resuming = cfg->resume[0] != 0;
  if (resuming) { /* a run to continue: dir holds its run.json (ss_run_load_config made cfg) */
    char status[64];
    int rc = ss_run_status(dir, status, sizeof status, err);
    if (rc) return rc;
  }
  if (!ss_tf_new) return ss_seterr(err, SS_EINPUT, "key 'model.type': transformer is not implemented in this build");
  long long psteps[MAX_PROBE_STEPS];
  int npsteps;
  int rc = parse_steps(cfg->text.probe_steps, psteps, &npsteps, err);
  if (rc) return rc;
  int lockfd = -1;

  ss_corpus c;
  double t0 = ss_now();
  if ((rc = ss_corpus_open_config(cfg, &c, err))) return rc;
  s->seconds_tokenize = ss_now() - t0;
  snprintf(s->note, sizeof s->note, "%s", c.note);
  s->V = c.V;
  s->cache_built = c.built;
  s->train_tokens = c.n[SS_SPLIT_TRAIN];

  /* checks that need the corpus, before the run directory exists */
  const int64_t L = c.n[SS_SPLIT_TRAIN] / B;
  if (c.V < 3) {
    rc = ss_seterr(err, SS_EINPUT, "key 'data.min_freq': the vocabulary of '%s' has no words besides <unk> and <eos> (data.min_freq = %d)",
                   cfg->data.path, cfg->data.min_freq);
    goto out_c;
  }
  if (cfg->text.top_k >= c.V) {
    rc = ss_seterr(err, SS_EINPUT, "key 'text.top_k': %d frequent tokens leave no others in a vocabulary of V = %d (data.path '%s'); lower text.top_k or use more text",
                   cfg->text.top_k, c.V, cfg->data.path);
    goto out_c;
  }
  if (L < T + 1) {
    rc = ss_seterr(err, SS_EINPUT, "key 'batchsize': the training split has %lld tokens, too few for %d streams of data.T+1 = %d tokens",
                   (long long)c.n[SS_SPLIT_TRAIN], B, T + 1);
    goto out_c;
  }
  if (c.n[SS_SPLIT_VALID] / B < T + 1) {
    rc = ss_seterr(err, SS_EINPUT, "key 'batchsize': the validation split has %lld tokens, too few for %d streams of data.T+1 = %d tokens",
                   (long long)c.n[SS_SPLIT_VALID], B, T + 1);
    goto out_c;
  }

  ss_model *m = NULL;
  if ((rc = ss_tf_new(cfg, c.V, T, &m, err))) goto out_c;
  ss_optim opt;
  ss_batch b;
  ss_recorder rec;
  probes p;
  memset(&opt, 0, sizeof opt);
  memset(&b, 0, sizeof b);
  memset(&rec, 0, sizeof rec);
  memset(&p, 0, sizeof p);
  float *maps = NULL;
  char *ckpt = NULL;
  long long *map_steps = NULL;
  double valid_loss = NAN, gnorm = NAN, t_train = 0, t_valid = 0;
  int valid_fresh = 0;
  long long step = 0;
  ss_run_summary sum;
  int nmaps = 0;
  double dummy_c = 0, dummy_prob = 0;
  ss_classes nocl; /* text has no classes: the class-metric columns are NaN */
  memset(&nocl, 0, sizeof nocl);
  nocl.M = c.V;
  nocl.prob = &dummy_prob;
  if ((rc = ss_optim_init(&opt, cfg, m, err))) goto out_m;
  if ((rc = ss_batch_alloc(&b, B, T, err))) goto out_m;
  b.y = malloc(sizeof(int) * (size_t)B * T);
  p.P = cfg->text.probes;
  p.T = T;
  p.H = cfg->model.H;
  p.x = malloc(sizeof(int) * (size_t)p.P * T);
  p.top = malloc((size_t)c.V);
  p.att = malloc(sizeof(float) * (size_t)p.H * T * T);
  const int mapcap = npsteps ? npsteps : 1;
  /* zeroed: the unused slots go into checkpoints, which must not depend on heap garbage */
  maps = calloc((size_t)p.H * T * T * (size_t)mapcap, sizeof(float));
  map_steps = calloc((size_t)mapcap, sizeof(long long));
  ckpt = ss_path_join(dir, "checkpoint.safetensors");
  if (!b.y || !p.x || !p.top || !p.att || !maps || !map_steps || !ckpt) {
    rc = ss_seterr(err, SS_ERUN, "out of memory");
    goto out_m;
  }
  ss_corpus_top_mask(&c, cfg->text.top_k, p.top);
  {
    const int64_t nv = c.n[SS_SPLIT_VALID];
    double um = 0, uc = 0;
    for (int q = 0; q < p.P; q++) {
      int64_t off = p.P > 1 ? (int64_t)q * (nv - T) / (p.P - 1) : 0;
      int seen = 0;
      for (int t = 0; t < T; t++) {
        p.x[q * T + t] = c.ids[SS_SPLIT_VALID][off + t];
        if (p.x[q * T + t] < 0 || p.x[q * T + t] >= c.V) {
          rc = ss_seterr(err, SS_ERUN, "token cache '%s' is damaged (id outside the vocabulary); delete it to rebuild", c.cache_path);
          goto out_m;
        }
        if (t > 0) uc += (double)seen / t; /* context j < t */
        seen += p.top[p.x[q * T + t]];
        um += (double)seen / (t + 1);
      }
    }
    p.uniform_mass = um / ((double)p.P * T);
    p.uniform_ctx = T > 1 ? uc / ((double)p.P * (T - 1)) : NAN;
  }
  ss_recorder_init(&rec, &nocl, err);
  for (int k = 0; k < X_COUNT; k++) ss_recorder_add_column(&rec, xnames[k]);

  const int64_t per_epoch_all = (L - 1) / T;
  const int64_t per_epoch = cfg->text.epoch_steps > 0 && cfg->text.epoch_steps < per_epoch_all ? cfg->text.epoch_steps : per_epoch_all;
  /* the token streams the run reads: a resumed run refuses a corpus that changed under it */
  char corpus_sum[32];
  {
    uint64_t h = ss_fnv1a64(c.ids[SS_SPLIT_TRAIN], sizeof(int32_t) * (size_t)c.n[SS_SPLIT_TRAIN], SS_FNV_INIT);
    h = ss_fnv1a64(c.ids[SS_SPLIT_VALID], sizeof(int32_t) * (size_t)c.n[SS_SPLIT_VALID], h);
    snprintf(corpus_sum, sizeof corpus_sum, "%016" PRIx64 "-V%d", h, c.V);
  }
  const char *meta[] = {"corpus_fnv1a", corpus_sum, NULL};
  int epoch0 = 0;
  int64_t k0 = 0;
  double bnd[LS_COUNT] = {0}; /* the loop state at the latest step boundary (lm_save) */
  /* one process per run directory, from before the checkpoint is read to the end */
  if ((rc = ss_run_lock(dir, &lockfd, err))) goto out_m;
  const int restored = resuming && ss_file_exists(ckpt);
  if (restored) {
    ss_train_pos pos;
    double st[LS_COUNT];
    ss_tensor ex[] = {
        {"lm.state", SS_F64, 1, {LS_COUNT}, st},
        {"lm.map_steps", SS_I64, 1, {mapcap}, map_steps},
        {"lm.maps", SS_F32, 4, {mapcap, p.H, T, T}, maps},
    };
    if ((rc = ss_checkpoint_load_ext(ckpt, m, &opt, &pos, &rec, meta, ex, 3, err))) goto out_m;
    if (!(st[LS_EPOCH] >= 0 && st[LS_EPOCH] <= cfg->text.epochs && st[LS_K] >= 0 && st[LS_K] <= per_epoch && st[LS_NMAPS] >= 0 &&
          st[LS_NMAPS] <= npsteps && (st[LS_EPOCH] < cfg->text.epochs || st[LS_K] == 0))) {
      rc = ss_seterr(err, SS_EINPUT, "checkpoint '%s': epoch %g, batch %g is outside this run's %d epoch(s) of %lld batches", ckpt, st[LS_EPOCH],
                     st[LS_K], cfg->text.epochs, (long long)per_epoch);
      goto out_m;
    }
    epoch0 = (int)st[LS_EPOCH];
    k0 = (int64_t)st[LS_K];
    step = pos.step;
    valid_fresh = st[LS_VALID_FRESH] != 0;
    valid_loss = st[LS_VALID_LOSS];
    gnorm = st[LS_GNORM];
    nmaps = (int)st[LS_NMAPS];
    s->first_valid_loss = st[LS_FIRST_VALID];
    s->final_train_loss = st[LS_FINAL_TRAIN];
    s->epochs = epoch0;
    for (int r = 0; r < rec.nrows; r++) { /* as recorded: text has no class metrics */
      ss_row *row = &rec.rows[r];
      row->avg.entropy = row->avg.entropy_distinct = row->avg.common_mass = row->avg.distinct_mass = row->avg.kendall_tau = NAN;
    }
    if (rec.nrows) {
      s->first_train_loss = rec.rows[0].loss;
      s->attn_entropy_first = rec.rows[0].extra[X_ATTN_ENT];
      s->freq_mass_first = rec.rows[0].extra[X_FREQ];
      s->ctx_mass_first = rec.rows[0].extra[X_CTX];
      s->self_mass_first = rec.rows[0].extra[X_SELF];
      const ss_row *l = &rec.rows[rec.nrows - 1];
      s->attn_entropy_last = l->extra[X_ATTN_ENT];
      s->freq_mass_last = l->extra[X_FREQ];
      s->ctx_mass_last = l->extra[X_CTX];
      s->self_mass_last = l->extra[X_SELF];
    }
  }
  if (resuming) {
    ss_run_clean_tmp(dir);
    rc = ss_run_finish(dir, "train", "running", cfg, NULL, NULL, err);
  } else
    rc = ss_run_begin(cfg, NULL, dir, "train", err);
  if (rc) goto out_m;

  /* Test hook (tests/test_lm_resume.sh): slow every step down so that a kill lands mid-run. */
  const char *delay_env = getenv("SS_TEST_STEP_DELAY_US");
  const long delay_us = delay_env ? atol(delay_env) : 0;
  ss_tf_set_training(m, 1);
  if (!restored) { /* a restored run has the validation of its boundary in lm.state */
    double tv = ss_now();
    if ((rc = validate(m, &c, &b, cfg->text.eval_batches, &valid_loss, err))) goto fail;
    t_valid += ss_now() - tv;
    s->first_valid_loss = valid_loss;
    valid_fresh = 1;
  }
  for (int epoch = epoch0; epoch <= cfg->text.epochs && rc == SS_OK; epoch++) {
    const int last_epoch = epoch == cfg->text.epochs;
    const double lr_scale = pow(cfg->opt.lr_decay, epoch);
    for (int64_t k = epoch == epoch0 ? k0 : 0; k < per_epoch; k++) {
      const double here[LS_COUNT] = {epoch, (double)k, valid_fresh, valid_loss, gnorm, nmaps, s->first_valid_loss, s->final_train_loss};
      memcpy(bnd, here, sizeof bnd);
      /* SIGINT/SIGTERM (ss_request_stop): stop at this step boundary with a checkpoint of it */
      int sig = ss_stop_requested();
      if (sig) {
        rc = lm_save(ckpt, m, &opt, step, bnd, &rec, meta, map_steps, maps, mapcap, p.H, T, err);
        if (rc == SS_OK) rc = ss_recorder_write(&rec, dir, err);
        if (rc) rc = err->code = SS_ERUN;
        if (rc == SS_OK)
          rc = ss_seterr(err, SS_ESTOP, "stopped by signal %d at step %lld; checkpoint written, continue with --resume %s", sig, step, dir);
        break;
      }
      if (delay_us > 0) usleep((useconds_t)delay_us);
      /* the final row (after the last update): one more batch, evaluated, no update */
      const int final = last_epoch;
      if ((rc = fill_batch(&c, c.ids[SS_SPLIT_TRAIN], L, final ? 0 : k, &b, err))) break;
      double loss, acc, ts = ss_now();
      rc = final ? m->ops->eval(m, &b, &loss, &acc, err) : m->ops->step(m, &b, &loss, &acc, err);
      if (rc) break;
      if (!final) t_train += ss_now() - ts;
      int keep = -1;
      for (int i = 0; i < npsteps; i++)
        if (psteps[i] == step) keep = i;
      if (final || valid_fresh || step % cfg->save_per_minibatch == 0 || keep >= 0) {
        probe_stats ps;
        float *k0 = keep >= 0 ? maps + (size_t)nmaps * p.H * T * T : NULL;
        if ((rc = probe_metrics(m, &p, &ps, k0, err))) break;
        if (k0) map_steps[nmaps++] = step;
        const double ent = ps.ent, mass = ps.mass;
        double x[X_COUNT] = {epoch, lr_scale, exp(loss), valid_fresh ? valid_loss : NAN, valid_fresh ? exp(valid_loss) : NAN,
                             ent, mass, 1 - mass, p.uniform_mass, ps.self, ps.ctx, p.uniform_ctx, gnorm};
        if ((rc = ss_recorder_add(&rec, step, loss, acc, &dummy_c, ss_model_group_norm(m, 0), ss_model_group_norm(m, 1), x, err))) break;
        ss_row *row = &rec.rows[rec.nrows - 1];
        row->avg.entropy = row->avg.entropy_distinct = row->avg.common_mass = row->avg.distinct_mass = row->avg.kendall_tau = NAN;
        if (rec.nrows == 1) {
          s->first_train_loss = loss;
          s->attn_entropy_first = ent;
          s->freq_mass_first = mass;
          s->ctx_mass_first = ps.ctx;
          s->self_mass_first = ps.self;
        }
        s->attn_entropy_last = ent;
        s->freq_mass_last = mass;
        s->ctx_mass_last = ps.ctx;
        s->self_mass_last = ps.self;
        valid_fresh = 0;
      }
      if (!isfinite(loss)) {
        rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: loss is %g", step, loss);
        break;
      }
      if (final) break;
      s->final_train_loss = loss;
      ts = ss_now();
      gnorm = ss_clip_grad_norm(m, cfg->opt.clip);
      char where[128];
      if (!isfinite(gnorm) && ss_model_find_nonfinite(m, 1, where, sizeof where)) {
        rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: %s is not finite", step, where);
        break;
      }
      ss_optim_step(&opt, m, lr_scale);
      t_train += ss_now() - ts;
      if (ss_model_find_nonfinite(m, 0, where, sizeof where)) {
        rc = ss_seterr(err, SS_EDIVERGE, "diverged at step %lld: parameter %s is not finite after the update", step, where);
        break;
      }
      step++;
      if (cfg->save_every > 0 && step % cfg->save_every == 0) {
        /* the next boundary: iteration k+1 (k+1 == per_epoch: this epoch's validation is next) */
        const double next[LS_COUNT] = {epoch, (double)(k + 1), valid_fresh, valid_loss, gnorm, nmaps, s->first_valid_loss, s->final_train_loss};
        if ((rc = lm_save(ckpt, m, &opt, step, next, &rec, meta, map_steps, maps, mapcap, p.H, T, err))) {
          rc = err->code = SS_ERUN; /* the previous checkpoint stays */
          break;
        }
      }
    }
    if (rc || last_epoch) break;
    double tv = ss_now();
    if ((rc = validate(m, &c, &b, cfg->text.eval_batches, &valid_loss, err))) break;
    t_valid += ss_now() - tv;
    valid_fresh = 1;
    s->epochs = epoch + 1;
  }
  s->steps = step;
  s->final_valid_loss = valid_loss;
  s->final_valid_ppl = exp(valid_loss);
  s->freq_mass_uniform = p.uniform_mass;
  s->ctx_mass_uniform = p.uniform_ctx;
  s->seconds_train = t_train;
  s->seconds_valid = t_valid;
  s->tokens_per_second = t_train > 0 ? (double)B * T * (double)step / t_train : 0;

fail:
  memset(&sum, 0, sizeof sum);
  snprintf(sum.dir, sizeof sum.dir, "%s", dir);
  sum.M = c.V;
  sum.rows = rec.nrows;
  sum.first_loss = s->first_train_loss;
  sum.final_loss = s->final_valid_loss;
  sum.train_seconds = t_train;
  sum.seqs_per_second = t_train > 0 ? (double)B * step / t_train : 0;
  if (rc == SS_OK) rc = ss_recorder_write(&rec, dir, err);
  if (rc == SS_OK) rc = write_attention(dir, &c, &p, maps, map_steps, nmaps, err);
  /* the boundary before the final (evaluation-only) row; its rows include that row */
  if (rc == SS_OK) rc = lm_save(ckpt, m, &opt, step, bnd, &rec, meta, map_steps, maps, mapcap, p.H, T, err);
  if (rc == SS_OK)
    rc = ss_run_finish(dir, "train", "complete", cfg, &sum, NULL, err);
  else {
    ss_err e2;
    if (rc == SS_EDIVERGE) ss_recorder_write(&rec, dir, &e2); /* keep what was measured */
    ss_run_finish(dir, "train", rc == SS_EDIVERGE ? "diverged" : rc == SS_ESTOP ? "interrupted" : "failed", cfg, &sum, err->msg, &e2);
  }
out_m:
  ss_run_unlock(lockfd);
  free(ckpt);
  free(maps);
  free(map_steps);
  free(p.x);
  free(p.top);
  free(p.att);
  ss_recorder_free(&rec);
  ss_batch_free(&b);
  ss_optim_free(&opt);
  ss_model_free(m);
out_c:
  ss_corpus_close(&c);
  return rc;
}
