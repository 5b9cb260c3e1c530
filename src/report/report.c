/* report.html (report.h). Every string read from the directory goes through ss_html_text;
 * files are read only when they are regular files inside the directory (io.h, src/util/indir.c), so a
 * planted link cannot pull an outside file into the page. SVG files are inlined from their
 * <svg element on, with every id and reference to one prefixed by the figure's index. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plot/plot_int.h"
#include "scansnap/io.h"
#include "scansnap/report.h"

#define TEXT_MAX (16u << 20)  /* config.yaml, comparison.md, claims.json */
#define SVG_MAX (256u << 20)

static void esc(ss_sbuf *b, const char *s) { ss_html_text(b, s ? s : ""); }

/* A text file of dir, or NULL (absent); a link or other non-file is refused with a note. */
static char *read_text(ss_sbuf *b, const char *dir, const char *rel) {
  char *data = NULL;
  size_t n;
  ss_err e;
  ss_in_kind k = ss_in_stat(dir, rel);
  if (k == SS_IN_ABSENT) return NULL;
  if (ss_in_read(dir, rel, TEXT_MAX, &data, &n, &e) != SS_OK) {
    ss_sb_puts(b, "<p class=note>Not shown: ");
    esc(b, e.msg);
    ss_sb_puts(b, "</p>\n");
    return NULL;
  }
  return data;
}

/* Inline an SVG: from "<svg" on, ids and references prefixed with pre. */
static void inline_svg(ss_sbuf *b, const char *svg, const char *pre) {
  const char *s = strstr(svg, "<svg");
  if (!s) return;
  static const char *pats[] = {" id=\"", " id='", "href=\"#", "href='#", "url(#"};
  while (*s) {
    int hit = -1;
    for (int k = 0; k < 5; k++)
      if (!strncmp(s, pats[k], strlen(pats[k]))) {
        hit = k;
        break;
      }
    if (hit >= 0) {
      ss_sb_puts(b, pats[hit]);
      ss_sb_puts(b, pre);
      s += strlen(pats[hit]);
    } else {
      const char *nx = s + 1;
      while (*nx && *nx != ' ' && *nx != 'h' && *nx != 'u') nx++;
      ss_sb_put(b, s, (size_t)(nx - s));
      s = nx;
    }
  }
}

/* "2nd", "3rd", "11th", ... */
static const char *ordinal_suffix(int k) {
  if (k % 100 >= 11 && k % 100 <= 13) return "th";
  return k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
}

static void csv_table(ss_sbuf *b, const ss_csv *t, int max_rows) {
  ss_sb_puts(b, "<table><thead><tr>");
  for (int c = 0; c < t->ncols; c++) {
    ss_sb_puts(b, "<th>");
    esc(b, t->head[c]);
    ss_sb_puts(b, "</th>");
  }
  ss_sb_puts(b, "</tr></thead><tbody>\n");
  int step = max_rows > 0 && t->nrows > max_rows ? (t->nrows + max_rows - 1) / max_rows : 1;
  for (int r = 0; r < t->nrows; r++) {
    if (r % step && r != t->nrows - 1) continue;
    ss_sb_puts(b, "<tr>");
    for (int c = 0; c < t->ncols; c++) {
      const char *v = ss_csv_cell(t, r, c);
      double x;
      ss_sb_puts(b, "<td>");
      if (ss_parse_num(v, &x) && (strchr(v, '.') || strchr(v, 'e')) && isfinite(x)) ss_sb_printf(b, "%.6g", x);
      else esc(b, v);
      ss_sb_puts(b, "</td>");
    }
    ss_sb_puts(b, "</tr>\n");
  }
  ss_sb_puts(b, "</tbody></table>\n");
  if (step > 1)
    ss_sb_printf(b, "<p class=note>Every %d%s row of %d (rows 1, %d, %d, ...) and the last.</p>\n", step, ordinal_suffix(step), t->nrows, 1 + step,
                 1 + 2 * step);
}

static void section_claims(ss_sbuf *b, const char *dir) {
  ss_err e;
  json_t *o = ss_json_in(dir, "claims.json", &e);
  ss_sb_puts(b, "<h2 id=claims>Claims</h2>\n");
  json_t *claims = json_object_get(o, "claims");
  if (!json_is_array(claims)) {
    ss_sb_puts(b, "<p class=note>Not shown: ");
    esc(b, o ? "claims.json is not what scansnap verify writes (an object with a list 'claims')" : e.msg);
    ss_sb_puts(b, "</p>\n");
    json_decref(o);
    return;
  }
  json_t *all = json_object_get(o, "all_passed");
  ss_sb_printf(b, "<p>Claims of the paper checked by <code>scansnap verify</code>: %s.</p>\n",
               json_is_true(all) ? "<span class=pass>all passed</span>" : json_is_false(all) ? "<span class=fail>not all passed</span>" : "status unknown");
  ss_sb_puts(b, "<table class=claims><thead><tr><th>id</th><th>claim</th><th>status</th><th>measured</th><th>numbers</th><th>why</th></tr></thead><tbody>\n");
  size_t i;
  json_t *c;
  json_array_foreach(claims, i, c) {
    if (i >= 100) break;
    static const char *const fields[] = {"id", "name", "status", "measured", "numbers", "why"};
    ss_sb_puts(b, "<tr>");
    for (int k = 0; k < 6; k++) {
      json_t *v = json_is_object(c) ? json_object_get(c, fields[k]) : NULL;
      if (k == 4 && json_is_object(v)) { /* numbers: one "name = value" per line, folded */
        ss_sb_printf(b, "<td><details><summary>%zu numbers</summary>", json_object_size(v));
        const char *nk;
        json_t *nv;
        json_object_foreach(v, nk, nv) {
          char *t = json_dumps(nv, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
          esc(b, nk);
          ss_sb_puts(b, " = ");
          esc(b, t ? t : "?");
          ss_sb_puts(b, "<br>");
          free(t);
        }
        ss_sb_puts(b, "</details></td>");
        continue;
      }
      char *t = NULL;
      if (json_is_string(v)) t = strdup(json_string_value(v));
      else if (v) t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
      const char *cls = "";
      if (k == 2 && t) cls = (!strcmp(t, "PASS") || !strcmp(t, "pass")) ? " class=pass" : !strcmp(t, "SKIP") ? "" : " class=fail";
      ss_sb_printf(b, "<td%s>", cls);
      if (t) esc(b, t);
      ss_sb_puts(b, "</td>");
      free(t);
    }
    ss_sb_puts(b, "</tr>\n");
  }
  ss_sb_puts(b, "</tbody></table>\n");
  json_decref(o);
}

/* A run's status line and its metrics at the start and the end (first and last measured
 * value of every metrics.csv column), then the table itself. */
static void section_run(ss_sbuf *b, const char *dir, const char *id, const char *heading) {
  ss_rundir r;
  ss_err e;
  ss_sb_printf(b, "<h2 id=%s>", id);
  esc(b, heading);
  ss_sb_puts(b, "</h2>\n");
  if (ss_rundir_load(dir, &r, &e) != SS_OK) {
    ss_sb_puts(b, "<p class=note>");
    esc(b, e.msg);
    ss_sb_puts(b, "</p>\n");
    return;
  }
  ss_sb_puts(b, "<p>Status <b>");
  esc(b, r.status);
  ss_sb_puts(b, "</b>, ");
  esc(b, r.joma ? "JoMA system (theory)" : !strcmp(r.command, "theory") ? "theory (population dynamics)" : r.lm ? "language model" : "training run");
  ss_sb_puts(b, ", model ");
  esc(b, r.model);
  if (r.has_dyn) ss_sb_printf(b, ", N = %d classes over M = %d tokens", r.N, r.M);
  ss_sb_printf(b, ", %d metric rows.</p>\n", r.m.nrows);
  if (r.error[0]) {
    ss_sb_puts(b, "<p class=fail>");
    esc(b, r.error);
    ss_sb_puts(b, "</p>\n");
  }
  ss_sb_puts(b, "<table><thead><tr><th>quantity</th><th>start</th><th>step</th><th>end</th><th>step</th></tr></thead><tbody>\n");
  for (int c = 1; c < r.m.ncols; c++) {
    int f, l;
    if (!ss_numtab_span(&r.m, c, &f, &l) || !r.m.names[c][0]) continue; /* never measured (a language model's class metrics) */
    ss_sb_puts(b, "<tr><td>");
    esc(b, r.m.names[c]);
    ss_sb_printf(b, "</td><td>%.6g</td><td>%.0f</td><td>%.6g</td><td>%.0f</td></tr>\n", ss_numtab_at(&r.m, f, c), ss_numtab_at(&r.m, f, 0),
                 ss_numtab_at(&r.m, l, c), ss_numtab_at(&r.m, l, 0));
  }
  ss_sb_puts(b, "</tbody></table>\n");
  ss_rundir_free(&r);
  ss_csv t;
  if (ss_csv_read_in(dir, "metrics.csv", &t, &e) == SS_OK) {
    ss_sb_puts(b, "<h3>metrics.csv</h3>\n");
    csv_table(b, &t, 26);
    ss_csv_free(&t);
  }
}

static void section_sweep(ss_sbuf *b, const char *dir) {
  ss_sweep s;
  ss_sweep_info info;
  ss_err e;
  ss_sb_puts(b, "<h2 id=sweep>Sweep</h2>\n");
  if (ss_sweep_dir_load(dir, &s, &info, &e) == SS_OK) {
    long np = 1;
    for (int a = 0; a < s.naxes; a++) np *= s.axes[a].n; /* bounded by the check */
    ss_sb_printf(b, "<p>%ld runs", np);
    if (info.complete >= 0) ss_sb_printf(b, " (%ld complete, %ld failed)", info.complete, info.failed >= 0 ? info.failed : 0);
    ss_sb_printf(b, "%s; swept keys:</p><ul>\n", info.theory ? ", population dynamics (theory=true)" : "");
    for (int a = 0; a < s.naxes; a++) {
      ss_sb_puts(b, "<li><code>");
      esc(b, s.axes[a].key);
      ss_sb_puts(b, "</code> = ");
      for (int i = 0; i < s.axes[a].n && i < 50; i++) {
        if (i) ss_sb_puts(b, ", ");
        esc(b, s.axes[a].values[i]);
      }
      if (s.axes[a].n > 50) ss_sb_printf(b, ", ... (%d values)", s.axes[a].n);
      ss_sb_puts(b, "</li>\n");
    }
    ss_sb_puts(b, "</ul>\n<p>Command: <code>");
    esc(b, s.command);
    ss_sb_puts(b, "</code></p>\n");
    ss_sweep_free(&s);
  } else {
    ss_sb_puts(b, "<p class=note>");
    esc(b, e.msg);
    ss_sb_puts(b, "</p>\n");
  }
  ss_csv t;
  if (ss_in_stat(dir, "comparison.csv") == SS_IN_FILE && ss_csv_read_in(dir, "comparison.csv", &t, &e) == SS_OK) {
    ss_sb_puts(b, "<h2 id=comparison>Comparison with the paper</h2>\n<p>Our means against the reference table (the paper's Figure 6); "
                  "<i>diff_in_ref_se</i> is the difference in units of the paper's standard error std/&radic;n.</p>\n");
    char *md = read_text(b, dir, "comparison.md");
    const char *ov = md ? strstr(md, "\nOverall") : NULL;
    if (ov) {
      ss_sb_puts(b, "<p class=overall>");
      esc(b, ov + 1);
      ss_sb_puts(b, "</p>\n");
    }
    free(md);
    csv_table(b, &t, 0);
    ss_csv_free(&t);
  }
  if (ss_csv_read_in(dir, "aggregate.csv", &t, &e) == SS_OK) {
    ss_sb_puts(b, "<h2 id=metrics>Metrics: aggregate over seeds</h2>\n<p>Mean and sample standard deviation over seeds of each final metric (aggregate.csv).</p>\n");
    csv_table(b, &t, 0);
    ss_csv_free(&t);
  } else {
    ss_sb_puts(b, "<h2 id=metrics>Metrics</h2>\n<p class=note>");
    esc(b, e.msg);
    ss_sb_puts(b, "</p>\n");
  }
}

static void section_config(ss_sbuf *b, const char *dir, const char *rel) {
  char *cfg = read_text(b, dir, rel);
  if (cfg) {
    ss_sb_puts(b, "<pre>");
    esc(b, cfg);
    ss_sb_puts(b, "</pre>\n");
    free(cfg);
  } else {
    ss_sb_puts(b, "<p class=note>No ");
    esc(b, rel);
    ss_sb_puts(b, ".</p>\n");
  }
}

static void figures(ss_sbuf *b, const ss_plot_set *figs, const char *group) {
  int shown = 0;
  for (int i = 0; figs && i < figs->n; i++) {
    if (strcmp(figs->fig[i].group, group)) continue;
    char fn[128], *svg = NULL;
    size_t n;
    ss_err e;
    snprintf(fn, sizeof fn, "%s.svg", figs->fig[i].name);
    if (ss_in_read(figs->figdir, fn, SVG_MAX, &svg, &n, &e) != SS_OK) continue;
    char pre[80];
    snprintf(pre, sizeof pre, "f%d_", i);
    ss_sb_puts(b, "<figure id='fig-");
    esc(b, figs->fig[i].name);
    ss_sb_puts(b, "'>\n");
    inline_svg(b, svg, pre);
    ss_sb_puts(b, "\n<figcaption>");
    esc(b, figs->fig[i].title);
    ss_sb_puts(b, " (<code>figures/");
    esc(b, figs->fig[i].name);
    ss_sb_puts(b, ".png</code>, <code>.svg</code>)</figcaption></figure>\n");
    free(svg);
    shown++;
  }
  if (!shown) ss_sb_puts(b, "<p class=note>No figures (gnuplot not available, or `scansnap plot` failed).</p>\n");
}

int ss_report_write(const char *dir, const ss_plot_set *figs, char *path, size_t n, ss_err *err) {
  int kind;
  int rc = ss_dir_kind(dir, &kind, err);
  if (rc) return rc;
  /* verify's runs, then J3's comparison (a group of figures without a run of its own) */
  const char *sub_id[SS_VERIFY_NSUBS + 1], *sub_title[SS_VERIFY_NSUBS + 1];
  int sub_present[SS_VERIFY_NSUBS + 1] = {0};
  for (int i = 0; i < SS_VERIFY_NSUBS; i++) {
    sub_id[i] = ss_verify_subs[i].name;
    sub_title[i] = ss_verify_subs[i].title;
  }
  sub_id[SS_VERIFY_NSUBS] = "j3";
  sub_title[SS_VERIFY_NSUBS] = "J3: attention entropy per layer, these runs against JoMA's on WikiText-2";
  if (kind == SS_KIND_VERIFY)
    for (int i = 0; i < SS_VERIFY_NSUBS; i++) {
      char rel[64];
      snprintf(rel, sizeof rel, "%s/run.json", sub_id[i]);
      sub_present[i] = ss_in_stat(dir, sub_id[i]) == SS_IN_DIR && ss_in_stat(dir, rel) == SS_IN_FILE;
    }
  ss_sbuf b = {0};
  ss_sb_puts(&b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n<title>scansnap report: ");
  esc(&b, dir);
  ss_sb_puts(&b, "</title>\n<style>\n"
                 "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\n"
                 "h1{font-size:1.8em;border-bottom:2px solid #1f77b4}h2{margin-top:2em;border-bottom:1px solid #ccc}\n"
                 "figure{margin:1.5em 0;padding:.5em;border:1px solid #e4e4e4;border-radius:6px;background:#fff}\n"
                 "figure svg{max-width:100%;height:auto;display:block;margin:auto}figcaption{text-align:center;color:#555;font-size:.95em}\n"
                 "table{border-collapse:collapse;font-size:.85em;margin:1em 0;display:block;overflow-x:auto}\n"
                 "th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f6fa}\n"
                 "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}.note{color:#666;font-size:.85em}\n"
                 ".pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.overall{font-weight:500}\n"
                 "nav a{margin-right:1em}table.claims td{text-align:left;vertical-align:top;min-width:6em;max-width:32em}\n"
                 "details{font-size:.9em}summary{cursor:pointer;color:#1f77b4}\n</style></head><body>\n");
  ss_sb_puts(&b, "<h1>scansnap report</h1>\n<p>");
  ss_sb_puts(&b, kind == SS_KIND_SWEEP ? "Sweep" : kind == SS_KIND_RUN ? "Run" : "Claims checked by <code>scansnap verify</code> in");
  ss_sb_puts(&b, " <code>");
  esc(&b, dir);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[64];
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M UTC", &tm);
  ss_sb_printf(&b, "</code>, report written %s by scansnap %s (Tian et al., &ldquo;Scan and Snap&rdquo;, NeurIPS 2023).</p>\n", ts, SS_VERSION);
  int claims = ss_in_stat(dir, "claims.json") == SS_IN_FILE, comparison = kind == SS_KIND_SWEEP && ss_in_stat(dir, "comparison.csv") == SS_IN_FILE;
  ss_sb_puts(&b, "<nav>");
  if (claims) ss_sb_puts(&b, "<a href='#claims'>Claims</a>");
  ss_sb_puts(&b, "<a href='#figures'>Figures</a>");
  if (kind == SS_KIND_SWEEP) ss_sb_puts(&b, "<a href='#sweep'>Sweep</a>");
  if (comparison) ss_sb_puts(&b, "<a href='#comparison'>Comparison</a>");
  if (kind != SS_KIND_VERIFY) ss_sb_puts(&b, "<a href='#metrics'>Metrics</a><a href='#config'>Configuration</a>");
  for (int i = 0; i < SS_VERIFY_NSUBS; i++)
    if (sub_present[i]) ss_sb_printf(&b, "<a href='#run-%s'>%s/</a>", sub_id[i], sub_id[i]);
  ss_sb_puts(&b, "</nav>\n");
  if (claims) section_claims(&b, dir);
  ss_sb_puts(&b, "<h2 id=figures>Figures</h2>\n");
  if (kind == SS_KIND_VERIFY) {
    for (int i = 0; i <= SS_VERIFY_NSUBS; i++) {
      int any = 0;
      for (int k = 0; figs && k < figs->n; k++) any |= !strcmp(figs->fig[k].group, sub_id[i]);
      if (!any) continue;
      ss_sb_printf(&b, "<h3>%s</h3>\n", sub_title[i]);
      figures(&b, figs, sub_id[i]);
    }
    for (int i = 0; i < SS_VERIFY_NSUBS; i++) {
      if (!sub_present[i]) continue;
      char *sub = ss_path_join(dir, sub_id[i]), id[32], head[64];
      snprintf(id, sizeof id, "run-%s", sub_id[i]);
      snprintf(head, sizeof head, "Run %s/", sub_id[i]);
      if (!sub) continue;
      section_run(&b, sub, id, head);
      ss_sb_puts(&b, "<h3>Configuration</h3>\n");
      section_config(&b, sub, "config.yaml");
      free(sub);
    }
  } else {
    figures(&b, figs, "");
    if (kind == SS_KIND_SWEEP) section_sweep(&b, dir);
    else section_run(&b, dir, "metrics", "Metrics");
    ss_sb_puts(&b, "<h2 id=config>Configuration</h2>\n");
    section_config(&b, dir, "config.yaml");
  }
  ss_sb_puts(&b, "</body></html>\n");
  if (b.oom) {
    ss_sb_free(&b);
    return ss_seterr(err, SS_ERUN, "out of memory writing the report");
  }
  char *p = ss_path_join(dir, "report.html");
  rc = p ? ss_write_file_atomic(p, b.buf, b.n, err) : ss_seterr(err, SS_ERUN, "out of memory");
  if (rc == SS_OK) snprintf(path, n, "%s", p);
  free(p);
  ss_sb_free(&b);
  return rc;
}
