#!/usr/bin/python3
"""Writes common/tests/fixtures/core_reference.json: inputs, outputs and gradients of the
core's ops computed by PyTorch (Debian's python3-torch), so the C++ tests prove the core
matches PyTorch rather than only itself. Run from the repository root:
    /usr/bin/python3 tools/make_core_fixture.py
"""
import json
import math

import torch

torch.manual_seed(0)
cases = {}


def flat(t):
    return [round(float(v), 7) for v in t.detach().reshape(-1).tolist()]


def record(name, inputs, fn, extra=None):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    r = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * r).sum().backward()
    cases[name] = {
        "inputs": [{"shape": list(x.shape), "data": flat(x)} for x in xs],
        "projection": flat(r),
        "output": {"shape": list(out.shape), "data": flat(out)},
        "grads": [flat(x.grad) for x in xs],
        **(extra or {}),
    }


# causal attention with grouped K/V heads (GQA): q [B,H,T,D], k/v [B,Hkv,T,D]
def gqa(q, k, v):
    rep = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.triu(torch.ones(s.shape[-2:], dtype=torch.bool), 1)
    return torch.softmax(s.masked_fill(mask, float("-inf")), -1) @ v


record("attention_gqa", [torch.randn(2, 4, 5, 8), torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 6)], gqa)


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


record("rms_norm", [torch.randn(3, 16) * 2, torch.randn(16)], rms_norm)
record("layer_norm", [torch.randn(3, 16), torch.randn(16), torch.randn(16)],
       lambda x, w, b: torch.nn.functional.layer_norm(x, (16,), w, b, 1e-5))
record("gelu_tanh", [torch.randn(20)], lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
record("silu", [torch.randn(20)], torch.nn.functional.silu)

targets = [3, 0, 6, 1]
record("cross_entropy", [torch.randn(4, 7)],
       lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(targets)).reshape(1), {"targets": targets})


# RoPE as DeepSeek-V3's inference/model.py applies it: adjacent pairs viewed as complex numbers
def rope(x):  # x [B, T, H, D]
    d = x.shape[-1]
    freqs = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    pos = torch.arange(2, 2 + x.shape[1], dtype=torch.float32)   # positions start at 2
    cis = torch.polar(torch.ones(len(pos), d // 2), torch.outer(pos, freqs))
    xc = torch.view_as_complex(x.float().view(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * cis.view(1, x.shape[1], 1, d // 2)).flatten(3)


record("rope", [torch.randn(2, 3, 2, 8)], rope, {"theta": 10000.0, "pos_offset": 2})

# AdamW: three steps on one [4, 3] weight with fixed gradients
w = torch.randn(4, 3, requires_grad=True)
w0 = flat(w)
opt = torch.optim.AdamW([w], lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
grads = [torch.randn(4, 3) for _ in range(3)]
for g in grads:
    w.grad = g.clone()
    opt.step()
cases["adamw"] = {"w0": w0, "grads": [flat(g) for g in grads], "w3": flat(w),
                  "lr": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1}

with open("common/tests/fixtures/core_reference.json", "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f)
print("wrote common/tests/fixtures/core_reference.json with", len(cases), "cases")
