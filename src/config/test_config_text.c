/* Text values (paths) round-trip through config.yaml, which `train --resume` reads back:
 * non-ASCII (including line-break-like U+0085 and U+2028) comes back unchanged; values
 * that cannot round-trip (invalid UTF-8, found by fuzz_config; control characters) are
 * rejected when given, with a message naming the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "scansnap/all.h"

static void non_ascii_paths_survive_config_yaml(void **state) {
  (void)state;
  const char *values[] = {"runs/caf\xc3\xa9", "a\xc2\x85z", "line\xe2\x80\xa8sep", "emoji\xf0\x9f\x98\x80", "q\"uo\\te", "\xc2\x80\xc2\x9f"};
  char *dir = ss_test_tmpdir("config-text");
  char *path = ss_path_join(dir, "config.yaml");
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    ss_config c, back;
    ss_err err;
    ss_config_defaults(&c);
    assert_int_equal(ss_config_set(&c, "out", values[i], &err), SS_OK);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    ss_config_write_yaml(&c, f);
    fclose(f);
    ss_config_defaults(&back);
    assert_int_equal(ss_config_load_yaml(&back, path, &err), SS_OK);
    assert_string_equal(back.out, values[i]);
  }
  free(path);
  free(dir);
}

static void invalid_utf8_and_control_characters_are_rejected(void **state) {
  (void)state;
  ss_config c;
  ss_err err;
  ss_config_defaults(&c);
  assert_int_equal(ss_config_override(&c, "data.classes=some/path.jso\xcf\xcf", &err), SS_EINPUT);
  assert_string_equal(err.msg, "key 'data.classes': value is not valid UTF-8 (byte 14)");
  assert_int_equal(ss_config_override(&c, "out=a\tb", &err), SS_EINPUT);
  assert_string_equal(err.msg, "key 'out': value contains the control character 0x09 (byte 2)");
  assert_int_equal(ss_config_override(&c, "out=\xed\xa0\x80", &err), SS_EINPUT); /* a UTF-16 surrogate */
  assert_int_equal(ss_config_override(&c, "out=\xc0\xaf", &err), SS_EINPUT);     /* overlong '/' */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(non_ascii_paths_survive_config_yaml),
      cmocka_unit_test(invalid_utf8_and_control_characters_are_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
