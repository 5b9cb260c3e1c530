#!/usr/bin/env bash
# report.html of a run (with claims.json), of a sweep (with and without a reference table),
# of a language-model run and of verify's directory loads in headless Chromium with no
# console error, shows the expected headings and one inline SVG per figure, references no
# external file, and its screenshot is far from blank (PNG size against an empty page's).
# The run's start/end table has a start value for every metric (accuracy included), a thinned
# metrics table says which rows it shows in words ("every 2nd row"), and the Comparison link
# appears only when there is a comparison to link to.
set -euo pipefail
cli=${SS_CLI:?}
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then echo "SKIP: chromium not installed"; exit 0; fi
# shellcheck source=tests/lib_plot.sh
. "$(dirname "$0")/lib_plot.sh"
plot_setup report
export HOME="$tmp/home"; mkdir -p "$HOME"
browse() { # html, what ("dom" or a screenshot path)
  local flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-extensions --user-data-dir="$tmp/profile"
               --window-size=1200,2000 --enable-logging=stderr --v=0 --virtual-time-budget=3000)
  if [ "$2" = dom ]; then timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$1" 2>"$tmp/console.log"
  else timeout 120 "$chrome" "${flags[@]}" --screenshot="$2" "file://$1" >/dev/null 2>>"$tmp/console.log"; fi
}
"$cli" train niter=60 out="$tmp/run" >/dev/null
cat > "$tmp/run/claims.json" <<'J'
{"claims": [{"id": "fates", "name": "Fates of tokens", "status": "PASS", "measured": "common mass falls", "numbers": {"before": 0.64, "after": 0.3}, "why": "distinct tokens <gain> mass"}], "all_passed": true}
J
"$cli" report "$tmp/run" | grep -q "report:.*report.html"
html="$tmp/run/report.html"
! grep -Eq '(src|href)=["'"'"'](https?:|file:|/)' "$html" || { echo "FAIL: report references an external file"; exit 1; }
grep -q '&lt;gain&gt;' "$html" # claim text escaped
browse "$html" dom > "$tmp/dom.html"
for h in "scansnap report" "Figures" "Metrics" "Configuration" "Claims" "Fates of tokens"; do
  grep -q "$h" "$tmp/dom.html" || { echo "FAIL: '$h' not in the rendered page"; exit 1; }
done
nsvg=$(grep -o '<svg' "$tmp/dom.html" | wc -l)
[ "$nsvg" -eq 5 ] || { echo "FAIL: $nsvg inline SVG figures, expected 5"; exit 1; }
python3 - "$html" <<'PY' || { echo "FAIL: the run's tables"; exit 1; }
import re, sys
from html.parser import HTMLParser
class T(HTMLParser):
    def __init__(self):
        super().__init__(); self.tables = []; self.cell = None
    def handle_starttag(self, tag, a):
        if tag == "table": self.tables.append([])
        elif tag == "tr" and self.tables: self.tables[-1].append([])
        elif tag in ("td", "th"): self.cell = ""
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(self.cell.strip()); self.cell = None
    def handle_data(self, d):
        if self.cell is not None: self.cell += d
page = open(sys.argv[1]).read()
t = T(); t.feed(page)
startend = next(x for x in t.tables if x and x[0][:3] == ["quantity", "start", "step"])
rows = {r[0]: r for r in startend[1:]}
assert rows["acc"][1] != "" and rows["loss"][1] != "", rows
assert all(len(r) == 5 and all(c != "" for c in r) for r in startend[1:]), startend
assert "-th row" not in page and "Every 2nd row" in page, re.findall(r"Every[^<]*", page)
assert "#comparison" not in page
PY
if grep -E 'CONSOLE|Uncaught|Failed to load' "$tmp/console.log"; then echo "FAIL: console errors"; exit 1; fi

browse "$html" "$tmp/shot.png"
echo '<!DOCTYPE html><html><body></body></html>' > "$tmp/blank.html"
browse "$tmp/blank.html" "$tmp/blank.png"
s=$(stat -c %s "$tmp/shot.png"); b=$(stat -c %s "$tmp/blank.png")
echo "screenshot: $s bytes (blank page: $b bytes)"
[ "$s" -gt $((b * 10)) ] || { echo "FAIL: the screenshot is (nearly) blank"; exit 1; }

printf 'lr_z,entropy_distinct_mean,entropy_distinct_std,seeds\n0.5,2.0,0.05,10\n1,1.9,0.05,10\n' > "$tmp/ref.csv"
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 niter=10 reference="$tmp/ref.csv" out="$tmp/sweep" >/dev/null 2>&1
"$cli" report "$tmp/sweep" >/dev/null
browse "$tmp/sweep/report.html" dom > "$tmp/dom2.html"
for h in "scansnap report" "Figures" "Comparison with the paper" "Metrics: aggregate over seeds" "Configuration" "Overall"; do
  grep -q "$h" "$tmp/dom2.html" || { echo "FAIL: '$h' not in the rendered sweep page"; exit 1; }
done
[ "$(grep -o '<svg' "$tmp/dom2.html" | wc -l)" -eq 1 ]
grep -q "href='#comparison'" "$tmp/sweep/report.html" || { echo "FAIL: no Comparison link beside the comparison"; exit 1; }
if grep -E 'CONSOLE|Uncaught' "$tmp/console.log"; then echo "FAIL: console errors"; exit 1; fi

# a sweep without a reference: no Comparison link
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 niter=10 out="$tmp/sweep2" >/dev/null 2>&1
"$cli" report "$tmp/sweep2" >/dev/null
! grep -q "#comparison" "$tmp/sweep2/report.html" || { echo "FAIL: a Comparison link without a comparison"; exit 1; }

# a language-model run and verify's directory (its text/ run as claim 4 leaves it)
"$cli" train "${lm[@]}" text.probe_steps=0,10,20 out="$tmp/lm" >/dev/null
"$cli" report "$tmp/lm" >/dev/null
browse "$tmp/lm/report.html" dom > "$tmp/dom3.html"
for h in "scansnap report" "Figures" "Metrics" "valid_loss" "attn_entropy" "Figure 7"; do
  grep -q "$h" "$tmp/dom3.html" || { echo "FAIL: '$h' not in the language-model run's page"; exit 1; }
done
[ "$(grep -o '<svg' "$tmp/dom3.html" | wc -l)" -eq 4 ] || { echo "FAIL: the language-model page has not 4 figures"; exit 1; }
"$cli" verify verify.grid=false verify.seeds=1 data.path="$tmp/none" out="$tmp/verify" >/dev/null || true
cp -r "$tmp/lm" "$tmp/verify/text" && rm -rf "$tmp/verify/text/figures" "$tmp/verify/text/report.html"
"$cli" report "$tmp/verify" >/dev/null
browse "$tmp/verify/report.html" dom > "$tmp/dom4.html"
for h in "Claims" "fates of tokens" "SGD run (sgd/)" "Language-model run (text/)" "Run theory/" "Run text/"; do
  grep -q "$h" "$tmp/dom4.html" || { echo "FAIL: '$h' not in verify's page"; exit 1; }
done
[ "$(grep -o '<svg' "$tmp/dom4.html" | wc -l)" -eq 9 ] || { echo "FAIL: verify's page has $(grep -o '<svg' "$tmp/dom4.html" | wc -l) figures, expected 5 + 4"; exit 1; }
if grep -E 'CONSOLE|Uncaught|Failed to load' "$tmp/console.log"; then echo "FAIL: console errors"; exit 1; fi
echo OK
