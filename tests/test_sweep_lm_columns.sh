#!/usr/bin/env bash
# Language-model sweeps (issue 13, item 8): sweep.csv carries every column of the runs' final
# metrics row, read by name from their metrics.csv (attn_entropy, valid_loss, freq_mass ...),
# not only the synthetic metrics (NaN for a language model); aggregate.csv has the mean and
# std of each; metric=attn_entropy, a column of these runs, is accepted; a list value of
# text.probe_steps is one value ([0,5]: 2 runs, not 4). A metric that is no column of any run
# is exit 2 naming the columns (for synthetic runs before anything is created).
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
tmp=${SS_TMP:-/tmp}/sweep-lm-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=tests/lib_resume.sh
. "$(dirname "$0")/lib_resume.sh"
RANDOM=7
tiny_corpus "$tmp/text.txt"
lm=(model.type=transformer model.task=lm data.path="$tmp/text.txt" data.cache="$tmp/cache" model.d=8 model.H=1 data.T=8
    batchsize=4 text.epochs=1 text.epoch_steps=6 text.eval_batches=2 text.top_k=3 text.probes=2 save_per_minibatch=3 threads=1)

"$cli" sweep "${lm[@]}" seed=1,2 text.probe_steps=[0,5] metric=attn_entropy out="$tmp/sw" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; fail "the LM sweep failed"; }
/usr/bin/python3 "$src/tests/csv_check.py" "$tmp/sw" >/dev/null
/usr/bin/python3 - "$tmp/sw" <<'PY'
import csv, math, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "sweep.csv"), newline="")))
assert len(rows) == 2, f"{len(rows)} runs: text.probe_steps=[0,5] is one value"
for r in rows:
    assert r["status"] == "complete", r
    run = list(csv.DictReader(open(os.path.join(d, r["dir"], "metrics.csv"), newline="")))[-1]
    for col in ("attn_entropy", "valid_loss", "freq_mass", "train_ppl", "loss"):
        assert col in r, f"sweep.csv has no column {col}: {list(r)}"
        assert float(r[col]) == float(run[col]) or (math.isnan(float(r[col])) and math.isnan(float(run[col]))), (col, r[col], run[col])
    assert math.isfinite(float(r["attn_entropy"])) and math.isfinite(float(r["valid_loss"])), r
agg = list(csv.DictReader(open(os.path.join(d, "aggregate.csv"), newline="")))
assert len(agg) == 1 and agg[0]["count"] == "2", agg
vals = [float(r["attn_entropy"]) for r in rows]
assert abs(float(agg[0]["attn_entropy_mean"]) - sum(vals) / 2) <= 1e-12 * abs(sum(vals)), agg
print("LM sweep: sweep.csv has", len(rows[0]), "columns, attn_entropy", vals)
PY
grep -q "attn_entropy" "$tmp/sw/aggregate.md" || fail "aggregate.md lacks attn_entropy"
grep -q '"metric": "attn_entropy"' "$tmp/sw/sweep.json" || fail "sweep.json does not record the metric"

# a metric no run has: exit 2 naming the columns, after the runs (LM columns are known then)
rc=0
"$cli" sweep "${lm[@]}" seed=1,2 text.probe_steps=[0,5] metric=nonesuch out="$tmp/sw" >"$tmp/log2" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$tmp/log2"; fail "metric=nonesuch on LM runs: exit $rc, expected 2"; }
grep -q "metric 'nonesuch' is not a column of the runs' metrics.csv (loss, acc, .*attn_entropy" "$tmp/log2" || { cat "$tmp/log2"; fail "message"; }
# synthetic runs: refused before anything exists
rc=0
"$cli" sweep seed=1,2 niter=2 metric=attn_entropy out="$tmp/syn" >"$tmp/log3" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "metric=attn_entropy on synthetic runs: exit $rc, expected 2"
grep -q "'attn_entropy' is not a column of these runs' metrics.csv" "$tmp/log3" || { cat "$tmp/log3"; fail "message"; }
[ ! -e "$tmp/syn" ] || fail "a refused sweep created its directory"
echo OK
