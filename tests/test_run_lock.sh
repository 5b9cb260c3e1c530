#!/usr/bin/env bash
# Proves: one process per run directory. While a run is training, a second `scansnap train
# --resume DIR` and a second `scansnap train out=DIR` both exit 2 with one line naming the
# directory, and touch nothing: the first run finishes complete, byte-identical to the same
# run alone. Afterwards the directory is free again (resuming the complete run says so).
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/runlock-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
pid=
keys=(niter=60 data.T=32 batchsize=16 save_every=10 threads=1)
"$cli" train out="$tmp/alone" "${keys[@]}" >/dev/null
SS_TEST_STEP_DELAY_US=30000 "$cli" train out="$tmp/run" "${keys[@]}" >"$tmp/first.out" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -f "$tmp/run/checkpoint.safetensors" ] && break; sleep 0.05; done
[ -f "$tmp/run/checkpoint.safetensors" ] || { echo "FAIL: the first run wrote no checkpoint"; cat "$tmp/first.out"; exit 1; }
for second in "train --resume $tmp/run" "train out=$tmp/run niter=5"; do
  st=0
  # shellcheck disable=SC2086
  "$cli" $second >"$tmp/out" 2>"$tmp/err" || st=$?
  if [ "$st" != 2 ] || [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q "$tmp/run" "$tmp/err"; then
    echo "FAIL: scansnap $second while the run trains -> exit $st (expected 2, one line naming the directory)"
    cat "$tmp/out" "$tmp/err"
    exit 1
  fi
  echo "refused: scansnap $second: $(cat "$tmp/err")"
done
wait "$pid" || { echo "FAIL: the first run failed"; cat "$tmp/first.out"; exit 1; }
pid=
grep -q '"status": "complete"' "$tmp/run/run.json" || { echo "FAIL: the first run is not complete"; exit 1; }
for f in metrics.csv dynamics.safetensors checkpoint.safetensors; do
  cmp -s "$tmp/alone/$f" "$tmp/run/$f" || { echo "FAIL: $f differs from the same run alone"; exit 1; }
done
"$cli" train --resume "$tmp/run" >"$tmp/out" 2>&1 || { echo "FAIL: resuming the finished run"; cat "$tmp/out"; exit 1; }
grep -q "already complete" "$tmp/out" || { echo "FAIL: expected 'already complete'"; cat "$tmp/out"; exit 1; }
echo "PASS"
