#!/usr/bin/env bash
# The safetensors files a run writes load with an independent reader (tests/st_numpy.py: the
# published format with numpy, because Debian packages no python3-safetensors), and say the
# same as the other files: dynamics steps = metrics.csv steps, each c_n sums to 1, the
# entropies recomputed from c equal metrics.csv, and the checkpoint's Z gives the last c_n
# (c_n[l] = P(l|n) e^{Z[psi(n),l]} / sum). Skipped (77) only where numpy is missing.
set -eu
CLI=${SS_CLI:?}
SRC=${SS_SOURCE_DIR:?}
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "numpy not available: skip"; exit 77; }
dir=${SS_TMP:-/tmp}/st-python-$$
rm -rf "$dir"
"$CLI" train niter=10 save_per_minibatch=3 dataset2.num_last=3 model.zero_init=false out="$dir/run" >/dev/null
"$PY" - "$dir/run" "$SRC/tests" <<'PYEOF'
import csv, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import st_numpy
run = sys.argv[1]
dyn, dmeta = st_numpy.load(run + "/dynamics.safetensors")
ck, cmeta = st_numpy.load(run + "/checkpoint.safetensors")
rows = list(csv.DictReader(open(run + "/metrics.csv")))
steps = [int(r["step"]) for r in rows]
assert steps == [0, 3, 6, 9, 10], steps
assert list(dyn["steps"]) == steps, dyn["steps"]
c, prob, query = dyn["c"], dyn["prob"], dyn["query"]
S, N, M = c.shape
assert (S, N, M) == (5, 3, 10 + 30 + 3 + 3), c.shape
assert np.allclose(c.sum(axis=2), 1, atol=1e-12)
for s, r in enumerate(rows):
    ent = np.mean([-(p[p > 0] * np.log(p[p > 0])).sum() for p in c[s]])
    assert abs(ent - float(r["entropy"])) < 1e-12, (ent, r["entropy"])
Z, Y = ck["Z"], ck["Y"]
assert Z.shape == (M, M) and Y.shape == (M, M) and Z.dtype == np.float64
assert int(ck["step"][0]) == 10
for n in range(N):
    w = prob[n] * np.exp(Z[query[n]] - Z[query[n]].max())
    assert np.allclose(w / w.sum(), c[-1, n], rtol=0, atol=1e-12)
assert abs(np.linalg.norm(Z) - float(rows[-1]["z_norm"])) < 1e-9
assert dmeta.get("format") == "scansnap-dynamics-1" and "ss_checksum" in cmeta
print("ok: dynamics %s, checkpoint tensors %s" % (sorted(dyn), sorted(ck)))
PYEOF
rm -rf "$dir"
