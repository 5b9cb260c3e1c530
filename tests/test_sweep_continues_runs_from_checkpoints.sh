#!/usr/bin/env bash
# Proves: a sweep killed with SIGKILL while a run with periodic checkpoints is half done,
# then started again with the same command, continues that run from its checkpoint
# (run.json "resumed_from" > 0) instead of redoing it, and every run ends byte-identical
# (metrics.csv, metrics.jsonl, dynamics.safetensors, checkpoint.safetensors) to the same
# sweep never interrupted. A sweep of other fixed keys into that directory is refused.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/sweep-ckpt-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
niter=2000
[ "${SS_SANITIZE:-0}" = 1 ] && niter=800
args=(seed=1,2 niter=$niter save_every=100 batchsize=16 data.T=16 jobs=1 threads=1 files=full)

"$cli" sweep "${args[@]}" out="$tmp/full" >/dev/null 2>&1

SS_TEST_STEP_DELAY_US=500 "$cli" sweep "${args[@]}" out="$tmp/cut" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 1000); do
  ls "$tmp"/cut/*/checkpoint.safetensors >/dev/null 2>&1 && break
  sleep 0.01
done
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
complete=$(cat "$tmp"/cut/*/run.json 2>/dev/null | grep -c '"status": "complete"' || true)
[ "$complete" -lt 2 ] || fail "the kill did not land mid-sweep"

"$cli" sweep "${args[@]}" out="$tmp/cut" >/dev/null 2>&1
grep -q '"resumed_from": [1-9]' "$tmp"/cut/*/run.json || fail "no run was continued from its checkpoint"
for d in "$tmp"/full/*/; do
  name=$(basename "$d")
  for f in metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors; do
    cmp "$d/$f" "$tmp/cut/$name/$f" || fail "$name/$f differs from the uninterrupted sweep"
  done
done
echo "continued: $(grep -l '"resumed_from"' "$tmp"/cut/*/run.json | xargs -n1 dirname | xargs -n1 basename | tr '\n' ' ')"

# other fixed keys: the directory holds another grid; the sweep is refused (exit 2, naming the
# key) and the half-done run is left as it was, neither continued nor cleared
SS_TEST_STEP_DELAY_US=500 "$cli" sweep "${args[@]}" out="$tmp/cut2" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 1000); do
  ls "$tmp"/cut2/*/checkpoint.safetensors >/dev/null 2>&1 && break
  sleep 0.01
done
sleep 0.2
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
before=$(cd "$tmp/cut2" && find . -type f -print0 | sort -z | xargs -0 md5sum)
rc=0
"$cli" sweep seed=1,2 niter=$niter save_every=100 batchsize=16 data.T=16 jobs=1 threads=1 files=full opt.lr=0.5 out="$tmp/cut2" >"$tmp/other.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "a sweep of other fixed keys into the directory: exit $rc, expected 2"
grep -q "fixed key 'opt.lr'" "$tmp/other.log" || fail "the refusal does not name the key: $(cat "$tmp/other.log")"
after=$(cd "$tmp/cut2" && find . -type f -print0 | sort -z | xargs -0 md5sum)
[ "$before" = "$after" ] || fail "the refused sweep changed files in the directory"
if grep -q '"resumed_from"' "$tmp"/cut2/*/run.json; then fail "a run was continued under a different configuration"; fi
echo "OK: the sweep continued its half-done run from the checkpoint, byte-identical"
