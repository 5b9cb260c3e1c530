# Shared by tests/test_resume.sh and tests/test_lm_resume.sh (sourced, not a test): stop a
# training run at random moments and continue it with `scansnap train --resume`.
# Needs $cli (the CLI) and $tmp (a scratch folder); RANDOM drives the schedule.

fail() { echo "FAIL: $*" >&2; exit 1; }
status_of() { sed -n 's/.*"status": "\([a-z]*\)".*/\1/p' "$1/run.json"; }
stamp() { stat -c %y "$1/checkpoint.safetensors" 2>/dev/null || echo none; }
wait_for_progress() { # until the run's checkpoint changes from $2: the process is in its loop
  for _ in $(seq 1 3000); do [ "$(stamp "$1")" != "$2" ] && return 0; sleep 0.01; done
  fail "no new checkpoint in $1"
}
# tiny_corpus FILE: 300 lines of 10 words drawn (by RANDOM) from 15, for language-model runs
tiny_corpus() {
  local words=(the cat sat on a mat dog ran far away said man big small red) i j line
  for i in $(seq 1 300); do
    line=""
    for j in 1 2 3 4 5 6 7 8 9 10; do line+="${words[RANDOM % 15]} "; done
    echo "$line"
  done >"$1"
}
# a random pause of 0 .. $1 - 1 hundredths of a second
pause() { sleep "0.$(printf '%02d' $((RANDOM % $1)))"; }

# kill_and_resume RUN N MAXPAUSE DELAY ARGS...: the first process (train out=RUN ARGS) and
# N - 1 resumed ones (train --resume RUN), each SIGKILLed at a random moment once it makes
# progress; the run must not be complete yet after any of them.
kill_and_resume() {
  local run=$1 n=$2 maxp=$3 delay=$4 k before pid st
  shift 4
  for k in $(seq 1 "$n"); do
    before=$(stamp "$run")
    if [ "$k" = 1 ]; then
      SS_TEST_STEP_DELAY_US=$delay "$cli" train out="$run" "$@" >/dev/null 2>&1 &
    else
      SS_TEST_STEP_DELAY_US=$delay "$cli" train --resume "$run" >/dev/null 2>&1 &
    fi
    pid=$!
    wait_for_progress "$run" "$before"
    pause "$maxp"
    kill -KILL "$pid" 2>/dev/null || true
    st=0
    wait "$pid" || st=$?
    echo "kill $k: exit $st, run.json $(status_of "$run")"
    [ "$(status_of "$run")" != complete ] || fail "run completed before kill $k; raise the run's length or the delay"
  done
}

# stop_by_signals RUN DELAY MAXPAUSE: a resumed process stopped by SIGTERM, then one by
# SIGINT (after a random pause of up to MAXPAUSE hundredths once it makes progress; 0: none):
# exit 143 / 130, run.json "interrupted", one message saying how to continue.
stop_by_signals() {
  local run=$1 delay=$2 maxp=$3 sig before pid st want
  for sig in TERM INT; do
    before=$(stamp "$run")
    SS_TEST_STEP_DELAY_US=$delay "$cli" train --resume "$run" >"$tmp/out" 2>&1 &
    pid=$!
    # the handler is installed before the loop starts; a background job ignores SIGINT until then
    wait_for_progress "$run" "$before"
    if [ "$maxp" -gt 0 ]; then pause "$maxp"; fi
    kill -$sig "$pid"
    st=0
    wait "$pid" || st=$?
    want=143
    [ $sig = INT ] && want=130
    [ "$st" = $want ] || { cat "$tmp/out"; fail "SIG$sig: exit $st, expected $want"; }
    [ "$(status_of "$run")" = interrupted ] || fail "SIG$sig: run.json status $(status_of "$run"), expected interrupted"
    grep -q "stopped by signal .*continue with --resume" "$tmp/out" || fail "SIG$sig: no message saying how to continue"
    echo "SIG$sig: exit $st, run.json interrupted: $(cat "$tmp/out")"
  done
}
