"""Reads the JSON lines of bench/compare.sh's runs on stdin and prints every run, the ratio of
the medians (C++ against PyTorch's faster setting) and the C++ step's GFLOP/s against the roof."""
import json
import statistics
import sys

roof = float(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else float("nan")
runs = [json.loads(line) for line in sys.stdin if line.strip()]
by_impl = {}
for r in runs:
    by_impl.setdefault(r["impl"], []).append(r)
for impl, rs in by_impl.items():
    print(f"{impl:16s} tokens/s: " + ", ".join("%.0f" % r["tokens_per_s"] for r in rs))
median = {impl: statistics.median(r["tokens_per_s"] for r in rs) for impl, rs in by_impl.items()}
torch_tps, torch_impl = max((v, k) for k, v in median.items() if k.startswith("pytorch"))
cpp = median["cpp"]
print(f"median: C++ {cpp:.0f} tokens/s vs PyTorch {torch_tps:.0f} tokens/s ({torch_impl}) = {cpp / torch_tps:.2f}x")
first = by_impl["cpp"][0]
print(f"C++ step: about {first['flops_per_token'] * cpp / 1e9:.0f} GFLOP/s ({first['flops_per_token'] / 1e6:.1f} MFLOP per token: "
      f"6 x {first['active_params'] / 1e6:.2f}M active weights + attention) against the GEMM roof of {roof:.0f} GFLOP/s "
      f"(bench_ops: square 1024 on all threads, {first['gemm']} back end)")
