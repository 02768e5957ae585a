#!/usr/bin/env bash
# keyferry's memory and time on big values, against native replication (issue #10).
#
#   bench/big_values.sh
#
# One dataset per run, each a single key in a Redis 7.0 source (with an expiry, so that
# the copy of the TTL is checked too):
#   random200   a 200 MiB string of random bytes (stored raw in the RDB)
#   random300   a 300 MiB string of random bytes
#   text200     a 200 MiB string of repeated text (stored LZF-compressed in the RDB)
#   list3m      a list of 3,000,000 elements of 32 bytes (quicklist of listpacks)
#   list3m-random  the same with random characters: its nodes do not compress, so the
#               RDB holds ~100 MB and keyferry gathers the first 64 MiB before it knows the
#               value is big (the worst case of the default threshold)
# For each dataset the RDB file is built once (a scratch redis-server, SAVE), then:
#   native:   a fresh source loading that RDB and an empty valkey-server 8.0 target, and
#             `REPLICAOF <source>` on the target, timed until master_link_status:up and the
#             key is there;
#   keyferry: a fresh pair again, and `keyferry sync --once` timed until it exits 0,
#             under GNU time for its peak RSS (max resident set, %M). Afterwards the
#             value is compared: length, DEBUG DIGEST-VALUE and PEXPIRETIME on both ends.
# The table gives both times, their ratio (keyferry / native) and keyferry's peak RSS.
#
# Settings: BUILD_DIR (default build; holds src/cli/keyferry), KF_BENCH_DATASETS (default
# "random200 random300 text200 list3m list3m-random"), KF_BENCH_DATA_DIR (keep the RDB files there and
# reuse them), KF_BENCH_KEYFERRY_ARGS (extra arguments for keyferry sync, e.g.
# "--big-key-threshold 8388608"), KF_BENCH_TIMEOUT (seconds per measurement, default 900).
# Servers listen on free 127.0.0.1 ports in a temporary directory and are stopped by PID
# on exit. Expect about 2.5 GB of RAM for the servers (the 300 MiB string is held by the
# source, the target and the source's fork while it saves).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
datasets="${KF_BENCH_DATASETS:-random200 random300 text200 list3m list3m-random}"
timeout_s="${KF_BENCH_TIMEOUT:-900}"
kf_extra="${KF_BENCH_KEYFERRY_ARGS:-}"
key="bench:big"
expire_ms=4102444800000 # 2100-01-01, far enough not to expire during the run

for tool in redis-server redis-cli valkey-server valkey-cli awk head yes; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found: run scripts/setup.sh first" >&2
    exit 2
  fi
done
if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  echo "GNU time (/usr/bin/time) not found: apt-get install time" >&2
  exit 2
fi
if [[ ! -x "$keyferry" ]]; then
  echo "keyferry not found at $keyferry: build it and set BUILD_DIR to that directory" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/kf-big-bench.XXXXXX")"
data_dir="${KF_BENCH_DATA_DIR:-$work/data}"
mkdir -p "$data_dir"
pids=()

stop_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
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

source "$here/bench/lib/servers.sh"  # free_port, start_server

dataset_label() {
  case "$1" in
    random200) echo "string, 200 MiB random (raw)" ;;
    random300) echo "string, 300 MiB random (raw)" ;;
    text200) echo "string, 200 MiB text (LZF)" ;;
    list3m) echo "list, 3M elements x 32 B" ;;
    list3m-random) echo "list, 3M random elements x 32 B" ;;
  esac
}

# RPUSH commands (RESP, batches of 1000) for the list: "element:" + a zero-padded number,
# or (random = 1) 32 random characters of 64.
gen_list() {
  awk -v key="$key" -v random="$1" 'BEGIN {
    ORS = ""; n = 3000000; srand(1);
    abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (done = 0; done < n; done += 1000) {
      print "*1002\r\n$5\r\nRPUSH\r\n$" length(key) "\r\n" key "\r\n";
      for (j = done; j < done + 1000; j++) {
        if (random) {
          e = "";
          for (c = 0; c < 32; c++) e = e substr(abc, 1 + int(rand() * 64), 1);
        } else {
          e = sprintf("element:%024d", j);
        }
        print "$32\r\n" e "\r\n";
      }
    }
  }'
}

# build_dataset NAME: writes $data_dir/NAME.rdb unless it exists.
build_dataset() {
  local name="$1" file="$data_dir/$1.rdb"
  [[ -s "$file" ]] && return 0
  local dir="$work/build-$name"
  echo "building dataset $name ($(dataset_label "$name"))..." >&2
  start_server redis "$dir" --enable-debug-command local
  local pid="$SERVER_PID" port="$SERVER_PORT"
  case "$name" in
    random200) head -c $((200 << 20)) /dev/urandom | redis-cli -p "$port" -x SET "$key" >/dev/null ;;
    random300) head -c $((300 << 20)) /dev/urandom | redis-cli -p "$port" -x SET "$key" >/dev/null ;;
    text200)
      # (yes ends on SIGPIPE when head has enough: not a failure here)
      (yes "keyferry copies big values in pieces, whatever their type; " || true) |
        head -c $((200 << 20)) | redis-cli -p "$port" -x SET "$key" >/dev/null
      ;;
    list3m) gen_list 0 | redis-cli -p "$port" --pipe >/dev/null ;;
    list3m-random) gen_list 1 | redis-cli -p "$port" --pipe >/dev/null ;;
    *)
      echo "unknown dataset $name (random200, random300, text200, list3m, list3m-random)" >&2
      return 1
      ;;
  esac
  redis-cli -p "$port" PEXPIREAT "$key" "$expire_ms" >/dev/null
  redis-cli -p "$port" CONFIG SET dbfilename dump.rdb >/dev/null
  redis-cli -p "$port" SAVE >/dev/null
  echo "  $(redis-cli -p "$port" TYPE "$key") of $(redis-cli -p "$port" MEMORY USAGE "$key")" \
    "bytes in memory, RDB file $(stat -c %s "$dir/dump.rdb") bytes" >&2
  stop_pid "$pid"
  mv "$dir/dump.rdb" "$file"
  rm -rf "$dir"
}

# start_pair NAME RUN: a source loading the dataset and an empty target; sets SRC_PORT,
# DST_PORT, SRC_PID, DST_PID.
start_pair() {
  local dir="$work/run-$2"
  mkdir -p "$dir/source"
  ln -sf "$data_dir/$1.rdb" "$dir/source/dataset.rdb"
  start_server redis "$dir/source" --enable-debug-command local --dbfilename dataset.rdb \
    --repl-diskless-sync yes --repl-diskless-sync-delay 0
  SRC_PID="$SERVER_PID"
  SRC_PORT="$SERVER_PORT"
  start_server valkey "$dir/target" --enable-debug-command local
  DST_PID="$SERVER_PID"
  DST_PORT="$SERVER_PORT"
}

stop_pair() {
  stop_pid "$SRC_PID"
  stop_pid "$DST_PID"
  rm -rf "$work/run-$1"
}

# Length, digest and expiry of the key: "len digest pexpiretime".
describe_key() { # CLI PORT
  local len
  case "$("$1" -p "$2" TYPE "$key")" in
    string) len="$("$1" -p "$2" STRLEN "$key")" ;;
    list) len="$("$1" -p "$2" LLEN "$key")" ;;
    *) len="?" ;;
  esac
  echo "$len $("$1" -p "$2" DEBUG DIGEST-VALUE "$key") $("$1" -p "$2" PEXPIRETIME "$key")"
}

# Native replication: prints seconds.
run_native() {
  local t0 t1 deadline=$((SECONDS + timeout_s))
  t0="$(now)"
  valkey-cli -p "$DST_PORT" REPLICAOF 127.0.0.1 "$SRC_PORT" >/dev/null
  while :; do
    if valkey-cli -p "$DST_PORT" INFO replication 2>/dev/null | grep -q '^master_link_status:up' &&
      [[ "$(valkey-cli -p "$DST_PORT" EXISTS "$key" 2>/dev/null)" == 1 ]]; then
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

# keyferry sync --once: prints "seconds peak_rss_kb cpu_seconds"; checks the copy.
run_keyferry() {
  local out="$work/kf-$1.out" rss_file="$work/kf-$1.rss" t0 t1 rc=0
  local extra=()
  read -ra extra <<<"$kf_extra"
  t0="$(now)"
  timeout "$timeout_s" /usr/bin/time -f "%M %U %S" -o "$rss_file" "$keyferry" sync --once \
    --source "redis://127.0.0.1:$SRC_PORT" --target "redis://127.0.0.1:$DST_PORT" \
    "${extra[@]}" >"$out" 2>&1 || rc=$?
  t1="$(now)"
  if ((rc != 0)); then
    echo "keyferry sync exited with $rc; its output:" >&2
    tail -20 "$out" >&2
    return 1
  fi
  local want got
  want="$(describe_key redis-cli "$SRC_PORT")"
  got="$(describe_key valkey-cli "$DST_PORT")"
  if [[ "$want" != "$got" ]]; then
    echo "keyferry sync exited 0 but the target's value differs: source (length digest" \
      "expiry) $want, target $got" >&2
    return 1
  fi
  echo "  value checked on both ends (length digest expiry): $got" >&2
  tail -1 "$rss_file" | awk -v a="$t0" -v b="$t1" '{ printf "%.3f %d %.2f\n", b - a, $1, $2 + $3 }'
}

results="$work/results"
: >"$results"
run_id=0
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "keyferry: $keyferry${kf_extra:+ $kf_extra}; $(redis-server --version | awk '{ print $1, $2, $3 }')" \
  "-> $(valkey-server --version | awk '{ print $1, $2, $3 }'); $(nproc) cores" >&2
for name in $datasets; do
  build_dataset "$name"
  run_id=$((run_id + 1))
  start_pair "$name" "$run_id"
  nat="$(run_native)"
  stop_pair "$run_id"
  run_id=$((run_id + 1))
  start_pair "$name" "$run_id"
  read -r kf rss cpu <<<"$(run_keyferry "$run_id")"
  stop_pair "$run_id"
  echo "  $name: native $nat s, keyferry $kf s (CPU $cpu s, peak RSS $((rss / 1024)) MB)" >&2
  echo "$(dataset_label "$name")|$(stat -L -c %s "$data_dir/$name.rdb")|$nat|$kf|$cpu|$rss" >>"$results"
done

echo
echo "Native replication (REPLICAOF, diskless sync) vs keyferry sync --once${kf_extra:+ $kf_extra};" \
  "one run each; ratio = keyferry/native time"
awk -F'|' 'BEGIN {
    printf "%-30s %10s %9s %10s %6s %8s %12s\n", "dataset", "RDB MB", "native s", "keyferry s",
      "ratio", "kf CPU s", "kf RSS MB";
  }
  {
    printf "%-30s %10.1f %9.2f %10.2f %6.2f %8.2f %12.1f\n", $1, $2 / 1048576, $3, $4, $4 / $3,
      $5, $6 / 1024;
  }' "$results"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
