#!/usr/bin/env bash
# `scansnap plot` writes non-empty PNG and SVG figures: for a run (loss/accuracy, Figure-4
# heatmap, common/distinct mass, entropy; a second run drawn as the theory overlay) and for
# a sweep (Figure 6 with the reference points; t0 when the runs have snap.json).
set -euo pipefail
cli=${SS_CLI:?}
if ! command -v gnuplot >/dev/null; then echo "SKIP: gnuplot not installed"; exit 0; fi
tmp=${SS_TMP:-/tmp}/plot-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
check() { # file, minimum bytes
  [ -s "$1" ] || { echo "FAIL: $1 missing or empty"; exit 1; }
  [ "$(stat -c %s "$1")" -ge "$2" ] || { echo "FAIL: $1 is only $(stat -c %s "$1") bytes"; exit 1; }
  case "$1" in
    *.png) [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "FAIL: $1 is not a PNG"; exit 1; } ;;
    *.svg) grep -q '<svg' "$1" && grep -q '</svg>' "$1" || { echo "FAIL: $1 is not a complete SVG"; exit 1; } ;;
  esac
}
"$cli" train niter=12 save_per_minibatch=2 out="$tmp/run" >/dev/null
"$cli" train niter=12 save_per_minibatch=3 opt.lr_z=2 out="$tmp/other" >/dev/null
"$cli" plot "$tmp/run" theory="$tmp/other" > "$tmp/plot.log"
for f in loss_acc mass entropy composition; do
  check "$tmp/run/figures/$f.png" 5000
  check "$tmp/run/figures/$f.svg" 3000
done
grep -q "theory.dat" "$tmp/run/figures/mass.body.gp" || { echo "FAIL: no theory overlay"; exit 1; }
[ "$(wc -l < "$tmp/run/figures/theory.dat")" -eq 6 ] # header + 5 rows (steps 0,3,6,9,12)
grep -q "common tokens (10)" "$tmp/run/figures/composition.body.gp"
grep -q "distinct tokens (10)" "$tmp/run/figures/composition.body.gp"

printf 'lr_z,entropy_mean,entropy_std,seeds\n0.5,2.0,0.05,10\n1,1.9,0.05,10\n' > "$tmp/ref.csv"
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 opt.lr_y_multi_on_z=1,2 niter=10 reference="$tmp/ref.csv" out="$tmp/sweep" >/dev/null 2>&1
for d in "$tmp"/sweep/seed=*; do echo '{"t0": 12.5, "rule": "test"}' > "$d/snap.json"; done
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 opt.lr_y_multi_on_z=1,2 niter=10 reference="$tmp/ref.csv" out="$tmp/sweep" >/dev/null 2>&1
grep -q '^opt.lr_z,opt.lr_y_multi_on_z,count,failed,.*t0_mean' "$tmp/sweep/aggregate.csv"
"$cli" plot "$tmp/sweep" > "$tmp/plot2.log"
for f in fig6 t0; do
  check "$tmp/sweep/figures/$f.png" 5000
  check "$tmp/sweep/figures/$f.svg" 3000
done
# the paper's points are drawn: one block per eta_Z with its reference row
[ -s "$tmp/sweep/figures/fig6_ref_0.dat" ] && grep -q "^1.08 2.0 0.05" "$tmp/sweep/figures/fig6_ref_0.dat"
echo OK
