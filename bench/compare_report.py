"""Reads the JSON lines of bench/compare.sh's runs on stdin and prints every run, the ratio of
the medians (C++ against PyTorch's faster setting) and the C++ step's share of the GEMM roof that
each C++ run measured right after its steps (medians over the runs)."""
import json
import statistics
import sys

runs = [json.loads(line) for line in sys.stdin if line.strip()]
by_impl = {}
for r in runs:
    by_impl.setdefault(r["impl"], []).append(r)
for impl, rs in by_impl.items():
    print(f"{impl:16s} tokens/s: " + ", ".join("%.0f" % r["tokens_per_s"] for r in rs) + f"  ({rs[0].get('precision', 'float32')})")
median = {impl: statistics.median(r["tokens_per_s"] for r in rs) for impl, rs in by_impl.items()}
torch_tps, torch_impl = max((v, k) for k, v in median.items() if k.startswith("pytorch"))
cpp = median["cpp"]
print(f"median: C++ {cpp:.0f} tokens/s vs PyTorch {torch_tps:.0f} tokens/s ({torch_impl}) = {cpp / torch_tps:.2f}x")
first = by_impl["cpp"][0]
roof = statistics.median(r["roof_gflops"] for r in by_impl["cpp"])
gflops = first["flops_per_token"] * cpp / 1e9
print(f"C++ step: {gflops:.0f} GFLOP/s ({first['flops_formula']}) = {100 * gflops / roof:.0f}% of the GEMM roof of {roof:.0f} GFLOP/s "
      f"(square 1024 through ds::gemm on all threads at {first['precision']}, {first['gemm']}; measured in each C++ run, median)")
