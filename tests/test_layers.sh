#!/usr/bin/env bash
# The layer order of src/ (scripts/check-layers: folders use only earlier folders; the library
# runs no program, reaps no foreign child, reads no environment, sets no OpenMP/MPI state and
# never ends the process), and a check that the checker itself catches a violation.
set -euo pipefail
src=${SS_SOURCE_DIR:?}
python3 "$src/scripts/check-layers" "$src"
# the checker is not vacuous: a copy of the tree with one backward call and one getenv fails
tmp=$(mktemp -d "${SS_TMP:-/tmp}/layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/src" "$src/include" "$tmp/"
printf '#include "scansnap/sweep.h"\nint ss_util_backward(void) { return (int)ss_sweep_npoints(0) + (getenv("X") != 0); }\n' > "$tmp/src/util/backward.c"
if out=$(python3 "$src/scripts/check-layers" "$tmp" 2>&1); then
  echo "check-layers passed a tree with a backward call:"; echo "$out"; exit 1
fi
grep -q "src/util/backward.c: includes scansnap/sweep.h" <<<"$out"
grep -q "src/util/backward.c: uses ss_sweep_npoints of sweep" <<<"$out"
grep -q "src/util/backward.c:2: getenv" <<<"$out"
echo "check-layers: the order holds and a planted violation is caught"
