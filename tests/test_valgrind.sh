#!/usr/bin/env bash
# Proves: an end-to-end session is clean under valgrind memcheck (no invalid reads or
# writes, no uses of uninitialised values, no definite leaks): a training run with
# periodic checkpoints, the same run resumed and extended from its checkpoint, a theory
# run, a sweep of two runs (one diverging, which the sweep records and goes on), a run
# stopped by divergence, and a bad input. Skipped in the sanitizer build (ASan and
# valgrind do not mix) and where valgrind is missing.
set -euo pipefail
cli=${SS_CLI:?}
if [ "${SS_SANITIZE:-0}" = 1 ]; then echo "SKIP: sanitizer build"; exit 0; fi
if ! command -v valgrind >/dev/null 2>&1; then echo "SKIP: valgrind not installed"; exit 0; fi
tmp=${SS_TMP:-/tmp}/valgrind-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

vg() { # expected exit status, then the scansnap arguments
  local want=$1
  shift
  local st=0
  valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --track-origins=yes --log-file="$tmp/vg.log" \
    "$cli" "$@" >"$tmp/out" 2>&1 || st=$?
  if [ "$st" != "$want" ] || [ -s "$tmp/vg.log" ]; then
    echo "FAIL: scansnap $* -> exit $st (expected $want)"
    cat "$tmp/out" "$tmp/vg.log"
    exit 1
  fi
  echo "clean: scansnap $* (exit $st)"
}

small=(data.T=32 batchsize=16 threads=1)
vg 0 train out="$tmp/run" niter=20 save_every=5 "${small[@]}"
vg 0 train --resume "$tmp/run" niter=30
vg 0 theory out="$tmp/theory" niter=20 "${small[@]}"
# a sweep of 2 runs, one diverging: recorded as such, the sweep goes on (and exits 1)
vg 1 sweep out="$tmp/sweep" jobs=1 niter=10 opt.method=adam opt.lr=0.1,1e308 "${small[@]}"
grep -q diverged "$tmp/sweep/sweep.csv" || { echo "FAIL: the diverged run is not in sweep.csv"; cat "$tmp/sweep/sweep.csv"; exit 1; }
vg 3 train out="$tmp/diverged" opt.method=adam opt.lr=1e308 niter=5 "${small[@]}"
vg 2 train out="$tmp/bad" opt.lrr=1
echo "OK: valgrind memcheck clean"
