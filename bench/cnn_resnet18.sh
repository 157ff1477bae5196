#!/usr/bin/env bash
# Training images/s of resnet18-cifar (1x32x32 Fashion-MNIST, batch 128,
# crop pad 4 + flip, SGD, 2 threads): scenelab against PyTorch-Python
# (bench/peers/torch_resnet18_fmnist.py, Debian's python3-torch over the same
# LibTorch), alternating A B A B. Each run is one epoch over N images.
#   bench/cnn_resnet18.sh [ROUNDS=2] [N_TRAIN=2560]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
N=${2:-2560}
export OMP_WAIT_POLICY=PASSIVE
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
for round in $(seq "$ROUNDS"); do
  build/apps/scenelab cnn train --model resnet18-cifar --data /usr/share/datasets/fashion-mnist --input 1x32x32 \
    --train-per-class $((N / 10)) --test-per-class 10 --epochs 1 --batch 128 --val 0 --crop-padding 4 \
    --augment crop,flip --threads 2 --out "$OUT/a$round" > "$OUT/a$round.log" 2>&1
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('scenelab round $round: %.1f img/s (%d params)' % (r['train_images_per_s'], r['model_params']))" \
    "$OUT/a$round/results.json"
  if /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
    PEERS=../shared/peers /usr/bin/python3 bench/peers/torch_resnet18_fmnist.py "$N" 2 > "$OUT/b$round.log"
    echo "pytorch  round $round: $(grep -o '[0-9.]* img/s' "$OUT/b$round.log") ($(grep -o 'params [0-9]*' "$OUT/b$round.log"))"
  else
    echo "python3-torch/python3-torchvision not installed: peer not run"
  fi
done
