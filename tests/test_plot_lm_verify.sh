#!/usr/bin/env bash
# `scansnap plot` and `scansnap show` work on a language-model run and on verify's directory
# (issue 13.5): for the run, loss with validation loss, attention entropy, frequent-token
# mass, Figure 7 from attention.safetensors with the probe's words on the axes; csv=true
# writes attention.csv, parsed with Python's csv module and checked against the file's own
# tensor and words; for verify's directory its sgd/ run with theory/ over it and its text/
# run.
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_plot.sh
. "$(dirname "$0")/lib_plot.sh"
need_gnuplot
plot_setup plot-lm

# a language-model run
"$cli" train "${lm[@]}" text.probe_steps=0,5,10,20 out="$tmp/lm" >/dev/null
"$cli" plot "$tmp/lm" csv=true >"$tmp/plot.log"
for f in loss_acc attn_entropy freq_mass attention; do
  [ -s "$tmp/lm/figures/$f.png" ] || fail "no $f.png for a language-model run"
  svg_ok "$tmp/lm/figures/$f.svg"
done
grep -q "valid_loss" "$tmp/lm/figures/loss_acc.body.gp" || fail "no validation loss in loss_acc"
python3 - "$tmp/lm" <<'PY'
import csv, json, struct, sys
d = sys.argv[1]
b = open(f"{d}/attention.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
words = json.loads(h["__metadata__"]["words"])
S, H, T, _ = h["attention"]["shape"]
lo, hi = h["attention"]["data_offsets"]
att = struct.unpack(f"<{S * H * T * T}f", b[8 + n + lo:8 + n + hi])
lo, hi = h["steps"]["data_offsets"]
steps = struct.unpack(f"<{S}q", b[8 + n + lo:8 + n + hi])
with open(f"{d}/figures/attention.csv", newline="") as f:
    rows = list(csv.reader(f))
assert rows[0] == ["step", "layer", "head", "query", "key", "query_word", "key_word", "weight"], rows[0]
assert all(len(r) == 8 for r in rows), "unequal field counts"
assert len(rows) - 1 == S * H * T * T, (len(rows), S, H, T)
for k, r in enumerate(rows[1:]):
    s, l, hh, i, j = (int(x) for x in r[:5])
    si = list(steps).index(s)
    assert (r[5], r[6]) == (words[i], words[j]), (r, words[i], words[j])
    assert abs(float(r[7]) - att[((si * H + hh) * T + i) * T + j]) <= 1e-6 * max(1, abs(float(r[7]))), r
# every word of the probe is a tic label of Figure 7 (escaped for gnuplot)
body = open(f"{d}/figures/attention.body.gp").read()
for w in set(words):
    assert "'" + w.replace("'", "\\047") + "'" in body or any(c in w for c in "\\^_@~{}&"), w
PY
grep -q "attention.csv" "$tmp/plot.log" || fail "plot does not say where attention.csv went"
"$cli" show "$tmp/lm" >"$tmp/show.txt"
grep -q "language-model run" "$tmp/show.txt" && grep -q "valid_loss" "$tmp/show.txt" || fail "show of a language-model run: $(cat "$tmp/show.txt")"

# verify's directory, its text/ run as claim 4 leaves it
"$cli" verify verify.grid=false verify.seeds=1 data.path="$tmp/none" out="$tmp/verify" >/dev/null || true
[ -f "$tmp/verify/claims.json" ] || fail "verify wrote no claims.json"
cp -r "$tmp/lm" "$tmp/verify/text" && rm -rf "$tmp/verify/text/figures"
"$cli" plot "$tmp/verify" class=1 >"$tmp/plot.log" # class= is about sgd/, not text/
grep -q "class 1" "$tmp/verify/figures/sgd_composition.body.gp" || fail "verify: class=1 not drawn"
for f in sgd_loss_acc sgd_composition text_attention text_loss_acc; do [ -s "$tmp/verify/figures/$f.svg" ] || fail "verify: no $f"; done
grep -q "sgd_theory.dat" "$tmp/verify/figures/sgd_mass.body.gp" || fail "verify: theory/ is not drawn over sgd/"
"$cli" show "$tmp/verify" >"$tmp/show.txt"
grep -q "fates of tokens" "$tmp/show.txt" && grep -q "run text/" "$tmp/show.txt" || fail "show of verify: $(cat "$tmp/show.txt")"

echo OK
