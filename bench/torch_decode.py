"""PyTorch's cached greedy decoding of the same checkpoint and prompts as bench_decode: reads
bench_decode's JSON lines on stdin (checkpoint folder, prompt ids, new tokens per batch size),
decodes with tools/deepseek_reference.py's absorbed-MLA latent cache, and prints one JSON line
per batch size: tokens/s as bench_decode counts them (all new tokens over the whole generation,
prefill included) and how many of the first sequence's ids equal the C++ ones.
Thread settings come from the caller (bench/compare_decode.sh tries both good ones).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from deepseek_reference import load_checkpoint  # noqa: E402


def fnv1a(rows):
    h = 14695981039346656037
    for row in rows:
        for v in row:
            h = ((h ^ v) * 1099511628211) % (1 << 64)
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1, help="PyTorch intra-op threads")
    ap.add_argument("--repeats", type=int, default=3, help="timed generations per batch size (the fastest counts)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    models = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        cpp = json.loads(line)
        folder = cpp["checkpoint"]
        if folder not in models:
            models[folder] = load_checkpoint(folder).eval()
        model = models[folder]
        prompts = torch.tensor(cpp["prompt_ids"])
        best, prefill, ids = float("inf"), 0.0, None
        for _ in range(a.repeats):
            start = time.perf_counter()
            ids, pre = model.greedy(prompts, cpp["tokens"])
            s = time.perf_counter() - start
            if s < best:
                best, prefill = s, pre
        rows = ids.tolist()
        b, n = prompts.shape[0], cpp["tokens"]
        same = sum(1 for x, y in zip(rows[0], cpp["first_row"]) if x == y)
        print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "batch": b, "prompt": prompts.shape[1], "tokens": n,
                          "seconds": best, "prefill_s": prefill, "tokens_per_s": b * n / best,
                          "decode_tokens_per_s": b * (n - 1) / max(best - prefill, 1e-9), "threads": torch.get_num_threads(),
                          "checksum": str(fnv1a(rows)), "first_row_same_as_cpp": f"{same}/{len(rows[0])}"}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
