#!/usr/bin/python3
"""PyTorch peer for bench/bench_fig6.sh: a sample of the Figure-6 sweep's runs (SPEC §1) with
the Y/Z model of bench/yz_torch.py (Model2, written as the paper's code writes it), timed, and
extrapolated to the whole 640-run grid. Stated as an extrapolation: only --sample runs are
trained (one per num_last x eta_Z pair chosen below, seed 1).

Each run: the class table of the generator (10 common tokens, num_last queries, 2 next tokens
per query, 10 distinct tokens per class with weights linspace(0.1, 1, 10), no per-query
common tokens), nn.Linear's default init (uniform +-1/sqrt(M), as model.zero_init=false),
SGD momentum 0.9, T = 128, batch 128, 100 updates + the final evaluation. Batches are drawn
with numpy before the clock starts, so only training is timed (favouring PyTorch).
Prints one line per run and a summary line 'extrapolated_seconds=...'.
Only Debian's /usr/bin/python3 has torch."""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yz_torch import Model2, make_optimizer, train  # noqa: E402


def classes(K, J=2, C=10, D=10):
    """Token layout of SPEC §1 with num_common_per_last = 0: common [0,C), class n's distinct
    block C+D*n.., the K queries, the N next tokens."""
    N = K * J
    M = C + N * D + K + N
    P = np.zeros((N, M))
    for n in range(N):
        P[n, :C] = 1.0
        P[n, C + D * n:C + D * (n + 1)] = np.linspace(0.1, 1.0, D)
        P[n] /= P[n].sum()
    query = np.array([C + N * D + n // J for n in range(N)])
    nxt = np.array([C + N * D + K + n for n in range(N)])
    return M, P, query, nxt


def batches_for(rng, M, P, query, nxt, B, T, niter):
    N = P.shape[0]
    rows = np.empty((B * (niter + 1), T + 1), dtype=np.int64)
    cls = rng.integers(0, N, size=len(rows))
    for n in range(N):
        idx = np.nonzero(cls == n)[0]
        rows[idx, :T - 1] = rng.choice(M, size=(len(idx), T - 1), p=P[n])
        rows[idx, T - 1] = query[n]
        rows[idx, T] = nxt[n]
    t = torch.from_numpy(rows)
    return [(t[k * B:(k + 1) * B, :T], t[k * B:(k + 1) * B, T]) for k in range(niter + 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--niter", type=int, default=100)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--lr-z", default="1,3", help="eta_Z values of the sample (per num_last)")
    ap.add_argument("--ratio", type=float, default=2.0, help="eta_Y/eta_Z of the sample")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    dtype = getattr(torch, args.dtype)
    lrs = [float(v) for v in args.lr_z.split(",")]
    per_K = {}
    for K in (1, 3, 5, 10):
        M, P, q, nx = classes(K)
        for lr_z in lrs:
            batches = batches_for(np.random.default_rng(1), M, P, q, nx, 128, 128, args.niter)
            model = Model2(M, dtype=dtype)
            with torch.no_grad():  # model.zero_init=false: nn.Linear's default uniform(+-1/sqrt(M))
                bound = 1.0 / np.sqrt(M)
                model.K1.weight.uniform_(-bound, bound)
                model.K2.weight.uniform_(-bound, bound)
            opt = make_optimizer(model, "sgd", lr_z * args.ratio, lr_z, momentum=0.9)
            t0 = time.perf_counter()
            losses = train(model, opt, batches)
            dt = time.perf_counter() - t0
            per_K.setdefault(K, []).append(dt)
            print("run num_last=%d lr_z=%g lr_y_multi_on_z=%g M=%d seconds=%.3f final_loss=%.3g" %
                  (K, lr_z, args.ratio, M, dt, losses[-1]), flush=True)
    # The grid has 160 runs per num_last (4 eta_Z x 4 ratios x 10 seeds); cost depends on M only.
    total = sum(160 * float(np.mean(v)) for v in per_K.values())
    sampled = sum(len(v) for v in per_K.values())
    print("sample_runs=%d sample_seconds=%.3f extrapolated_seconds=%.1f (640 runs, %d torch threads, torch %s)" %
          (sampled, sum(sum(v) for v in per_K.values()), total, torch.get_num_threads(), torch.__version__))


if __name__ == "__main__":
    main()
