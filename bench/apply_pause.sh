#!/usr/bin/env bash
# The write pause of `keyferry apply` under a live application (issues #6 and #9): runs the
# whole demo story (scripts/demo.sh: Redis 7 with a dataset of every type, the application
# workload kf_app_workload writing all the time from 7 threads, apply to a provisioned
# Valkey 8, the application following the cutover hook to Valkey, then its check) RUNS
# times. Prints per run the write pause from the journal (CUTOVER pause_ms), the longest
# application wait (a call's start to its thread's next answer, reconnect included: the
# pause as the application felt it), reconnects and throughput, then the medians.
# Usage: bench/apply_pause.sh [RUNS]   (BUILD=build by default)
set -euo pipefail
RUNS=${1:-3}
cd "$(dirname "$0")/.."
pauses=()
waits=()
rates=()
for i in $(seq "$RUNS"); do
  out=$(BUILD=${BUILD:-build} bash scripts/demo.sh 2>&1) || { echo "$out"; exit 1; }
  row() { echo "$out" | sed -n "s/^ *$1 *: \([0-9.]*\).*/\1/p"; }
  pause=$(row "writes paused for")
  wait_ms=$(row "longest application wait")
  wait_phase=$(echo "$out" | sed -n 's/^ *longest application wait *:.*beginning in \([^(]*\) (.*/\1/p')
  reconnects=$(row "reconnects")
  rate=$(row "application")
  echo "run $i: write pause ${pause} ms, longest application wait ${wait_ms} ms" \
    "(began in ${wait_phase})," \
    "${reconnects} reconnects, ${rate} application operations/s, check passed"
  pauses+=("$pause")
  waits+=("$wait_ms")
  rates+=("$rate")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median over $RUNS runs: write pause $(median "${pauses[@]}") ms, longest application wait" \
  "$(median "${waits[@]}") ms, at $(median "${rates[@]}") operations/s (target: a pause under" \
  "100 ms at about 5,000 operations/s)"
