#!/usr/bin/env bash
# Builds scenelab with the "tsan" CMake preset (ThreadSanitizer; every module
# but the LibTorch one, whose prebuilt OpenMP/oneDNN threads are not
# instrumented and would only produce false reports) and runs the threaded
# tests under it: ParallelFor, multi-threaded kNN (blocked brute force, FLANN
# query splitting), k-means and encodings on 2 threads, the background
# descriptor-cache writes of the pipelines, sweeps and streamed descriptors.
# Fails on any ThreadSanitizer report.
#   tests/sanitize/tsan.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build-tsan}
source tests/sanitize/steps.sh
clean_up_in_ci "$B"
quietly "$B.log" cmake --preset tsan -B "$B"
quietly "$B/build.log" cmake --build "$B" -j "$(nproc)" --target data_tests features_tests classify_tests pipelines_tests
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/sanitize/tsan.supp"
"$B/tests/data_tests" --gtest_filter='Data_ParallelFor.*:Data_FolderReader.*:Data_CorruptImages.*'
"$B/tests/classify_tests" --gtest_filter='Classify_KnnClassifier.*:Classify_LinearSvm.*'
"$B/tests/features_tests" --gtest_filter='Features_Vocabulary.*:Features_DenseSift.*:Features_Bow*'
"$B/tests/pipelines_tests" --gtest_filter='Pipelines_Classic.SameResultsForOneAndTwoThreadsAndFromCache:Pipelines_Classic.StreamedDescriptorsGiveTheSameResults:Pipelines_Sweep.*:Pipelines_Repeats.*:Pipelines_Sharded.*'
echo "ThreadSanitizer: no report"
