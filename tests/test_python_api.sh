#!/usr/bin/env bash
# The Python package (python/scansnap, ctypes over libscansnap.so) against the CLI
# (tests/python_api.py): the Figure-4 run has the CLI's bits (run files, c_n); a bad key raises
# ValueError with the CLI's message; load_run (csv, json, numpy alone) and the library read a
# CLI run, a theory run, a sweep and a language-model run alike; a run stopped by its callback
# and one stopped by Ctrl-C (SIGINT) resume byte-identically; theory vs SGD as `scansnap
# compare`; divergence is DivergedError; verify's claims and a sweep as the CLI's. Then the
# package without numpy (python3 -S: arrays as array.array/memoryview) gives the Figure-4 value,
# and examples/fig4.py runs (it draws only where matplotlib is installed). Skipped (77) only
# where Debian's python3-numpy is missing.
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
build=$(dirname "$cli")
py=/usr/bin/python3
"$py" -c 'import numpy' 2>/dev/null || { echo "python3-numpy not installed: skip"; exit 77; }
[ -e "$build/libscansnap.so" ] || { echo "no shared library in $build (fuzzing build): skip"; exit 77; }
tmp=${SS_TMP:-/tmp}/python-api-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
export PYTHONPATH=$src/python SCANSNAP_LIB=$build/libscansnap.so PYTHONDONTWRITEBYTECODE=1
# the sanitizer build's library needs ASan loaded first; Python itself leaks by design
[ "${SS_SANITIZE:-0}" = 1 ] && export LD_PRELOAD="$(cc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0
cd "$tmp"
"$py" "$src/tests/python_api.py" "$cli" "$tmp" "$src"

# without numpy (-S: no site-packages): the same Figure-4 value, results as memoryviews
"$py" -S -c '
import sys, scansnap
assert not scansnap.arrays()
r = scansnap.train(out="nonumpy")
assert abs(r.metrics["entropy"][-1] - 2.7411) < 1e-4 and r.c_n.shape == (51, 2, 34)
assert abs(sum(r.c_n.tolist()[50][1]) - 1) < 1e-12
print("without numpy: final entropy %.4f, c_n %s" % (r.metrics["entropy"][-1], r.c_n.shape))
'
cmp "$tmp/nonumpy/metrics.csv" "$tmp/fig4-cli/metrics.csv"

# without SCANSNAP_LIB the package finds build/libscansnap.so beside its python/ folder
mkdir -p "$tmp/checkout/python"
cp -r "$src/python/scansnap" "$tmp/checkout/python/"
ln -s "$build" "$tmp/checkout/build"
env -u SCANSNAP_LIB PYTHONPATH="$tmp/checkout/python" "$py" -c '
import os, scansnap, scansnap._lib as L
assert L.lib()._name == os.path.join(os.getcwd(), "checkout", "build", "libscansnap.so"), L.lib()._name
print("checkout: found", L.lib()._name, scansnap.version())
'

# the example: trains, prints the value, draws only with matplotlib
out=$("$py" "$src/examples/fig4.py" "$tmp/example")
grep -q "final entropy 2.7411" <<<"$out" || { echo "$out"; echo "FAIL: examples/fig4.py"; exit 1; }
echo "$out" | tail -1
