#!/usr/bin/env bash
# `scansnap plot` writes non-empty PNG and SVG figures: for a run (loss/accuracy, Figure-4
# heatmap, every class's heatmap, common/distinct mass, entropy; its theory run of the same
# configuration drawn over it and beside its heatmap), for a theory run alone (labelled
# "theory", not "SGD"), and for a sweep (Figure 6 with the reference points; t0 when the runs
# have snap.json). It refuses (exit 2, one line naming the key, nothing written) a theory run
# of another configuration, a class the run does not have, sweep keys on a run. csv=true
# writes c_n.csv (parsed with Python's csv module: every step x class x token, each class's
# c_n summing to 1); colour=log draws the heatmaps on a log scale.
set -euo pipefail
cli=${SS_CLI:?}
if ! command -v gnuplot >/dev/null; then echo "SKIP: gnuplot not installed"; exit 77; fi
tmp=${SS_TMP:-/tmp}/plot-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # file, minimum bytes
  [ -s "$1" ] || fail "$1 missing or empty"
  [ "$(stat -c %s "$1")" -ge "$2" ] || fail "$1 is only $(stat -c %s "$1") bytes"
  case "$1" in
    *.png) [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG" ;;
    *.svg) python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$1" || fail "$1 is not well-formed XML" ;;
  esac
}
refused() { # WHAT ARGS...: exit 2 with one line on stderr
  local st=0
  "$cli" "${@:2}" >"$tmp/out" 2>"$tmp/err" || st=$?
  [ "$st" = 2 ] || fail "$1: exit $st, expected 2"
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$1: not one line on stderr: $(cat "$tmp/err")"
}

"$cli" train niter=12 save_per_minibatch=2 out="$tmp/run" >/dev/null
"$cli" theory niter=12 save_per_minibatch=3 out="$tmp/theory" >/dev/null
"$cli" train niter=12 save_per_minibatch=3 opt.lr_z=2 out="$tmp/other" >/dev/null

# refusals leave nothing behind
refused "theory run of another configuration" plot "$tmp/run" theory="$tmp/other"
grep -q "lr_z 1 here, 2 there" "$tmp/err" || fail "the refusal does not name the differing key: $(cat "$tmp/err")"
refused "class out of range" plot "$tmp/run" class=2
refused "a sweep key on a run" plot "$tmp/run" x=opt.lr_z
refused "an unknown argument" plot "$tmp/run" colour=purple
[ ! -e "$tmp/run/figures" ] || fail "a refused plot left $tmp/run/figures"

"$cli" plot "$tmp/run" theory="$tmp/theory" csv=true >"$tmp/plot.log"
for f in loss_acc mass entropy composition composition_classes; do
  check "$tmp/run/figures/$f.png" 5000
  check "$tmp/run/figures/$f.svg" 3000
done
grep -q "theory.dat" "$tmp/run/figures/mass.body.gp" || fail "no theory overlay"
grep -q "composition_theory.dat" "$tmp/run/figures/composition.body.gp" || fail "no theory heatmap beside the run's"
python3 - "$tmp/run/figures" <<'PY'
import csv, sys
from collections import defaultdict
d = sys.argv[1]
rows = [l for l in open(f"{d}/theory.dat") if not l.startswith("#")]
assert len(rows) == 5, rows  # steps 0, 3, 6, 9, 12
with open(f"{d}/c_n.csv", newline="") as f:
    r = list(csv.reader(f))
assert r[0] == ["step", "class", "token", "c"], r[0]
assert all(len(x) == 4 for x in r), "unequal field counts"
steps = sorted({int(x[0]) for x in r[1:]})
assert steps == [0, 2, 4, 6, 8, 10, 12], steps
assert len(r) - 1 == 7 * 2 * 34, len(r)  # S x N x M
tot = defaultdict(float)
for s, n, l, c in r[1:]:
    assert float(c) >= 0
    tot[(s, n)] += float(c)
assert all(abs(v - 1) < 1e-9 for v in tot.values()), tot
PY
grep -q "common (10)" "$tmp/run/figures/composition.body.gp"
grep -q "distinct (10)" "$tmp/run/figures/composition.body.gp"
grep -q "c_n.csv" "$tmp/plot.log" || fail "plot does not say where c_n.csv went"

# a theory run alone is labelled theory; a log colour scale on request
"$cli" plot "$tmp/theory" colour=log >/dev/null
grep -q "(theory)" "$tmp/theory/figures/loss_acc.body.gp" || fail "a theory run is not labelled theory"
! grep -q "SGD" "$tmp/theory/figures/loss_acc.body.gp" || fail "a theory run is labelled SGD"
grep -q "logscale cb" "$tmp/theory/figures/composition.body.gp" || fail "colour=log did not set a log colour scale"
check "$tmp/theory/figures/composition.png" 5000

# a run without metric rows yet, and one whose loss is 0 (nothing on a log axis) and whose
# accuracy was never measured: still drawn ("no data" where there is none)
cp -r "$tmp/run" "$tmp/empty" && rm -rf "$tmp/empty/figures" && head -1 "$tmp/run/metrics.csv" >"$tmp/empty/metrics.csv"
"$cli" plot "$tmp/empty" >/dev/null || fail "a run without metric rows is not drawn"
grep -q "no data" "$tmp/empty/figures/loss_acc.body.gp" || fail "an empty figure does not say so"
cp -r "$tmp/run" "$tmp/zero" && rm -rf "$tmp/zero/figures"
python3 - "$tmp/zero/metrics.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
for r in rows[1:]:
    r[rows[0].index("loss")], r[rows[0].index("acc")] = "0", "nan"
csv.writer(open(sys.argv[1], "w", newline=""), lineterminator="\n").writerows(rows)
PY
"$cli" plot "$tmp/zero" >/dev/null || fail "a run with zero loss and no accuracy is not drawn"

printf 'lr_z,lr_y_multi_on_z,entropy_distinct_mean,entropy_distinct_std,seeds\n0.5,1,2.0,0.05,10\n1,2,1.9,0.04,10\n' > "$tmp/ref.csv"
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 opt.lr_y_multi_on_z=1,2 niter=10 reference="$tmp/ref.csv" out="$tmp/sweep" >/dev/null 2>&1
for d in "$tmp"/sweep/seed=*; do echo '{"t0": 12.5, "rule": "test"}' > "$d/snap.json"; done
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 opt.lr_y_multi_on_z=1,2 niter=10 reference="$tmp/ref.csv" out="$tmp/sweep" >/dev/null 2>&1
grep -q '^opt.lr_z,opt.lr_y_multi_on_z,count,failed,.*t0_mean' "$tmp/sweep/aggregate.csv"
refused "theory= on a sweep" plot "$tmp/sweep" theory="$tmp/theory"
"$cli" plot "$tmp/sweep" > "$tmp/plot2.log"
for f in fig6 t0; do
  check "$tmp/sweep/figures/$f.png" 5000
  check "$tmp/sweep/figures/$f.svg" 3000
done
# the paper's points are drawn just beside ours: one block per eta_Z with its reference row
python3 - "$tmp/sweep/figures/fig6_ref_0.dat" <<'PY' || fail "the reference points are not where they belong"
import sys
blocks = [[l.split() for l in b.splitlines() if l and not l.startswith("#")] for b in open(sys.argv[1]).read().split("\n\n\n")]
(x0, y0, e0), = blocks[0]  # eta_Z = 0.5: the row at eta_Y/eta_Z = 1
(x1, y1, e1), = blocks[1]  # eta_Z = 1: the row at eta_Y/eta_Z = 2
assert 1 < float(x0) < 1.1 and (y0, e0) == ("2", "0.05"), blocks
assert 2 < float(x1) < 2.2 and (y1, e1) == ("1.9", "0.04"), blocks
PY
echo OK
