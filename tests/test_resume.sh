#!/usr/bin/env bash
# Proves: a training run killed with SIGKILL at random moments (five times, the resumed
# process included) and stopped once by SIGTERM and once by SIGINT, each time continued
# with `scansnap train --resume DIR`, finishes byte-identical (metrics.csv, metrics.jsonl,
# dynamics.safetensors, checkpoint.safetensors) to the same run never interrupted; SIGTERM
# and SIGINT exit 143 and 130 and mark run.json "interrupted"; no temporary files remain;
# a finished transformer run with dropout extended by --resume niter=N equals a run of N.
# SS_TEST_STEP_DELAY_US (a test hook of ss_train) slows each step so the kills land mid-run,
# during training or during a checkpoint write. SS_TEST_SEED=N replays a failing schedule.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/resume-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib_resume.sh
. "$(dirname "$0")/lib_resume.sh"

niter=3000
args=(niter=$niter save_every=50 batchsize=32 threads=1)
delay=1000  # us per step: 3000 steps take >= 3 s, far more than the seven interrupted segments (< 0.25 s each)

seed=${SS_TEST_SEED:-$$}
RANDOM=$seed
echo "kill schedule seed: $seed (SS_TEST_SEED=$seed replays it)"

"$cli" train out="$tmp/ref" "${args[@]}" >/dev/null

wait_for_run() { # waits until the run's run.json exists
  for _ in $(seq 1 1000); do [ -f "$1/run.json" ] && return 0; sleep 0.01; done
  fail "run.json never appeared in $1"
}

run=$tmp/run
# 1) the first process and 4 resumed ones are killed at random moments
kill_and_resume "$run" 5 20 "$delay" "${args[@]}"

# 2) SIGTERM and SIGINT stop at the next step with a checkpoint
stop_by_signals "$run" "$delay" 0

# 3) the last resume runs to the end
"$cli" train --resume "$run" >/dev/null
[ "$(status_of "$run")" = complete ] || fail "resumed run is not complete"
for f in metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors; do
  cmp "$tmp/ref/$f" "$run/$f" || fail "$f differs from the uninterrupted run"
done
if ls "$run" | grep -q '\.tmp-'; then fail "temporary files left: $(ls "$run")"; fi

# 4) resuming a complete run does nothing; extending it matches a longer run from scratch
out=$("$cli" train --resume "$run")
echo "$out" | grep -q "already complete" || fail "resume of a complete run: $out"

# 5) the transformer with dropout: its masks are keyed by the step count, which a resumed
#    run restores (checkpoint tensor state.dropout_step); extending a finished run equals a longer run
tf=(model.type=transformer model.d=16 model.dropout=0.2 model.use_ffn=true data.T=16 batchsize=8
    threads=1 save_every=10 opt.method=adam opt.lr=0.01)
"$cli" train out="$tmp/tf-ref" "${tf[@]}" niter=60 >/dev/null
"$cli" train out="$tmp/tf" "${tf[@]}" niter=30 >/dev/null
"$cli" train --resume "$tmp/tf" niter=60 >/dev/null
for f in metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors; do
  cmp "$tmp/tf-ref/$f" "$tmp/tf/$f" || fail "transformer with dropout: $f differs after resume"
done

# 6) a language-model run (its own loop) and a theory run stop on SIGINT too and keep what
#    they measured (the LM run's resume is proven by tests/test_lm_resume.sh)
tiny_corpus "$tmp/text.txt"
"$cli" train model.type=transformer model.task=lm data.path="$tmp/text.txt" out="$tmp/lm" model.d=8 data.T=8 \
  batchsize=4 text.epochs=100000 niter=1000000 save_per_minibatch=1000 text.top_k=3 opt.lr=0.01 threads=1 >"$tmp/out" 2>&1 &
pid=$!
wait_for_run "$tmp/lm"
sleep 0.3
kill -INT "$pid"
st=0
wait "$pid" || st=$?
[ "$st" = 130 ] || { cat "$tmp/out"; fail "LM run on SIGINT: exit $st, expected 130"; }
[ "$(status_of "$tmp/lm")" = interrupted ] || fail "LM run: run.json $(status_of "$tmp/lm"), expected interrupted"
[ -s "$tmp/lm/metrics.csv" ] && [ -s "$tmp/lm/checkpoint.safetensors" ] || fail "LM run: no metrics or checkpoint kept"
grep -q "continue with --resume" "$tmp/out" || fail "LM run: the stop message does not say how to continue: $(cat "$tmp/out")"
echo "LM run: SIGINT -> exit 130, interrupted, metrics and checkpoint kept (resuming it: tests/test_lm_resume.sh)"

"$cli" theory out="$tmp/theory" niter=100000000 save_per_minibatch=1000000 >"$tmp/out" 2>&1 &
pid=$!
wait_for_run "$tmp/theory"
sleep 0.3
kill -INT "$pid"
st=0
wait "$pid" || st=$?
[ "$st" = 130 ] || { cat "$tmp/out"; fail "theory run on SIGINT: exit $st, expected 130"; }
[ "$(status_of "$tmp/theory")" = interrupted ] || fail "theory run: run.json $(status_of "$tmp/theory"), expected interrupted"
[ -s "$tmp/theory/metrics.csv" ] || fail "theory run: no metrics kept"
echo "theory run: SIGINT -> exit 130, interrupted, metrics kept"
echo "OK: resumed runs are byte-identical to uninterrupted ones"
