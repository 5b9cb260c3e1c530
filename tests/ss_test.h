/* Helpers for the cmocka tests: scratch folders and running the CLI. */
#ifndef SS_TEST_H
#define SS_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh empty folder under $SS_TMP (or /tmp) named after tag; malloc'd. */
char *ss_test_tmpdir(const char *tag);
/* Writes text to dir/name (a test failure if it cannot); returns the path, malloc'd. */
char *ss_test_write_file(const char *dir, const char *name, const char *text);
/* Runs a shell command line; returns its exit status; stdout+stderr into *out (malloc'd) if out. */
int ss_test_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Path of the CLI binary ($SS_CLI). */
const char *ss_test_cli(void);
const char *ss_test_srcdir(void);
#endif
