#!/usr/bin/env bash
# Proves: the Y/Z kernels give the same bits whichever instruction set runs them. The build
# compiles them three times (src/model/yz_kern.c, one object per set and precision):
# x86-64-v4 (AVX-512, 8-lane registers), x86-64-v3 (AVX2 + FMA, 4-lane) and the baseline
# (libm fma); the CPU picks one (model.kernels=auto),
# model.kernels=x86-64-v4|x86-64-v3|baseline forces one.
# Runs on generated data (grouped kernels, in float64 and in float32), from a sequence file of
# rows with classes (one group on its class's support, one on the union of its keys) and from
# a sequence file without classes (general path), with several options, under every set this
# CPU runs: metrics.csv and dynamics.safetensors must be byte-identical. Says which sets ran;
# one set alone proves nothing and is reported.
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/isa-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
sets=()
for isa in x86-64-v4 x86-64-v3 baseline; do
  if "$cli" train out="$tmp/probe-$isa" model.kernels=$isa niter=1 data.T=8 batchsize=2 >/dev/null 2>"$tmp/err"; then
    sets+=("$isa")
  elif grep -q "model.kernels.*no $isa kernels" "$tmp/err"; then
    echo "(this CPU or build has no $isa kernels)"
  else
    cat "$tmp/err"
    exit 1
  fi
done
echo "kernel sets: ${sets[*]}"
if [ "${#sets[@]}" -lt 2 ]; then echo "SKIP: fewer than two kernel sets run here"; exit 0; fi
# a sequence file without classes (the general, per-sequence path)
"$cli" train out="$tmp/gen" niter=3 batchsize=16 data.T=24 dataset2.num_last=3 >/dev/null
rows() { # 64 rows of 'x_1 .. x_23 query label', queries/labels not matching any class
  local i t
  for i in $(seq 64); do
    line=""
    for t in $(seq 23); do line="$line $(( (i * 7 + t * 13) % 30 ))"; done
    echo "$line $(( 30 + i % 3 )) $(( 33 + i % 3 ))"
  done
}
rows >"$tmp/rows.txt"
rows2() { # 64 rows of the Figure-4 classes (M = 34): class 0's keys inside its support (tokens
  # 0-9), class 1's straying outside it (tokens 10-19 belong to class 0): one group on its
  # class's support, the other on the union of its keys
  local i t
  for i in $(seq 64); do
    line=""
    if [ $((i % 2)) = 0 ]; then
      for t in $(seq 23); do line="$line $(( (i * 7 + t * 13) % 10 ))"; done
      echo "$line 30 32"
    else
      for t in $(seq 23); do line="$line $(( (i * 7 + t * 13) % 30 ))"; done
      echo "$line 31 33"
    fi
  done
}
rows2 >"$tmp/rows2.txt"
check() { # name, then the run's keys
  local name=$1 ref=""
  shift
  for isa in "${sets[@]}"; do
    "$cli" train out="$tmp/$name-$isa" model.kernels=$isa "$@" >/dev/null
    if [ -z "$ref" ]; then ref=$isa; continue; fi
    for f in metrics.csv dynamics.safetensors; do
      if ! cmp -s "$tmp/$name-$ref/$f" "$tmp/$name-$isa/$f"; then
        echo "FAIL: $name: $f differs between the $ref and $isa kernels"
        diff <(tail -2 "$tmp/$name-$ref/metrics.csv") <(tail -2 "$tmp/$name-$isa/metrics.csv") || true
        exit 1
      fi
    done
  done
  echo "same bits on ${sets[*]}: $name ($*)"
}
check fig4 niter=30 threads=1
check options niter=20 model2.residual=true model2.normalize=false model2.attn_include_base_token=true \
  dataset2.num_last=3 dataset2.num_next_per_last=2 dataset2.num_common_per_last=2 threads=2
check bigM niter=5 dataset2.num_last=10 dataset2.num_next_per_last=2 model.zero_init=false threads=1
check f32 niter=30 threads=1 model.precision=float32
check f32options niter=20 model.precision=float32 model2.residual=true model2.normalize=false \
  model2.attn_include_base_token=true dataset2.num_last=3 dataset2.num_next_per_last=2 dataset2.num_common_per_last=2 threads=2
check f32bigM niter=5 model.precision=float32 dataset2.num_last=10 dataset2.num_next_per_last=2 model.zero_init=false threads=1
check file niter=3 batchsize=16 data.classes="$tmp/gen/classes.json" data.sequences="$tmp/rows.txt" threads=1
check classfile niter=3 batchsize=16 data.T=24 data.sequences="$tmp/rows2.txt" threads=1
check classfile32 niter=3 batchsize=16 data.T=24 data.sequences="$tmp/rows2.txt" model.precision=float32 threads=1
echo "PASS"
