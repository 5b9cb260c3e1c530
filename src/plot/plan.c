/* The figure plan (plot_int.h): scripts and data in memory until the whole directory has
 * been read and checked, then written into figures/ atomically, file by file (temp file +
 * rename: an existing link of the same name is replaced, never written through). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"
#include "scansnap/io.h"

const char *const ss_plot_colors[8] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

void ss_plan_name(const ss_plan *p, const char *name, char *buf, size_t n) {
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s%s", p->prefix, name);
  ss_fname_part(buf, n, tmp);
}

int ss_plan_file(ss_plan *p, const char *name, ss_sbuf *data, ss_err *err) {
  if (data->oom) {
    ss_sb_free(data);
    return ss_seterr(err, SS_ERUN, "out of memory preparing the figures");
  }
  if (p->nfiles == p->capfiles) {
    int nc = p->capfiles ? p->capfiles * 2 : 32;
    char **nf = realloc(p->fname, sizeof(char *) * (size_t)nc);
    if (nf) p->fname = nf;
    ss_sbuf *nd = nf ? realloc(p->fdata, sizeof(ss_sbuf) * (size_t)nc) : NULL;
    if (nd) p->fdata = nd;
    if (!nf || !nd) {
      ss_sb_free(data);
      return ss_seterr(err, SS_ERUN, "out of memory preparing the figures");
    }
    p->capfiles = nc;
  }
  char fn[160];
  ss_plan_name(p, name, fn, sizeof fn);
  p->fname[p->nfiles] = strdup(fn);
  p->fdata[p->nfiles] = *data;
  memset(data, 0, sizeof *data);
  if (!p->fname[p->nfiles]) {
    ss_sb_free(&p->fdata[p->nfiles]);
    return ss_seterr(err, SS_ERUN, "out of memory preparing the figures");
  }
  p->nfiles++;
  return SS_OK;
}

int ss_plan_figure(ss_plan *p, const char *name, const char *caption, int w, int h, ss_sbuf *body, ss_err *err) {
  ss_plot_set *set = p->set;
  if (set->n >= SS_PLOT_MAX) {
    ss_sb_free(body);
    return ss_seterr(err, SS_ERUN, "more than %d figures", SS_PLOT_MAX);
  }
  char full[96], fn[128];
  ss_plan_name(p, name, full, sizeof full);
  snprintf(fn, sizeof fn, "%s.body.gp", name);
  int rc = ss_plan_file(p, fn, body, err);
  if (rc) return rc;
  /* the caption stays out of the script: it holds text from the directory */
  ss_sbuf g = {0};
  ss_sb_printf(&g,
               "# %s: run `gnuplot %s.gp` in this folder; writes %s.png and %s.svg\n"
               "set encoding utf8\n"
               "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) {\n"
               "  set terminal pngcairo size %d,%d enhanced font 'Sans,12' background rgb 'white'\n"
               "} else {\n"
               "  set terminal png size %d,%d enhanced font 'Sans,12' background rgb 'white'\n"
               "}\n"
               "set output '%s.png'\nload '%s.body.gp'\nunset output\n"
               "set terminal svg size %d,%d enhanced font 'Sans,12' background rgb 'white'\n"
               "set output '%s.svg'\nload '%s.body.gp'\nunset output\n",
               full, full, full, full, w, h, w, h, full, full, w, h, full, full);
  snprintf(fn, sizeof fn, "%s.gp", name);
  if ((rc = ss_plan_file(p, fn, &g, err))) return rc;
  ss_plot_fig *f = &set->fig[set->n++];
  snprintf(f->name, sizeof f->name, "%s", full);
  snprintf(f->title, sizeof f->title, "%s", caption);
  snprintf(f->group, sizeof f->group, "%s", p->group);
  return SS_OK;
}

int ss_plan_csv_open(ss_plan_csv *c, ss_err *err) {
  memset(c, 0, sizeof *c);
  c->f = open_memstream(&c->buf, &c->n);
  if (!c->f) return ss_seterr(err, SS_ERUN, "out of memory preparing a CSV file");
  ss_csv_writer_init(&c->w, c->f);
  return SS_OK;
}

int ss_plan_csv_close(ss_plan *p, ss_plan_csv *c, const char *name, ss_err *err) {
  int bad = ferror(c->f);
  if (fclose(c->f) != 0 || bad || !c->buf) {
    free(c->buf);
    return ss_seterr(err, SS_ERUN, "out of memory preparing %s", name);
  }
  ss_sbuf d = {c->buf, c->n, c->n + 1, 0};
  ss_plot_set *set = p->set;
  if (set->ncsv < (int)(sizeof set->csv / sizeof set->csv[0])) ss_plan_name(p, name, set->csv[set->ncsv++], sizeof set->csv[0]);
  return ss_plan_file(p, name, &d, err);
}

int ss_plan_commit(ss_plan *p, const char *dir, ss_err *err) {
  int rc = ss_in_mkdir(dir, "figures", err);
  for (int i = 0; rc == SS_OK && i < p->nfiles; i++) {
    char *path = ss_path_join(p->set->figdir, p->fname[i]);
    if (!path) return ss_seterr(err, SS_ERUN, "out of memory");
    rc = ss_write_file_atomic(path, p->fdata[i].buf ? p->fdata[i].buf : "", p->fdata[i].n, err);
    free(path);
  }
  return rc;
}

void ss_plan_free(ss_plan *p) {
  for (int i = 0; i < p->nfiles; i++) {
    free(p->fname[i]);
    ss_sb_free(&p->fdata[i]);
  }
  free(p->fname);
  free(p->fdata);
  p->fname = NULL;
  p->fdata = NULL;
  p->nfiles = p->capfiles = 0;
}
