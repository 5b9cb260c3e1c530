#!/usr/bin/python3
"""An independent PyTorch implementation of the Y/Z model (SPEC §2.1), written the way the
paper's code writes its Model2: one-hot tokens, the query's attention row through a Linear
layer (K2, weight = Z), torch.bmm for the scores and the composition, softmax, optional
residual and normalisation, and the decoder as a Linear layer (K1, weight = Y); autograd for
the backward; torch.optim with one parameter group per learning rate (Y: lr_y, Z: lr_z).

Used twice:
  - tests/test_torch_parity_yz.sh trains it in float64 on the very batches scansnap reads from
    a sequence file, from the same (zero) initial weights, and compares loss per step and the
    final Y, Z;
  - bench/bench_fig4.sh times the Figure-4 run with it in float32 (the benchmark peer).

Run as a script it is the benchmark: prints one line 'seqs_per_s=... seconds=...'.
Only Debian's /usr/bin/python3 has torch.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F


class Model2(torch.nn.Module):
    """SPEC §2.1. x: [B, T] token ids, x[:, -1] the query m; returns logits [B, M].
    s_t = Z[m, x_t]; a = softmax(s); c = sum_t a_t e_{x_t} (+ e_m); f = c/||c||; logit = Y f."""

    def __init__(self, M, normalize=True, residual=False, include_base_token=False, dtype=torch.float64):
        super().__init__()
        self.M, self.normalize, self.residual, self.base = M, normalize, residual, include_base_token
        self.K1 = torch.nn.Linear(M, M, bias=False, dtype=dtype)  # decoder: logit = K1(f) = Y f
        self.K2 = torch.nn.Linear(M, M, bias=False, dtype=dtype)  # attention: row m of K2.weight = Z[m]
        with torch.no_grad():
            self.K1.weight.zero_()
            self.K2.weight.zero_()
        self.dtype = dtype

    def forward(self, x):
        keys = x if self.base else x[:, :-1]
        X = F.one_hot(keys, self.M).to(self.dtype)            # [B, K, M]
        q = F.one_hot(x[:, -1], self.M).to(self.dtype)        # [B, M]
        zq = q @ self.K2.weight                               # [B, M] = Z[m, :]
        s = torch.bmm(X, zq.unsqueeze(2)).squeeze(2)          # [B, K]  s_t = Z[m, x_t]
        a = torch.softmax(s, dim=1)                           # [B, K]
        c = torch.bmm(a.unsqueeze(1), X).squeeze(1)           # [B, M]  c = sum_t a_t e_{x_t}
        if self.residual:
            c = c + q
        f = c / c.norm(dim=1, keepdim=True) if self.normalize else c
        return self.K1(f)                                     # [B, M]


def make_optimizer(model, method, lr_y, lr_z, momentum=0.9, wd=0.0, nesterov=False, dampening=0.0,
                   betas=(0.9, 0.999), eps=1e-8):
    groups = [{"params": [model.K1.weight], "lr": lr_y}, {"params": [model.K2.weight], "lr": lr_z}]
    if method == "sgd":
        return torch.optim.SGD(groups, lr=lr_z, momentum=momentum, weight_decay=wd, nesterov=nesterov,
                               dampening=dampening)
    if method == "adam":
        return torch.optim.Adam(groups, lr=lr_z, betas=betas, eps=eps, weight_decay=wd)
    if method == "adamw":
        return torch.optim.AdamW(groups, lr=lr_z, betas=betas, eps=eps, weight_decay=wd)
    raise ValueError(method)


def train(model, opt, batches):
    """batches: list of (x [B, T], label [B]) LongTensors. Row k of the result is the loss of
    batch k with the parameters after k updates; the last batch is evaluated, not trained on
    (SPEC §3's rows)."""
    losses = []
    for k, (x, y) in enumerate(batches):
        loss = F.cross_entropy(model(x), y)
        losses.append(loss.item())
        if k == len(batches) - 1:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return losses


def fig4_classes():
    """The Figure-4 class table (SPEC §1): 10 common tokens of weight 1, class n's 10 distinct
    tokens 10+10n.. with weights linspace(0.1, 1, 10), query 30+n, next token 32+n; M = 34."""
    M, N = 34, 2
    P = np.zeros((N, M))
    for n in range(N):
        P[n, :10] = 1.0
        P[n, 10 + 10 * n:20 + 10 * n] = np.linspace(0.1, 1.0, 10)
        P[n] /= P[n].sum()
    return P, np.array([30, 31]), np.array([32, 33])


def sample_rows(rng, nrows, T, P, query, nxt):
    """nrows sequences 'x_1 .. x_{T-1} x_T label' as an int64 array [nrows, T+1]."""
    N, M = P.shape
    cls = rng.integers(0, N, size=nrows)
    out = np.empty((nrows, T + 1), dtype=np.int64)
    for n in range(N):
        idx = np.nonzero(cls == n)[0]
        out[idx, :T - 1] = rng.choice(M, size=(len(idx), T - 1), p=P[n])
        out[idx, T - 1] = query[n]
        out[idx, T] = nxt[n]
    return out


def main():
    ap = argparse.ArgumentParser(description="Time the Figure-4 run's training in PyTorch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--niter", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--T", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    P, query, nxt = fig4_classes()
    rows = sample_rows(np.random.default_rng(2), args.batch * (args.niter + 1), args.T, P, query, nxt)
    t = torch.from_numpy(rows)
    batches = [(t[k * args.batch:(k + 1) * args.batch, :args.T], t[k * args.batch:(k + 1) * args.batch, args.T])
               for k in range(args.niter + 1)]
    best = None
    for _ in range(args.repeat):
        model = Model2(34, dtype=dtype)
        opt = make_optimizer(model, "sgd", 1.0, 1.0)
        t0 = time.perf_counter()
        losses = train(model, opt, batches)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    seqs = args.batch * (args.niter + 1)
    print("seqs_per_s=%.1f seconds=%.6f final_loss=%.6g threads=%d torch=%s" %
          (seqs / best, best, losses[-1], torch.get_num_threads(), torch.__version__))


if __name__ == "__main__":
    main()
