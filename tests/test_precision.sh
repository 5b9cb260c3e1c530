#!/usr/bin/env bash
# Proves: model.precision=float32 (the Y/Z grouped kernels in single precision, parameters,
# gradients and optimizer in double) trains the Figure-4 run to the same result as float64 up
# to float rounding, passes the same end-to-end bounds, and keeps scansnap's determinism
# (threads 1 and 2 give byte-identical metrics and checkpoint); the resolved config.yaml says
# which precision ran. Its bits across instruction sets: test_isa_identity.sh.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/precision-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$cli" train out="$tmp/f64" threads=1 >/dev/null
"$cli" train out="$tmp/f32" threads=1 model.precision=float32 >/dev/null
"$cli" train out="$tmp/f32t2" threads=2 model.precision=float32 >/dev/null
for f in metrics.csv checkpoint.safetensors dynamics.safetensors; do
  cmp "$tmp/f32/$f" "$tmp/f32t2/$f" || { echo "FAIL: float32 $f differs between threads=1 and threads=2"; exit 1; }
done
echo "float32: threads 1 and 2 byte-identical"
grep -q '^  precision: float32' "$tmp/f32/config.yaml" || { echo "FAIL: config.yaml does not record model.precision"; grep -n precision "$tmp/f32/config.yaml"; exit 1; }
if cmp -s "$tmp/f64/metrics.csv" "$tmp/f32/metrics.csv"; then echo "FAIL: float32 gave float64's bits: not in effect"; exit 1; fi
# the last row of each: every column within float rounding of float64's (loss is near 0 at
# the end, so it is compared in absolute terms), and the Figure-4 bounds of test_fig4_e2e
paste -d, <(tail -1 "$tmp/f64/metrics.csv") <(tail -1 "$tmp/f32/metrics.csv") | awk -F, -v hdr="$(head -1 "$tmp/f64/metrics.csv")" '
  BEGIN { n = split(hdr, name, ",") }
  { bad = 0
    for (i = 2; i <= n; i++) {
      a = $i; b = $(i + n); d = a - b; if (d < 0) d = -d; s = a < 0 ? -a : a
      tol = name[i] == "loss" ? 1e-6 : 1e-5 * (s > 1 ? s : 1)
      printf "  %-17s float64 %.10g  float32 %.10g  |diff| %.3g (tol %.3g)\n", name[i], a, b, d, tol
      if (!(d <= tol)) bad = 1
    }
    e = $(4 + n); tau = $(8 + n)
    if (!(e >= 2.70 && e <= 2.80)) { print "FAIL: float32 final entropy " e " outside [2.70, 2.80]"; bad = 1 }
    if (!(tau > 0.8)) { print "FAIL: float32 final Kendall tau " tau " <= 0.8"; bad = 1 }
    exit bad }'
echo "PASS"
