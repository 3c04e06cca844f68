#!/usr/bin/env bash
# How the training step's cost grows, C++ against PyTorch, in one command:
#   sequence length 128, 256, 512, 1024 at 1,024 tokens per step (batch 8, 4, 2, 1), mini preset;
#   hidden size 256, 512, 768 at batch 8 x 128, the other sizes scaled as the mini preset has them
#   (heads = hidden / 32 with the head dims kept, q_lora_rank = hidden / 2, kv_lora_rank =
#   hidden / 4, intermediate_size = 3 x hidden, moe_intermediate_size = hidden / 2).
# Each point runs bench_train_throughput and bench/torch_reference.py (at PyTorch's two good
# thread settings) in alternating rounds; bench_sweep_report takes the medians and writes the
# table, CSV files and SVG plots (ratio against size) into OUT (default runs/bench_sweep).
# ROUNDS (default 3) and STEPS (timed steps per run, default 6) trade time for precision.
set -euo pipefail
read -ra run <<<"${RUN_PREFIX:-}"   # e.g. RUN_PREFIX="chrt -f 10" on a busy machine (see bench/README.md)
here="$(cd "$(dirname "$0")" && pwd)"
bin="${BIN_DIR:-$here/../build/bin}"
rounds="${ROUNDS:-3}"
steps="${STEPS:-6}"
out="${OUT:-runs/bench_sweep}"
for b in bench_train_throughput bench_sweep_report; do
  [[ -x "$bin/$b" ]] || { echo "sweep.sh: build first (cmake --build --preset release); no $bin/$b" >&2; exit 1; }
done
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "sweep.sh: needs Debian's python3-torch (./scripts/install-deps.sh --with-tools)" >&2; exit 1; }
mkdir -p "$out/configs"

# The configs: the mini preset (tools' copy in torch_reference.py) scaled to each hidden size,
# with room for 1,024 positions.
HERE="$here" /usr/bin/python3 - "$out/configs" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["HERE"])
from torch_reference import MINI
for hidden in (256, 512, 768):
    c = dict(MINI, hidden_size=hidden, num_attention_heads=hidden // 32, q_lora_rank=hidden // 2, kv_lora_rank=hidden // 4,
             intermediate_size=3 * hidden, moe_intermediate_size=hidden // 2, max_position_embeddings=1024)
    with open(os.path.join(sys.argv[1], f"hidden{hidden}.json"), "w") as f:
        json.dump(c, f, indent=1)
PY

# One point: label, config, batch, seq. Appends every run as a JSON line tagged with the point.
runs="$out/runs.jsonl"
: >"$runs"
point() {
  local sweep="$1" value="$2" config="$3" batch="$4" seq="$5" tag
  tag="{\"sweep\":\"$sweep\",\"value\":$value,"
  local args=(--config "$config" --batch "$batch" --seq "$seq" --steps "$steps" --warmup 2)
  "${run[@]}" "$bin/bench_train_throughput" "${args[@]}" | sed "s/^{/$tag/" >>"$runs"
  OPENBLAS_NUM_THREADS=2 "${run[@]}" /usr/bin/python3 "$here/torch_reference.py" --threads 1 "${args[@]}" |
    sed "s/^{/$tag/; s/\"impl\": \"pytorch\"/\"impl\": \"pytorch-ob2-t1\"/" >>"$runs"
  OPENBLAS_NUM_THREADS=1 "${run[@]}" /usr/bin/python3 "$here/torch_reference.py" --threads 2 "${args[@]}" |
    sed "s/^{/$tag/; s/\"impl\": \"pytorch\"/\"impl\": \"pytorch-ob1-t2\"/" >>"$runs"
  echo "sweep.sh: $sweep $value done (round $r of $rounds)" >&2
}
for ((r = 1; r <= rounds; r++)); do
  for seq in 128 256 512 1024; do point seq "$seq" "$out/configs/hidden256.json" $((1024 / seq)) "$seq"; done
  for hidden in 512 768; do point hidden "$hidden" "$out/configs/hidden$hidden.json" 8 128; done
done
"$bin/bench_sweep_report" --runs "$runs" --out "$out"
