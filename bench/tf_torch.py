#!/usr/bin/python3
"""The Figure-7 training step in PyTorch, as the paper's code builds it (PyTorch's
word_language_model TransformerModel: embedding, sinusoidal positions + dropout,
nn.TransformerEncoder of NLAYERS nn.TransformerEncoderLayer, linear decoder; clip_grad_norm_
0.5, then SGD lr 5 (Figure 7) or Adam lr 1e-4 (JoMA)).
usage: tf_torch.py V STEPS THREADS [NLAYERS [sgd|adam]]  -> key=value lines like bench/tf_step.c."""
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, STEPS, THREADS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
NLAYERS = int(sys.argv[4]) if len(sys.argv) > 4 else 1
METHOD = sys.argv[5] if len(sys.argv) > 5 else "sgd"
if METHOD not in ("sgd", "adam"):
    sys.exit("tf_torch.py: optimizer %r, expected sgd or adam" % METHOD)
B, T, D, H, FF, P = 20, 35, 200, 1, 200, 0.2
torch.set_num_threads(THREADS)
torch.manual_seed(1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        pe = torch.zeros(T, D)
        pos = torch.arange(T, dtype=torch.float).unsqueeze(1)
        div = torch.exp(torch.arange(0, D, 2).float() * (-math.log(10000.0) / D))
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe)
        self.drop = nn.Dropout(P)
        self.layer = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, P, batch_first=True), NLAYERS)
        self.dec = nn.Linear(D, V)
        nn.init.uniform_(self.emb.weight, -0.1, 0.1)
        nn.init.uniform_(self.dec.weight, -0.1, 0.1)
        nn.init.zeros_(self.dec.bias)
        self.register_buffer("mask", torch.triu(torch.full((T, T), float("-inf")), diagonal=1))

    def forward(self, x):
        h = self.drop(self.emb(x) + self.pe)
        return self.dec(self.layer(h, mask=self.mask))


m = Model()
m.train()
opt = torch.optim.SGD(m.parameters(), lr=5.0) if METHOD == "sgd" else torch.optim.Adam(m.parameters(), lr=1e-4)
tm = tf = cm = 0.0
for s in range(STEPS + 2):
    x = torch.randint(0, V, (B, T + 1))
    t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad()
    loss = F.cross_entropy(m(x[:, :-1]).reshape(-1, V), x[:, 1:].reshape(-1))
    loss.backward()
    t1, c1 = time.perf_counter(), time.process_time()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
    opt.step()
    t2 = time.perf_counter()
    if s >= 2:
        tm += t1 - t0
        cm += c1 - c0
        tf += t2 - t0
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l or "mkl" in l.lower()})
core = "?"
try:
    import ctypes
    for p in blas:
        lib = ctypes.CDLL(p)
        if hasattr(lib, "openblas_get_corename"):
            lib.openblas_get_corename.restype = ctypes.c_char_p
            core = lib.openblas_get_corename().decode()
except OSError:
    pass
print(f"model_step_cpu_s={cm / STEPS:.5f}")
print(f"nlayers={NLAYERS}\noptimizer={METHOD}")
print(f"model_step_s={tm / STEPS:.5f}\nfull_step_s={tf / STEPS:.5f}\ntokens_per_s={B * T * STEPS / tf:.1f}")
print(f"loss={loss.item():.4f}\nmaxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
print(f"params={sum(p.numel() for p in m.parameters())}\nthreads={torch.get_num_threads()}")
print(f"blas={','.join(blas)}; kernels {core}; torch {torch.__version__}")
