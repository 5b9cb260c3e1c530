/* Snap detection (SPEC §4 claim 3; definition in include/scansnap/run.h and
 * docs/theory.md). The concentration kappa_n(t) = H(c_n(0)) - H(c_n(t)) rises fast, then
 * (after the snap) roughly like log t. t0 is where its smoothed slope has fallen for good
 * below rho times its peak. Smoothing (a centred moving average) is what makes this robust
 * to SGD noise: row-to-row entropy jitter would otherwise create and destroy "slow" stretches. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scansnap/io.h"
#include "scansnap/run.h"

void ss_snap_default_opts(ss_snap_opts *o) {
  o->rho = 0.1;
  o->window = 5;
  o->min_after = 3;
  o->min_rate = 1e-4;
}

void ss_snap_detect(const double *steps, const double *kappa, int n, const ss_snap_opts *o, ss_snap_class *out) {
  out->found = 0;
  out->t0 = NAN;
  out->rate_after = NAN;
  out->rate_max = 0;
  out->step_max = n ? steps[0] : 0;
  if (n < 2) return;
  double *sm = malloc(sizeof(double) * (size_t)n);
  double *r = calloc((size_t)n, sizeof(double));
  if (!sm || !r) {
    free(sm);
    free(r);
    return;
  }
  /* centred moving average; the window shrinks symmetrically at the ends so the first and
   * last rows stay themselves (no lag at the ends) */
  int hw = o->window > 1 ? o->window / 2 : 0;
  for (int i = 0; i < n; i++) {
    int h = hw;
    if (i < h) h = i;
    if (n - 1 - i < h) h = n - 1 - i;
    double s = 0;
    for (int j = i - h; j <= i + h; j++) s += kappa[j];
    sm[i] = s / (2 * h + 1);
  }
  int ip = 0;
  for (int i = 0; i + 1 < n; i++) {
    double dt = steps[i + 1] - steps[i];
    r[i] = dt > 0 ? (sm[i + 1] - sm[i]) / dt : 0;
    if (r[i] > r[ip]) ip = i;
  }
  out->rate_max = r[ip];
  out->step_max = steps[ip];
  if (r[ip] > o->min_rate) {
    /* t0 = first row i after the fastest interval from which the smoothed curve rises by at
     * most rho * r_max per step over every stretch [i, j] of >= min_after intervals. Chords
     * rather than single intervals: one noisy interval must not veto (or fake) a snap. */
    const double thr = o->rho * r[ip];
    const int span = o->min_after > 1 ? o->min_after : 1;
    for (int i = ip + 1; i + span <= n - 1 && !out->found; i++) {
      int ok = 1;
      for (int j = i + span; j < n && ok; j++) ok = (sm[j] - sm[i]) / (steps[j] - steps[i]) <= thr;
      if (ok) {
        out->found = 1;
        out->t0 = steps[i];
        out->rate_after = (sm[n - 1] - sm[i]) / (steps[n - 1] - steps[i]);
      }
    }
  }
  free(sm);
  free(r);
}

int ss_snap_recorder(const ss_recorder *r, const ss_snap_opts *o, ss_snap_class *out, double *t0_mean) {
  const int N = r->cl->N, R = r->nrows;
  double *steps = malloc(sizeof(double) * (size_t)(R ? R : 1));
  double *kap = malloc(sizeof(double) * (size_t)(R ? R : 1));
  int found = 0;
  double s = 0;
  for (int n = 0; n < N; n++) {
    if (!steps || !kap) {
      memset(&out[n], 0, sizeof out[n]);
      out[n].t0 = out[n].rate_after = NAN;
      continue;
    }
    for (int i = 0; i < R; i++) {
      steps[i] = (double)r->steps[i];
      kap[i] = r->per[(size_t)N * 0 + n].entropy - r->per[(size_t)N * i + n].entropy;
    }
    ss_snap_detect(steps, kap, R, o, &out[n]);
    if (out[n].found) {
      found++;
      s += out[n].t0;
    }
  }
  free(steps);
  free(kap);
  *t0_mean = found ? s / found : NAN;
  return found;
}

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

int ss_snap_write(const ss_recorder *r, const char *dir, ss_err *err) {
  ss_snap_opts o;
  ss_snap_default_opts(&o);
  const int N = r->cl->N;
  ss_snap_class *cls = malloc(sizeof(ss_snap_class) * (size_t)(N ? N : 1));
  if (!cls) return ss_seterr(err, SS_ERUN, "out of memory");
  double t0;
  int found = ss_snap_recorder(r, &o, cls, &t0);
  json_t *root = json_object();
  json_object_set_new(root, "method", json_string("entropy-drop-rate"));
  json_object_set_new(root, "measure", json_string("kappa_n(t) = H(c_n(0)) - H(c_n(t)) in nats, centred moving average over `window` rows; "
                                                   "rate_max = largest slope between consecutive rows (per step); t0 = first row after the fastest "
                                                   "interval from which the curve rises by <= rho * rate_max per step over every stretch of >= min_after intervals"));
  json_object_set_new(root, "rho", json_real(o.rho));
  json_object_set_new(root, "window", json_integer(o.window));
  json_object_set_new(root, "min_after", json_integer(o.min_after));
  json_object_set_new(root, "min_rate", json_real(o.min_rate));
  json_object_set_new(root, "t0", num_or_null(t0));
  json_object_set_new(root, "found", json_integer(found));
  json_object_set_new(root, "classes_total", json_integer(N));
  json_t *arr = json_array();
  for (int n = 0; n < N; n++) {
    json_t *c = json_object();
    json_object_set_new(c, "class", json_integer(n));
    json_object_set_new(c, "t0", num_or_null(cls[n].t0));
    json_object_set_new(c, "rate_max", json_real(cls[n].rate_max));
    json_object_set_new(c, "step_rate_max", json_real(cls[n].step_max));
    json_object_set_new(c, "rate_after", num_or_null(cls[n].rate_after));
    json_array_append_new(arr, c);
  }
  json_object_set_new(root, "classes", arr);
  free(cls);
  char *p = ss_path_join(dir, "snap.json");
  int rc = ss_write_json_atomic(p, root, JSON_INDENT(2) | JSON_REAL_PRECISION(10), err);
  free(p);
  return rc;
}
