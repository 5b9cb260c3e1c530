#!/usr/bin/env bash
# A run inside a sweep writes byte-identical result files to the same run alone (config.yaml
# differs only in out= and threads=), and a sweep gives the same sweep.csv with one worker
# (in-process) and with a pool of worker processes.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-det-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args=(seed=3,4 opt.lr_z=1,2 niter=20 data.num_last=3 data.num_next_per_last=2 model.zero_init=false)
"$cli" sweep "${args[@]}" jobs=2 out="$tmp/pool" >/dev/null 2>&1
"$cli" sweep "${args[@]}" jobs=1 out="$tmp/serial" >/dev/null 2>&1
cmp "$tmp/pool/sweep.csv" "$tmp/serial/sweep.csv"
"$cli" train seed=4 opt.lr_z=2 niter=20 data.num_last=3 data.num_next_per_last=2 model.zero_init=false out="$tmp/alone" >/dev/null
run="$tmp/pool/seed=4,lr_z=2"
for f in metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors classes.json; do
  cmp "$run/$f" "$tmp/alone/$f" || { echo "FAIL: $f differs between the sweep and the run alone"; exit 1; }
done
diff <(grep -v -e '^out:' -e '^threads:' "$run/config.yaml") <(grep -v -e '^out:' -e '^threads:' "$tmp/alone/config.yaml")
grep -q '"status": "complete"' "$run/run.json"
echo OK
