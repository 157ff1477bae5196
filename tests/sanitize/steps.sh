# shellcheck shell=bash
# Sourced by the sanitizer and fuzzing scripts, which build a tree of their
# own inside ctest. Their build output goes to a log instead of the console;
# when a step fails, the log's tail and the free disk space are printed, so
# that a full disk or a compiler error is named instead of a bare exit code.
# With CI=true the tree is removed when the script ends: CI runs from a clean
# clone and never reuses it, and the three trees need several GB together.

# quietly LOG COMMAND...: runs COMMAND with its output in LOG.
quietly() {
  local log=$1
  shift
  mkdir -p "$(dirname "$log")"
  if ! "$@" >"$log" 2>&1; then
    echo "failed: $*"
    echo "free disk: $(df -h --output=avail "$(dirname "$log")" | tail -1 | xargs) on $(dirname "$log")"
    tail -40 "$log"
    return 1
  fi
}

# clean_up_in_ci DIR: removes DIR when the calling script exits, in CI only.
clean_up_in_ci() {
  if [ "${CI:-}" = true ]; then
    # shellcheck disable=SC2064  # the directory is fixed now, on purpose
    trap "rm -rf '$1'" EXIT
  fi
}
