// A migration's /metrics, from its journal and its live engines: see migration_metrics.h.
#include "observe/migration_metrics.h"

#include <cstdlib>
#include <limits>

#include "control/phase.h"

namespace kf::observe {
namespace {

nlohmann::json EventData(const control::Event& event) {
  if (event.data_json.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(event.data_json, nullptr, false);
}

// A non-negative integer field of `j`, or nullopt.
std::optional<uint64_t> Count(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  if (v < 0) return std::nullopt;
  return static_cast<uint64_t>(v);
}

bool IsVerifyReport(const nlohmann::json& data) {
  return data.is_object() && (data.contains("differing_keys") || data.contains("differences"));
}

}  // namespace

std::vector<std::string> MigrationPhaseNames() {
  std::vector<std::string> out;
  for (control::Phase p : control::kForwardPhases) out.emplace_back(control::PhaseName(p));
  for (control::Phase p :
       {control::Phase::kFailed, control::Phase::kRolledBack, control::Phase::kAborted}) {
    out.emplace_back(control::PhaseName(p));
  }
  return out;
}

std::string ErrorKind(const control::Event& event) {
  if (event.kind == control::EventKind::kRollback) return "rollback";
  if (event.kind != control::EventKind::kFail) return "";
  nlohmann::json data = EventData(event);
  if (IsVerifyReport(data)) return "verify_mismatch";
  if (event.phase == control::Phase::kCutover && data.is_object() && data.contains("exit_code")) {
    return "cutover_hook";
  }
  return "phase_failed";
}

void FoldEvent(const control::Event& event, JournalEventTotals* t) {
  t->last_id = std::max(t->last_id, event.id);
  if (std::string kind = ErrorKind(event); !kind.empty()) ++t->errors[kind];
  nlohmann::json data = EventData(event);
  if (!data.is_object()) return;
  if (event.phase == control::Phase::kCutover && event.kind == control::EventKind::kFinish) {
    if (auto ms = Count(data, "pause_ms")) t->write_pause_seconds = static_cast<double>(*ms) / 1000;
    return;
  }
  // The three verify reports: verify::ReportToJson (the live verify of CATCH_UP, a check
  // inside the pause that found differences), the check inside the pause that passed
  // ({keys, carried}), and a file source's comparison ({keys_compared, differences}).
  std::optional<uint64_t> checked, differences;
  if (data.contains("differing_keys") && data.contains("source_keys_checked")) {
    checked = Count(data, "source_keys_checked");
    differences = Count(data, "differing_keys");
  } else if (data.contains("keys_compared") && data.contains("differences")) {
    checked = Count(data, "keys_compared");
    differences = Count(data, "differences");
  } else if (event.phase == control::Phase::kVerify && data.contains("carried")) {
    checked = Count(data, "keys");
    differences = 0;
  }
  if (!checked || !differences) return;
  t->verify_keys_checked = t->verify_keys_checked.value_or(0) + *checked;
  t->verify_differences = *differences;
}

std::optional<ShardMetrics> ShardFromProgress(const nlohmann::json& p) {
  if (!p.is_object()) return std::nullopt;
  ShardMetrics m;
  m.keys_copied = Count(p, "keys_written").value_or(0);
  m.bytes_copied = Count(p, "snapshot_bytes").value_or(0);
  m.commands_applied = Count(p, "commands_applied").value_or(0);
  m.keys_skipped = Count(p, "keys_skipped").value_or(0);
  m.lag_bytes = static_cast<int64_t>(Count(p, "lag_bytes").value_or(0));
  m.lag_seconds = static_cast<double>(Count(p, "lag_ms").value_or(0)) / 1000.0;
  m.reconnects = Count(p, "link_drops").value_or(0);
  m.full_syncs = Count(p, "full_syncs").value_or(0);
  m.partial_syncs = Count(p, "partial_syncs").value_or(0);
  std::string phase = p.value("phase", "");
  uint64_t done = m.bytes_copied, total = Count(p, "snapshot_total_bytes").value_or(0);
  if (phase == sync::SyncPhaseName(sync::SyncPhase::kStream) ||
      phase == sync::SyncPhaseName(sync::SyncPhase::kDone)) {
    m.snapshot_progress = 1;
  } else if (phase == sync::SyncPhaseName(sync::SyncPhase::kSnapshot)) {
    m.snapshot_progress = total > 0 ? std::min(1.0, static_cast<double>(done) / total)
                                    : std::numeric_limits<double>::quiet_NaN();
  }
  return m;
}

void MigrationMetricsSource::SetEngines(const std::vector<control::EngineStats>& engines) {
  std::lock_guard lock(mu_);
  // The old engines are still valid until this call returns: keep their last numbers.
  if (!engines_.empty()) kept_ = ReadEnginesLocked();
  engines_ = engines;
  if (engines_.empty()) return;
  had_engines_ = true;
  // New engines count from zero: all they count is new.
  for (const auto& e : engines_) counters_[e.shard].Rebase();
}

std::vector<ShardMetrics> MigrationMetricsSource::ReadEnginesLocked() {
  std::vector<ShardMetrics> out;
  for (const auto& e : engines_) {
    ShardMetrics m = ReadShardStats(*e.stats);
    m.shard = e.shard;
    counters_[e.shard].Apply(&m);
    out.push_back(std::move(m));
  }
  return out;
}

Result<MetricsSnapshot> MigrationMetricsSource::Snapshot() {
  std::lock_guard lock(mu_);
  MetricsSnapshot m;
  m.phases = MigrationPhaseNames();
  auto phase = journal_->Get(control::kKeyPhase);
  if (!phase) return MakeError(phase.error());
  m.phase = phase->value_or("");
  auto started = journal_->Get(control::kKeyPhaseStartedMs);
  if (!started) return MakeError(started.error());
  if (*started) m.phase_started_seconds = std::strtod((*started)->c_str(), nullptr) / 1000.0;

  while (true) {  // the events since the last scrape
    auto events = journal_->ListEvents(events_.last_id, 1000);
    if (!events) return MakeError(events.error());
    for (const auto& e : *events) FoldEvent(e, &events_);
    if (events->size() < 1000) break;
  }
  m.write_pause_seconds = events_.write_pause_seconds;
  if (events_.verify_keys_checked) {
    m.verify_keys_checked = verify_checked_.Observe(*events_.verify_keys_checked);
  }
  m.verify_differences = events_.verify_differences;
  for (const auto& [kind, n] : events_.errors) m.errors[kind] = error_counters_[kind].Observe(n);

  if (!engines_.empty()) {
    kept_ = ReadEnginesLocked();
    m.shards = kept_;
  } else if (had_engines_) {
    m.shards = kept_;
  } else {
    auto progress = journal_->Get(control::kKeyProgress);
    if (!progress) return MakeError(progress.error());
    if (*progress) {
      auto shard = ShardFromProgress(nlohmann::json::parse(**progress, nullptr, false));
      if (shard) {
        counters_[""].Apply(&*shard);
        m.shards.push_back(std::move(*shard));
      }
    }
  }
  m.process = ReadProcessMetrics();
  return m;
}

void AddMigrationMetricsRoute(HttpServer* server, MigrationMetricsSource* source,
                              std::string state_dir) {
  server->Handle("/metrics", [source, state_dir = std::move(state_dir)](const HttpRequest&) {
    auto snapshot = source->Snapshot();
    if (!snapshot) {
      return HttpResponse{500, "text/plain; charset=utf-8",
                          "cannot read the journal in " + state_dir +
                              " for /metrics: " + snapshot.error().ToString() + "\n"};
    }
    return HttpResponse{200, kPrometheusContentType,
                        WritePrometheusText(KeyferryFamilies(*snapshot))};
  });
}

}  // namespace kf::observe
