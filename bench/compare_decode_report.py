"""Reads bench/compare_decode.sh's JSON lines on stdin and prints, per batch size, every run's
tokens/s, the ratio of the medians (C++ at its default threads against PyTorch's fastest setting)
and whether PyTorch generated the same ids as the C++ side."""
import json
import statistics
import sys

runs = [json.loads(line) for line in sys.stdin if line.strip()]
for batch in sorted({r["batch"] for r in runs}):
    rs = [r for r in runs if r["batch"] == batch]
    by_impl = {}
    for r in rs:
        by_impl.setdefault(r["impl"], []).append(r)
    print(f"batch {batch}, {rs[0]['prompt']} prompt tokens + {rs[0]['tokens']} new tokens per sequence:")
    for impl, xs in by_impl.items():
        print(f"  {impl:16s} tokens/s: " + ", ".join("%.0f" % x["tokens_per_s"] for x in xs))
    median = {impl: statistics.median(x["tokens_per_s"] for x in xs) for impl, xs in by_impl.items()}
    torch_tps, torch_impl = max((v, k) for k, v in median.items() if k.startswith("pytorch"))
    cpp = median["cpp"]
    same = sorted({x["first_row_same_as_cpp"] for x in rs if "first_row_same_as_cpp" in x})
    checks = {x["checksum"] for x in rs}
    print(f"  median: C++ {cpp:.0f} tokens/s vs PyTorch {torch_tps:.0f} tokens/s ({torch_impl}) = {cpp / torch_tps:.2f}x; "
          f"first sequence's ids equal to C++'s: {', '.join(same)}; all sequences' checksums {'agree' if len(checks) == 1 else 'differ'}")
