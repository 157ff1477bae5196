#!/usr/bin/env bash
# Exact kNN on raw Fashion-MNIST pixels: scenelab against scikit-learn's
# brute-force KNeighborsClassifier (../shared/peers/sklearn_knn_fmnist.py),
# its kd-tree (bench/peers/sklearn_kdtree_fmnist.py, on KD_QUERIES queries:
# on 784 dimensions it is far slower than brute force), scipy's cdist and
# torch.cdist (bench/peers/cdist_fmnist.py), side by side in one run, with
# wall time and peak RSS of each process.
#   bench/fmnist_knn.sh [L2_QUERIES=2000] [L1_QUERIES=1000] [KD_QUERIES=200]
set -euo pipefail
cd "$(dirname "$0")/.."
NQ2=${1:-2000}
NQ1=${2:-1000}
NQK=${3:-200}
peers=$(realpath ../shared/peers)
bench/machine.sh
run() { /usr/bin/time -f "    wall %e s, peak RSS %M KB" "$@" 2>&1; }
for metric in 2 1; do
  nq=$([ $metric = 2 ] && echo "$NQ2" || echo "$NQ1")
  echo "== L$metric, $nq queries"
  run build/bench/fmnist_knn l$metric "$nq" | grep -E "queries|k=5 |peak|wall"
  if /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
    (cd "$peers" && run /usr/bin/python3 sklearn_knn_fmnist.py $metric 5 "$nq" | tail -4)
    echo "  (kd-tree peer on $NQK queries; scenelab on the same:)"
    run build/bench/fmnist_knn l$metric "$NQK" | grep -E "queries|peak"
    PEERS="$peers" run /usr/bin/python3 bench/peers/sklearn_kdtree_fmnist.py $metric 5 "$NQK" | tail -2
  else
    echo "    python3-sklearn not installed: peer not run"
  fi
  for lib in scipy torch; do
    if /usr/bin/python3 -c "import $lib" 2>/dev/null; then
      PEERS="$peers" run /usr/bin/python3 bench/peers/cdist_fmnist.py $lib $metric "$nq" | tail -2
    else
      echo "    python3-$lib not installed: peer not run"
    fi
  done
done
