#!/usr/bin/env bash
# The C++ training step against PyTorch's, on this machine, in one go: runs bench_train_throughput
# and bench/torch_reference.py on the same config (mini by default, or --config FILE) in
# alternating rounds (the speed of a shared machine drifts; medians of interleaved runs see the
# same drift on both sides), prints every run, the ratio of the medians, and the C++ step's
# GFLOP/s against bench_ops' GEMM roof. ROUNDS=5 bench/compare.sh for more rounds (default 3).
set -euo pipefail
read -ra run <<<"${RUN_PREFIX:-}"   # e.g. RUN_PREFIX="chrt -f 10" on a busy machine (see bench/README.md)
here="$(cd "$(dirname "$0")" && pwd)"
bin="${BIN_DIR:-$here/../build/bin}"
rounds="${ROUNDS:-3}"
args=("$@")
[[ -x "$bin/bench_train_throughput" ]] || { echo "compare.sh: build first (cmake --build --preset release); no $bin/bench_train_throughput" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "compare.sh: needs Debian's python3-torch (./scripts/install-deps.sh --with-tools)" >&2; exit 1; }

runs=()
for ((r = 1; r <= rounds; r++)); do
  runs+=("$("${run[@]}" "$bin/bench_train_throughput" "${args[@]}")")
  # PyTorch at both of its good settings on 2 cores: OpenBLAS threads for the GEMMs with one
  # intra-op thread, or one OpenBLAS thread and two intra-op threads (DESIGN.md's advice).
  runs+=("$(OPENBLAS_NUM_THREADS=2 "${run[@]}" /usr/bin/python3 "$here/torch_reference.py" --threads 1 "${args[@]}" | sed 's/"impl": "pytorch"/"impl": "pytorch-ob2-t1"/')")
  runs+=("$(OPENBLAS_NUM_THREADS=1 "${run[@]}" /usr/bin/python3 "$here/torch_reference.py" --threads 2 "${args[@]}" | sed 's/"impl": "pytorch"/"impl": "pytorch-ob1-t2"/')")
done
roof=$("${run[@]}" "$bin/bench_ops" --budget 0.3 --out "${TMPDIR:-/tmp}/bench_ops_roof" | awk '/square 1024/ {print $(NF-2); exit}')
printf '%s\n' "${runs[@]}" | /usr/bin/python3 "$here/compare_report.py" "$roof"
