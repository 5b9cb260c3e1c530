#!/usr/bin/env bash
# A sweep never touches a run another scansnap process holds (issue 11 item 4): a rerun sweep
# deleted an unfinished run while `train --resume` was using it. Here the run's lock
# (DIR/.run.lock, flock: what train and train --resume hold) is held by another process while
# the sweep is run again: the run is reported busy (exit 1), every file of it stays as it was,
# the other points are done; once the lock is free the same command completes it.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-busy-$$
rm -rf "$tmp" && mkdir -p "$tmp"
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 md5sum); }
args=(niter=5 seed=1:3 files=full out="$tmp/sw") # files=full: every file of the run, checkpoint included
"$cli" sweep "${args[@]}" >/dev/null 2>&1
# two unfinished runs (as after a crash): one without a checkpoint (would be cleared and redone),
# one failed; the first is in use by another process
for s in 1 2; do
  sed -i 's/"complete"/"running"/' "$tmp/sw/seed=$s/run.json"
  rm "$tmp/sw/seed=$s/checkpoint.safetensors"
done
/usr/bin/python3 -c 'import fcntl, os, sys, time
f = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$tmp/sw/seed=1/.run.lock" "$tmp/locked" &
holder=$!
for _ in $(seq 1 500); do [ -e "$tmp/locked" ] && break; sleep 0.01; done
[ -e "$tmp/locked" ] || fail "the lock holder did not start"
before=$(sums "$tmp/sw/seed=1")
rc=0
"$cli" sweep "${args[@]}" >"$tmp/log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$tmp/log"; fail "exit $rc with a busy run, expected 1"; }
grep -q "1 run is in use by another scansnap process" "$tmp/log" || { cat "$tmp/log"; fail "the busy run is not reported"; }
[ "$before" = "$(sums "$tmp/sw/seed=1")" ] || fail "the sweep touched the locked run"
grep -q '"running"' "$tmp/sw/seed=1/run.json" || fail "the locked run's run.json was rewritten"
grep -q '"complete"' "$tmp/sw/seed=2/run.json" || fail "the unlocked unfinished run was not redone"
/usr/bin/python3 - "$tmp/sw/sweep.csv" <<'PY'
import csv, sys
st = {r["seed"]: r["status"] for r in csv.DictReader(open(sys.argv[1], newline=""))}
assert st == {"1": "busy", "2": "complete", "3": "complete"}, st
PY
kill "$holder" && wait "$holder" 2>/dev/null || true
holder=
"$cli" sweep "${args[@]}" >/dev/null 2>&1 || fail "the rerun after the lock was released failed"
grep -q '"complete"' "$tmp/sw/seed=1/run.json" || fail "the released run was not redone"
echo OK
