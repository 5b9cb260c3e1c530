#!/usr/bin/env bash
# Proves: the Y/Z kernels give the same bits whichever instruction set runs them. The CPU
# picks the AVX-512, AVX2 or baseline clone of the hot loops at load time; valgrind's
# virtual CPU has no AVX-512, so the same binary under valgrind runs the AVX2 clone. Two runs (grouped kernels: generated data, several options) must
# write byte-identical metrics.csv and dynamics.safetensors natively and under valgrind.
# Skipped in the sanitizer build and where valgrind is missing; says which clone ran.
set -euo pipefail
cli=${SS_CLI:?}
if [ "${SS_SANITIZE:-0}" = 1 ]; then echo "SKIP: sanitizer build (no clones)"; exit 0; fi
if ! command -v valgrind >/dev/null 2>&1; then echo "SKIP: valgrind not installed"; exit 0; fi
tmp=${SS_TMP:-/tmp}/isa-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
native=baseline
grep -q -w avx2 /proc/cpuinfo && native=avx2
grep -q -w avx512f /proc/cpuinfo && native=avx512f
echo "native CPU: $native clone; under valgrind: avx2 (or baseline) clone"
[ "$native" = avx512f ] || echo "(this CPU has no AVX-512: both sides may run the same clone)"
check() { # name, then the run's keys
  local name=$1
  shift
  "$cli" train out="$tmp/$name-native" "$@" >/dev/null
  valgrind --quiet "$cli" train out="$tmp/$name-vg" "$@" >/dev/null 2>"$tmp/vg.log"
  for f in metrics.csv dynamics.safetensors; do
    if ! cmp -s "$tmp/$name-native/$f" "$tmp/$name-vg/$f"; then
      echo "FAIL: $name: $f differs between the native clone and valgrind's"
      diff <(tail -3 "$tmp/$name-native/metrics.csv") <(tail -3 "$tmp/$name-vg/metrics.csv") || true
      exit 1
    fi
  done
  echo "same bits: $name ($*)"
}
check fig4 niter=30 threads=1
check options niter=20 model2.residual=true model2.normalize=false model2.attn_include_base_token=true \
  dataset2.num_last=3 dataset2.num_next_per_last=2 dataset2.num_common_per_last=2 threads=2
echo "PASS"
