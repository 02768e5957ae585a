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
native_loads="${KF_BENCH_DISKLESS_LOAD:-disabled on-empty-db}"
io_threads="${KF_BENCH_IO_THREADS:-1}"
clk_tck="$(getconf CLK_TCK)"

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

source "$here/bench/lib/servers.sh"  # free_port, start_server

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

# start_pair NAME RUN [DISKLESS_LOAD]: a source loading the dataset and an empty target
# (repl-diskless-load DISKLESS_LOAD, default disabled; io-threads KF_BENCH_IO_THREADS). Sets
# SRC_PORT, DST_PORT, SRC_PID, DST_PID, SRC_KEYS and the CPU counters read by cpu_report.
start_pair() {
  local name="$1" run="$2" load="${3:-disabled}" rdb="$data_dir/$1-$scale.rdb"
  local dir="$work/run-$run"
  mkdir -p "$dir/source"
  ln -sf "$rdb" "$dir/source/dataset.rdb"
  start_server redis "$dir/source" --dbfilename dataset.rdb \
    --repl-diskless-sync yes --repl-diskless-sync-delay 0
  SRC_PID="$SERVER_PID"
  SRC_PORT="$SERVER_PORT"
  start_server valkey "$dir/target" --repl-diskless-load "$load" --io-threads "$io_threads"
  DST_PID="$SERVER_PID"
  DST_PORT="$SERVER_PORT"
  SRC_KEYS="$(key_count redis-cli "$SRC_PORT")"
  SRC_TICKS0="$(process_ticks "$SRC_PID")"
  DST_TICKS0="$(process_ticks "$DST_PID")"
  DST_MAIN_TICKS0="$(thread_ticks "$DST_PID" "$DST_PID")"
}

stop_pair() {
  stop_pid "$SRC_PID"
  stop_pid "$DST_PID"
  rm -rf "$work/run-$1"
}

# CPU ticks (user + system) of a process: its threads and the children it has reaped.
process_ticks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# CPU ticks (user + system) of one thread.
thread_ticks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/task/$2/stat" 2>/dev/null || echo 0
}

# After a run: prints "source_s target_s target_main_s", the CPU seconds the source (main
# process and its RDB child, once reaped), the target (all threads) and the target's main
# thread spent during the run.
cpu_report() {
  local i
  for i in $(seq 1 100); do  # the source reaps its RDB child in its cron (10 times a second)
    pgrep -P "$SRC_PID" >/dev/null || break
    sleep 0.05
  done
  awk -v s0="$SRC_TICKS0" -v s1="$(process_ticks "$SRC_PID")" -v d0="$DST_TICKS0" \
    -v d1="$(process_ticks "$DST_PID")" -v m0="$DST_MAIN_TICKS0" \
    -v m1="$(thread_ticks "$DST_PID" "$DST_PID")" -v hz="$clk_tck" \
    'BEGIN { printf "%.2f %.2f %.2f\n", (s1 - s0) / hz, (d1 - d0) / hz, (m1 - m0) / hz }'
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
read -ra loads <<<"$native_loads"
run_id=0
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "keyferry: $keyferry; $(redis-server --version | awk '{ print $1, $2, $3 }') ->" \
  "$(valkey-server --version | awk '{ print $1, $2, $3 }') (io-threads $io_threads);" \
  "$(nproc) cores; $repeats runs each" >&2
for name in $datasets; do
  build_dataset "$name"
  # Per kind of run ("native-<load>" or "keyferry"): one line per run in $work/<kind>.runs,
  # "seconds source_cpu target_cpu target_main_cpu [kf_rss_kb kf_cpu]".
  rm -f "$work"/*.runs
  keys=0
  for rep in $(seq 1 "$repeats"); do
    line="  $name run $rep:"
    # Interleaved, so that load from other work on the machine hits every kind alike.
    for load in "${loads[@]}"; do
      run_id=$((run_id + 1))
      start_pair "$name" "$run_id" "$load"
      keys="$SRC_KEYS"
      t="$(run_native)"
      cpu3="$(cpu_report)"
      echo "$t $cpu3" >>"$work/native-$load.runs"
      stop_pair "$run_id"
      line+=" native ($load) $t s,"
    done
    run_id=$((run_id + 1))
    start_pair "$name" "$run_id"
    kf_out="$(run_keyferry "$run_id")"
    read -r t rss cpu <<<"$kf_out"
    cpu3="$(cpu_report)"
    echo "$t $cpu3 $rss $cpu" >>"$work/keyferry.runs"
    stop_pair "$run_id"
    read -r _ src_cpu dst_cpu dst_main <<<"$t $cpu3"
    echo "$line keyferry $t s (CPU $cpu s, peak RSS $((rss / 1024)) MB; source CPU $src_cpu s," \
      "target CPU $dst_cpu s, of it main thread $dst_main s)" >&2
  done
  # column N of a kind's runs, median
  col() { awk -v c="$2" '{ print $c }' "$work/$1.runs" | median; }
  row="$name|$(dataset_label "$name")|$keys"
  for load in "${loads[@]}"; do
    row+="|native-$load:$(col "native-$load" 1):$(col "native-$load" 2):$(col "native-$load" 3)"
    row+=":$(col "native-$load" 4)"
  done
  rss="$(awk '{ print $5 }' "$work/keyferry.runs" | sort -g | tail -1)"
  kf_cpu="$(awk '{ print $6 }' "$work/keyferry.runs" | median)"
  row+="|keyferry:$(col keyferry 1):$(col keyferry 2):$(col keyferry 3):$(col keyferry 4)"
  echo "$row|$rss|$kf_cpu" >>"$results"
done

echo
echo "Native replication (REPLICAOF, diskless sync; repl-diskless-load as named) vs keyferry sync" \
  "--once${kf_extra:+ $kf_extra}; target io-threads $io_threads; median of $repeats runs;" \
  "ratio = keyferry time / native time (below 1.00 = keyferry faster)"
awk -F'|' -v loads="$native_loads" 'BEGIN {
    n = split(loads, l, " ");
    printf "%-30s %8s", "dataset", "keys";
    for (i = 1; i <= n; i++) printf " %22s", "native s (" l[i] ")";
    printf " %10s", "keyferry s";
    for (i = 1; i <= n; i++) printf " %20s", "ratio vs " l[i];
    printf " %8s %9s\n", "kf CPU s", "kf RSS MB";
  }
  {
    printf "%-30s %8d", $2, $3;
    for (i = 1; i <= n; i++) { split($(3 + i), f, ":"); nat[i] = f[2]; printf " %22.2f", f[2] }
    split($(4 + n), k, ":");
    printf " %10.2f", k[2];
    for (i = 1; i <= n; i++) printf " %20.2f", k[2] / nat[i];
    printf " %8s %9.1f\n", $(6 + n), $(5 + n) / 1024;
  }' "$results"
echo
echo "CPU seconds per run (medians): the source (main process + its RDB child), the target (all" \
  "threads) and the target's main thread"
awk -F'|' 'BEGIN { printf "%-30s %-22s %7s %9s %9s %11s\n", "dataset", "run", "time s",
    "source", "target", "target main" }
  {
    for (i = 4; i <= NF - 2; i++) {
      split($i, f, ":");
      printf "%-30s %-22s %7.2f %9.2f %9.2f %11.2f\n", (i == 4 ? $2 : ""), f[1], f[2], f[3], f[4],
        f[5];
    }
  }' "$results"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine" \
  "slows both kinds of run, keyferry's pipeline more: it runs source, target and keyferry at once)"
