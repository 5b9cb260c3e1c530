/* Shared by the files of src/sweep only: sweep.json, which marks and identifies a sweep
 * directory (written first by ss_sweep_run, again with the counts by ss_sweep_write_tables). */
#ifndef SS_SWEEP_INTERNAL_H
#define SS_SWEEP_INTERNAL_H
#include <jansson.h>

#include "scansnap/sweep.h"

#define SS_SWEEP_FORMAT "scansnap-sweep-1"

/* Writes DIR/sweep.json: format, id, command, options, the grid (axes, fixed keys) and, with
 * res, the counts by status (status "running" without). */
int ss_sweepi_write_json(const ss_sweep *s, const ss_sweep_results *res, double wall, int has_ref, int stopped, ss_err *err);
/* 1 if the sweep.json object old describes s's grid (theory, axes and their values in order,
 * the fixed keys); 0 and a line saying what differs ("... here, ... there") otherwise. */
int ss_sweepi_same_grid(const ss_sweep *s, json_t *old, char *why, size_t n);
#endif
