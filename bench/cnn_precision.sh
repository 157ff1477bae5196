#!/usr/bin/env bash
# bf16 mixed precision against fp32, scenelab and PyTorch-Python side by side:
# resnet18-cifar (1x32x32) and resnet-lite (1x28x28) on Fashion-MNIST, batch
# 128, crop + flip, channels-last, 2 threads, one epoch over N images each,
# alternating scenelab fp32, scenelab bf16, PyTorch fp32, PyTorch bf16
# (torch.autocast('cpu', dtype=torch.bfloat16)), ROUNDS times. Prints the
# CPU and its flags first (bench/machine.sh): the targets differ between AMX
# Xeons, AVX-512-BF16 EPYCs and CPUs with neither.
#   bench/cnn_precision.sh [ROUNDS=2] [N_TRAIN=2560] [MODELS="resnet18-cifar resnet-lite"]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
N=${2:-2560}
MODELS=${3:-"resnet18-cifar resnet-lite"}
export OMP_WAIT_POLICY=PASSIVE
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
have_torch=0
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null && have_torch=1
for model in $MODELS; do
  input=1x28x28
  pad=2
  if [ "$model" = resnet18-cifar ]; then input=1x32x32; pad=4; fi
  for round in $(seq "$ROUNDS"); do
    for prec in fp32 bf16; do
      build/apps/scenelab cnn train --model "$model" --data /usr/share/datasets/fashion-mnist --input "$input" \
        --train-per-class $((N / 10)) --test-per-class 10 --epochs 1 --batch 128 --val 0 --crop-padding "$pad" \
        --augment crop,flip --threads 2 --precision "$prec" --out "$OUT/$model-$prec-$round" > "$OUT/log" 2>&1
      /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('scenelab %s %s round %s: %.1f img/s' % (sys.argv[2], r['precision']['name'], sys.argv[3], r['train_images_per_s']))" \
        "$OUT/$model-$prec-$round/results.json" "$model" "$round"
    done
    if [ $have_torch = 1 ]; then
      for prec in fp32 bf16; do
        PEERS=../shared/peers /usr/bin/python3 bench/peers/torch_precision_fmnist.py "$model" "$prec" "$N" 2 |
          tail -1 | sed "s/^/pytorch  round $round: /"
      done
    else
      echo "python3-torch/python3-torchvision not installed (apt-get install python3-torch python3-torchvision): peer not run"
    fi
  done
done
