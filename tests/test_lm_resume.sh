#!/usr/bin/env bash
# Proves: a language-model run (model.task=lm, src/text/lm_train.c) killed with SIGKILL at
# random moments (four times, resumed processes included) and stopped once by SIGTERM and
# once by SIGINT, each time continued with `scansnap train --resume DIR`, finishes
# byte-identical (metrics.csv, metrics.jsonl, dynamics.safetensors, attention.safetensors,
# checkpoint.safetensors) to the same run never interrupted. The run
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
# shellcheck source=tests/lib_resume.sh
. "$(dirname "$0")/lib_resume.sh"
export SS_NO_GNUPLOT=1

seed=${SS_TEST_SEED:-$$}
RANDOM=$seed
echo "kill schedule seed: $seed (SS_TEST_SEED=$seed replays it)"

# a tiny corpus: 300 lines of 10 words drawn from 15 (no network)
tiny_corpus "$tmp/text.txt"

# 20 epochs of 14 steps = 280 updates
args=(model.type=transformer model.task=lm data.path="$tmp/text.txt" data.cache="$tmp/cache" model.d=16 model.H=2
      model.dropout=0.2 data.T=8 batchsize=4 niter=280 text.epochs=20 text.epoch_steps=14 text.eval_batches=4 text.top_k=3
      text.probes=2 text.probe_steps=0,30,100,171,250 opt.method=adam opt.lr=0.01 opt.lr_decay=0.9 save_every=7 threads=1)
delay=5000 # us per step: the 280 steps take >= 1.4 s, far more than the six interrupted segments
files=(metrics.csv metrics.jsonl dynamics.safetensors attention.safetensors checkpoint.safetensors)

"$cli" train out="$tmp/ref" "${args[@]}" >/dev/null


run=$tmp/run
# 1) the first process and 3 resumed ones are killed at random moments
kill_and_resume "$run" 4 10 "$delay" "${args[@]}"

# 2) SIGTERM and SIGINT stop at the next step with a checkpoint
stop_by_signals "$run" "$delay" 10

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
