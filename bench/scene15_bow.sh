#!/usr/bin/env bash
# Whole bag-of-SIFT run on 15-scene (decode, dense SIFT step 5 bin 8,
# 200-word vocabulary, encoding, kNN k=1..10 for L1 and L2), timed from a cold
# cache, and the same recipe in VLFeat's MATLAB toolbox under Octave when it
# is installed (apt-get install octave octave-vlfeat octave-image), in one run.
#   bench/scene15_bow.sh [SCENE15_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data/scene15}")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
start=$(date +%s.%N)
/usr/bin/time -v build/apps/scenelab classic --data "$DATA" --features bow --step 5 --bin 8 --vocab 200 \
  --metric l1,l2 --k 1-10 --out "$OUT/scenelab" 2> "$OUT/time.txt" | tail -2
end=$(date +%s.%N)
ours=$(echo "$end - $start" | bc)
grep -E "Maximum resident" "$OUT/time.txt"
python3 - "$OUT/scenelab/results.json" <<'PY' 2>/dev/null || grep -o '"timings_s": {[^}]*}' "$OUT/scenelab/results.json"
import json, sys
t = json.load(open(sys.argv[1]))["timings_s"]
print("stages: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
PY
echo "scenelab wall: ${ours} s"
if command -v octave-cli >/dev/null && [ -d /usr/share/octave/site/m/vlfeat ]; then
  peers=$(realpath ../shared/peers)
  cp -r "$peers" "$OUT/peers" && mkdir -p "$OUT/peers/results"
  start=$(date +%s.%N)
  (cd "$OUT/peers" && SCENE15=$(realpath "$DATA") octave-cli --eval "run_bow(5,8,[200])" | tail -5)
  end=$(date +%s.%N)
  theirs=$(echo "$end - $start" | bc)
  echo "VLFeat/Octave wall: ${theirs} s; ratio $(echo "scale=2; $theirs / $ours" | bc)x"
else
  echo "Octave + octave-vlfeat not installed: peer not run"
fi
