// /metrics of a migration (docs/observe.md): `keyferry apply --listen` serves it from its
// live sync engines and its journal, `keyferry status --listen` from the journal alone.
//
// From the journal: the phase and its start (kKeyPhase, kKeyPhaseStartedMs), the last write
// pause (the CUTOVER finish event's pause_ms), VERIFY's numbers (the live verify of
// CATCH_UP, the check inside the pause, a file source's comparison), errors by kind (fail
// and rollback events, see ErrorKind), and, when no engine of this process is live, the
// copy's numbers from the progress JSON the apply journals every second (one series without
// a shard label: the folded numbers of a cluster source). From live engines: one series per
// engine, labeled by shard for a cluster source, as sync serves them.
//
// Counters never go down within one process: every counter goes through a
// MonotonicCounter per shard, rebased when the engines are replaced.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/journal.h"
#include "control/migration.h"
#include "observe/http_server.h"
#include "observe/keyferry_metrics.h"

namespace kf::observe {

// The apply's phase names (PREFLIGHT .. DONE, FAILED, ROLLED_BACK, ABORTED), in order.
std::vector<std::string> MigrationPhaseNames();

// The keyferry_errors_total kind an event counts under, or "" when it is no error:
//   rollback         a rollback event (the migration was being undone)
//   verify_mismatch  a fail event carrying a verify report (live verify, the check inside
//                    the pause, a file source's comparison found differences)
//   cutover_hook     a fail event of the cutover hook (exit code or timeout)
//   phase_failed     any other fail event (a phase step that failed: its error text)
// A failed step journals its own detail event and then the generic one, so a verify
// mismatch counts once as verify_mismatch and once as phase_failed.
std::string ErrorKind(const control::Event& event);

// What the events say, folded in id order (FoldEvent is pure; events must come in order).
struct JournalEventTotals {
  int64_t last_id = 0;
  std::optional<double> write_pause_seconds;
  std::optional<uint64_t> verify_keys_checked;  // the sum over every verify run
  std::optional<uint64_t> verify_differences;   // the last verify's
  std::map<std::string, uint64_t> errors;       // by ErrorKind
};
void FoldEvent(const control::Event& event, JournalEventTotals* totals);

// The numbers of the progress JSON the apply journals (SyncStats::ToJson), raw (as the
// engine counted them), without a shard name. nullopt when it is not an object.
std::optional<ShardMetrics> ShardFromProgress(const nlohmann::json& progress);

class MigrationMetricsSource {
 public:
  // `journal` (thread-safe) must outlive the source.
  explicit MigrationMetricsSource(control::Journal* journal) : journal_(journal) {}

  // apply: the live engines (ApplyOptions::engine_stats); none before they go away. Their
  // last numbers are kept and served until new engines come.
  void SetEngines(const std::vector<control::EngineStats>& engines);

  // Everything a scrape serves, read now (the journal's errors are returned as they are).
  Result<MetricsSnapshot> Snapshot();

 private:
  control::Journal* journal_;
  std::mutex mu_;
  std::vector<control::EngineStats> engines_;
  bool had_engines_ = false;                       // engines of this process were seen
  std::vector<ShardMetrics> kept_;                 // their last numbers (monotonic)
  std::map<std::string, ShardCounters> counters_;  // by shard name
  JournalEventTotals events_;
  std::map<std::string, MonotonicCounter> error_counters_;
  MonotonicCounter verify_checked_;

  std::vector<ShardMetrics> ReadEnginesLocked();
};

// Adds /metrics to `server` (before it listens), answered from `source` (which must outlive
// the server's serving); a journal that cannot be read answers 500 naming `state_dir`.
void AddMigrationMetricsRoute(HttpServer* server, MigrationMetricsSource* source,
                              std::string state_dir);

}  // namespace kf::observe
