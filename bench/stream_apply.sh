#!/usr/bin/env bash
# How fast the replication stream reaches the target: native replication vs `keyferry sync`
# (each stream batch one MULTI/EXEC with the applied-offset marker), and optionally an
# older keyferry build for the cost of a change.
#
#   bench/stream_apply.sh            # BUILD_DIR=build; KF_BENCH_BASELINE=/path/to/keyferry
#
# Each measurement starts a fresh, empty redis-server (source, repl-backlog-size 1gb) and
# valkey-server (target), attaches the replica (native: REPLICAOF; keyferry: `keyferry sync`
# running continuously), waits until it is in sync, then runs redis-benchmark against the
# source (KF_BENCH_REQUESTS requests, default 400000, of each of SET, INCR and LPUSH, -P 16,
# 100,000 random keys) and times from the benchmark's start until the replica has applied
# the source's final offset (INFO replication: the replica's acknowledged offset equals
# master_repl_offset). Printed: median seconds over KF_BENCH_REPEATS runs (default 3) and
# the ratio to native (below 1.00 = faster than native). Source, target, benchmark and
# keyferry share the machine's cores (2 here): quote medians and ratios, not single runs.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
baseline="${KF_BENCH_BASELINE:-}"
repeats="${KF_BENCH_REPEATS:-3}"
requests="${KF_BENCH_REQUESTS:-400000}"

for tool in redis-server redis-cli valkey-server redis-benchmark python3; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/setup.sh" >&2; exit 2; }
done
[[ -x "$keyferry" ]] || { echo "no keyferry at $keyferry (set BUILD_DIR)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kf-stream-bench.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ping() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
field() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n "s/^$2:\(.*\)/\1/p"; }
# The first replica's acknowledged offset (slave0:ip=...,offset=N,...).
replica_offset() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n 's/^slave0:.*offset=\([0-9]*\).*/\1/p'; }
caught_up() {
  local port=$1 master replica
  master=$(field "$port" master_repl_offset)
  replica=$(replica_offset "$port")
  [[ -n "$replica" && "$replica" == "$master" ]]
}

# one_run KIND [BINARY] -> prints seconds
one_run() {
  local kind=$1 bin=${2:-} src tgt dir start end
  src=$(free_port); tgt=$(free_port); dir="$work/run.$RANDOM"; mkdir -p "$dir/s" "$dir/t"
  redis-server --port "$src" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/s" \
    --repl-diskless-sync-delay 0 --repl-backlog-size 1gb --logfile "$dir/s/log" &
  pids+=($!); local spid=$!
  valkey-server --port "$tgt" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/t" \
    --logfile "$dir/t/log" &
  pids+=($!); local tpid=$!
  wait_ping "$src"; wait_ping "$tgt"
  local kpid=""
  if [[ $kind == native ]]; then
    redis-cli -p "$tgt" replicaof 127.0.0.1 "$src" >/dev/null
  else
    "$bin" sync --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$tgt" \
      > "$dir/kf.log" 2>&1 &
    kpid=$!; pids+=($kpid)
  fi
  for _ in $(seq 400); do caught_up "$src" && break; sleep 0.05; done
  start=$(date +%s%N)
  redis-benchmark -p "$src" -q -n "$requests" -r 100000 -P 16 -t set,incr,lpush >/dev/null
  for _ in $(seq 6000); do caught_up "$src" && break; sleep 0.01; done
  end=$(date +%s%N)
  caught_up "$src" || { echo "the $kind replica did not catch up" >&2; cat "$dir/kf.log" >&2 || true; exit 1; }
  [[ -n "$kpid" ]] && kill -TERM "$kpid" && wait "$kpid" 2>/dev/null || true
  kill -KILL "$spid" "$tpid" 2>/dev/null || true
  wait "$spid" "$tpid" 2>/dev/null || true
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A results
kinds=(native keyferry)
[[ -n "$baseline" ]] && kinds+=(baseline)
for kind in "${kinds[@]}"; do
  times=()
  for _ in $(seq "$repeats"); do
    case $kind in
      native) times+=("$(one_run native)") ;;
      keyferry) times+=("$(one_run keyferry "$keyferry")") ;;
      baseline) times+=("$(one_run keyferry "$baseline")") ;;
    esac
  done
  results[$kind]=$(median "${times[@]}")
  echo "$kind: ${times[*]} s (median ${results[$kind]} s)"
done
echo "commands: 3 x $requests (SET, INCR, LPUSH; pipelined 16)"
for kind in "${kinds[@]}"; do
  awk -v k="$kind" -v t="${results[$kind]}" -v n="${results[native]}" \
    'BEGIN { printf "%-9s median %.3f s  ratio to native %.2f\n", k, t, t / n }'
done
