#!/usr/bin/env bash
# The C++ training step against PyTorch's, on this machine, in one go: runs bench_train_throughput
# and bench/torch_reference.py on the same config (mini by default, or --config FILE), prints
# both, their ratio, and the C++ step's GFLOP/s against bench_ops' GEMM roof.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${BIN_DIR:-$here/../build/bin}"
args=("$@")
[[ -x "$bin/bench_train_throughput" ]] || { echo "compare.sh: build first (cmake --build --preset release); no $bin/bench_train_throughput" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "compare.sh: needs Debian's python3-torch (./scripts/install-deps.sh --with-tools)" >&2; exit 1; }

cpp=$("$bin/bench_train_throughput" "${args[@]}")
# PyTorch at its best setting on this machine: OpenBLAS threads for the GEMMs with one intra-op
# thread, or the other way round (DESIGN.md's advice); both are printed, the faster one compared.
torch_a=$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/torch_reference.py" --threads 2 "${args[@]}")
torch_b=$(OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$here/torch_reference.py" --threads 1 "${args[@]}")
echo "PyTorch, OPENBLAS_NUM_THREADS=1, 2 intra-op threads: $torch_a"
echo "PyTorch, OPENBLAS_NUM_THREADS=2, 1 intra-op thread:  $torch_b"
torch=$(/usr/bin/python3 -c 'import json,sys; a,b=(json.loads(x) for x in sys.argv[1:]); print(json.dumps(max(a,b,key=lambda d:d["tokens_per_s"])))' "$torch_a" "$torch_b")
roof=$("$bin/bench_ops" --budget 0.3 --out "${TMPDIR:-/tmp}/bench_ops_roof" | awk '/square 1024/ {print $(NF-2); exit}')
echo "C++:     $cpp"
echo "PyTorch (best): $torch"
/usr/bin/python3 - "$cpp" "$torch" "$roof" <<'PY'
import json, sys
c, t, roof = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3] or "nan")
# Training FLOPs per token ~ 6 x (active parameters in matmuls) + attention; the step's own count:
# 6 * params_active is the usual estimate (Kaplan et al.), attention adds 12 * layers * T * d_attn.
print(f"ratio: C++ {c['tokens_per_s']:.0f} tokens/s vs PyTorch {t['tokens_per_s']:.0f} tokens/s = {c['tokens_per_s'] / t['tokens_per_s']:.2f}x")
if 'active_params' in c:
    gflops = 6 * c['active_params'] * c['tokens_per_s'] / 1e9
    print(f"C++ step: about {gflops:.0f} GFLOP/s (6 x {c['active_params'] / 1e6:.2f}M active parameters per token) against the GEMM roof of {roof:.0f} GFLOP/s (bench_ops, square 1024, all threads)")
PY
