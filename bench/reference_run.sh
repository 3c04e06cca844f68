#!/usr/bin/env bash
# Runs every chapter program once with its default flags, one after another, in the book's order,
# and records each one's wall time and output: the "default run" figures of the READMEs.
#   bench/reference_run.sh [--only REGEX] [--skip REGEX] [--out DIR]
# Programs that start from another's checkpoint run after it (ch06_generate and ch01_token_journey
# after ch06_pretrain; chapter 7's after ch07_sft). Output: DIR/<program>.log (what it printed),
# DIR/times.md (the table, with the date, CPU and thread count), and each program's own run folder
# under DIR/runs/. Nothing else should run on the machine meanwhile (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

only="" skip="" out="runs/reference"
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --skip) skip="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "reference_run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done

bin="${BIN_DIR:-build/bin}"
[ -x "$bin/ch06_pretrain" ] || { echo "reference_run.sh: no programs in $bin; build first (cmake --preset release && cmake --build --preset release)." >&2; exit 1; }
mkdir -p "$out/runs"
mpi=(mpirun -np 2)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)

ck="$out/runs/ch06_pretrain/checkpoint"
sft="$out/runs/ch07_sft/checkpoint"
# name | command line (after the binary); {OUT} is the program's run folder
programs=(
  "ch01_model_calculator|"
  "ch01_tokenizer_compare|"
  "ch02_attention|"
  "ch02_kv_cache|"
  "ch02_mqa_gqa|"
  "ch03_rope|"
  "ch03_mla|"
  "ch03_attention_compare|"
  "ch04_router|"
  "ch04_balancing|"
  "ch04_moe_vs_dense|"
  "ch05_mtp|"
  "ch05_fp8_formats|"
  "ch05_fp8_quant|"
  "ch05_fp8_train|"
  "ch06_pretrain|"
  "ch06_generate|--checkpoint $ck"
  "ch01_token_journey|--checkpoint $ck"
  "ch06_pipeline_schedules|"
  "mpi:ch06_pipeline_train|"
  "mpi:ch06_data_parallel|"
  "mpi:ch06_expert_parallel|"
  "ch07_sft|"
  "ch07_rejection_sampling|--sft $sft"
  "ch07_grpo|--sft $sft"
  "ch07_ppo|--sft $sft"
  "ch07_dpo|--sft $sft"
  "ch07_memory|"
  "ch07_r1_zero|"
  "ch07_r1_recipe|"
  "ch07_compare|--sft $sft"
  "ch08_logit_kd|"
  "ch08_distill_compare|"
)

cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
threads="$(nproc)"
{
  echo "# Reference run, $(date -u +%Y-%m-%d)"
  echo
  echo "CPU: $cpu ($threads threads; $(grep -o -w -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' '))"
  echo "Command: \`bench/reference_run.sh${only:+ --only $only}${skip:+ --skip $skip}\`, each program with its default flags."
  echo
  echo "| program | wall time | exit |"
  echo "|---|---|---|"
} > "$out/times.md"

for entry in "${programs[@]}"; do
  name="${entry%%|*}"; args="${entry#*|}"
  launcher=()
  if [[ "$name" == mpi:* ]]; then name="${name#mpi:}"; launcher=("${mpi[@]}"); fi
  [ -n "$only" ] && ! [[ "$name" =~ $only ]] && continue
  [ -n "$skip" ] && [[ "$name" =~ $skip ]] && continue
  [ -x "$bin/$name" ] || { echo "reference_run.sh: $name is not built; skipped" >&2; continue; }
  rm -rf "$out/runs/$name"
  echo "== $name"
  start=$(date +%s.%N)
  set +e
  # shellcheck disable=SC2086
  "${launcher[@]}" "$bin/$name" $args --out "$out/runs/$name" > "$out/$name.log" 2>&1
  rc=$?
  set -e
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  wall=$(awk -v s="$secs" 'BEGIN { if (s < 1) printf "%.2f s", s; else if (s < 10) printf "%.1f s", s; else if (s < 60) printf "%.0f s", s; else printf "%d min %02d s", int(s / 60), int(s) % 60 }')
  echo "| \`$name\` | $wall | $rc |" >> "$out/times.md"
  echo "   $wall (exit $rc)"
done
echo "wrote $out/times.md and $out/<program>.log"
