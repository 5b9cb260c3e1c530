"""Figure 4 of the paper from the arrays of the Python API: c_n of each class over training (a
heatmap of the class's tokens, most probable distinct token first) and the entropy of c_n.

    PYTHONPATH=python python3 examples/fig4.py [OUT_DIR]

Trains the Figure-4 run (the built-in defaults) into OUT_DIR (default runs/fig4-<time>), prints
the final entropy, and where Debian's python3-matplotlib is installed draws OUT_DIR/figure4.png;
without matplotlib it says so and stops there (exit 0)."""
import sys

import scansnap

out = {"out": sys.argv[1]} if len(sys.argv) > 1 else {}
r = scansnap.train(**out)
print("run %s: final entropy %.4f" % (r.dir, r.metrics["entropy"][-1]))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError:
    print("matplotlib is not installed: no figure (apt-get install python3-matplotlib)")
    sys.exit(0)

N = r.c_n.shape[1]
fig, axes = plt.subplots(1, N + 1, figsize=(4 * (N + 1), 3.6))
for n in range(N):
    p = r.prob[n]
    tokens = [l for l in np.argsort(-p, kind="stable") if p[l] > 0]  # the class's tokens, most probable first
    im = axes[n].imshow(r.c_n[:, n, tokens].T, aspect="auto", origin="lower", cmap="viridis",
                        extent=[r.steps[0], r.steps[-1], -0.5, len(tokens) - 0.5])
    axes[n].set_title("c_n of class %d (query %d)" % (n, r.classes[n]["query"]))
    axes[n].set_xlabel("step")
    axes[n].set_ylabel("token (by P(l|n), high to low)")
    fig.colorbar(im, ax=axes[n])
axes[N].plot(r.metrics["step"], r.metrics["entropy"], label="H(c_n)")
axes[N].plot(r.metrics["step"], r.metrics["entropy_distinct"], label="distinct tokens only")
axes[N].set_xlabel("step")
axes[N].set_ylabel("entropy (nats)")
axes[N].legend()
fig.tight_layout()
fig.savefig(r.dir + "/figure4.png", dpi=120)
print("figure: %s/figure4.png" % r.dir)
