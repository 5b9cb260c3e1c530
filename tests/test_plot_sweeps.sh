#!/usr/bin/env bash
# Sweep figures follow what was swept (issue 13.7): a sweep of another key than Figure 6's
# is drawn against the key chosen (x=, by=, metric= on the command line, or by default the
# first swept key with numeric values), in a file named after what it shows, with the key
# drawn as written (not as gnuplot markup) and the points equal to aggregate.csv's (parsed
# with Python's csv module); a sweep of seeds only, or x=seed, draws each run (sweep.csv); a
# sweep of language-model runs is drawn with a metric its runs measured (any metrics.csv
# column: valid_loss per run checked against sweep.csv); a sweep's run folder (a path
# holding '=' and ',') is plotted and shown as the run it is (issue 11.11); a sweep of failed
# runs and a failed run's folder are drawn, reported and shown for what they are.
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_plot.sh
. "$(dirname "$0")/lib_plot.sh"
need_gnuplot
plot_setup plot-sweeps

# a sweep of another key; its run folders are paths with '=' and ','
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 data.zipf_exponent=1,1.5,2 data.unique_shape=zipf niter=8 out="$tmp/zipf" >/dev/null 2>&1
"$cli" plot "$tmp/zipf" x=data.zipf_exponent by=lr_z >"$tmp/plot.log"
f=$tmp/zipf/figures/entropy_distinct_vs_zipf_exponent
[ -s "$f.png" ] || fail "the sweep figure is not named after what it shows: $(ls "$tmp/zipf/figures")"
svg_ok "$f.svg"
grep -q '>zipf_exponent<' "$f.svg" || fail "the x label is not drawn as written (gnuplot markup?)"
! grep -q 'Figure 6\|η_Y/η_Z' "$f.body.gp" || fail "a zipf sweep is drawn as Figure 6"
grep -q 'η_Z = 0.5' "$f.body.gp" || fail "the lines are not labelled with the by key"
python3 - "$f"_0.dat "$tmp/zipf/aggregate.csv" <<'PY'
import csv, sys
dat, agg = sys.argv[1], sys.argv[2]
blocks = [[[float(v) for v in l.split()] for l in b.splitlines() if l and not l.startswith("#")] for b in open(dat).read().split("\n\n\n")][:2]
rows = list(csv.DictReader(open(agg, newline="")))
for li, lr in enumerate(["0.5", "1"]):
    want = [(float(r["data.zipf_exponent"]), float(r["entropy_distinct_mean"]), float(r["entropy_distinct_std"])) for r in rows if r["opt.lr_z"] == lr]
    got = [tuple(p) for p in blocks[li]]
    assert len(got) == 3 and all(abs(a - b) < 1e-8 for g, w in zip(got, want) for a, b in zip(g, w)), (got, want)
PY
"$cli" plot "$tmp/zipf" metric=loss >/dev/null
[ -s "$tmp/zipf/figures/loss_vs_lr_z.png" ] || fail "default x (first numeric swept key) or metric= not followed: $(ls "$tmp/zipf/figures")"
# only seeds swept: x = seed by default, one point per run (sweep.csv)
"$cli" sweep seed=1,2,3 niter=8 out="$tmp/seeds" >/dev/null 2>&1
"$cli" plot "$tmp/seeds" >/dev/null
python3 - "$tmp/seeds/figures/entropy_distinct_vs_seed_0.dat" "$tmp/seeds/sweep.csv" <<'PY'
import csv, sys
pts = [[float(v) for v in l.split()] for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
want = [(float(r["seed"]), float(r["entropy_distinct"])) for r in rows]
assert len(pts) == len(want) == 3 and all(p[0] == w[0] and abs(p[1] - w[1]) <= 1e-9 * abs(w[1]) for p, w in zip(pts, want)), (pts, want)
PY
run=$(ls -d "$tmp"/zipf/seed=1,lr_z=0.5,* | head -1)
"$cli" plot "$run" >/dev/null || fail "a sweep's run folder (a path with '=') is not plotted"
"$cli" show "$run" >/dev/null || fail "show of a sweep's run folder"
"$cli" show "$tmp/zipf" >"$tmp/show.txt"
grep -q "data.zipf_exponent = 1, 1.5, 2" "$tmp/show.txt" || fail "show of a sweep: $(cat "$tmp/show.txt")"

# a sweep whose runs all failed (no such class table): drawn, saying there is no complete run;
# a failed run's folder is reported and shown with its status and error, and plot says why it
# draws nothing
"$cli" sweep seed=1,2 "data.classes=$tmp/none1.json,$tmp/none2.json" niter=4 out="$tmp/failed" >/dev/null 2>&1 || true
"$cli" plot "$tmp/failed" >"$tmp/plot.log" || fail "a sweep of failed runs is not drawn"
grep -q "no complete run" "$tmp"/failed/figures/*.body.gp || fail "the figure of failed runs does not say so"
run=$(ls -d "$tmp"/failed/seed=1,* | head -1)
"$cli" report "$run" >/dev/null 2>"$tmp/err" || fail "a failed run is not reported: $(cat "$tmp/err")"
grep -q "<b>failed</b>" "$run/report.html" || fail "the report of a failed run does not say failed"
"$cli" show "$run" | grep -q "^status: *failed" || fail "show of a failed run"
st=0
"$cli" plot "$run" 2>"$tmp/err" || st=$?
[ "$st" = 2 ] && grep -q "nothing to draw" "$tmp/err" || fail "plot of a failed run: exit $st, $(cat "$tmp/err")"

# a sweep of language-model runs: drawn with a metric the runs measured
"$cli" sweep "${lm[@]}" text.epochs=1 text.epoch_steps=4 text.probe_steps=0 seed=1,2 opt.lr=0.1,0.3 out="$tmp/lms" >/dev/null 2>&1
"$cli" plot "$tmp/lms" >"$tmp/plot.log" || fail "plot of a sweep of language-model runs"
# its sweep.json metric (entropy_distinct) is never measured by language-model runs
grep -q "attn_entropy_vs_lr" "$tmp/plot.log" || fail "the LM sweep figure: $(cat "$tmp/plot.log")"
"$cli" plot "$tmp/lms" metric=valid_loss x=seed >"$tmp/plot.log"
python3 - "$tmp/lms/figures/valid_loss_vs_seed_0.dat" "$tmp/lms/sweep.csv" <<'PY'
import csv, sys
blocks = [[[float(v) for v in l.split()] for l in b.splitlines() if l.strip() and not l.startswith("#")]
          for b in open(sys.argv[1]).read().split("\n\n\n")]
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
for li, lr in enumerate(["0.1", "0.3"]):  # one line per opt.lr, one point per run (seed)
    want = [(float(r["seed"]), float(r["valid_loss"])) for r in rows if r["opt.lr"] == lr]
    got = [(p[0], p[1]) for p in blocks[li]]
    assert len(got) == 2 and all(g[0] == w[0] and abs(g[1] - w[1]) <= 1e-9 * abs(w[1]) for g, w in zip(got, want)), (got, want)
PY
echo OK
