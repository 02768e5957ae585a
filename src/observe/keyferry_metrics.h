// keyferry's metrics (docs/observe.md has the list with units): a plain snapshot of numbers,
// the families it becomes (KeyferryFamilies, then WritePrometheusText), and the sources of
// the numbers — the sync engines' live SyncStats (SyncMetricsSource), the migration's
// journal, and /proc/self.
//
// Series and labels: a standalone source's series carry no `shard` label; a cluster
// source's carry one series per source shard, labeled shard="<ShardName>" ("s0", "s5461"),
// and no unlabeled total (sum() over them in queries; the Grafana dashboard does). The
// phase is a set of gauges keyferry_phase{phase="..."}, 1 for the current phase, 0 for the
// others: sync's phases (connecting, snapshot, stream, done, failed) or apply's (PREFLIGHT
// ... DONE, ROLLED_BACK, ABORTED, FAILED).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "observe/prometheus_text.h"
#include "sync/sync_engine.h"

namespace kf::observe {

// One source shard's numbers (a standalone source: one, with an empty shard name).
struct ShardMetrics {
  std::string shard;  // "" : no shard label
  uint64_t keys_copied = 0;
  uint64_t bytes_copied = 0;     // snapshot (RDB) bytes received
  double snapshot_progress = 0;  // 0..1; NaN while the snapshot's size is unknown
  uint64_t commands_applied = 0;
  int64_t lag_bytes = 0;
  double lag_seconds = 0;
  uint64_t reconnects = 0;
  uint64_t full_syncs = 0;
  uint64_t partial_syncs = 0;
  uint64_t keys_skipped = 0;  // keyferry_errors_total{kind="value_skipped"}
};

struct ProcessMetrics {
  std::optional<uint64_t> resident_bytes;
  std::optional<double> cpu_seconds;
  std::optional<double> start_time_seconds;  // Unix time
};

struct MetricsSnapshot {
  std::vector<ShardMetrics> shards;
  std::vector<std::string> phases;              // every phase name, in order
  std::string phase;                            // the current one; empty: none yet
  std::optional<double> phase_started_seconds;  // Unix time
  std::optional<double> write_pause_seconds;    // the last write pause
  std::optional<uint64_t> verify_keys_checked;
  std::optional<uint64_t> verify_differences;
  std::map<std::string, uint64_t> errors;  // by kind, added to the shards' own kinds
  ProcessMetrics process;
};

// Every family keyferry serves, each present even without samples (so a scrape always
// names every metric): counters end in _total, units are seconds and bytes.
std::vector<MetricFamily> KeyferryFamilies(const MetricsSnapshot& snapshot);

// The names KeyferryFamilies writes (with _total), sorted; for checks of dashboards.
std::vector<std::string> KeyferryMetricNames();

// The sync's phase names, in SyncPhase order.
std::vector<std::string> SyncPhaseNames();

// A counter over a count that may restart from 0 (a new engine, a new snapshot): a drop is
// taken as a restart, and what the count reaches from then on is added to the total.
// Rebase() says the next value comes from a fresh count (a new engine): all of it is new.
struct MonotonicCounter {
  uint64_t last_raw = 0;
  uint64_t total = 0;
  uint64_t Observe(uint64_t raw);
  void Rebase() { last_raw = 0; }
};

// One engine's numbers as its SyncStats hold them now (counters as raw as the engine counts
// them; shard left empty).
ShardMetrics ReadShardStats(const sync::SyncStats& stats);

// The counters of ShardMetrics (keys, bytes, commands, skipped, reconnects, full and partial
// syncs), each kept monotonic over raw readings.
struct ShardCounters {
  MonotonicCounter keys, bytes, commands, skipped, reconnects, full_syncs, partial_syncs;
  // Replaces the counters of `raw` by their monotonic totals.
  void Apply(ShardMetrics* raw);
  void Rebase();
};

// The metrics of a running sync, read from its live SyncStats. Counters never go down
// while the process runs: an engine restarting its snapshot resets its own numbers
// (keys_written counts the current snapshot's keys), which would read as a counter reset;
// here the drop is added to what was counted before. Thread-safe (scrapes may run
// concurrently).
class SyncMetricsSource {
 public:
  struct Shard {
    std::string name;  // "" for a standalone source
    const sync::SyncStats* stats;
  };
  // `overall`: the run's stats (a cluster source's folded numbers) for the phase and start;
  // `shards`: one per source shard. All must outlive the source.
  SyncMetricsSource(const sync::SyncStats* overall, std::vector<Shard> shards)
      : overall_(overall), shards_(std::move(shards)) {}
  // Everything a scrape serves: the shards, the phase (its start as first seen by this
  // source; the run's start for the first phase) and the process.
  MetricsSnapshot Snapshot();
  std::vector<ShardMetrics> ReadShards();

 private:
  const sync::SyncStats* overall_;
  std::vector<Shard> shards_;
  std::mutex mu_;
  std::map<size_t, ShardCounters> counters_;
  int seen_phase_ = -1;
  double seen_phase_since_ = 0;
};

// /proc/self numbers. Pure parsers (tested on fixed text) and the reader.
std::optional<uint64_t> ParseStatmResidentBytes(std::string_view statm, long page_size);
// utime+stime in seconds and the start time in seconds after boot, from /proc/self/stat.
struct ProcStatTimes {
  double cpu_seconds = 0;
  double start_after_boot_seconds = 0;
};
std::optional<ProcStatTimes> ParseProcStat(std::string_view stat, long ticks_per_second);
ProcessMetrics ReadProcessMetrics();

}  // namespace kf::observe
