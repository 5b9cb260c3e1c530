#!/usr/bin/env bash
# Proves: strings planted in a run or verify directory reach figures, report.html and the
# terminal only as text: the probe's words of a language-model run (attention.safetensors
# metadata), claims.json (names, measured text, numbers, why), run.json (status, model),
# metrics.csv (column names, cells), config.yaml, snap.json. With gnuplot quotes,
# backquotes, macros, markup, shell and HTML metacharacters, line breaks and terminal escape
# sequences in them, `scansnap plot`, `report` and `show` run no command, write no markup
# into the page (parsed with Python's HTML parser), print no escape sequence, produce
# well-formed SVG (parsed as XML), and still work (status 0: the strings are shown, not
# refused).
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_hostile.sh
. "$(dirname "$0")/lib_hostile.sh"
hostile_setup hostile-run
special_corpus() { # FILE: 300 lines of words, some of them quote and markup characters
  local words=(the cat "'" '"' '`' '@' '{' '}' '_' '^' '&' '<' '\' sat mat) i j line
  for i in $(seq 1 300); do
    line=""
    for j in 1 2 3 4 5 6 7 8; do line+="${words[(i * 7 + j * 3) % 15]} "; done
    echo "$line"
  done >"$1"
}
open_all() { # DIR WHAT: the report (which draws the figures as plot does) and show
  run_cli "0" "report $2" report "$1"
  svg_ok "$1"/figures/*.svg
  run_cli "0" "show $2" show "$1"
  ! grep -q $'\e' "$tmp/cli.log" || fail "show printed an escape sequence ($2)"
  no_command_ran "$2"
  outside_unchanged "$2"
  if [ -f "$1/report.html" ]; then html_safe "$1/report.html"; fi
}

# a language-model run on a corpus of quote and markup characters, then its probe's words
# replaced by the payloads
special_corpus "$tmp/special.txt"
"$cli" train model.type=transformer model.task=lm data.path="$tmp/special.txt" data.cache="$tmp/cache" model.d=8 model.H=1 data.T=8 \
  batchsize=4 text.epochs=1 text.epoch_steps=6 text.eval_batches=2 text.top_k=3 text.probes=2 text.probe_steps=0,6 threads=1 \
  out="$tmp/lm" >/dev/null
open_all "$tmp/lm" "corpus words"
python3 - "$tmp/lm" <<'PY' || fail "the probe's words are not tic labels, escaped"
import json, struct, sys
d = sys.argv[1]
b = open(f"{d}/attention.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
words = json.loads(json.loads(b[8:8 + n])["__metadata__"]["words"])
body = open(f"{d}/figures/attention.body.gp").read()
def gp(w):  # a literal word in a single-quoted gnuplot string under enhanced text
    out = ""
    for c in w:
        if c == "'": out += "\\047"
        elif c == "&": out += "\uff06"
        elif c in "\\^_@~{}": out += "\\" + c
        else: out += c
    return "'" + out + "'"
assert any(c in "".join(words) for c in "'`{}&_^@<\\\""), words  # the probe holds special words
for w in words:
    assert gp(w) + " " in body, (w, gp(w))
PY
python3 - "$tmp/lm/attention.safetensors" "${payloads[@]}" "$payload_nl" $'\e]0;pwned9\a\e[2J' <<'PY'
import json, struct, sys
path, P = sys.argv[1], sys.argv[2:]
b = open(path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
T = h["attention"]["shape"][2]
h["__metadata__"]["words"] = json.dumps([P[i % len(P)] for i in range(T)])
hj = json.dumps(h).encode()
hj += b" " * (-len(hj) % 8)
open(path, "wb").write(struct.pack("<Q", len(hj)) + hj + b[8 + n:])
PY
open_all "$tmp/lm" "probe words"
grep -q 'system' "$tmp/lm/figures/attention.svg" || fail "the planted words are not drawn as text"

# a run whose text files carry the payloads
"$cli" train niter=4 out="$tmp/run" >/dev/null
python3 - "$tmp/run" "${payloads[@]}" "$payload_nl" $'\e]0;pwned9\a\e[2J' <<'PY'
import json, os, sys
d, P = sys.argv[1], sys.argv[2:]
j = json.load(open(os.path.join(d, "run.json")))
j["status"], j["model"], j["command"] = P[5], P[0], P[9]
json.dump(j, open(os.path.join(d, "run.json"), "w"))
claims = {"claims": [{"id": i, "name": p, "status": P[(i + 1) % len(P)], "measured": p, "numbers": {p: 1.5, "x": p}, "why": p}
                     for i, p in enumerate(P)], "all_passed": P[6]}
json.dump(claims, open(os.path.join(d, "claims.json"), "w"))
json.dump({"t0": P[0], "found": P[5], "classes_total": -1}, open(os.path.join(d, "snap.json"), "w"))
import csv
rows = list(csv.reader(open(os.path.join(d, "metrics.csv"), newline="")))
rows[0][-1] = P[5]
rows[1][1] = P[6]
rows[2][2] = P[0]
with open(os.path.join(d, "metrics.csv"), "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(rows)
with open(os.path.join(d, "config.yaml"), "a") as f:
    f.write("# " + P[5] + "\n# " + P[9] + "\n")
PY
open_all "$tmp/run" "run.json, claims.json, metrics.csv, config.yaml, snap.json"
grep -q '&lt;script&gt;' "$tmp/run/report.html" || fail "the planted text is not shown (escaped) in the report"
echo OK
