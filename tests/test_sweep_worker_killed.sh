#!/usr/bin/env bash
# A worker of the sweep's pool that dies in the middle of a run (SIGKILL from outside: a crash,
# the OOM killer) costs that run only: it is recorded as failed with the reason, a new worker
# takes the remaining points, the other runs complete, the tables are written and the exit
# status is 1. The pool's workers each run several points one after the other; the run the
# new worker does after the kill is byte-identical to the same run alone.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-kill-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
args=(seed=1:6 niter=60 save_every=1000 data.num_last=3 data.num_next_per_last=2 model.zero_init=false)
SS_TEST_STEP_DELAY_US=20000 "$cli" sweep "${args[@]}" jobs=2 out="$tmp/sw" >"$tmp/out.log" 2>&1 &
sweep=$!
# the first worker's first run: wait until it has started, then kill its process
victim=""
for _ in $(seq 1 500); do
  if [ -f "$tmp/sw/seed=1/run.json" ]; then
    victim=$(pgrep -P "$sweep" | head -n 1 || true)
    [ -n "$victim" ] && break
  fi
  sleep 0.01
done
[ -n "$victim" ] || { kill "$sweep"; fail "no worker process seen"; }
kill -9 "$victim"
rc=0
wait "$sweep" || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/out.log"; fail "exit $rc, expected 1"; }
grep -q "1 of 6 runs failed" "$tmp/out.log" || { cat "$tmp/out.log"; fail "summary does not say 1 of 6 runs failed"; }
python3 - "$tmp/sw" <<'PY'
import csv, glob, json, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "sweep.csv"), newline="")))
assert len(rows) == 6, rows
st = sorted(r["status"] for r in rows)
assert st == ["complete"] * 5 + ["failed"], st
bad = [r for r in rows if r["status"] == "failed"][0]
rj = json.load(open(os.path.join(d, bad["dir"], "run.json")))
assert rj["status"] == "failed", rj["status"]
assert "killed by signal 9" in rj.get("error", ""), rj.get("error")
print("killed run:", bad["dir"], "-", rj["error"])
PY
# a run done by a worker after the kill equals the run alone
"$cli" train seed=6 niter=60 save_every=1000 data.num_last=3 data.num_next_per_last=2 model.zero_init=false out="$tmp/alone" >/dev/null
for f in metrics.csv classes.json snap.json; do
  cmp "$tmp/sw/seed=6/$f" "$tmp/alone/$f" || fail "$f of seed=6 differs from the run alone"
done
echo OK
