#!/usr/bin/env bash
# Times the Figure-4 run's training (SPEC §1: M = 34, T = 128, batch 128, 100 SGD-momentum
# updates + the last evaluated batch = 12,928 sequences) in scansnap and in PyTorch (the same
# model, bench/yz_torch.py, float32, torch.set_num_threads) with the same thread count, on
# this machine, in one go, and prints sequences/second for both and the ratio.
#   scansnap: train_seconds from run.json = forward + backward + optimizer, what the PyTorch
#             timer covers too (batch sampling and metrics excluded on both sides), best of
#             REPEAT; plus the whole process wall time (sampling, metrics, all files written).
#   PyTorch:  best of REPEAT runs over pre-generated batches.
# usage: bench/bench_fig4.sh [BUILD_DIR]   env: THREADS (2), REPEAT (5)
set -eu
build=${1:-build}
threads=${THREADS:-2}
repeat=${REPEAT:-5}
cli=$build/scansnap
[ -x "$cli" ] || { echo "no $cli: build first (make build)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seqs=$((128 * 101))

echo "machine:  $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "threads:  $threads (scansnap threads=$threads, torch.set_num_threads($threads))"

# best train_seconds and best wall time of REPEAT scansnap runs with THREADS=$1
ss_best() {
  local t=$1 i s w t0 t1
  for i in $(seq "$repeat"); do
    t0=$(date +%s.%N)
    "$cli" train "$here/../configs/fig4.yaml" threads="$t" out="$tmp/run$t-$i" >/dev/null
    t1=$(date +%s.%N)
    s=$(sed -n 's/.*"train_seconds": *\([0-9.eE+-]*\).*/\1/p' "$tmp/run$t-$i/run.json")
    echo "$s $t0 $t1"
  done | awk '{ w = $3 - $2; if (NR == 1 || $1 < bs) bs = $1; if (NR == 1 || w < bw) bw = w }
              END { printf "%.6f %.4f\n", bs, bw }'
}
read -r ss_s ss_wall < <(ss_best "$threads")
ss_rate=$(awk -v n=$seqs -v s="$ss_s" 'BEGIN { printf "%.0f", n / s }')
printf 'scansnap: %10s sequences/s  training compute %.4f s  whole run %.3f s wall (process start to all files written)\n' \
  "$ss_rate" "$ss_s" "$ss_wall"
if [ "$threads" != 1 ]; then
  read -r s1 _ < <(ss_best 1)
  printf '          (threads=1: %s sequences/s, %.4f s)\n' "$(awk -v n=$seqs -v s="$s1" 'BEGIN { printf "%.0f", n / s }')" "$s1"
fi

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  line=$(/usr/bin/python3 "$here/yz_torch.py" --threads "$threads" --repeat "$repeat")
  pt_rate=$(echo "$line" | sed -n 's/.*seqs_per_s=\([0-9.]*\).*/\1/p')
  pt_s=$(echo "$line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
  printf 'pytorch:  %10.0f sequences/s  training compute %.4f s  (%s, float32)\n' "$pt_rate" "$pt_s" \
    "$(echo "$line" | sed -n 's/.*\(torch=.*\)/\1/p')"
  awk -v a="$ss_rate" -v b="$pt_rate" -v s="$ss_s" 'BEGIN {
    printf "ratio:    scansnap / pytorch = %.1fx  (target >= 100x: %s); Figure-4 compute %.4f s (target < 0.1 s: %s)\n",
      a / b, (a / b >= 100 ? "met" : "missed"), s, (s < 0.1 ? "met" : "missed") }'
  if [ "$threads" != 1 ]; then
    line1=$(/usr/bin/python3 "$here/yz_torch.py" --threads 1 --repeat "$repeat")
    pt1=$(echo "$line1" | sed -n 's/.*seqs_per_s=\([0-9.]*\).*/\1/p')
    awk -v a="$ss_rate" -v b="$pt1" 'BEGIN { printf "          (pytorch threads=1: %.0f sequences/s; scansnap threads=%s / pytorch threads=1 = %.1fx)\n", b, "'"$threads"'", a / b }'
  fi
else
  echo "pytorch:  /usr/bin/python3 has no torch (apt-get install python3-torch): no ratio"
fi
echo "(best of $repeat runs each; on a shared machine only the ratio measured together is meaningful)"
