#!/usr/bin/env bash
# A run inside a sweep writes byte-identical result files to the same run alone (config.yaml
# differs only in out=, threads=, and files=/fsync=, which a sweep sets to light/false), and a
# sweep gives the same sweep.csv with one worker (in-process) and with a pool of worker
# processes. With files=full a sweep keeps every file of the run alone; by default (light) it
# keeps config.yaml, classes.json, metrics.csv, snap.json and run.json, the same bytes.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-det-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args=(seed=3,4 opt.lr_z=1,2 niter=20 data.num_last=3 data.num_next_per_last=2 model.zero_init=false)
"$cli" sweep "${args[@]}" jobs=2 files=full fsync=true out="$tmp/pool" >/dev/null 2>&1
"$cli" sweep "${args[@]}" jobs=1 files=full fsync=true out="$tmp/serial" >/dev/null 2>&1
"$cli" sweep "${args[@]}" jobs=2 out="$tmp/light" >/dev/null 2>&1
cmp "$tmp/pool/sweep.csv" "$tmp/serial/sweep.csv"
cmp "$tmp/pool/sweep.csv" "$tmp/light/sweep.csv"
"$cli" train seed=4 opt.lr_z=2 niter=20 data.num_last=3 data.num_next_per_last=2 model.zero_init=false out="$tmp/alone" >/dev/null
run="$tmp/pool/seed=4,lr_z=2"
for f in metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors classes.json; do
  cmp "$run/$f" "$tmp/alone/$f" || { echo "FAIL: $f differs between the sweep and the run alone"; exit 1; }
done
diff <(grep -v -e '^out:' -e '^threads:' "$run/config.yaml") <(grep -v -e '^out:' -e '^threads:' "$tmp/alone/config.yaml")
grep -q '"status": "complete"' "$run/run.json"
light="$tmp/light/seed=4,lr_z=2"
[ "$(ls "$light" | tr '\n' ' ')" = "classes.json config.yaml metrics.csv run.json snap.json " ] || { ls -la "$light"; echo "FAIL: a light run keeps $(ls "$light" | tr '\n' ' ')"; exit 1; }
for f in metrics.csv classes.json snap.json; do cmp "$light/$f" "$tmp/alone/$f"; done
diff <(grep -v -e '^out:' -e '^threads:' -e '^files:' -e '^fsync:' "$light/config.yaml") <(grep -v -e '^out:' -e '^threads:' -e '^files:' -e '^fsync:' "$tmp/alone/config.yaml")
echo OK
