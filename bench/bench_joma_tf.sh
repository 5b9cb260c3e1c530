#!/usr/bin/env bash
# JoMA's language-model training step (SPEC §6: emsize 200, FFN 200, 1 head, dropout 0.2,
# sinusoidal positions, batch 20, bptt 35, Adam lr 1e-4, clip 0.5) with N = 1, 2, 5 encoder
# layers, scansnap against PyTorch's nn.TransformerEncoder on this machine, same threads and
# OpenBLAS kernels. Each N is one bench/bench_tf.sh run (SS_BENCH_NLAYERS=N SS_BENCH_OPT=adam;
# its full output goes to $OUT/bench_tf_N<n>.log); the table collects tokens/s of both sides,
# their ratio, peak memory (ru_maxrss) of both and its ratio, and scansnap's forward+backward
# rate as a share of the bare-sgemm rate measured in the same run.
# usage: bench/bench_joma_tf.sh [V=38022] [STEPS=5] [THREADS=2] [ROUNDS=2] [LAYERS="1 2 5"]
#        bench/bench_joma_tf.sh --short     (V=2000, 1 step, 1 round: checks that it runs)
# V = 38 022 is the Brown corpus's vocabulary (min_freq 1; docs/text.md). Run it on an
# otherwise idle machine: the numbers are wall-clock rates.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--short" ]; then
  V=2000; STEPS=1; THREADS=${2:-2}; ROUNDS=1; LAYERS="1 2 5"
else
  V=${1:-38022}; STEPS=${2:-5}; THREADS=${3:-2}; ROUNDS=${4:-2}; LAYERS=${5:-"1 2 5"}
fi
OUT=${SS_BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench_joma_tf.XXXXXX")}
mkdir -p "$OUT"
echo "== JoMA LM step: V=$V, $STEPS steps x $ROUNDS rounds, $THREADS threads, layers: $LAYERS (logs in $OUT)"
ROWS=()
for n in $LAYERS; do
  log="$OUT/bench_tf_N$n.log"
  if ! SS_BENCH_NLAYERS=$n SS_BENCH_OPT=adam bash "$ROOT/bench/bench_tf.sh" "$V" "$STEPS" "$THREADS" "$ROUNDS" > "$log" 2>&1; then
    echo "bench_joma_tf: N=$n failed; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  line=$(grep '^summary ' "$log" | tail -1)
  [ -n "$line" ] || { echo "bench_joma_tf: no summary line in $log" >&2; exit 1; }
  ROWS+=("$line")
done
grep -m1 '^OPENBLAS_CORETYPE' "$OUT/bench_tf_N${LAYERS%% *}.log" || true
uptime
printf '%-3s %12s %12s %7s %10s %10s %7s %12s\n' N scansnap_tok/s pytorch_tok/s ratio ss_MiB torch_MiB mem sgemm_share
for line in "${ROWS[@]}"; do
  awk -v s="$line" 'BEGIN{n=split(s, kv, " "); for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
       printf "%-3d %12.0f %12.0f %6.2fx %10.1f %10.1f %6.2fx %11.0f%%\n", v["nlayers"], v["ss_tokens_per_s"],
              v["torch_tokens_per_s"], v["ratio"], v["ss_rss_mib"], v["torch_rss_mib"], v["mem_ratio"], 100*v["sgemm_share"]}'
done
