/* The table of every configuration key: name, type, default, range, help.
 * Defaults are the paper's Figure-4 run (SPEC §1); configs/fig4.yaml spells them out. */
#include <float.h>
#include <stddef.h>

#include "scansnap/config.h"

#define F(field) offsetof(ss_config, field)
#define S(field) offsetof(ss_config, field), sizeof(((ss_config *)0)->field)
#define NOLIM 1, 0
#define INF DBL_MAX

static const ss_keydef keys[] = {
  /* run */
  {"seed", SS_KEY_INT, F(seed), 0, "2", 0, 0, 9.2e18, 0, "random seed (data, init, dropout)"},
  {"niter", SS_KEY_INT, F(niter), 0, "100", 0, 0, 1e9, 0, "number of optimizer updates"},
  {"batchsize", SS_KEY_INT, F(batchsize), 0, "128", 0, 1, 1e7, 0, "sequences per update"},
  {"save_per_minibatch", SS_KEY_INT, F(save_per_minibatch), 0, "2", 0, 1, 1e9, 0, "record a metrics row every this many updates"},
  {"save_every", SS_KEY_INT, F(save_every), 0, "0", 0, 0, 1e9, 0, "write a checkpoint every this many updates (0 = only at the end)"},
  {"threads", SS_KEY_INT, F(threads), 0, "0", 0, 0, 4096, 0, "OpenMP threads (0 = all cores); results do not depend on it"},
  {"files", SS_KEY_ENUM, F(files), 0, "full", "full|light", NOLIM, 0, "what a finished run keeps: full = every file; light = config.yaml, classes.json, metrics.csv, snap.json, run.json (no checkpoint, dynamics or metrics.jsonl: a sweep's default)"},
  {"fsync", SS_KEY_BOOL, F(fsync), 0, "true", 0, NOLIM, 0, "flush every file to the disk before the run goes on (false: a sweep's runs, synced once at the end)"},
  {"max_output_mb", SS_KEY_INT, F(max_output_mb), 0, "2048", 0, 0, 1e9, 0, "refuse a run whose metrics files would exceed this many MB (estimated from niter / save_per_minibatch before it starts; 0 = no limit)"},
  {"max_memory_mb", SS_KEY_INT, F(max_memory_mb), 0, "0", 0, 0, 1e9, 0, "refuse a run whose model, batch and activations would need more than this many MB, estimated before it starts (0 = 80% of this machine's memory)"},
  {"diverge_factor", SS_KEY_DOUBLE, F(diverge_factor), 0, "1e4", 0, 0, 1e300, 0, "a loss above this many times max(1, the first row's loss) is runaway: the run stops as diverged (0 = only NaN/Inf)"},
  {"out", SS_KEY_STRING, S(out), "", 0, NOLIM, 0, "run directory (default: runs/<command>-<timestamp>)"},
  {"resume", SS_KEY_STRING, S(resume), "", 0, NOLIM, 0, "continue the run in this directory from its last checkpoint"},
  /* data (SPEC §1) */
  {"data.T", SS_KEY_INT, F(data.T), 0, "128", 0, 2, 1e7, 0, "sequence length T including the query token (paper: L)"},
  {"data.num_last", SS_KEY_INT, F(data.num_last), 0, "2", 0, 1, 1e6, 0, "K, number of query (last) tokens"},
  {"data.num_next_per_last", SS_KEY_INT, F(data.num_next_per_last), 0, "1", 0, 1, 1e6, 0, "J, next tokens per query; N = K*J classes"},
  {"data.num_common", SS_KEY_INT, F(data.num_common), 0, "10", 0, 0, 1e6, 0, "tokens common to every class"},
  {"data.num_common_per_last", SS_KEY_INT, F(data.num_common_per_last), 0, "0", 0, 0, 1e6, 0, "tokens common to the J classes of one query"},
  {"data.num_unique_per_next", SS_KEY_INT, F(data.num_unique_per_next), 0, "10", 0, 0, 1e6, 0, "D, distinct tokens of each class"},
  {"data.common_unnormalized_prob", SS_KEY_DOUBLE, F(data.common_unnormalized_prob), 0, "1", 0, 0, INF, 0, "weight of every common token"},
  {"data.unique_unnormalized_min", SS_KEY_DOUBLE, F(data.unique_unnormalized_min), 0, "0.1", 0, 0, INF, 0, "smallest distinct-token weight"},
  {"data.unique_unnormalized_max", SS_KEY_DOUBLE, F(data.unique_unnormalized_max), 0, "1", 0, 0, INF, 0, "largest distinct-token weight"},
  {"data.unique_shape", SS_KEY_ENUM, F(data.unique_shape), 0, "linear", "linear|zipf", NOLIM, 0, "distinct weights: linear = evenly spaced min..max; zipf = max/rank^s (rank 1 = last token)"},
  {"data.zipf_exponent", SS_KEY_DOUBLE, F(data.zipf_exponent), 0, "1", 0, 0, 100, 0, "s of data.unique_shape=zipf"},
  {"data.classes", SS_KEY_STRING, S(data.classes), "", 0, NOLIM, 0, "class table JSON (psi and P(l|n) per class) instead of the generator"},
  {"data.sequences", SS_KEY_STRING, S(data.sequences), "", 0, NOLIM, 0, "read batches from this file (text: 'x_1 .. x_T label' per line, or .npy int32 [rows, T+1])"},
  {"data.path", SS_KEY_STRING, S(data.path), "", 0, NOLIM, SS_SCOPE_TF, "real text: WikiText folder (wiki.{train,valid,test}.tokens) or a plain UTF-8 file"},
  {"data.min_freq", SS_KEY_INT, F(data.min_freq), 0, "1", 0, 1, 1e9, SS_SCOPE_TF, "real text: words seen fewer times become <unk>"},
  {"data.max_vocab", SS_KEY_INT, F(data.max_vocab), 0, "0", 0, 0, 1e8, SS_SCOPE_TF, "real text: keep at most this many words (0 = all)"},
  {"data.cache", SS_KEY_STRING, S(data.cache), "", 0, NOLIM, SS_SCOPE_TF, "real text: folder for the token-id cache (default: next to the data)"},
  /* language-model run on real text (SPEC 5) */
  {"text.epochs", SS_KEY_INT, F(text.epochs), 0, "1", 0, 1, 1e6, SS_SCOPE_TF, "real text: epochs over the training split (model.task=lm)"},
  {"text.epoch_steps", SS_KEY_INT, F(text.epoch_steps), 0, "0", 0, 0, 1e9, SS_SCOPE_TF, "real text: at most this many updates per epoch (0 = the whole split)"},
  {"text.eval_batches", SS_KEY_INT, F(text.eval_batches), 0, "0", 0, 0, 1e9, SS_SCOPE_TF, "real text: validate on at most this many batches (0 = the whole validation split)"},
  {"text.probes", SS_KEY_INT, F(text.probes), 0, "8", 0, 1, 4096, SS_SCOPE_TF, "real text: fixed probe sequences (from the validation split) for attention entropy and mass"},
  {"text.top_k", SS_KEY_INT, F(text.top_k), 0, "50", 0, 1, 1e8, SS_SCOPE_TF, "real text: attention mass is measured on the top_k most frequent tokens vs the rest"},
  {"text.valid_every", SS_KEY_INT, F(text.valid_every), 0, "0", 0, 0, 1e9, SS_SCOPE_TF, "real text: also validate every this many updates (0 = at the end of each epoch and of the run only)"},
  {"text.probe_steps", SS_KEY_LIST, S(text.probe_steps), "0,500,1000,1500", 0, NOLIM, SS_SCOPE_TF, "real text: steps at which the attention maps of probe 0 are saved (Figure 7)"},
  /* model */
  {"model.type", SS_KEY_ENUM, F(model.type), 0, "yz", "yz|transformer|joma_linear|joma_toy", NOLIM, 0, "yz = the paper's reparameterised model (SPEC 2.1); transformer = standard transformer (SPEC 2.2); joma_linear, joma_toy = JoMA's simulated systems (SPEC 6; scansnap theory, joma.* keys)"},
  {"model.normalize", SS_KEY_BOOL, F(model.normalize), 0, "true", 0, NOLIM, SS_SCOPE_YZ, "f = c/||c||"},
  {"model.residual", SS_KEY_BOOL, F(model.residual), 0, "false", 0, NOLIM, SS_SCOPE_YZ, "add e_query to c"},
  {"model.include_base_token", SS_KEY_BOOL, F(model.include_base_token), 0, "false", 0, NOLIM, SS_SCOPE_YZ, "the query token attends to itself too"},
  {"model.zero_init", SS_KEY_BOOL, F(model.zero_init), 0, "true", 0, NOLIM, SS_SCOPE_YZ, "Y = Z = 0 at start (else uniform in +-1/sqrt(M))"},
  {"model.precision", SS_KEY_ENUM, F(model.precision), 0, "float64", "float64|float32", NOLIM, SS_SCOPE_YZ, "arithmetic of the Y/Z kernels on generated batches: float32 = single precision (as the PyTorch peer), about 1.35x faster on the Figure-4 run; parameters, gradients and optimizer stay float64"},
  {"model.kernels", SS_KEY_ENUM, F(model.kernels), 0, "auto", "auto|reference|x86-64-v4|x86-64-v3|baseline", NOLIM, SS_SCOPE_YZ, "Y/Z implementation: auto = the fastest kernels this CPU runs (every instruction set gives the same bits); reference = the plain SPEC 2.1 code (src/model/yz_ref.c, float64 only: the kernels' test oracle, equal to them to ~1e-12, slower); or one instruction set's kernels"},
  {"model.d", SS_KEY_INT, F(model.d), 0, "128", 0, 1, 65536, SS_SCOPE_TF, "embedding width"},
  {"model.nlayers", SS_KEY_INT, F(model.nlayers), 0, "1", 0, 1, 64, SS_SCOPE_TF, "encoder layers, each the same layer with every model.* switch (JoMA's multi-layer runs)"},
  {"model.scale_embed", SS_KEY_BOOL, F(model.scale_embed), 0, "false", 0, NOLIM, SS_SCOPE_TF, "multiply the token embedding by sqrt(d) before the positions are added (PyTorch's word_language_model TransformerModel, JoMA's runs)"},
  {"model.H", SS_KEY_INT, F(model.H), 0, "1", 0, 1, 4096, SS_SCOPE_TF, "attention heads (must divide d)"},
  {"model.task", SS_KEY_ENUM, F(model.task), 0, "synthetic", "synthetic|lm", NOLIM, SS_SCOPE_TF, "synthetic = predict from the last position, no mask; lm = causal language model"},
  {"model.use_Wq", SS_KEY_BOOL, F(model.use_Wq), 0, "true", 0, NOLIM, SS_SCOPE_TF, "query projection (false = identity)"},
  {"model.use_Wk", SS_KEY_BOOL, F(model.use_Wk), 0, "true", 0, NOLIM, SS_SCOPE_TF, "key projection (false = identity)"},
  {"model.use_Wv", SS_KEY_BOOL, F(model.use_Wv), 0, "true", 0, NOLIM, SS_SCOPE_TF, "value projection (false = identity)"},
  {"model.use_Wo", SS_KEY_BOOL, F(model.use_Wo), 0, "false", 0, NOLIM, SS_SCOPE_TF, "output projection after attention"},
  {"model.use_residue", SS_KEY_BOOL, F(model.use_residue), 0, "false", 0, NOLIM, SS_SCOPE_TF, "residual connections"},
  {"model.use_ln", SS_KEY_BOOL, F(model.use_ln), 0, "false", 0, NOLIM, SS_SCOPE_TF, "post-LayerNorm"},
  {"model.use_ffn", SS_KEY_BOOL, F(model.use_ffn), 0, "false", 0, NOLIM, SS_SCOPE_TF, "feed-forward block"},
  {"model.ffn_hidden", SS_KEY_INT, F(model.ffn_hidden), 0, "0", 0, 0, 1e6, SS_SCOPE_TF, "FFN hidden size (0 = 4d)"},
  {"model.gate", SS_KEY_ENUM, F(model.gate), 0, "relu", "relu|silu", NOLIM, SS_SCOPE_TF, "FFN activation"},
  {"model.pos", SS_KEY_ENUM, F(model.pos), 0, "none", "none|sinusoidal|learned", NOLIM, SS_SCOPE_TF, "positional encoding"},
  {"model.tied", SS_KEY_BOOL, F(model.tied), 0, "true", 0, NOLIM, SS_SCOPE_TF, "decoder tied to the embedding (synthetic task)"},
  {"model.attn_bias", SS_KEY_BOOL, F(model.attn_bias), 0, "false", 0, NOLIM, SS_SCOPE_TF, "biases in W_Q/W_K/W_V/W_O (true = nn.MultiheadAttention; the paper's synthetic code has none)"},
  {"model.embed_group", SS_KEY_ENUM, F(model.embed_group), 0, "decoder", "decoder|attention", NOLIM, SS_SCOPE_TF, "learning-rate group of the embedding and positional table: decoder (opt.lr_y) or attention (opt.lr_z)"},
  {"model.dropout", SS_KEY_DOUBLE, F(model.dropout), 0, "0", 0, 0, 0.999, SS_SCOPE_TF, "dropout probability"},
  /* optimizer */
  {"opt.method", SS_KEY_ENUM, F(opt.method), 0, "sgd", "sgd|adam|adamw", NOLIM, 0, "optimizer (torch.optim definitions)"},
  {"opt.lr", SS_KEY_DOUBLE, F(opt.lr), 0, "1", 0, 0, INF, 0, "learning rate used where opt.lr_z / opt.lr_y are not given (transformer runs that set none of the three: 0.1)"},
  {"opt.lr_z", SS_KEY_DOUBLE, F(opt.lr_z), 0, "1", 0, 0, INF, 0, "eta_Z: learning rate of the attention (Z; transformer: attention group)"},
  {"opt.lr_y", SS_KEY_DOUBLE, F(opt.lr_y), 0, "1", 0, 0, INF, 0, "eta_Y: learning rate of the decoder (default lr_z * lr_y_multi_on_z)"},
  {"opt.lr_y_multi_on_z", SS_KEY_DOUBLE, F(opt.lr_y_multi_on_z), 0, "1", 0, 0, INF, 0, "eta_Y / eta_Z"},
  {"opt.momentum", SS_KEY_DOUBLE, F(opt.momentum), 0, "0.9", 0, 0, 0.999999, 0, "SGD momentum"},
  {"opt.dampening", SS_KEY_DOUBLE, F(opt.dampening), 0, "0", 0, 0, 1, 0, "SGD dampening"},
  {"opt.nesterov", SS_KEY_BOOL, F(opt.nesterov), 0, "false", 0, NOLIM, 0, "Nesterov momentum"},
  {"opt.wd", SS_KEY_DOUBLE, F(opt.wd), 0, "0", 0, 0, INF, 0, "weight decay (L2 for sgd/adam, decoupled for adamw)"},
  {"opt.beta1", SS_KEY_DOUBLE, F(opt.beta1), 0, "0.9", 0, 0, 0.999999, 0, "Adam beta1"},
  {"opt.beta2", SS_KEY_DOUBLE, F(opt.beta2), 0, "0.999", 0, 0, 0.9999999, 0, "Adam beta2"},
  {"opt.eps", SS_KEY_DOUBLE, F(opt.eps), 0, "1e-8", 0, 1e-300, 1, 0, "Adam epsilon"},
  {"opt.clip", SS_KEY_DOUBLE, F(opt.clip), 0, "0", 0, 0, INF, 0, "clip the gradient norm to this (0 = off)"},
  {"opt.lr_decay", SS_KEY_DOUBLE, F(opt.lr_decay), 0, "1", 0, 1e-9, 1, 0, "multiply learning rates by this every epoch (real text)"},
  /* theory (SPEC §4) */
  {"theory.mode", SS_KEY_ENUM, F(theory.mode), 0, "steps", "steps|flow", NOLIM, SS_SCOPE_YZ, "steps = the run's optimizer on the exact population gradient; flow = RK4 gradient flow"},
  {"theory.dt", SS_KEY_DOUBLE, F(theory.dt), 0, "0.1", 0, 1e-9, 1e3, SS_SCOPE_YZ, "flow: RK4 step in units of SGD iterations"},
  {"theory.tol", SS_KEY_DOUBLE, F(theory.tol), 0, "0", 0, 0, 1, SS_SCOPE_YZ, "flow: 0 = fixed RK4 step theory.dt; > 0 = adaptive RK4 (step doubling) with this local error per unit time (>= 1e-13), starting at theory.dt"},
  {"theory.max_steps", SS_KEY_INT, F(theory.max_steps), 0, "10000000", 0, 1, 2e9, SS_SCOPE_YZ, "flow: most RK4 steps a run may take (a fixed step past it is refused up front; an adaptive run past it fails)"},
  {"verify.seeds", SS_KEY_INT, F(verify.seeds), 0, "5", 0, 1, 100, 0, "verify: seeds of the claim-3 SGD grid (mean over seeds at eta_Y/eta_Z = 1 and 10)"},
  {"verify.grid", SS_KEY_BOOL, F(verify.grid), 0, "true", 0, NOLIM, 0, "verify: run the claim-3 learning-rate grids (false: claim 3 can at best SKIP)"},
  {"verify.more_last", SS_KEY_BOOL, F(verify.more_last), 0, "true", 0, NOLIM, 0, "verify: also report the theory grid at num_last = 3, 5, 10"},
  {"verify.claims", SS_KEY_ENUM, F(verify.claims), 0, "paper", "paper|joma|all", NOLIM, 0, "verify: which claims: paper = Scan and Snap's 1-4; joma = JoMA's J1, J2 (J3 with verify.j3); all = both"},
  {"verify.j3", SS_KEY_BOOL, F(verify.j3), 0, "false", 0, NOLIM, 0, "verify: also run J3, 1- and 2-layer language models on real text (configs/joma_text.yaml; minutes)"},
  {"verify.j3_niter", SS_KEY_INT, F(verify.j3_niter), 0, "0", 0, 0, 100000000, 0, "verify: J3's optimizer steps per run (0 = configs/joma_text.yaml's 5000)"},
  {"verify.j3_max_vocab", SS_KEY_INT, F(verify.j3_max_vocab), 0, "0", 0, 0, 100000000, 0, "verify: J3's vocabulary, most frequent words kept (0 = configs/joma_text.yaml's 5000)"},
  /* JoMA's simulated systems (SPEC 6) */
  {"joma.variant", SS_KEY_ENUM, F(joma.variant), 0, "uniform", "uniform|gaussian", NOLIM, SS_SCOPE_JOMA, "linear case: token distribution X: entries uniform in [0, 0.5); gaussian = distinct rows exp(-(l - k n_distinct/K)^2/30); columns normalised"},
  {"joma.n_distinct", SS_KEY_INT, F(joma.n_distinct), 0, "10", 0, 0, 100000, SS_SCOPE_JOMA, "linear case: distinct contextual tokens"},
  {"joma.n_common", SS_KEY_INT, F(joma.n_common), 0, "10", 0, 0, 100000, SS_SCOPE_JOMA, "linear case: common contextual tokens (Mc = n_distinct + n_common)"},
  {"joma.K", SS_KEY_INT, F(joma.K), 0, "20", 0, 2, 100000, SS_SCOPE_JOMA, "linear case: classes (one label each)"},
  {"joma.d", SS_KEY_INT, F(joma.d), 0, "0", 0, 0, 100000, SS_SCOPE_JOMA, "linear case: embedding rows (>= Mc + 1); toy: dimension of v; 0 = the system's own (30, 10)"},
  {"joma.T", SS_KEY_DOUBLE, F(joma.T), 0, "0", 0, 0, 1e6, SS_SCOPE_JOMA, "temperature; 0 = the system's own (linear 0.5, toy 3)"},
  {"joma.init_scale", SS_KEY_DOUBLE, F(joma.init_scale), 0, "0.01", 0, 0, 1e6, SS_SCOPE_JOMA, "linear case: W(0), z(0) ~ N(0,1) times this"},
  {"joma.v0", SS_KEY_DOUBLE, F(joma.v0), 0, "0.05", 0, -1e6, 1e6, SS_SCOPE_JOMA, "toy: v(0) = v0 in every component"},
  {"joma.mu", SS_KEY_LIST, S(joma.mu), "", 0, NOLIM, SS_SCOPE_JOMA, "toy: the targets mu as a list of joma.d numbers, used in the order given (\"\" = drawn uniform in [mu_lo, mu_hi) from the seed, sorted)"},
  {"joma.mu_lo", SS_KEY_DOUBLE, F(joma.mu_lo), 0, "1", 0, -1e6, 1e6, SS_SCOPE_JOMA, "toy: drawn mu: lower end"},
  {"joma.mu_hi", SS_KEY_DOUBLE, F(joma.mu_hi), 0, "4", 0, -1e6, 1e6, SS_SCOPE_JOMA, "toy: drawn mu: upper end"},
};

static const int nkeys = (int)(sizeof keys / sizeof keys[0]);

const ss_keydef *ss_config_keys(int *n) {
  *n = nkeys;
  return keys;
}
