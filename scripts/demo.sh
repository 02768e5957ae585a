#!/usr/bin/env bash
# make demo: the whole migration story on local servers, end to end.
#
# Starts a Redis 7 source with a dataset of every type (a function library and millisecond
# TTLs too) and a writer that records every write Redis acknowledges, then runs
# `keyferry plan` and `keyferry apply` to a Valkey 8 that keyferry provisions itself: full
# sync, catch-up, a short write pause, drain, verify, cutover hook, decommission of Redis.
# Afterwards it proves that every acknowledged write is in Valkey, prints the event log and
# a summary, and stops what it started. Everything runs on 127.0.0.1.
set -euo pipefail
BUILD=${BUILD:-build}
KF=$(realpath "$BUILD/src/cli/keyferry")
ACK=$(realpath "$BUILD/tests/kf_ack_writer")
WORK=$(mktemp -d /tmp/keyferry-demo-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -f "$WORK/state/target/valkey.pid" ]; then kill "$(cat "$WORK/state/target/valkey.pid")" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
SRC_PORT=$(free_port)
SRC=redis://127.0.0.1:$SRC_PORT
echo "== starting Redis $(redis-server --version | grep -o 'v=[0-9.]*') on :$SRC_PORT"
redis-server --port "$SRC_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --repl-diskless-sync-delay 0 --repl-backlog-size 64mb &
SRC_PID=$!
PIDS+=($SRC_PID)
for _ in $(seq 100); do redis-cli -p "$SRC_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
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

cat > "$WORK/cache.yaml" <<SPEC
name: demo-cache
state_dir: $WORK/state
source:
  uri: $SRC
target:
  engine: valkey
  version: "8.0"
  provider: local
migration:
  write_pause: at-cutover
  max_pause_ms: 5000
cutover:
  hook: "echo {uri} > $WORK/new-endpoint.txt"
after_cutover:
  source: shutdown
SPEC

echo "== keyferry plan"
"$KF" plan -f "$WORK/cache.yaml" | sed 's/^/   /'

echo "== a writer records every write Redis acknowledges (about 5,000 writes/s)"
"$ACK" write "$SRC" "$WORK/acked.txt" 5000 300 > "$WORK/writer.txt" &
WRITER=$!
PIDS+=($WRITER)
sleep 2

echo "== keyferry apply --auto-approve"
START=$(date +%s%N)
set +e
"$KF" apply -f "$WORK/cache.yaml" --auto-approve 2>&1 | sed 's/^keyferry apply: /   /'
APPLY_RC=${PIPESTATUS[0]}
set -e
END=$(date +%s%N)
if [ "$APPLY_RC" -ne 0 ]; then echo "keyferry apply failed (exit $APPLY_RC)"; exit 1; fi
# The writer stops by itself when Redis is shut down; give it a moment to write its record.
for _ in $(seq 100); do kill -0 "$WRITER" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$WRITER" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true

echo "== checking every acknowledged write is in Valkey"
NEW=$(cat "$WORK/new-endpoint.txt")
"$ACK" check "$NEW" "$WORK/acked.txt" | sed 's/^/   /'
if redis-cli -p "$SRC_PORT" ping >/dev/null 2>&1; then echo "Redis is still running"; exit 1; fi

PAUSE=$("$KF" events -f "$WORK/cache.yaml" --json | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("phase") == "CUTOVER" and e.get("kind") == "finish":
        print(e["data"].get("pause_ms"))
')
echo "== summary"
echo "   writer                 : $(cat "$WORK/writer.txt")"
echo "   keys migrated          : $(redis-cli -u "$NEW" dbsize) in db 0 (plus db 3)"
echo "   writes paused for      : ${PAUSE} ms"
echo "   apply took             : $(( (END - START) / 1000000 )) ms"
echo "   new endpoint           : $NEW (Redis on :$SRC_PORT was shut down)"
echo "   result                 : every acknowledged write is in Valkey"
