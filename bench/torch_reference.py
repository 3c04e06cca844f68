"""PyTorch training the same mini-DeepSeek step as bench/train_throughput: forward with MTP,
loss = CE + 0.3 * MTP CE, backward, global-norm clipping at 1.0, AdamW (lr 1e-3, betas 0.9/0.95,
weight decay 0.1) and the auxiliary-loss-free bias update, on batch 8 x 128 random tokens.
With --precision bf16 the forward and the losses run under CPU autocast to bfloat16 (PyTorch's mixed
precision: BF16 matmul inputs, float32 weights and optimizer state), as the C++ step's --precision bf16.
Prints one JSON line. The model is tools/deepseek_reference.py's (checked against the C++ model
by ch06's fixture test). Run it with OPENBLAS_NUM_THREADS=1 (bench/compare.sh does): PyTorch's
own intra-op threads do the work; OpenBLAS threads on top of them only contend on 2 cores.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from deepseek_reference import DeepSeekTorch  # noqa: E402

MINI = {"vocab_size": 1024, "hidden_size": 256, "num_hidden_layers": 6, "num_attention_heads": 8, "q_lora_rank": 128,
        "kv_lora_rank": 64, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16, "v_head_dim": 32, "intermediate_size": 768,
        "moe_intermediate_size": 128, "n_routed_experts": 16, "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 1,
        "topk_group": 1, "scoring_func": "sigmoid", "topk_method": "noaux_tc", "routed_scaling_factor": 1.0,
        "norm_topk_prob": True, "first_k_dense_replace": 1, "num_nextn_predict_layers": 1, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 256}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", help="a config.json instead of the mini preset")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["float32", "bf16", "auto"], default="float32",
                    help="bf16: autocast to bfloat16; auto: bf16 where the CPU has AVX512_BF16 or AMX-BF16")
    a = ap.parse_args()
    if a.precision == "auto":
        flags = open("/proc/cpuinfo").read()
        a.precision = "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    cfg = json.load(open(a.config)) if a.config else MINI
    model = DeepSeekTorch(cfg)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(cfg["vocab_size"], (a.batch, a.seq))
    targets = torch.randint(cfg["vocab_size"], (a.batch, a.seq))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits, mtp = model.forward_all(ids)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            for k, lg in enumerate(mtp, start=1):
                loss = loss + 0.3 / len(mtp) * F.cross_entropy(lg.reshape(-1, lg.shape[-1]), targets[:, k:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():   # auxiliary-loss-free balancing: b += gamma * sign(mean load - load)
            for moe in model.moe_layers():
                load = torch.bincount(moe.last[0].reshape(-1), minlength=moe.gate.weight.shape[0]).float()
                moe.gate.e_score_correction_bias += 1e-3 * torch.sign(load.mean() - load)

    for _ in range(a.warmup):
        step()
    t, cpu = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    step_s, cpu_step_s = (time.perf_counter() - t) / a.steps, (time.process_time() - cpu) / a.steps
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "tokens_per_s": a.batch * a.seq / step_s, "step_s": step_s, "cpu_step_s": cpu_step_s,
                      "threads": torch.get_num_threads(), "precision": a.precision}))


if __name__ == "__main__":
    main()
