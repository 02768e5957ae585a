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

bench_setup restore redis-server redis-cli valkey-server valkey-cli awk /usr/bin/time

# The file.
start_server redis "$work/source" --enable-debug-command yes
populate_mixed "$SERVER_PORT" "$keys" "$aggregates"
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

ml="$(echo "$load_times" | median)"
mr="$(echo "$restore_times" | median)"
printf "%-8s %9s %12s\n" what median_s keys/s
printf "%-8s %9.3f %12.0f\n" load "$ml" "$(awk -v k="$total_keys" -v t="$ml" 'BEGIN{print k/t}')"
printf "%-8s %9.3f %12.0f\n" restore "$mr" "$(awk -v k="$total_keys" -v t="$mr" 'BEGIN{print k/t}')"
echo "restore/load: $(awk -v a="$mr" -v b="$ml" 'BEGIN{printf "%.2f", a/b}')  (keyferry peak RSS MB per run: $rss)"
echo "(every run: load $load_times s; restore $restore_times s)"
