#!/usr/bin/env bash
# SIGTERM / SIGINT stop a sweep cleanly (issue 11 item 6; they used to kill it silently and
# leave its runs "running"): within a second or two the sweep exits 143 / 130, every started
# run is "interrupted" with a checkpoint (none "running"), the tables of what finished are
# written (and parse), and the same command resumes: the interrupted runs continue from their
# checkpoints (run.json resumed_from > 0) and the sweep completes. Both the worker pool
# (jobs=2: the pool forwards the stop to its workers) and the in-process runner (jobs=1).
# SS_TEST_STEP_DELAY_US slows the steps so the signal lands mid-run.
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
tmp=${SS_TMP:-/tmp}/sweep-sig-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
limit=2 # seconds from the signal to the exit
[ "${SS_SANITIZE:-0}" = 1 ] && limit=5

stop_and_check() { # stop_and_check NAME SIGNAL CODE JOBS
  local name=$1 sig=$2 code=$3 jobs=$4 out=$tmp/$1 pid rc t0 t1 started
  local args=(niter=200 save_every=50 batchsize=8 data.T=16 seed=1:4 jobs="$jobs" threads=1 out="$out")
  SS_TEST_STEP_DELAY_US=5000 "$cli" sweep "${args[@]}" >"$tmp/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1000); do # until a run has a checkpoint: it is in its loop
    started=$( (ls "$out"/*/checkpoint.safetensors 2>/dev/null || true) | wc -l)
    [ "$started" -ge "$jobs" ] && break
    sleep 0.01
  done
  t0=$(date +%s.%N)
  kill -"$sig" "$pid"
  rc=0
  wait "$pid" || rc=$?
  t1=$(date +%s.%N)
  [ "$rc" -eq "$code" ] || { cat "$tmp/$name.log"; fail "$name: exit $rc after SIG$sig, expected $code"; }
  awk -v a="$t0" -v b="$t1" -v l="$limit" 'BEGIN { exit !(b - a < l) }' || fail "$name: took $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s to stop"
  ! grep -l '"status": "running"' "$out"/*/run.json || fail "$name: a run is left running"
  local n
  n=$(grep -l '"status": "interrupted"' "$out"/*/run.json | wc -l)
  [ "$n" -ge 1 ] || fail "$name: no run is marked interrupted"
  for r in $(grep -l '"status": "interrupted"' "$out"/*/run.json); do
    [ -f "$(dirname "$r")/checkpoint.safetensors" ] || fail "$name: $(dirname "$r") has no checkpoint"
  done
  grep -q "stopped by signal" "$tmp/$name.log" || fail "$name: the stop is not reported"
  /usr/bin/python3 "$src/tests/csv_check.py" "$out" >/dev/null || fail "$name: tables"
  /usr/bin/python3 - "$out/sweep.csv" <<'PY'
import csv, sys
st = [r["status"] for r in csv.DictReader(open(sys.argv[1], newline=""))]
assert len(st) == 4 and "interrupted" in st and set(st) <= {"interrupted", "pending", "complete"}, st
PY
  grep -q '"status": "interrupted"' "$out/sweep.json" || fail "$name: sweep.json does not say interrupted"
  echo "$name: exit $rc, $n run(s) interrupted, $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s"
  # the same command resumes and completes
  "$cli" sweep "${args[@]}" >"$tmp/$name.resume.log" 2>&1 || { cat "$tmp/$name.resume.log"; fail "$name: the resume failed"; }
  grep -q '"resumed_from": [1-9]' "$out"/*/run.json || fail "$name: no interrupted run continued from its checkpoint"
  [ "$(grep -l '"status": "complete"' "$out"/*/run.json | wc -l)" -eq 4 ] || fail "$name: not complete after the resume"
}

stop_and_check pool TERM 143 2
stop_and_check inproc INT 130 1
echo OK
