#!/usr/bin/env bash
# Two builds of scansnap on the same work, interleaved (A B A B ...), best of REPEAT each, so
# a change's effect on speed is measured in one run on one machine:
#   fig4     the Figure-4 run: training compute (run.json train_seconds) and the whole process
#   fig4f32  the same with model.precision=float32
#   theory   the Figure-4 theory run (steps mode): the whole process
#   lm       a language-model run on the Brown corpus (20 Adam steps, V <= 5000, 2 layers if
#            both builds have model.nlayers, else 1): training compute per step
#   sweep    a 64-run slice of the Figure-6 sweep (seed 1, every other key): wall time
# usage: bench/bench_builds.sh BUILD_A BUILD_B   env: REPEAT (5), THREADS (2)
set -eu
a=$1 b=$2
repeat=${REPEAT:-5}
threads=${THREADS:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A = $a ($("$a/scansnap" --version)), B = $b ($("$b/scansnap" --version)); best of $repeat, interleaved"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }
wall() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
best() { sort -g | head -1; }

measure() { # name, what (train|wall), args...
  local name=$1 what=$2
  shift 2
  for side in A B; do : >"$tmp/$name.$side"; done
  for i in $(seq 1 "$repeat"); do
    for side in A B; do
      local bin=$a
      [ "$side" = B ] && bin=$b
      local out="$tmp/$name-$side-$i"
      local w
      w=$(wall "$bin/scansnap" "$@" threads="$threads" out="$out")
      if [ "$what" = train ]; then json "$out/run.json" "['timings']['train_seconds']" >>"$tmp/$name.$side"; else echo "$w" >>"$tmp/$name.$side"; fi
      rm -rf "$out"
    done
  done
  local ta tb
  ta=$(best <"$tmp/$name.A")
  tb=$(best <"$tmp/$name.B")
  printf '%-8s %-28s A %9.4f s   B %9.4f s   B/A %.2f\n' "$name" "($what)" "$ta" "$tb" "$(echo "$tb / $ta" | bc -l)"
}

measure fig4 train train configs/fig4.yaml
measure fig4 wall train configs/fig4.yaml
measure fig4f32 train train configs/fig4.yaml model.precision=float32
measure theory wall theory configs/fig4.yaml
if [ -s data/brown/wiki.train.tokens ]; then
  nl=""
  "$a/scansnap" --help 2>/dev/null | grep -q model.nlayers && "$b/scansnap" --help 2>/dev/null | grep -q model.nlayers && nl="model.nlayers=2"
  measure lm train train configs/fig7.yaml data.path=data/brown data.max_vocab=5000 text.epochs=1 text.epoch_steps=20 \
    text.eval_batches=2 opt.method=adam opt.lr_y=1e-4 opt.lr_z=1e-4 $nl
fi
measure sweep wall sweep --preset fig6 seed=1 opt.lr_z=1,3 jobs=2
