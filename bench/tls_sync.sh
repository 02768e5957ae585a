#!/usr/bin/env bash
# The cost of TLS (docs/tls.md): keyferry sync over TLS vs keyferry sync in plaintext vs
# native replication over TLS (tls-replication yes), one run each, on the same dataset.
#
#   bench/tls_sync.sh
#
# Certificates are made with openssl in a temp dir (a CA and one P-256 certificate for
# 127.0.0.1, used by every server and as keyferry's client certificate). Each run starts a
# fresh redis-server (source, the dataset loaded, diskless sync) and an empty valkey-server
# (target), both with a plaintext port (for redis-cli checks) and a TLS port
# (tls-auth-clients yes), and times one of:
#   plaintext: keyferry sync --once over the plaintext ports;
#   tls:       keyferry sync --once over rediss:// with CA, client certificate and key;
#   native:    REPLICAOF the source's TLS port on a target with tls-replication yes, until
#              master_link_status:up and the key counts match.
# Prints seconds, keys/s and the ratios tls/plaintext and tls/native.
#
# Settings: BUILD_DIR (default build), KF_BENCH_KEYS (default 1000000 strings of
# KF_BENCH_VALUE_BYTES, default 100, made with DEBUG POPULATE), KF_BENCH_TIMEOUT (seconds
# per run, default 600). Every server listens on 127.0.0.1 and is stopped by PID on exit.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="$build/src/cli/keyferry"
keys="${KF_BENCH_KEYS:-1000000}"
value_bytes="${KF_BENCH_VALUE_BYTES:-100}"
timeout_s="${KF_BENCH_TIMEOUT:-600}"

for tool in redis-server redis-cli valkey-server valkey-cli openssl awk; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: run scripts/setup.sh first" >&2
    exit 2
  }
done
[[ -x "$keyferry" ]] || {
  echo "keyferry not found at $keyferry: build it and set BUILD_DIR" >&2
  exit 2
}

work="$(mktemp -d "${TMPDIR:-/tmp}/kf-tls-bench.XXXXXX")"
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
  for pid in "${pids[@]:-}"; do [[ -n "$pid" ]] && stop_pid "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now() { date +%s.%N; }
source "$here/bench/lib/servers.sh" # free_port, start_server

# Certificates.
pki="$work/pki"
mkdir -p "$pki"
(
  cd "$pki"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
  openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=bench CA" \
    -addext basicConstraints=critical,CA:TRUE
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out node.key
  openssl req -new -key node.key -out node.csr -subj "/CN=bench node"
  printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n' >node.ext
  openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem \
    -days 2 -extfile node.ext
) >"$work/openssl.log" 2>&1 || {
  cat "$work/openssl.log" >&2
  exit 2
}

key_count() { # CLI PORT
  "$1" -p "$2" INFO keyspace 2>/dev/null | awk -F'[=,:]' '/^db[0-9]+:/ { n += $3 } END { print n + 0 }'
}

# The dataset, once.
start_server redis "$work/build" --enable-debug-command yes
redis-cli -p "$SERVER_PORT" DEBUG POPULATE "$keys" key "$value_bytes" >/dev/null
redis-cli -p "$SERVER_PORT" CONFIG SET dbfilename dump.rdb >/dev/null
redis-cli -p "$SERVER_PORT" SAVE >/dev/null
stop_pid "$SERVER_PID"
rdb="$work/build/dump.rdb"
echo "dataset: $keys strings of $value_bytes bytes, RDB $(stat -c %s "$rdb") bytes" >&2

# start_pair RUN [target options...]: sets SRC_PORT SRC_TLS SRC_PID DST_PORT DST_TLS DST_PID.
start_pair() {
  local run="$1"
  shift
  local dir="$work/run-$run"
  mkdir -p "$dir/source"
  ln -sf "$rdb" "$dir/source/dataset.rdb"
  SRC_TLS="$(free_port)"
  start_server redis "$dir/source" --dbfilename dataset.rdb --repl-diskless-sync yes \
    --repl-diskless-sync-delay 0 --tls-port "$SRC_TLS" --tls-cert-file "$pki/node.pem" \
    --tls-key-file "$pki/node.key" --tls-ca-cert-file "$pki/ca.pem" --tls-auth-clients yes
  SRC_PID="$SERVER_PID"
  SRC_PORT="$SERVER_PORT"
  DST_TLS="$(free_port)"
  start_server valkey "$dir/target" --tls-port "$DST_TLS" --tls-cert-file "$pki/node.pem" \
    --tls-key-file "$pki/node.key" --tls-ca-cert-file "$pki/ca.pem" --tls-auth-clients yes "$@"
  DST_PID="$SERVER_PID"
  DST_PORT="$SERVER_PORT"
}
stop_pair() {
  stop_pid "$SRC_PID"
  stop_pid "$DST_PID"
  rm -rf "$work/run-$1"
}

# run_keyferry tls|plaintext: prints seconds.
run_keyferry() {
  local cmd t0 t1
  if [[ "$1" == tls ]]; then
    cmd=("$keyferry" sync --once --source "rediss://127.0.0.1:$SRC_TLS" --target
      "rediss://127.0.0.1:$DST_TLS")
    local end
    for end in source target; do
      cmd+=("--$end-tls-ca-cert" "$pki/ca.pem" "--$end-tls-cert" "$pki/node.pem"
        "--$end-tls-key" "$pki/node.key")
    done
  else
    cmd=("$keyferry" sync --once --source "redis://127.0.0.1:$SRC_PORT" --target
      "redis://127.0.0.1:$DST_PORT")
  fi
  t0="$(now)"
  if ! timeout "$timeout_s" "${cmd[@]}" >"$work/kf.out" 2>&1; then
    echo "keyferry sync ($1) failed:" >&2
    tail -20 "$work/kf.out" >&2
    return 1
  fi
  t1="$(now)"
  local got
  got="$(key_count valkey-cli "$DST_PORT")"
  [[ "$got" == "$keys" ]] || {
    echo "keyferry sync ($1): the target holds $got keys, not $keys" >&2
    return 1
  }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

run_native_tls() {
  local t0 t1 deadline=$((SECONDS + timeout_s))
  t0="$(now)"
  valkey-cli -p "$DST_PORT" REPLICAOF 127.0.0.1 "$SRC_TLS" >/dev/null
  until valkey-cli -p "$DST_PORT" INFO replication 2>/dev/null | grep -q '^master_link_status:up' &&
    [[ "$(key_count valkey-cli "$DST_PORT")" == "$keys" ]]; do
    ((SECONDS <= deadline)) || {
      echo "native replication over TLS did not finish in $timeout_s s" >&2
      return 1
    }
    sleep 0.01
  done
  t1="$(now)"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2
start_pair 1
plain="$(run_keyferry plaintext)"
stop_pair 1
start_pair 2
tls="$(run_keyferry tls)"
stop_pair 2
start_pair 3 --tls-replication yes
native="$(run_native_tls)"
stop_pair 3

echo
echo "keyferry sync --once, TLS vs plaintext, and native replication over TLS (tls-replication" \
  "yes); $keys keys of $value_bytes bytes; one run each"
awk -v k="$keys" -v p="$plain" -v t="$tls" -v n="$native" 'BEGIN {
  printf "%-28s %9s %12s\n", "run", "seconds", "keys/s";
  printf "%-28s %9.2f %12.0f\n", "keyferry plaintext", p, k / p;
  printf "%-28s %9.2f %12.0f\n", "keyferry TLS", t, k / t;
  printf "%-28s %9.2f %12.0f\n", "native replication TLS", n, k / n;
  printf "ratio keyferry TLS / keyferry plaintext: %.2f\n", t / p;
  printf "ratio keyferry TLS / native TLS:         %.2f\n", t / n;
}'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
