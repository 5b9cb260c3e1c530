/* scansnap plot DIR [theory=DIR] [class=K] [x=KEY] [by=KEY] [panel=KEY] [metric=NAME]
 * [colour=linear|log] [csv=true|false] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

static void plot_help(void) {
  printf("usage: scansnap plot DIR [theory=THEORY_RUN_DIR] [class=K] [x=KEY] [by=KEY] [panel=KEY]\n"
         "                    [metric=NAME] [colour=linear|log] [csv=true|false]\n\n"
         "Writes figures (PNG and SVG, with their gnuplot scripts and data) into DIR/figures/, for\n"
         "any directory scansnap writes:\n"
         "  a run: loss_acc, mass (common vs distinct tokens), entropy, composition (the paper's\n"
         "    Figure 4: c_n of class K, default 0, over the save steps) and composition_classes\n"
         "    (every class); theory=DIR draws a theory run of the same configuration (scansnap\n"
         "    theory) dashed over the curves and its heatmap beside the run's;\n"
         "  a language-model run: loss_acc (with validation loss), attn_entropy, freq_mass and\n"
         "    attention (Figure 7, from attention.safetensors);\n"
         "  a sweep: METRIC against the swept key x, one panel per value of panel, one line per\n"
         "    value of by (and of any other swept key), error bars = std over seeds; defaults:\n"
         "    the paper's Figure-6 layout (fig6.png, t0.png) when opt.lr_y_multi_on_z is swept,\n"
         "    else x = the first swept key with numeric values, by and panel the next ones\n"
         "    (METRIC_vs_X.png); metric = sweep.json's, or any column of aggregate.csv\n"
         "    (x=seed: each run, from sweep.csv); by=none, panel=none for fewer lines/panels;\n"
         "  verify's directory: its sgd/ run with theory/ over it (sgd_*), its text/ run (text_*).\n"
         "colour=log draws the heatmaps on a log colour scale; csv=true also writes\n"
         "figures/c_n.csv (step,class,token,c) and figures/attention.csv\n"
         "(step,layer,head,query,key,query_word,key_word,weight).\n"
         "An argument that is an existing directory is DIR, whatever its name (a sweep's run\n"
         "folders hold '=').\n");
}

static int bool_arg(const char *a, const char *v, int *out) {
  if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *out = 1;
  else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *out = 0;
  else {
    fprintf(stderr, "scansnap: argument '%s': expected true or false\n", a);
    return 2;
  }
  return 0;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int ss_cli_plot_args(int argc, char **argv, const char **dir, ss_plot_opts *o) {
  *dir = NULL;
  ss_plot_opts_default(o);
  static const char *const keys[] = {"theory=", "class=", "x=", "by=", "panel=", "metric=", "colour=", "color=", "csv="};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int key = -1;
    for (int k = 0; k < (int)(sizeof keys / sizeof keys[0]); k++)
      if (!strncmp(a, keys[k], strlen(keys[k]))) key = k;
    /* a path is a path: an existing directory is DIR even when its name holds '=' */
    if (!*dir && is_dir(a)) {
      *dir = a;
      continue;
    }
    const char *v = key >= 0 ? a + strlen(keys[key]) : NULL;
    switch (key) {
    case 0: o->theory_dir = v; break;
    case 1: {
      char *e;
      long k = strtol(v, &e, 10);
      if (*e || e == v || k < 0 || k > 1000000) {
        fprintf(stderr, "scansnap: argument '%s': class must be a class index (0, 1, ...)\n", a);
        return 2;
      }
      o->cls = (int)k;
      break;
    }
    case 2: o->x = v; break;
    case 3: o->by = v; break;
    case 4: o->panel = v; break;
    case 5: o->metric = v; break;
    case 6:
    case 7:
      if (strcmp(v, "log") && strcmp(v, "linear")) {
        fprintf(stderr, "scansnap: argument '%s': colour must be linear or log\n", a);
        return 2;
      }
      o->log_colour = !strcmp(v, "log");
      break;
    case 8:
      if (bool_arg(a, v, &o->csv)) return 2;
      break;
    default:
      if (!*dir && strncmp(a, "--", 2) && !strchr(a, '=')) {
        *dir = a; /* not a directory: ss_plot_prepare says so */
      } else {
        fprintf(stderr, "scansnap: unexpected argument '%s' (usage: scansnap %s DIR [theory=DIR] [class=K] [x=KEY] [by=KEY] [panel=KEY] [metric=NAME] [colour=log] [csv=true]; "
                        "'%s' is not an existing directory)\n", a, argv[0], a);
        return 2;
      }
    }
    if (key >= 0 && !*v) {
      fprintf(stderr, "scansnap: argument '%s': empty value\n", a);
      return 2;
    }
  }
  if (!*dir) {
    fprintf(stderr, "scansnap: %s needs a run, sweep or verify directory\n", argv[0]);
    return 2;
  }
  return 0;
}

int cmd_plot(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    plot_help();
    return 0;
  }
  const char *dir;
  ss_plot_opts o;
  int rc = ss_cli_plot_args(argc, argv, &dir, &o);
  if (rc) return rc;
  ss_plot_set set;
  ss_err err = {0};
  if ((rc = ss_plot_prepare(dir, &o, &set, &err))) return ss_cli_fail(&err);
  if ((rc = ss_cli_gnuplot(&set, 0, &err))) return ss_cli_fail(&err);
  for (int i = 0; i < set.n; i++) printf("figure:         %s/%s.png  %s.svg  (%s)\n", set.figdir, set.fig[i].name, set.fig[i].name, set.fig[i].title);
  for (int i = 0; i < set.ncsv; i++) printf("csv:            %s/%s\n", set.figdir, set.csv[i]);
  return 0;
}
