/* One self-contained HTML report of a run or a sweep: the figures inlined as SVG (ids
 * prefixed per figure so several gnuplot SVGs share one page), the configuration, the
 * metrics (a run's rows; a sweep's aggregate and its comparison with the paper), and the
 * claims of `verify` when DIR/claims.json exists
 * ({"claims": [{"id","name","status","measured","numbers","why"}], "all_passed"}).
 * No script, no external file: it opens offline. */
#ifndef SCANSNAP_REPORT_H
#define SCANSNAP_REPORT_H
#include "scansnap/plot.h"

/* Writes DIR/report.html (figs may be NULL: no figures); its path into path. */
int ss_report_write(const char *dir, const ss_plot_set *figs, char *path, size_t n, ss_err *err);

#endif
