/* Configuration: every knob has a dotted name, a type, a default, a range and a help line
 * (the Hydra habit of the paper's code). Values come from the built-in defaults (= the
 * paper's Figure-4 run, configs/fig4.yaml), then YAML files, then key=value overrides.
 * The paper's own names are accepted as aliases (dataset2.* → data.*, model2.* → model.*,
 * L → data.T, d → model.d, H → model.H). */
#ifndef SCANSNAP_CONFIG_H
#define SCANSNAP_CONFIG_H
#include <stddef.h>
#include <stdio.h>

#include "scansnap/common.h"

#define SS_PATH_MAX 1024
#define SS_MAX_KEYS 256

/* SS_KEY_LIST: text holding a comma-separated list (text.probe_steps), stored like a string;
 * one value, commas and all (`scansnap sweep` sweeps it over values written [a,b] or quoted). */
typedef enum { SS_KEY_INT, SS_KEY_DOUBLE, SS_KEY_BOOL, SS_KEY_STRING, SS_KEY_ENUM, SS_KEY_LIST } ss_keytype;

/* Which model a key applies to; keys set for another model are reported as unused. */
enum { SS_SCOPE_ALL = 0, SS_SCOPE_YZ = 1, SS_SCOPE_TF = 2, SS_SCOPE_JOMA = 3 };

typedef struct {
  const char *name;    /* canonical dotted name */
  ss_keytype type;
  size_t offset;       /* into ss_config */
  size_t size;         /* string capacity (SS_KEY_STRING) */
  const char *def;     /* default, as text */
  const char *choices; /* SS_KEY_ENUM: "a|b|c", value stored as the index */
  double min, max;     /* inclusive numeric range; ignored if min > max */
  int scope;
  const char *help;
} ss_keydef;

/* model.type; the JoMA systems (SPEC §6) are run by `scansnap theory` */
enum { SS_MODEL_YZ = 0, SS_MODEL_TRANSFORMER = 1, SS_MODEL_JOMA_LINEAR = 2, SS_MODEL_JOMA_TOY = 3 };
#define SS_MODEL_IS_JOMA(t) ((t) == SS_MODEL_JOMA_LINEAR || (t) == SS_MODEL_JOMA_TOY)
enum { SS_VERIFY_PAPER = 0, SS_VERIFY_JOMA = 1, SS_VERIFY_ALL = 2 }; /* verify.claims */
enum { SS_OPT_SGD = 0, SS_OPT_ADAM = 1, SS_OPT_ADAMW = 2 };
enum { SS_SHAPE_LINEAR = 0, SS_SHAPE_ZIPF = 1 };
enum { SS_THEORY_STEPS = 0, SS_THEORY_FLOW = 1 };
enum { SS_TASK_SYNTHETIC = 0, SS_TASK_LM = 1 };
enum { SS_POS_NONE = 0, SS_POS_SINUSOIDAL = 1, SS_POS_LEARNED = 2 };
enum { SS_GATE_RELU = 0, SS_GATE_SILU = 1 };
enum { SS_PREC_F64 = 0, SS_PREC_F32 = 1 };
enum { SS_FILES_FULL = 0, SS_FILES_LIGHT = 1 };
/* model.kernels, in the order of the key's choices */
enum { SS_KERNELS_AUTO = 0, SS_KERNELS_REFERENCE = 1, SS_KERNELS_X86_64_V4 = 2, SS_KERNELS_X86_64_V3 = 3, SS_KERNELS_BASELINE = 4 };
enum { SS_EMBED_IN_DECODER = 0, SS_EMBED_IN_ATTENTION = 1 }; /* model.embed_group */

/* The configuration (an opaque handle in the public API, <scansnap.h>). */
struct ss_config {
  /* run */
  long long seed;
  int niter, batchsize, save_per_minibatch, threads, save_every;
  int files;             /* SS_FILES_FULL or SS_FILES_LIGHT: what a finished run keeps */
  int fsync;             /* flush each file to the disk as it is written */
  int max_output_mb;     /* refuse runs whose metrics files would exceed this (0 = no limit) */
  int max_memory_mb;     /* refuse runs whose estimated memory exceeds this (0 = 80% of the machine's) */
  double diverge_factor; /* runaway loss: above this times max(1, first loss) (0 = off) */
  char out[SS_PATH_MAX], resume[SS_PATH_MAX];
  struct {
    int T; /* sequence length including the query token (paper: L) */
    int num_last, num_next_per_last, num_common, num_common_per_last, num_unique_per_next;
    double common_unnormalized_prob, unique_unnormalized_min, unique_unnormalized_max;
    int unique_shape;
    double zipf_exponent;
    char classes[SS_PATH_MAX], sequences[SS_PATH_MAX];
    char path[SS_PATH_MAX]; /* real text: WikiText folder or plain text file */
    int min_freq, max_vocab;
    char cache[SS_PATH_MAX]; /* real text: folder for the token cache ("" = next to the data) */
  } data;
  struct {
    int type;
    /* Y/Z model (SPEC §2.1) */
    int normalize, residual, include_base_token, zero_init;
    int precision; /* SS_PREC_*: compute precision of the Y/Z grouped kernels */
    int kernels;   /* SS_KERNELS_*: which Y/Z implementation computes (model.kernels) */
    /* transformer (SPEC §2.2) */
    int d, H, task, use_Wq, use_Wk, use_Wv, use_Wo, use_residue, use_ln, use_ffn, ffn_hidden,
        gate, pos, tied, attn_bias, embed_group;
    int nlayers; /* encoder layers (model.nlayers, 1..SS_TF_MAX_LAYERS) */
    int scale_embed; /* token embedding times sqrt(d) (PyTorch's word_language_model) */
    double dropout;
  } model;
  struct {
    int method, nesterov;
    double lr, lr_z, lr_y, lr_y_multi_on_z, momentum, dampening, wd, beta1, beta2, eps, clip,
        lr_decay;
  } opt;
  struct {
    int mode;
    double dt, tol;
    int max_steps; /* flow: most RK4 steps of a run */
  } theory;
  struct {
    int seeds, grid, more_last; /* scansnap verify: claim-3 grids (docs/theory.md) */
    int claims;                 /* SS_VERIFY_*: which claims (paper 1-4, JoMA J1-J3, all) */
    int j3;                     /* run J3 (real text, minutes) */
    int j3_niter, j3_max_vocab; /* J3's steps and vocabulary (0: configs/joma_text.yaml's) */
  } verify;
  struct { /* JoMA's simulated systems (SPEC §6, docs/joma.md) */
    int variant, n_distinct, n_common, K, d;
    double T, init_scale, v0, mu_lo, mu_hi;
    char mu[1024]; /* the toy's targets as a list ("" = drawn) */
  } joma;
  struct { /* the language-model run on real text (SPEC §5) */
    int epochs, epoch_steps, probes, top_k, eval_batches;
    int valid_every; /* validate every this many updates too (0 = at epoch ends and the end) */
    char probe_steps[256];
  } text;
  unsigned char set[SS_MAX_KEYS]; /* set[i]: key i was given explicitly */
};

const ss_keydef *ss_config_keys(int *n);
const ss_keydef *ss_config_find(const char *name); /* canonical or alias; NULL if unknown */
/* Canonical name for NAME (resolving aliases), or NULL. */
const char *ss_config_canonical(const char *name);

void ss_config_defaults(ss_config *c);
/* Sets one key from text: unknown key (with the nearest valid key), wrong type, out of range. */
int ss_config_set(ss_config *c, const char *key, const char *value, ss_err *err);
/* The error ss_config_set gives for a name that is no key: SS_EINPUT naming the nearest one. */
int ss_config_unknown_key(const char *key, ss_err *err);
/* Parses "key=value". */
int ss_config_override(ss_config *c, const char *arg, ss_err *err);

/* A YAML file flattened to dotted keys. A scalar is one value (quoted: written in quotes or
 * as a block scalar, plain: as is); a sequence (is_list) keeps its items, and value holds
 * them joined with ',' for messages. A key given twice (also through an alias: L and
 * data.T) is an error naming both lines. */
typedef struct {
  char *text;
  int quoted;
} ss_yaml_item;
typedef struct {
  char *key, *value;
  int line, is_list, quoted;
  int nitems;
  ss_yaml_item *items;
} ss_yaml_pair;
/* The first of v[0..n) equal to an earlier one, and in *earlier the first it equals; -1 if
 * none, -2 out of memory. By sorting (value, position): O(n log n). */
int ss_first_repeat(const char *const *v, int n, int *earlier);
int ss_yaml_load_pairs(const char *path, ss_yaml_pair **pairs, int *n, ss_err *err);
void ss_yaml_free_pairs(ss_yaml_pair *pairs, int n);
int ss_config_load_yaml(ss_config *c, const char *path, ss_err *err);
/* The same from YAML text (name: how messages call it). */
int ss_config_load_yaml_text(ss_config *c, const char *text, const char *name, ss_err *err);
/* The text of a configuration built into the library from configs/NAME.yaml (claim3,
 * claim4: the runs of `verify`), or NULL. */
const char *ss_config_builtin(const char *name);

/* The learning rate of transformer runs that set none (opt.lr's default, 1, is the Y/Z model's). */
#define SS_TF_DEFAULT_LR 0.1
/* Cross-key checks and derived values (learning rates as the paper's code resolves them:
 * lr_z = opt.lr_z if given, else opt.lr; lr_y = opt.lr_y if given, else lr_z·lr_y_multi_on_z). */
int ss_config_validate(ss_config *c, ss_err *err);
double ss_config_lr_z(const ss_config *c);
double ss_config_lr_y(const ss_config *c);
int ss_config_is_set(const ss_config *c, const char *name);
/* model.type's value as its name ("yz", "transformer", "joma_linear", "joma_toy"). */
const char *ss_config_model_name(int type);

/* The value of a key as text (for config.yaml, sweep tables). buf must hold SS_PATH_MAX+. */
void ss_config_format(const ss_config *c, const ss_keydef *k, char *buf, size_t n);
/* Writes the resolved configuration as nested YAML. */
int ss_config_write_yaml(const ss_config *c, FILE *f);
/* Comma-separated list of keys set explicitly that do not apply to the chosen model. */
void ss_config_unused(const ss_config *c, char *buf, size_t n);
/* Prints every key with default and help (for --help). */
void ss_config_print_help(FILE *f);
/* The same for a command that builds some models: the keys of every model and those whose
 * scope is in the bit mask scopes (1 << SS_SCOPE_YZ | 1 << SS_SCOPE_JOMA for `theory --help`:
 * no transformer or text keys); -1 = every key. */
void ss_config_print_help_for(FILE *f, int scopes);

#endif
