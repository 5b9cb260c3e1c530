/* Class tables: the paper's generator (SPEC §1 token layout), JSON in and out, checks. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/data.h"
#include "scansnap/io.h"

void ss_classes_free(ss_classes *cl) {
  free(cl->query);
  free(cl->next);
  free(cl->prob);
  free(cl->kind);
  free(cl->supp_off);
  free(cl->supp_tok);
  free(cl->supp_cdf);
  free(cl->alias_p);
  free(cl->alias_i);
  memset(cl, 0, sizeof *cl);
}

static int alloc_table(ss_classes *cl, int M, int N, ss_err *err) {
  memset(cl, 0, sizeof *cl);
  if ((double)M * (double)N > 4e8)
    return ss_seterr(err, SS_EINPUT, "class table of %d classes x %d tokens does not fit in memory (limit 4e8 entries)", N, M);
  cl->M = M;
  cl->N = N;
  cl->query = calloc((size_t)N, sizeof(int));
  cl->next = calloc((size_t)N, sizeof(int));
  cl->prob = calloc((size_t)N * (size_t)M, sizeof(double));
  cl->kind = calloc((size_t)N * (size_t)M, 1);
  if (!cl->query || !cl->next || !cl->prob || !cl->kind) {
    ss_classes_free(cl);
    return ss_seterr(err, SS_EINPUT, "class table of %d classes x %d tokens does not fit in memory", N, M);
  }
  return SS_OK;
}

/* Vose's alias method, per class: scaled probabilities k*p_j split into a "small" (< 1)
 * and a "large" worklist; each small slot is topped up from a large one. Built in a fixed
 * order, so the tables (and the batches drawn from them) depend only on the class table. */
static int build_alias(ss_classes *cl, ss_err *err) {
  int maxk = 0;
  for (int n = 0; n < cl->N; n++)
    if (cl->supp_off[n + 1] - cl->supp_off[n] > maxk) maxk = cl->supp_off[n + 1] - cl->supp_off[n];
  double *q = malloc(sizeof(double) * (size_t)(maxk ? maxk : 1));
  int *small = malloc(sizeof(int) * (size_t)(maxk ? maxk : 1)), *large = malloc(sizeof(int) * (size_t)(maxk ? maxk : 1));
  if (!q || !small || !large) {
    free(q); free(small); free(large);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  for (int n = 0; n < cl->N; n++) {
    const int off = cl->supp_off[n], k = cl->supp_off[n + 1] - off;
    const double *P = cl->prob + (size_t)n * cl->M;
    double tot = 0;
    for (int j = 0; j < k; j++) tot += P[cl->supp_tok[off + j]];
    int ns = 0, nl = 0;
    for (int j = 0; j < k; j++) {
      q[j] = P[cl->supp_tok[off + j]] * k / tot;
      if (q[j] < 1.0)
        small[ns++] = j;
      else
        large[nl++] = j;
    }
    while (ns > 0 && nl > 0) {
      int s = small[--ns], l = large[nl - 1];
      cl->alias_p[off + s] = q[s];
      cl->alias_i[off + s] = l;
      q[l] -= 1.0 - q[s];
      if (q[l] < 1.0) {
        nl--;
        small[ns++] = l;
      }
    }
    /* what is left has q = 1 up to rounding */
    while (nl > 0) {
      int l = large[--nl];
      cl->alias_p[off + l] = 1.0;
      cl->alias_i[off + l] = l;
    }
    while (ns > 0) {
      int s = small[--ns];
      cl->alias_p[off + s] = 1.0;
      cl->alias_i[off + s] = s;
    }
  }
  free(q);
  free(small);
  free(large);
  return SS_OK;
}

int ss_classes_finish(ss_classes *cl, const char *what, ss_err *err) {
  int M = cl->M, N = cl->N;
  int *count = calloc((size_t)M, sizeof(int));
  if (!count) return ss_seterr(err, SS_ERUN, "out of memory");
  size_t nsupp = 0;
  for (int n = 0; n < N; n++) {
    if (cl->query[n] < 0 || cl->query[n] >= M || cl->next[n] < 0 || cl->next[n] >= M) {
      free(count);
      return ss_seterr(err, SS_EINPUT, "%s: class %d has query %d / next %d outside the vocabulary 0..%d", what, n, cl->query[n], cl->next[n], M - 1);
    }
    for (int m = 0; m < n; m++)
      if (cl->query[m] == cl->query[n] && cl->next[m] == cl->next[n]) {
        free(count);
        return ss_seterr(err, SS_EINPUT, "%s: classes %d and %d have the same query %d and next token %d", what, m, n, cl->query[n], cl->next[n]);
      }
    double s = 0;
    for (int l = 0; l < M; l++) {
      double p = cl->prob[(size_t)n * M + l];
      if (!(p >= 0) || !isfinite(p)) {
        free(count);
        return ss_seterr(err, SS_EINPUT, "%s: class %d has P(%d|n) = %g; probabilities must be finite and >= 0", what, n, l, p);
      }
      s += p;
      if (p > 0) {
        count[l]++;
        nsupp++;
      }
    }
    if (fabs(s - 1) > 1e-6) {
      free(count);
      return ss_seterr(err, SS_EINPUT, "%s: probabilities of class %d sum to %.9g, expected 1", what, n, s);
    }
  }
  for (int n = 0; n < N; n++)
    for (int l = 0; l < M; l++) {
      size_t i = (size_t)n * M + l;
      cl->kind[i] = cl->prob[i] > 0 ? (count[l] > 1 ? SS_TOK_COMMON : SS_TOK_DISTINCT) : SS_TOK_ABSENT;
    }
  free(count);
  free(cl->supp_off);
  free(cl->supp_tok);
  free(cl->supp_cdf);
  free(cl->alias_p);
  free(cl->alias_i);
  cl->alias_p = malloc(sizeof(double) * (nsupp ? nsupp : 1));
  cl->alias_i = malloc(sizeof(int) * (nsupp ? nsupp : 1));
  cl->supp_off = malloc(sizeof(int) * (size_t)(N + 1));
  cl->supp_tok = malloc(sizeof(int) * (nsupp ? nsupp : 1));
  cl->supp_cdf = malloc(sizeof(double) * (nsupp ? nsupp : 1));
  if (!cl->supp_off || !cl->supp_tok || !cl->supp_cdf || !cl->alias_p || !cl->alias_i)
    return ss_seterr(err, SS_ERUN, "out of memory");
  int k = 0;
  for (int n = 0; n < N; n++) {
    cl->supp_off[n] = k;
    double c = 0;
    for (int l = 0; l < M; l++) {
      double p = cl->prob[(size_t)n * M + l];
      if (p > 0) {
        c += p;
        cl->supp_tok[k] = l;
        cl->supp_cdf[k] = c;
        k++;
      }
    }
    if (k > cl->supp_off[n]) cl->supp_cdf[k - 1] = INFINITY; /* every u < 1 lands inside */
  }
  cl->supp_off[N] = k;
  return build_alias(cl, err);
}

int ss_classes_generate(const ss_config *cfg, ss_classes *cl, ss_err *err) {
  int K = cfg->data.num_last, J = cfg->data.num_next_per_last, C = cfg->data.num_common;
  int Cq = cfg->data.num_common_per_last, D = cfg->data.num_unique_per_next;
  double N_ = (double)K * J;
  double M_ = C + (double)K * Cq + N_ * D + K + N_;
  if (N_ > 1e6 || M_ > 1e7)
    return ss_seterr(err, SS_EINPUT, "key 'data.num_last': the generator would make %.0f classes over %.0f tokens, beyond what fits in memory", N_, M_);
  int N = K * J;
  int M = C + K * Cq + N * D + K + N;
  int rc = alloc_table(cl, M, N, err);
  if (rc) return rc;
  int off_q = C, off_u = C + K * Cq, off_last = off_u + N * D, off_next = off_last + K;
  double w_c = cfg->data.common_unnormalized_prob;
  double *w = malloc(sizeof(double) * (size_t)(D ? D : 1));
  for (int i = 0; i < D; i++) {
    if (cfg->data.unique_shape == SS_SHAPE_ZIPF) {
      w[i] = cfg->data.unique_unnormalized_max / pow((double)(D - i), cfg->data.zipf_exponent);
    } else {
      /* torch.linspace(min, max, D) */
      double a = cfg->data.unique_unnormalized_min, b = cfg->data.unique_unnormalized_max;
      w[i] = D == 1 ? a : a + (b - a) * (double)i / (double)(D - 1);
    }
  }
  for (int n = 0; n < N; n++) {
    int m = n / J;
    double *p = cl->prob + (size_t)n * M;
    double s = 0;
    for (int l = 0; l < C; l++) s += p[l] = w_c;
    for (int l = 0; l < Cq; l++) s += p[off_q + m * Cq + l] = w_c;
    for (int i = 0; i < D; i++) s += p[off_u + n * D + i] = w[i];
    if (!(s > 0)) {
      free(w);
      ss_classes_free(cl);
      return ss_seterr(err, SS_EINPUT, "key 'data.common_unnormalized_prob': every token weight of class %d is 0", n);
    }
    for (int l = 0; l < M; l++) p[l] /= s;
    cl->query[n] = off_last + m;
    cl->next[n] = off_next + n;
  }
  free(w);
  rc = ss_classes_finish(cl, "generated classes", err);
  if (rc) ss_classes_free(cl);
  return rc;
}

int ss_classes_write_json(const ss_classes *cl, const char *path, ss_err *err) {
  json_t *root = json_object();
  json_object_set_new(root, "format", json_string("scansnap-classes-1"));
  json_object_set_new(root, "M", json_integer(cl->M));
  json_t *arr = json_array();
  for (int n = 0; n < cl->N; n++) {
    json_t *c = json_object(), *tok = json_array(), *pr = json_array(), *com = json_array(), *dis = json_array();
    for (int l = 0; l < cl->M; l++) {
      size_t i = (size_t)n * cl->M + l;
      if (cl->prob[i] <= 0) continue;
      json_array_append_new(tok, json_integer(l));
      json_array_append_new(pr, json_real(cl->prob[i]));
      json_array_append_new(cl->kind[i] == SS_TOK_COMMON ? com : dis, json_integer(l));
    }
    json_object_set_new(c, "query", json_integer(cl->query[n]));
    json_object_set_new(c, "next", json_integer(cl->next[n]));
    json_object_set_new(c, "tokens", tok);
    json_object_set_new(c, "probs", pr);
    json_object_set_new(c, "common", com);
    json_object_set_new(c, "distinct", dis);
    json_array_append_new(arr, c);
  }
  json_object_set_new(root, "classes", arr);
  return ss_write_json_atomic(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(17), err);
}

int ss_classes_load_json(const char *path, ss_classes *cl, ss_err *err) {
  memset(cl, 0, sizeof *cl);
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    if (!ss_file_exists(path)) return ss_seterr(err, SS_EINPUT, "key 'data.classes': cannot read '%s'", path);
    return ss_seterr(err, SS_EINPUT, "class table '%s' line %d: %s", path, je.line, je.text);
  }
  json_t *jM = json_object_get(root, "M"), *arr = json_object_get(root, "classes");
  int rc;
  if (!json_is_integer(jM) || json_integer_value(jM) < 1 || json_integer_value(jM) > 10000000 || !json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 1000000) {
    json_decref(root);
    return ss_seterr(err, SS_EINPUT, "class table '%s': expected {\"M\": integer 1..1e7, \"classes\": [non-empty list]}", path);
  }
  rc = alloc_table(cl, (int)json_integer_value(jM), (int)json_array_size(arr), err);
  if (rc) {
    json_decref(root);
    return rc;
  }
  size_t n;
  json_t *c;
  json_array_foreach(arr, n, c) {
    json_t *q = json_object_get(c, "query"), *nx = json_object_get(c, "next");
    json_t *tok = json_object_get(c, "tokens"), *pr = json_object_get(c, "probs");
    if (!json_is_integer(q) || !json_is_integer(nx) || !json_is_array(tok) || !json_is_array(pr) ||
        json_array_size(tok) != json_array_size(pr) || json_array_size(tok) == 0) {
      rc = ss_seterr(err, SS_EINPUT, "class table '%s': class %zu needs integer 'query' and 'next' and equally long non-empty 'tokens' and 'probs' lists", path, n);
      goto fail;
    }
    json_int_t qv = json_integer_value(q), nv = json_integer_value(nx);
    if (qv < 0 || qv >= cl->M || nv < 0 || nv >= cl->M) {
      rc = ss_seterr(err, SS_EINPUT, "class table '%s': class %zu has query %lld / next %lld outside the vocabulary 0..%d", path, n, (long long)qv, (long long)nv, cl->M - 1);
      goto fail;
    }
    cl->query[n] = (int)qv;
    cl->next[n] = (int)nv;
    for (size_t i = 0; i < json_array_size(tok); i++) {
      json_t *t = json_array_get(tok, i), *p = json_array_get(pr, i);
      if (!json_is_integer(t) || !json_is_number(p)) {
        rc = ss_seterr(err, SS_EINPUT, "class table '%s': class %zu entry %zu: token must be an integer and prob a number", path, n, i);
        goto fail;
      }
      json_int_t tv = json_integer_value(t);
      double pv = json_number_value(p);
      if (tv < 0 || tv >= cl->M) {
        rc = ss_seterr(err, SS_EINPUT, "class table '%s': class %zu uses unknown token %lld (vocabulary 0..%d)", path, n, (long long)tv, cl->M - 1);
        goto fail;
      }
      if (!(pv >= 0) || !isfinite(pv)) {
        rc = ss_seterr(err, SS_EINPUT, "class table '%s': class %zu token %lld has probability %g; expected a finite number >= 0", path, n, (long long)tv, pv);
        goto fail;
      }
      cl->prob[n * (size_t)cl->M + (size_t)tv] += pv;
    }
  }
  json_decref(root);
  char what[SS_PATH_MAX + 32];
  snprintf(what, sizeof what, "class table '%s'", path);
  rc = ss_classes_finish(cl, what, err);
  if (rc) ss_classes_free(cl);
  return rc;
fail:
  json_decref(root);
  ss_classes_free(cl);
  return rc;
}

int ss_classes_from_config(const ss_config *cfg, ss_classes *cl, ss_err *err) {
  if (cfg->data.classes[0]) return ss_classes_load_json(cfg->data.classes, cl, err);
  return ss_classes_generate(cfg, cl, err);
}
