# Shared by the plot, report and hostile-directory script tests (sourced, not a test): a
# scratch folder, a tiny language-model corpus and the arguments of a run on it, an SVG
# check. Needs $cli; plot_setup sets $tmp and $lm.
# shellcheck source=tests/lib_resume.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_resume.sh"

# plot_setup NAME: $tmp (a fresh folder, removed at exit), $tmp/text.txt (tiny_corpus) and $lm
# (a language-model run on it: a second or two); figures are drawn by `plot`, not by `train`
plot_setup() {
  tmp=${SS_TMP:-/tmp}/$1-$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  export SS_NO_GNUPLOT=1
  tiny_corpus "$tmp/text.txt"
  lm=(model.type=transformer model.task=lm data.path="$tmp/text.txt" data.cache="$tmp/cache" model.d=16 model.H=2 data.T=8 batchsize=4
      text.epochs=2 text.epoch_steps=10 text.eval_batches=2 text.top_k=3 text.probes=2 save_per_minibatch=2 threads=1)
}
need_gnuplot() { command -v gnuplot >/dev/null || { echo "SKIP: gnuplot not installed"; exit 77; }; }

# svg_ok FILE...: each parses as XML (Python's reader)
svg_ok() { python3 -c 'import sys, xml.dom.minidom as m; [m.parse(f) for f in sys.argv[1:]]' "$@" || fail "an SVG is not well-formed XML: $*"; }
