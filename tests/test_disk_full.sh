#!/usr/bin/env bash
# Proves: when the output cannot be written — a file-size limit (ulimit -f, any user), a
# full 64 KiB tmpfs or a file system turned read-only mid-run (root only: needs mount) —
# the run stops with a clear message and exit 1, leaves no temporary or half-written file,
# never says "complete" in run.json, and keeps the previous checkpoint intact: resuming
# once there is room finishes byte-identical to a run that never hit the problem.
# An out= directory that cannot be created is bad input: exit 2. What a command prints to a
# full standard output (/dev/full) is exit 1 with a message, not a silent success.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/diskfull-$$
mnt=$tmp/mnt
mounted=0
cleanup() {
  if [ "$mounted" = 1 ]; then umount "$mnt" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
rm -rf "$tmp"
mkdir -p "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
status_of() { sed -n 's/.*"status": "\([a-z]*\)".*/\1/p' "$1/run.json"; }

args=(niter=400 save_every=10 batchsize=32 data.T=32 threads=1)
"$cli" train out="$tmp/ref" "${args[@]}" >/dev/null

# Checks a run that failed for lack of room, then resumes it (after moving it to room) and
# compares with the reference run.
check_failed_then_resume() { # dir, output file, exit status, expected message
  local dir=$1 out=$2 st=$3 msg=$4
  [ "$st" = 1 ] || { cat "$out"; fail "exit $st, expected 1"; }
  grep -Eq "$msg" "$out" || { cat "$out"; fail "message lacks '$msg'"; }
  if ls "$dir" | grep -q '\.tmp-'; then fail "temporary files left in $dir: $(ls "$dir")"; fi
  [ -f "$dir/checkpoint.safetensors" ] || fail "no checkpoint kept in $dir"
  [ "$(status_of "$dir")" != complete ] || fail "run.json says complete"
  echo "  -> exit $st: $(tail -n 1 "$out")"
  rm -rf "$tmp/moved"
  cp -a "$dir" "$tmp/moved"
  "$cli" train --resume "$tmp/moved" >/dev/null || fail "resume after freeing room failed"
  for f in metrics.csv metrics.jsonl dynamics.safetensors checkpoint.safetensors; do
    cmp "$tmp/ref/$f" "$tmp/moved/$f" || fail "$f differs from the run that had room"
  done
  echo "  -> resumed elsewhere: byte-identical to the reference run"
}

# 1) file-size limit: the metrics streams (metrics.bin, dynamics.bin) grow with the rows, so a
#    later write exceeds it (checkpoints stay the size of the parameters)
echo "file-size limit (ulimit -f 40):"
st=0
( ulimit -f 40; trap '' XFSZ; exec "$cli" train out="$tmp/fsize" "${args[@]}" ) >"$tmp/out" 2>&1 || st=$?
check_failed_then_resume "$tmp/fsize" "$tmp/out" "$st" "cannot write '.*(checkpoint.safetensors|metrics.bin|dynamics.bin)': File too large"

# 2) out= that cannot be created: bad input
echo "uncreatable out= directory:"
touch "$tmp/afile"
st=0
"$cli" train out="$tmp/afile/run" niter=2 >"$tmp/out" 2>&1 || st=$?
[ "$st" = 2 ] || fail "out= under a file: exit $st, expected 2"
grep -q "cannot create directory" "$tmp/out" || fail "no message: $(cat "$tmp/out")"
echo "  -> exit 2: $(cat "$tmp/out")"

echo "standard output on a full disk (/dev/full):"
if [ -w /dev/full ]; then
  for cmd in "show $tmp/ref" "--help" "train --help"; do
    st=0
    # shellcheck disable=SC2086
    "$cli" $cmd >/dev/full 2>"$tmp/out" || st=$?
    [ "$st" = 1 ] || fail "scansnap $cmd > /dev/full: exit $st, expected 1"
    grep -q "cannot write to standard output" "$tmp/out" || fail "scansnap $cmd > /dev/full: no message: $(cat "$tmp/out")"
  done
  echo "  -> exit 1: $(cat "$tmp/out")"
else
  echo "SKIP /dev/full: not writable here"
fi

# 3) tmpfs cases need root (mount); CI runs as root
if [ "$(id -u)" != 0 ] || ! { mkdir -p "$mnt" && mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null; }; then
  echo "SKIP tmpfs cases: not root or mount not permitted"
  exit 0
fi
mounted=1
echo "full 64 KiB tmpfs:"
st=0
"$cli" train out="$mnt/run" "${args[@]}" >"$tmp/out" 2>&1 || st=$?
check_failed_then_resume "$mnt/run" "$tmp/out" "$st" "No space left on device"

echo "read-only file system at the start:"
umount "$mnt"
mount -t tmpfs -o size=1m,ro tmpfs "$mnt"
st=0
"$cli" train out="$mnt/run" niter=2 >"$tmp/out" 2>&1 || st=$?
[ "$st" = 2 ] || fail "read-only out=: exit $st, expected 2"
grep -q "Read-only file system" "$tmp/out" || fail "no message: $(cat "$tmp/out")"
echo "  -> exit 2: $(cat "$tmp/out")"

echo "file system turned read-only mid-run:"
umount "$mnt"
mount -t tmpfs -o size=4m tmpfs "$mnt"
SS_TEST_STEP_DELAY_US=2000 "$cli" train out="$mnt/run" "${args[@]}" >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -f "$mnt/run/checkpoint.safetensors" ] && break; sleep 0.01; done
mount -o remount,ro "$mnt"
st=0
wait "$pid" || st=$?
[ "$(status_of "$mnt/run")" = running ] || fail "run.json on the read-only disk changed"
check_failed_then_resume "$mnt/run" "$tmp/out" "$st" "Read-only file system"
echo "OK"
