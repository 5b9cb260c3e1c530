#!/usr/bin/env bash
# Times the Figure-4 run's training (SPEC §1: M = 34, T = 128, batch 128, 100 SGD-momentum
# updates + the last evaluated batch = 12,928 sequences) in scansnap and in PyTorch (the same
# model, bench/yz_torch.py, torch.set_num_threads) with the same thread count, on this
# machine, in one go, in both precisions (scansnap model.precision=float32 against PyTorch
# float32, the paper's; scansnap's default float64 against PyTorch float64), and prints
# sequences/second for both and the ratios.
#   scansnap warm: bench/yz_step.c (built here against BUILD_DIR/libscansnap.a): the run's
#             forward + backward + optimizer over its own 101 batches, ROUNDS times in one
#             process from the same initial weights, best round. Timed like the PyTorch peer.
#   scansnap cold: train_seconds from run.json of a fresh `scansnap train` process (the same
#             work, first touches and one-time set-up included), best of REPEAT; plus the
#             whole process wall time (sampling, metrics, all files written).
#   PyTorch:  best of PT_REPEAT runs in one process over pre-generated batches (warm).
# Batch sampling and metrics are excluded from every timer.
# usage: bench/bench_fig4.sh [BUILD_DIR]   env: THREADS (2), REPEAT (5), ROUNDS (100), PT_REPEAT (10)
# (ROUNDS x 5 ms for scansnap, PT_REPEAT x 0.3 s for PyTorch: PyTorch gets more time to show its best)
set -eu
build=${1:-build}
threads=${THREADS:-2}
repeat=${REPEAT:-5}
rounds=${ROUNDS:-100}
pt_repeat=${PT_REPEAT:-10}
cli=$build/scansnap
[ -x "$cli" ] || { echo "no $cli: build first (make build)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seqs=$((128 * 101))
# shellcheck disable=SC2046
cc -O2 -fopenmp -I"$here/../include" -I"$here/../src" "$here/yz_step.c" "$build/libscansnap.a" \
   $(pkg-config --libs openblas yaml-0.1 jansson) -lm -o "$tmp/yz_step"
# the CLI sets this itself (src/cli/main.c): OpenBLAS's idle pool would take a core
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

echo "machine:  $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "threads:  $threads (scansnap threads=$threads, torch.set_num_threads($threads))"

# best train_seconds and best wall time of REPEAT scansnap runs: threads, precision
ss_best() {
  local t=$1 p=$2 i s w t0 t1
  for i in $(seq "$repeat"); do
    t0=$(date +%s.%N)
    "$cli" train "$here/../configs/fig4.yaml" threads="$t" model.precision="$p" out="$tmp/run$t-$p-$i" >/dev/null
    t1=$(date +%s.%N)
    s=$(sed -n 's/.*"train_seconds": *\([0-9.eE+-]*\).*/\1/p' "$tmp/run$t-$p-$i/run.json")
    echo "$s $t0 $t1"
  done | awk '{ w = $3 - $2; if (NR == 1 || $1 < bs) bs = $1; if (NR == 1 || w < bw) bw = w }
              END { printf "%.6f %.4f\n", bs, bw }'
}
warm() { "$tmp/yz_step" "$rounds" "$1" model.precision="$2" | sed -n 's/.*best_s=\([0-9.]*\).*/\1/p'; }
rate() { awk -v n=$seqs -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "pytorch:  /usr/bin/python3 has no torch (apt-get install python3-torch): no ratios"
# scansnap in its default float64 and in float32 (model.precision), each against PyTorch in
# the same precision; the PyTorch peer of the issue's target is float32 (the paper's code)
for prec in float32 float64; do
  echo "--- $prec"
  ws=$(warm "$threads" "$prec")
  ws_rate=$(rate "$ws")
  printf 'scansnap warm: %10s sequences/s  training compute %.4f s  (model.precision=%s, best of %s rounds in one process)\n' \
    "$ws_rate" "$ws" "$prec" "$rounds"
  read -r ss_s ss_wall < <(ss_best "$threads" "$prec")
  ss_rate=$(rate "$ss_s")
  printf 'scansnap cold: %10s sequences/s  training compute %.4f s  (fresh process, best of %s); whole run %.3f s wall\n' \
    "$ss_rate" "$ss_s" "$repeat" "$ss_wall"
  if [ "$threads" != 1 ]; then
    printf '          (threads=1: warm %s sequences/s)\n' "$(rate "$(warm 1 "$prec")")"
  fi
  [ $have_torch = 1 ] || continue
  line=$(/usr/bin/python3 "$here/yz_torch.py" --threads "$threads" --repeat "$pt_repeat" --dtype "$prec")
  pt_rate=$(echo "$line" | sed -n 's/.*seqs_per_s=\([0-9.]*\).*/\1/p')
  pt_s=$(echo "$line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
  printf 'pytorch:  %10.0f sequences/s  training compute %.4f s  (%s, %s)\n' "$pt_rate" "$pt_s" \
    "$(echo "$line" | sed -n 's/.*\(torch=.*\)/\1/p')" "$prec"
  awk -v w="$ws_rate" -v a="$ss_rate" -v b="$pt_rate" -v s="$ss_s" -v p="$prec" 'BEGIN {
    printf "ratio:    %s: warm scansnap / pytorch = %.1fx  (target >= 100x: %s); cold scansnap / pytorch = %.1fx\n",
      p, w / b, (w / b >= 100 ? "met" : "missed"), a / b
    printf "          Figure-4 compute, cold: %.4f s (target < 0.1 s: %s)\n", s, (s < 0.1 ? "met" : "missed") }'
  if [ "$prec" = float32 ]; then pt32=$pt_rate; fi
  if [ "$prec" = float64 ] && [ -n "${pt32:-}" ]; then
    awk -v w="$ws_rate" -v b="$pt32" 'BEGIN { printf "          (scansnap float64 / pytorch float32 = %.1fx)\n", w / b }'
  fi
done
echo "(on a shared machine only the ratios measured together are meaningful)"
