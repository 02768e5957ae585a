#!/usr/bin/env bash
# make demo: a live Redis 7 → Valkey 8 sync on local servers, end to end.
#
# Starts a Redis source with a generated dataset of every type (and a function library and
# millisecond TTLs) plus a writer process, an empty Valkey target, runs `keyferry sync`
# while the writer keeps writing, stops the writer, waits until the target has applied
# every offset, stops keyferry with SIGTERM, compares both ends canonically and prints a
# summary. Everything it starts runs on 127.0.0.1 and is stopped at the end.
set -euo pipefail
BUILD=${BUILD:-build}
KF=$BUILD/src/cli/keyferry
DIFF=$BUILD/tests/kf_dataset_diff
WORK=$(mktemp -d /tmp/keyferry-demo-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
SRC_PORT=$(free_port); DST_PORT=$(free_port)
SRC=redis://127.0.0.1:$SRC_PORT; DST=redis://127.0.0.1:$DST_PORT
echo "== starting Redis $(redis-server --version | grep -o 'v=[0-9.]*') on :$SRC_PORT and Valkey $(valkey-server --version | grep -o 'v=[0-9.]*') on :$DST_PORT"
redis-server --port "$SRC_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --repl-diskless-sync-delay 0 --repl-backlog-size 64mb &
PIDS+=($!)
valkey-server --port "$DST_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/valkey.log" &
PIDS+=($!)
for port in "$SRC_PORT" "$DST_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
rc() { redis-cli -p "$SRC_PORT" "$@" >/dev/null; }

echo "== generating a dataset of every type"
redis-benchmark -p "$SRC_PORT" -q -n 200000 -r 200000 -P 32 -t set,lpush,sadd,hset,zadd >/dev/null
for db in 0 3; do
  rc -n $db SET str:int 12345; rc -n $db SET str:bin "$(printf 'a\tb')"; rc -n $db SET str:ttl x PX 7200000
  rc -n $db RPUSH list:small a b c; rc -n $db SADD set:int 1 2 3; rc -n $db SADD set:str a b c
  rc -n $db ZADD zset 1e-07 tiny 1e300 huge inf top -inf bottom 2.5 mid
  rc -n $db HSET hash f1 v1 f2 v2; rc -n $db PFADD hll a b c; rc -n $db SETBIT bitmap 4096 1
  rc -n $db GEOADD geo 13.361389 38.115556 Palermo
  for i in $(seq 20); do rc -n $db XADD stream "*" n "$i"; done
  rc -n $db XGROUP CREATE stream g1 0; rc -n $db XREADGROUP GROUP g1 alice COUNT 5 STREAMS stream ">"
  rc -n $db PEXPIRE hash 3600123
done
rc FUNCTION LOAD REPLACE "#!lua name=demo
redis.register_function('demo_echo', function(keys, args) return args[1] end)"
KEYS=$(redis-cli -p "$SRC_PORT" info keyspace | grep -o 'keys=[0-9]*' | cut -d= -f2 | awk '{s+=$1} END {print s}')
echo "   $KEYS keys in dbs 0 and 3, one function library"

echo "== starting a writer on the source and keyferry sync"
redis-benchmark -p "$SRC_PORT" -q -n 100000000 -r 100000 -P 4 -t set,incr,lpush,rpop,sadd,hset,zadd,xadd \
  >/dev/null 2>&1 &
WRITER=$!
PIDS+=($WRITER)
START=$(date +%s%N)
"$KF" sync --source "$SRC" --target "$DST" --checkpoint "$WORK/checkpoint.json" --json-progress \
  >"$WORK/progress.jsonl" 2>"$WORK/keyferry.log" &
SYNC=$!
PIDS+=($SYNC)
sleep 6
kill "$WRITER"; wait "$WRITER" 2>/dev/null || true
echo "== writer stopped; waiting for the target to apply every offset"
for _ in $(seq 600); do
  info=$(redis-cli -p "$SRC_PORT" info replication | tr -d '\r')
  master=$(echo "$info" | sed -n 's/^master_repl_offset://p')
  acked=$(echo "$info" | sed -n 's/^slave0:.*offset=\([0-9]*\).*/\1/p')
  [ -n "$acked" ] && [ "$acked" = "$master" ] && break
  sleep 0.1
done
kill -TERM "$SYNC"
set +e; wait "$SYNC"; SYNC_RC=$?; set -e
END=$(date +%s%N)
if [ "$SYNC_RC" -ne 0 ]; then echo "keyferry sync failed (exit $SYNC_RC):"; cat "$WORK/keyferry.log"; exit 1; fi

echo "== comparing source and target (canonical content, TTLs to the millisecond, functions)"
if ! "$DIFF" "$SRC" "$DST"; then echo "DIFFERENCES FOUND"; exit 1; fi
tail -n 1 "$WORK/progress.jsonl" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
elapsed = (int(sys.argv[2]) - int(sys.argv[1])) / 1e9
keys, snap_bytes = s["keys_written"], s["snapshot_bytes"]
snap = s["snapshot_ms"] / 1000.0 or 1e-9
mib = snap_bytes / 1048576
print("== summary")
print("   keys copied in the snapshot : %d" % keys)
print("   snapshot                    : %.1f MiB in %.2f s (%.0f keys/s, %.1f MiB/s)" % (mib, snap, keys / snap, mib / snap))
print("   stream commands applied     : %d" % s["commands_applied"])
print("   final lag                   : %d bytes (applied offset %d)" % (s["lag_bytes"], s["applied_offset"]))
print("   total time                  : %.1f s" % elapsed)
print("   result                      : source and target hold the same data")
' "$START" "$END"
