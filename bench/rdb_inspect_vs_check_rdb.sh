#!/usr/bin/env bash
# Times `keyferry rdb inspect` against `valkey-check-rdb` on the same RDB file and prints
# both wall-clock times and their ratio.
#
#   bench/rdb_inspect_vs_check_rdb.sh [FILE]
#
# Without FILE, a >= 512 MB file is generated with rdb_reader_bench --write-rdb (size from
# KF_BENCH_RDB_MB). BUILD_DIR (default build) names the build holding keyferry and the
# benchmark. Both tools read the whole file and verify its CRC64.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
generator="$build/bench/rdb_reader_bench"
check="$(command -v valkey-check-rdb || true)"

if [[ ! -x "$keyferry" ]]; then
  echo "keyferry not found at $keyferry (set BUILD_DIR)" >&2
  exit 2
fi
if [[ -z "$check" ]]; then
  echo "valkey-check-rdb not found (install valkey-tools / valkey-server)" >&2
  exit 2
fi

file="${1:-}"
if [[ -z "$file" ]]; then
  mb="${KF_BENCH_RDB_MB:-512}"
  file="${TMPDIR:-/tmp}/keyferry-bench-${mb}mb.rdb"
  if [[ ! -s "$file" || $(stat -c %s "$file") -lt $((mb * 1048576)) ]]; then
    echo "generating $file ($mb MB)..." >&2
    "$generator" --write-rdb="$file" --mb="$mb"
  fi
fi

size=$(stat -c %s "$file")
now() { date +%s.%N; }

# Warm the page cache so both runs read from memory.
cat "$file" > /dev/null

t0=$(now)
"$keyferry" rdb inspect "$file" > /dev/null
t1=$(now)
"$check" "$file" > /dev/null
t2=$(now)

awk -v a="$t0" -v b="$t1" -v c="$t2" -v size="$size" 'BEGIN {
  k = b - a; v = c - b;
  printf "file:                      %d bytes\n", size;
  printf "keyferry rdb inspect:      %.3f s (%.0f MB/s)\n", k, size / k / 1e6;
  printf "valkey-check-rdb:          %.3f s (%.0f MB/s)\n", v, size / v / 1e6;
  printf "ratio (check-rdb / keyferry): %.2fx\n", v / k;
}'
