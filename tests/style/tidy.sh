#!/usr/bin/env bash
# clang-tidy with the checks of .clang-tidy (bugprone-*, performance-*) over
# the library and the CLI: every warning is an error. Configures its own tree
# (compile commands only, no build, no precompiled headers: clang cannot read
# GCC's) in BUILD_DIR (default build/tidy).
#   tests/style/tidy.sh [BUILD_DIR] [FILE_REGEX]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build/tidy}
regex=${2:-'^'"$PWD"'/(apps|classify|cnn|data|eval|features|mpi)/.*\.cpp$'}
for tool in clang-tidy run-clang-tidy; do
  if ! command -v "$tool" >/dev/null; then
    if [ "${SCENELAB_REQUIRE_DATA:-0}" = 1 ]; then
      echo "SCENELAB_REQUIRE_DATA=1 and $tool is not installed (apt-get install clang-tidy)"
      exit 1
    fi
    echo "SKIPPED: $tool is not installed (apt-get install clang-tidy)"
    exit 0
  fi
done
cmake -S . -B "$dir" -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
run-clang-tidy -p "$dir" -j "$(nproc)" -quiet "$regex" >"$dir.log" 2>&1 || true
# run-clang-tidy's exit status is not reliable across versions: count the findings.
errors=$(sed 's/\x1b\[[0-9;]*m//g' "$dir.log" | grep -E '^(/|error:).*error:|^error:' | sort -u || true)
if [ -n "$errors" ]; then
  echo "$errors" | head -40
  echo "clang-tidy: $(echo "$errors" | wc -l) findings (full log: $dir.log)"
  exit 1
fi
echo "ok: clang-tidy clean ($(grep -c '^clang-tidy' "$dir.log" || true) files)"
