#!/usr/bin/env bash
# Training images/s of resnet-lite on Fashion-MNIST (batch 128, 2 threads):
# scenelab against the PyTorch-Python peer (../shared/peers/torch_lite_fmnist.py,
# Debian's python3-torch over the same LibTorch), alternating A B A B.
#   bench/cnn_throughput.sh [EPOCHS=1] [N_TRAIN=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-1}
N=${2:-20000}
export OMP_WAIT_POLICY=PASSIVE
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
per_class=$((N / 10))
for round in 1 2; do
  build/apps/scenelab cnn train --model resnet-lite --data /usr/share/datasets/fashion-mnist --train-per-class $per_class \
    --test-per-class 100 --epochs "$EPOCHS" --batch 128 --val 0 --crop-padding 2 --threads 2 --out "$OUT/a$round" 2>&1 |
    grep -o "[0-9]* img/s" | tail -1 | sed "s/^/scenelab round $round: /"
  if /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
    (cd ../shared/peers && /usr/bin/python3 torch_lite_fmnist.py "$EPOCHS" "$N" | grep -o "[0-9]* img/s" | tail -1 |
      sed "s/^/pytorch  round $round: /")
  else
    echo "python3-torch/python3-torchvision not installed: peer not run"
  fi
done
