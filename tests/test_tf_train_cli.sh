#!/usr/bin/env bash
# `scansnap train model.type=transformer` trains on the synthetic classes and writes the
# same files as a Y/Z run; the loss falls; threads=1 and threads=2 give byte-identical
# metrics and checkpoints; a dropout run stopped and resumed matches the uninterrupted one; heads that do not divide d are a one-line input error (exit 2).
set -euo pipefail
CLI=${SS_CLI:?}
TMP=${SS_TMP:-/tmp}/tf_train_cli-$$
rm -rf "$TMP"; mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
ARGS="model.type=transformer model.d=16 model.H=2 model.use_residue=true data.T=24 batchsize=16 niter=30 opt.lr=0.2 save_per_minibatch=5"
"$CLI" train $ARGS threads=1 out="$TMP/a" > "$TMP/a.log" 2>&1
"$CLI" train $ARGS threads=2 out="$TMP/b" > "$TMP/b.log" 2>&1
for f in config.yaml classes.json metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors run.json; do
  [ -s "$TMP/a/$f" ] || { echo "missing $f"; exit 1; }
done
grep -q '"status": "complete"' "$TMP/a/run.json" || { echo "run not complete"; cat "$TMP/a/run.json"; exit 1; }
grep -q '"model": "transformer"' "$TMP/a/run.json" || { echo "run.json does not name the transformer"; exit 1; }
rows=$(($(wc -l < "$TMP/a/metrics.csv") - 1))
[ "$rows" -eq 7 ] || { echo "expected 7 metric rows (steps 0,5,..,30), got $rows"; exit 1; }
# loss falls, composition is a distribution over tokens (entropy finite and positive)
awk -F, 'NR==2{l0=$2; e0=$4} END{ if (!($2 < 0.5*l0)) {print "loss did not fall: " l0 " -> " $2; exit 1}
         if (!(e0 > 0)) {print "entropy of c_n not positive: " e0; exit 1} }' "$TMP/a/metrics.csv"
cmp "$TMP/a/metrics.csv" "$TMP/b/metrics.csv" || { echo "metrics differ between threads=1 and threads=2"; exit 1; }
cmp "$TMP/a/checkpoint.safetensors" "$TMP/b/checkpoint.safetensors" || { echo "checkpoints differ between thread counts"; exit 1; }
# A run with dropout stopped by SIGTERM and resumed ends byte-identical to one never stopped
# (the dropout step counter is in the checkpoint).
DARGS="$ARGS model.dropout=0.2 model.use_ffn=true opt.lr=0.01 niter=60 save_every=10 threads=2"
"$CLI" train $DARGS out="$TMP/ref" > /dev/null 2>&1
SS_TEST_STEP_DELAY_US=20000 "$CLI" train $DARGS out="$TMP/res" > /dev/null 2>&1 &
pid=$!
sleep 0.6
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
grep -q '"status": "complete"' "$TMP/res/run.json" && { echo "run finished before SIGTERM; raise the delay"; exit 1; }
"$CLI" train --resume "$TMP/res" > /dev/null 2>&1
for f in metrics.csv checkpoint.safetensors; do
  cmp "$TMP/ref/$f" "$TMP/res/$f" || { echo "resumed dropout run: $f differs from the uninterrupted run"; exit 1; }
done
set +e
"$CLI" train model.type=transformer model.d=10 model.H=3 niter=1 out="$TMP/c" > "$TMP/c.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 for model.H=3, model.d=10, got $rc"; cat "$TMP/c.log"; exit 1; }
grep -q "model.H" "$TMP/c.log" || { echo "error does not name model.H"; cat "$TMP/c.log"; exit 1; }
[ ! -e "$TMP/c/run.json" ] || { echo "a run directory was created for bad input"; exit 1; }
echo "ok"
