#!/usr/bin/env bash
# The paper's Figure-6 sweep (640 runs: 10 seeds x num_last {1,3,5,10} x eta_Z {0.5,1,2,3} x
# eta_Y/eta_Z {1,2,5,10}) with scansnap on every core: wall time and runs/s. Then the PyTorch
# peer (bench/fig6_torch.py, the Y/Z model of bench/yz_torch.py) on a sample of the same runs,
# extrapolated to 640 runs -- stated as an extrapolation -- and scansnap on the very same
# sample, so the ratio is measured under the same machine load.
#   bash bench/bench_fig6.sh [build]       env: JOBS (default 0 = all cores), SAMPLE_LRZ (1)
set -euo pipefail
build=${1:-build}
cli="$build/scansnap"
out=${BENCH_OUT:-${TMPDIR:-/tmp}/scansnap-bench-fig6}
rm -rf "$out" "$out-sample"
mkdir -p "$(dirname "$out")"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

/usr/bin/time -f '%e %U %S' -o "$out.time" "$cli" sweep --preset fig6 out="$out" jobs="${JOBS:-0}" > "$out.log" 2>&1 || { tail "$out.log"; exit 1; }
read -r wall user sys < "$out.time"
cpu=$(echo "$user + $sys" | bc -l)
printf 'scansnap: full Figure-6 sweep, 640 runs, jobs=%s: %.1f s wall, %.2f runs/s; %.1f CPU-s (user+sys, all workers)\n' "${JOBS:-0 (all cores)}" "$wall" "$(echo "640 / $wall" | bc -l)" "$cpu"
printf 'scansnap: on an idle machine with %d cores that is about %.1f s wall (CPU-s / cores)\n' "$(nproc)" "$(echo "$cpu / $(nproc)" | bc -l)"
grep -E '^Overall|^mean \|' "$out.log" || true

# The sample: one seed, eta_Y/eta_Z = 2, eta_Z in SAMPLE_LRZ, every num_last.
lrz=${SAMPLE_LRZ:-1}
/usr/bin/time -f '%e %U %S' -o "$out-sample.time" "$cli" sweep --preset fig6 seed=1 opt.lr_y_multi_on_z=2 opt.lr_z="$lrz" jobs=1 threads=1 out="$out-sample" > /dev/null 2>&1
read -r cs cu csy < "$out-sample.time"
n=$(( $(echo "$lrz" | tr ',' '\n' | wc -l) * 4 ))
printf 'scansnap: the sample (%d runs, one process, 1 thread): %.2f s wall, %.2f CPU-s\n' "$n" "$cs" "$(echo "$cu + $csy" | bc -l)"
pyout=$(/usr/bin/python3 bench/fig6_torch.py --lr-z "$lrz" --threads 2)
echo "$pyout"
py=$(echo "$pyout" | tail -1)
ps=$(echo "$py" | sed -n 's/.*sample_seconds=\([0-9.]*\).*/\1/p')
ex=$(echo "$py" | sed -n 's/.*extrapolated_seconds=\([0-9.]*\).*/\1/p')
printf 'pytorch:  the same sample: %.1f s (training only, 2 threads) = %.0fx scansnap on the same runs\n' "$ps" "$(echo "$ps / $cs" | bc -l)"
printf 'pytorch:  640 runs EXTRAPOLATED from the sample: %.0f s (%.1f h), %.3f runs/s; scansnap measured %.1f s = %.0fx faster\n' \
  "$ex" "$(echo "$ex / 3600" | bc -l)" "$(echo "640 / $ex" | bc -l)" "$wall" "$(echo "$ex / $wall" | bc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: compare the ratios, not the seconds)"
