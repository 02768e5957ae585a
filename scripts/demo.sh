#!/usr/bin/env bash
# make demo: the whole migration story on local servers, end to end.
#
# Starts a Redis 7 source with a dataset of every type (a function library and millisecond
# TTLs too) and an application writing to it all the time (kf_app_workload: seven threads
# with sessions under TTLs, counters, a leaderboard, a job queue, a stream with a consumer
# group, MULTI/EXEC transfers and a Lua script, each recording what Redis acknowledged and
# reading its endpoint from a file). Then runs `keyferry plan` and `keyferry apply` to a
# Valkey 8 that keyferry provisions itself: full sync, catch-up, a short write pause, drain,
# verify, the cutover hook (which rewrites the application's endpoint file), decommission
# of Redis. The application follows to Valkey and writes there 2 s more; then the check
# proves Valkey holds exactly what the application was told. Prints the event log and a
# summary (the pause as the journal and as the application saw it) and stops what it
# started. Exit 0 only when apply and the check both succeed. Everything runs on 127.0.0.1.
#
# The dashboard (docs/observe.md): its URL is printed first. apply serves it while it runs
# (--listen), then `keyferry status --listen` serves the same URL from the journal until the
# demo ends; DEMO_LINGER_S=<seconds> keeps it up that much longer at the end.
set -euo pipefail
BUILD=${BUILD:-build}
KF=$(realpath "$BUILD/src/cli/keyferry")
APP=$(realpath "$BUILD/tests/kf_app_workload")
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
DASH_PORT=$(free_port)
DASH_URL="http://127.0.0.1:$DASH_PORT/"
echo "dashboard: $DASH_URL (open it now: it is served while the demo runs)"
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
  hook: "echo {uri} > $WORK/endpoint.txt"
after_cutover:
  source: shutdown
SPEC

echo "== keyferry plan"
"$KF" plan -f "$WORK/cache.yaml" | sed 's/^/   /'

echo "== an application writes all the time: sessions (SET PX), counters, a leaderboard, a job"
echo "   queue, a stream with a consumer group, MULTI/EXEC transfers, a Lua script; 7 threads,"
echo "   about 6,000 operations/s, each recording what Redis acknowledged"
echo "$SRC" > "$WORK/endpoint.txt"
"$APP" run --endpoint-file "$WORK/endpoint.txt" --record "$WORK/record" \
  > "$WORK/app.txt" 2> "$WORK/app.err" &
APP_PID=$!
PIDS+=($APP_PID)
sleep 2
if ! kill -0 "$APP_PID" 2>/dev/null; then
  echo "the application did not start:"; sed 's/^/   /' "$WORK/app.txt" "$WORK/app.err"; exit 1
fi

echo "== keyferry apply --auto-approve"
START=$(date +%s%N)
set +e
"$KF" apply -f "$WORK/cache.yaml" --auto-approve --listen "127.0.0.1:$DASH_PORT" 2>&1 |
  sed 's/^keyferry apply: /   /'
APPLY_RC=${PIPESTATUS[0]}
set -e
END=$(date +%s%N)
# apply's server went away with it: the same URL is served from the journal from now on.
"$KF" status -f "$WORK/cache.yaml" --listen "127.0.0.1:$DASH_PORT" > "$WORK/status.txt" 2>&1 &
PIDS+=($!)
echo "   dashboard: $DASH_URL now served by keyferry status --listen (from the journal)"
stop_app() {
  kill -TERM "$APP_PID" 2>/dev/null || true
  set +e
  wait "$APP_PID"
  APP_RC=$?
  set -e
}
if [ "$APPLY_RC" -ne 0 ]; then
  stop_app
  echo "keyferry apply failed (exit $APPLY_RC); the application stayed on Redis:"
  sed 's/^/   /' "$WORK/app.txt" "$WORK/app.err"
  exit 1
fi
NEW=$(cat "$WORK/endpoint.txt")
echo "== the application follows the hook to $NEW; it writes there 2 s more"
sleep 2
stop_app
sed 's/^/   /' "$WORK/app.txt" "$WORK/app.err"

echo "== checking that Valkey holds exactly what the application was told"
set +e
"$APP" check --endpoint-file "$WORK/endpoint.txt" --record "$WORK/record" | sed 's/^/   /'
CHECK_RC=${PIPESTATUS[0]}
set -e
REDIS_UP=no
if redis-cli -p "$SRC_PORT" ping >/dev/null 2>&1; then REDIS_UP=yes; fi

# The journal's pause, and the phase in which the application's longest wait began.
app_field() { sed -n "s/^app_workload.* $1=\([0-9.]*\).*/\1/p" "$WORK/app.txt"; }
read -r PAUSE WAIT_PHASE < <("$KF" events -f "$WORK/cache.yaml" --json | python3 -c '
import json, sys
began = int(sys.argv[1] or 0)
pause, phase = "?", "before-the-migration"
for line in sys.stdin:
    e = json.loads(line)
    if e.get("phase") == "CUTOVER" and e.get("kind") == "finish":
        pause = e["data"].get("pause_ms")
    if e.get("time_ms", 0) <= began:
        if e.get("kind") == "start":
            phase = e["phase"]
        if e.get("phase") == "DONE" and e.get("kind") == "finish":
            phase = "after-the-migration"
print(pause, phase)
' "$(app_field longest_wait_start_ms)")
row() { printf '   %-25s: %s\n' "$1" "$2"; }
echo "== summary"
row "application" "$(app_field ops_per_s) operations/s over 7 threads, $(app_field answered) answered, $(app_field uncertain) uncertain, $(app_field errors) refused"
row "longest application wait" "$(app_field longest_wait_ms) ms, beginning in ${WAIT_PHASE//-/ } (a call's start to its thread's next answer, reconnect included; longest single call $(app_field longest_call_ms) ms)"
row "reconnects" "$(app_field reconnects)"
row "writes paused for" "${PAUSE} ms (the journal's CUTOVER pause_ms)"
row "keys migrated" "$(redis-cli -u "$NEW" dbsize) in db 0 (plus db 3)"
row "apply took" "$(( (END - START) / 1000000 )) ms"
row "new endpoint" "$NEW (Redis on :$SRC_PORT shut down: $([ $REDIS_UP = no ] && echo yes || echo NO))"
if [ "$CHECK_RC" -eq 0 ] && [ "$APP_RC" -eq 0 ] && [ "$REDIS_UP" = no ]; then
  row result "Valkey holds exactly what the application was told"
  DEMO_RC=0
else
  row result "FAILED (check exit $CHECK_RC, application exit $APP_RC, Redis still up: $REDIS_UP)"
  DEMO_RC=1
fi
if [ "${DEMO_LINGER_S:-0}" -gt 0 ]; then
  echo "dashboard: $DASH_URL stays up ${DEMO_LINGER_S} s more (DEMO_LINGER_S)"
  sleep "$DEMO_LINGER_S"
fi
echo "dashboard: $DASH_URL goes away now (the demo stops what it started)"
exit "$DEMO_RC"
