/* Figure 7 (plot.h): the attention maps of a language-model run's probe sequence from
 * attention.safetensors. A map is F32 [S, H, T, T] (S saved steps, H heads, row i = query
 * position, column j = key) in tensor "attention", or one tensor "attention_lL" per layer L;
 * steps I64 [S]; the probe's words are the JSON list __metadata__["words"] (T strings). One
 * figure per layer: a panel per saved step (columns) and head (rows), the words on both axes
 * (escaped: they are text from a corpus). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"
#include "scansnap/io.h"

#define MAX_LAYERS 16
#define MAX_WORD_TICS 80 /* more positions than this: numbered tics, the words would not fit */

typedef struct {
  int layer;
  const ss_tensor *t;
} amap;

/* The maps in the file, by layer; SS_EINPUT when a tensor has the wrong type or shape. */
static int find_maps(const ss_stfile *st, const char *path, amap *maps, int *nmaps, int *S, int *H, int *T, ss_err *err) {
  *nmaps = 0;
  /* every layer's maps when the file has them (a multi-layer run also keeps layer 0 as
   * "attention" for readers of one layer), else "attention" */
  for (int l = 0; l < MAX_LAYERS; l++) {
    char nm[32];
    snprintf(nm, sizeof nm, "attention_l%d", l);
    const ss_tensor *t = ss_st_get(st, nm);
    if (t) maps[(*nmaps)++] = (amap){l, t};
  }
  const ss_tensor *one = *nmaps ? NULL : ss_st_get(st, "attention");
  if (one) maps[(*nmaps)++] = (amap){0, one};
  const ss_tensor *ts = ss_st_get(st, "steps");
  if (!*nmaps || !ts || ts->dtype != SS_I64 || ts->ndim != 1)
    return ss_seterr(err, SS_EINPUT, "'%s': expected tensors attention (F32 [S, H, T, T]) or attention_l0, attention_l1, ..., and steps (I64 [S])", path);
  for (int k = 0; k < *nmaps; k++) {
    const ss_tensor *t = maps[k].t;
    if (t->dtype != SS_F32 || t->ndim != 4 || t->shape[0] != ts->shape[0] || t->shape[2] != t->shape[3] || t->shape[0] < 1 || t->shape[0] > 64 ||
        t->shape[1] < 1 || t->shape[1] > 64 || t->shape[2] < 1 || t->shape[2] > 4096 || (k && (t->shape[1] != *H || t->shape[2] != *T)))
      return ss_seterr(err, SS_EINPUT, "'%s': attention maps must be F32 [S, H, T, T] with 1 <= S <= 64 saved steps (as many as 'steps'), 1 <= H <= 64, 1 <= T <= 4096", path);
    *S = (int)t->shape[0];
    *H = (int)t->shape[1];
    *T = (int)t->shape[2];
  }
  return SS_OK;
}

/* The probe's words (T strings) from the metadata, or NULL when absent or not such a list. */
static json_t *probe_words(const ss_stfile *st, int T) {
  const char *w = ss_st_meta(st, "words");
  json_error_t je;
  json_t *a = w ? json_loads(w, 0, &je) : NULL;
  int ok = json_is_array(a) && (int)json_array_size(a) == T;
  for (int i = 0; ok && i < T; i++) ok = json_is_string(json_array_get(a, (size_t)i));
  if (!ok) {
    json_decref(a);
    return NULL;
  }
  return a;
}

static const char *word_at(json_t *words, int i) { return words ? json_string_value(json_array_get(words, (size_t)i)) : NULL; }

/* tics at every position, labelled with the probe's word (escaped) or the position */
static void axis_tics(ss_sbuf *b, const char *axis, json_t *words, int T) {
  if (!words || T > MAX_WORD_TICS) {
    ss_sb_printf(b, "set %stics autofreq font 'Sans,8'\n", axis);
    return;
  }
  ss_sb_printf(b, "set %stics %s font 'Sans,%d' (", axis, axis[0] == 'x' ? "rotate by 90 right" : "", T > 40 ? 6 : 7);
  for (int i = 0; i < T; i++) {
    ss_sb_puts(b, i ? ", " : "");
    ss_gp_str(b, word_at(words, i), 14);
    ss_sb_printf(b, " %d", i);
  }
  ss_sb_puts(b, ")\n");
}

static int attention_csv(ss_plan *p, const amap *maps, int nmaps, const int64_t *steps, int S, int H, int T, json_t *words, ss_err *err) {
  ss_plan_csv f;
  int rc = ss_plan_csv_open(&f, err);
  if (rc) return rc;
  static const char *const head[] = {"step", "layer", "head", "query", "key", "query_word", "key_word", "weight"};
  for (int k = 0; k < 8; k++) ss_csv_field(&f.w, head[k]);
  ss_csv_endrow(&f.w);
  char **w = calloc((size_t)T, sizeof(char *)); /* the words without control characters */
  for (int i = 0; w && i < T; i++) w[i] = ss_text_clean(word_at(words, i) ? word_at(words, i) : "", 0);
  for (int k = 0; w && k < nmaps; k++) {
    const float *a = maps[k].t->data;
    for (int s = 0; s < S; s++)
      for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++)
          for (int j = 0; j < T; j++) {
            ss_csv_int(&f.w, steps[s]);
            ss_csv_int(&f.w, maps[k].layer);
            ss_csv_int(&f.w, h);
            ss_csv_int(&f.w, i);
            ss_csv_int(&f.w, j);
            ss_csv_field(&f.w, w[i] ? w[i] : "");
            ss_csv_field(&f.w, w[j] ? w[j] : "");
            ss_csv_num(&f.w, a[(((size_t)s * H + h) * T + i) * T + j]);
            ss_csv_endrow(&f.w);
          }
  }
  for (int i = 0; w && i < T; i++) free(w[i]);
  if (!w) {
    fclose(f.f);
    free(f.buf);
    return ss_seterr(err, SS_ERUN, "out of memory");
  }
  free(w);
  return ss_plan_csv_close(p, &f, "attention.csv", err);
}

int ss_plot_attention(ss_plan *p, const ss_rundir *r, ss_err *err) {
  ss_in_kind k = ss_in_stat(r->dir, "attention.safetensors");
  if (k == SS_IN_ABSENT) return SS_OK;
  char *path = ss_in_file(r->dir, "attention.safetensors", err);
  if (!path) return SS_EINPUT;
  ss_stfile st;
  int rc = ss_safetensors_read(path, &st, err);
  if (rc) {
    free(path);
    return rc;
  }
  amap maps[MAX_LAYERS];
  int nmaps, S = 0, H = 0, T = 0;
  rc = find_maps(&st, path, maps, &nmaps, &S, &H, &T, err);
  free(path);
  if (rc) {
    ss_st_free(&st);
    return rc;
  }
  const int64_t *steps = ss_st_get(&st, "steps")->data;
  json_t *words = probe_words(&st, T);
  const int lc = p->o->log_colour;
  for (int m = 0; m < nmaps && rc == SS_OK; m++) {
    char name[32], dat[48], datp[128];
    if (nmaps == 1 && maps[m].t == ss_st_get(&st, "attention")) snprintf(name, sizeof name, "attention");
    else snprintf(name, sizeof name, "attention_l%d", maps[m].layer);
    snprintf(dat, sizeof dat, "%s.dat", name);
    ss_plan_name(p, dat, datp, sizeof datp);
    const float *a = maps[m].t->data;
    ss_sbuf d = {0};
    ss_sb_puts(&d, "# one block per (step, head) in that order (gnuplot index s*H + h); columns key query weight\n");
    for (int s = 0; s < S; s++)
      for (int h = 0; h < H; h++) {
        for (int i = 0; i < T; i++) {
          for (int j = 0; j < T; j++) {
            double v = a[(((size_t)s * H + h) * T + i) * T + j];
            ss_sb_printf(&d, "%d %d ", j, i);
            ss_gp_num(&d, lc && !(v > 0) ? NAN : v);
            ss_sb_puts(&d, "\n");
          }
          ss_sb_puts(&d, "\n");
        }
        ss_sb_puts(&d, "\n");
      }
    if ((rc = ss_plan_file(p, dat, &d, err))) break;
    /* panels of >= 320 px plus room for the words, then the colour bar; the title needs
     * ~ 800 px: a narrower set of panels is centred */
    const int lab = words && T <= MAX_WORD_TICS ? 100 : 40, cell = T <= MAX_WORD_TICS ? 11 : 4;
    const int pw = (T * cell > 320 ? T * cell : 320) + lab + 30, ph = pw - 30;
    const int content = S * pw + 150, w = content > 800 ? content : 800, h = H * ph + 155, pad = (w - content) / 2;
    ss_sbuf b = {0};
    ss_sb_printf(&b, "reset\nset multiplot layout %d,%d title 'Figure 7: attention of a fixed probe sequence over training", H, S);
    if (nmaps > 1 || maps[m].layer > 0) ss_sb_printf(&b, ", layer %d", maps[m].layer);
    ss_sb_puts(&b, SS_GP_NL "{/*0.8 row: query position, column: key position; the words of the probe on the axes}' font 'Sans,15'");
    /* the panels share the figure left of one colour bar */
    ss_sb_printf(&b, " margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n", (double)(pad + lab) / w, 1 - (pad + 110.0) / w, (lab + 10.0) / h,
                 1 - 115.0 / h, (double)lab / w, (lab + 40.0) / h);
    ss_sb_printf(&b, "set colorbox user origin screen %.4f, screen 0.3 size screen %.4f, screen 0.45\n", 1 - (pad + 80.0) / w, 14.0 / w);
    ss_sb_printf(&b, "set xrange [-0.5:%g]\nset yrange [%g:-0.5]\nset size ratio -1\nunset key\n", T - 0.5, T - 0.5);
    ss_sb_puts(&b, "set palette defined (0 '#ffffff', 1 '#c6dbef', 2 '#4292c6', 3 '#08306b')\n");
    if (lc) ss_sb_puts(&b, "set logscale cb\nset format cb '10^{%L}'\n");
    else ss_sb_puts(&b, "set cbrange [0:1]\n");
    ss_sb_puts(&b, "set cbtics font 'Sans,8'\n");
    axis_tics(&b, "x", words, T);
    axis_tics(&b, "y", words, T);
    for (int h = 0; h < H; h++)
      for (int s = 0; s < S; s++) {
        ss_sb_printf(&b, "set title 'step %lld%s", (long long)steps[s], H > 1 ? ", head " : "");
        if (H > 1) ss_sb_printf(&b, "%d", h);
        ss_sb_printf(&b, "' font 'Sans,12'\nplot '%s' index %d u 1:2:3 with image pixels\n", datp, s * H + h);
      }
    ss_sb_puts(&b, "unset multiplot\n");
    char cap[320];
    snprintf(cap, sizeof cap, "Figure 7: attention maps of the probe sequence at %d saved step%s%s%s (row: query, column: key)", S, S > 1 ? "s" : "",
             H > 1 ? ", one row per head" : "", nmaps > 1 || maps[m].layer > 0 ? ", one figure per layer" : "");
    rc = ss_plan_figure(p, name, cap, w, h, &b, err);
  }
  if (rc == SS_OK && p->o->csv) rc = attention_csv(p, maps, nmaps, steps, S, H, T, words, err);
  json_decref(words);
  ss_st_free(&st);
  return rc;
}
