#!/usr/bin/env bash
# JoMA's systems as runs and its claims (docs/joma.md): `scansnap theory model.type=joma_linear`
# and `... joma_toy` write config.yaml, run.json and metrics.csv/.jsonl (parsed with Python's
# csv and json modules; the rows themselves are compared with the library's run functions bit
# for bit in src/theory/test_joma_run.c); bad joma.* values are one-line exit-2 errors naming
# the key, before anything is created; a toy run killed mid-way and continued with
# `scansnap theory --resume` ends byte-identical to one never interrupted; `verify
# verify.claims=joma` passes J1 and J2 with their numbers in claims.json, and fails J2 when the
# toy stops before its entropy minimum (niter=400, a config key); plot and show draw and list
# the JoMA runs verify leaves.
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_plot.sh
. "$(dirname "$0")/lib_plot.sh"
plot_setup joma-runs

# 1) the two systems as runs
"$cli" theory model.type=joma_linear joma.variant=gaussian niter=300 save_per_minibatch=10 out="$tmp/lin" >"$tmp/lin.log"
"$cli" theory model.type=joma_toy niter=900 save_per_minibatch=20 joma.mu=4,1.5,3,2,2.5,1,3.5,1.25,2.75,3.25 out="$tmp/toy" >"$tmp/toy.log"
grep -q "NC(zhat, z)" "$tmp/lin.log" || fail "the linear run's summary: $(cat "$tmp/lin.log")"
python3 - "$tmp" <<'PY'
import csv, json, math, os, sys
t = sys.argv[1]
for name, model, steps, every, cols in (("lin", "joma_linear", 300, 10, ["loss", "acc", "attn_entropy", "nc", "nc_w", "nc_x", "rel_err"]),
                                          ("toy", "joma_toy", 900, 20, ["loss", "attn_entropy", "top"] + [f"v{i}" for i in range(10)])):
    d = os.path.join(t, name)
    run = json.load(open(os.path.join(d, "run.json")))
    assert run["status"] == "complete" and run["command"] == "theory" and run["model"] == model, run
    assert os.path.getsize(os.path.join(d, "config.yaml")) > 0
    cfg = open(os.path.join(d, "config.yaml")).read()
    assert f"type: {model}" in cfg, cfg[:400]
    rows = list(csv.DictReader(open(os.path.join(d, "metrics.csv"), newline="")))
    assert [int(r["step"]) for r in rows] == list(range(0, steps + 1, every)), [r["step"] for r in rows][:5]
    for c in cols:
        assert all(math.isfinite(float(r[c])) for r in rows), (name, c)
    js = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]
    assert len(js) == len(rows) and all(float(rows[i]["loss"]) == js[i]["loss"] for i in range(len(rows))), name
    if name == "lin":  # NC(zhat, z) = 1 at step 0 (C makes zhat(0) = z(0)), high after
        assert abs(float(rows[0]["nc"]) - 1) < 1e-12 and min(float(r["nc"]) for r in rows) > 0.9, rows[0]
    else:  # the toy's entropy starts at log 10 (v(0) = 0.05 in every component)
        assert abs(float(rows[0]["attn_entropy"]) - math.log(10)) < 1e-12, rows[0]
        assert float(rows[-1]["v0"]) > float(rows[-1]["v5"]), "v0 (mu 4) should lead v5 (mu 1)"
print("runs: files and rows ok")
PY

# 2) bad JoMA values: exit 2, one line naming the key, nothing created
bad() {
  local want=$1 rc=0
  shift
  "$cli" theory "$@" out="$tmp/bad" >"$tmp/bad.out" 2>"$tmp/bad.err" || rc=$?
  [ "$rc" = 2 ] || fail "theory $*: exit $rc, expected 2"
  [ "$(wc -l <"$tmp/bad.err")" = 1 ] && grep -qF -- "$want" "$tmp/bad.err" || fail "theory $*: $(cat "$tmp/bad.err")"
  [ ! -e "$tmp/bad" ] || fail "theory $*: created $tmp/bad"
}
bad "key 'joma.mu': 2 values, expected joma.d = 10" model.type=joma_toy joma.mu=1,2
bad "key 'joma.mu': '1,x' is not a comma-separated list of finite numbers" model.type=joma_toy joma.d=2 joma.mu=1,x
bad "key 'joma.d': 5 embedding rows, expected at least Mc + 1 = 21" model.type=joma_linear joma.d=5
bad "key 'joma.variant': 'x' is not one of uniform|gaussian" model.type=joma_linear joma.variant=x
bad "key 'opt.method'" model.type=joma_toy opt.method=adam
bad "key 'verify.j3_niter'" model.type=joma_toy verify.j3_niter=x

# 3) resume: killed mid-way, continued, byte-identical to the run never interrupted
args=(model.type=joma_toy niter=4000 save_per_minibatch=10 save_every=50)
"$cli" theory out="$tmp/ref" "${args[@]}" >/dev/null
SS_TEST_STEP_DELAY_US=300 "$cli" theory out="$tmp/res" "${args[@]}" >/dev/null 2>&1 &
pid=$!
wait_for_progress "$tmp/res" none
sleep 0.2
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" || true
[ "$(status_of "$tmp/res")" != complete ] || fail "the toy run completed before the kill"
"$cli" theory --resume "$tmp/res" >/dev/null
[ "$(status_of "$tmp/res")" = complete ] || fail "the resumed toy run is not complete"
python3 - "$tmp/ref/metrics.csv" "$tmp/res/metrics.csv" <<'PY'
import csv, sys
a, b = (list(csv.reader(open(p, newline=""))) for p in sys.argv[1:])
assert len(a) == 402 and a == b, (len(a), len(b))
PY
for f in metrics.csv metrics.jsonl checkpoint.safetensors joma.safetensors; do cmp "$tmp/ref/$f" "$tmp/res/$f" || fail "$f differs after resume"; done

# 4) verify claims=joma: J1 and J2 pass, with numbers; J2 fails for a toy stopped before its minimum
"$cli" verify verify.claims=joma verify.seeds=2 out="$tmp/v" >"$tmp/v.log" || { cat "$tmp/v.log"; fail "verify claims=joma: exit $?"; }
grep -q "^J1 .*PASS" "$tmp/v.log" && grep -q "^J2 .*PASS" "$tmp/v.log" || fail "verify: $(cat "$tmp/v.log")"
rc=0
"$cli" verify verify.claims=joma verify.seeds=2 niter=400 out="$tmp/v400" >"$tmp/v400.log" || rc=$?
[ "$rc" = 1 ] || fail "verify with the toy stopped at step 400: exit $rc, expected 1 (J2 FAIL)"
python3 - "$tmp/v/claims.json" "$tmp/v400/claims.json" "$tmp/v/joma_toy/metrics.csv" <<'PY'
import csv, json, sys
full, short = (json.load(open(p)) for p in sys.argv[1:3])
def claim(doc, ident):
    (c,) = [c for c in doc["claims"] if c["id"] == ident]
    return c
j1, j2 = claim(full, 5), claim(full, 6)
assert j1["status"] == "PASS" and j2["status"] == "PASS", (j1["status"], j2["status"])
n1, n2 = j1["numbers"], j2["numbers"]
assert 0.9 <= n1["nc_min_worst"] <= 1 and n1["nc_threshold"] == 0.9, n1
assert n1["nc_min_worst"] == min(v for k, v in n1.items() if k.endswith("_nc_min")), n1
assert n2["runs_passed"] == 2 and n2["rise_weakest"] >= n2["rise_threshold"] > 0, n2
for s in (1, 2):
    assert 0 < n2[f"seed{s}_entropy_min_step"] < 5000 and n2[f"seed{s}_entropy_end"] > n2[f"seed{s}_entropy_min"], n2
# the toy run verify leaves (the configuration's seed) has its minimum inside, as J2 says
rows = list(csv.DictReader(open(sys.argv[3], newline="")))
h = [float(r["attn_entropy"]) for r in rows]
k = h.index(min(h))
assert 0 < k < len(h) - 1 and h[-1] - h[k] > 0.05, (k, len(h))
j1s, j2s = claim(short, 5), claim(short, 6)
assert j1s["status"] == "PASS" and j2s["status"] == "FAIL", (j1s["status"], j2s["status"])
assert j2s["numbers"]["runs_passed"] == 0 and j2s["numbers"]["rise_weakest"] == 0, j2s["numbers"]
print("claims: J1 worst NC", n1["nc_min_worst"], "J2 weakest rise", n2["rise_weakest"], "; stopped at 400: J2", j2s["status"])
PY

# 5) plot and show of verify's directory draw and list the JoMA runs
"$cli" plot "$tmp/v" >/dev/null
for f in joma_linear_uniform_nc joma_linear_gaussian_nc joma_linear_uniform_attn_entropy joma_toy_attn_entropy joma_toy_v; do
  [ -s "$tmp/v/figures/$f.body.gp" ] || fail "verify: no $f figure ($(ls "$tmp/v/figures" | tr '\n' ' '))"
done
"$cli" show "$tmp/v" >"$tmp/show.txt"
for r in joma_linear_uniform joma_linear_gaussian joma_toy; do grep -q "run $r/:" "$tmp/show.txt" || fail "show lacks $r: $(cat "$tmp/show.txt")"; done
grep -q "JoMA system" "$tmp/show.txt" || fail "show does not say what the runs are"
echo OK
