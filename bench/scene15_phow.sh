#!/usr/bin/env bash
# The PHOW recipe on 15-scene (multi-scale dense SIFT step 3, 600 words,
# 2x2 + 4x4 grids, chi2 kernel map, linear SVMs), timed from a cold cache,
# then VLFeat's own recipe in its MATLAB toolbox under Octave when installed
# (apt-get install octave octave-vlfeat octave-image), in one run.
#   bench/scene15_phow.sh [SCENE15_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data/scene15}")
PEERS=$(realpath ../shared/peers)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
start=$(date +%s.%N)
/usr/bin/time -v build/apps/scenelab classic --data "$DATA" --recipe phow --out "$OUT/scenelab" 2> "$OUT/time.txt" | tail -2
end=$(date +%s.%N)
ours=$(echo "$end - $start" | bc)
grep -E "Maximum resident" "$OUT/time.txt"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings_s"]; print("stages: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))' \
  "$OUT/scenelab/results.json"
echo "scenelab wall: ${ours} s"
if command -v octave-cli >/dev/null && [ -d /usr/share/octave/site/m/vlfeat ]; then
  start=$(date +%s.%N)
  (cd bench/phow && SCENE15="$DATA" octave-cli --path "$PEERS" --eval "phow_scene15" | tail -3)
  end=$(date +%s.%N)
  theirs=$(echo "$end - $start" | bc)
  echo "VLFeat/Octave wall: ${theirs} s; ratio $(echo "scale=2; $theirs / $ours" | bc)x"
else
  echo "Octave + octave-vlfeat not installed: peer not run"
fi
