#!/usr/bin/env bash
# What the build's settings are worth for CNN training, one at a time:
# resnet-lite, 10,000 Fashion-MNIST images, one epoch, batch 128, against the
# default (channels-last, OpenBLAS, 2 threads, OMP_WAIT_POLICY=PASSIVE),
# alternating the variants in each round.
#   bench/cnn_settings.sh [ROUNDS=2] [MODEL=resnet-lite] [PER_CLASS=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}; MODEL=${2:-resnet-lite}; PER_CLASS=${3:-1000}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
run() {  # name, env..., -- flags...
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" build/apps/scenelab cnn train --model "$MODEL" --data /usr/share/datasets/fashion-mnist \
    --train-per-class "$PER_CLASS" --test-per-class 10 --epochs 1 --batch 128 --val 0 --seed 1 "$@" \
    --out "$OUT/$name" > /dev/null 2>&1
  python3 -c 'import json,sys; print("  %-28s %6.0f img/s" % (sys.argv[2], json.load(open(sys.argv[1]))["train_images_per_s"]))' \
    "$OUT/$name/results.json" "$name"
}
for r in $(seq "$ROUNDS"); do
  echo "== round $r"
  run default OMP_WAIT_POLICY=PASSIVE --
  run no-channels-last OMP_WAIT_POLICY=PASSIVE -- --channels-last false
  run reference-blas OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas --
  run one-thread OMP_WAIT_POLICY=PASSIVE -- --threads 1
  run omp-active-spin OMP_WAIT_POLICY=ACTIVE --
done
