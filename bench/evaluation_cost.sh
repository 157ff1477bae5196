#!/usr/bin/env bash
# What defensible numbers cost on the 15-scene bag-of-SIFT run (step 5, bin 8,
# 200 words, kNN k = 1..10, L1 and L2), cold caches, in one session:
#   1. one standard run: wall time, and the share of it spent on the 5-fold
#      cross-validated selection of (metric, k) (timings_s.selection_s);
#   2. the Lazebnik protocol (10 seeded random splits, 100 training images
#      per class), against 1.
# ROUNDS > 1 repeats the pair (cold caches each time) and ends with the
# median of the rounds' ratios: on a shared VM the speed drifts between runs.
#   bench/evaluation_cost.sh [SCENE15_DIR] [ROUNDS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data/scene15}")
ROUNDS=${2:-1}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bench/machine.sh
run() {  # name, then scenelab arguments; prints the wall time in seconds
  local name=$1
  shift
  local start end
  start=$(date +%s.%N)
  build/apps/scenelab classic --data "$DATA" --features bow --step 5 --bin 8 --vocab 200 --metric l1,l2 --k 1-10 \
    --out "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$OUT/standard" "$OUT/lazebnik"
  [ "$ROUNDS" -gt 1 ] && echo "round $round:"
  one=$(run standard)
  python3 - "$OUT/standard/results.json" "$one" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["timings_s"]
wall = float(sys.argv[2])
s = r["selected"]
print(f"standard split: wall {wall:.1f} s; selection (5-fold CV) {t['selection_s']:.3f} s = "
      f"{100 * t['selection_s'] / wall:.2f}% of the wall time")
print(f"  selected {s['metric']} k={s['k']}: {s['accuracy']:.4f} [{s['accuracy_ci95'][0]:.4f}, {s['accuracy_ci95'][1]:.4f}]; "
      f"oracle {r['best']['accuracy']:.4f}")
PY
  ten=$(run lazebnik --protocol lazebnik)
  python3 - "$OUT/lazebnik/results.json" "$ten" "$one" <<'PY'
import glob, json, os, sys
r = json.load(open(sys.argv[1]))["repeats"]
ten, one = float(sys.argv[2]), float(sys.argv[3])
print(f"lazebnik (10 splits): wall {ten:.1f} s = {ten / one:.2f}x one run; "
      f"accuracy {r['mean']:.4f} +- {r['std']:.4f}, t-interval [{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}]")
# Per split, on the one core of its lane: the two stages the protocol redoes.
t = [json.load(open(f))["timings_s"] for f in sorted(glob.glob(os.path.dirname(sys.argv[1]) + "/repeats/r*/results.json"))]
mean = lambda k: sum(x[k] for x in t) / len(t)
print(f"  per split (one core): vocabulary {mean('vocabulary_s'):.2f} s, encoding {mean('encode_s'):.2f} s, "
      f"whole split {mean('total_s'):.2f} s")
PY
  ratios+=("$(echo "$ten / $one" | bc -l)")
done
if [ "$ROUNDS" -gt 1 ]; then
  printf '%s\n' "${ratios[@]}" | python3 -c "import statistics, sys; v = [float(l) for l in sys.stdin]; print(f'median over {len(v)} rounds: {statistics.median(v):.2f}x one run (each: ' + ', '.join(f'{x:.2f}x' for x in v) + ')')"
fi
