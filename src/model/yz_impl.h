/* Inside the Y/Z model (not a public header): what yz.c (the driver of the fast kernels),
 * yz_kern.c (the kernels, one object per instruction set and precision) and yz_ref.c (the
 * reference, model.kernels=reference) share.
 *
 * Shapes: B rows (sequences) of T tokens, M tokens in the vocabulary, Mp = M rounded up to
 * SS_YZ_LW (rows of the grouped path's buffers are padded to it), S = min(T, M) + 1 support
 * slots of one sequence (its distinct keys, plus the query with residual), ng <= B groups of
 * rows, "threads" = omp_get_max_threads() when the scratch was sized. */
#ifndef SS_MODEL_YZ_IMPL_H
#define SS_MODEL_YZ_IMPL_H
#include "scansnap/yz.h"

/* The grouped path pads rows to a multiple of this many lanes and reduces rows over as many
 * logical lanes, in both precisions (yz_kern.c: LW). */
#define SS_YZ_LW 8

typedef struct yz_impl yz_impl;

/* One instruction set's kernels in one precision (yz_kern.c), called by yz.c. The grouped
 * path's buffers marked "real" hold doubles or floats (real_size bytes each). */
typedef struct {
  size_t real_size;
  /* The per-sequence path (rows without a class), float64 objects only (NULL in float32 ones):
   * row i of the batch: loss_part[i], hits_part[i], its support (seq_k, seq_tok, seq_f,
   * seq_dz) and its dlogits row; tid picks the thread's tok_slot row. */
  void (*seq_forward_backward)(yz_impl *y, const double *Yt, const double *Z, const ss_batch *b, int i, int tid,
                               double inv_B, int backward);
  /* dYt [M, M] = sum over rows b0 <= b < b1 (ascending) of f_b g_b^T, transposed */
  void (*chunk_dY)(const yz_impl *y, double *dYt, int b0, int b1);
  /* The grouped path (every row has a class). Group g: forward, loss_part[g], hits_part[g],
   * and with backward its rows' gradients and its group_dz row (and its group_dY share when
   * group_dY_on); Yt: Y^T in real, rows padded to Mp. */
  void (*group_forward_backward)(yz_impl *y, const ss_batch *b, const void *Yt, const double *Z, int g, int tid,
                                 double inv_B, int backward);
  /* dY rows [i0, i0 + 8) from every group in order (when the shares are not kept); block:
   * [8, Mp] real */
  void (*group_dY_rows)(const yz_impl *y, double *dY, int ngroups, int i0, void *block);
  /* dY [M, M] = the sum of every group's share, in group order (zeros elsewhere): the kept
   * shares added into dYt now, or (group_dY_fused) dYt as phase 1 left it; then transposed */
  void (*add_group_dY)(const yz_impl *y, double *dY, int ngroups);
  /* dZ[m_g, U_g] += every group's group_dz row, in group order */
  void (*add_group_dZ)(const yz_impl *y, double *dZ, int ngroups);
  /* Yt [u, :] = Y[:, u] (Y [M, M]) in real for u0 <= u < u1, rows padded with zeros to Mp */
  void (*transpose_Y)(void *Yt, const double *Y, int M, int u0, int u1);
} yz_kern;

/* The kernel objects (CMakeLists.txt builds yz_kern.c once per name) */
extern const yz_kern yz_kern_baseline_f64, yz_kern_baseline_f32;
#if SS_YZ_X86_KERNELS
extern const yz_kern yz_kern_x86_64_v4_f64, yz_kern_x86_64_v4_f32, yz_kern_x86_64_v3_f64, yz_kern_x86_64_v3_f32;
#endif

struct yz_impl {
  ss_yz_opts o;
  const yz_kern *kern_seq; /* the per-sequence path's kernels (float64) */
  const yz_kern *kern_grp; /* the grouped path's, in the model's precision */
  /* Scratch for up to cap_B rows of up to S slots on nthreads threads: one allocation,
   * block, the buffers below pointing into it (yz.c: grow, layout_scratch) */
  int cap_B, S, nchunks, nthreads;
  void *block;
  /* both paths */
  void *Yt;              /* [M, ld] real   Y^T (ld = M on the per-sequence path, Mp on the grouped) */
  void *dlogits;         /* [B, ld] real   logits Y f, then (softmax(logits) - e_label) / B */
  double *loss_part;     /* [B]     loss of each row (per-sequence path) or group (grouped) */
  int *hits_part;        /* [B]     rows whose largest logit is the label, the same */
  /* the per-sequence path */
  int *seq_k;            /* [B]            support size k of each row (distinct keys, + query) */
  int *seq_tok;          /* [B, S]         its tokens */
  double *seq_f;         /* [B, S]         f on them */
  double *seq_dz;        /* [B, S]         dL/dZ[m, token] (0 for a residual-only slot) */
  double *seq_gf;        /* [threads, S]   g_f = Y^T g on the support of the thread's row */
  int *tok_slot;         /* [threads, M]   token -> support slot, -1 when absent */
  double *chunk_dYt;     /* [nchunks, M, M] per-chunk partial dY, transposed (none when nchunks = 0) */
  /* the grouped path: rows in group order (group g = positions group_start[g] ..
   * group_start[g + 1]), each row of a [B, Mp] buffer at its position */
  int *order;            /* [B]      batch row at sorted position p */
  long long *sort_pairs; /* [B, 2]   (key, row), sorted when the keys are too many to count */
  int *sort_count;       /* [SS_YZ_SORT_KEYS(B) + 1] counting sort of the rows by key */
  int *group_start;      /* [B + 1] */
  int *group_supp;       /* [B, Mp]  U_g: group g's support (row g), ascending tokens */
  int *group_k;          /* [B]      k_g = |U_g| */
  int *group_query;      /* [B]      m_g */
  int *key_count;        /* [B, Mp]  key counts per token */
  int *supp_count;       /* [B, Mp]  key counts per token of U_g, in U_g order */
  double *row_cnorm;     /* [B]      ||c|| (1 without normalize) */
  void *row_f;           /* [B, Mp] real  f on U_g */
  void *row_att;         /* [B, Mp] real  attention per token of U_g */
  void *row_gf;          /* [B, Mp] real  Y^T g on U_g, then the gradient at c */
  void *group_dz;        /* [B, Mp] real  row g: sum over group g's rows of dL/dZ[m_g, U_g] */
  int *key_seen;         /* [threads, Mp] whether U_j occurs among the group's keys (nonzero) */
  void *key_weight;      /* [threads, Mp] real     e^{Z[m, U_j] - zmax} */
  void *Y_supp;          /* [threads, M, Mp] real  Y[:, U_g] */
  void *group_dY;        /* [ng, Mp, Mp] real      group g's share of dY on U_g, transposed ([k_g, Mp]) */
  double *dYt;           /* [M, Mp]  dY^T, summed from the shares (add_group_dY) */
  /* dZ's rows the last backward wrote (the batch's distinct queries, ss_param_group.rows of
   * Z); when dz_clean, every other row of dZ is +0, so the next backward clears these only */
  int *dz_rows;          /* [B] */
  int dz_nrows, dz_clean;
  unsigned char *dz_mark; /* [M] zeros between calls */
  size_t group_dY_cap;   /* bytes of group_dY (at most SS_YZ_DG_DOUBLES doubles) */
  int group_dY_on;       /* this call computes the shares in phase 1: kept in group_dY (they
                          * fit), or with group_dY_fused added at once into dYt */
  int group_dY_fused;    /* phase 1 runs the groups in order on one thread: each share goes
                          * straight into dYt (through dY_block) */
  int *dyt_seen;         /* [M]  rows of dYt holding a share */
  void *dY_block;        /* [threads, 8, Mp] real  one block of dY rows (when they do not) */
};

/* Makes m (allocated and initialised by ss_yz_new) compute with the reference. */
int yz_ref_attach(ss_model *m, const ss_yz_opts *o, ss_err *err);
/* The composition op of both: ss_yz_composition_from_Z of the model's Z. */
int yz_composition(ss_model *m, const ss_classes *cl, double *c, ss_err *err);

#endif
