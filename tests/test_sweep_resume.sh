#!/usr/bin/env bash
# A sweep killed with SIGKILL mid-way and started again with the same command skips the
# finished runs, redoes the unfinished ones (including a half-written run directory) and
# ends with the same sweep.csv and aggregate as an uninterrupted sweep.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-resume-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args=(seed=1:6 opt.lr_z=0.5,1 niter=60 data.num_last=1 save_per_minibatch=10)
total=12
count_complete() { cat "$tmp"/cut/*/run.json 2>/dev/null | grep -c '"status": "complete"' || true; }

"$cli" sweep "${args[@]}" jobs=2 out="$tmp/full" >/dev/null 2>&1

# SS_TEST_STEP_DELAY_US slows the steps (1 ms each: ~60 ms a run) so the kill lands mid-sweep:
# without it the 12 runs take a few ms each and can all end between two polls
SS_TEST_STEP_DELAY_US=1000 "$cli" sweep "${args[@]}" jobs=1 out="$tmp/cut" >"$tmp/cut.log" 2>&1 &
pid=$!
n=0
for _ in $(seq 1 3000); do
  n=$(count_complete)
  [ "$n" -ge 2 ] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
n=$(count_complete)
echo "complete at the kill: $n of $total"
if [ "$n" -ge "$total" ] || [ "$n" -lt 2 ]; then
  echo "FAIL: the kill did not land mid-sweep ($n of $total complete)"; exit 1
fi
[ -f "$tmp/cut/sweep.csv" ] && { echo "FAIL: a killed sweep wrote sweep.csv"; exit 1; }

# Make one finished run look half-written (as if killed while writing its files).
victim=$(grep -l '"complete"' "$tmp"/cut/*/run.json | head -1 | xargs dirname)
sed -i 's/"complete"/"running"/' "$victim/run.json"
head -c 100 "$victim/metrics.csv" > "$victim/m" && mv "$victim/m" "$victim/metrics.csv"
touch "$victim/junk.tmp-XXXX"

"$cli" sweep "${args[@]}" jobs=2 out="$tmp/cut" >"$tmp/resume.log" 2>&1
cmp "$tmp/full/sweep.csv" "$tmp/cut/sweep.csv" || { echo "FAIL: sweep.csv differs after resume"; exit 1; }
cmp "$tmp/full/aggregate.csv" "$tmp/cut/aggregate.csv" || { echo "FAIL: aggregate.csv differs after resume"; exit 1; }
# the half-written run was redone (continued from its last checkpoint, byte-identical), the others were skipped
cmp "$victim/metrics.csv" "$tmp/full/$(basename "$victim")/metrics.csv"
[ ! -e "$victim/junk.tmp-XXXX" ] || { echo "FAIL: the half-written run directory was not cleared"; exit 1; }
skipped=$(sed -n 's/.*"skipped": \([0-9]*\).*/\1/p' "$tmp/cut/sweep.json")
echo "skipped on resume: $skipped"
[ "$skipped" -eq $((n - 1)) ] || { echo "FAIL: expected $((n - 1)) runs skipped, got $skipped"; exit 1; }
grep -q "complete" "$tmp/cut/sweep.csv"
! grep -q -e failed -e pending "$tmp/cut/sweep.csv"
echo OK
