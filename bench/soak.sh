#!/usr/bin/env bash
# The soak test of `keyferry sync` (issue #10): MINUTES (default 30) of continuous sync under
# mixed, mostly non-idempotent writes, with keyferry killed (-9) every few minutes and the
# replication link cut through a proxy at other times; at the end both ends are compared
# and keyferry's memory over the whole run is summarised. Not part of `make test`.
#
#   bench/soak.sh [MINUTES]          # e.g. bench/soak.sh 3 for a smoke run
#
# What it starts (every process on 127.0.0.1, free ports, a temp dir; all stopped by PID
# on exit):
#   - a redis-server 7.0 source (repl-backlog-size 512mb, repl-diskless-sync-delay 0),
#     seeded with KF_SOAK_SEED_KEYS keys (default 100000) of every type plus a few big
#     values (`kf_soak_writer seed`);
#   - a valkey-server 8.0 target;
#   - `kf_tcp_proxy` in front of the source (SIGUSR1 cuts every connection, SIGUSR2 stalls
#     them for 3 s);
#   - `kf_soak_writer run` on the source for the whole time (KF_SOAK_RATE write commands/s,
#     default 3000: INCR, HINCRBY, RPUSH, LPUSH/LPOP, ZINCRBY, SADD/SREM/SPOP, XADD,
#     MULTI/EXEC blocks, EVAL, keys with TTLs, big values; see tests/tools/soak_writer.cc);
#   - `keyferry sync --source redis://127.0.0.1:<proxy> --target ... --checkpoint FILE`,
#     restarted with the same checkpoint after every kill.
# Events, each at a random time: `kill -9` of keyferry every KILL_MIN..KILL_MAX s (default
# 120..240 s; for runs under 16 minutes scaled down so that a run sees about four), and a
# link event every CUT_MIN..CUT_MAX s (default 30..90 s, scaled the same way): a cut (4 in
# 5) or a 3 s stall. KF_SOAK_KILL_EVERY / KF_SOAK_LINK_EVERY=MIN-MAX (seconds) or `off`
# override the two schedules. KF_SOAK_SEED fixes the random intervals (printed, to replay a
# run's schedule). keyferry's VmRSS is sampled every KF_SOAK_RSS_INTERVAL s (default 10)
# into rss.csv. KF_SOAK_KEYFERRY runs the sync with another keyferry binary (e.g. an older build;
# verify is always this build's).
#
# At the end: the writers stop, keyferry catches up (the replica offset it acknowledges
# reaches the source's offset at that moment: every write applied; then it equals
# master_repl_offset in INFO replication, once the source's own expiry DELs and PINGs
# have settled), is stopped with SIGTERM (it must exit 0), and
# `keyferry verify --source <source> --target <target> --rounds 2` compares both ends.
# Printed: minutes run, kills, link cuts and stalls, full and partial syncs the source
# counted (INFO stats sync_full, sync_partial_ok), writes done, keyferry's RSS min/median/
# max per run (one run = one keyferry process, between two kills) and overall, whether it
# stayed flat (criteria printed with it), and verify's report.
# Exit 0 only when verify finds both ends equal and no keyferry run ended by itself (every
# run but the last was killed by this script, the last exited 0 on SIGTERM); 1 when verify
# finds differences; 2 on any other failure. KF_SOAK_KEEP=1 keeps the work dir (logs,
# rss.csv, events.log); it is kept anyway when the run fails.
set -uo pipefail

minutes="${1:-30}"
if ! [[ "$minutes" =~ ^[0-9]+$ ]] || ((minutes < 1)); then
  echo "usage: bench/soak.sh [MINUTES]   (a whole number of minutes, at least 1)" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
keyferry="${KF_SOAK_KEYFERRY:-$build/src/cli/keyferry}"
proxy_bin="$build/tests/kf_tcp_proxy"
writer_bin="$build/tests/kf_soak_writer"
rate="${KF_SOAK_RATE:-3000}"
seed_keys="${KF_SOAK_SEED_KEYS:-100000}"
rss_interval="${KF_SOAK_RSS_INTERVAL:-10}"
seed="${KF_SOAK_SEED:-$(((RANDOM << 15) | RANDOM))}"
stall_ms=3000

for tool in redis-server redis-cli valkey-server valkey-cli awk sort; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/setup.sh" >&2; exit 2; }
done
for bin in "$keyferry" "$build/src/cli/keyferry" "$proxy_bin" "$writer_bin"; do
  if [[ ! -x "$bin" ]]; then
    echo "$bin not found: build it (cmake --build $build --target keyferry kf_tcp_proxy" \
      "kf_soak_writer) or set BUILD_DIR" >&2
    exit 2
  fi
done

total_s=$((minutes * 60))
# Kills every 2-4 min and link events every 30-90 s; a short run gets them closer together
# so that it still sees several of each.
kill_max=$((total_s / 4 < 240 ? total_s / 4 : 240))
kill_min=$((kill_max / 2))
cut_max=$((total_s / 6 < 90 ? total_s / 6 : 90))
cut_min=$((cut_max / 3))
# every MIN-MAX|off: overrides of the two schedules (e.g. KF_SOAK_KILL_EVERY=off for one
# keyferry process over the whole soak, to watch its memory).
parse_every() {  # NAME VALUE -> sets EVERY_MIN EVERY_MAX (0 0 = off)
  if [[ "$2" == off ]]; then
    EVERY_MIN=0 EVERY_MAX=0
  elif [[ "$2" =~ ^([0-9]+)-([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[2] >= BASH_REMATCH[1])); then
    EVERY_MIN=${BASH_REMATCH[1]} EVERY_MAX=${BASH_REMATCH[2]}
  else
    echo "$1 must be MIN-MAX (seconds, 1 <= MIN <= MAX) or off, not '$2'" >&2
    exit 2
  fi
}
if [[ -n "${KF_SOAK_KILL_EVERY:-}" ]]; then
  parse_every KF_SOAK_KILL_EVERY "$KF_SOAK_KILL_EVERY"
  kill_min=$EVERY_MIN kill_max=$EVERY_MAX
fi
if [[ -n "${KF_SOAK_LINK_EVERY:-}" ]]; then
  parse_every KF_SOAK_LINK_EVERY "$KF_SOAK_LINK_EVERY"
  cut_min=$EVERY_MIN cut_max=$EVERY_MAX
fi
RANDOM=$seed

work="$(mktemp -d "${TMPDIR:-/tmp}/kf-soak.XXXXXX")"
pids=()
kf_pid=""
failed=0

stop_pid() {  # PID: SIGTERM, up to 10 s, then SIGKILL
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    [[ "$(proc_state "$pid")" == Z ]] && break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  [[ -n "$kf_pid" ]] && stop_pid "$kf_pid"
  for pid in "${pids[@]:-}"; do stop_pid "$pid"; done
  if [[ "${KF_SOAK_KEEP:-0}" == 1 || $failed == 1 ]]; then
    echo "work dir kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'failed=1; exit 130' INT TERM

# The process state letter (R, S, Z, ...) or "" when the process is gone.
proc_state() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true; }
alive() { local s; s="$(proc_state "$1")"; [[ -n "$s" && "$s" != Z ]]; }

t0=$SECONDS
stamp() { printf '[%02d:%02d]' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)); }
event() { echo "$(stamp) $*" | tee -a "$work/events.log"; }
# rand_between MIN MAX: sets R (not a subshell: $RANDOM there would not follow the seed).
rand_between() { R=$(($1 + RANDOM % ($2 - $1 + 1))); }

# free_port, start_server (10 s to answer: the soak starts empty servers)
SERVER_READY_TIMEOUT=10
source "$here/bench/lib/servers.sh"

info_field() {  # PORT SECTION FIELD
  redis-cli -p "$1" INFO "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3:\(.*\)/\1/p"
}
# "offset" of the online replicas in INFO replication, one per line.
replica_offsets() {
  redis-cli -p "$1" INFO replication 2>/dev/null | tr -d '\r' |
    sed -n 's/^slave[0-9]*:.*state=online,offset=\([0-9]*\).*/\1/p'
}

die() {
  failed=1
  echo "soak: $*" >&2
  exit 2
}

# --- servers, proxy, seed -----------------------------------------------------------------
echo "soak: $minutes minutes, schedule seed $seed (KF_SOAK_SEED=$seed replays it), work dir $work"
every_text() { if (($2 > 0)); then echo "every $1-$2 s"; else echo "off"; fi; }
echo "soak: kills $(every_text "$kill_min" "$kill_max"), link events" \
  "$(every_text "$cut_min" "$cut_max"), writers at $rate writes/s; keyferry: $keyferry"
start_server redis "$work/source" --repl-backlog-size 512mb --repl-diskless-sync-delay 0 ||
  die "could not start the source"
src_port=$SERVER_PORT
src_pid=$SERVER_PID
start_server valkey "$work/target" || die "could not start the target"
tgt_port=$SERVER_PORT
echo "soak: source $(redis-server --version | awk '{ print $3 }') on $src_port, target" \
  "$(valkey-server --version | awk '{ print $3 }') on $tgt_port"

"$proxy_bin" --target-port "$src_port" --port-file "$work/proxy.port" --stall-ms "$stall_ms" \
  >"$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=("$proxy_pid")
for _ in $(seq 1 100); do [[ -s "$work/proxy.port" ]] && break; sleep 0.05; done
[[ -s "$work/proxy.port" ]] || die "kf_tcp_proxy did not start: $(cat "$work/proxy.log")"
proxy_port="$(cat "$work/proxy.port")"

"$writer_bin" seed --uri "redis://127.0.0.1:$src_port" --keys "$seed_keys" ||
  die "seeding the source failed"

"$writer_bin" run --uri "redis://127.0.0.1:$src_port" --rate "$rate" --seed "$seed" \
  >"$work/writer.log" 2>&1 &
writer_pid=$!
pids+=("$writer_pid")

# --- keyferry runs ------------------------------------------------------------------------
kf_args=(--log-level info sync --source "redis://127.0.0.1:$proxy_port" --target "redis://127.0.0.1:$tgt_port"
  --checkpoint "$work/checkpoint.json")
run=0
kills=0
cuts=0
stalls=0
unexpected=0
echo "elapsed_s,run,pid,rss_kb" >"$work/rss.csv"

last_start=$SECONDS
start_keyferry() {
  run=$((run + 1))
  "$keyferry" "${kf_args[@]}" >"$work/kf.$run.out" 2>"$work/kf.$run.log" &
  kf_pid=$!
  last_start=$SECONDS
  event "keyferry run $run started (pid $kf_pid)"
}

# A run that ended by itself is an error of the soak. It is restarted after a second; five
# in a row that each lasted under 10 s end the soak early (gave_up=1): a keyferry that
# cannot run is not soaking.
quick_failures=0
gave_up=0
on_unexpected_exit() {  # WHEN
  local rc
  wait "$kf_pid"
  rc=$?
  unexpected=$((unexpected + 1))
  event "ERROR: keyferry run $run (pid $kf_pid) ended by itself $1 with exit $rc; its log:"
  tail -5 "$work/kf.$run.log" | sed 's/^/    /' | tee -a "$work/events.log"
  if ((SECONDS - last_start < 10)); then
    quick_failures=$((quick_failures + 1))
  else
    quick_failures=1
  fi
  if ((quick_failures >= 5)); then
    gave_up=1
    kf_pid=""
    event "ERROR: five keyferry runs in a row ended by themselves within 10 s: ending the soak"
    return
  fi
  sleep 1
  start_keyferry
}

start_keyferry
never=$((SECONDS + 10 * total_s))
next_kill=$never
next_link=$never
if ((kill_max > 0)); then
  rand_between "$kill_min" "$kill_max"
  next_kill=$((SECONDS + R))
fi
if ((cut_max > 0)); then
  rand_between "$cut_min" "$cut_max"
  next_link=$((SECONDS + R))
fi
next_sample=$SECONDS
end=$((t0 + total_s))

while ((SECONDS < end)); do
  if ! alive "$writer_pid"; then
    wait "$writer_pid"
    die "the writers stopped early (exit $?): $(tail -3 "$work/writer.log")"
  fi
  if ! alive "$kf_pid"; then
    on_unexpected_exit "during the soak"
    ((gave_up)) && break
  fi
  if ((SECONDS >= next_sample)); then
    rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$kf_pid/status" 2>/dev/null || true)"
    [[ -n "$rss" ]] && echo "$((SECONDS - t0)),$run,$kf_pid,$rss" >>"$work/rss.csv"
    next_sample=$((SECONDS + rss_interval))
  fi
  if ((SECONDS >= next_kill)); then
    kill -KILL "$kf_pid" 2>/dev/null
    wait "$kf_pid" 2>/dev/null
    kills=$((kills + 1))
    event "kill -9 keyferry run $run (pid $kf_pid)"
    start_keyferry
    rand_between "$kill_min" "$kill_max"
    next_kill=$((SECONDS + R))
  fi
  # Link events keep 5 s away from a (re)start: a cut inside a fresh keyferry's first
  # handshake (its first few milliseconds) makes it exit 2 ("cannot replicate from the
  # source"), since keyferry retries a dropped link only once a PSYNC has succeeded
  # (docs/sync.md, "Soak"). Kills and cuts are meant to be separate events here.
  if ((SECONDS >= next_link && SECONDS - last_start < 5)); then
    next_link=$((last_start + 5))
  fi
  if ((SECONDS >= next_link)); then
    if ((RANDOM % 5 == 0)); then
      kill -USR2 "$proxy_pid"
      stalls=$((stalls + 1))
      event "link stall ${stall_ms} ms (proxy SIGUSR2)"
    else
      kill -USR1 "$proxy_pid"
      cuts=$((cuts + 1))
      event "link cut (proxy SIGUSR1)"
    fi
    rand_between "$cut_min" "$cut_max"
    next_link=$((SECONDS + R))
  fi
  sleep 0.5
done
run_minutes="$(awk -v s=$((SECONDS - t0)) 'BEGIN { printf "%.1f", s / 60 }')"

# --- the end: writers stop, keyferry catches up and stops, verify --------------------------
kill -TERM "$writer_pid"
wait "$writer_pid"
writer_rc=$?
kept=()
for p in "${pids[@]}"; do [[ "$p" == "$writer_pid" ]] || kept+=("$p"); done
pids=("${kept[@]}")
writes="$(sed -n 's/^soak_writer writes=\([0-9]*\).*/\1/p' "$work/writer.log")"
((writer_rc == 0)) || { failed=1; event "ERROR: the writers failed (exit $writer_rc)"; }
event "writers stopped: $(tail -1 "$work/writer.log")"

# Catching up, in two steps. First every write: the replica offset keyferry acknowledges
# (applied on the target, once a second) reaches the source's offset when the writers
# stopped. Then the offsets equal: the source keeps producing stream bytes for a while (it
# expires the session keys, up to 60 s, and PINGs its replicas every 10 s), so equality
# comes once those settle.
writes_offset="$(info_field "$src_port" replication master_repl_offset)"
catch_start=$SECONDS
caught_writes=""
caught_up=0
master=""
offsets=""
while ((!gave_up && SECONDS - catch_start < 300)); do
  if ! alive "$kf_pid"; then
    on_unexpected_exit "while catching up"
    ((gave_up)) && break
  fi
  master="$(info_field "$src_port" replication master_repl_offset)"
  offsets="$(replica_offsets "$src_port")"
  if [[ -n "$master" && "$(echo "$offsets" | wc -w)" == 1 ]]; then
    if [[ -z "$caught_writes" ]] && ((offsets >= writes_offset)); then
      caught_writes=$((SECONDS - catch_start))
      event "keyferry applied every write in ${caught_writes} s (offset $writes_offset)"
    fi
    if [[ "$offsets" == "$master" ]]; then
      caught_up=1
      break
    fi
  fi
  sleep 0.2
done
catch_s=$((SECONDS - catch_start))
last_rc="-"
if ((gave_up)); then
  failed=1
elif ((caught_up)); then
  event "replica offset equals master_repl_offset ($master) after ${catch_s} s"
else
  failed=1
  event "ERROR: keyferry did not catch up in 300 s (source offset $master, replicas: $offsets)"
fi
if [[ -n "$kf_pid" ]]; then
  # A last RSS sample, then SIGTERM: keyferry applies what it received and exits 0.
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$kf_pid/status" 2>/dev/null || true)"
  [[ -n "$rss" ]] && echo "$((SECONDS - t0)),$run,$kf_pid,$rss" >>"$work/rss.csv"
  kill -TERM "$kf_pid"
  for _ in $(seq 1 600); do
    alive "$kf_pid" || break
    sleep 0.05
  done
  if alive "$kf_pid"; then
    event "ERROR: keyferry run $run did not stop within 30 s of SIGTERM"
    kill -KILL "$kf_pid"
  fi
  wait "$kf_pid"
  last_rc=$?
  kf_pid=""
  event "keyferry run $run stopped by SIGTERM: exit $last_rc"
  ((last_rc == 0)) || unexpected=$((unexpected + 1))
fi

sync_full="$(info_field "$src_port" stats sync_full)"
sync_partial_ok="$(info_field "$src_port" stats sync_partial_ok)"
sync_partial_err="$(info_field "$src_port" stats sync_partial_err)"
kf_continued="$(cat "$work"/kf.*.log | grep -c 'the source continued replication' || true)"
kf_fallbacks="$(cat "$work"/kf.*.log | grep -c 'falling back to a full sync' || true)"
proxy_conns="$(tail -1 "$work/proxy.log")"

"$build/src/cli/keyferry" verify --source "redis://127.0.0.1:$src_port" --target "redis://127.0.0.1:$tgt_port" \
  --rounds 2 >"$work/verify.out" 2>"$work/verify.err"
verify_rc=$?

# --- report -------------------------------------------------------------------------------
echo
echo "=== soak result ==="
echo "minutes run:          $run_minutes (asked $minutes; schedule seed $seed)"
echo "keyferry runs:        $run ($kills killed with -9, the last stopped by SIGTERM: exit" \
  "$last_rc; runs that ended by themselves: $unexpected)"
echo "kills (kill -9):      $kills"
echo "link cuts (proxy):    $cuts (plus $stalls stalls of $stall_ms ms)"
echo "source INFO stats:    sync_full=$sync_full sync_partial_ok=$sync_partial_ok" \
  "sync_partial_err=$sync_partial_err"
echo "keyferry logs:        $kf_continued resumes by PSYNC CONTINUE, $kf_fallbacks fallbacks to a" \
  "full sync"
echo "writes done:          ${writes:-?} ($(tail -1 "$work/writer.log"))"
if ((gave_up)); then
  echo "catch-up at the end:  none (the soak ended early: keyferry could not keep running)"
elif ((caught_up)); then
  echo "catch-up at the end:  every write applied after ${caught_writes:-?} s; offsets equal" \
    "after ${catch_s} s (the source expiring its TTL keys meanwhile)"
else
  echo "catch-up at the end:  NOT reached in 300 s"
fi
echo
# RSS per run (one keyferry process): samples, min, median, max (MB); then every sample.
# keyferry's RSS is a sawtooth, not a level: a big value in the stream (up to 6 MiB here)
# is held while parsed, in its batch and in the writer's buffer; the allocator keeps the
# freed space (the plateau steps up a little when a new big value lands elsewhere) until
# it trims the heap, and RSS drops to the base. A least-squares line through such a saw
# depends on where the drops fall, so the judgement uses its upper envelope instead: the
# samples after the first 30 s of each run (a snapshot or a resume) are split into the
# first and second half of the soak's time, across restarts, and RSS is "flat" when the
# 90th percentile of the second half is at most L above that of the first, with
# L = max(4 MB, 10% of the overall median). A leak lifts the whole saw, its upper envelope
# too. With kills every few minutes no process lives long; KF_SOAK_KILL_EVERY=off keeps
# one process for the whole soak.
awk -F, '
  function sorted(arr, n, out,   i, j, t) {
    for (i = 1; i <= n; i++) out[i] = arr[i];
    for (i = 2; i <= n; i++) {
      t = out[i];
      for (j = i - 1; j >= 1 && out[j] > t; j--) out[j + 1] = out[j];
      out[j + 1] = t;
    }
  }
  # The q-quantile (0..1) of arr[1..n], nearest rank.
  function quantile(arr, n, q,   s, k) {
    sorted(arr, n, s);
    k = int(q * n + 0.999999);
    if (k < 1) k = 1;
    return s[k];
  }
  NR == 1 { next }
  {
    t = $1; r = $2; v = $4 / 1024;
    if (!(r in first_t)) { first_t[r] = t; runs[++nruns] = r; }
    n[r]++; vals[r, n[r]] = v;
    all[++nall] = v;
    if (t - first_t[r] >= 30) {
      m++; st[m] = t; sv[m] = v;
      if (m == 1 || t < tmin) tmin = t;
      if (m == 1 || t > tmax) tmax = t;
    }
  }
  END {
    if (nall == 0) { print "RSS: no samples"; exit }
    printf "%-6s %8s %8s %10s %8s\n", "run", "samples", "min MB", "median MB", "max MB";
    for (k = 1; k <= nruns; k++) {
      r = runs[k];
      delete a;
      for (i = 1; i <= n[r]; i++) a[i] = vals[r, i];
      printf "%-6s %8d %8.1f %10.1f %8.1f\n", r, n[r], quantile(a, n[r], 0), \
             quantile(a, n[r], 0.5), quantile(a, n[r], 1);
    }
    omed = quantile(all, nall, 0.5);
    printf "%-6s %8d %8.1f %10.1f %8.1f\n", "all", nall, quantile(all, nall, 0), omed, \
           quantile(all, nall, 1);
    limit = omed * 0.10 > 4 ? omed * 0.10 : 4;
    mid = (tmin + tmax) / 2;
    for (i = 1; i <= m; i++) {
      if (st[i] < mid) h1[++n1] = sv[i]; else h2[++n2] = sv[i];
    }
    if (n1 < 3 || n2 < 3) { print "RSS verdict: too few samples to judge"; exit }
    p1 = quantile(h1, n1, 0.9); p2 = quantile(h2, n2, 0.9);
    printf "RSS by half of the soak (after the first 30 s of each run): first %d samples median" \
           " %.1f, p90 %.1f, max %.1f MB; second %d samples median %.1f, p90 %.1f, max %.1f MB\n",
           n1, quantile(h1, n1, 0.5), p1, quantile(h1, n1, 1),
           n2, quantile(h2, n2, 0.5), p2, quantile(h2, n2, 1);
    printf "RSS verdict: %s (flat = the second half p90 is at most L = %.1f MB above the" \
           " first half p90; here %+.1f MB)\n", p2 - p1 <= limit ? "flat" : "GROWING", limit,
           p2 - p1;
  }' "$work/rss.csv"
echo
echo "verify (keyferry verify --rounds 2, exit $verify_rc):"
sed 's/^/  /' "$work/verify.out"
[[ -s "$work/verify.err" ]] && sed 's/^/  stderr: /' "$work/verify.err"
echo

if ((verify_rc == 0 && unexpected == 0 && failed == 0)); then
  echo "soak: PASSED (verify equal, every keyferry run ended by a kill or by SIGTERM with exit 0)"
  exit 0
fi
failed=1
if ((verify_rc == 1)); then
  echo "soak: FAILED: verify found differences (logs in $work)"
  exit 1
fi
echo "soak: FAILED (verify exit $verify_rc, keyferry runs that ended by themselves: $unexpected;" \
  "logs in $work)"
exit 2
