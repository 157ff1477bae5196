#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 60) from a seed corpus of valid files. Prints the total
# executions; fails if any target crashes.
#   tests/fuzz/run.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
B=${2:-build-fuzz}
command -v clang++ >/dev/null || { echo "clang++ not found: apt-get install clang"; exit 1; }
source tests/sanitize/steps.sh
clean_up_in_ci "$B"
quietly "$B.log" env CC=clang CXX=clang++ cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSCENELAB_FUZZ=ON -DSCENELAB_BUILD_CNN=OFF -DSCENELAB_BUILD_TESTS=OFF -DSCENELAB_BUILD_BENCH=OFF
quietly "$B/build.log" cmake --build "$B" -j "$(nproc)" --target make_seeds fuzz_idx fuzz_cifar fuzz_tinyimagenet \
  fuzz_cache fuzz_results fuzz_config
CORPUS="$B/corpus"
rm -rf "$CORPUS" && "$B/tests/fuzz/make_seeds" "$CORPUS"
# The targets run nproc at a time, each on one core (libFuzzer is
# single-threaded), so the group takes 6/nproc minutes instead of 6. Each
# writes its exit status beside its log.
fuzz_one() {
  local t=$1 rc=0
  ASAN_OPTIONS=detect_leaks=0 "$B/tests/fuzz/$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 "$CORPUS/$t" >"$B/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$B/$t.rc"
}
targets=(fuzz_idx fuzz_cifar fuzz_tinyimagenet fuzz_cache fuzz_results fuzz_config)
running=0
for t in "${targets[@]}"; do
  rm -f "$B/$t.rc"
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then wait -n; running=$((running - 1)); fi
done
wait
rm -f /tmp/scenelab-fuzz-cache-*.bin  # fuzz_cache's scratch file, one per process
total=0
for t in "${targets[@]}"; do
  log="$B/$t.log"
  if [ "$(cat "$B/$t.rc" 2>/dev/null)" != 0 ]; then
    echo "$t: CRASH (see $log)"; tail -30 "$log"; exit 1
  fi
  n=$(grep -Eo "stat::number_of_executed_units: [0-9]+" "$log" | grep -Eo "[0-9]+$" || true)
  [ -n "$n" ] || n=$(grep -Eo "#[0-9]+" "$log" | tail -1 | tr -d '#')
  echo "$t: ${n} executions in ${SECONDS_EACH} s, no crash"
  total=$((total + n))
done
echo "fuzz total: $total executions"
