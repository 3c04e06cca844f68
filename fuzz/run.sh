#!/usr/bin/env bash
# Runs one fuzz target (built by `cmake --preset fuzz && cmake --build --preset fuzz`):
#   fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
# TARGET is safetensors, config, tokenizer_json, gpt2_vocab or documents; SECONDS defaults to 600.
# New inputs go to build-fuzz/corpus/TARGET (the seeds in fuzz/corpus/TARGET are only read),
# crashes, leaks and hangs to build-fuzz/findings/TARGET/; the last lines give the exec count.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
target=$1; seconds=${2:-600}; shift; [ $# -ge 1 ] && shift
bin=build-fuzz/bin/fuzz_$target
[ -x "$bin" ] || { echo "run.sh: $bin is not built (cmake --preset fuzz && cmake --build --preset fuzz)" >&2; exit 1; }
mkdir -p "build-fuzz/corpus/$target" "build-fuzz/findings/$target"
# -timeout: an input that takes 10 s is a hang. -max_len: room for the largest seed
# (a 300-token tokenizer.json). ASan finds leaks at exit of each run (detect_leaks).
exec nice -n 10 "$bin" -max_total_time="$seconds" -timeout=10 -max_len=8192 -rss_limit_mb=2048 \
  -dict="fuzz/dict/$target.dict" -artifact_prefix="build-fuzz/findings/$target/" -print_final_stats=1 \
  "$@" "build-fuzz/corpus/$target" "fuzz/corpus/$target"
