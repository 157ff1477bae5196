#!/usr/bin/env bash
# Runs every ctest group (unit, realdata, sanitize, fuzz), then lists each
# test that skipped with its reason, so a skip is never mistaken for a pass.
# With SCENELAB_REQUIRE_DATA=1 (as .ci/run sets) a missing dataset, reference
# table or tool fails its test instead of skipping.
#   scripts/test.sh [extra ctest arguments, e.g. -L unit]
set -uo pipefail
cd "$(dirname "$0")/.."
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
