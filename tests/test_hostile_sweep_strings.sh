#!/usr/bin/env bash
# Proves: a sweep directory whose strings were written to break out (swept values made by
# `scansnap sweep` itself, and sweep.json / aggregate.csv / sweep.csv edited by someone else:
# values, keys, labels, the metric, the command, the reference path, with gnuplot quotes,
# backquotes, macros, enhanced-text markup, shell and HTML metacharacters, line breaks) runs
# no command when opened with `scansnap plot`, `report` or `show`, changes nothing outside the
# directory, pulls nothing outside it into the page, and puts no markup into report.html.
# Every command ends with status 0 (drawn, text shown as text) or 2 (refused, one line).
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_hostile.sh
. "$(dirname "$0")/lib_hostile.sh"
hostile_setup hostile-sweep

open_all() { # DIR WHAT [STATUSES]: report (which draws the figures as plot does) and show it;
  # nothing may run or leak
  run_cli "${3:-0 2}" "report $2" report "$1"
  run_cli "${3:-0 2}" "show $2" show "$1"
  no_command_ran "$2"
  outside_unchanged "$2"
  no_secret "$1/report.html" "$1"/figures/*.gp "$tmp/cli.log"
  if [ -f "$1/report.html" ]; then html_safe "$1/report.html"; fi
}

# 1. the issue's reproduction: a swept value made by `scansnap sweep` (its runs fail: no
# such class file; the sweep directory is still plotted)
# (a leading quote would be sweep syntax for a quoted value, hence the 'a')
"$cli" sweep seed=1 opt.lr_z=0.5,1 "data.classes=a${payloads[0]},x" niter=2 out="$tmp/s1" >/dev/null 2>&1 || true
[ -f "$tmp/s1/sweep.json" ] || fail "the sweep wrote no sweep.json"
run_cli "0" "plot of a sweep with a hostile swept value" plot "$tmp/s1"
no_command_ran "sweep value"
# the value is drawn as text: in the legend of the SVG (gnuplot escapes < and & there)
grep -q 'system' "$tmp"/s1/figures/*.svg || fail "the swept value is not shown in the figure"
open_all "$tmp/s1" "swept value"

# 2. a sound sweep, then every string in its files edited
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 opt.lr_y_multi_on_z=1,2 niter=4 out="$tmp/base" >/dev/null 2>&1
edit() { # NAME PYTHON: a copy of the base sweep with its files edited by PYTHON (j = sweep.json)
  rm -rf "${tmp:?}/$1" && cp -r "$tmp/base" "$tmp/$1" && rm -rf "$tmp/$1/figures" "$tmp/$1/report.html"
  python3 - "$tmp/$1" "$2" "${payloads[@]}" "$payload_nl" <<'PY'
import csv, json, os, sys
d, code, P = sys.argv[1], sys.argv[2], sys.argv[3:]
j = json.load(open(os.path.join(d, "sweep.json")))
def rewrite_csv(name, fn):
    rows = list(csv.reader(open(os.path.join(d, name), newline="")))
    rows = fn(rows)
    with open(os.path.join(d, name), "w", newline="") as f:
        csv.writer(f).writerows(rows)
exec(code)
json.dump(j, open(os.path.join(d, "sweep.json"), "w"), indent=1)
PY
}
# values of the x axis (lr_y_multi_on_z) replaced in sweep.json and in the tables
edit values '
ax = j["axes"][2]
old = ax["values"]; ax["values"] = [P[1], P[5]]
def sub(rows):
    h = rows[0]
    c = h.index("opt.lr_y_multi_on_z")
    for r in rows[1:]:
        r[c] = ax["values"][old.index(r[c])]
    return rows
rewrite_csv("aggregate.csv", sub)
'
open_all "$tmp/values" "edited axis values" 0
python3 - "$tmp/values/figures/fig6.svg" "${payloads[1]}" <<'PY' || fail "the x values are not drawn as written"
import sys, xml.dom.minidom as m
def text(n): return "".join(c.data if c.nodeType == c.TEXT_NODE else text(c) for c in n.childNodes)
got = [text(t) for t in m.parse(sys.argv[1]).getElementsByTagName("text")]
assert any(sys.argv[2][:16] in g for g in got), got
PY
for i in 1 2 3 4 5 6 7; do
  edit "v$i" "j['axes'][1]['values'] = [P[$i], P[($i + 1) % 8]]"
  open_all "$tmp/v$i" "axis values, payload $i" 0
done
edit nl "j['axes'][1]['values'] = [P[8], '1']"
open_all "$tmp/nl" "a value with line breaks"
edit labels "j['axes'][1]['label'] = P[0]; j['axes'][2]['label'] = P[6]; j['command'] = P[5] + P[8]"
open_all "$tmp/labels" "labels and command"
edit keys "j['axes'][1]['key'] = P[0]"
open_all "$tmp/keys" "an axis key"
edit keys2 "j['axes'][2]['key'] = P[5]"
open_all "$tmp/keys2" "an axis key with HTML"
edit metric "j['metric'] = P[1]"
open_all "$tmp/metric" "the metric"
edit ref "j['reference'] = '../outside/secret.csv'"
open_all "$tmp/ref" "a reference outside the directory"
edit ref2 "j['reference'] = P[3]"
open_all "$tmp/ref2" "a reference named like a command"
edit header '
def sub(rows):
    rows[0] = [P[i % 8] if c.endswith("_std") else c for i, c in enumerate(rows[0])]
    for r in rows[1:]:
        r[-1] = P[5]
    return rows
rewrite_csv("aggregate.csv", sub)
'
open_all "$tmp/header" "aggregate.csv header and cells"
# `plot x=... by=... metric=...` name files after what they show: a key from the command line
# is never part of a file name or a script unless it is a swept key of the directory
run_cli "2" "plot x=<payload>" plot "$tmp/base" "x=${payloads[0]}"
run_cli "2" "plot metric=<payload>" plot "$tmp/base" "metric=${payloads[1]}"
no_command_ran "command-line keys"
outside_unchanged "command-line keys"
echo OK
