#!/usr/bin/env bash
# keyferry sync in scan mode vs replica mode on the same data (issue #12 §2).
#
#   bench/scan_vs_replica.sh
#
# Data: a Redis 7.0 (notify-keyspace-events KEA) with KF_BENCH_KEYS small strings (default
# 300,000; DEBUG POPULATE, 32-byte values) and KF_BENCH_AGGREGATES each of 20-field hashes,
# 50-element lists and 30-member zsets (default 10,000). Each repeat (KF_BENCH_REPEATS,
# default 3), interleaved, into a fresh empty Valkey:
#   replica  keyferry sync --once             (PSYNC, the RDB streamed)
#   scan     keyferry sync --once --source-mode scan   (SCAN + DUMP + PEXPIRETIME)
# The source has repl-diskless-sync-delay 0: with the default 5 s delay, replica mode waits
# 5 s before the transfer starts, which would make it look slow.
# Printed: median seconds, keys/s, scan/replica, keyferry's peak RSS.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
repeats="${KF_BENCH_REPEATS:-3}"
keys="${KF_BENCH_KEYS:-300000}"
aggregates="${KF_BENCH_AGGREGATES:-10000}"
source "$here/bench/lib/servers.sh"

bench_setup scan redis-server redis-cli valkey-server valkey-cli awk /usr/bin/time

start_server redis "$work/source" --enable-debug-command yes --notify-keyspace-events KEA \
  --repl-diskless-sync-delay 0
source_port="$SERVER_PORT"
populate_mixed "$source_port" "$keys" "$aggregates"
total_keys="$(redis-cli -p "$source_port" DBSIZE)"
echo "source: $total_keys keys"

declare -A times rss
for r in $(seq 1 "$repeats"); do
  for mode in replica scan; do
    d="$work/$mode-$r"
    start_server valkey "$d"
    extra=()
    [[ "$mode" == scan ]] && extra=(--source-mode scan)
    start=$(date +%s.%N)
    /usr/bin/time -f %M -o "$d/rss" "$keyferry" --log-level warn sync --once \
      --source "redis://127.0.0.1:$source_port" --target "redis://127.0.0.1:$SERVER_PORT" \
      "${extra[@]}" 2>"$d/out"
    end=$(date +%s.%N)
    got="$(valkey-cli -p "$SERVER_PORT" DBSIZE)"
    [[ "$got" == "$total_keys" ]] || { echo "$mode left $got keys, not $total_keys" >&2; cat "$d/out" >&2; exit 1; }
    times[$mode]+="$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b-a}') "
    rss[$mode]+="$(($(cat "$d/rss") / 1024)) "
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  done
  echo "run $r: replica $(echo "${times[replica]}" | awk '{print $NF}') s, scan $(echo "${times[scan]}" | awk '{print $NF}') s"
done

mr="$(echo "${times[replica]}" | median)"
ms="$(echo "${times[scan]}" | median)"
printf "%-8s %9s %12s %8s\n" mode median_s keys/s rss_MB
for m in replica scan; do
  t="$(echo "${times[$m]}" | median)"
  printf "%-8s %9.3f %12.0f %8s\n" "$m" "$t" "$(awk -v k="$total_keys" -v t="$t" 'BEGIN{print k/t}')" \
    "$(echo "${rss[$m]}" | tr ' ' '\n' | sort -n | tail -1)"
done
echo "scan/replica: $(awk -v a="$ms" -v b="$mr" 'BEGIN{printf "%.2f", a/b}')"
echo "(every run: replica ${times[replica]}s; scan ${times[scan]}s)"
