/* report.html (report.h). Everything is escaped; SVG files are inlined from their <svg
 * element on, with every id and reference to one prefixed by the figure's index. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scansnap/io.h"
#include "scansnap/report.h"
#include "scansnap/sweep.h"

typedef struct {
  char *buf;
  size_t n, cap;
  int oom;
} hbuf;

static void put(hbuf *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t nc = (b->cap ? b->cap * 2 : 65536) + len;
    char *nb = realloc(b->buf, nc);
    if (!nb) {
      b->oom = 1;
      return;
    }
    b->buf = nb;
    b->cap = nc;
  }
  memcpy(b->buf + b->n, s, len);
  b->n += len;
  b->buf[b->n] = 0;
}

static void puts_(hbuf *b, const char *s) { put(b, s, strlen(s)); }

static void pf(hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(hbuf *b, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (k >= 0) put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static void esc(hbuf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': puts_(b, "&lt;"); break;
    case '>': puts_(b, "&gt;"); break;
    case '&': puts_(b, "&amp;"); break;
    case '"': puts_(b, "&quot;"); break;
    default: put(b, s, 1);
    }
  }
}

static char *slurp(const char *dir, const char *name) {
  char *p = ss_path_join(dir, name);
  char *out = NULL;
  ss_err e;
  size_t n = 0;
  char *d = NULL;
  if (p && ss_read_file(p, &d, &n, &e) == SS_OK) out = d;
  free(p);
  return out;
}

/* Inline an SVG: from "<svg" on, ids and references prefixed with pre. */
static void inline_svg(hbuf *b, const char *svg, const char *pre) {
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
      puts_(b, pats[hit]);
      puts_(b, pre);
      s += strlen(pats[hit]);
    } else {
      const char *nx = s + 1;
      while (*nx && *nx != ' ' && *nx != 'h' && *nx != 'u') nx++;
      put(b, s, (size_t)(nx - s));
      s = nx;
    }
  }
}

static void csv_table(hbuf *b, const ss_csv *t, int max_rows) {
  puts_(b, "<table><thead><tr>");
  for (int c = 0; c < t->ncols; c++) {
    puts_(b, "<th>");
    esc(b, t->head[c]);
    puts_(b, "</th>");
  }
  puts_(b, "</tr></thead><tbody>\n");
  int step = max_rows > 0 && t->nrows > max_rows ? (t->nrows + max_rows - 1) / max_rows : 1;
  for (int r = 0; r < t->nrows; r++) {
    if (r % step && r != t->nrows - 1) continue;
    puts_(b, "<tr>");
    for (int c = 0; c < t->ncols; c++) {
      const char *v = ss_csv_cell(t, r, c);
      char *e;
      double x = strtod(v, &e);
      puts_(b, "<td>");
      if (*v && !*e && (strchr(v, '.') || strchr(v, 'e')) && isfinite(x))
        pf(b, "%.6g", x);
      else
        esc(b, v);
      puts_(b, "</td>");
    }
    puts_(b, "</tr>\n");
  }
  puts_(b, "</tbody></table>\n");
  if (step > 1) pf(b, "<p class=note>Every %d-th row of %d, and the last.</p>\n", step, t->nrows);
}

static void section_claims(hbuf *b, const char *dir) {
  char *p = ss_path_join(dir, "claims.json");
  json_error_t je;
  json_t *o = ss_file_exists(p) ? json_load_file(p, 0, &je) : NULL;
  free(p);
  if (!o) return;
  json_t *all = json_object_get(o, "all_passed");
  pf(b, "<h2 id=claims>Claims</h2>\n<p>Claims of the paper checked by <code>scansnap verify</code>: %s.</p>\n",
     json_is_true(all) ? "<span class=pass>all passed</span>" : json_is_false(all) ? "<span class=fail>not all passed</span>" : "status unknown");
  puts_(b, "<table><thead><tr><th>id</th><th>claim</th><th>status</th><th>measured</th><th>numbers</th><th>why</th></tr></thead><tbody>\n");
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(o, "claims"), i, c) {
    const char *fields[] = {"id", "name", "status", "measured", "numbers", "why"};
    puts_(b, "<tr>");
    for (int k = 0; k < 6; k++) {
      json_t *v = json_object_get(c, fields[k]);
      char *txt = NULL;
      if (json_is_string(v))
        txt = strdup(json_string_value(v));
      else if (v)
        txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
      const char *cls = "";
      if (k == 2 && txt) cls = (!strcmp(txt, "PASS") || !strcmp(txt, "pass")) ? " class=pass" : " class=fail";
      pf(b, "<td%s>", cls);
      if (txt) esc(b, txt);
      puts_(b, "</td>");
      free(txt);
    }
    puts_(b, "</tr>\n");
  }
  puts_(b, "</tbody></table>\n");
  json_decref(o);
}

static double jnum(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static void section_run_metrics(hbuf *b, const char *dir) {
  char *p = ss_path_join(dir, "run.json");
  json_error_t je;
  json_t *o = json_load_file(p, 0, &je);
  free(p);
  puts_(b, "<h2 id=metrics>Metrics</h2>\n");
  if (o) {
    json_t *st = json_object_get(o, "start"), *fi = json_object_get(o, "final");
    const char *status = json_string_value(json_object_get(o, "status"));
    const char *model = json_string_value(json_object_get(o, "model"));
    puts_(b, "<p>Status <b>");
    esc(b, status ? status : "?");
    puts_(b, "</b>, model ");
    esc(b, model ? model : "?");
    pf(b, ", seed %lld, M = %lld tokens, N = %lld classes.</p>\n", (long long)json_integer_value(json_object_get(o, "seed")),
       (long long)json_integer_value(json_object_get(o, "M")), (long long)json_integer_value(json_object_get(o, "N")));
    if (st && fi) {
      puts_(b, "<table><thead><tr><th>quantity</th><th>start</th><th>end</th></tr></thead><tbody>\n");
      pf(b, "<tr><td>loss</td><td>%.6g</td><td>%.6g</td></tr>\n", jnum(st, "loss"), jnum(fi, "loss"));
      pf(b, "<tr><td>accuracy</td><td></td><td>%.6g</td></tr>\n", jnum(fi, "acc"));
      const char *m[] = {"entropy", "entropy_distinct", "common_mass", "distinct_mass", "kendall_tau"};
      for (int k = 0; k < 5; k++)
        pf(b, "<tr><td>%s</td><td>%.6g</td><td>%.6g</td></tr>\n", m[k], jnum(json_object_get(st, "metrics"), m[k]),
           jnum(json_object_get(fi, "metrics"), m[k]));
      puts_(b, "</tbody></table>\n");
    }
    json_decref(o);
  }
  p = ss_path_join(dir, "metrics.csv");
  ss_csv t;
  ss_err e;
  if (ss_csv_read(p, &t, &e) == SS_OK) {
    puts_(b, "<h3>metrics.csv</h3>\n");
    csv_table(b, &t, 26);
    ss_csv_free(&t);
  }
  free(p);
}

static void section_sweep(hbuf *b, const char *dir) {
  ss_sweep s;
  ss_err e;
  if (ss_sweep_load_dir(&s, dir, &e) == SS_OK) {
    long np = ss_sweep_npoints(&s);
    pf(b, "<h2 id=sweep>Sweep</h2>\n<p>%ld runs; swept keys:</p><ul>\n", np);
    for (int a = 0; a < s.naxes; a++) {
      puts_(b, "<li><code>");
      esc(b, s.axes[a].key);
      puts_(b, "</code> = ");
      for (int i = 0; i < s.axes[a].n; i++) {
        if (i) puts_(b, ", ");
        esc(b, s.axes[a].values[i]);
      }
      puts_(b, "</li>\n");
    }
    puts_(b, "</ul>\n<p>Command: <code>");
    esc(b, s.command);
    puts_(b, "</code></p>\n");
    ss_sweep_free(&s);
  }
  char *p = ss_path_join(dir, "comparison.csv");
  ss_csv t;
  if (ss_csv_read(p, &t, &e) == SS_OK) {
    puts_(b, "<h2 id=comparison>Comparison with the paper</h2>\n<p>Our means against the reference table (the paper's Figure 6); "
             "<i>diff_in_ref_se</i> is the difference in units of the paper's standard error std/&radic;n.</p>\n");
    char *md = slurp(dir, "comparison.md");
    const char *ov = md ? strstr(md, "\nOverall") : NULL;
    if (ov) {
      puts_(b, "<p class=overall>");
      esc(b, ov + 1);
      puts_(b, "</p>\n");
    }
    free(md);
    csv_table(b, &t, 0);
    ss_csv_free(&t);
  }
  free(p);
  p = ss_path_join(dir, "aggregate.csv");
  if (ss_csv_read(p, &t, &e) == SS_OK) {
    puts_(b, "<h2 id=metrics>Metrics: aggregate over seeds</h2>\n<p>Mean and sample standard deviation over seeds of each final metric (aggregate.csv).</p>\n");
    csv_table(b, &t, 0);
    ss_csv_free(&t);
  }
  free(p);
}

int ss_report_write(const char *dir, const ss_plot_set *figs, char *path, size_t n, ss_err *err) {
  char *sj = ss_path_join(dir, "sweep.json"), *rj = ss_path_join(dir, "run.json");
  int is_sweep = ss_file_exists(sj), is_run = ss_file_exists(rj);
  free(sj);
  free(rj);
  if (!is_sweep && !is_run) return ss_seterr(err, SS_EINPUT, "'%s' is neither a run directory (run.json) nor a sweep directory (sweep.json)", dir);
  hbuf b = {0};
  puts_(&b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n<title>scansnap report: ");
  esc(&b, dir);
  puts_(&b, "</title>\n<style>\n"
            "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\n"
            "h1{font-size:1.8em;border-bottom:2px solid #1f77b4}h2{margin-top:2em;border-bottom:1px solid #ccc}\n"
            "figure{margin:1.5em 0;padding:.5em;border:1px solid #e4e4e4;border-radius:6px;background:#fff}\n"
            "figure svg{max-width:100%;height:auto;display:block;margin:auto}figcaption{text-align:center;color:#555;font-size:.95em}\n"
            "table{border-collapse:collapse;font-size:.85em;margin:1em 0;display:block;overflow-x:auto}\n"
            "th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f6fa}\n"
            "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}.note{color:#666;font-size:.85em}\n"
            ".pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.overall{font-weight:500}\n"
            "nav a{margin-right:1em}\n</style></head><body>\n");
  puts_(&b, "<h1>scansnap report</h1>\n<p>");
  pf(&b, "%s <code>", is_sweep ? "Sweep" : "Run");
  esc(&b, dir);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[64];
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M UTC", &tm);
  pf(&b, "</code>, report written %s by scansnap %s (Tian et al., &ldquo;Scan and Snap&rdquo;, NeurIPS 2023).</p>\n", ts, SS_VERSION);
  puts_(&b, "<nav><a href='#figures'>Figures</a><a href='#metrics'>Metrics</a>");
  if (is_sweep) puts_(&b, "<a href='#comparison'>Comparison</a>");
  puts_(&b, "<a href='#config'>Configuration</a>");
  char *cj = ss_path_join(dir, "claims.json");
  if (ss_file_exists(cj)) puts_(&b, "<a href='#claims'>Claims</a>");
  free(cj);
  puts_(&b, "</nav>\n");

  section_claims(&b, dir);
  puts_(&b, "<h2 id=figures>Figures</h2>\n");
  int shown = 0;
  for (int i = 0; figs && i < figs->n; i++) {
    char fn[96];
    snprintf(fn, sizeof fn, "%s.svg", figs->name[i]);
    char *svg = slurp(figs->figdir, fn);
    if (!svg) continue;
    char pre[80];
    snprintf(pre, sizeof pre, "f%d_", i);
    pf(&b, "<figure id='fig-%s'>\n", figs->name[i]);
    inline_svg(&b, svg, pre);
    puts_(&b, "\n<figcaption>");
    esc(&b, figs->title[i]);
    pf(&b, " (<code>figures/%s.png</code>, <code>.svg</code>)</figcaption></figure>\n", figs->name[i]);
    free(svg);
    shown++;
  }
  if (!shown) puts_(&b, "<p class=note>No figures (gnuplot not available, or `scansnap plot` failed).</p>\n");
  if (is_sweep)
    section_sweep(&b, dir);
  else
    section_run_metrics(&b, dir);
  puts_(&b, "<h2 id=config>Configuration</h2>\n");
  char *cfg = slurp(dir, "config.yaml");
  if (cfg) {
    puts_(&b, "<pre>");
    esc(&b, cfg);
    puts_(&b, "</pre>\n");
    free(cfg);
  } else {
    puts_(&b, "<p class=note>No config.yaml.</p>\n");
  }
  puts_(&b, "</body></html>\n");
  if (b.oom) {
    free(b.buf);
    return ss_seterr(err, SS_ERUN, "out of memory writing the report");
  }
  char *p = ss_path_join(dir, "report.html");
  int rc = ss_write_file_atomic(p, b.buf, b.n, err);
  if (rc == SS_OK) snprintf(path, n, "%s", p);
  free(p);
  free(b.buf);
  return rc;
}
