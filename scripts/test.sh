#!/usr/bin/env bash
# Runs every ctest group (unit, realdata, sanitize, fuzz), then lists each
# test that skipped with its reason, so a skip is never mistaken for a pass.
# With SCENELAB_REQUIRE_DATA=1 (as .ci/run sets) a missing dataset, reference
# table or tool fails its test instead of skipping.
#   scripts/test.sh [extra ctest arguments, e.g. -L unit]
set -uo pipefail
cd "$(dirname "$0")/.."
# The full run needs disk for the sanitizer and fuzzing builds and the
# 15-scene caches (docs/RELIABILITY.md, "Disk"). Say so up front: a full disk
# otherwise surfaces as a failed cache write deep inside one test.
need_gb=${SCENELAB_TEST_DISK_GB:-10}
seen=""
for where in build "${TMPDIR:-/tmp}"; do
  mount=$(df --output=target "$where" 2>/dev/null | tail -1) || continue
  case " $seen " in *" $mount "*) continue ;; esac  # build and /tmp often share one filesystem
  seen="$seen $mount"
  free_gb=$(df -BG --output=avail "$where" | tail -1 | tr -dc 0-9)
  echo "[test] free disk on $where ($mount): ${free_gb} GB"
  if [ "$free_gb" -lt "$need_gb" ]; then
    echo "[test] warning: the full run needs about ${need_gb} GB free on $mount; tests that write caches may fail"
  fi
done
ctest --test-dir build --output-on-failure -j 2 "$@"
rc=$?
log=build/Testing/Temporary/LastTest.log
if [ -f "$log" ]; then
  skipped=$(awk '
    /^[0-9]+\/[0-9]+ Test: /          { name = $3; reason = "" }
    /: Skipped$/                      { getline; reason = $0 }
    /^Skip regular expression found/  { printf "  %s: %s\n", name, (reason == "" ? "(no reason printed)" : reason) }
  ' "$log")
  if [ -n "$skipped" ]; then
    printf '\n[test] skipped tests (SCENELAB_REQUIRE_DATA=%s):\n%s\n' "${SCENELAB_REQUIRE_DATA:-0}" "$skipped"
  else
    printf '\n[test] no test skipped\n'
  fi
fi
exit $rc
