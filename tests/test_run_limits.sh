#!/usr/bin/env bash
# Proves the limits and stops every run shares (the one trainer, src/train/trainer.c):
#  - bad sizes are refused before anything is created (exit 2, one line naming the key, no
#    run directory): a batch or a T x T attention that cannot fit in memory, a vocabulary
#    whose M x M parameters cannot, metrics that would outgrow max_output_mb, a flow whose
#    tolerance or step would take forever (issue 11, items 5, 7, 8);
#  - a loss that runs away is divergence (exit 3, run.json "diverged", the step named), and
#    the transformer's defaults train (issue 13, item 3);
#  - extending a finished run rewrites config.yaml; a plain --resume of a finished run checks
#    its checkpoint and says it is intact, or exits 2 when it is damaged (issue 13, item 4);
#  - a flow theory run and verify stop on SIGINT/SIGTERM within a second, "interrupted".
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/limits-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
yaml_value() { # the value of a top-level or nested key "name:" in config.yaml (first match)
  sed -n "s/^ *$2: *//p" "$1" | head -n 1
}

refused() { # name, key the message must name, args...
  local name=$1 key=$2
  shift 2
  local st=0
  "$cli" "$@" out="$tmp/$name" >"$tmp/out" 2>&1 || st=$?
  [ "$st" = 2 ] || { cat "$tmp/out"; fail "$name: exit $st, expected 2"; }
  [ "$(wc -l <"$tmp/out")" = 1 ] || { cat "$tmp/out"; fail "$name: more than one line"; }
  grep -q "key '$key'" "$tmp/out" || { cat "$tmp/out"; fail "$name: the message does not name key '$key'"; }
  [ ! -e "$tmp/$name" ] || fail "$name: $tmp/$name was created ($(ls "$tmp/$name" | tr '\n' ' '))"
  echo "$name: exit 2: $(cut -c1-150 "$tmp/out")"
}
refused transformer_T batchsize train model.type=transformer data.T=100000 niter=1 max_memory_mb=4096
refused huge_batch batchsize train batchsize=10000000 max_memory_mb=4096
refused huge_vocab data.num_unique_per_next theory data.num_unique_per_next=100000 max_memory_mb=4096
refused endless_rows max_output_mb train niter=100000000 save_per_minibatch=1
refused tiny_tol theory.tol theory theory.mode=flow theory.tol=1e-300
refused tiny_dt theory.dt theory theory.mode=flow theory.dt=1e-9

# runaway loss: the transformer at the Y/Z model's learning rate 1
st=0
"$cli" train model.type=transformer opt.lr=1 niter=20 out="$tmp/runaway" >"$tmp/out" 2>&1 || st=$?
[ "$st" = 3 ] || { cat "$tmp/out"; fail "runaway loss: exit $st, expected 3"; }
grep -q "diverged at step [0-9]*: loss .* ran away" "$tmp/out" || { cat "$tmp/out"; fail "runaway: no step named"; }
[ "$(json "$tmp/runaway/run.json" "['status']")" = diverged ] || fail "runaway: run.json is not diverged"
echo "runaway: exit 3: $(cut -c1-120 "$tmp/out")"
# the transformer's defaults train (no learning rate given: 0.1, recorded in config.yaml)
"$cli" train model.type=transformer niter=30 out="$tmp/tfdefault" >/dev/null
[ "$(yaml_value "$tmp/tfdefault/config.yaml" lr)" = 0.10000000000000001 ] || [ "$(yaml_value "$tmp/tfdefault/config.yaml" lr)" = 0.1 ] ||
  fail "transformer default: config.yaml says lr $(yaml_value "$tmp/tfdefault/config.yaml" lr)"
python3 - "$tmp/tfdefault/metrics.csv" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
assert math.isfinite(last) and last < 0.1 * first, (first, last)
print(f"transformer defaults: loss {first:.3f} -> {last:.3g}")
PY

# extending a run: config.yaml describes what the directory holds
"$cli" train niter=20 out="$tmp/ext" >/dev/null
"$cli" train --resume "$tmp/ext" niter=40 >/dev/null
[ "$(yaml_value "$tmp/ext/config.yaml" niter)" = 40 ] || fail "extended run: config.yaml says niter $(yaml_value "$tmp/ext/config.yaml" niter)"
"$cli" train niter=40 out="$tmp/ext40" >/dev/null
for f in metrics.csv dynamics.safetensors checkpoint.safetensors; do
  cmp -s "$tmp/ext/$f" "$tmp/ext40/$f" || fail "extended run: $f differs from a run of 40"
done
out=$("$cli" train --resume "$tmp/ext")
grep -q "already complete (niter = 40); its checkpoint is intact" <<<"$out" || fail "plain resume: $out"
size=$(stat -c %s "$tmp/ext/checkpoint.safetensors")
printf 'x' | dd of="$tmp/ext/checkpoint.safetensors" bs=1 seek=$((size - 9)) conv=notrunc 2>/dev/null # inside the data
st=0
"$cli" train --resume "$tmp/ext" >"$tmp/out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "checkpoint" "$tmp/out" || { cat "$tmp/out"; fail "plain resume of a damaged checkpoint: exit $st"; }
echo "extension: config.yaml niter 40, files = a run of 40; plain resume: intact / damaged -> exit 2"
# a resume reads the run's own files only: config.yaml or run.json as a link to a file elsewhere is refused
"$cli" train niter=10 save_every=5 out="$tmp/linked" >/dev/null
cp "$tmp/linked/config.yaml" "$tmp/elsewhere.yaml"
ln -sf "$tmp/elsewhere.yaml" "$tmp/linked/config.yaml"
st=0
"$cli" train --resume "$tmp/linked" niter=20 >"$tmp/out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q "config.yaml" "$tmp/out" || { cat "$tmp/out"; fail "resume through a linked config.yaml: exit $st"; }
echo "resume: a linked config.yaml -> exit 2: $(cut -c1-100 "$tmp/out")"

# stops within a second: a long flow run and verify
stop_within_a_second() { # name, signal, expected exit, dir, command...
  local name=$1 sig=$2 want=$3 dir=$4
  shift 4
  "$cli" "$@" >"$tmp/out" 2>&1 &
  local pid=$! t0 t1 st=0
  for _ in $(seq 1 300); do [ -f "$dir/run.json" ] && break; sleep 0.02; done
  sleep 0.3
  t0=$(date +%s%N)
  kill -"$sig" "$pid"
  wait "$pid" || st=$?
  t1=$(date +%s%N)
  [ "$st" = "$want" ] || { cat "$tmp/out"; fail "$name: exit $st, expected $want"; }
  local ms=$(((t1 - t0) / 1000000))
  [ "$ms" -lt 1000 ] || fail "$name: took $ms ms to stop"
  echo "$name: SIG$sig -> exit $st in $ms ms"
}
stop_within_a_second "flow theory" INT 130 "$tmp/flow" theory theory.mode=flow theory.dt=1e-5 out="$tmp/flow"
[ "$(json "$tmp/flow/run.json" "['status']")" = interrupted ] || fail "flow: run.json not interrupted"
SS_BROWN_DIR=/nonexistent stop_within_a_second verify TERM 143 "$tmp/verify/theory" verify out="$tmp/verify"
echo OK
