/* `scansnap show DIR` (report.h): what a run, sweep or verify directory holds, in a few
 * lines. Everything is read as plot and report read it (regular files inside the directory,
 * fields checked) and every string from a file is cleaned for a terminal (no escape
 * sequences, no line breaks of its own). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"
#include "scansnap/io.h"
#include "scansnap/report.h"

/* s cleaned for a terminal, appended */
static void put_clean(ss_sbuf *b, const char *s, int maxchars) {
  char *c = ss_text_clean(s ? s : "", maxchars);
  ss_sb_puts(b, c ? c : "?");
  free(c);
}

static void num(ss_sbuf *b, double v) {
  if (isfinite(v)) ss_sb_printf(b, "%.5g", v);
  else ss_sb_puts(b, "nan");
}

/* keys whose value differs from the built-in defaults (out and resume left aside) */
static void config_diff(ss_sbuf *b, const ss_config *c, const char *indent) {
  ss_config d;
  ss_config_defaults(&d);
  int nk, shown = 0;
  const ss_keydef *keys = ss_config_keys(&nk);
  for (int i = 0; i < nk; i++) {
    if (!strcmp(keys[i].name, "out") || !strcmp(keys[i].name, "resume")) continue;
    char a[SS_PATH_MAX + 64], e[SS_PATH_MAX + 64];
    ss_config_format(c, &keys[i], a, sizeof a);
    ss_config_format(&d, &keys[i], e, sizeof e);
    if (!strcmp(a, e)) continue;
    if (shown && shown % 4 == 0) ss_sb_printf(b, "\n%s", indent);
    ss_sb_puts(b, shown % 4 ? "  " : "");
    ss_sb_printf(b, "%s=", keys[i].name);
    put_clean(b, a, 60);
    shown++;
  }
  if (!shown) ss_sb_puts(b, "(none: the defaults, configs/fig4.yaml)");
  ss_sb_puts(b, "\n");
}

static void claims(ss_sbuf *b, const char *dir) {
  ss_err e;
  ss_in_kind k = ss_in_stat(dir, "claims.json");
  if (k == SS_IN_ABSENT) return;
  json_t *o = ss_json_in(dir, "claims.json", &e);
  json_t *cl = json_object_get(o, "claims");
  if (!json_is_array(cl)) {
    ss_sb_puts(b, "claims:      claims.json unreadable: ");
    put_clean(b, o ? "no list 'claims'" : e.msg, 200);
    ss_sb_puts(b, "\n");
    json_decref(o);
    return;
  }
  json_t *all = json_object_get(o, "all_passed");
  ss_sb_printf(b, "claims:      %s\n", json_is_true(all) ? "all that ran passed" : json_is_false(all) ? "NOT all passed" : "status unknown");
  size_t i;
  json_t *c;
  json_array_foreach(cl, i, c) {
    if (i >= 20) break;
    json_t *id = json_object_get(c, "id");
    ss_sb_puts(b, "  ");
    if (json_is_integer(id) && json_integer_value(id) >= 0 && json_integer_value(id) < 1000) ss_sb_printf(b, "%-3lld", (long long)json_integer_value(id));
    else ss_sb_puts(b, "?  ");
    char tmp[64];
    char *name = ss_text_clean(json_string_value(json_object_get(c, "name")), 20), *st = ss_text_clean(json_string_value(json_object_get(c, "status")), 6);
    snprintf(tmp, sizeof tmp, "%-20s %-6s ", name ? name : "?", st ? st : "?");
    free(name);
    free(st);
    ss_sb_puts(b, tmp);
    put_clean(b, json_string_value(json_object_get(c, "measured")), 110);
    ss_sb_puts(b, "\n");
  }
  json_decref(o);
}

static void snap(ss_sbuf *b, const char *dir) {
  ss_err e;
  if (ss_in_stat(dir, "snap.json") == SS_IN_ABSENT) return;
  json_t *o = ss_json_in(dir, "snap.json", &e);
  ss_sb_puts(b, "t0 (snap):   ");
  if (!o) {
    put_clean(b, e.msg, 200);
  } else {
    json_t *t0 = json_object_get(o, "t0"), *found = json_object_get(o, "found"), *tot = json_object_get(o, "classes_total");
    if (json_is_number(t0) && isfinite(json_number_value(t0))) num(b, json_number_value(t0));
    else ss_sb_puts(b, "none (no snap found)");
    if (json_is_integer(found) && json_is_integer(tot) && json_integer_value(found) >= 0 && json_integer_value(found) <= json_integer_value(tot) &&
        json_integer_value(tot) < 1000000)
      ss_sb_printf(b, " (%lld of %lld classes snapped; snap.json)", (long long)json_integer_value(found), (long long)json_integer_value(tot));
  }
  ss_sb_puts(b, "\n");
  json_decref(o);
}

/* a run: kind, status, config differences, first/last metrics, t0; SS_EINPUT (in err) when
 * its files cannot be read */
static int show_run(ss_sbuf *b, const char *dir, const char *indent, ss_err *err) {
  ss_rundir r;
  int rc = ss_rundir_load(dir, &r, err);
  if (rc) return rc;
  ss_sb_printf(b, "%skind:        %s", indent,
               r.joma ? "JoMA system (theory)" : !strcmp(r.command, "theory") ? "theory run (population dynamics)" : r.lm ? "language-model run" : "training run");
  ss_sb_printf(b, ", model %s", r.model);
  if (r.has_dyn) ss_sb_printf(b, ", N = %d classes over M = %d tokens", r.N, r.M);
  ss_sb_printf(b, "\n%sstatus:      %s%s%s\n", indent, r.status, r.error[0] ? ": " : "", r.error);
  ss_sb_printf(b, "%sconfig:      ", indent);
  if (r.have_cfg) {
    char ind[64];
    snprintf(ind, sizeof ind, "%s             ", indent);
    config_diff(b, &r.cfg, ind);
  } else {
    put_clean(b, r.cfg_note[0] ? r.cfg_note : "no config.yaml", 200);
    ss_sb_puts(b, "\n");
  }
  int last = r.m.nrows - 1;
  ss_sb_printf(b, "%smetrics:     %d rows", indent, r.m.nrows);
  if (r.m.nrows > 0) {
    ss_sb_puts(b, ", step ");
    num(b, ss_numtab_at(&r.m, 0, 0));
    ss_sb_puts(b, " -> ");
    num(b, ss_numtab_at(&r.m, last, 0));
  }
  ss_sb_puts(b, " (first -> last measured value)\n");
  for (int c = 1; c < r.m.ncols; c++) {
    int f, l;
    if (!ss_numtab_span(&r.m, c, &f, &l) || !r.m.names[c][0]) continue;
    char nm[40];
    snprintf(nm, sizeof nm, "%-22s", r.m.names[c]);
    ss_sb_printf(b, "%s  %s ", indent, nm);
    num(b, ss_numtab_at(&r.m, f, c));
    ss_sb_puts(b, " -> ");
    num(b, ss_numtab_at(&r.m, l, c));
    ss_sb_puts(b, "\n");
  }
  ss_rundir_free(&r);
  ss_sbuf t = {0};
  snap(&t, dir);
  if (t.n) ss_sb_printf(b, "%s%s", indent, t.buf);
  ss_sb_free(&t);
  return SS_OK;
}

static int show_sweep(ss_sbuf *b, const char *dir, ss_err *err) {
  ss_sweep s;
  ss_sweep_info info;
  ss_err e;
  int rc = ss_sweep_dir_load(dir, &s, &info, err);
  if (rc) return rc;
  long np = 1;
  for (int a = 0; a < s.naxes; a++) np *= s.axes[a].n;
  ss_sb_printf(b, "kind:        sweep of %ld %s", np, info.theory ? "theory runs (population dynamics)" : "runs");
  if (info.complete >= 0) ss_sb_printf(b, ", %ld complete, %ld failed", info.complete, info.failed >= 0 ? info.failed : 0);
  ss_sb_puts(b, "\nswept:       ");
  for (int a = 0; a < s.naxes; a++) {
    ss_sb_printf(b, "%s%s = ", a ? "\n             " : "", s.axes[a].key);
    for (int i = 0; i < s.axes[a].n && i < 12; i++) {
      ss_sb_puts(b, i ? ", " : "");
      put_clean(b, s.axes[a].values[i], 24);
    }
    if (s.axes[a].n > 12) ss_sb_printf(b, ", ... (%d values)", s.axes[a].n);
  }
  ss_sb_puts(b, "\nmetric:      ");
  put_clean(b, s.metric, 60);
  ss_sb_puts(b, s.reference[0] ? ", compared with the reference table " : "");
  if (s.reference[0]) put_clean(b, s.reference, 80);
  ss_sb_puts(b, "\nconfig:      ");
  config_diff(b, &s.base, "             ");
  /* the group means of the metric, lowest and highest */
  ss_csv t;
  char col[96];
  snprintf(col, sizeof col, "%s_mean", s.metric);
  if (ss_csv_read_in(dir, "aggregate.csv", &t, &e) == SS_OK) {
    int cm = ss_csv_col(&t, col), lo = -1, hi = -1;
    double vlo = INFINITY, vhi = -INFINITY;
    for (int r = 0; cm >= 0 && r < t.nrows; r++) {
      double v;
      if (!ss_parse_num(ss_csv_cell(&t, r, cm), &v) || !isfinite(v)) continue;
      if (v < vlo) vlo = v, lo = r;
      if (v > vhi) vhi = v, hi = r;
    }
    for (int k = 0; k < 2 && lo >= 0; k++) {
      int r = k ? hi : lo;
      ss_sb_printf(b, "%s ", k ? "highest:    " : "lowest:     ");
      num(b, k ? vhi : vlo);
      ss_sb_puts(b, " at");
      for (int a = 0; a < s.naxes; a++) {
        int c = ss_csv_col(&t, s.axes[a].key);
        if (c < 0) continue;
        ss_sb_printf(b, " %s=", s.axes[a].label);
        put_clean(b, ss_csv_cell(&t, r, c), 24);
      }
      ss_sb_puts(b, " (mean over seeds, aggregate.csv)\n");
    }
    ss_csv_free(&t);
  } else {
    ss_sb_puts(b, "aggregate:   ");
    put_clean(b, e.msg, 200);
    ss_sb_puts(b, "\n");
  }
  ss_sb_puts(b, "command:     ");
  put_clean(b, s.command, 300);
  ss_sb_puts(b, "\n");
  ss_sweep_free(&s);
  return SS_OK;
}

int ss_show(const char *dir, char **text, ss_err *err) {
  *text = NULL;
  int kind;
  int rc = ss_dir_kind(dir, &kind, err);
  if (rc) return rc;
  ss_sbuf b = {0};
  ss_sb_puts(&b, "directory:   ");
  put_clean(&b, dir, 0);
  ss_sb_puts(&b, "\n");
  if (kind == SS_KIND_RUN) {
    if ((rc = show_run(&b, dir, "", err)) == SS_OK) claims(&b, dir);
  } else if (kind == SS_KIND_SWEEP) {
    rc = show_sweep(&b, dir, err);
  } else {
    ss_err e;
    ss_sb_puts(&b, "kind:        verify's directory (claims and the runs that measured them)\n");
    claims(&b, dir);
    for (int i = 0; i < SS_VERIFY_NSUBS; i++) {
      const char *name = ss_verify_subs[i].name;
      ss_in_kind k = ss_in_stat(dir, name);
      if (k == SS_IN_ABSENT) continue;
      ss_sb_printf(&b, "run %s/:\n", name);
      char *sub = ss_path_join(dir, name);
      if (k != SS_IN_DIR) ss_sb_puts(&b, "  not a real folder (a link or a file): not read\n");
      else if (sub && show_run(&b, sub, "  ", &e) != SS_OK) {
        ss_sb_puts(&b, "  unreadable:  ");
        put_clean(&b, e.msg, 300);
        ss_sb_puts(&b, "\n");
      }
      free(sub);
    }
  }
  static const char *const outs[][2] = {{"figures", "figures:     figures/ (scansnap plot)\n"}, {"report.html", "report:      report.html (scansnap report)\n"}};
  for (int i = 0; i < 2; i++)
    if (ss_in_stat(dir, outs[i][0]) == (i ? SS_IN_FILE : SS_IN_DIR)) ss_sb_puts(&b, outs[i][1]);
  if (rc || b.oom) {
    ss_sb_free(&b);
    return rc ? rc : ss_seterr(err, SS_ERUN, "out of memory");
  }
  *text = b.buf;
  return SS_OK;
}
