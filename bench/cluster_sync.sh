#!/usr/bin/env bash
# keyferry sync into a cluster vs into one server, on the same data (issue #11 §3).
#
#   bench/cluster_sync.sh
#
# Scenarios, each run KF_BENCH_REPEATS times (default 3) on fresh servers, interleaved:
#   s2s   a standalone Redis into a standalone Valkey (the baseline);
#   s2c   the same standalone Redis into a KF_BENCH_SHARDS-primary Valkey Cluster (default 3);
#   c2c   a KF_BENCH_SHARDS-primary Redis Cluster into a Valkey Cluster of the same shape
#         (runs only when this keyferry takes a cluster source; skipped with a note
#         otherwise).
# Data: KF_BENCH_KEYS small strings (default 600,000; 32-byte values), written with DEBUG
# POPULATE in KF_BENCH_SHARDS groups, each group's keys under one hash tag of a different
# primary's slot range, so the same keys spread evenly over the shards in every scenario.
# Each run times `keyferry sync --once` until it exits 0, then checks the target's key
# count. Printed: median seconds, keys/s, the ratio to s2s (below 1.00 = faster than into
# one server), keyferry's peak RSS and each target primary's used_memory_rss after the run.
#
# Every server listens on 127.0.0.1 on a free port in a temporary directory, stopped by
# PID on exit. On a 2-core machine the source(s), the target(s) and keyferry share the
# cores: more shards mean more processes on the same 2 cores, not more throughput.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
repeats="${KF_BENCH_REPEATS:-3}"
keys="${KF_BENCH_KEYS:-600000}"
shards="${KF_BENCH_SHARDS:-3}"
timeout_s="${KF_BENCH_TIMEOUT:-600}"
source "$here/bench/lib/servers.sh"

for tool in redis-server redis-cli valkey-server valkey-cli awk; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found: run scripts/setup.sh first" >&2
    exit 2
  fi
done
[[ -x "$keyferry" ]] || { echo "keyferry not found at $keyferry (set BUILD_DIR)" >&2; exit 2; }

work="$(mktemp -d /tmp/kf-cluster-bench.XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

stop_all() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# One hash tag per shard's slot range (asked of a cluster node: CLUSTER KEYSLOT).
tags=()
find_tags() {
  start_cluster valkey 1 "$work/probe" || exit 1
  local i n slot
  for ((i = 0; i < shards; i++)); do
    local first=$((i * 16384 / shards)) last=$(((i + 1) * 16384 / shards - 1))
    for ((n = 0; n < 100000; n++)); do
      slot="$(valkey-cli -p "${CLUSTER_PORTS[0]}" CLUSTER KEYSLOT "t$n")"
      if ((slot >= first && slot <= last)); then
        tags+=("t$n")
        break
      fi
    done
  done
  stop_all
}

# populate PORT: this shard's group of keys on a standalone source (every group) or on the
# cluster primary PORT of range i (group i only, when $2 is given).
populate() {
  local port="$1" only="${2:-}" i per=$((keys / shards))
  for ((i = 0; i < shards; i++)); do
    if [[ -n "$only" && "$only" != "$i" ]]; then continue; fi
    redis-cli -p "$port" DEBUG POPULATE "$per" "{${tags[$i]}}k" 32 >/dev/null
  done
}

supports_cluster_source=0
declare -A times rss_kf rss_targets
run_once() {
  local scenario="$1" round="$2" source_uri target_ports=() src_port
  mkdir -p "$work/$scenario-$round"
  local d="$work/$scenario-$round"
  if [[ "$scenario" == c2c ]]; then
    start_cluster redis "$shards" "$d/src" --enable-debug-command yes \
      --repl-diskless-sync yes --repl-diskless-sync-delay 0 || exit 1
    local i
    for ((i = 0; i < shards; i++)); do populate "${CLUSTER_PORTS[$i]}" "$i"; done
    src_port="${CLUSTER_PORTS[0]}"
  else
    start_server redis "$d/src" --enable-debug-command yes --repl-diskless-sync yes \
      --repl-diskless-sync-delay 0 || exit 1
    src_port="$SERVER_PORT"
    populate "$src_port"
  fi
  if [[ "$scenario" == s2s ]]; then
    start_server valkey "$d/dst" || exit 1
    target_ports=("$SERVER_PORT")
  else
    start_cluster valkey "$shards" "$d/dst" || exit 1
    target_ports=("${CLUSTER_PORTS[@]}")
  fi
  local start end status=0
  start=$(date +%s.%N)
  /usr/bin/time -f %M -o "$d/rss" timeout "$timeout_s" "$keyferry" sync --once \
    --source "redis://127.0.0.1:$src_port" --target "redis://127.0.0.1:${target_ports[0]}" \
    >"$d/out" 2>"$d/err" || status=$?
  end=$(date +%s.%N)
  if ((status != 0)); then
    echo "$scenario run $round: keyferry exited $status:" >&2
    tail -5 "$d/err" >&2
    exit 1
  fi
  local total=0 p rss_list=""
  for p in "${target_ports[@]}"; do
    total=$((total + $(valkey-cli -p "$p" DBSIZE)))
    rss_list+="$(valkey-cli -p "$p" INFO memory | awk -F: '/^used_memory_rss:/{printf "%.0f", $2/1048576}')MB "
  done
  if ((total != keys / shards * shards)); then
    echo "$scenario run $round: the target holds $total keys, expected $((keys / shards * shards))" >&2
    exit 1
  fi
  times[$scenario]+="$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b-a}') "
  rss_kf[$scenario]+="$(($(cat "$d/rss") / 1024)) "
  rss_targets[$scenario]="$rss_list"
  stop_all
  rm -rf "$d"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

find_tags
scenarios="s2s s2c"
# Does this keyferry take a cluster source? (it refuses one with "a node of a cluster")
start_cluster redis 1 "$work/probe2" || exit 1
start_server valkey "$work/probe2-dst" || exit 1
if "$keyferry" sync --once --source "redis://127.0.0.1:${CLUSTER_PORTS[0]}" \
  --target "redis://127.0.0.1:$SERVER_PORT" >/dev/null 2>&1; then
  scenarios="s2s s2c c2c"
else
  echo "note: this keyferry refuses a cluster source; c2c skipped"
fi
stop_all

echo "keys: $keys in $shards groups; shards: $shards; repeats: $repeats; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= repeats; r++)); do
  for s in $scenarios; do run_once "$s" "$r"; done
done
base="$(echo "${times[s2s]}" | median)"
printf "%-5s %9s %10s %9s %12s  %s\n" scenario median_s keys/s vs_s2s kf_rss_MB target_rss
for s in $scenarios; do
  m="$(echo "${times[$s]}" | median)"
  printf "%-5s %9.2f %10.0f %9.2f %12s  %s\n" "$s" "$m" "$(awk -v k="$keys" -v t="$m" 'BEGIN{print k/t}')" \
    "$(awk -v a="$m" -v b="$base" 'BEGIN{print a/b}')" "$(echo "${rss_kf[$s]}" | tr ' ' '\n' | sort -n | tail -1)" \
    "${rss_targets[$s]}"
done
echo "(times: ${times[*]}; load after: $(cut -d' ' -f1-3 /proc/loadavg))"
