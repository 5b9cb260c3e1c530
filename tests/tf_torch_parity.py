#!/usr/bin/python3
"""PyTorch side of the transformer parity test (src/transformer/test_tf_torch_parity.c).

Reads IN.safetensors (the C model's weights under its tensor names, the batch as x/y/label,
the configuration as JSON in __metadata__["config"]), builds the same model in PyTorch,
runs forward + backward, and writes OUT.safetensors with loss, logits, att (attention
weights [B,H,T,T]) and grad.<name> for every parameter. Safetensors is parsed with numpy
(Debian has no safetensors package). Case "encoder": nn.TransformerEncoderLayer (post-norm)
between an embedding (+ learned positions) and an untied decoder, causal mask, LM loss;
case "paper": the paper's synthetic block written out (projections without bias, residual,
tied decoder on the last position)."""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


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


def main():
    torch.set_num_threads(1)
    w, meta = read_st(sys.argv[1])
    cfg = json.loads(meta["config"])
    P = {k: torch.tensor(v, requires_grad=True) for k, v in w.items() if k not in ("x", "y", "label")}
    x = torch.tensor(w["x"], dtype=torch.long)
    B, T = x.shape
    d, H = cfg["d"], cfg["H"]
    out = {}
    if cfg["case"] == "encoder":
        act = F.silu if cfg["gate"] == "silu" else F.relu
        layer = nn.TransformerEncoderLayer(d, H, cfg["F"], dropout=0.0, activation=act, batch_first=True)
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(torch.cat([P["attn.Wq"], P["attn.Wk"], P["attn.Wv"]]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([P["attn.bq"], P["attn.bk"], P["attn.bv"]]))
            layer.self_attn.out_proj.weight.copy_(P["attn.Wo"])
            layer.self_attn.out_proj.bias.copy_(P["attn.bo"])
            layer.linear1.weight.copy_(P["ffn.w1"]); layer.linear1.bias.copy_(P["ffn.b1"])
            layer.linear2.weight.copy_(P["ffn.w2"]); layer.linear2.bias.copy_(P["ffn.b2"])
            layer.norm1.weight.copy_(P["ln1.weight"]); layer.norm1.bias.copy_(P["ln1.bias"])
            layer.norm2.weight.copy_(P["ln2.weight"]); layer.norm2.bias.copy_(P["ln2.bias"])
        layer.train()
        mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        h0 = P["embed.weight"][x] + P["pos.weight"][:T].unsqueeze(0)
        z = layer(h0, src_mask=mask)
        _, att = layer.self_attn(h0, h0, h0, attn_mask=mask, need_weights=True, average_attn_weights=False)
        logits = z.reshape(B * T, d) @ P["decoder.weight"].t() + P["decoder.bias"]
        loss = F.cross_entropy(logits, torch.tensor(w["y"], dtype=torch.long).reshape(-1))
        loss.backward()
        g = layer.self_attn.in_proj_weight.grad
        gb = layer.self_attn.in_proj_bias.grad
        grads = {"attn.Wq": g[:d], "attn.Wk": g[d:2 * d], "attn.Wv": g[2 * d:], "attn.bq": gb[:d], "attn.bk": gb[d:2 * d],
                 "attn.bv": gb[2 * d:], "attn.Wo": layer.self_attn.out_proj.weight.grad,
                 "attn.bo": layer.self_attn.out_proj.bias.grad, "ffn.w1": layer.linear1.weight.grad,
                 "ffn.b1": layer.linear1.bias.grad, "ffn.w2": layer.linear2.weight.grad, "ffn.b2": layer.linear2.bias.grad,
                 "ln1.weight": layer.norm1.weight.grad, "ln1.bias": layer.norm1.bias.grad,
                 "ln2.weight": layer.norm2.weight.grad, "ln2.bias": layer.norm2.bias.grad}
        for k in ("embed.weight", "pos.weight", "decoder.weight", "decoder.bias"):
            grads[k] = P[k].grad
    else:  # the paper's synthetic block
        hs = d // H
        e = P["embed.weight"][x]
        q, k, v = e @ P["attn.Wq"].t(), e @ P["attn.Wk"].t(), e @ P["attn.Wv"].t()
        sh = lambda t: t.reshape(B, T, H, hs).permute(0, 2, 1, 3)
        att = F.softmax(sh(q) @ sh(k).transpose(-1, -2) / math.sqrt(hs), dim=-1)
        o = (att @ sh(v)).permute(0, 2, 1, 3).reshape(B, T, d) + e
        logits = o[:, -1, :] @ P["embed.weight"].t()
        loss = F.cross_entropy(logits, torch.tensor(w["label"], dtype=torch.long))
        loss.backward()
        grads = {k: P[k].grad for k in P}
    out["loss"] = np.array([loss.item()], dtype=np.float32)
    out["logits"] = logits.detach().numpy()
    out["att"] = att.detach().numpy()
    for k, g in grads.items():
        out["grad." + k] = g.detach().numpy()
    write_st(sys.argv[2], out)


if __name__ == "__main__":
    main()
