#!/usr/bin/env bash
# Every CSV a sweep writes (sweep.csv, aggregate.csv, comparison.csv, reference.csv and the
# runs' metrics.csv) parses with Python's csv module with as many fields in every row as in its
# header, and the values sit under the right columns: sweep.csv's dir names a run directory
# of the sweep (two swept keys: "lr_z=0.5,seed=1" holds a comma), its status is a status,
# its swept keys equal the run's config.yaml.
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
tmp=${SS_TMP:-/tmp}/sweep-tables-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ref.csv" <<'REF'
lr_z,entropy_distinct_mean,entropy_distinct_std,seeds
0.5,2.0,0.1,10
1,1.9,0.1,10
REF
"$cli" sweep opt.lr_z=0.5,1 seed=1,2 niter=5 data.num_last=1 reference="$tmp/ref.csv" out="$tmp/sw" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; exit 1; }
for f in sweep.csv aggregate.csv comparison.csv reference.csv; do
  [ -f "$tmp/sw/$f" ] || { echo "FAIL: no $f"; exit 1; }
done
/usr/bin/python3 "$src/tests/csv_check.py" "$tmp/sw"
/usr/bin/python3 - "$tmp/sw" <<'PY'
import csv, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "sweep.csv"), newline="")))
assert len(rows) == 4, len(rows)
for r in rows:
    assert r["status"] == "complete", r
    run = os.path.join(d, r["dir"])
    assert os.path.isfile(os.path.join(run, "run.json")), run
    cfg = open(os.path.join(run, "config.yaml")).read()
    assert f"  lr_z: {r['opt.lr_z']}\n" in cfg, (r, run)
    assert f"\nseed: {r['seed']}\n" in cfg, (r, run)
    float(r["entropy_distinct"]), float(r["loss"])
agg = list(csv.DictReader(open(os.path.join(d, "aggregate.csv"), newline="")))
assert [a["opt.lr_z"] for a in agg] == ["0.5", "1"], agg
assert all(a["count"] == "2" for a in agg), agg
cmp = list(csv.DictReader(open(os.path.join(d, "comparison.csv"), newline="")))
assert len(cmp) == 2 and all(float(c["ref_n"]) == 10 for c in cmp), cmp
print("sweep.csv, aggregate.csv, comparison.csv: values under their columns")
PY
echo OK
