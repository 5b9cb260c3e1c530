/* The escapers of plot_int.h. ss_gp_str: any text (quotes of both kinds, backquotes, @macros,
 * enhanced-text markup, backslashes, line breaks, terminal escapes, bytes that are not UTF-8)
 * becomes one single-quoted gnuplot string that gnuplot draws literally: rendered into an
 * SVG by gnuplot itself, each label reads back (parsed as XML by Python) as the text given,
 * with & shown as U+FF06 and control characters as spaces, and no command in it ran.
 * ss_html_text, ss_fname_part, ss_text_clean: exact outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "plot/plot_int.h"
#include <scansnap/io.h>

/* each text and how gnuplot must draw it */
static const struct {
  const char *text, *drawn;
} cases[] = {
    {"plain", "plain"},
    {"it's \"quoted\"", "it's \"quoted\""},
    {"' 1); system 'touch pwned_a'; #", "' 1); system 'touch pwned_a'; #"},
    {"\" 1); system \"touch pwned_b\"; #", "\" 1); system \"touch pwned_b\"; #"},
    {"''''x'' ''", "''''x'' ''"},
    {"`touch pwned_c` $(touch pwned_d)", "`touch pwned_c` $(touch pwned_d)"},
    {"@ARG0 @foo", "@ARG0 @foo"},
    {"data.zipf_exponent x^2 {/Symbol a} ~a", "data.zipf_exponent x^2 {/Symbol a} ~a"},
    {"back\\slash\\", "back\\slash\\"},
    {"a & b &amp; <script>", "a \xef\xbc\x86 b \xef\xbc\x86" "amp; <script>"},
    {"line\nbreak\rand\ttab", "line break and tab"},
    {"esc \x1b]0;title\x07 \x1b[2J", "esc  ]0;title   [2J"},
    {"caf\xc3\xa9 \xe2\x86\x92 \xff\xfe bad", "caf\xc3\xa9 \xe2\x86\x92 \xef\xbf\xbd\xef\xbf\xbd bad"},
};
#define NS (int)(sizeof cases / sizeof cases[0])

static void gnuplot_draws_every_label_literally(void **state) {
  (void)state;
  if (ss_test_sh(NULL, "command -v gnuplot >/dev/null") != 0) skip();
  char *dir = ss_test_tmpdir("gptext");
  ss_sbuf b = {0};
  ss_sb_puts(&b, "set terminal svg size 900,900 enhanced font 'Sans,10'\nset output 'labels.svg'\nunset border\nunset tics\n");
  for (int i = 0; i < NS; i++) {
    ss_sb_printf(&b, "set label %d ", i + 1);
    ss_gp_str(&b, cases[i].text, 0);
    ss_sb_printf(&b, " at screen 0.05, screen %g\n", 0.95 - 0.07 * i);
  }
  ss_sb_puts(&b, "plot [0:1] -1 notitle\n");
  /* the expected texts, one per line, for the reader below */
  ss_sbuf e = {0};
  for (int i = 0; i < NS; i++) ss_sb_printf(&e, "%s\n", cases[i].drawn);
  char *gp = ss_path_join(dir, "labels.gp"), *ex = ss_path_join(dir, "expect.txt");
  ss_err err;
  assert_int_equal(ss_write_file_atomic(gp, b.buf, b.n, &err), SS_OK);
  assert_int_equal(ss_write_file_atomic(ex, e.buf, e.n, &err), SS_OK);
  char *out = NULL;
  int rc = ss_test_sh(&out, "cd %s && gnuplot labels.gp 2>&1 && python3 -c '\n"
                            "import sys, xml.dom.minidom as m\n"
                            "d = m.parse(\"labels.svg\")\n"
                            "def text(n): return \"\".join(c.data if c.nodeType == c.TEXT_NODE else text(c) for c in n.childNodes)\n"
                            "got = [text(t) for t in d.getElementsByTagName(\"text\")]\n"
                            "want = open(\"expect.txt\", encoding=\"utf-8\").read().split(\"\\n\")[:-1]\n"
                            "missing = [w for w in want if w not in got]\n"
                            "print(\"missing:\", missing, \"got:\", got) if missing else print(\"all\", len(want))\n"
                            "sys.exit(1 if missing else 0)'",
                       dir);
  if (rc) fprintf(stderr, "%s\n", out ? out : "");
  assert_int_equal(rc, 0);
  free(out);
  /* nothing ran: no pwned_* file */
  assert_int_equal(ss_test_sh(NULL, "test -z \"$(ls %s | grep pwned)\"", dir), 0);
  ss_sb_free(&b);
  ss_sb_free(&e);
  free(gp);
  free(ex);
  free(dir);
}

static void escapers_give_exact_text(void **state) {
  (void)state;
  ss_sbuf b = {0};
  ss_gp_str(&b, "it's a_b & {c}\n@", 0);
  assert_string_equal(b.buf, "'it\\047s a\\_b \xef\xbc\x86 \\{c\\} \\@'");
  ss_sb_free(&b);
  ss_gp_text(&b, "abcdef", 3);
  assert_string_equal(b.buf, "abc\xe2\x80\xa6");
  ss_sb_free(&b);
  ss_html_text(&b, "<a href='x'>\"&\"</a>\n\x01");
  assert_string_equal(b.buf, "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;\n ");
  ss_sb_free(&b);
  char *c = ss_text_clean("a\x1b[31mred\x9b\n", 0);
  assert_string_equal(c, "a [31mred\xef\xbf\xbd ");
  free(c);
  char f[64];
  ss_fname_part(f, sizeof f, "../a b/c=d,e.png");
  assert_string_equal(f, "_._a_b_c_d_e.png");
  ss_fname_part(f, sizeof f, ".hidden");
  assert_string_equal(f, "_hidden");
  assert_true(ss_is_ident("data.zipf_exponent"));
  assert_false(ss_is_ident("a b"));
  assert_false(ss_is_ident(""));
  double v;
  assert_true(ss_parse_num("1e-3", &v) && v == 1e-3);
  assert_false(ss_parse_num("1x", &v));
  assert_false(ss_parse_num("", &v));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gnuplot_draws_every_label_literally),
      cmocka_unit_test(escapers_give_exact_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
