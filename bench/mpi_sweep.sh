#!/usr/bin/env bash
# MPI on one machine must cost nothing (issue 19): the bag-of-SIFT sweep of
# examples/scene15.yaml (SIFT step 3 and 5 x vocabulary 50, 100, 200, 400;
# kNN L1 and L2, k = 1..10) run twice from cold caches, in one script:
#   1 process  x 2 threads:  scenelab sweep ... --threads 2
#   2 ranks    x 1 thread:   mpirun -np 2 scenelab sweep ... (threads = cores / ranks)
# then checks that the two sweep.csv files agree apart from the seconds, and
# prints the ratio; then one `classic` bag-of-SIFT run (step 5, 200 words)
# both ways, with the k-means collective time per Lloyd iteration of the
# 2-rank run, whose extraction, k-means and kNN are split across ranks.
#   bench/mpi_sweep.sh [SCENE15_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data/scene15}")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
BIN=build/apps/scenelab
# Root needs OpenMPI's consent; on 2 cores 2 ranks fit without oversubscribing.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
bench/machine.sh
echo "OpenMPI: $(mpirun --version | head -1)"
# Descriptors of step 3 take about 5 GB: held in memory (no streaming) in both runs.
SWEEP=(sweep --data "$DATA" --features bow --step 3,5 --bin 8 --vocab 50,100,200,400 --metric l1,l2 --k 1-10
       --descriptor-memory-gb 8)
wall() { local s e; s=$(date +%s.%N); "$@" > "$OUT/last.txt" 2>&1 || { cat "$OUT/last.txt"; exit 1; }; e=$(date +%s.%N)
         echo "$e - $s" | bc; }
one=$(wall "$BIN" "${SWEEP[@]}" --threads 2 --out "$OUT/one")
two=$(wall mpirun -np 2 "$BIN" "${SWEEP[@]}" --out "$OUT/two")
strip() { sed 's/,[^,]*$//' "$1"; }
if diff <(strip "$OUT/one/sweep.csv") <(strip "$OUT/two/sweep.csv") > /dev/null; then same=yes; else same=NO; fi
printf '\n%-26s %10s\n' "sweep (8 feature points)" "wall s"
printf '%-26s %10.1f\n' "1 process x 2 threads" "$one" "2 ranks x 1 thread" "$two"
echo "speed of 2 ranks relative to 1 x 2 threads: $(echo "scale=3; $one / $two" | bc)x (target >= 0.95)"
echo "sweep.csv identical apart from seconds: $same"
grep "done by rank" "$OUT/two/log.txt" | sed 's/^[0-9: -]*//' | sed 's/^/  /'
# One bag-of-SIFT experiment split over 2 ranks (extraction, k-means, kNN)
# against 1 x 2 threads, and the k-means allreduce of the split vocabulary.
CLASSIC=(classic --data "$DATA" --features bow --step 5 --bin 8 --vocab 200 --metric l1,l2 --k 1-10)
c_one=$(wall "$BIN" "${CLASSIC[@]}" --threads 2 --out "$OUT/classic1")
c_two=$(wall mpirun -np 2 "$BIN" "${CLASSIC[@]}" --out "$OUT/classic")
if cmp -s "$OUT/classic1/predictions.csv" "$OUT/classic/predictions.csv"; then same=yes; else same=NO; fi
printf '\n%-26s %10s\n' "classic bag of SIFT" "wall s"
printf '%-26s %10.1f\n' "1 process x 2 threads" "$c_one" "2 ranks x 1 thread" "$c_two"
echo "speed of 2 ranks relative to 1 x 2 threads: $(echo "scale=3; $c_one / $c_two" | bc)x; predictions identical: $same"
grep -h "k-means over" "$OUT/classic/log.txt" | sed 's/^[0-9: -]*/rank 0: /'
grep -h "k-means over" "$OUT/classic/logs/rank-1.log" | sed 's/^[0-9: -]*/rank 1: /'
