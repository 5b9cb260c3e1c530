#!/usr/bin/python3
"""PyTorch side of the transformer parity test (src/transformer/test_tf_torch_parity.c).

Usage: tf_torch_parity.py IN1 OUT1 [IN2 OUT2 ...]  (one torch import for every case).

Each IN.safetensors holds the C model's weights under its tensor names, the batches as
x/y/label ([S, B, T], [S, B, T], [S, B]) and the configuration as JSON in
__metadata__["config"]. The script builds the same model in PyTorch and writes OUT.safetensors:
- steps = 0: forward + backward on batch 0: loss, logits, att ([L*B, H, T, T], every layer's
  attention weights, layer by layer) and grad.<name> for every parameter;
- steps = S > 0: S training steps (batch s at step s) with torch.optim.Adam (betas 0.9/0.999,
  eps 1e-8) after torch.nn.utils.clip_grad_norm_: loss and gnorm per step ([S]; the norm
  before clipping) and final.<name> for every parameter.
Safetensors is parsed with numpy (Debian has no safetensors package).

Case "encoder": embedding (+ learned or sinusoidal positions), nn.TransformerEncoder of L
nn.TransformerEncoderLayer (post-norm), untied decoder, causal mask, LM loss. Case "paper":
the paper's synthetic block written out, L of them stacked (projections without bias,
residual), tied decoder on the last position. Tensor names: as the C model's (layer l's
prefixed "l<l>." when L > 1)."""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
SHARED = ("embed.weight", "pos.weight", "decoder.weight", "decoder.bias")


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for k, v in hdr.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[base + a:base + b], dtype=DT[v["dtype"]]).reshape(v["shape"]).copy()
    return out, meta


def write_st(path, tensors):
    hdr, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, dtype=np.float32).tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def prefix(cfg, l):
    return "" if cfg["L"] == 1 else "l%d." % l


def sinusoid(T, d):
    """word_language_model's PositionalEncoding table."""
    pe = torch.zeros(T, d)
    pos = torch.arange(T, dtype=torch.float).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class Encoder:
    """Embedding + positions, nn.TransformerEncoder of L layers, untied decoder (LM)."""

    def __init__(self, cfg, w):
        self.cfg = cfg
        d, H, L = cfg["d"], cfg["H"], cfg["L"]
        act = F.silu if cfg["gate"] == "silu" else F.relu
        layer = nn.TransformerEncoderLayer(d, H, cfg["F"], dropout=0.0, activation=act, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        with torch.no_grad():
            for l, lay in enumerate(self.enc.layers):
                p = lambda k: torch.tensor(w[prefix(cfg, l) + k])
                lay.self_attn.in_proj_weight.copy_(torch.cat([p("attn.Wq"), p("attn.Wk"), p("attn.Wv")]))
                lay.self_attn.in_proj_bias.copy_(torch.cat([p("attn.bq"), p("attn.bk"), p("attn.bv")]))
                lay.self_attn.out_proj.weight.copy_(p("attn.Wo"))
                lay.self_attn.out_proj.bias.copy_(p("attn.bo"))
                lay.linear1.weight.copy_(p("ffn.w1")); lay.linear1.bias.copy_(p("ffn.b1"))
                lay.linear2.weight.copy_(p("ffn.w2")); lay.linear2.bias.copy_(p("ffn.b2"))
                lay.norm1.weight.copy_(p("ln1.weight")); lay.norm1.bias.copy_(p("ln1.bias"))
                lay.norm2.weight.copy_(p("ln2.weight")); lay.norm2.bias.copy_(p("ln2.bias"))
        self.enc.train()
        self.shared = {k: torch.tensor(w[k], requires_grad=True) for k in SHARED if k in w}

    def params(self):
        return list(self.shared.values()) + list(self.enc.parameters())

    def forward(self, x):
        B, T = x.shape
        d = self.cfg["d"]
        mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        h0 = self.shared["embed.weight"][x]
        if self.cfg["pos"] == "learned":
            h0 = h0 + self.shared["pos.weight"][:T].unsqueeze(0)
        elif self.cfg["pos"] == "sinusoidal":
            h0 = h0 + sinusoid(T, d).unsqueeze(0)
        inputs = []
        hooks = [lay.register_forward_pre_hook(lambda mod, args: inputs.append(args[0])) for lay in self.enc.layers]
        z = self.enc(h0, mask=mask)
        for h in hooks:
            h.remove()
        with torch.no_grad():
            att = [lay.self_attn(i, i, i, attn_mask=mask, need_weights=True, average_attn_weights=False)[1]
                   for lay, i in zip(self.enc.layers, inputs)]
        logits = z.reshape(B * T, d) @ self.shared["decoder.weight"].t() + self.shared["decoder.bias"]
        return logits, att

    def tensors(self, grad):
        """C name -> parameter (or its gradient)."""
        get = (lambda t: t.grad) if grad else (lambda t: t.detach())
        d = self.cfg["d"]
        out = {k: get(v) for k, v in self.shared.items()}
        for l, lay in enumerate(self.enc.layers):
            p = prefix(self.cfg, l)
            g, gb = get(lay.self_attn.in_proj_weight), get(lay.self_attn.in_proj_bias)
            out.update({p + "attn.Wq": g[:d], p + "attn.Wk": g[d:2 * d], p + "attn.Wv": g[2 * d:],
                        p + "attn.bq": gb[:d], p + "attn.bk": gb[d:2 * d], p + "attn.bv": gb[2 * d:],
                        p + "attn.Wo": get(lay.self_attn.out_proj.weight), p + "attn.bo": get(lay.self_attn.out_proj.bias),
                        p + "ffn.w1": get(lay.linear1.weight), p + "ffn.b1": get(lay.linear1.bias),
                        p + "ffn.w2": get(lay.linear2.weight), p + "ffn.b2": get(lay.linear2.bias),
                        p + "ln1.weight": get(lay.norm1.weight), p + "ln1.bias": get(lay.norm1.bias),
                        p + "ln2.weight": get(lay.norm2.weight), p + "ln2.bias": get(lay.norm2.bias)})
        return out


class Paper:
    """The paper's synthetic block (no biases, residual), L stacked, tied decoder on the last position."""

    def __init__(self, cfg, w):
        self.cfg = cfg
        self.P = {k: torch.tensor(v, requires_grad=True) for k, v in w.items() if k not in ("x", "y", "label")}

    def params(self):
        return list(self.P.values())

    def forward(self, x):
        B, T = x.shape
        d, H = self.cfg["d"], self.cfg["H"]
        hs = d // H
        sh = lambda t: t.reshape(B, T, H, hs).permute(0, 2, 1, 3)
        h, atts = self.P["embed.weight"][x], []
        for l in range(self.cfg["L"]):
            p = prefix(self.cfg, l)
            q, k, v = (h @ self.P[p + n].t() if p + n in self.P else h for n in ("attn.Wq", "attn.Wk", "attn.Wv"))
            att = F.softmax(sh(q) @ sh(k).transpose(-1, -2) / math.sqrt(hs), dim=-1)
            h = (att @ sh(v)).permute(0, 2, 1, 3).reshape(B, T, d) + h
            atts.append(att.detach())
        return h[:, -1, :] @ self.P["embed.weight"].t(), atts

    def tensors(self, grad):
        return {k: (v.grad if grad else v.detach()) for k, v in self.P.items()}


def run_case(path_in, path_out):
    w, meta = read_st(path_in)
    cfg = json.loads(meta["config"])
    xs = torch.tensor(w["x"], dtype=torch.long)
    ys = torch.tensor(w["y"], dtype=torch.long)
    labels = torch.tensor(w["label"], dtype=torch.long)
    model = Encoder(cfg, w) if cfg["case"] == "encoder" else Paper(cfg, w)
    lm = cfg["case"] == "encoder"

    def loss_of(s):
        logits, att = model.forward(xs[s])
        target = ys[s].reshape(-1) if lm else labels[s]
        return F.cross_entropy(logits, target), logits, att

    out = {}
    if cfg["steps"] == 0:
        loss, logits, att = loss_of(0)
        loss.backward()
        out["loss"] = np.array([loss.item()], dtype=np.float32)
        out["logits"] = logits.detach().numpy()
        a = torch.stack(att)  # [L, B, H, T, T]; safetensors readers here take at most 4 dimensions
        out["att"] = a.reshape(-1, *a.shape[2:]).numpy()
        for k, g in model.tensors(True).items():
            out["grad." + k] = g.numpy()
    else:
        params = model.params()
        opt = torch.optim.Adam(params, lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8)
        losses, norms = [], []
        for s in range(cfg["steps"]):
            opt.zero_grad()
            loss, _, _ = loss_of(s)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, cfg["clip"])))
            opt.step()
            losses.append(loss.item())
        out["loss"] = np.array(losses, dtype=np.float32)
        out["gnorm"] = np.array(norms, dtype=np.float32)
        for k, v in model.tensors(False).items():
            out["final." + k] = v.numpy()
    write_st(path_out, out)


def main():
    torch.set_num_threads(1)
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: tf_torch_parity.py IN OUT [IN OUT ...]")
    for i in range(0, len(args), 2):
        run_case(args[i], args[i + 1])


if __name__ == "__main__":
    main()
