"""The mini-DeepSeek architecture in PyTorch, written independently of the C++ code from the same
description (DeepSeek-V3: MLA with a shared RoPE key and adjacent-pair rotation, DeepSeekMoE with
sigmoid scores, selection-only bias and group-limited routing, MTP), for two jobs:

  * the cross-check fixture: `/usr/bin/python3 tools/deepseek_reference.py fixture` writes a tiny
    random checkpoint and the logits PyTorch computes for it into ch06/tests/fixtures/deepseek_tiny/;
    the C++ test loads the checkpoint and must reproduce the logits within 1e-4;
  * `logits FOLDER IDS`: the logits of any checkpoint folder written by ch06_pretrain;
  * `decode FOLDER IDS N`: N new ids by cached greedy decoding (the absorbed-MLA latent cache).

bench/torch_reference.py imports the model to time PyTorch training the same step, and
bench/torch_decode.py to time its cached greedy decoding.
Runs with Debian's python3-torch (1.13); no safetensors package needed.
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- safetensors (F32 only; enough for this repository's checkpoints) ----
def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}, only F32 is read here")
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy().reshape(info["shape"]))
    return out


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---- the model ----
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, dim, inter):
        super().__init__()
        self.gate_proj = nn.Linear(dim, inter, bias=False)
        self.up_proj = nn.Linear(dim, inter, bias=False)
        self.down_proj = nn.Linear(inter, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rope_adjacent(x, cos, sin):
    """Rotates pairs (x[2i], x[2i+1]) by position * theta_i; x [B, T, ..., D], cos/sin [T, D/2]."""
    shape = [cos.shape[0]] + [1] * (x.dim() - 3) + [cos.shape[1]]
    c, s = cos.view(shape), sin.view(shape)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).flatten(-2)


class MLA(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.h = c["hidden_size"], c["num_attention_heads"]
        self.nope, self.rope, self.dv, self.rank = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
        q_lora = c.get("q_lora_rank") or 0
        qd = self.h * (self.nope + self.rope)
        if q_lora:
            self.q_a_proj = nn.Linear(h, q_lora, bias=False)
            self.q_a_layernorm = RMSNorm(q_lora, c["rms_norm_eps"])
            self.q_b_proj = nn.Linear(q_lora, qd, bias=False)
        else:
            self.q_proj = nn.Linear(h, qd, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(h, self.rank + self.rope, bias=False)
        self.kv_a_layernorm = RMSNorm(self.rank, c["rms_norm_eps"])
        self.kv_b_proj = nn.Linear(self.rank, self.h * (self.nope + self.dv), bias=False)
        self.o_proj = nn.Linear(self.h * self.dv, h, bias=False)
        self.scale = 1.0 / math.sqrt(self.nope + self.rope)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))) if hasattr(self, "q_a_proj") else self.q_proj(x)
        q = q.view(b, t, self.h, self.nope + self.rope)
        q = torch.cat([q[..., : self.nope], rope_adjacent(q[..., self.nope :], cos, sin)], -1)
        kv = self.kv_a_proj_with_mqa(x)
        c_kv, k_pe = self.kv_a_layernorm(kv[..., : self.rank]), rope_adjacent(kv[..., self.rank :], cos, sin)
        kvb = self.kv_b_proj(c_kv).view(b, t, self.h, self.nope + self.dv)
        k = torch.cat([kvb[..., : self.nope], k_pe.unsqueeze(2).expand(b, t, self.h, self.rope)], -1)
        v = kvb[..., self.nope :]
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) * self.scale
        att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        return self.o_proj((att @ v).transpose(1, 2).reshape(b, t, self.h * self.dv))

    def decode(self, x, cos, sin, cache):
        """x [B, T, h] continues the cached sequence. Absorbed attention over the latent cache
        (DeepSeek-V2 sec. 2.1.2; DeepSeek-V3 model.py's "absorb" path): W_UK is folded into the
        query and W_UV applied after the weighted sum, so the cache holds only c_KV and k_pe."""
        b, t, _ = x.shape
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))) if hasattr(self, "q_a_proj") else self.q_proj(x)
        q = q.view(b, t, self.h, self.nope + self.rope)
        q_nope, q_pe = q[..., : self.nope], rope_adjacent(q[..., self.nope :], cos, sin)
        kv = self.kv_a_proj_with_mqa(x)
        c_kv, k_pe = cache.append(self.kv_a_layernorm(kv[..., : self.rank]), rope_adjacent(kv[..., self.rank :], cos, sin))
        w = self.kv_b_proj.weight.view(self.h, self.nope + self.dv, self.rank)
        q_abs = torch.einsum("bthd,hdc->bhtc", q_nope, w[:, : self.nope])
        att = (q_abs @ c_kv.unsqueeze(1).transpose(-1, -2) + q_pe.transpose(1, 2) @ k_pe.unsqueeze(1).transpose(-1, -2)) * self.scale
        if t > 1:   # the new queries sit at the end of the cache: query i sees keys up to s - t + i
            s = c_kv.shape[1]
            att = att.masked_fill(torch.ones(t, s, dtype=torch.bool).triu(s - t + 1), float("-inf"))
        o = att.softmax(-1) @ c_kv.unsqueeze(1)                                       # [B, H, T, rank]
        o = torch.einsum("bhtc,hdc->bthd", o, w[:, self.nope :])
        return self.o_proj(o.reshape(b, t, self.h * self.dv))


class LatentCache:
    """One layer's decoding cache: the normalised latent c_KV [B, S, rank] and the roped shared
    key k_pe [B, S, rope], preallocated for max_len positions."""

    def __init__(self, batch, max_len, rank, rope):
        self.c_kv, self.k_pe, self.len = torch.zeros(batch, max_len, rank), torch.zeros(batch, max_len, rope), 0

    def append(self, c_kv, k_pe):
        t = c_kv.shape[1]
        self.c_kv[:, self.len : self.len + t] = c_kv
        self.k_pe[:, self.len : self.len + t] = k_pe
        self.len += t
        return self.c_kv[:, : self.len], self.k_pe[:, : self.len]


class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, e = c["hidden_size"], c["n_routed_experts"]
        self.k, self.groups, self.topk_groups = c["num_experts_per_tok"], c["n_group"], c["topk_group"]
        self.scoring, self.norm, self.scaling = c["scoring_func"], c["norm_topk_prob"], c["routed_scaling_factor"]
        self.gate = nn.Module()
        self.gate.weight = nn.Parameter(torch.empty(e, h))
        self.gate.register_buffer("e_score_correction_bias", torch.zeros(e))
        self.experts = nn.ModuleList(SwiGLU(h, c["moe_intermediate_size"]) for _ in range(e))
        self.shared_experts = SwiGLU(h, c["n_shared_experts"] * c["moe_intermediate_size"]) if c["n_shared_experts"] else None

    def route(self, x):
        logits = x @ self.gate.weight.t()
        scores = logits.sigmoid() if self.scoring == "sigmoid" else logits.softmax(-1)
        biased = scores.detach() + self.gate.e_score_correction_bias
        if self.groups > 1:   # a group's score: the sum of its two best biased scores
            g = biased.view(x.shape[0], self.groups, -1)
            gs = g.topk(min(2, g.shape[-1]), dim=-1).values.sum(-1)
            keep = torch.zeros_like(gs, dtype=torch.bool).scatter(1, gs.topk(self.topk_groups, dim=-1).indices, True)
            biased = g.masked_fill(~keep.unsqueeze(-1), float("-inf")).view(x.shape[0], -1)
        idx = biased.topk(self.k, dim=-1).indices                  # selection uses the bias ...
        w = scores.gather(1, idx)                                   # ... the weights do not
        if self.norm:
            w = w / w.sum(-1, keepdim=True)
        return idx, w * self.scaling, scores

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        idx, w, scores = self.route(x)
        self.last = (idx, scores)
        out = torch.zeros_like(x)
        flat = idx.reshape(-1)
        for j, expert in enumerate(self.experts):   # each expert on its own tokens only
            slots = (flat == j).nonzero(as_tuple=True)[0]
            if slots.numel() == 0:
                continue
            tokens = slots // self.k
            # .to(out.dtype): under CPU autocast to BF16 the expert's output is BF16, the sum float32
            out = out.index_add(0, tokens, (expert(x[tokens]) * w.reshape(-1)[slots].unsqueeze(-1)).to(out.dtype))
        if self.shared_experts is not None:
            out = out + self.shared_experts(x)
        return out.view(shape)


class Block(nn.Module):
    def __init__(self, c, layer):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = MLA(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = SwiGLU(c["hidden_size"], c["intermediate_size"]) if layer < c["first_k_dense_replace"] else MoE(c)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class MTPLayer(Block):
    def __init__(self, c, layer):
        super().__init__(c, layer)
        h, eps = c["hidden_size"], c["rms_norm_eps"]
        self.enorm, self.hnorm = RMSNorm(h, eps), RMSNorm(h, eps)
        self.eh_proj = nn.Linear(2 * h, h, bias=False)
        self.shared_head = nn.Module()
        self.shared_head.norm = RMSNorm(h, eps)

    def forward(self, h_prev, emb, cos, sin):
        return super().forward(self.eh_proj(torch.cat([self.enorm(emb), self.hnorm(h_prev)], -1)), cos, sin)


class DeepSeekTorch(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        layers = [Block(c, i) for i in range(c["num_hidden_layers"])]
        layers += [MTPLayer(c, c["num_hidden_layers"] + k) for k in range(c.get("num_nextn_predict_layers", 0))]
        self.model.layers = nn.ModuleList(layers)
        self.model.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        d = c["qk_rope_head_dim"]
        freqs = c["rope_theta"] ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angles = torch.arange(c["max_position_embeddings"], dtype=torch.float64)[:, None] * freqs[None]
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward_all(self, ids):
        """Main logits [B, T, V] and each MTP depth's logits [B, T-k, V]."""
        t, n = ids.shape[1], self.c["num_hidden_layers"]
        cos, sin = self.cos[:t], self.sin[:t]
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers[:n]:
            x = layer(x, cos, sin)
        h = self.model.norm(x)
        logits, outs = self.lm_head(h), []
        for k, layer in enumerate(self.model.layers[n:], start=1):
            h = layer(h[:, : t - k], self.model.embed_tokens(ids[:, k:]), self.cos[: t - k], self.sin[: t - k])
            outs.append(self.lm_head(layer.shared_head.norm(h)))
        return logits, outs

    def decode(self, ids, caches):
        """Logits [B, T, V] of ids [B, T] continuing the sequences held by caches (one per layer)."""
        pos, t = caches[0].len, ids.shape[1]
        cos, sin = self.cos[pos : pos + t], self.sin[pos : pos + t]
        x = self.model.embed_tokens(ids)
        for layer, cache in zip(self.model.layers[: self.c["num_hidden_layers"]], caches):
            x = x + layer.self_attn.decode(layer.input_layernorm(x), cos, sin, cache)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self.lm_head(self.model.norm(x))

    def make_caches(self, batch, max_len):
        c = self.c
        return [LatentCache(batch, max_len, c["kv_lora_rank"], c["qk_rope_head_dim"]) for _ in range(c["num_hidden_layers"])]

    @torch.no_grad()
    def greedy(self, prompts, new_tokens):
        """Cached greedy decoding: prompts [B, P] -> new ids [B, new_tokens] and the prefill's seconds."""
        caches = self.make_caches(prompts.shape[0], prompts.shape[1] + new_tokens)
        start = time.perf_counter()
        tok = self.decode(prompts, caches)[:, -1].argmax(-1, keepdim=True)
        prefill_s, out = time.perf_counter() - start, [tok]
        for _ in range(new_tokens - 1):
            tok = self.decode(tok, caches)[:, -1].argmax(-1, keepdim=True)
            out.append(tok)
        return torch.cat(out, 1), prefill_s

    def moe_layers(self):
        return [l.mlp for l in self.model.layers if isinstance(l.mlp, MoE)]


def shared_copies(c):
    """(copy, original) names: DeepSeek-V3's release stores each MTP module's shared embedding and
    head again under the module's layer (model.layers.61.embed_tokens.weight, ...shared_head.head.weight)."""
    out = []
    for k in range(c.get("num_nextn_predict_layers", 0)):
        layer = f"model.layers.{c['num_hidden_layers'] + k}"
        out += [(f"{layer}.embed_tokens.weight", "model.embed_tokens.weight"), (f"{layer}.shared_head.head.weight", "lm_head.weight")]
    return out


def state_dict_hf(model):
    state = {k: v for k, v in model.state_dict().items() if k not in ("cos", "sin")}
    for copy, original in shared_copies(model.c):
        state[copy] = state[original]
    return state


def load_checkpoint(folder):
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    m = DeepSeekTorch(c)
    tensors = load_safetensors(os.path.join(folder, "model.safetensors"))
    for copy, original in shared_copies(c):   # optional; when present, the shared tensor itself
        if copy in tensors and not torch.equal(tensors.pop(copy), tensors[original]):
            raise ValueError(f"{folder}: {copy} differs from {original}")
    m.load_state_dict(tensors, strict=False)
    missing = set(k for k in state_dict_hf(m) if k not in dict(shared_copies(c))) - set(tensors)
    if missing:
        raise ValueError(f"{folder}: missing {sorted(missing)[0]}")
    return m


TINY = {"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "q_lora_rank": 32,
        "kv_lora_rank": 16, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "intermediate_size": 128,
        "moe_intermediate_size": 32, "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 2,
        "topk_group": 1, "scoring_func": "sigmoid", "topk_method": "noaux_tc", "routed_scaling_factor": 2.5,
        "norm_topk_prob": True, "first_k_dense_replace": 1, "num_nextn_predict_layers": 1, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 128, "initializer_range": 0.02}


def make_fixture(out_dir):
    torch.manual_seed(1234)
    m = DeepSeekTorch(TINY)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
        for moe in m.moe_layers():   # a selection bias large enough to change some choices
            moe.gate.e_score_correction_bias.copy_(torch.empty(TINY["n_routed_experts"]).uniform_(-0.05, 0.05))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(TINY, f, indent=2)
    save_safetensors(os.path.join(out_dir, "model.safetensors"), state_dict_hf(m))
    ids = torch.tensor([[7, 200, 31, 5, 99, 250, 14, 14, 63, 128, 1, 77]])
    with torch.no_grad():
        logits, mtp = m.forward_all(ids)
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"ids": ids[0].tolist(), "logits": [float(f"{v:.8g}") for v in logits.flatten().tolist()],
                   "mtp_logits": [float(f"{v:.8g}") for v in mtp[0].flatten().tolist()]}, f)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "fixture":
        make_fixture(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "ch06", "tests", "fixtures", "deepseek_tiny"))
    elif len(sys.argv) == 4 and sys.argv[1] == "logits":
        model = load_checkpoint(sys.argv[2])
        with torch.no_grad():
            lg, _ = model.forward_all(torch.tensor([[int(v) for v in sys.argv[3].split(",")]]))
        print(json.dumps(lg[0].tolist()))
    elif len(sys.argv) == 5 and sys.argv[1] == "decode":
        model = load_checkpoint(sys.argv[2])
        ids, _ = model.greedy(torch.tensor([[int(v) for v in sys.argv[3].split(",")]]), int(sys.argv[4]))
        print(",".join(str(v) for v in ids[0].tolist()))
    else:
        print(__doc__)
        sys.exit(2)
