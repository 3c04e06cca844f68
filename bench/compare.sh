#!/usr/bin/env bash
# The C++ training step against PyTorch's, on this machine, in one go: runs bench_train_throughput
# and bench/torch_reference.py on the same config (mini by default, or --config FILE) in
# alternating rounds (the speed of a shared machine drifts; medians of interleaved runs see the
# same drift on both sides), prints the CPU (lscpu's model name and the flags that matter), every
# run, the ratio of the medians, and the C++ step's share of the GEMM roof it measures right after
# its steps. ROUNDS=5 bench/compare.sh for more rounds (default 3). Arguments go to both sides,
# e.g. bench/compare.sh --precision bf16 (BF16 GEMMs in C++, autocast to BF16 in PyTorch).
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
  # intra-op thread, or one OpenBLAS thread and two intra-op threads: on 2 cores one of the two is PyTorch's best, and which one varies by machine.
  runs+=("$(OPENBLAS_NUM_THREADS=2 "${run[@]}" /usr/bin/python3 "$here/torch_reference.py" --threads 1 "${args[@]}" | sed 's/"impl": "pytorch"/"impl": "pytorch-ob2-t1"/')")
  runs+=("$(OPENBLAS_NUM_THREADS=1 "${run[@]}" /usr/bin/python3 "$here/torch_reference.py" --threads 2 "${args[@]}" | sed 's/"impl": "pytorch"/"impl": "pytorch-ob1-t2"/')")
done
cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
cpu_flags="$(grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "CPU: $cpu, $(nproc) cores; flags: ${cpu_flags:-none of avx2/avx512f/avx512_bf16/amx}"
printf '%s\n' "${runs[@]}" | /usr/bin/python3 "$here/compare_report.py"
