#!/usr/bin/env bash
# One Brown-corpus epoch of the Figure-7 run end to end: tokenize into the cache (timed on
# its own), then map the cache, train one epoch (configs/fig7.yaml) and validate; prints
# each part's seconds and the wall time of the epoch run.
# usage: bench/bench_brown_epoch.sh [EPOCH_STEPS=0 (whole epoch)] [THREADS=2] [key=value ...]
#   EPOCH_STEPS > 0 times only that many updates of the epoch (and says so).
set -euo pipefail
STEPS=${1:-0}; THREADS=${2:-2}; shift $(( $# < 2 ? $# : 2 ))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SS_BUILD:-$ROOT/build}
CLI=$BUILD/scansnap
[ -x "$CLI" ] || { echo "bench_brown_epoch: build first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
bash "$ROOT/scripts/fetch-brown" "$ROOT/data/brown" >&2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brown-epoch-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
common=(train "$ROOT/configs/fig7.yaml" data.path="$ROOT/data/brown" data.cache="$tmp/cache" threads="$THREADS" text.epochs=1 "$@")

# 1. tokenize: the cache is built by a run that stops after one update on one batch
t0=$(date +%s.%N)
SS_NO_GNUPLOT=1 "$CLI" "${common[@]}" text.epoch_steps=1 text.eval_batches=1 text.probe_steps=0 out="$tmp/tok" >"$tmp/tok.out"
t1=$(date +%s.%N)
# 2. the epoch from the cache
SS_NO_GNUPLOT=1 "$CLI" "${common[@]}" text.epoch_steps="$STEPS" out="$tmp/epoch" >"$tmp/epoch.out"
t2=$(date +%s.%N)

part=""; [ "$STEPS" != 0 ] && part=", text.epoch_steps=$STEPS"
echo "== Brown epoch (configs/fig7.yaml, threads=$THREADS$part) on $(nproc) cores, $(date -u +%FT%TZ)"
grep '^text:' "$tmp/tok.out" | sed 's/^text:/tokenize:/'
grep '^text:' "$tmp/epoch.out" | sed 's/^text:/epoch run:/'
grep -E '^(steps|train loss|valid loss|attn entropy|freq. mass):' "$tmp/epoch.out"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "wall: tokenize run %.2f s, epoch run %.2f s (map cache + train + validate + files)\n", b - a, c - b }'
if [ "$STEPS" != 0 ]; then
  full=$(awk -v n="$(grep -o '[0-9]* training tokens' "$tmp/epoch.out" | cut -d' ' -f1)" 'BEGIN { printf "%d", int((int(n / 20) - 1) / 35) }')
  echo "note: timed $STEPS of the $full updates of a full epoch"
fi
