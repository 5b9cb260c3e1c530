#!/usr/bin/env bash
# Every bad input of issue 2 makes `scansnap train` exit 2 with ONE line on stderr naming the
# key, value or file, nothing on stdout, and no run directory whose run.json says complete.
# Then the paper's own Figure-4 command line runs unchanged (exit 0, run.json complete) and
# reports d and H as keys the Y/Z model does not use.
set -u
CLI=${SS_CLI:?SS_CLI must point at the scansnap binary}
base=${SS_TMP:-/tmp}/cli-bad-$$
rm -rf "$base"
mkdir -p "$base/cwd"
cd "$base/cwd" || exit 1
fails=0
n=0

# expect_bad "what must appear in the message" args...
expect_bad() {
  local must=$1
  shift
  n=$((n + 1))
  local out="$base/out$n.txt" err="$base/err$n.txt"
  "$CLI" train "$@" >"$out" 2>"$err"
  local rc=$?
  local lines
  lines=$(wc -l <"$err")
  if [ "$rc" -ne 2 ]; then
    echo "FAIL [$*]: exit $rc, expected 2; stderr: $(cat "$err")"
    fails=$((fails + 1))
  elif [ "$lines" -ne 1 ]; then
    echo "FAIL [$*]: $lines lines on stderr, expected 1:"
    cat "$err"
    fails=$((fails + 1))
  elif [ -s "$out" ]; then
    echo "FAIL [$*]: stdout not empty: $(cat "$out")"
    fails=$((fails + 1))
  elif ! grep -qF -- "$must" "$err"; then
    echo "FAIL [$*]: message does not name '$must': $(cat "$err")"
    fails=$((fails + 1))
  elif grep -qiE 'traceback|assert|sanitizer|runtime error' "$err"; then
    echo "FAIL [$*]: $(cat "$err")"
    fails=$((fails + 1))
  else
    echo "ok   [$*] -> $(cat "$err")"
  fi
}

d=$base/files
mkdir -p "$d"
# class tables (M = 4: tokens 0,1 contextual, 2 query, 3 next)
echo '{"M": 4, "classes": [{"query": 2, "next": 3, "tokens": [0, 1], "probs": [1.5, -0.5]}]}' >"$d/neg.json"
echo '{"M": 4, "classes": [{"query": 2, "next": 3, "tokens": [0, 1], "probs": [0.5, 0.4]}]}' >"$d/sum.json"
echo '{"M": 4, "classes": [{"query": 2, "next": 3, "tokens": [0, 7], "probs": [0.5, 0.5]}]}' >"$d/unk.json"
echo '{"M": 4, "classes": [' >"$d/broken.json"
# sequence files for the Figure-4 classes (M = 34)
printf '0 1 2 30 32\n0 1 99 30 32\n' >"$d/badid.txt"
printf '0 1 2 30 32\n0 1 30 32\n' >"$d/ragged.txt"
printf '0 1 x 30 32\n' >"$d/text.txt"
: >"$d/empty.txt"
printf 'niter: 5\ndata:\n  T: [3, 4\n' >"$d/syntax.yaml"
printf 'niter: 5\nseed: 3: 4\n' >"$d/syntax2.yaml"
printf 'niter: 5\nopt:\n  lr_z: [1, 2]\n' >"$d/list.yaml"
printf 'niter: 5\ndata:\n  num_lst: 3\n' >"$d/unknown.yaml"
echo "not a directory" >"$d/plainfile"
mkdir -p "$d/done" && echo '{"status": "complete"}' >"$d/done/run.json"

expect_bad "niterr" niterr=5
expect_bad "did you mean 'niter'" niterr=5
expect_bad "opt.lr_z" opt.lr_zz=1
expect_bad "'abc'" niter=abc
expect_bad "niter" niter=-3
expect_bad "batchsize" batchsize=0
expect_bad "L" L=1
expect_bad "data.T" data.T=0
expect_bad "num_last" dataset2.num_last=0
expect_bad "num_unique_per_next" dataset2.num_unique_per_next=-1
expect_bad "num_common" data.num_common=-1
expect_bad "opt.lr_z" opt.lr_z=0
expect_bad "opt.lr_z" opt.lr_z=-1
expect_bad "opt.lr" opt.lr=nan
expect_bad "opt.lr_z" opt.lr_z=inf
expect_bad "opt.lr_y" opt.lr_y=0
expect_bad "common_unnormalized_prob" data.common_unnormalized_prob=-1
expect_bad "unique_unnormalized_min" data.unique_unnormalized_min=-0.1
expect_bad "model2.normalize" model2.normalize=perhaps
expect_bad "opt.method" opt.method=rmsprop
expect_bad "memory" dataset2.num_last=1000 dataset2.num_unique_per_next=1000000
expect_bad "memory" data.num_common=300000
expect_bad "$d/neg.json" data.classes="$d/neg.json"
expect_bad "$d/sum.json" data.classes="$d/sum.json"
expect_bad "$d/unk.json" data.classes="$d/unk.json"
expect_bad "$d/broken.json" data.classes="$d/broken.json"
expect_bad "$d/nope.json" data.classes="$d/nope.json"
expect_bad "line 2" data.sequences="$d/badid.txt"
expect_bad "line 2" data.sequences="$d/ragged.txt"
expect_bad "line 1: 'x'" data.sequences="$d/text.txt"
expect_bad "$d/empty.txt" data.sequences="$d/empty.txt"
expect_bad "$d/nope.txt" data.sequences="$d/nope.txt"
expect_bad "line 2" "$d/syntax2.yaml"
expect_bad "$d/syntax.yaml" "$d/syntax.yaml"
expect_bad "line 3" "$d/list.yaml"
expect_bad "data.num_last" "$d/unknown.yaml"
expect_bad "$d/missing.yaml" "$d/missing.yaml"
expect_bad "$d/plainfile" out="$d/plainfile/run"
expect_bad "$d/done" out="$d/done"
expect_bad "strange" strange
expect_bad "--bogus" --bogus

# No bad input may leave a run that looks complete (run.json status complete).
if grep -rlsq '"complete"' "$base/cwd" "$d/plainfile" 2>/dev/null; then
  echo "FAIL: a bad input left a complete run: $(grep -rls '"complete"' "$base/cwd")"
  fails=$((fails + 1))
fi
if [ -d "$base/cwd/runs" ] && [ -n "$(ls -A "$base/cwd/runs")" ]; then
  echo "FAIL: bad input created run directories: $(ls "$base/cwd/runs")"
  fails=$((fails + 1))
fi

# The paper's exact command line (issue 2), without out=: a new directory under runs/.
"$CLI" train d=128 L=128 H=1 niter=100 save_per_minibatch=2 opt.wd=0 batchsize=128 seed=2 model2.normalize=true \
  opt.method=sgd model2.residual=false dataset2.num_last=2 dataset2.num_next_per_last=1 \
  dataset2.num_common_per_last=0 opt.lr_z=1 opt.lr_y_multi_on_z=1 >"$base/paper.out" 2>"$base/paper.err"
rc=$?
run=$(ls -d "$base"/cwd/runs/train-* 2>/dev/null | head -1)
if [ "$rc" -ne 0 ] || [ -z "$run" ]; then
  echo "FAIL: the paper's command exited $rc: $(cat "$base/paper.err")"
  fails=$((fails + 1))
else
  grep -q '"status": "complete"' "$run/run.json" || { echo "FAIL: paper run not complete"; fails=$((fails + 1)); }
  for k in model.d model.H; do
    if ! grep -q "$k" "$base/paper.err" || ! grep -q "\"unused_keys\": \".*$k" "$run/run.json"; then
      echo "FAIL: $k not reported as unused: $(cat "$base/paper.err")"
      fails=$((fails + 1))
    fi
  done
  grep -q 'M = 34' "$base/paper.out" || { echo "FAIL: paper run is not M = 34: $(cat "$base/paper.out")"; fails=$((fails + 1)); }
  echo "ok   paper command -> $run; stderr: $(cat "$base/paper.err")"
fi

# --help lists every key with its default (spot checks over the whole table)
"$CLI" train --help >"$base/help.txt" 2>&1 || { echo "FAIL: train --help exited non-zero"; fails=$((fails + 1)); }
for k in seed niter batchsize data.T data.num_last data.num_next_per_last data.num_common_per_last \
  data.unique_unnormalized_min model.normalize model.residual model.include_base_token model.zero_init \
  opt.lr_z opt.lr_y_multi_on_z opt.momentum data.classes data.sequences; do
  grep -q "^  $k " "$base/help.txt" || { echo "FAIL: '$k' missing from train --help"; fails=$((fails + 1)); }
done

echo "$n bad inputs checked, $fails failures"
[ "$fails" -eq 0 ] && rm -rf "$base"
[ "$fails" -eq 0 ]
