#!/usr/bin/python3
"""scansnap's Y/Z model and optimizers against an independent PyTorch implementation
(bench/yz_torch.py: one-hot, bmm, softmax, normalize, Linear K1 = Y / K2 = Z, autograd,
torch.optim with a parameter group per learning rate), float64 on both sides.

Both are fed the very same batches: this script samples Figure-4 sequences, writes them to a
sequence file (.npy int64, .npy int32 and text, one per case), runs `scansnap train
data.sequences=FILE` and trains the PyTorch model on the same rows in the same order, from the
same zero initial weights. It compares the loss of every step (metrics.csv with
save_per_minibatch=1) and the final Y and Z (checkpoint.safetensors, read with
tests/st_numpy.py). usage: torch_parity_yz.py SCANSNAP_CLI WORKDIR SOURCE_DIR
"""
import csv
import os
import subprocess
import sys

import numpy as np
import torch

SRC = sys.argv[3]
sys.path.insert(0, os.path.join(SRC, "bench"))
sys.path.insert(0, os.path.join(SRC, "tests"))
import st_numpy  # noqa: E402
import yz_torch  # noqa: E402

CLI, WORK = sys.argv[1], sys.argv[2]
T, B, NITER = 24, 16, 15
os.makedirs(WORK, exist_ok=True)
torch.set_num_threads(1)

P, query, nxt = yz_torch.fig4_classes()
rows = yz_torch.sample_rows(np.random.default_rng(7), B * (NITER + 1), T, P, query, nxt)


def write_rows(name):
    path = os.path.join(WORK, name)
    if name.endswith(".txt"):
        with open(path, "w") as f:
            for r in rows:
                f.write(" ".join(str(v) for v in r) + "\n")
    else:
        np.save(path, rows.astype(np.int32 if "i32" in name else np.int64))
    return path


# name, sequence file, model options, optimizer options
CASES = [
    ("fig4_sgd", "rows_i64.npy", dict(normalize=True, residual=False, include_base_token=False),
     dict(method="sgd", lr_z=1.0, mult=1.0, momentum=0.9)),
    ("sgd_nesterov_wd_residual_base", "rows.txt", dict(normalize=True, residual=True, include_base_token=True),
     dict(method="sgd", lr_z=0.5, mult=3.0, momentum=0.9, wd=1e-3, nesterov=True)),
    ("sgd_dampening_unnormalized", "rows_i32.npy", dict(normalize=False, residual=False, include_base_token=True),
     dict(method="sgd", lr_z=2.0, mult=0.5, momentum=0.5, dampening=0.1)),
    ("adam_wd", "rows_i64.npy", dict(normalize=True, residual=False, include_base_token=False),
     dict(method="adam", lr_z=0.02, mult=2.0, wd=0.01)),
    ("adamw_residual", "rows_i64.npy", dict(normalize=True, residual=True, include_base_token=False),
     dict(method="adamw", lr_z=0.03, mult=1.0, wd=0.05)),
]


def b(v):
    return "true" if v else "false"


def run_scansnap(name, seqfile, m, o):
    out = os.path.join(WORK, name)
    args = [CLI, "train", "data.sequences=" + seqfile, "L=%d" % T, "batchsize=%d" % B, "niter=%d" % NITER,
            "save_per_minibatch=1", "model.zero_init=true", "model2.normalize=" + b(m["normalize"]),
            "model2.residual=" + b(m["residual"]), "model.attn_include_base_token=" + b(m["include_base_token"]),
            "opt.method=" + o["method"], "opt.lr_z=%r" % o["lr_z"], "opt.lr_y_multi_on_z=%r" % o["mult"],
            "opt.wd=%r" % o.get("wd", 0.0), "out=" + out]
    if o["method"] == "sgd":
        args += ["opt.momentum=%r" % o["momentum"], "opt.dampening=%r" % o.get("dampening", 0.0),
                 "opt.nesterov=" + b(o.get("nesterov", False))]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("scansnap failed (%d) for %s: %s" % (r.returncode, name, r.stderr))
    losses = [float(x["loss"]) for x in csv.DictReader(open(os.path.join(out, "metrics.csv")))]
    ck, _ = st_numpy.load(os.path.join(out, "checkpoint.safetensors"))
    return np.array(losses), ck["Y"], ck["Z"]


def run_torch(m, o):
    model = yz_torch.Model2(34, m["normalize"], m["residual"], m["include_base_token"], dtype=torch.float64)
    opt = yz_torch.make_optimizer(model, o["method"], o["lr_z"] * o["mult"], o["lr_z"], momentum=o.get("momentum", 0.0),
                                  wd=o.get("wd", 0.0), nesterov=o.get("nesterov", False),
                                  dampening=o.get("dampening", 0.0))
    t = torch.from_numpy(rows)
    batches = [(t[k * B:(k + 1) * B, :T], t[k * B:(k + 1) * B, T]) for k in range(NITER + 1)]
    losses = yz_torch.train(model, opt, batches)
    return np.array(losses), model.K1.weight.detach().numpy(), model.K2.weight.detach().numpy()


files = {f: write_rows(f) for f in {c[1] for c in CASES}}
bad = 0
for name, f, m, o in CASES:
    l_s, Y_s, Z_s = run_scansnap(name, files[f], m, o)
    l_t, Y_t, Z_t = run_torch(m, o)
    assert len(l_s) == NITER + 1 == len(l_t), (len(l_s), len(l_t))
    dl = np.max(np.abs(l_s - l_t) / np.maximum(np.abs(l_t), 1e-3))
    dy = np.max(np.abs(Y_s - Y_t)) / max(1.0, np.max(np.abs(Y_t)))
    dz = np.max(np.abs(Z_s - Z_t)) / max(1.0, np.max(np.abs(Z_t)))
    moved = np.max(np.abs(Z_t)) > 1e-3 and abs(l_t[-1] - l_t[0]) > 1e-3  # the check is not vacuous
    ok = dl < 1e-9 and dy < 1e-9 and dz < 1e-9 and moved
    bad += not ok
    print("%-4s %-32s loss %.4f -> %.4f  max rel diff: loss %.2e  Y %.2e  Z %.2e  (|Z| max %.3f)" %
          ("ok" if ok else "FAIL", name, l_t[0], l_t[-1], dl, dy, dz, np.max(np.abs(Z_t))))
sys.exit(1 if bad else 0)
