#!/usr/bin/env bash
# 1000-word vocabulary from 1M dense-SIFT descriptors of 15-scene: scenelab
# (GEMM Lloyd after k-means++), OpenCV cv::kmeans and scikit-learn KMeans
# (lloyd, n_init=1, the same number of iterations), one after the other.
#   bench/vocab_bench.sh [SCENE15] [N=1000000] [K=1000] [ITERS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data/scene15}")
N=${2:-1000000}; K=${3:-1000}; IT=${4:-10}
bench/machine.sh
F=$(mktemp --suffix=.f32)
trap 'rm -f "$F"' EXIT
/usr/bin/time -f "  scenelab+opencv process: wall %e s, peak RSS %M KB" build/bench/vocab_bench "$DATA" "$N" "$K" "$IT" "$F"
if /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
  /usr/bin/time -f "  sklearn process: wall %e s, peak RSS %M KB" /usr/bin/python3 - "$F" "$N" "$K" "$IT" <<'PY'
import sys, time, numpy as np
from sklearn.cluster import KMeans
f, n, k, it = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x = np.fromfile(f, dtype=np.float32).reshape(n, 128)
t = time.time()
km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=it, tol=0, algorithm="lloyd", random_state=1).fit(x)
print(f"sklearn KMeans: K={k}, {km.n_iter_} iterations, {time.time()-t:.2f} s, energy {km.inertia_:.4g}")
PY
else
  echo "python3-sklearn not installed: peer not run"
fi
