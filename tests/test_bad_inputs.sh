#!/usr/bin/env bash
# Proves: every bad input of tests/bad_inputs.tsv (keys, values, YAML files, class tables,
# sequence files, output directories, resuming) makes `scansnap train` exit 2 with the
# expected message, and nothing is written that looks like a result: no metrics.csv, no
# run.json saying complete, no stray runs/ folder, prepared runs left byte for byte as
# they were. SS_BAD_INPUTS_DOC=FILE also writes the table of docs/bad-inputs.md.
set -uo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
FIX=$src/tests/bad_inputs
WORK=${SS_TMP:-/tmp}/bad-inputs-$$
rm -rf "$WORK"
mkdir -p "$WORK/cwd" "$WORK/dir.yaml"
trap 'rm -rf "$WORK"' EXIT

# Prepared runs for the resume cases: finished runs whose checkpoint is then damaged, and
# one whose class table changes afterwards.
small=(niter=4 save_every=2 data.T=8 batchsize=4 threads=1)
for r in done corrupt truncated empty; do
  "$cli" train out="$WORK/$r" "${small[@]}" >/dev/null 2>&1 || { echo "FAIL: cannot prepare $r"; exit 1; }
done
printf '\x5a' | dd of="$WORK/corrupt/checkpoint.safetensors" bs=1 seek=$(($(stat -c %s "$WORK/corrupt/checkpoint.safetensors") - 20)) conv=notrunc 2>/dev/null
truncate -s 100 "$WORK/truncated/checkpoint.safetensors"
truncate -s 0 "$WORK/empty/checkpoint.safetensors"
printf '{"M": 8, "classes": [{"query": 6, "next": 7, "tokens": [0, 1], "probs": [0.5, 0.5]}]}\n' >"$WORK/cls.json"
"$cli" train out="$WORK/changed" data.classes="$WORK/cls.json" "${small[@]}" >/dev/null 2>&1 || { echo "FAIL: cannot prepare changed"; exit 1; }
printf '{"M": 8, "classes": [{"query": 6, "next": 7, "tokens": [0, 1], "probs": [0.25, 0.75]}]}\n' >"$WORK/cls.json"
# make 'changed' resumable (not complete) the way an interrupted run is
sed -i 's/"status": "complete"/"status": "interrupted"/' "$WORK/changed/run.json"

snapshot() {
  (cd "$WORK" && find done corrupt truncated empty changed -type f -print0 | sort -z | xargs -0 md5sum)
  (cd "$FIX" && find . | sort)
}
before=$(snapshot)

doc=${SS_BAD_INPUTS_DOC:-}
if [ -n "$doc" ]; then
  {
    echo "| # | Bad input | Arguments to \`scansnap train\` | Message (stderr; exit status 2) |"
    echo "|---|---|---|---|"
  } >"$doc"
fi
n=0
failures=0
while IFS=$'\t' read -r what argstr expect; do
  [ -z "$what" ] && continue
  case $what in \#*) continue ;; esac
  n=$((n + 1))
  OUT=$WORK/out-$n
  eval "args=( $argstr )"
  expect=${expect//'$FIX'/$FIX}
  expect=${expect//'$WORK'/$WORK}
  out=$(cd "$WORK/cwd" && "$cli" train "${args[@]}" 2>&1)
  st=$?
  problems=()
  [ "$st" = 2 ] || problems+=("exit status $st, expected 2")
  grep -qF -- "$expect" <<<"$out" || problems+=("message lacks: $expect")
  [ -e "$OUT/metrics.csv" ] && problems+=("$OUT/metrics.csv was written")
  [ -e "$OUT/run.json" ] && grep -q '"status": "complete"' "$OUT/run.json" && problems+=("run.json says complete")
  [ -e "$WORK/cwd/runs" ] && problems+=("a run directory was created under runs/")
  if [ ${#problems[@]} -gt 0 ]; then
    failures=$((failures + 1))
    echo "FAIL $n ($what): train $argstr"
    printf '     %s\n' "${problems[@]}"
    echo "     got: $out"
  fi
  if [ -n "$doc" ]; then
    msg=$(tail -n 1 <<<"$out")
    msg=${msg//$WORK/\$WORK}
    msg=${msg//$FIX/\$FIX}
    [ ${#msg} -gt 400 ] && msg="${msg:0:400}..."
    shown=$argstr
    [ ${#shown} -gt 80 ] && shown="${shown:0:80}..."
    printf '| %d | %s | `%s` | %s |\n' "$n" "$what" "${shown//|/\\|}" "${msg//|/\\|}" >>"$doc"
  fi
done <"$src/tests/bad_inputs.tsv"

after=$(snapshot)
if [ "$before" != "$after" ]; then
  failures=$((failures + 1))
  echo "FAIL: prepared runs or fixtures changed:"
  diff <(echo "$before") <(echo "$after")
fi
[ "$n" -ge 40 ] || { echo "FAIL: only $n bad inputs in the table"; exit 1; }
if [ "$failures" -gt 0 ]; then
  echo "$failures of $n bad inputs misbehaved"
  exit 1
fi
echo "OK: $n bad inputs, each exit 2 with its message and no result written"
