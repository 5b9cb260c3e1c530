#!/usr/bin/env bash
# A sweep writes and deletes only what is its own (issue 11 item 2, issue 13 item 9):
# - out= a folder it did not make (a home directory with a 'run' folder, a train run) is
#   refused with exit 2 and nothing in it changes; an empty folder is taken;
# - a second sweep of another grid into a sweep's folder is refused naming what differs, and
#   changes nothing; the same sweep again is a resume;
# - inside its folder, a point directory it did not make (no marker), a symlink in place of a
#   point directory, and a symlink inside a failed run of its own lead nowhere: what they point
#   to is untouched, the first two are reported "foreign" (exit 1), the link itself is removed.
set -euo pipefail
cli=${SS_CLI:?}
src=${SS_SOURCE_DIR:?}
tmp=${SS_TMP:-/tmp}/sweep-own-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
sums() { (cd "$1" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %Y %F' && find . -type f -print0 | sort -z | xargs -0 -r md5sum); }
expect2() { # expect2 WHAT MESSAGE ARGS...: exit 2 and the message
  local what=$1 msg=$2 rc=0
  shift 2
  "$cli" sweep "$@" >"$tmp/log" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || { cat "$tmp/log"; fail "$what: exit $rc, expected 2"; }
  grep -q -- "$msg" "$tmp/log" || { cat "$tmp/log"; fail "$what: message lacks '$msg'"; }
}

# a home directory: no swept key would have made its run folder DIR/run
mkdir -p "$tmp/home/run" && echo notes > "$tmp/home/run/notes.txt" && echo x > "$tmp/home/.profile"
before=$(sums "$tmp/home")
expect2 "out=a home directory" "is not empty and holds no sweep.json" niter=2 out="$tmp/home"
[ "$before" = "$(sums "$tmp/home")" ] || fail "the refused sweep changed the home directory"

# a train run: its config.yaml stays the run's
"$cli" train niter=3 out="$tmp/trainrun" >/dev/null
before=$(sums "$tmp/trainrun")
expect2 "out=a train run" "holds no sweep.json" niter=2 seed=1,2 out="$tmp/trainrun"
[ "$before" = "$(sums "$tmp/trainrun")" ] || fail "the refused sweep changed the train run"

# an empty folder is taken
mkdir "$tmp/empty"
"$cli" sweep niter=2 out="$tmp/empty" >/dev/null 2>&1 || fail "an empty out= folder was refused"
grep -q '"status": "complete"' "$tmp/empty/run/run.json" || fail "no run in the empty folder"

# another grid into a sweep's folder: refused, naming what differs; the same grid resumes
"$cli" sweep niter=2 seed=1,2 opt.lr_z=0.5,1 out="$tmp/sw" >/dev/null 2>&1
before=$(sums "$tmp/sw")
expect2 "other values" "swept key 'opt.lr_z' has the values 0.5,2 here, 0.5,1 there" niter=2 seed=1,2 opt.lr_z=0.5,2 out="$tmp/sw"
expect2 "other keys" "swept keys seed here, seed,opt.lr_z there" niter=2 seed=1,2 out="$tmp/sw"
expect2 "other fixed key" "fixed key 'niter' is 3 here, 2 there" niter=3 seed=1,2 opt.lr_z=0.5,1 out="$tmp/sw"
expect2 "a fixed key more" "fixed key 'batchsize' is 8 here, not given there" niter=2 batchsize=8 seed=1,2 opt.lr_z=0.5,1 out="$tmp/sw"
expect2 "theory" "theory=true here, false there" niter=2 seed=1,2 opt.lr_z=0.5,1 theory=true out="$tmp/sw"
[ "$before" = "$(sums "$tmp/sw")" ] || fail "a refused sweep changed the sweep's folder"
"$cli" sweep niter=2 seed=1,2 opt.lr_z=0.5,1 threads=1 out="$tmp/sw" >/dev/null 2>&1 || fail "the same grid (other threads) was not resumed"
grep -q '"skipped": 4' "$tmp/sw/sweep.json" || fail "the resume did not skip the 4 complete runs"

# inside a sweep: what is not ours is left alone, and links are not followed
mkdir -p "$tmp/victim/sub" && echo precious > "$tmp/victim/file" && echo precious > "$tmp/victim/sub/file"
"$cli" sweep niter=2 seed=1:3 files=full out="$tmp/in" >/dev/null 2>&1
rm -rf "$tmp/in/seed=1" && mkdir "$tmp/in/seed=1" && echo mine > "$tmp/in/seed=1/keep.txt"   # made by the user
rm -rf "$tmp/in/seed=2" && ln -s "$tmp/victim" "$tmp/in/seed=2"                             # a symlink
sed -i 's/"complete"/"failed"/' "$tmp/in/seed=3/run.json"                                      # ours, failed: redone
rm "$tmp/in/seed=3/checkpoint.safetensors"                                                  # not resumable: cleared
ln -s "$tmp/victim" "$tmp/in/seed=3/link" && ln -s "$tmp/victim/file" "$tmp/in/seed=3/filelink"
vbefore=$(sums "$tmp/victim")
rc=0
"$cli" sweep niter=2 seed=1:3 files=full out="$tmp/in" >"$tmp/log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$tmp/log"; fail "foreign points: exit $rc, expected 1"; }
grep -q "2 run directories are in the way, not made by this sweep" "$tmp/log" || { cat "$tmp/log"; fail "foreign points not reported"; }
[ "$vbefore" = "$(sums "$tmp/victim")" ] || fail "the sweep changed files behind a symlink"
[ "$(cat "$tmp/in/seed=1/keep.txt")" = mine ] || fail "the user's folder was touched"
[ -L "$tmp/in/seed=2" ] || fail "the symlink point was replaced"
[ ! -e "$tmp/in/seed=3/link" ] && [ ! -L "$tmp/in/seed=3/link" ] || fail "the link inside a redone run is still there"
grep -q '"complete"' "$tmp/in/seed=3/run.json" || fail "the failed run of ours was not redone"
/usr/bin/python3 "$src/tests/csv_check.py" "$tmp/in" >/dev/null
/usr/bin/python3 - "$tmp/in/sweep.csv" <<'PY'
import csv, sys
st = {r["seed"]: r["status"] for r in csv.DictReader(open(sys.argv[1], newline=""))}
assert st == {"1": "foreign", "2": "foreign", "3": "complete"}, st
PY
echo OK
