#!/usr/bin/env bash
# The linear-SVM stage at 10,000 training vectors x 36,000 dimensions (the
# PHOW recipe's shape after the chi2 map), 10 classes, C = 10, on generated
# bag-of-words data (bench/svm_bench.cpp says how). One run, same data for
# every solver: scenelab's dual coordinate descent (the default), LIBLINEAR
# 2.3 through its C API when liblinear-dev is installed (the same algorithm
# on sparse double rows, one binary problem per class, two at a time),
# the same descent run to a spread of 1e-3 as the fully converged
# reference, and VLFeat's SDCA (the solver before) unless NO_SDCA=1.
#   bench/svm_scale.sh [TRAIN (10000)] [CLASSES (10)]
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN=${1:-10000}
CLASSES=${2:-10}
bench/machine.sh
SOLVERS=dcd,liblinear,reference
[ "${NO_SDCA:-0}" = 1 ] || SOLVERS=$SOLVERS,sdca
OMP_WAIT_POLICY=PASSIVE build/bench/svm_bench --train "$TRAIN" --classes "$CLASSES" --test 2000 --c 10 --threads 2 \
  --solvers "$SOLVERS"
