#!/usr/bin/env bash
# Verify throughput and memory: `keyferry verify` on 1 million keys of mixed types
# (Redis 7.0 source, Valkey 8.0 target holding the same data), then again with a 1 GiB
# hash added to both ends, printing keys/s and keyferry's peak RSS for each run.
#
#   bench/verify_bench.sh
#
# Environment: BUILD_DIR (default build) holds keyferry; KF_BENCH_KEYS (default 1000000)
# the number of mixed keys; KF_BENCH_HASH_MB (default 1024) the size of the big hash's
# values in MiB (0 skips that part). Needs redis-server, valkey-server, redis-cli,
# python3 and GNU time. Both servers run on free loopback ports in a temp dir and are
# stopped by PID on exit. Expect ~3 GiB of RAM for the servers with the 1 GiB hash.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
keys="${KF_BENCH_KEYS:-1000000}"
hash_mb="${KF_BENCH_HASH_MB:-1024}"

for tool in redis-server valkey-server redis-cli python3 /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "verify_bench: $tool not found" >&2; exit 2; }
done
[[ -x "$keyferry" ]] || { echo "verify_bench: keyferry not found at $keyferry (set BUILD_DIR)" >&2; exit 2; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/kf-verify-bench.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {  # binary port -> starts a server without persistence, waits for PING
  local bin=$1 port=$2
  mkdir -p "$dir/$port"
  "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/$port" \
    --logfile "$dir/$port/log" &
  pids+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$port" ping 2> /dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "verify_bench: $bin did not start on port $port" >&2
  exit 2
}

sport=$(free_port); start redis-server "$sport"
tport=$(free_port); start valkey-server "$tport"
source_uri="redis://127.0.0.1:$sport"
target_uri="redis://127.0.0.1:$tport"

# RESP commands for $keys keys of mixed types (deterministic, absolute expiries), written
# once and piped into both servers so both hold exactly the same data.
python3 - "$keys" > "$dir/mixed.resp" << 'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
far = 4102444800000
for i in range(n):
    k = "k:%d" % i
    kind = i % 20
    if kind < 8:
        cmd("SET", k, "value-%d-%s" % (i, "x" * (i % 50)))
    elif kind < 10:
        cmd("SET", k, "ttl-%d" % i); cmd("PEXPIREAT", k, far + i)
    elif kind < 13:
        cmd("HSET", k, "a", i, "b", "bee", "c", "sea", "d", i * 3, "e", "eee")
    elif kind < 16:
        cmd("RPUSH", k, "one", "two", i, "four", "five")
    elif kind < 17:
        cmd("SADD", k, "m1", "m2", i, "m4", "m5")
    elif kind < 19:
        cmd("ZADD", k, 1, "a", 2.5, "b", i / 7.0, "c", 1e-7, "d", -3, "e")
    else:
        cmd("XADD", k, "1-1", "f", i); cmd("XADD", k, "1-2", "f", "g")
EOF

load() {  # port file
  redis-cli -p "$1" --pipe < "$2" > "$dir/pipe.log" 2>&1 || { cat "$dir/pipe.log" >&2; exit 2; }
}
echo "loading $keys mixed keys into both ends..." >&2
load "$sport" "$dir/mixed.resp"
load "$tport" "$dir/mixed.resp"
rm -f "$dir/mixed.resp"

run_verify() {  # label, extra args...
  local label=$1
  shift
  local rc=0
  /usr/bin/time -f "%M %e" -o "$dir/time" "$keyferry" verify --source "$source_uri" \
    --target "$target_uri" --json "$@" > "$dir/report.json" 2> "$dir/stderr" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "verify_bench: verify ($label) exited $rc" >&2
    cat "$dir/stderr" "$dir/report.json" >&2
    exit 2
  fi
  read -r rss_kb wall < "$dir/time"
  python3 - "$label" "$rss_kb" "$wall" "$dir/report.json" << 'EOF'
import json, sys
label, rss_kb, wall, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
print("%-34s %9d keys  %8.2f s  %9.0f keys/s  peak RSS %7.1f MiB  windowed %d  result %s"
      % (label, r["source_keys_checked"], wall, r["keys_per_second"], rss_kb / 1024.0,
         r["big_keys_windowed"], r["result"]))
EOF
}

echo "keyferry verify, $keys mixed keys, Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') -> Valkey $(valkey-server --version | sed 's/.*v=\([^ ]*\).*/\1/'):"
run_verify "full (DUMP + logical compare)"
run_verify "keys (existence, type, TTL)" --mode keys
run_verify "sample:0.1" --mode sample:0.1 --seed 1

if [[ "$hash_mb" -gt 0 ]]; then
  fields=$((hash_mb * 1024))  # 1 KiB values
  echo "adding a hash of $fields fields x 1 KiB (${hash_mb} MiB of values) to both ends..." >&2
  python3 - "$fields" > "$dir/hash.resp" << 'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(0, n, 100):
    args = [b"HSET", b"bighash"]
    for j in range(i, min(i + 100, n)):
        f = b"field:%d" % j
        v = (b"%010d" % j) * 102 + b"1234"  # 1024 bytes
        args += [f, v]
    out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
EOF
  load "$sport" "$dir/hash.resp"
  load "$tport" "$dir/hash.resp"
  rm -f "$dir/hash.resp"
  echo "source used_memory: $(redis-cli -p "$sport" info memory | grep '^used_memory_human' | tr -d '\r')" >&2
  run_verify "full, with the 1 GiB hash" 
  run_verify "only the 1 GiB hash (windowed)" --match bighash --no-functions
fi
echo "(keys/s = keys compared in the first pass per second; sample mode compares ~10% of the"
echo " keys it scans. Machine: $(nproc) cores, load average$(uptime | sed 's/.*load average//'))"
