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
# Outputs go to a new folder (under BENCH_OUT or TMPDIR), removed when the script ends: the
# harness deletes nothing just before a timed sweep (ext4 searches longer for free inodes
# while thousands were deleted in the last minutes, which would bill the harness's own
# clean-up to the sweep).
parent=${BENCH_OUT:-${TMPDIR:-/tmp}}
mkdir -p "$parent"
work=$(mktemp -d "$parent/scansnap-bench-fig6.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/sweep
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Each sweep: wall, CPU split (user / system), bytes written (the sweep folder's size and the
# bytes the sweep and its workers wrote, wchar of /proc/PID/io) -- first the default
# (files=light fsync=false, one flush at the end), then with every run's full files flushed
# one by one (files=full fsync=true: what a sweep wrote before), back to back.
sweep_once() { # label, out, extra keys...
  local label=$1 dir=$2
  shift 2
  rm -rf "$dir"
  /usr/bin/time -f '%e %U %S' -o "$dir.time" bash -c 'b=$(grep ^wchar /proc/$$/io | cut -d" " -f2); "$@" > "$0.log" 2>&1; s=$?; a=$(grep ^wchar /proc/$$/io | cut -d" " -f2); echo $((a - b)) > "$0.bytes"; exit $s' \
    "$dir" "$cli" sweep --preset fig6 out="$dir" jobs="${JOBS:-0}" "$@" || { tail "$dir.log"; exit 1; }
  read -r wall user sys < "$dir.time"
  local kb mb
  kb=$(du -sk "$dir" | cut -f1)
  mb=$(echo "$(cat "$dir.bytes") / 1048576" | bc -l)
  printf 'scansnap %-38s 640 runs: %5.1f s wall, %5.2f runs/s; CPU %5.1f s user + %5.1f s system; %6.1f MB on disk, %6.1f MB written\n' \
    "($label):" "$wall" "$(echo "640 / $wall" | bc -l)" "$user" "$sys" "$(echo "$kb / 1024" | bc -l)" "$mb"
}
sweep_once "default: files=light fsync=false" "$out"
sweep_once "files=full fsync=true, as before" "$out-full" files=full fsync=true
read -r wall user sys < "$out.time"
cpu=$(echo "$user + $sys" | bc -l)
printf 'scansnap: on an idle machine with %d cores the default sweep is about %.1f s wall (CPU-s / cores)\n' "$(nproc)" "$(echo "$cpu / $(nproc)" | bc -l)"
cmp -s "$out/sweep.csv" "$out-full/sweep.csv" && echo "scansnap: both sweeps' sweep.csv agree" || echo "scansnap: the two sweeps' tables DIFFER"
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
