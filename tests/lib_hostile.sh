# Shared by tests/test_hostile_*.sh (sourced, not a test): directories written by someone
# else (a shared sweep folder, a tarball) opened with `scansnap plot/report/show`.
# Needs $cli; hostile_setup makes $tmp. What every hostile test asserts:
#   - no command ran: the payloads below all try to create a file named pwned* (relative to
#     wherever the command would run, or in $tmp), and none may exist anywhere under $tmp;
#   - nothing outside the directory changed: $tmp/outside (victims a link may point at, a
#     secret a link may pull in) has the same files and bytes before and after;
#   - the secret's text appears in no output.

# shellcheck source=tests/lib_plot.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_plot.sh"

# hostile_setup NAME: plot_setup NAME, then the files outside the directory (outside_setup)
hostile_setup() {
  plot_setup "$1"
  outside_setup
}

# Strings meant to escape a gnuplot string (either quote), gnuplot's backquote and macro
# substitution, a shell, HTML; no comma and no slash, so they also survive as sweep values and
# run folder names. Each one, if interpreted, creates a file named pwned<N>.
payloads=(
  "\" 1); system \"touch pwned1\"; #"
  "' 1); system 'touch pwned2'; #"
  "\`touch pwned3\`"
  "\$(touch pwned4)"
  "a'; system('touch pwned5'); b='"
  "<script>document.title='pwned6'</script>"
  "<img src=x onerror=\"document.title='pwned7'\">"
  "@ARG0 \\ {/Symbol a} x_{1}^2 &amp; ~a"
)
# the same with a line break (JSON files can hold one): a new gnuplot command if unescaped
payload_nl=$'x\nsystem "touch pwned8"\n'

outside_setup() {
  mkdir -p "$tmp/outside/figs"
  echo "victim file: must keep these bytes" >"$tmp/outside/victim"
  echo "another victim" >"$tmp/outside/victim2"
  echo "SECRET-7f3a: private text outside the run directory" >"$tmp/outside/secret"
  printf 'step,loss\n0,SECRET-7f3a\n' >"$tmp/outside/secret.csv"
  echo '{"claims": [{"id": 1, "name": "SECRET-7f3a", "status": "PASS"}], "all_passed": true}' >"$tmp/outside/secret.json"
  (cd "$tmp/outside" && find . -type f -exec sha256sum {} + | sort) >"$tmp/outside.sum"
}

outside_unchanged() {
  local now
  now=$(cd "$tmp/outside" && find . -type f -exec sha256sum {} + | sort)
  [ "$now" = "$(cat "$tmp/outside.sum")" ] || fail "a file outside the directory changed: $1"
}

no_command_ran() {
  local hits
  hits=$(find "$tmp" -name 'pwned*' 2>/dev/null || true)
  [ -z "$hits" ] || fail "a command from the directory ran ($1): $hits"
}

# no_secret FILE...: the outside secret was not pulled into any of the files
no_secret() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || continue
    ! grep -q "SECRET-7f3a" "$f" || fail "the outside secret was read into $f"
  done
}

# html_safe FILE: no element or attribute from the payloads made it into the page as markup
html_safe() {
  python3 - "$1" <<'PY' || fail "report $1 carries markup from the directory"
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    bad = []
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "img", "iframe", "object", "embed"):
            self.bad.append(tag)
        for k, v in attrs:
            if k.startswith("on"):
                self.bad.append(k)
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
if p.bad:
    print("markup from the directory:", p.bad)
    sys.exit(1)
PY
}

# run_cli EXPECTED_STATUSES WHAT ARGS...: runs the CLI (stdout/stderr to $tmp/cli.log); its exit
# status must be one of EXPECTED_STATUSES ("0", "0 2", ...); never a crash.
run_cli() {
  local want=$1 what=$2 st=0
  shift 2
  "$cli" "$@" >"$tmp/cli.log" 2>&1 || st=$?
  case " $want " in *" $st "*) ;; *) cat "$tmp/cli.log" >&2; fail "$what: exit status $st, expected one of: $want";; esac
  if [ "$st" != 0 ]; then
    [ "$(wc -l <"$tmp/cli.log")" -ge 1 ] || fail "$what: exit $st without a message"
  fi
}
