/* The sweep grid parser: the input read as command-line arguments, one per line
 * (ss_sweep_arg: lists a,b,c and ranges a:b[:step]), and as a sweep YAML file
 * (ss_sweep_load_yaml). Property: a grid that checks has as many points as the product of
 * its axes' lengths (SS_SWEEP_MAX_POINTS + 1 past the limit), and every point's configuration validates with a distinct name. */
#include "fuzz.h"

#include <scansnap/sweep.h>

static void check_grid(ss_sweep *s) {
  long np = ss_sweep_npoints(s);
  double prod = 1; /* exact up to 2^53, far past the limit */
  for (int a = 0; a < s->naxes; a++) prod *= s->axes[a].n;
  SS_FUZZ_ASSERT(prod > SS_SWEEP_MAX_POINTS ? np == SS_SWEEP_MAX_POINTS + 1L : np == (long)prod);
  if (np > 2000) return; /* large grids are legal, checking them all is only slow */
  ss_err err;
  if (ss_sweep_check(s, &err) != SS_OK) return;
  char prev[SS_PATH_MAX] = "";
  for (long i = 0; i < np && i < 50; i++) {
    ss_config cfg;
    char name[SS_PATH_MAX];
    SS_FUZZ_ASSERT(ss_sweep_point(s, i, &cfg, name, sizeof name, &err) == SS_OK);
    SS_FUZZ_ASSERT(ss_config_validate(&cfg, &err) == SS_OK);
    SS_FUZZ_ASSERT(i == 0 || strcmp(prev, name) != 0);
    snprintf(prev, sizeof prev, "%s", name);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ss_sweep s;
  ss_err err;
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  ss_sweep_init(&s);
  int ok = 1;
  for (char *line = text, *next; line && ok; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (*line) ok = ss_sweep_arg(&s, line, &err) == SS_OK;
  }
  free(text);
  if (ok) check_grid(&s);
  ss_sweep_free(&s);

  ss_sweep_init(&s);
  if (ss_sweep_load_yaml(&s, ss_fuzz_path(0, data, size), &err) == SS_OK) check_grid(&s);
  ss_sweep_free(&s);
  return 0;
}
