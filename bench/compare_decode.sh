#!/usr/bin/env bash
# Cached greedy decoding, C++ against PyTorch, on one checkpoint: bench_decode (as ch06_generate
# decodes: absorbed MLA over the latent cache) at batch 1 and 8, and bench/torch_decode.py on the
# same folder and prompts at PyTorch's thread settings, in alternating rounds; prints every run
# and the ratio of the medians per batch size. Arguments go to bench_decode (e.g. --checkpoint
# runs/ch06_pretrain/checkpoint --tokens 200); without --checkpoint a random mini-preset one is
# written and used. ROUNDS=5 for more rounds (default 3).
set -euo pipefail
read -ra run <<<"${RUN_PREFIX:-}"   # e.g. RUN_PREFIX="chrt -f 10" on a busy machine (see bench/README.md)
here="$(cd "$(dirname "$0")" && pwd)"
bin="${BIN_DIR:-$here/../build/bin}"
rounds="${ROUNDS:-3}"
out="${TMPDIR:-/tmp}/bench_decode_$$"
[[ -x "$bin/bench_decode" ]] || { echo "compare_decode.sh: build first (cmake --build --preset release); no $bin/bench_decode" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "compare_decode.sh: needs Debian's python3-torch (./scripts/install-deps.sh --with-tools)" >&2; exit 1; }
trap 'rm -rf "$out"' EXIT

runs=()
for ((r = 1; r <= rounds; r++)); do
  cpp="$("${run[@]}" "$bin/bench_decode" --out "$out" "$@")"
  runs+=("$cpp")
  runs+=("$("${run[@]}" "$bin/bench_decode" --out "$out" --threads 1 "$@" | sed 's/"impl":"cpp"/"impl":"cpp-t1"/')")
  for setting in "1 1" "2 1" "1 2"; do
    read -r ob t <<<"$setting"
    runs+=("$(printf '%s\n' "$cpp" | OPENBLAS_NUM_THREADS=$ob "${run[@]}" /usr/bin/python3 "$here/torch_decode.py" --threads "$t" |
              sed "s/\"impl\": \"pytorch\"/\"impl\": \"pytorch-ob$ob-t$t\"/")")
  done
done
printf '%s\n' "${runs[@]}" | /usr/bin/python3 "$here/compare_decode_report.py"
