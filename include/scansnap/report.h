/* What a directory holds, for people: one self-contained HTML report, and a summary in a few
 * lines of text. Both read any directory scansnap writes (a run, a sweep, verify's
 * directory) as plot does (plot.h): only regular files inside it, every field checked, every
 * string escaped for where it goes.
 *
 * report.html: the claims of `verify` when DIR/claims.json exists
 * ({"claims": [{"id","name","status","measured","numbers","why"}], "all_passed"}), the figures
 * inlined as SVG (ids prefixed per figure so several gnuplot SVGs share one page), the
 * metrics (a run: first and last value of every metric and the metrics.csv rows; a sweep: its
 * swept keys, its comparison with the paper when it has one, its aggregate), the
 * configuration; for verify's directory each of its runs. No script, no external file: it
 * opens offline. */
#ifndef SCANSNAP_REPORT_H
#define SCANSNAP_REPORT_H
#include "scansnap/plot.h"

/* Writes DIR/report.html (figs may be NULL: no figures); its path into path. */
int ss_report_write(const char *dir, const ss_plot_set *figs, char *path, size_t n, ss_err *err);

/* `scansnap show DIR`: kind, status, configuration differences from the defaults, first and
 * last metrics, t0 from snap.json, claims; for a sweep its keys, counts, the lowest and
 * highest group mean of its metric. *text is malloc'd, safe to print to a terminal (no
 * control characters from the files). SS_EINPUT (nothing in *text) when the directory's own
 * files cannot be read; a broken sub-run of verify's directory is a line of the summary. */
int ss_show(const char *dir, char **text, ss_err *err);

#endif
