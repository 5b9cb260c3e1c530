#!/usr/bin/env bash
# The same sweep under `mpirun -np 2` (runs spread over two ranks, gathered on rank 0)
# writes the same sweep.csv and aggregate as the single-process sweep; stopped by SIGTERM it
# leaves its runs interrupted with checkpoints and the tables of what finished, and resumes.
set -euo pipefail
cli=${SS_CLI:?}
if ! command -v mpirun >/dev/null; then echo "SKIP: mpirun not installed"; exit 77; fi
# (not grep -q: it would end the pipe early, ldd dies of SIGPIPE and pipefail calls it a skip)
if ! ldd "$cli" | grep libmpi >/dev/null; then echo "SKIP: scansnap built without MPI"; exit 77; fi
tmp=${SS_TMP:-/tmp}/sweep-mpi-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args=(seed=1:3 opt.lr_y_multi_on_z=1,5 data.num_last=1,3 niter=20)
# Open MPI keeps some allocations until exit; leak reports from it are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export OMPI_MCA_plm_rsh_agent=false
mpirun --allow-run-as-root --oversubscribe -np 2 "$cli" sweep "${args[@]}" out="$tmp/mpi" >"$tmp/mpi.log" 2>&1 || { cat "$tmp/mpi.log"; exit 1; }
"$cli" sweep "${args[@]}" out="$tmp/one" >/dev/null 2>&1
grep -q '"mpi_ranks": 2' "$tmp/mpi/sweep.json" || { echo "FAIL: the sweep did not run on 2 ranks"; cat "$tmp/mpi.log"; exit 1; }
cmp "$tmp/mpi/sweep.csv" "$tmp/one/sweep.csv"
cmp "$tmp/mpi/aggregate.csv" "$tmp/one/aggregate.csv"
[ "$(grep -c complete "$tmp/mpi/sweep.csv")" -eq 12 ]

# SIGTERM to mpirun: the ranks stop their runs with checkpoints ("interrupted", none left
# "running"), rank 0 writes the tables of what finished, and the same command resumes
stop=(niter=200 save_every=50 batchsize=8 data.T=16 seed=1:4 jobs=1 threads=1 out="$tmp/stop")
SS_TEST_STEP_DELAY_US=5000 mpirun --allow-run-as-root --oversubscribe -np 2 "$cli" sweep "${stop[@]}" >"$tmp/stop.log" 2>&1 &
mp=$!
for _ in $(seq 1 1000); do
  [ "$( (ls "$tmp"/stop/*/checkpoint.safetensors 2>/dev/null || true) | wc -l)" -ge 2 ] && break
  sleep 0.01
done
kill -TERM "$mp"
wait "$mp" || true
! grep -l '"status": "running"' "$tmp"/stop/*/run.json || { cat "$tmp/stop.log"; echo "FAIL: a run is left running"; exit 1; }
grep -q '"status": "interrupted"' "$tmp"/stop/*/run.json || { cat "$tmp/stop.log"; echo "FAIL: no run was interrupted"; exit 1; }
grep -q '"status": "interrupted"' "$tmp/stop/sweep.json" || { cat "$tmp/stop.log"; echo "FAIL: no tables of the stopped sweep"; exit 1; }
mpirun --allow-run-as-root --oversubscribe -np 2 "$cli" sweep "${stop[@]}" >"$tmp/stop2.log" 2>&1 || { cat "$tmp/stop2.log"; exit 1; }
[ "$(grep -c complete "$tmp/stop/sweep.csv")" -eq 4 ] || { echo "FAIL: the resumed sweep is not complete"; exit 1; }
echo OK
