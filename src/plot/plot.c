/* Figures of a directory (plot.h): what kind it is, which options apply to it, the figures
 * of each part, then the files written. Every figure is NAME.body.gp (the plot, no terminal)
 * loaded twice by NAME.gp: once into a PNG, once into an SVG, so both show the same
 * picture. Sizes and fonts are chosen to be readable at 100%. */
#include <stdlib.h>
#include <string.h>

#include "plot/plot_int.h"
#include "scansnap/io.h"

void ss_plot_opts_default(ss_plot_opts *o) {
  memset(o, 0, sizeof *o);
  o->cls = -1;
}

/* A run and, with theory_dir, the theory run drawn over it (same configuration). */
static int plot_one_run(ss_plan *p, const char *dir, const char *theory_dir, ss_err *err) {
  ss_rundir r, th;
  int rc = ss_rundir_load(dir, &r, err);
  if (rc) return rc;
  if (r.m.ncols == 0) {
    rc = ss_seterr(err, SS_EINPUT, "run '%s' (%s%s%s) wrote no metrics.csv: nothing to draw", dir, r.status, r.error[0] ? ": " : "", r.error);
    ss_rundir_free(&r);
    return rc;
  }
  int have_th = 0;
  if (theory_dir) {
    int kind;
    if ((rc = ss_dir_kind(theory_dir, &kind, err)) == SS_OK && kind != SS_KIND_RUN)
      rc = ss_seterr(err, SS_EINPUT, "key 'theory': '%s' is not a run directory (run.json)", theory_dir);
    if (rc == SS_OK && (rc = ss_rundir_load(theory_dir, &th, err)) == SS_OK) have_th = 1;
    if (rc == SS_OK) rc = ss_rundir_same_dynamics(&r, &th, err);
    if (rc && strncmp(err->msg, "key 'theory'", 12)) ss_seterr(err, rc, "key 'theory': %s", err->msg);
  }
  if (rc == SS_OK) rc = ss_plot_run(p, &r, have_th ? &th : NULL, err);
  if (rc == SS_OK && r.lm) rc = ss_plot_attention(p, &r, err);
  if (have_th) ss_rundir_free(&th);
  ss_rundir_free(&r);
  return rc;
}

/* verify's directory: sgd/ with theory/ over it, text/, JoMA's runs and J3's comparison;
 * each a real folder or absent. */
static int plot_verify(ss_plan *p, const char *dir, ss_err *err) {
  int present[SS_VERIFY_NSUBS];
  for (int i = 0; i < SS_VERIFY_NSUBS; i++) {
    const char *sub = ss_verify_subs[i].name;
    ss_in_kind k = ss_in_stat(dir, sub);
    if (k == SS_IN_OTHER || k == SS_IN_FILE)
      return ss_seterr(err, SS_EINPUT, "'%s/%s' is not a real folder (a link or a file): verify's runs are folders inside its directory", dir, sub);
    char rel[64];
    snprintf(rel, sizeof rel, "%s/run.json", sub);
    present[i] = k == SS_IN_DIR && ss_in_stat(dir, rel) == SS_IN_FILE;
  }
  int rc = SS_OK;
  const ss_plot_opts *given = p->o;
  ss_plot_opts text_opts = *given;
  text_opts.cls = -1; /* class=K is about the runs on classes (sgd/, theory/), not the others */
  for (int i = 0; i < SS_VERIFY_NSUBS && rc == SS_OK; i++) {
    if (!present[i] || (i == 1 && present[0])) continue; /* the theory run is drawn over sgd/ */
    const char *name = ss_verify_subs[i].name;
    char *sub = ss_path_join(dir, name), *th = present[1] && i == 0 ? ss_path_join(dir, "theory") : NULL;
    snprintf(p->prefix, sizeof p->prefix, "%s_", name);
    snprintf(p->group, sizeof p->group, "%s", name);
    p->o = i >= 2 ? &text_opts : given;
    rc = sub ? plot_one_run(p, sub, th, err) : ss_seterr(err, SS_ERUN, "out of memory");
    free(sub);
    free(th);
  }
  p->o = given;
  p->prefix[0] = 0;
  snprintf(p->group, sizeof p->group, "j3");
  if (rc == SS_OK) rc = ss_plot_j3(p, dir, err);
  p->group[0] = 0;
  return rc;
}

static int prepare_kind(const char *dir, const ss_plot_opts *o, ss_plot_set *set, int kind, ss_err *err) {
  int rc;
  char *fd = ss_path_join(dir, "figures");
  if (!fd || strlen(fd) >= sizeof set->figdir) {
    free(fd);
    return ss_seterr(err, SS_EINPUT, "path '%.64s...' is too long", dir);
  }
  snprintf(set->figdir, sizeof set->figdir, "%s", fd);
  free(fd);
  /* an option that does not apply to this kind of directory is an error, not ignored */
  const char *sweep_only = o->x ? "x" : o->by ? "by" : o->panel ? "panel" : o->metric ? "metric" : NULL;
  if (kind != SS_KIND_SWEEP && sweep_only)
    return ss_seterr(err, SS_EINPUT, "key '%s' applies to sweep directories; '%s' is a %s directory", sweep_only, dir, kind == SS_KIND_RUN ? "run" : "verify");
  if (kind == SS_KIND_SWEEP && (o->theory_dir || o->cls >= 0))
    return ss_seterr(err, SS_EINPUT, "key '%s' applies to run directories; '%s' is a sweep directory", o->theory_dir ? "theory" : "class", dir);
  if (kind == SS_KIND_VERIFY && o->theory_dir)
    return ss_seterr(err, SS_EINPUT, "key 'theory': '%s' is verify's directory, whose theory/ run is drawn over its sgd/ run already", dir);
  ss_plan p = {0};
  p.set = set;
  p.o = o;
  if (kind == SS_KIND_RUN) rc = plot_one_run(&p, dir, o->theory_dir, err);
  else if (kind == SS_KIND_SWEEP) rc = ss_plot_sweep(&p, dir, err);
  else rc = plot_verify(&p, dir, err);
  if (rc == SS_OK) rc = ss_plan_commit(&p, dir, err);
  ss_plan_free(&p);
  return rc;
}

int ss_plot_prepare(const char *dir, const ss_plot_opts *o, ss_plot_set *set, ss_err *err) {
  memset(set, 0, sizeof *set);
  ss_plot_opts def;
  if (!o) {
    ss_plot_opts_default(&def);
    o = &def;
  }
  int kind, rc = ss_dir_kind(dir, &kind, err);
  if (rc) return rc;
  set->kind = kind;
  rc = prepare_kind(dir, o, set, kind, err);
  if (rc) {
    set->n = set->ncsv = 0;
    /* a message about an option names it ("key 'x': ..."), as every bad-input message does */
    set->bad_option = !strncmp(err->msg, "key", 3);
  }
  return rc;
}
