#!/usr/bin/env bash
# Proves: the install step of `make install PREFIX=...` (cmake --install) puts under a prefix
# bin/scansnap, lib/libscansnap.so*, the one public header (no internal one), scansnap.pc,
# share/scansnap/configs and the Python package; the library's SONAME is libscansnap.so.0 and it
# exports exactly the functions <scansnap.h> declares (no internal ss_* symbol, nm -D);
# examples/fig4.c compiles against the installed tree with `cc $(pkg-config --cflags --libs
# scansnap)` and trains Figure 4: the entropies it prints are the run's metrics.csv (read with
# Python's csv module); the installed CLI finds its presets; the installed Python package loads
# the installed library (no SCANSNAP_LIB) and gives the same final entropy.
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
build=$(dirname "$cli")
tmp=${SS_TMP:-/tmp}/install-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix
[ -e "$build/libscansnap.so" ] || { echo "no shared library in $build (fuzzing build): skip"; exit 77; }

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/scansnap lib/libscansnap.so lib/libscansnap.so.0 include/scansnap.h lib/pkgconfig/scansnap.pc \
         share/scansnap/configs/fig4.yaml share/scansnap/configs/fig6.yaml lib/python3/dist-packages/scansnap/__init__.py; do
  [ -e "$prefix/$f" ] || fail "make install did not install $f"
done
[ ! -e "$prefix/include/scansnap" ] || fail "the internal headers (include/scansnap/) were installed"
soname=$(objdump -p "$prefix/lib/libscansnap.so" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libscansnap.so.0 ] || fail "SONAME is '$soname', expected libscansnap.so.0"

# the exported functions are the header's SS_API declarations, no more, no fewer
python3 - "$prefix/include/scansnap.h" <(nm -D --defined-only "$prefix/lib/libscansnap.so") <<'PY'
import re, sys
header = open(sys.argv[1]).read()
declared = set(re.findall(r"^SS_API[^(;]*?\b(ss_\w+)\s*\(", header, re.M))
exported = set()
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) == 3 and not parts[2].startswith("_"):  # sanitizer builds add __asan_* etc.
        exported.add(parts[2].split("@")[0])
assert len(declared) > 60, declared
internal = sorted(exported - declared)
missing = sorted(declared - exported)
assert not internal, "exported but not in <scansnap.h>: %s" % internal[:20]
assert not missing, "declared in <scansnap.h> but not exported: %s" % missing
print("exports: the %d functions of <scansnap.h>, nothing else" % len(declared))
PY

# the example, through pkg-config only
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs scansnap)
san=()
[ "${SS_SANITIZE:-0}" = 1 ] && san=(-fsanitize=address,undefined)
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$src/examples/fig4.c" $flags -o "$tmp/fig4" ||
  fail "examples/fig4.c does not build with: cc $flags"
LD_LIBRARY_PATH=$prefix/lib "$tmp/fig4" "$tmp/run" >"$tmp/out" || { cat "$tmp/out"; fail "the example failed"; }
python3 - "$tmp/out" "$tmp/run/metrics.csv" <<'PY'
import csv, re, sys
out = open(sys.argv[1]).read()
rows = {int(r["step"]): float(r["entropy"]) for r in csv.DictReader(open(sys.argv[2]))}
printed = {int(s): float(h) for s, h in re.findall(r"^step +(\d+) +entropy ([0-9.]+)$", out, re.M)}
assert sorted(printed) == [0, 20, 40, 60, 80, 100], out
for s, h in printed.items():
    assert abs(rows[s] - h) < 5e-5, (s, rows[s], h)
final = float(re.search(r"final entropy ([0-9.]+)", out).group(1))
assert abs(final - rows[100]) < 5e-5 and abs(final - 2.7411) < 1e-4, final
print("example: %d entropies as in metrics.csv, final %.4f" % (len(printed), final))
PY

# the installed CLI finds its presets next to itself
# (out= cannot be made, so nothing runs: the message is about out=, not about the preset)
out=$(cd "$tmp" && env -u SS_CONFIGS "$prefix/bin/scansnap" sweep --preset fig6 out=/dev/null/x 2>&1) || true
if grep -q "/dev/null/x" <<<"$out" && ! grep -q -- "--preset" <<<"$out"; then
  echo "cli: the installed scansnap finds its presets"
else
  echo "$out"; fail "the installed CLI does not find share/scansnap/configs/fig6.yaml"
fi

# the installed Python package loads the installed library
py=/usr/bin/python3
"$py" -c 'import numpy' 2>/dev/null || { echo "no numpy: the Python part is skipped"; exit 0; }
pre=()
[ "${SS_SANITIZE:-0}" = 1 ] && pre=(env LD_PRELOAD="$(cc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0)
(cd "$tmp" && env -u SCANSNAP_LIB PYTHONPATH="$prefix/lib/python3/dist-packages" "${pre[@]}" "$py" -c '
import os, sys, scansnap, scansnap._lib as L
lib = L.lib()
assert os.path.realpath(lib._name).startswith(os.path.realpath(sys.argv[1])), lib._name
r = scansnap.train(out="pyrun")
assert abs(r.metrics["entropy"][-1] - 2.7411) < 1e-4, r.metrics["entropy"][-1]
print("python: installed package and library, final entropy %.4f" % r.metrics["entropy"][-1])
' "$prefix/lib")
