/* scansnap show DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scansnap/report.h>

#include "cli/cli.h"

int cmd_show(int argc, char **argv) {
  if (ss_cli_wants_help(argc, argv)) {
    printf("usage: scansnap show DIR\n\n"
           "A summary of a run, sweep or verify directory without opening its files by hand: its\n"
           "kind and status, the configuration keys that differ from the defaults, the first and\n"
           "last value of every metric, t0 from snap.json, the claims of verify; for a sweep its\n"
           "swept keys, run counts and the lowest and highest mean of its metric. It only reads\n"
           "(regular files inside DIR; every field checked).\n");
    return 0;
  }
  if (argc != 2 || !strncmp(argv[1], "--", 2)) {
    fprintf(stderr, "scansnap: usage: scansnap show DIR (one run, sweep or verify directory)\n");
    return 2;
  }
  char *text;
  ss_err err = {0};
  if (ss_show(argv[1], &text, &err)) return ss_cli_fail(&err);
  fputs(text, stdout);
  free(text);
  return 0;
}
