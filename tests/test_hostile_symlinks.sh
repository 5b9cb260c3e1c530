#!/usr/bin/env bash
# Proves: symbolic links (and a FIFO) planted in a run, sweep or verify directory make
# `scansnap plot`, `report` and `show` neither write through them (a figure, gnuplot.log,
# report.html or the figures folder pointing outside) nor read through them (run.json,
# metrics.csv, config.yaml, claims.json, dynamics.safetensors, sweep.json, aggregate.csv, a
# sub-run of verify, the theory run's files): the files outside keep their bytes, the secret
# they hold appears in no output, and the command ends with status 0 or 2 (one line), never
# hangs on a FIFO.
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_hostile.sh
. "$(dirname "$0")/lib_hostile.sh"
hostile_setup hostile-links
need_gnuplot

"$cli" train niter=4 out="$tmp/base" >/dev/null
"$cli" theory niter=4 out="$tmp/theory" >/dev/null
fresh() { rm -rf "${tmp:?}/$1" && cp -r "$tmp/base" "$tmp/$1"; }
check() { # DIR WHAT
  no_command_ran "$2"
  outside_unchanged "$2"
  no_secret "$1/report.html" "$1"/figures/* "$tmp/cli.log"
  [ -z "$(ls -A "$tmp/outside/figs")" ] || fail "$2: files were written into the folder a link points at"
}

# outputs: a link where plot or report writes
fresh out1
mkdir -p "$tmp/out1/figures"
ln -s "$tmp/outside/victim" "$tmp/out1/figures/loss_acc.svg"
ln -s "$tmp/outside/victim" "$tmp/out1/figures/loss_acc.png"
ln -s "$tmp/outside/victim2" "$tmp/out1/figures/gnuplot.log"
ln -s "$tmp/outside/victim2" "$tmp/out1/figures/run.dat"
ln -s "$tmp/outside/victim" "$tmp/out1/report.html"
run_cli "0" "plot with links among the outputs" plot "$tmp/out1"
run_cli "0" "report with links among the outputs" report "$tmp/out1"
check "$tmp/out1" "links among the outputs"
[ -f "$tmp/out1/figures/loss_acc.svg" ] && [ ! -L "$tmp/out1/figures/loss_acc.svg" ] || fail "loss_acc.svg was not written fresh"

fresh out2
ln -s "$tmp/outside/figs" "$tmp/out2/figures"
run_cli "2" "plot with a figures link" plot "$tmp/out2"
run_cli "0" "report with a figures link (the page, without figures)" report "$tmp/out2"
grep -q "not a real folder" "$tmp/cli.log" || fail "the report does not say why it has no figures"
check "$tmp/out2" "a figures link"

# inputs: every file plot/report/show read, as a link to a file outside
for f in run.json metrics.csv config.yaml claims.json dynamics.safetensors classes.json snap.json; do
  fresh "in-$f"
  case $f in
    metrics.csv) target=$tmp/outside/secret.csv ;;
    claims.json | run.json | snap.json | classes.json) target=$tmp/outside/secret.json ;;
    dynamics.safetensors) target=$tmp/theory/dynamics.safetensors ;;
    *) target=$tmp/outside/secret ;;
  esac
  rm -f "$tmp/in-$f/$f"
  ln -s "$target" "$tmp/in-$f/$f"
  for c in plot report show; do run_cli "0 2" "$c with $f a link" "$c" "$tmp/in-$f"; done
  check "$tmp/in-$f" "$f a link"
done
# a link is refused with a message naming it (not silently followed)
run_cli "2" "plot with metrics.csv a link" plot "$tmp/in-metrics.csv"
grep -q "metrics.csv" "$tmp/cli.log" || fail "the refusal does not name metrics.csv"

# a FIFO where metrics.csv should be: refused at once, no hang
fresh fifo
rm "$tmp/fifo/metrics.csv" && mkfifo "$tmp/fifo/metrics.csv"
st=0; timeout 60 "$cli" plot "$tmp/fifo" >"$tmp/cli.log" 2>&1 || st=$?
[ "$st" = 2 ] || fail "plot with a FIFO: exit $st (124 = hung)"

# theory=OTHER whose files are links
rm -rf "$tmp/th2" && cp -r "$tmp/theory" "$tmp/th2" && rm "$tmp/th2/metrics.csv" && ln -s "$tmp/outside/secret.csv" "$tmp/th2/metrics.csv"
fresh th
run_cli "2" "plot theory=<a run with a linked metrics.csv>" plot "$tmp/th" theory="$tmp/th2"
check "$tmp/th" "theory run with a link"

# a sweep: sweep.json, aggregate.csv and the reference as links
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 niter=3 out="$tmp/sbase" >/dev/null 2>&1
for f in sweep.json aggregate.csv sweep.csv config.yaml; do
  rm -rf "$tmp/s-$f" && cp -r "$tmp/sbase" "$tmp/s-$f"
  rm "$tmp/s-$f/$f" && ln -s "$tmp/outside/secret.csv" "$tmp/s-$f/$f"
  for c in plot report show; do run_cli "0 2" "$c with the sweep's $f a link" "$c" "$tmp/s-$f"; done
  check "$tmp/s-$f" "sweep $f a link"
done
rm -rf "$tmp/s-ref" && cp -r "$tmp/sbase" "$tmp/s-ref"
ln -s "$tmp/outside/secret.csv" "$tmp/s-ref/reference.csv"
python3 - "$tmp/s-ref/sweep.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["reference"] = "reference.csv"; json.dump(j, open(sys.argv[1], "w"))
PY
for c in plot report show; do run_cli "0 2" "$c with the reference a link" "$c" "$tmp/s-ref"; done
check "$tmp/s-ref" "sweep reference a link"

# verify's directory: a sub-run that is a link to a run elsewhere
mkdir -p "$tmp/ver"
cp "$tmp/outside/secret.json" "$tmp/ver/claims.json" && sed -i 's/SECRET-7f3a/fates/' "$tmp/ver/claims.json"
cp -r "$tmp/base" "$tmp/ver/theory"
mkdir -p "$tmp/elsewhere" && cp -r "$tmp/base" "$tmp/elsewhere/sgd"
echo "SECRET-7f3a: $(cat "$tmp/elsewhere/sgd/config.yaml")" >"$tmp/elsewhere/sgd/config.yaml"
ln -s "$tmp/elsewhere/sgd" "$tmp/ver/sgd"
for c in plot report show; do run_cli "0 2" "$c of verify with sgd/ a link" "$c" "$tmp/ver"; done
check "$tmp/ver" "verify sub-run a link"
[ ! -e "$tmp/elsewhere/sgd/figures" ] || fail "plot wrote into the run a link points at"
echo OK
