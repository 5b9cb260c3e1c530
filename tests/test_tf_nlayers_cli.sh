#!/usr/bin/env bash
# Proves, through the CLI, that model.nlayers works wherever the 1-layer transformer does:
# - a 2-layer language model (dropout, Adam at JoMA's lr 1e-4 with clip 0.5) gives
#   byte-identical metrics and checkpoints with threads=1 and threads=2; its checkpoint holds
#   every layer's tensors (l0.*, l1.*) and the shared ones unprefixed, and no 1-layer name;
# - the same run killed twice at random moments and resumed ends byte-identical to the
#   uninterrupted one (each layer's dropout masks come from the saved step counter);
# - a 3-layer synthetic run trains (its loss falls);
# - model.nlayers=0 or 65 is a one-line input error naming the key (exit 2, no run folder).
set -euo pipefail
cli=${SS_CLI:?}
tmp=${SS_TMP:-/tmp}/tf-nlayers-$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib_resume.sh
. "$(dirname "$0")/lib_resume.sh"
export SS_NO_GNUPLOT=1
RANDOM=${SS_TEST_SEED:-$$}
tiny_corpus "$tmp/text.txt"

args=(model.type=transformer model.task=lm model.nlayers=2 data.path="$tmp/text.txt" data.cache="$tmp/cache" model.d=16
      model.H=2 model.use_Wo=true model.attn_bias=true model.use_residue=true model.use_ln=true model.use_ffn=true
      model.ffn_hidden=16 model.pos=sinusoidal model.dropout=0.2 data.T=8 batchsize=4 text.epochs=6 text.epoch_steps=14
      text.eval_batches=4 text.top_k=3 text.probes=2 text.probe_steps=0,30,60 opt.method=adam opt.lr=1e-4 opt.clip=0.5
      save_every=7)
files=(metrics.csv metrics.jsonl dynamics.safetensors attention.safetensors checkpoint.safetensors)
"$cli" train out="$tmp/t1" threads=1 "${args[@]}" >/dev/null
"$cli" train out="$tmp/t2" threads=2 "${args[@]}" >/dev/null
for f in "${files[@]}"; do cmp "$tmp/t1/$f" "$tmp/t2/$f" || fail "$f differs between threads=1 and threads=2"; done

/usr/bin/python3 - "$tmp/t1/checkpoint.safetensors" "$tmp/t1/metrics.csv" <<'EOF'
import csv, json, struct, sys
raw = open(sys.argv[1], "rb").read()
hdr = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
names = {k for k in hdr if k != "__metadata__" and not k.startswith(("opt.", "metrics.", "lm."))}
per = ["attn.Wq", "attn.bq", "attn.Wk", "attn.bk", "attn.Wv", "attn.bv", "attn.Wo", "attn.bo", "ln1.weight", "ln1.bias",
       "ffn.w1", "ffn.b1", "ffn.w2", "ffn.b2", "ln2.weight", "ln2.bias"]
want = {"l%d.%s" % (l, p) for l in (0, 1) for p in per} | {"embed.weight", "decoder.weight", "decoder.bias"}
missing, bare = want - names, names & set(per)
assert not missing, "checkpoint lacks %s" % sorted(missing)
assert not bare, "checkpoint has 1-layer names %s" % sorted(bare)
assert hdr["l1.attn.Wq"]["shape"] == [16, 16], hdr["l1.attn.Wq"]
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) > 5 and all(float(r["loss"]) == float(r["loss"]) for r in rows), "metrics rows"
print("checkpoint: %d model tensors, both layers; %d metrics rows" % (len(names), len(rows)))
EOF

# killed twice at random moments, resumed: byte-identical to the uninterrupted run
kill_and_resume "$tmp/run" 2 10 5000 "${args[@]}" threads=1
"$cli" train --resume "$tmp/run" >/dev/null
[ "$(status_of "$tmp/run")" = complete ] || fail "resumed run is not complete"
for f in "${files[@]}"; do cmp "$tmp/t1/$f" "$tmp/run/$f" || fail "resumed 2-layer run: $f differs"; done

# a 3-layer synthetic run trains
"$cli" train model.type=transformer model.nlayers=3 model.d=16 model.H=2 model.use_residue=true model.use_ln=true \
  data.T=16 batchsize=32 niter=40 opt.lr=0.05 save_per_minibatch=10 out="$tmp/syn" >/dev/null
/usr/bin/python3 - "$tmp/syn/metrics.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
l0, l1 = float(rows[0]["loss"]), float(rows[-1]["loss"])
assert l1 < 0.5 * l0, "3-layer synthetic loss did not fall: %g -> %g" % (l0, l1)
print("3-layer synthetic: loss %.3f -> %.3f" % (l0, l1))
EOF

for n in 0 65; do
  st=0
  "$cli" train model.type=transformer model.nlayers=$n niter=1 out="$tmp/bad$n" >"$tmp/bad.log" 2>&1 || st=$?
  [ "$st" = 2 ] || { cat "$tmp/bad.log"; fail "model.nlayers=$n: exit $st, expected 2"; }
  grep -q "model.nlayers" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "model.nlayers=$n: error does not name the key"; }
  [ "$(grep -c . "$tmp/bad.log")" = 1 ] || { cat "$tmp/bad.log"; fail "model.nlayers=$n: not a one-line error"; }
  [ ! -e "$tmp/bad$n" ] || fail "model.nlayers=$n: a run folder was created"
done
echo "OK: 2- and 3-layer runs train, resume and stay thread-count independent"
