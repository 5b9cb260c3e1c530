#!/usr/bin/env bash
# Proves: every field `scansnap plot`, `report` and `show` read from a sweep directory is
# validated like user input. A crafted or damaged sweep.json (an axis with no values, values
# that are not strings, more axes than a sweep can have, a grid whose size overflows, negative
# counts, wrong types, truncated JSON, an empty file) or aggregate.csv (missing, short rows,
# non-numbers) never crashes them (the suite also runs this under ASan+UBSan), and ends with
# status 0 or 2 and one line; a page never states a negative or impossible number of runs.
set -euo pipefail
cli=${SS_CLI:?}
# shellcheck source=tests/lib_hostile.sh
. "$(dirname "$0")/lib_hostile.sh"
hostile_setup hostile-sj

"$cli" sweep seed=1,2 opt.lr_z=0.5,1 niter=3 out="$tmp/base" >/dev/null 2>&1
n=0
case_json() { # PYTHON editing j (the parsed sweep.json); "RAW:text" writes text as the file
  n=$((n + 1))
  local d=$tmp/c$n
  rm -rf "$d" && cp -r "$tmp/base" "$d"
  python3 - "$d/sweep.json" "$1" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
if code.startswith("RAW:"):
    open(path, "w").write(code[4:])
elif code.startswith("RAWPY:"):
    open(path, "w").write(eval(code[6:]))
else:
    j = json.load(open(path))
    exec(code)
    json.dump(j, open(path, "w"))
PY
  # report draws the figures as plot does
  for c in report show; do run_cli "0 2" "$c, case $n ($1)" "$c" "$d"; done
  if [ -f "$d/report.html" ]; then
    ! grep -Eq '(^|[^0-9.])-[0-9]+ runs' "$d/report.html" || fail "case $n: the report states a negative number of runs"
  fi
}
case_json 'j["axes"][1]["values"] = []'
run_cli "2" "plot, an axis without values" plot "$tmp/c$n"
grep -q "values" "$tmp/cli.log" || fail "the refusal does not say what is wrong: $(cat "$tmp/cli.log")"
case_json 'j["axes"][0]["values"] = []; j["axes"][1]["values"] = []'
case_json 'j["axes"][1]["values"] = [0.5, None, {"a": 1}]'
case_json 'j["axes"][1]["values"] = "0.5,1"'
case_json 'j["axes"] = {"key": "opt.lr_z"}'
case_json 'j["axes"] = [{"label": "x", "values": ["1"]}]'
case_json 'j["axes"] = [dict(key="opt.lr_z", label="lr_z", values=[str(v) for v in range(3)]) for _ in range(40)]'
case_json 'j["axes"] = [dict(key=k, label=k, values=[str(v + 1) for v in range(65536)]) for k in ("seed", "opt.lr_z", "niter", "batchsize")]'
case_json 'j["npoints"] = -5; j["complete"] = -3; j["failed"] = -7; j["skipped"] = 2**70'
case_json 'j["npoints"] = "many"; j["complete"] = 1e308; j["wall_seconds"] = -1'
case_json 'j["metric"] = 42; j["theory"] = "yes"; j["command"] = ["a"]'
case_json 'j["reference"] = "/etc/passwd"'
case_json 'j["reference"] = "../base/sweep.csv"'
case_json 'j["axes"][1]["key"] = "k" * 5000'
case_json 'j["axes"][1]["label"] = "../../escape"'
case_json 'j["axes"].append(dict(j["axes"][1]))'
case_json 'j["axes"][1]["values"] = ["1e999", "nan", "-inf"]'
case_json 'j["axes"][1]["values"] = ["x" * 100000, "1"]'
case_json 'RAW:{"axes": [{"key": "seed", "values": ["1"'
case_json 'RAW:'
case_json 'RAW:[]'
case_json 'RAW:{"axes": []}'
case_json 'RAWPY:"[" * 100000 + "]" * 100000'
case_json 'RAWPY:"{\"axes\": [" + ",".join(["{\"key\": \"seed\", \"values\": [\"1\"]}"] * 5000) + "]}"'
case_agg() { # TEXT written as aggregate.csv
  n=$((n + 1))
  local d=$tmp/c$n
  rm -rf "$d" && cp -r "$tmp/base" "$d"
  printf '%s' "$1" >"$d/aggregate.csv"
  for c in report show; do run_cli "0 2" "$c, aggregate case $n" "$c" "$d"; done
}
case_agg ''
case_agg $'opt.lr_z,count\n'
case_agg $'opt.lr_z,count,failed,entropy_distinct_mean,entropy_distinct_std\n0.5,2,0\n'
case_agg $'opt.lr_z,count,failed,entropy_distinct_mean,entropy_distinct_std\n0.5,x,y,1e999,nan\n1,-2,-1,abc,-inf\n'
case_agg $'opt.lr_z,count,failed,entropy_distinct_mean,entropy_distinct_std\n7,2,0,1.5,0.1\n'
rm "$tmp/c$n/aggregate.csv"
for c in plot report show; do run_cli "0 2" "$c without aggregate.csv" "$c" "$tmp/c$n"; done
no_command_ran "crafted sweep files"
outside_unchanged "crafted sweep files"
echo OK
