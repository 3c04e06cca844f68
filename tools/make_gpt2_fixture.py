#!/usr/bin/python3
"""Writes ch02/tests/fixtures/gpt2_tiny/: a GPT-2-shaped checkpoint with random weights in the
Hugging Face layout (config.json, model.safetensors, vocab.json, merges.txt) and expected.json
with the logits PyTorch computes for it, so ch02's GPT-2 loader is tested without downloading
GPT-2. The forward below is GPT-2's as Hugging Face implements it: Conv1D weights stored
[in, out], fused c_attn, learned positions, LayerNorm(eps 1e-5), tanh GELU ("gelu_new"),
head tied to the token embedding. Run from the repository root:
    /usr/bin/python3 tools/make_gpt2_fixture.py
"""
import json
import math
import os
import struct

import torch

OUT = "ch02/tests/fixtures/gpt2_tiny"
N_EMBD, N_HEAD, N_LAYER, N_POS = 32, 4, 2, 64
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("Ġ", "s"), ("e", "r"), ("o", "n")]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def vocab():
    byte_tokens = [bytes_to_unicode()[b] for b in range(256)]
    v = {t: i for i, t in enumerate(byte_tokens)}
    for a, b in MERGES:
        v[a + b] = len(v)
    v["<|endoftext|>"] = len(v)
    return v


def make_weights(vocab_size):
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g) * 0.2
    w = {"wte.weight": r(vocab_size, N_EMBD), "wpe.weight": r(N_POS, N_EMBD)}
    for i in range(N_LAYER):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1 + r(N_EMBD)
        w[p + "ln_1.bias"] = r(N_EMBD)
        w[p + "attn.bias"] = torch.tril(torch.ones(N_POS, N_POS)).view(1, 1, N_POS, N_POS)   # the old causal-mask buffer
        w[p + "attn.c_attn.weight"] = r(N_EMBD, 3 * N_EMBD)   # Conv1D: [in, out]
        w[p + "attn.c_attn.bias"] = r(3 * N_EMBD)
        w[p + "attn.c_proj.weight"] = r(N_EMBD, N_EMBD)
        w[p + "attn.c_proj.bias"] = r(N_EMBD)
        w[p + "ln_2.weight"] = 1 + r(N_EMBD)
        w[p + "ln_2.bias"] = r(N_EMBD)
        w[p + "mlp.c_fc.weight"] = r(N_EMBD, 4 * N_EMBD)
        w[p + "mlp.c_fc.bias"] = r(4 * N_EMBD)
        w[p + "mlp.c_proj.weight"] = r(4 * N_EMBD, N_EMBD)
        w[p + "mlp.c_proj.bias"] = r(N_EMBD)
    w["ln_f.weight"] = 1 + r(N_EMBD)
    w["ln_f.bias"] = r(N_EMBD)
    return w


def forward(w, ids):
    t = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][:t]
    hd = N_EMBD // N_HEAD
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    for i in range(N_LAYER):
        p = f"h.{i}."
        h = torch.nn.functional.layer_norm(x, (N_EMBD,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (z.view(t, N_HEAD, hd).transpose(0, 1) for z in qkv.split(N_EMBD, dim=-1))
        att = (q @ k.transpose(-1, -2) / math.sqrt(hd)).masked_fill(mask, float("-inf")).softmax(-1)
        a = (att @ v).transpose(0, 1).reshape(t, N_EMBD)
        x = x + a @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = torch.nn.functional.layer_norm(x, (N_EMBD,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        m = torch.nn.functional.gelu(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
        x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = torch.nn.functional.layer_norm(x, (N_EMBD,), w["ln_f.weight"], w["ln_f.bias"], 1e-5)
    return x @ w["wte.weight"].T


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    os.makedirs(OUT, exist_ok=True)
    v = vocab()
    w = make_weights(len(v))
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": N_EMBD, "n_head": N_HEAD,
              "n_layer": N_LAYER, "n_positions": N_POS, "n_ctx": N_POS, "n_inner": None, "vocab_size": len(v),
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "bos_token_id": len(v) - 1,
              "eos_token_id": len(v) - 1}
    with open(f"{OUT}/config.json", "w") as f:
        json.dump(config, f, indent=2)
    save_safetensors(f"{OUT}/model.safetensors", w)
    with open(f"{OUT}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(v, f, ensure_ascii=False)
    with open(f"{OUT}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    ids = [104, 101, 108, 108, 111, 256, 257, 3, 200, 261, 42, 7]
    with torch.no_grad():
        logits = forward(w, ids)
        seq = [40, 41, 42]
        for _ in range(10):
            seq.append(int(forward(w, seq)[-1].argmax()))
    expected = {"torch_version": torch.__version__, "ids": ids, "logits": [round(float(x), 6) for x in logits.reshape(-1)],
                "vocab_size": len(v), "prompt": [40, 41, 42], "greedy": seq[3:]}
    with open(f"{OUT}/expected.json", "w") as f:
        json.dump(expected, f)
    print(f"wrote {OUT}: vocab {len(v)}, greedy continuation {seq[3:]}")


if __name__ == "__main__":
    main()
