#!/usr/bin/env bash
# Proves: a language-model run (model.task=lm, src/text/lm_train.c) killed with SIGKILL at
# random moments (four times, resumed processes included) and stopped once by SIGTERM and
# once by SIGINT, each time continued with `scansnap train --resume DIR`, finishes
# byte-identical (metrics.csv, metrics.jsonl, dynamics.safetensors, attention.safetensors,
# attention_maps.dat, checkpoint.safetensors) to the same run never interrupted. The run
# has dropout (masks keyed by the saved step counter), Adam (moments), a learning rate
# decayed per epoch, validation rows after every epoch and attention maps kept at chosen
# steps. text.epoch_steps=14 with save_every=7 puts every other checkpoint at an epoch's
# end, before its validation, the boundary where the loop state is easiest to get wrong.
# SS_TEST_STEP_DELAY_US slows each step so the kills land mid-run; SS_TEST_SEED=N replays
# a failing kill schedule.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/lm-resume-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
export SS_NO_GNUPLOT=1

seed=${SS_TEST_SEED:-$$}
RANDOM=$seed
echo "kill schedule seed: $seed (SS_TEST_SEED=$seed replays it)"
fail() { echo "FAIL: $*" >&2; exit 1; }

# a tiny corpus: 300 lines of 10 words drawn from 15 (no network)
words=(the cat sat on a mat dog ran far away said man big small red)
for i in $(seq 1 300); do
  line=""
  for j in 1 2 3 4 5 6 7 8 9 10; do line+="${words[RANDOM % 15]} "; done
  echo "$line"
done >"$tmp/text.txt"

# 20 epochs of 14 steps = 280 updates
args=(model.type=transformer model.task=lm data.path="$tmp/text.txt" data.cache="$tmp/cache" model.d=16 model.H=2
      model.dropout=0.2 data.T=8 batchsize=4 text.epochs=20 text.epoch_steps=14 text.eval_batches=4 text.top_k=3
      text.probes=2 text.probe_steps=0,30,100,171,250 opt.method=adam opt.lr=0.01 opt.lr_decay=0.9 save_every=7 threads=1)
delay=5000 # us per step: the 280 steps take >= 1.4 s, far more than the six interrupted segments
files=(metrics.csv metrics.jsonl dynamics.safetensors attention.safetensors attention_maps.dat checkpoint.safetensors)

"$cli" train out="$tmp/ref" "${args[@]}" >/dev/null

status_of() { sed -n 's/.*"status": "\([a-z]*\)".*/\1/p' "$1/run.json"; }
stamp() { stat -c %y "$1/checkpoint.safetensors" 2>/dev/null || echo none; }
wait_for_progress() { # until the run's checkpoint changes from $2: the process is in its loop
  for _ in $(seq 1 3000); do [ "$(stamp "$1")" != "$2" ] && return 0; sleep 0.01; done
  fail "no new checkpoint in $1"
}

run=$tmp/run
# 1) the first process and three resumed ones are killed at random moments
for k in 1 2 3 4; do
  before=$(stamp "$run")
  if [ "$k" = 1 ]; then
    SS_TEST_STEP_DELAY_US=$delay "$cli" train out="$run" "${args[@]}" >/dev/null 2>&1 &
  else
    SS_TEST_STEP_DELAY_US=$delay "$cli" train --resume "$run" >/dev/null 2>&1 &
  fi
  pid=$!
  wait_for_progress "$run" "$before"
  sleep "0.0$((RANDOM % 10))"
  kill -KILL "$pid" 2>/dev/null || true
  st=0
  wait "$pid" || st=$?
  echo "kill $k: exit $st, run.json $(status_of "$run")"
  [ "$(status_of "$run")" != complete ] || fail "run completed before kill $k; raise the delay"
done

# 2) SIGTERM and SIGINT stop at the next step with a checkpoint
for sig in TERM INT; do
  before=$(stamp "$run")
  SS_TEST_STEP_DELAY_US=$delay "$cli" train --resume "$run" >"$tmp/out" 2>&1 &
  pid=$!
  wait_for_progress "$run" "$before"
  sleep "0.0$((RANDOM % 10))"
  kill -$sig "$pid"
  st=0
  wait "$pid" || st=$?
  want=143
  [ $sig = INT ] && want=130
  [ "$st" = $want ] || { cat "$tmp/out"; fail "SIG$sig: exit $st, expected $want"; }
  [ "$(status_of "$run")" = interrupted ] || fail "SIG$sig: run.json status $(status_of "$run"), expected interrupted"
  grep -q "continue with --resume" "$tmp/out" || fail "SIG$sig: no message saying how to continue"
  echo "SIG$sig: exit $st, run.json interrupted: $(cat "$tmp/out")"
done

# 3) the last resume runs to the end
"$cli" train --resume "$run" >/dev/null
[ "$(status_of "$run")" = complete ] || fail "resumed run is not complete"
for f in "${files[@]}"; do
  cmp "$tmp/ref/$f" "$run/$f" || fail "$f differs from the uninterrupted run"
done
if ls "$run" | grep -q '\.tmp-'; then fail "temporary files left: $(ls "$run")"; fi
# the comparison is not vacuous: the metrics hold the per-epoch validation rows
[ "$(grep -c . "$run/metrics.csv")" -gt 20 ] || fail "too few metrics rows"

# 4) resuming a complete run does nothing
out=$("$cli" train --resume "$run")
echo "$out" | grep -q "already complete" || fail "resume of a complete run: $out"
for f in "${files[@]}"; do cmp -s "$tmp/ref/$f" "$run/$f" || fail "$f changed by resuming a complete run"; done
echo "OK: a resumed language-model run is byte-identical to an uninterrupted one"
