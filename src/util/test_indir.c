/* Reading inside a directory (io.h): a regular file is read whole; a symbolic link (as the
 * file or as a folder on the way), a FIFO, a path going up or out, a file over the size limit
 * are refused with SS_EINPUT and a message naming the file, and a FIFO never blocks; an
 * output folder is created, accepted when real, refused when it is a link or a file. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_test.h"
#include <scansnap/io.h>

static void regular_files_are_read_whole(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("indir-read");
  free(ss_test_write_file(d, "a.txt", "hello\n"));
  char *sub = ss_path_join(d, "sub");
  assert_int_equal(mkdir(sub, 0777), 0);
  free(ss_test_write_file(sub, "b.txt", "inner"));
  char *data;
  size_t n;
  ss_err err;
  assert_int_equal(ss_in_read(d, "a.txt", 100, &data, &n, &err), SS_OK);
  assert_int_equal(n, 6);
  assert_string_equal(data, "hello\n");
  free(data);
  assert_int_equal(ss_in_read(d, "sub/b.txt", 100, &data, &n, &err), SS_OK);
  assert_string_equal(data, "inner");
  free(data);
  assert_int_equal(ss_in_stat(d, "a.txt"), SS_IN_FILE);
  assert_int_equal(ss_in_stat(d, "sub"), SS_IN_DIR);
  assert_int_equal(ss_in_stat(d, "nope"), SS_IN_ABSENT);
  assert_int_equal(ss_in_stat(d, "nope/x"), SS_IN_ABSENT);
  char *p = ss_in_file(d, "sub/b.txt", &err);
  assert_non_null(p);
  assert_non_null(strstr(p, "sub/b.txt"));
  free(p);
  /* over the limit */
  assert_int_equal(ss_in_read(d, "a.txt", 5, &data, &n, &err), SS_EINPUT);
  assert_null(data);
  assert_non_null(strstr(err.msg, "a.txt"));
  free(sub);
  free(d);
}

static void links_fifos_and_escapes_are_refused(void **state) {
  (void)state;
  char *d = ss_test_tmpdir("indir-links");
  char *outside = ss_test_tmpdir("indir-outside");
  char *secret = ss_test_write_file(outside, "secret", "SECRET");
  char *l1 = ss_path_join(d, "metrics.csv"), *l2 = ss_path_join(d, "sub"), *f = ss_path_join(d, "fifo");
  assert_int_equal(symlink(secret, l1), 0);
  assert_int_equal(symlink(outside, l2), 0);
  assert_int_equal(mkfifo(f, 0600), 0);
  char *data = (char *)1;
  size_t n;
  ss_err err;
  assert_int_equal(ss_in_read(d, "metrics.csv", 100, &data, &n, &err), SS_EINPUT);
  assert_null(data);
  assert_non_null(strstr(err.msg, "metrics.csv"));
  assert_non_null(strstr(err.msg, "link"));
  assert_int_equal(ss_in_read(d, "sub/secret", 100, &data, &n, &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "sub/secret"));
  assert_int_equal(ss_in_read(d, "fifo", 100, &data, &n, &err), SS_EINPUT); /* would block if opened */
  assert_int_equal(ss_in_stat(d, "metrics.csv"), SS_IN_OTHER);
  assert_int_equal(ss_in_stat(d, "sub"), SS_IN_OTHER);
  assert_int_equal(ss_in_stat(d, "sub/secret"), SS_IN_OTHER);
  assert_int_equal(ss_in_stat(d, "fifo"), SS_IN_OTHER);
  assert_null(ss_in_file(d, "metrics.csv", &err));
  assert_null(ss_in_file(d, "sub/secret", &err));
  /* paths that leave the directory */
  const char *bad[] = {"../x", "a/../../x", "/etc/passwd", "", "a//b", "."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(ss_in_read(d, bad[i], 100, &data, &n, &err), SS_EINPUT);
    assert_int_equal(ss_in_stat(d, bad[i]) == SS_IN_FILE, 0);
  }
  /* output folders: a link or a file is refused, nothing is written through it */
  assert_int_equal(ss_in_mkdir(d, "sub", &err), SS_EINPUT);
  assert_non_null(strstr(err.msg, "sub"));
  assert_int_equal(ss_in_mkdir(d, "fifo", &err), SS_EINPUT);
  assert_int_equal(ss_in_mkdir(d, "figures", &err), SS_OK);
  assert_int_equal(ss_in_stat(d, "figures"), SS_IN_DIR);
  assert_int_equal(ss_in_mkdir(d, "figures", &err), SS_OK);
  free(l1);
  free(l2);
  free(f);
  free(secret);
  free(outside);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(regular_files_are_read_whole),
      cmocka_unit_test(links_fifos_and_escapes_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
