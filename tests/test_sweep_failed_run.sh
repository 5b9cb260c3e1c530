#!/usr/bin/env bash
# A run that fails inside a sweep is recorded as failed (sweep.csv status, its run.json) and
# the sweep carries on with the other runs; the exit status is 1 and the tables are written.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-fail-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$cli" train niter=2 out="$tmp/src" >/dev/null
cp "$tmp/src/classes.json" "$tmp/good.json"
echo '{"not": "a class table"}' > "$tmp/bad.json"
rc=0
"$cli" sweep data.classes="$tmp/bad.json","$tmp/good.json" seed=1,2 niter=5 jobs=2 out="$tmp/sw" > "$tmp/out.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc, expected 1"; cat "$tmp/out.log"; exit 1; }
grep -q "2 of 4 runs failed" "$tmp/out.log"
[ "$(grep -c ',failed,' "$tmp/sw/sweep.csv")" -eq 2 ]
[ "$(grep -c ',complete,' "$tmp/sw/sweep.csv")" -eq 2 ]
grep -q '"status": "failed"' "$tmp"/sw/classes=*bad.json,seed=1/run.json
grep -q '"error"' "$tmp"/sw/classes=*bad.json,seed=1/run.json
grep -q '| 0 (2 not complete) |' "$tmp/sw/aggregate.md"
echo OK
