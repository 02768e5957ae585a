#!/usr/bin/env bash
# The write pause of `keyferry apply` under a live writer (issue #6): runs the whole demo
# story (scripts/demo.sh: Redis 7 with a dataset of every type, a writer at about 5,000
# acknowledged writes/s, apply to a provisioned Valkey 8, every acknowledged write checked)
# RUNS times and prints each run's pause and writer throughput, then the medians.
# Usage: bench/apply_pause.sh [RUNS]   (BUILD=build by default)
set -euo pipefail
RUNS=${1:-3}
cd "$(dirname "$0")/.."
pauses=()
rates=()
for i in $(seq "$RUNS"); do
  out=$(BUILD=${BUILD:-build} bash scripts/demo.sh 2>&1) || { echo "$out"; exit 1; }
  pause=$(echo "$out" | sed -n 's/.*writes paused for *: \([0-9]*\) ms.*/\1/p')
  rate=$(echo "$out" | sed -n 's/.*writer *: writes [0-9]* seconds [0-9.]* rate \([0-9]*\).*/\1/p')
  echo "run $i: write pause ${pause} ms, writer ${rate} acknowledged writes/s, all acknowledged writes in Valkey"
  pauses+=("$pause")
  rates+=("$rate")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median over $RUNS runs: write pause $(median "${pauses[@]}") ms at $(median "${rates[@]}") writes/s (target: under 100 ms at about 5,000 writes/s)"
