#!/usr/bin/env bash
# report.html of a run (with claims.json) and of a sweep loads in headless Chromium with no
# console error, shows the expected headings and one inline SVG per figure, references no
# external file, and its screenshot is far from blank (PNG size against an empty page's).
set -euo pipefail
cli=${SS_CLI:?}
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then echo "SKIP: chromium not installed"; exit 0; fi
tmp=${SS_TMP:-/tmp}/report-$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home"; mkdir -p "$HOME"
browse() { # html, what ("dom" or a screenshot path)
  local flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-extensions --user-data-dir="$tmp/profile"
               --window-size=1200,2000 --enable-logging=stderr --v=0 --virtual-time-budget=3000)
  if [ "$2" = dom ]; then timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$1" 2>"$tmp/console.log"
  else timeout 120 "$chrome" "${flags[@]}" --screenshot="$2" "file://$1" >/dev/null 2>>"$tmp/console.log"; fi
}
"$cli" train niter=12 out="$tmp/run" >/dev/null
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
[ "$nsvg" -eq 4 ] || { echo "FAIL: $nsvg inline SVG figures, expected 4"; exit 1; }
if grep -E 'CONSOLE|Uncaught|Failed to load' "$tmp/console.log"; then echo "FAIL: console errors"; exit 1; fi

browse "$html" "$tmp/shot.png"
echo '<!DOCTYPE html><html><body></body></html>' > "$tmp/blank.html"
browse "$tmp/blank.html" "$tmp/blank.png"
s=$(stat -c %s "$tmp/shot.png"); b=$(stat -c %s "$tmp/blank.png")
echo "screenshot: $s bytes (blank page: $b bytes)"
[ "$s" -gt $((b * 10)) ] || { echo "FAIL: the screenshot is (nearly) blank"; exit 1; }

printf 'lr_z,entropy_mean,entropy_std,seeds\n0.5,2.0,0.05,10\n1,1.9,0.05,10\n' > "$tmp/ref.csv"
"$cli" sweep seed=1,2 opt.lr_z=0.5,1 niter=10 reference="$tmp/ref.csv" out="$tmp/sweep" >/dev/null 2>&1
"$cli" report "$tmp/sweep" >/dev/null
browse "$tmp/sweep/report.html" dom > "$tmp/dom2.html"
for h in "scansnap report" "Figures" "Comparison with the paper" "Metrics: aggregate over seeds" "Configuration" "Overall"; do
  grep -q "$h" "$tmp/dom2.html" || { echo "FAIL: '$h' not in the rendered sweep page"; exit 1; }
done
[ "$(grep -o '<svg' "$tmp/dom2.html" | wc -l)" -eq 1 ]
if grep -E 'CONSOLE|Uncaught' "$tmp/console.log"; then echo "FAIL: console errors"; exit 1; fi
echo OK
