# Shared by the bench scripts (sourced, not run): free loopback ports and servers started
# on them. The caller keeps a `pids` array (every started server is appended, for its
# cleanup trap).

# A port that nothing listens on, below the ephemeral range (so that no outgoing
# connection holds it either).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# start_server KIND DIR [extra config...]: starts redis-server or valkey-server on a free
# port as a background job, sets SERVER_PID and SERVER_PORT, and waits until it answers
# DBSIZE (which answers -LOADING until an RDB is loaded), at most SERVER_READY_TIMEOUT
# seconds (default 300). A port taken in between is retried with another one.
start_server() {
  local kind="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  local attempt
  for attempt in 1 2 3 4 5; do
    SERVER_PORT="$(free_port)" || return 1
    "$kind-server" --port "$SERVER_PORT" --bind 127.0.0.1 --dir "$dir" --save "" \
      --appendonly no --daemonize no --logfile "$dir/server.log" --protected-mode no "$@" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    local deadline=$((SECONDS + ${SERVER_READY_TIMEOUT:-300}))
    while :; do
      if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" 2>/dev/null || true
        if grep -q "Address already in use" "$dir/server.log" && ((attempt < 5)); then
          : >"$dir/server.log"
          continue 2
        fi
        echo "$kind-server on port $SERVER_PORT exited; its log:" >&2
        tail -20 "$dir/server.log" >&2
        return 1
      fi
      if [[ "$("$kind-cli" -p "$SERVER_PORT" DBSIZE 2>/dev/null)" =~ ^[0-9]+$ ]]; then
        return 0
      fi
      if ((SECONDS > deadline)); then
        echo "$kind-server on port $SERVER_PORT did not become ready in ${SERVER_READY_TIMEOUT:-300} s" >&2
        return 1
      fi
      sleep 0.05
    done
  done
}

# start_cluster KIND N DIR [extra config...]: N cluster-enabled primaries of KIND (redis or valkey) started
# with start_server under DIR/node-i, the 16384 slots split evenly in order, met and
# waited for until every node says cluster_state:ok (at most 60 s). Sets CLUSTER_PORTS
# (node i serves slot range i) and appends the pids to `pids`.
start_cluster() {
  local kind="$1" n="$2" dir="$3" i
  shift 3
  CLUSTER_PORTS=()
  for ((i = 0; i < n; i++)); do
    start_server "$kind" "$dir/node-$i" --cluster-enabled yes \
      --cluster-config-file "$dir/node-$i/nodes.conf" --cluster-node-timeout 5000 "$@" || return 1
    CLUSTER_PORTS+=("$SERVER_PORT")
  done
  for ((i = 0; i < n; i++)); do
    local first=$((i * 16384 / n)) last=$(((i + 1) * 16384 / n - 1))
    "$kind-cli" -p "${CLUSTER_PORTS[$i]}" CLUSTER ADDSLOTSRANGE "$first" "$last" >/dev/null
    if ((i > 0)); then
      "$kind-cli" -p "${CLUSTER_PORTS[$i]}" CLUSTER MEET 127.0.0.1 "${CLUSTER_PORTS[0]}" >/dev/null
    fi
  done
  local deadline=$((SECONDS + 60)) port
  for port in "${CLUSTER_PORTS[@]}"; do
    until "$kind-cli" -p "$port" CLUSTER INFO 2>/dev/null | grep -q "cluster_state:ok"; do
      if ((SECONDS > deadline)); then
        echo "the $kind cluster under $dir did not reach cluster_state:ok in 60 s" >&2
        return 1
      fi
      sleep 0.1
    done
  done
}

# bench_setup NAME TOOL...: exits 2 naming the first TOOL (or keyferry, from $keyferry)
# that is missing; then makes the work directory $work (/tmp/kf-NAME-bench.*), the `pids`
# array, and an EXIT trap that SIGKILLs every server started and removes $work.
bench_setup() {
  local name="$1" tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/setup.sh first" >&2; exit 2; }
  done
  [[ -x "$keyferry" ]] || { echo "keyferry not found at $keyferry (set BUILD_DIR)" >&2; exit 2; }
  work="$(mktemp -d "/tmp/kf-$name-bench.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# stop_server PID: SIGKILL one server started by start_server, and reap it.
stop_server() {
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# populate_mixed PORT KEYS AGGREGATES: on the Redis at PORT (started with
# --enable-debug-command yes), KEYS 32-byte strings (DEBUG POPULATE, "key:N") and
# AGGREGATES each of 20-field hashes, 50-element lists and 30-member zsets.
populate_mixed() {
  local port="$1" keys="$2" aggregates="$3"
  [[ "$(redis-cli -p "$port" DEBUG POPULATE "$keys" key 32)" == OK ]] || { echo "DEBUG POPULATE failed" >&2; return 1; }
  redis-cli -p "$port" EVAL "
    for i = 1, tonumber(ARGV[1]) do
      local h, l, z = {}, {}, {}
      for f = 1, 20 do h[#h + 1] = 'f' .. f; h[#h + 1] = 'v' .. i .. ':' .. f end
      for e = 1, 50 do l[#l + 1] = 'e' .. e end
      for m = 1, 30 do z[#z + 1] = m * 1.5; z[#z + 1] = 'm' .. m end
      redis.call('HSET', 'hash:' .. i, unpack(h))
      redis.call('RPUSH', 'list:' .. i, unpack(l))
      redis.call('ZADD', 'zset:' .. i, unpack(z))
    end" 0 "$aggregates" >/dev/null
}

# median: the median of the numbers on stdin (space or newline separated).
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
