#!/usr/bin/env bash
# keyferry restore vs Valkey loading the same RDB file at startup (issue #12 §3): the
# target's own load speed is the limit a restore over the network can approach.
#
#   bench/restore_vs_load.sh
#
# Data: a Redis 7.0 saves KF_BENCH_KEYS small strings (default 500,000; DEBUG POPULATE,
# 32-byte values) plus KF_BENCH_AGGREGATES each of hashes (20 fields), lists (50 elements)
# and zsets (30 members) (default 20,000), then SAVE. Each repeat (KF_BENCH_REPEATS,
# default 3), interleaved:
#   load     a fresh valkey-server started with that file in its dir: the time it reports
#            in its log ("DB loaded from disk: X seconds");
#   restore  a fresh empty valkey-server and `keyferry restore FILE --target`: wall time
#            of the command, and keyferry's peak RSS (GNU time).
# Printed: the medians, keys/s, and restore/load (how many times longer than the load).
# Both run on this machine's 2 cores: the restore shares them between keyferry and the
# server, the load has the server alone.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
repeats="${KF_BENCH_REPEATS:-3}"
keys="${KF_BENCH_KEYS:-500000}"
aggregates="${KF_BENCH_AGGREGATES:-20000}"
source "$here/bench/lib/servers.sh"

for tool in redis-server redis-cli valkey-server valkey-cli awk /usr/bin/time; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found: run scripts/setup.sh first" >&2
    exit 2
  fi
done
[[ -x "$keyferry" ]] || { echo "keyferry not found at $keyferry (set BUILD_DIR)" >&2; exit 2; }

work="$(mktemp -d /tmp/kf-restore-bench.XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

stop_server() {
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The file.
start_server redis "$work/source" --enable-debug-command yes
[[ "$(redis-cli -p "$SERVER_PORT" DEBUG POPULATE "$keys" key 32)" == OK ]] || { echo "DEBUG POPULATE failed" >&2; exit 1; }
redis-cli -p "$SERVER_PORT" EVAL "
  for i = 1, tonumber(ARGV[1]) do
    local h, l, z = {}, {}, {}
    for f = 1, 20 do h[#h + 1] = 'f' .. f; h[#h + 1] = 'v' .. i .. ':' .. f end
    for e = 1, 50 do l[#l + 1] = 'e' .. e end
    for m = 1, 30 do z[#z + 1] = m * 1.5; z[#z + 1] = 'm' .. m end
    redis.call('HSET', 'hash:' .. i, unpack(h))
    redis.call('RPUSH', 'list:' .. i, unpack(l))
    redis.call('ZADD', 'zset:' .. i, unpack(z))
  end" 0 "$aggregates" >/dev/null
total_keys="$(redis-cli -p "$SERVER_PORT" DBSIZE)"
redis-cli -p "$SERVER_PORT" SAVE >/dev/null
file="$work/backup.rdb"
cp "$work/source/dump.rdb" "$file"
stop_server "$SERVER_PID"
echo "file: $(du -m "$file" | cut -f1) MB, $total_keys keys (redis $(redis-server --version | grep -o 'v=[0-9.]*'))"

load_times="" restore_times="" rss=""
for r in $(seq 1 "$repeats"); do
  d="$work/load-$r"
  mkdir -p "$d"
  cp "$file" "$d/dump.rdb"
  start_server valkey "$d" --dbfilename dump.rdb
  loaded="$(valkey-cli -p "$SERVER_PORT" DBSIZE)"
  [[ "$loaded" == "$total_keys" ]] || { echo "valkey loaded $loaded keys, not $total_keys" >&2; exit 1; }
  t="$(grep -o 'DB loaded from disk: [0-9.]* seconds' "$d/server.log" | awk '{print $5}')"
  load_times+="$t "
  stop_server "$SERVER_PID"

  d="$work/restore-$r"
  start_server valkey "$d"
  start=$(date +%s.%N)
  /usr/bin/time -f %M -o "$d/rss" "$keyferry" --log-level warn restore "$file" \
    --target "redis://127.0.0.1:$SERVER_PORT" 2>"$d/out"
  end=$(date +%s.%N)
  restored="$(valkey-cli -p "$SERVER_PORT" DBSIZE)"
  [[ "$restored" == "$total_keys" ]] || { echo "restore left $restored keys, not $total_keys" >&2; cat "$d/out" >&2; exit 1; }
  restore_times+="$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b-a}') "
  rss+="$(($(cat "$d/rss") / 1024)) "
  stop_server "$SERVER_PID"
  echo "run $r: load ${t} s, restore $(echo "$restore_times" | awk '{print $NF}') s"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ml="$(echo "$load_times" | median)"
mr="$(echo "$restore_times" | median)"
printf "%-8s %9s %12s\n" what median_s keys/s
printf "%-8s %9.3f %12.0f\n" load "$ml" "$(awk -v k="$total_keys" -v t="$ml" 'BEGIN{print k/t}')"
printf "%-8s %9.3f %12.0f\n" restore "$mr" "$(awk -v k="$total_keys" -v t="$mr" 'BEGIN{print k/t}')"
echo "restore/load: $(awk -v a="$mr" -v b="$ml" 'BEGIN{printf "%.2f", a/b}')  (keyferry peak RSS MB per run: $rss)"
echo "(every run: load $load_times s; restore $restore_times s)"
