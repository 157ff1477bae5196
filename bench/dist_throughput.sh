#!/usr/bin/env bash
# Data-parallel training on one 2-core machine: 1 process x 2 threads against
# 2 processes x 1 thread (c10d over Gloo on loopback), same global batch, on
# Fashion-MNIST; images/s, allreduce time per step and gradient size.
#   bench/dist_throughput.sh [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
DATA=/usr/share/datasets/fashion-mnist
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
report() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = r.get("distributed", {})
line = "    %.0f img/s" % r["train_images_per_s"]
if d:
    line += ", allreduce %.1f ms of %.0f ms per step, gradient %.1f MB" % (d["allreduce_ms_per_step"], d["step_ms"], d["gradient_bytes"] / 1e6)
print(line)
PY
}
for spec in "resnet-lite 300 1x28x28" "resnet18-cifar 40 1x32x32"; do
  set -- $spec
  model=$1; per_class=$2; input=$3
  common=(cnn train --model "$model" --data "$DATA" --train-per-class "$per_class" --test-per-class 20 --input "$input"
          --epochs 1 --batch 128 --val 0 --seed 1)
  for round in $(seq "$ROUNDS"); do
    echo "== $model, round $round"
    echo "  1 process x 2 threads"
    build/apps/scenelab "${common[@]}" --threads 2 --out "$OUT/one-$model-$round" > /dev/null 2>&1
    report "$OUT/one-$model-$round/results.json"
    echo "  2 processes x 1 thread"
    build/apps/scenelab "${common[@]}" --nproc 2 --threads 1 --out "$OUT/two-$model-$round" > /dev/null 2>&1
    report "$OUT/two-$model-$round/results.json"
  done
done
