#!/usr/bin/env bash
# Native replication vs `keyferry sync --once` on the same datasets (issue #4).
#
#   bench/sync_vs_replication.sh
#
# For each dataset the RDB file is built once (a scratch redis-server: DEBUG POPULATE for
# strings, redis-cli --pipe with generated RESP for hashes and lists, then SAVE). Each
# measurement then starts a fresh redis-server that loads that RDB (source, configured with
# repl-diskless-sync yes and repl-diskless-sync-delay 0 for both kinds of run) and a fresh,
# empty valkey-server (target), and times one of:
#   native:   `REPLICAOF <source>` on the target, until master_link_status:up and the
#             target's key count equals the source's;
#   keyferry: `keyferry sync --once --source ... --target ...` until it exits 0 (which
#             means everything is applied); its peak RSS is taken from GNU time (%M) or,
#             without it, by polling VmHWM in /proc/<pid>/status. The key count on the
#             target is checked afterwards.
# Each measurement is repeated KF_BENCH_REPEATS times (default 3) and the medians are
# printed: seconds, keys/s, the ratio keyferry/native (below 1.00 = keyferry faster),
# keyferry's CPU seconds (user + sys) and its peak RSS (the highest of the runs).
#
# Datasets (KF_BENCH_DATASETS, default "strings hashes lists"):
#   strings  2,000,000 small strings (DEBUG POPULATE, 32-byte values)
#   hashes   200,000 hashes of 50 fields (listpack-encoded)
#   lists    20 lists of 500,000 elements (quicklist)
# KF_BENCH_SCALE (default 1) multiplies every key/element count, e.g. 0.05 for a smoke run.
#
# Other settings: BUILD_DIR (default build; holds src/cli/keyferry), KF_BENCH_DATA_DIR
# (keep the built RDB files there and reuse them on the next run), KF_BENCH_KEYFERRY_ARGS
# (extra arguments for keyferry sync, e.g. "--writers 4"), KF_BENCH_TIMEOUT (seconds one
# measurement may take, default 600), KF_BENCH_DISKLESS_LOAD (the native replica's
# repl-diskless-load, default disabled = valkey's default).
#
# Every server listens on 127.0.0.1 on a free port, in a temporary directory; all of them
# are stopped by PID on exit. The numbers are for the machine this runs on: source, target
# and keyferry share its cores (2 on the project's machines).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
repeats="${KF_BENCH_REPEATS:-3}"
datasets="${KF_BENCH_DATASETS:-strings hashes lists}"
scale="${KF_BENCH_SCALE:-1}"
timeout_s="${KF_BENCH_TIMEOUT:-600}"
kf_extra="${KF_BENCH_KEYFERRY_ARGS:-}"
diskless_load="${KF_BENCH_DISKLESS_LOAD:-disabled}"

for tool in redis-server redis-cli valkey-server valkey-cli awk; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found: run scripts/setup.sh first" >&2
    exit 2
  fi
done
if [[ ! -x "$keyferry" ]]; then
  echo "keyferry not found at $keyferry: build it (cmake --build <dir> --target keyferry) and" \
    "set BUILD_DIR to that directory" >&2
  exit 2
fi
gnu_time=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  gnu_time=/usr/bin/time
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/kf-sync-bench.XXXXXX")"
data_dir="${KF_BENCH_DATA_DIR:-$work/data}"
mkdir -p "$data_dir"
pids=()

stop_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${pids[@]:-}"; do
    [[ -n "$pid" ]] && stop_pid "$pid"
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }

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
# port as a background job, sets SERVER_PID and SERVER_PORT, waits until it has finished
# loading its RDB. A port taken in between is retried with another one.
start_server() {
  local kind="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  local attempt
  for attempt in 1 2 3 4 5; do
    SERVER_PORT="$(free_port)"
    "$kind-server" --port "$SERVER_PORT" --bind 127.0.0.1 --dir "$dir" --save "" \
      --appendonly no --daemonize no --logfile "$dir/server.log" --protected-mode no "$@" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    local deadline=$((SECONDS + 300))
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
      # DBSIZE answers -LOADING until the RDB is loaded.
      if [[ "$("$kind-cli" -p "$SERVER_PORT" DBSIZE 2>/dev/null)" =~ ^[0-9]+$ ]]; then
        return 0
      fi
      if ((SECONDS > deadline)); then
        echo "$kind-server on port $SERVER_PORT did not become ready in 300 s" >&2
        return 1
      fi
      sleep 0.05
    done
  done
}

key_count() {  # CLI PORT
  "$1" -p "$2" INFO keyspace 2>/dev/null |
    awk -F'[=,:]' '/^db[0-9]+:/ { n += $3 } END { print n + 0 }'
}

# A count multiplied by KF_BENCH_SCALE, at least 1.
scaled() { awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s); print (v < 1 ? 1 : v) }'; }

# RESP generators for redis-cli --pipe.
gen_hashes() {  # COUNT FIELDS
  awk -v count="$1" -v fields="$2" 'BEGIN {
    ORS = "";
    for (i = 0; i < count; i++) {
      print "*" (2 + 2 * fields) "\r\n$4\r\nHSET\r\n";
      k = "hash:" i; print "$" length(k) "\r\n" k "\r\n";
      for (j = 0; j < fields; j++) {
        f = "field:" j; v = "value:" i ":" j;
        print "$" length(f) "\r\n" f "\r\n$" length(v) "\r\n" v "\r\n";
      }
    }
  }'
}

gen_lists() {  # COUNT ELEMENTS (RPUSH in batches of 1000)
  awk -v count="$1" -v elements="$2" 'BEGIN {
    ORS = "";
    for (i = 0; i < count; i++) {
      k = "list:" i;
      for (done = 0; done < elements; done += n) {
        n = elements - done; if (n > 1000) n = 1000;
        print "*" (2 + n) "\r\n$5\r\nRPUSH\r\n$" length(k) "\r\n" k "\r\n";
        for (j = done; j < done + n; j++) {
          e = "element:" j; print "$" length(e) "\r\n" e "\r\n";
        }
      }
    }
  }'
}

dataset_label() {
  case "$1" in
    strings) echo "$(scaled 2000000) strings" ;;
    hashes) echo "$(scaled 200000) hashes x 50 fields" ;;
    lists) echo "$(scaled 20) lists x $(scaled 500000) elements" ;;
  esac
}

# build_dataset NAME: writes $data_dir/NAME-<scale>.rdb unless it exists.
build_dataset() {
  local name="$1" file="$data_dir/$1-$scale.rdb"
  [[ -s "$file" ]] && return 0
  local dir="$work/build-$name"
  echo "building dataset $name ($(dataset_label "$name"))..." >&2
  start_server redis "$dir" --enable-debug-command yes
  local pid="$SERVER_PID" port="$SERVER_PORT"
  case "$name" in
    strings) redis-cli -p "$port" DEBUG POPULATE "$(scaled 2000000)" key 32 >/dev/null ;;
    hashes) gen_hashes "$(scaled 200000)" 50 | redis-cli -p "$port" --pipe >/dev/null ;;
    lists) gen_lists "$(scaled 20)" "$(scaled 500000)" | redis-cli -p "$port" --pipe >/dev/null ;;
    *)
      echo "unknown dataset $name (strings, hashes, lists)" >&2
      return 1
      ;;
  esac
  redis-cli -p "$port" CONFIG SET dbfilename dump.rdb >/dev/null
  redis-cli -p "$port" SAVE >/dev/null
  echo "  $(key_count redis-cli "$port") keys, $(stat -c %s "$dir/dump.rdb") bytes" >&2
  stop_pid "$pid"
  mv "$dir/dump.rdb" "$file"
  rm -rf "$dir"
}

# start_pair NAME RUN: a source loading the dataset and an empty target. Sets SRC_PORT,
# DST_PORT, SRC_PID, DST_PID, SRC_KEYS.
start_pair() {
  local name="$1" run="$2" rdb="$data_dir/$1-$scale.rdb"
  local dir="$work/run-$run"
  mkdir -p "$dir/source"
  ln -sf "$rdb" "$dir/source/dataset.rdb"
  start_server redis "$dir/source" --dbfilename dataset.rdb \
    --repl-diskless-sync yes --repl-diskless-sync-delay 0
  SRC_PID="$SERVER_PID"
  SRC_PORT="$SERVER_PORT"
  start_server valkey "$dir/target" --repl-diskless-load "$diskless_load"
  DST_PID="$SERVER_PID"
  DST_PORT="$SERVER_PORT"
  SRC_KEYS="$(key_count redis-cli "$SRC_PORT")"
}

stop_pair() {
  stop_pid "$SRC_PID"
  stop_pid "$DST_PID"
  rm -rf "$work/run-$1"
}

# One native run: prints seconds.
run_native() {
  local t0 t1 deadline=$((SECONDS + timeout_s))
  t0="$(now)"
  valkey-cli -p "$DST_PORT" REPLICAOF 127.0.0.1 "$SRC_PORT" >/dev/null
  while :; do
    if valkey-cli -p "$DST_PORT" INFO replication 2>/dev/null | grep -q '^master_link_status:up' &&
      [[ "$(key_count valkey-cli "$DST_PORT")" == "$SRC_KEYS" ]]; then
      break
    fi
    if ((SECONDS > deadline)); then
      echo "native replication did not finish in $timeout_s s" >&2
      return 1
    fi
    sleep 0.01
  done
  t1="$(now)"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# One keyferry run: prints "seconds rss_kb".
run_keyferry() {
  local run="$1" out="$work/kf-$1.out" rss_file="$work/kf-$1.rss" t0 t1 rc=0 pid hwm
  local extra=()
  read -ra extra <<<"$kf_extra"
  local cmd=("$keyferry" sync --once --source "redis://127.0.0.1:$SRC_PORT"
    --target "redis://127.0.0.1:$DST_PORT" "${extra[@]}")
  t0="$(now)"
  if [[ -n "$gnu_time" ]]; then
    timeout "$timeout_s" "$gnu_time" -f "%M %U %S" -o "$rss_file" "${cmd[@]}" >"$out" 2>&1 || rc=$?
  else
    timeout "$timeout_s" "${cmd[@]}" >"$out" 2>&1 &
    pid=$!
    pids+=("$pid")
    hwm=0
    while kill -0 "$pid" 2>/dev/null; do
      local kpid
      kpid="$(pgrep -P "$pid" -x keyferry || true)"
      [[ -n "$kpid" ]] || kpid="$pid"
      local v
      v="$(awk '/^VmHWM:/ { print $2 }' "/proc/$kpid/status" 2>/dev/null || true)"
      [[ -n "$v" && "$v" -gt "$hwm" ]] && hwm="$v"
      sleep 0.02
    done
    wait "$pid" || rc=$?
    echo "$hwm - -" >"$rss_file"
  fi
  t1="$(now)"
  if ((rc != 0)); then
    echo "keyferry sync exited with $rc; its output:" >&2
    tail -20 "$out" >&2
    return 1
  fi
  local got
  got="$(key_count valkey-cli "$DST_PORT")"
  if [[ "$got" != "$SRC_KEYS" ]]; then
    echo "keyferry sync exited 0 but the target holds $got keys, the source $SRC_KEYS" >&2
    return 1
  fi
  # seconds, peak RSS KB, CPU seconds (user + sys; "-" without GNU time)
  tail -1 "$rss_file" | awk -v a="$t0" -v b="$t1" '{
    printf "%.3f %d %s\n", b - a, $1, ($2 == "-" ? "-" : sprintf("%.2f", $2 + $3)) }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

results="$work/results"
: >"$results"
run_id=0
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "keyferry: $keyferry; $(redis-server --version | awk '{ print $1, $2, $3 }') ->" \
  "$(valkey-server --version | awk '{ print $1, $2, $3 }'); $(nproc) cores; $repeats runs each" >&2
for name in $datasets; do
  build_dataset "$name"
  native_times=()
  kf_times=()
  kf_rss=()
  kf_cpu=()
  keys=0
  for rep in $(seq 1 "$repeats"); do
    run_id=$((run_id + 1))
    start_pair "$name" "$run_id"
    keys="$SRC_KEYS"
    t="$(run_native)"
    native_times+=("$t")
    stop_pair "$run_id"

    run_id=$((run_id + 1))
    start_pair "$name" "$run_id"
    kf_out="$(run_keyferry "$run_id")"
    read -r t rss cpu <<<"$kf_out"
    kf_times+=("$t")
    kf_rss+=("$rss")
    kf_cpu+=("$cpu")
    stop_pair "$run_id"
    echo "  $name run $rep: native ${native_times[-1]} s, keyferry $t s (CPU $cpu s, peak RSS" \
      "$((rss / 1024)) MB)" >&2
  done
  nat="$(printf '%s\n' "${native_times[@]}" | median)"
  kf="$(printf '%s\n' "${kf_times[@]}" | median)"
  rss="$(printf '%s\n' "${kf_rss[@]}" | sort -g | tail -1)"
  cpu="$(printf '%s\n' "${kf_cpu[@]}" | median)"
  echo "$name|$(dataset_label "$name")|$keys|$nat|$kf|$rss|$cpu" >>"$results"
done

echo
echo "Native replication (REPLICAOF, diskless sync, repl-diskless-load $diskless_load) vs" \
  "keyferry sync --once${kf_extra:+ $kf_extra}; median of $repeats runs; ratio = keyferry/native time"
awk -F'|' 'BEGIN {
    printf "%-34s %9s %9s %11s %10s %12s %6s %8s %9s\n", "dataset", "keys", "native s",
      "native k/s", "keyferry s", "keyferry k/s", "ratio", "kf CPU s", "kf RSS MB";
  }
  {
    printf "%-34s %9d %9.2f %11.0f %10.2f %12.0f %6.2f %8s %9.1f\n", $2, $3, $4, $3 / $4, $5,
      $3 / $5, $5 / $4, ($7 == "-" ? "-" : sprintf("%.2f", $7)), $6 / 1024;
  }' "$results"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine" \
  "slows both kinds of run, keyferry's pipeline more: it runs source, target and keyferry at once)"
