#!/usr/bin/env bash
# Builds scenelab with the "asan" CMake preset (AddressSanitizer +
# UndefinedBehaviorSanitizer; every module, the LibTorch one included) and runs the
# whole unit-test suite under it. Fails on any sanitizer report.
#   tests/sanitize/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build-asan}
source tests/sanitize/steps.sh
clean_up_in_ci "$B"
quietly "$B.log" cmake --preset asan -B "$B"
quietly "$B/build.log" cmake --build "$B" -j "$(nproc)"
# The install-consumer test links an uninstrumented program against the
# instrumented libraries, which ASan refuses by design: it runs in the normal build.
# The MPI tests run under mpirun's uninstrumented OpenMPI: also the normal
# build (the split k-means they check runs under ASan in features_tests).
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$B" -L unit -E 'Install|^Mpi\.|^Mpi_' --output-on-failure -j "$(nproc)"
