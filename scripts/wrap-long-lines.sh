#!/usr/bin/env bash
# Wraps every .cpp/.hpp line longer than .clang-format's ColumnLimit by letting clang-format
# reformat those statements only (--lines), leaving the hand-written layout of the rest alone.
# The test suite's "format:" test names the lines this would change.
#   scripts/wrap-long-lines.sh [FILE...]   (default: every tracked .cpp and .hpp)
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$(sed -n 's/^ColumnLimit: *\([0-9]*\).*/\1/p' .clang-format)
files=("$@")
[ ${#files[@]} -eq 0 ] && mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
for f in "${files[@]}"; do
  # characters, not bytes, as the test counts them
  lines=$(python3 -c 'import sys
for n, l in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    if len(l.rstrip("\n")) > int(sys.argv[2]): print(f"--lines={n}:{n}", end=" ")' "$f" "$limit")
  [ -n "$lines" ] || continue
  # shellcheck disable=SC2086
  clang-format -i --style=file $lines "$f"
  echo "wrapped $f"
done
