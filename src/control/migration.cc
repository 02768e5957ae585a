// Migration: phases, resume, pause/drain/cutover and rollback (see migration.h).
#include "control/migration.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "control/apply_transitions.h"
#include "control/checks.h"
#include "control/control_errc.h"
#include "control/cutover_hook.h"
#include "control/doctor.h"
#include "control/expiry_reconcile.h"
#include "control/file_source.h"
#include "control/provider.h"
#include "control/routed_target.h"
#include "control/source_backlog.h"
#include "control/source_control.h"
#include "control/stream_group_repair.h"
#include "net/client.h"
#include "net/cluster_probe.h"
#include "net/identity_probe.h"
#include "net/server_info.h"
#include "sync/checkpoint.h"
#include "sync/cluster_source_sync.h"
#include "sync/scan_sync.h"
#include "sync/sync_engine.h"
#include "target/applied_marker.h"
#include "target/writer.h"
#include "verify/verifier.h"

namespace kf::control {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Journal state keys (the target's own, target.pid/port/dir/written, are in provider.h).
constexpr std::string_view kCutoverDoneKey = kKeyCutoverDone;
constexpr std::string_view kCutoverStartedKey = kKeyCutoverStarted;
// The source's replication offset when the hook started (the offset DRAIN waited for):
// a resumed cutover compares it with the source's offset to tell whether Redis took writes
// after its pause ran out.
constexpr const char* kCutoverSourceOffsetKey = "cutover.source_offset";
constexpr std::string_view kPauseStartKey = "pause.started_ms";
// The target's notify-keyspace-events before the live sync added the classes it needs;
// set back at CUTOVER even when the process that changed it died.
constexpr std::string_view kTargetNotifyFlagsKey = "target.notify_flags";
// A cluster source's nodes when the live sync started ({"primaries": [...], "replicas":
// [...]}, {host, port} each): DECOMMISSION shuts them all down even when a resumed apply can no
// longer read the cluster (some already stopped).
constexpr std::string_view kSourceNodesKey = "source.nodes";

// Stream keys whose consumer groups the stream changed are tracked up to this many, for
// the in-pause repair of entries-read; beyond it the migration stops before the pause.
constexpr size_t kMaxStreamGroupKeys = 100000;
// Scan mode (source.mode: scan) leaves CATCH_UP once at most this many notified keys wait to
// be copied again: the rest is copied inside the pause (docs/scan.md).
constexpr uint64_t kScanCatchUpKeys = 1000;
// Keys the target expired by itself and the source has not confirmed yet, kept for the
// in-pause reconciliation; beyond it the migration stops before cutover.
constexpr size_t kMaxTargetExpiries = 1000000;

// Fault-injection point for the integration tests (tests/integration/apply_test.cc):
// KEYFERRY_TEST_HOLD_PHASE=<PHASE>:<ms>[,<PHASE>:<ms>...] makes apply wait that long right
// after entering <PHASE>, so a test can kill it (or its target), or scrape it, inside a phase
// that is otherwise too short to catch. Unset in production; it changes no behaviour but
// timing.
void HoldForTests(Phase phase, const std::atomic<bool>* stop) {
  const char* env = std::getenv("KEYFERRY_TEST_HOLD_PHASE");
  if (env == nullptr) return;
  std::string_view list(env);
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view spec = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    auto colon = spec.find(':');
    if (colon == std::string_view::npos || spec.substr(0, colon) != PhaseName(phase)) continue;
    int ms = std::atoi(std::string(spec.substr(colon + 1)).c_str());
    auto until = Clock::now() + milliseconds(ms);
    while (Clock::now() < until && !(stop && stop->load())) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    return;
  }
}

// Deletes the shard markers (target::ShardMarkerKey: a cluster source's engines' markers) in
// the selected db of `client`'s server: SCAN MATCH on their common prefix, each key checked
// by IsAppliedMarkerKey, deleted one by one (on a cluster node they lie in several slots).
Result<void> DeleteShardMarkers(net::Client& client) {
  std::string cursor = "0";
  do {
    auto scan =
        client.Call({"SCAN", cursor, "MATCH", target::ShardMarkerPattern(), "COUNT", "10000"});
    if (!scan || scan->is_error() || scan->size() != 2) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "SCAN failed" + (scan && scan->is_error() ? ": " + scan->str() : ""));
    }
    cursor = (*scan)[0].str();
    std::vector<std::vector<std::string>> dels;
    for (const auto& k : (*scan)[1].children()) {
      if (target::IsAppliedMarkerKey(k.str())) dels.push_back({"DEL", k.str()});
    }
    if (dels.empty()) continue;
    auto removed = client.CallPipelined(dels);
    if (!removed) return MakeError(removed.error());
    for (const auto& reply : *removed) {
      if (reply.is_error()) return MakeError(ControlErrc::kPhaseFailed, "DEL: " + reply.str());
    }
  } while (cursor != "0");
  return {};
}

// The union of the engines' key sets (db → keys, each key once, first-seen order).
std::map<int, std::vector<std::string>> MergeByDb(
    const std::vector<std::map<int, std::vector<std::string>>>& parts) {
  std::map<int, std::vector<std::string>> out;
  std::map<int, std::set<std::string>> seen;
  for (const auto& part : parts) {
    for (const auto& [db, names] : part) {
      for (const auto& k : names) {
        if (seen[db].insert(k).second) out[db].push_back(k);
      }
    }
  }
  return out;
}

}  // namespace

std::string RollbackRefusal(const std::string& target_endpoint, bool finished) {
  if (finished) {
    return "the migration has cut over to " + target_endpoint +
           ": the data now lives in Valkey and writes made there since are not in Redis, so "
           "going back would lose them. keyferry refuses to roll back after CUTOVER. To return "
           "to Redis, run a new migration in the other direction (Valkey as the source).";
  }
  return "the cutover hook has started (CUTOVER is the point of no return from that moment): "
         "the application may already write to Valkey at " +
         target_endpoint +
         ", and those writes are not in Redis, so rolling back could lose them; keyferry "
         "refuses to roll back from here. Run keyferry apply again: it runs the cutover hook "
         "again (hooks are idempotent) and finishes the migration.";
}

class Migration::Impl {
 public:
  Impl(Spec spec, Journal* journal, ApplyOptions options)
      : spec_(std::move(spec)),
        journal_(journal),
        options_(std::move(options)),
        provider_(MakeProvider(spec_, journal_)) {}

  ~Impl() {
    StopPauseKeeper();
    StopEngine();
  }

  Result<Phase> Apply();
  Result<Phase> Rollback(const std::string& reason, Phase terminal);

 private:
  // Journal helpers.
  void Event(Phase phase, EventKind kind, const std::string& message,
             nlohmann::json data = nlohmann::json::object()) {
    control::Event event;
    event.phase = phase;
    event.kind = kind;
    event.message = message;
    event.data_json = data.dump();
    auto r = journal_->AppendEvent(std::move(event));
    if (!r) spdlog::error("journal: {}", r.error().ToString());
    if (options_.print) options_.print(std::string(PhaseName(phase)) + ": " + message);
  }
  Result<void> SetPhase(Phase phase, PhaseStatus status = PhaseStatus::kRunning) {
    KF_RETURN_IF_ERROR(journal_->Transaction([&]() -> Result<void> {
      KF_RETURN_IF_ERROR(journal_->Set(kKeyPhase, PhaseName(phase)));
      KF_RETURN_IF_ERROR(journal_->Set(kKeyPhaseStatus, PhaseStatusName(status)));
      return journal_->Set(kKeyPhaseStartedMs, std::to_string(UnixMillis()));
    }));
    phase_ = phase;
    return {};
  }
  std::optional<std::string> State(std::string_view key) {
    auto v = journal_->Get(key);
    if (!v) return std::nullopt;
    return *v;
  }
  void SaveProgress() {
    if (!stats_) return;
    auto r = journal_->Set(kKeyProgress, stats_->ToJson());
    (void)r;
  }
  // options_.verify_progress as the verify's callback (none when it is not set).
  verify::ProgressCallback VerifyProgressCallback() {
    if (!options_.verify_progress) return {};
    return [this](const verify::VerifyProgress& p) { options_.verify_progress(&p); };
  }
  bool StopRequested() const { return options_.stop && options_.stop->load(); }
  // Whether the point of no return was passed: the cutover hook started (or finished).
  bool CutoverStarted() { return State(kCutoverStartedKey) || State(kCutoverDoneKey); }

  // Asks the operator (options_.confirm). While the question waits, the phase status is
  // "awaiting-confirmation" and the live progress is journaled once a second.
  Confirmation AskOperator(Phase phase, const std::string& question);

  // The provider's events: in PROVISION (also when a resumed copy confirms its target
  // before any phase runs), and in the current phase (rollback).
  ProviderEvent ProvisionEvents() {
    return [this](EventKind kind, const std::string& message, const nlohmann::json& data) {
      Event(Phase::kProvision, kind, message, data);
    };
  }
  ProviderEvent PhaseEvents() {
    return [this](EventKind kind, const std::string& message, const nlohmann::json& data) {
      Event(phase_, kind, message, data);
    };
  }

  // Endpoints.
  Result<net::Uri> SourceUri() { return spec_.SourceUri(); }
  Result<net::Uri> TargetUri() { return provider_->TargetUri(); }

  // The journal facts the transitions depend on (apply_transitions.h).
  JournalFacts ReadFacts();
  // Runs the step of `phase` (nothing for a terminal state).
  Result<void> RunStep(Phase phase);

  // Phases.
  Result<void> Preflight();
  Result<void> Provision();
  Result<void> FullSync();
  Result<void> CatchUp();
  Result<void> StartEngine();
  Result<void> WaitFullSync();
  Result<void> WaitCatchUp();
  Result<void> LiveVerify();
  Result<void> PauseWrites();
  Result<void> Drain();
  Result<void> VerifyFinal();
  Result<void> ResumeInterruptedCutover();
  // Journals whether the source took writes between the cutover's start (its offset then)
  // and now, reading its backlog back when the offset moved.
  void ReportSourceWritesSince(int64_t at_cutover, int64_t now);
  Result<void> Cutover();
  Result<void> Decommission();
  // A backup file as the source (source.rdb_file, control/file_source.h): FULL_SYNC
  // restores it, CATCH_UP only asks the operator, VERIFY compares the target with it.
  Result<void> RestoreFile();
  Result<void> ConfirmFileCutover();
  void StopEngine();
  Result<void> EngineFailure();

  // The source: one server, or a Redis Cluster (docs/cluster.md, "apply from a cluster
  // source"). ReadSourceTopology reads which, once per process; SourcePrimaries are the
  // servers that take writes (a cluster's primaries serving slots, in slot order, which is
  // the order of the engines of ClusterSourceSync); SourceOffsets their offsets.
  Result<void> ReadSourceTopology();
  Result<std::vector<net::Uri>> SourcePrimaries();
  Result<std::vector<int64_t>> SourceOffsets();
  // Every engine's SyncStats: the one engine's, or each shard's (same order as
  // SourcePrimaries). The apply-only key sets are per engine; apply uses their union.
  std::vector<sync::SyncStats*> EngineStats();
  // Bytes the target is behind the source: summed over the engines, each against its own
  // primary; -1 while an engine does not know its applied offset yet.
  int64_t LagBytes(const std::vector<int64_t>& source_offsets);

  Spec spec_;
  Journal* journal_;
  ApplyOptions options_;
  std::unique_ptr<Provider> provider_;  // holds spec_ and journal_: declared after them
  Phase phase_ = Phase::kPreflight;
  std::unique_ptr<sync::SyncStats> stats_;
  std::unique_ptr<std::atomic<bool>> engine_stop_;
  // The live sync of source.mode: scan (sync/scan_sync.h): one server's ScanSync, or a
  // cluster source's ClusterScanSync (one per primary); null in replica mode.
  std::unique_ptr<sync::ScanLiveSync> scan_engine_;
  std::thread engine_thread_;
  std::atomic<bool> engine_finished_{false};
  std::optional<Error> engine_error_;
  int64_t pause_started_ms_ = -1;
  int64_t drained_offset_ = -1;           // the source's offset at DRAIN (summed over a cluster's)
  std::vector<int64_t> drained_offsets_;  // each source primary's, SourcePrimaries' order
  bool source_read_ = false;
  std::optional<net::ClusterTopology> source_cluster_;         // set when the source is a cluster
  std::vector<std::unique_ptr<sync::SyncStats>> shard_stats_;  // a cluster source's engines
  std::vector<std::string> shard_names_;                       // their sync::ShardName
  std::mutex notify_flags_mu_;  // the engines report the target's flags concurrently
  // Keys that still differed after the live verify's rounds, carried into the in-pause
  // check (source db → keys), and whether function libraries differed too.
  std::map<int, std::vector<std::string>> carried_keys_;
  bool carried_functions_ = false;
  // Every stream key of the source, read before the pause when the live sync resumed an
  // earlier run (its group changes before the resume are unknown).
  std::map<int, std::vector<std::string>> resumed_stream_keys_;
  Result<void> CollectStreamKeysAfterResume();
  Result<void> RepairGroups();
  Result<std::map<int, std::vector<std::string>>> ReconcileExpiries();
  Result<void> RemoveMarker();
  // This apply found the cutover started by an earlier one (crashed, killed or failed hook).
  bool resumed_cutover_ = false;
  // write_pause: read-only — a thread that renews CLIENT PAUSE until cutover or rollback.
  std::thread pause_keeper_;
  std::atomic<bool> pause_keeper_stop_{false};
  void StartPauseKeeper();
  void StopPauseKeeper();
};

// PREFLIGHT runs doctor's checks (doctor.cc), so the two never disagree: any FAIL refuses
// the migration before anything is provisioned or written; warnings become events.
Result<void> Migration::Impl::Preflight() {
  DoctorReport report = RunChecks(spec_, journal_, /*for_preflight=*/true);
  std::string summary;
  for (const auto& check : report.checks) {
    if (check.status == CheckStatus::kWarn) {
      Event(Phase::kPreflight, EventKind::kWarn,
            check.name + ": " + check.detail +
                (check.action.empty() ? std::string() : "; " + check.action));
    }
    if (check.name == "compatibility") summary = check.detail;
  }
  if (!report.ok()) {
    return MakeError(ControlErrc::kPreflightFailed,
                     "PREFLIGHT found what would stop the migration; nothing was provisioned "
                     "or written:" +
                         FailuresText(report) + "\n(keyferry doctor -f " + spec_.origin +
                         " shows every check)");
  }
  Event(Phase::kPreflight, EventKind::kInfo, "every check passed: " + summary,
        nlohmann::json::parse(report.ToJson(), nullptr, false));
  return {};
}

// PROVISION: the provider starts the target or checks the given one (provider.h).
Result<void> Migration::Impl::Provision() { return provider_->Provision(ProvisionEvents()); }

Result<void> Migration::Impl::StartEngine() {
  if (engine_thread_.joinable()) return {};
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  sync::SyncOptions o;
  o.source = *source;
  o.target = *target;
  o.checkpoint_path = spec_.state_dir + "/sync-checkpoint.json";
  o.on_unsupported = spec_.migration.on_unsupported;
  o.big_key_threshold = spec_.migration.big_key_threshold;
  o.writers = spec_.migration.writers;
  // The target is keyferry's: provisioned by it, or an external one it found empty.
  o.flush_target = true;
  KF_RETURN_IF_ERROR(ReadSourceTopology());
  auto set_capacities = [&](sync::SyncStats& stats) {
    stats.recent_keys.set_capacity(static_cast<size_t>(spec_.migration.pause_verify_keys));
    stats.stream_group_keys.set_capacity(kMaxStreamGroupKeys);
    stats.target_expiries.set_capacity(kMaxTargetExpiries);
  };
  if (options_.sync_stats) options_.sync_stats(nullptr);  // the old stats go away
  if (options_.engine_stats) options_.engine_stats({});
  stats_ = std::make_unique<sync::SyncStats>();
  shard_stats_.clear();
  shard_names_.clear();
  if (source_cluster_) {
    // One engine per source shard (sync/cluster_source_sync.h), each with its own key sets;
    // stats_ receives their folded numbers.
    if (auto ready = sync::CheckSourceTopology(*source_cluster_, source->Endpoint()); !ready) {
      return MakeError(ControlErrc::kPhaseFailed, ready.error().message);
    }
    nlohmann::json nodes = {{"primaries", nlohmann::json::array()},
                            {"replicas", nlohmann::json::array()}};
    for (const auto& shard : sync::PlanShardSyncs(o, *source_cluster_)) {
      shard_stats_.push_back(std::make_unique<sync::SyncStats>());
      shard_names_.push_back(shard.name);
      set_capacities(*shard_stats_.back());
      nodes["primaries"].push_back(
          {{"host", shard.options.source.host}, {"port", shard.options.source.port}});
    }
    for (const auto& shard : source_cluster_->shards) {
      for (const auto& replica : shard.replicas) {
        net::Uri node = net::NodeUri(*source, replica);
        nodes["replicas"].push_back({{"host", node.host}, {"port", node.port}});
      }
    }
    KF_RETURN_IF_ERROR(journal_->Set(kSourceNodesKey, nodes.dump()));
  } else {
    set_capacities(*stats_);
  }
  KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetWritten, "1"));
  o.track_target_expiries = true;
  o.on_target_notify_flags = [this](const std::string& flags) {
    std::lock_guard lock(notify_flags_mu_);
    if (State(kTargetNotifyFlagsKey)) return;  // the first value seen is the operator's
    auto r = journal_->Set(kTargetNotifyFlagsKey, flags);
    if (!r) spdlog::warn("journal: {}", r.error().ToString());
  };
  engine_stop_ = std::make_unique<std::atomic<bool>>(false);
  engine_finished_ = false;
  engine_error_.reset();
  const bool scan = spec_.source.mode == SourceMode::kScan;
  scan_engine_.reset();
  if (scan && source_cluster_) {
    // One scan engine per primary, each with its own key sets (shard_stats_).
    std::vector<sync::SyncStats*> per_shard;
    for (const auto& s : shard_stats_) per_shard.push_back(s.get());
    scan_engine_ = std::make_unique<sync::ClusterScanSync>(o, *source_cluster_, stats_.get(),
                                                           std::move(per_shard));
  } else if (scan) {
    scan_engine_ = std::make_unique<sync::ScanSync>(o, stats_.get());
  }
  engine_thread_ = std::thread([this, o] {
    Result<void> r;
    if (scan_engine_) {
      r = scan_engine_->Run(*engine_stop_);
    } else if (source_cluster_) {
      sync::ClusterSourceSync cluster(o, *source_cluster_, stats_.get());
      std::vector<sync::SyncStats*> per_shard;
      for (const auto& s : shard_stats_) per_shard.push_back(s.get());
      cluster.set_shard_stats(std::move(per_shard));
      r = cluster.Run(*engine_stop_);
    } else {
      sync::SyncEngine engine(o, stats_.get());
      r = engine.Run(*engine_stop_);
    }
    if (!r) engine_error_ = r.error();
    engine_finished_ = true;
  });
  if (options_.sync_stats) options_.sync_stats(stats_.get());
  if (options_.engine_stats) {
    std::vector<control::EngineStats> engines;
    for (size_t i = 0; i < shard_stats_.size(); ++i) {
      engines.push_back({shard_names_[i], shard_stats_[i].get()});
    }
    if (engines.empty()) engines.push_back({"", stats_.get()});
    options_.engine_stats(engines);
  }
  return {};
}

Result<void> Migration::Impl::ReadSourceTopology() {
  if (source_read_) return {};
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto topology = ReadClusterIfAny(*source);  // INFO first: no CLUSTER for a standalone
  if (!topology) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "reading whether the source " + source->Endpoint() +
                         " is a cluster failed: " + topology.error().ToString());
  }
  source_cluster_ = std::move(*topology);
  source_read_ = true;
  return {};
}

Result<std::vector<net::Uri>> Migration::Impl::SourcePrimaries() {
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  KF_RETURN_IF_ERROR(ReadSourceTopology());
  if (!source_cluster_) return std::vector<net::Uri>{*source};
  std::vector<net::Uri> out;
  for (const auto& shard : source_cluster_->shards) {
    if (!shard.slots.empty()) out.push_back(net::NodeUri(*source, shard.primary));
  }
  return out;
}

Result<std::vector<int64_t>> Migration::Impl::SourceOffsets() {
  auto primaries = SourcePrimaries();
  if (!primaries) return MakeError(primaries.error());
  std::vector<int64_t> out;
  for (const net::Uri& primary : *primaries) {
    auto offset = SourceControl(primary).ReplicationOffset();
    if (!offset) return MakeError(offset.error());
    out.push_back(*offset);
  }
  return out;
}

std::vector<sync::SyncStats*> Migration::Impl::EngineStats() {
  std::vector<sync::SyncStats*> out;
  if (!shard_stats_.empty()) {
    for (const auto& s : shard_stats_) out.push_back(s.get());
  } else if (stats_) {
    out.push_back(stats_.get());
  }
  return out;
}

int64_t Migration::Impl::LagBytes(const std::vector<int64_t>& source_offsets) {
  auto engines = EngineStats();
  if (engines.size() != source_offsets.size()) return -1;
  int64_t lag = 0;
  for (size_t i = 0; i < engines.size(); ++i) {
    int64_t applied = engines[i]->applied_offset.load();
    if (applied < 0) return -1;
    lag += std::max<int64_t>(source_offsets[i] - applied, 0);
  }
  return lag;
}

void Migration::Impl::StartPauseKeeper() {
  if (pause_keeper_.joinable()) return;
  pause_keeper_stop_ = false;
  auto primaries = SourcePrimaries();
  if (!primaries) {
    spdlog::warn("the read-only pause cannot be renewed: {}", primaries.error().ToString());
    return;
  }
  pause_keeper_ = std::thread([this, nodes = *primaries] {
    const milliseconds pause(spec_.migration.max_pause_ms);
    while (!pause_keeper_stop_) {
      for (const net::Uri& node : nodes) {
        auto r = SourceControl(node).PauseWrites(pause);
        if (!r) spdlog::warn("renewing the read-only pause failed: {}", r.error().ToString());
      }
      // Renew at a third of the timeout, so one missed renewal does not unpause.
      auto until = Clock::now() + pause / 3;
      while (!pause_keeper_stop_ && Clock::now() < until) {
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
  });
}

void Migration::Impl::StopPauseKeeper() {
  pause_keeper_stop_ = true;
  if (pause_keeper_.joinable()) pause_keeper_.join();
}

void Migration::Impl::StopEngine() {
  if (!engine_thread_.joinable()) return;
  *engine_stop_ = true;
  engine_thread_.join();
}

Result<void> Migration::Impl::EngineFailure() {
  if (engine_error_) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "the live sync stopped: " + engine_error_->ToString());
  }
  return MakeError(ControlErrc::kPhaseFailed, "the live sync stopped unexpectedly");
}

Result<void> Migration::Impl::WaitFullSync() {
  auto last_progress = Clock::now();
  while (static_cast<sync::SyncPhase>(stats_->phase.load()) != sync::SyncPhase::kStream) {
    if (engine_finished_) return EngineFailure();
    if (StopRequested()) return MakeError(ControlErrc::kAborted, "aborted by the operator");
    if (Clock::now() - last_progress > milliseconds(1000)) {
      SaveProgress();
      last_progress = Clock::now();
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  SaveProgress();
  Event(Phase::kFullSync, EventKind::kFinish,
        "snapshot applied: " + std::to_string(stats_->keys_written.load()) + " keys, " +
            std::to_string(stats_->snapshot_bytes.load()) + " bytes in " +
            std::to_string(stats_->snapshot_ms.load()) + " ms",
        {{"keys", stats_->keys_written.load()},
         {"bytes", stats_->snapshot_bytes.load()},
         {"ms", stats_->snapshot_ms.load()},
         {"full_syncs", stats_->full_syncs.load()},
         {"partial_syncs", stats_->partial_syncs.load()}});
  return {};
}

Result<void> Migration::Impl::WaitCatchUp() {
  auto last_progress = Clock::now();
  for (;;) {
    if (engine_finished_) return EngineFailure();
    if (StopRequested()) return MakeError(ControlErrc::kAborted, "aborted by the operator");
    if (scan_engine_) {  // scan mode: no offsets; the notified keys not yet copied again
      const uint64_t pending = scan_engine_->pending_keys();
      if (pending <= kScanCatchUpKeys) {
        SaveProgress();
        Event(Phase::kCatchUp, EventKind::kFinish,
              "scan mode: " + std::to_string(pending) + " notified keys not yet copied again",
              {{"pending_keys", pending}});
        return {};
      }
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    auto offsets = SourceOffsets();
    if (offsets) {
      int64_t lag = LagBytes(*offsets);
      if (lag >= 0 && lag <= static_cast<int64_t>(spec_.migration.catch_up_max_lag_bytes)) {
        SaveProgress();
        Event(Phase::kCatchUp, EventKind::kFinish,
              "the target is " + std::to_string(lag) + " bytes behind the source",
              {{"lag_bytes", lag}});
        return {};
      }
    }
    if (Clock::now() - last_progress > milliseconds(1000)) {
      SaveProgress();
      last_progress = Clock::now();
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

// The key-by-key comparison, run while writes still flow (a full compare cannot fit in a
// pause of milliseconds): keys still in flight converge over the re-check rounds. Keys
// that still differ after the last round are not yet a verdict — a key the application
// writes every millisecond never compares equal while it writes — so up to
// pause_recheck_keys of them are carried into the in-pause check (VerifyFinal), where the
// comparison is exact; more than that, or any with pause_recheck_keys 0, stops the
// migration before anything is paused (docs/verify.md, "Convergence during apply").
Result<void> Migration::Impl::LiveVerify() {
  carried_keys_.clear();
  carried_functions_ = false;
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  verify::VerifyOptions vo;
  switch (spec_.migration.verify) {
    case VerifyMode::kFull:
      vo.mode = verify::VerifyMode::kFull;
      break;
    case VerifyMode::kKeys:
      vo.mode = verify::VerifyMode::kKeys;
      break;
    case VerifyMode::kSample:
      vo.mode = verify::VerifyMode::kSample;
      vo.sample_rate = spec_.migration.verify_sample_rate;
      break;
  }
  vo.rounds = spec_.migration.verify_rounds;
  vo.interval = milliseconds(1000);
  const auto carry_max = static_cast<uint64_t>(spec_.migration.pause_recheck_keys);
  vo.list_remaining = true;
  vo.max_tracked_keys = std::max<size_t>(vo.max_tracked_keys, carry_max + 1);
  auto report = verify::Verify(*source, *target, vo, VerifyProgressCallback(), options_.stop);
  if (options_.verify_progress) options_.verify_progress(nullptr);
  if (!report) {
    return MakeError(ControlErrc::kVerifyMismatch,
                     "the live verify could not run: " + report.error().ToString());
  }
  nlohmann::json data = nlohmann::json::parse(verify::ReportToJson(*report), nullptr, false);
  if (report->equal) {
    Event(Phase::kCatchUp, EventKind::kInfo,
          "live verify (" + VerifyName(spec_.migration.verify, spec_.migration.verify_sample_rate) +
              "): source and target hold the same data",
          data);
    return {};
  }
  if (report->differing_keys > carry_max || report->untracked_keys > 0) {
    Event(Phase::kCatchUp, EventKind::kFail, "live verify found differences", data);
    return MakeError(
        ControlErrc::kVerifyMismatch,
        "source and target still differ on " + std::to_string(report->differing_keys) +
            " keys after " + std::to_string(spec_.migration.verify_rounds) +
            " re-check rounds, more than the " + std::to_string(carry_max) +
            " that can be compared again inside the write pause "
            "(migration.pause_recheck_keys); nothing was paused or cut over. Keys that only "
            "lag behind a busy application are few; this many point to a real difference. "
            "The report:\n" +
            verify::ReportToText(*report));
  }
  for (const verify::Difference& d : report->remaining) {
    if (d.is_function) {
      carried_functions_ = true;
    } else {
      carried_keys_[d.source_db].push_back(d.key);
    }
  }
  Event(Phase::kCatchUp, EventKind::kInfo,
        std::to_string(report->differing_keys) + " keys still differ after " +
            std::to_string(spec_.migration.verify_rounds) +
            " live re-check rounds (written while compared, or really different); they are "
            "compared again inside the write pause, where a difference rolls back",
        data);
  return {};
}

Result<void> Migration::Impl::CollectStreamKeysAfterResume() {
  resumed_stream_keys_.clear();
  bool tracked = true;  // every engine ran a full sync in this process
  for (sync::SyncStats* engine : EngineStats()) {
    tracked = tracked && engine->tracked_since_full_sync.load();
  }
  if (tracked) return {};
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto keys = SourceStreamKeys(*source);
  if (!keys) return MakeError(keys.error());
  size_t n = 0;
  for (const auto& [db, names] : *keys) n += names.size();
  if (n > kMaxStreamGroupKeys) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "the source holds " + std::to_string(n) +
                         " streams; after a resumed sync keyferry repairs the consumer groups "
                         "of every stream inside the write pause, and at most " +
                         std::to_string(kMaxStreamGroupKeys) +
                         " fit. Abort (keyferry abort) and apply again: a fresh copy tracks "
                         "only the streams that change");
  }
  resumed_stream_keys_ = std::move(*keys);
  Event(Phase::kCatchUp, EventKind::kInfo,
        "the live sync resumed an earlier run: the consumer groups of all " + std::to_string(n) +
            " streams will be repaired inside the pause");
  return {};
}

// Inside the pause, after DRAIN: entries-read of every group the stream changed, from the
// source (stream_group_repair.h says why replication leaves it stale).
Result<void> Migration::Impl::RepairGroups() {
  std::vector<std::map<int, std::vector<std::string>>> parts;
  for (sync::SyncStats* engine : EngineStats()) {
    if (engine->stream_group_keys.overflowed()) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "more than " + std::to_string(kMaxStreamGroupKeys) +
                           " streams had consumer-group changes during the sync, more than "
                           "keyferry repairs inside the write pause; not cutting over");
    }
    parts.push_back(engine->stream_group_keys.ByDb());
  }
  auto keys = MergeByDb(parts);
  for (const auto& [db, names] : resumed_stream_keys_) {
    auto& into = keys[db];
    into.insert(into.end(), names.begin(), names.end());
  }
  if (keys.empty()) return {};
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  auto started = Clock::now();
  auto repaired = RepairStreamGroups(*source, *target, keys);
  if (!repaired) return MakeError(repaired.error());
  int64_t ms = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
  Event(Phase::kVerify, EventKind::kInfo,
        "set entries-read of " + std::to_string(repaired->groups_set) + " consumer groups on " +
            std::to_string(repaired->streams_read) + " streams from the source (" +
            std::to_string(repaired->groups_changed) + " differed; " + std::to_string(ms) + " ms)",
        {{"streams", repaired->streams_read},
         {"groups", repaired->groups_set},
         {"changed", repaired->groups_changed},
         {"ms", ms}});
  return {};
}

// Inside the pause, after DRAIN: the keys the target expired by itself and the source has
// not confirmed with a DEL (sync/target_expiries.h) are set to the source's state. Returns
// them, so that the in-pause check compares them too.
Result<std::map<int, std::vector<std::string>>> Migration::Impl::ReconcileExpiries() {
  // Scan mode copies each key whole with its absolute expiry, and a key the source expires
  // is notified and deleted: a target expiry cannot leave a key without its TTL there, as
  // a replayed stream command can in replica mode. Nothing to reconcile.
  if (scan_engine_) return std::map<int, std::vector<std::string>>{};
  // A cluster source runs one engine per shard, each with its own subscriber and set: every
  // one must be complete, and the union is reconciled (a key another shard's engine saw
  // expire is read from its own primary: harmless).
  const std::vector<sync::SyncStats*> engines = EngineStats();
  for (const sync::SyncStats* engine : engines) {
    const sync::TargetExpiries& expiries = engine->target_expiries;
    if (expiries.events_lost()) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "keyferry lost track of the keys the target expires by itself (" +
                           expiries.events_lost_why() +
                           "), so it cannot make them exact inside the pause; not cutting "
                           "over. Apply again");
    }
    if (expiries.overflowed()) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "the target expired more than " + std::to_string(kMaxTargetExpiries) +
                           " keys by itself before the source did, more than keyferry "
                           "reconciles inside the pause; not cutting over");
    }
  }
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  auto started = Clock::now();
  // Every event the target published before now must be in each set: a fence per engine.
  uint64_t added = 0;
  std::vector<std::map<int, std::vector<std::string>>> parts;
  for (const sync::SyncStats* engine : engines) {
    const sync::TargetExpiries& expiries = engine->target_expiries;
    const std::string channel = expiries.fence_channel();
    if (channel.empty()) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "the target's expired events are not being received; not cutting over");
    }
    const std::string token = std::to_string(UnixMillis()) + "-" + std::to_string(drained_offset_);
    net::Client client;
    auto connected = client.Connect(*target);
    auto published = connected ? client.Call({"PUBLISH", channel, token})
                               : Result<resp::Reply>(MakeError(connected.error()));
    if (!published || published->is_error() || !expiries.AwaitFence(token, milliseconds(2000))) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "the target's expired events did not arrive within 2 s of a fence "
                       "message; keyferry cannot tell which keys it expired by itself, so it "
                       "does not cut over");
    }
    added += expiries.added();
    parts.push_back(expiries.ByDb());
  }
  auto keys = MergeByDb(parts);
  if (keys.empty()) return keys;
  auto done = ReconcileExpiredKeys(*source, *target, keys);
  if (!done) return MakeError(done.error());
  int64_t ms = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
  Event(Phase::kVerify, EventKind::kInfo,
        "reconciled " + std::to_string(done->keys) +
            " keys the target had expired by itself before the source did (" +
            std::to_string(done->deleted) + " gone on the source, " +
            std::to_string(done->restored) + " copied from it; " + std::to_string(ms) + " ms)",
        {{"keys", done->keys},
         {"deleted", done->deleted},
         {"restored", done->restored},
         {"expired_by_target", added},
         {"ms", ms}});
  return keys;
}

// Pauses every server that takes writes: the one source, or every primary of a cluster
// source, one after the other. The pause counts from before the first; a failure part-way
// leaves kPauseStartKey set, so the rollback unpauses every primary.
Result<void> Migration::Impl::PauseWrites() {
  auto primaries = SourcePrimaries();
  if (!primaries) return MakeError(primaries.error());
  const milliseconds max_pause(spec_.migration.max_pause_ms);
  if (spec_.migration.write_pause == WritePause::kReadOnly) {
    // Paused since FULL_SYNC; the pause length counts from then.
    if (auto started = State(kPauseStartKey)) pause_started_ms_ = std::stoll(*started);
  } else {
    pause_started_ms_ = UnixMillis();
    KF_RETURN_IF_ERROR(journal_->Set(kPauseStartKey, std::to_string(pause_started_ms_)));
  }
  const int64_t first = UnixMillis();
  // Every primary at once (one connection and thread each), so the pauses start together;
  // a failure on any is the step's failure, and the rollback unpauses them all.
  std::vector<Result<void>> paused(primaries->size());
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < primaries->size(); ++i) {
      threads.emplace_back(
          [&, i] { paused[i] = SourceControl((*primaries)[i]).PauseWrites(max_pause); });
    }
    for (auto& t : threads) t.join();
  }
  for (auto& result : paused) KF_RETURN_IF_ERROR(result);
  if (primaries->size() > 1) {
    const int64_t spread = UnixMillis() - first;
    Event(Phase::kPauseWrites, EventKind::kInfo,
          "paused writes on the " + std::to_string(primaries->size()) +
              " primaries of the source cluster (" + std::to_string(spread) +
              " ms from the first pause to the last)",
          {{"primaries", primaries->size()}, {"spread_ms", spread}});
  }
  return {};
}

// DRAIN: every engine's applied offset reaches its own primary's offset (one engine for a
// standalone source, one per shard for a cluster).
Result<void> Migration::Impl::Drain() {
  auto offsets = SourceOffsets();
  if (!offsets) return MakeError(offsets.error());
  const std::vector<sync::SyncStats*> engines = EngineStats();
  if (engines.size() != offsets->size()) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "the source has " + std::to_string(offsets->size()) +
                         " primaries serving slots but the live sync runs " +
                         std::to_string(engines.size()) +
                         " engines: its topology changed during the migration; writes were "
                         "resumed. Apply again once the cluster is stable");
  }
  drained_offsets_ = *offsets;
  drained_offset_ = 0;
  for (int64_t o : drained_offsets_) drained_offset_ += o;
  if (scan_engine_) {
    // Scan mode: a fence on the notification channel, then every key notified before it
    // copied again (sync/scan_sync.h). Writes are paused, so that is every write.
    const uint64_t token = scan_engine_->RequestDrain();
    auto deadline = Clock::now() + milliseconds(spec_.migration.max_pause_ms * 8 / 10);
    while (!scan_engine_->Drained(token)) {
      if (engine_finished_) return EngineFailure();
      if (Clock::now() > deadline) {
        return MakeError(ControlErrc::kPhaseFailed,
                         "scan mode did not copy the keys notified before the pause within 80% "
                         "of max_pause_ms (" +
                             std::to_string(spec_.migration.max_pause_ms) +
                             " ms); writes were resumed. Raise max_pause_ms and apply again");
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    return {};
  }
  auto drained = [&] {
    for (size_t i = 0; i < engines.size(); ++i) {
      if (engines[i]->applied_offset.load() < drained_offsets_[i]) return false;
    }
    return true;
  };
  auto deadline = Clock::now() + milliseconds(spec_.migration.max_pause_ms * 8 / 10);
  while (!drained()) {
    if (engine_finished_) return EngineFailure();
    if (Clock::now() > deadline) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "the target did not apply the source's final offset " +
                           std::to_string(drained_offset_) + " within 80% of max_pause_ms (" +
                           std::to_string(spec_.migration.max_pause_ms) +
                           " ms); writes were resumed. Raise max_pause_ms or lower "
                           "catch_up_max_lag_bytes and apply again");
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  return {};
}

Result<void> Migration::Impl::VerifyFinal() {
  // Offsets prove the target applied every write the source made; with writes paused,
  // the replication offset cannot move, so equality means nothing is in flight.
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  auto offsets = SourceOffsets();
  if (!offsets) return MakeError(offsets.error());
  const std::vector<sync::SyncStats*> engines = EngineStats();
  auto primaries = SourcePrimaries();
  if (!primaries) return MakeError(primaries.error());
  // A reshard of a cluster source since the sync started: the live sync reads the topology
  // every 2 s, so one in the last seconds before the pause is seen only here. A key moving
  // between two shards may have been applied out of order (sync/cluster_source_sync.h).
  if (source_cluster_) {
    if (auto resharded = sync::ReshardSince(*source, *source_cluster_); !resharded.empty()) {
      return MakeError(ControlErrc::kVerifyMismatch,
                       "the source cluster was resharded during the migration (" + resharded +
                           "): a key that moved between two shards may have been applied out "
                           "of order, so keyferry is not cutting over. Apply again once the "
                           "reshard is over");
    }
  }
  for (size_t i = 0; i < offsets->size(); ++i) {
    const bool moved = i >= drained_offsets_.size() || (*offsets)[i] != drained_offsets_[i];
    const bool behind =
        !scan_engine_ && (i >= engines.size() || engines[i]->applied_offset.load() < (*offsets)[i]);
    if (moved || behind) {
      return MakeError(ControlErrc::kVerifyMismatch,
                       "the offset of the source " + (*primaries)[i].Endpoint() +
                           " moved during the write pause (" +
                           (i < drained_offsets_.size() ? std::to_string(drained_offsets_[i])
                                                        : std::string("unknown")) +
                           " → " + std::to_string((*offsets)[i]) +
                           "): something wrote while writes were paused; not cutting over");
    }
  }
  KF_RETURN_IF_ERROR(RepairGroups());
  auto reconciled = ReconcileExpiries();
  if (!reconciled) return MakeError(reconciled.error());
  // Key by key: the keys written last before the pause (the ones most likely to be in
  // flight) and the keys the live verify could not see equal while writes flowed. The
  // live verify in CATCH_UP covered everything else.
  std::vector<std::map<int, std::vector<std::string>>> recent;
  for (const sync::SyncStats* engine : engines) recent.push_back(engine->recent_keys.ByDb());
  auto keys = MergeByDb(recent);
  size_t carried = 0;
  for (const auto& [db, names] : *reconciled) {  // compared too: they were just written
    auto& into = keys[db];
    into.insert(into.end(), names.begin(), names.end());
  }
  for (const auto& [db, names] : carried_keys_) {
    auto& into = keys[db];
    std::set<std::string> have(into.begin(), into.end());
    for (const auto& k : names) {
      if (have.insert(k).second) into.push_back(k);
    }
    carried += names.size();
  }
  if (keys.empty() && !carried_functions_) return {};
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  verify::VerifyOptions vo;
  vo.mode = spec_.migration.verify == VerifyMode::kKeys ? verify::VerifyMode::kKeys
                                                        : verify::VerifyMode::kFull;
  vo.only_keys = std::move(keys);
  vo.compare_functions = carried_functions_;
  vo.max_tracked_keys = std::max<size_t>(vo.max_tracked_keys, carried + 100000);
  auto started = Clock::now();
  auto report = verify::Verify(*source, *target, vo, VerifyProgressCallback(), options_.stop);
  if (options_.verify_progress) options_.verify_progress(nullptr);
  if (!report) {
    return MakeError(
        ControlErrc::kVerifyMismatch,
        "the check of the last keys written could not run: " + report.error().ToString());
  }
  int64_t ms = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
  uint64_t checked = report->rounds.empty() ? 0 : report->rounds[0].keys_checked;
  nlohmann::json data = nlohmann::json::parse(verify::ReportToJson(*report), nullptr, false);
  if (!report->equal) {
    Event(Phase::kVerify, EventKind::kFail, "keys written last differ inside the pause", data);
    return MakeError(ControlErrc::kVerifyMismatch,
                     "with writes paused and every offset applied, keys still differ; not "
                     "cutting over. The report:\n" +
                         verify::ReportToText(*report));
  }
  Event(Phase::kVerify, EventKind::kInfo,
        "the " + std::to_string(checked) + " keys written last or still differing live (" +
            std::to_string(carried) + ") are equal on both ends (" + std::to_string(ms) + " ms)",
        {{"keys", checked}, {"carried", carried}, {"ms", ms}});
  return {};
}

// keyferry's applied-offset marker (target/applied_marker.h) must not be in the
// application's view after cutover. The live sync is stopped first (writes are paused, so
// nothing is in flight) so that no later batch writes it again.
Result<void> Migration::Impl::RemoveMarker() {
  StopEngine();
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  auto topology = net::ReadClusterTopology(*target);
  if (!topology) {
    return MakeError(
        ControlErrc::kPhaseFailed,
        "removing keyferry's marker: cannot read the target: " + topology.error().ToString());
  }
  // The nodes that hold keys: the one server, or every primary of a cluster.
  std::vector<net::Uri> nodes;
  if (*topology) {
    for (const auto& shard : (*topology)->shards) {
      if (!shard.slots.empty()) nodes.push_back(net::NodeUri(*target, shard.primary));
    }
  } else {
    nodes.push_back(*target);
  }
  // The live sync turned on expired events (on every primary); a sync that died could not
  // turn them off.
  if (auto flags = State(kTargetNotifyFlagsKey)) {
    for (const net::Uri& node : nodes) {
      net::Client client;
      auto restored = client.Connect(node)
                          ? client.Call({"CONFIG", "SET", "notify-keyspace-events", *flags})
                          : Result<resp::Reply>(MakeError(ControlErrc::kPhaseFailed, "no link"));
      if (!restored || !restored->IsOk()) {
        Event(phase_, EventKind::kWarn,
              "could not set notify-keyspace-events back to \"" + *flags + "\" on the target " +
                  node.Endpoint() + "; set it by hand");
      }
    }
  }
  if (*topology) {
    // The head marker and every slot's marker on every primary (target/cluster_writer.h).
    auto writer = target::OpenWriter(*target);
    if (!writer) return MakeError(writer.error());
    auto deleted = (*writer)->Connect();
    if (deleted) deleted = (*writer)->DeleteMarkers();
    (*writer)->Close();
    if (!deleted) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "removing keyferry's markers (" + std::string(target::kAppliedMarkerKey) +
                           " and its {slot} keys) from " + (*writer)->Describe() +
                           " failed: " + deleted.error().ToString());
    }
    // A cluster source's engines keep their head markers in keys of their own
    // (ShardMarkerKey), each in whatever slot it hashes to: every primary is scanned.
    for (const net::Uri& node : nodes) {
      net::Client client;
      auto c = client.Connect(node);
      auto removed = c ? DeleteShardMarkers(client)
                       : Result<void>(MakeError(ControlErrc::kPhaseFailed, c.error().ToString()));
      if (!removed) {
        return MakeError(ControlErrc::kPhaseFailed,
                         "removing keyferry's shard markers (" + target::ShardMarkerPattern() +
                             ") from the target node " + node.Endpoint() +
                             " failed: " + removed.error().ToString());
      }
    }
    return {};
  }
  net::Client client;
  if (auto c = client.Connect(*target); !c) {
    return MakeError(
        ControlErrc::kPhaseFailed,
        "removing keyferry's marker: cannot reach the target: " + c.error().ToString());
  }
  auto keyspace = client.Call({"INFO", "keyspace"});
  if (!keyspace || keyspace->is_error()) {
    return MakeError(ControlErrc::kPhaseFailed, "removing keyferry's marker: INFO keyspace failed");
  }
  // A SWAPDB or MOVE on the source can have carried the marker to another db: every db.
  // A cluster source's sync keeps one marker per source shard (ShardMarkerKey): found by
  // SCAN MATCH on their common prefix, each checked by IsAppliedMarkerKey before it goes.
  std::istringstream lines(keyspace->str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("db", 0) != 0) continue;
    std::string db = line.substr(2, line.find(':') - 2);
    auto failed = [&] {
      return MakeError(ControlErrc::kPhaseFailed, "removing keyferry's marker " +
                                                      std::string(target::kAppliedMarkerKey) +
                                                      " from db " + db + " of the target failed");
    };
    auto r =
        client.CallPipelined({{"SELECT", db}, {"DEL", std::string(target::kAppliedMarkerKey)}});
    if (!r || (*r)[0].is_error() || (*r)[1].is_error()) return failed();
    if (!DeleteShardMarkers(client)) return failed();
  }
  return {};
}

namespace {

// The hook's {nodes}: every primary's host:port of a cluster target, comma-separated; ""
// for a standalone target (HookCommand then uses the target's own host:port).
std::string PrimaryAddresses(const net::Uri& target) {
  auto topology = net::ReadClusterTopology(target);
  if (!topology || !*topology) return "";
  std::string out;
  for (const auto& shard : (*topology)->shards) {
    if (shard.slots.empty()) continue;
    out += (out.empty() ? "" : ",") + net::NodeUri(target, shard.primary).Endpoint();
  }
  return out;
}

}  // namespace

Confirmation Migration::Impl::AskOperator(Phase phase, const std::string& question) {
  if (!options_.confirm) return Confirmation::kNo;
  auto status = journal_->Set(kKeyPhaseStatus, PhaseStatusName(PhaseStatus::kAwaitingConfirmation));
  (void)status;
  Event(phase, EventKind::kInfo, "awaiting the operator's confirmation");
  // The live sync goes on while the operator thinks: keep its numbers fresh for status.
  std::atomic<bool> answered{false};
  std::thread progress([this, &answered] {
    while (!answered) {
      SaveProgress();
      for (int i = 0; i < 20 && !answered; ++i) std::this_thread::sleep_for(milliseconds(50));
    }
  });
  Confirmation answer = options_.confirm(question);
  answered = true;
  progress.join();
  status = journal_->Set(kKeyPhaseStatus, PhaseStatusName(PhaseStatus::kRunning));
  (void)status;
  switch (answer) {
    case Confirmation::kYes:
      Event(phase, EventKind::kInfo, "the operator confirmed", {{"answer", "yes"}});
      break;
    case Confirmation::kNo:
      Event(phase, EventKind::kInfo, "the operator declined", {{"answer", "declined"}});
      break;
    case Confirmation::kStopped:
      Event(phase, EventKind::kInfo, "aborted by the operator while awaiting the confirmation",
            {{"answer", "aborted"}});
      break;
  }
  return answer;
}

// A previous apply passed the point of no return (the hook started) and did not record the
// end of the cutover: it was killed, crashed, or its hook failed. Say what is known, make
// sure the data is still there, hold the source's writes again, and ask before running the
// hook again. Never rolls back.
Result<void> Migration::Impl::ResumeInterruptedCutover() {
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  std::string started = State(kCutoverStartedKey).value_or("");
  int64_t started_ms = started.empty() ? 0 : std::stoll(started);
  Event(Phase::kCutover, EventKind::kWarn,
        "a previous apply started the cutover hook " +
            (started_ms > 0 ? std::to_string((UnixMillis() - started_ms) / 1000) + " s ago"
                            : std::string("earlier")) +
            " and stopped before the hook's end was recorded: the hook may have finished, "
            "failed half-way or still be running, and the application may already write to " +
            target->Endpoint() +
            ". keyferry does not roll back from here (abort and rollback refuse); it runs the "
            "hook again and finishes the migration",
        {{"cutover_started_ms", started_ms}, {"target", target->Endpoint()}});

  // The data lives in the target now: it must still be there. A new, empty one is no
  // replacement.
  KF_RETURN_IF_ERROR(provider_->ConfirmAfterCutover());

  // What the source did since the hook started: a moved offset means writes reached Redis
  // after its pause ran out (the application was still pointed there); they are not in
  // Valkey, and keyferry cannot merge them into a target the application may write to.
  // A backup file as the source (source.rdb_file) takes no writes: nothing to compare or pause.
  if (!spec_.source.is_file()) {
    auto source = SourceUri();
    if (!source) return MakeError(source.error());
    auto offsets = SourceOffsets();  // summed over a cluster's primaries, as at the cutover
    auto at_start = State(kCutoverSourceOffsetKey);
    if (!offsets) {
      Event(Phase::kCutover, EventKind::kInfo,
            "the source " + source->Endpoint() + " cannot be read (" + offsets.error().ToString() +
                "); going on without it");
    } else {
      int64_t offset = 0;
      for (int64_t o : *offsets) offset += o;
      ReportSourceWritesSince(at_start ? std::stoll(*at_start) : -1, offset);
      // Clients still pointed at Redis must not write there while the hook runs again.
      StartPauseKeeper();
      Event(Phase::kCutover, EventKind::kInfo,
            "source writes paused again (CLIENT PAUSE WRITE, renewed) until the hook has run");
    }
  }

  if (!options_.auto_approve) {
    std::string question =
        "The cutover to " + target->Endpoint() +
        " was interrupted after its hook started. Run the cutover hook again" +
        (spec_.cutover.hook.empty() ? std::string(" (none is configured)")
                                    : " (" + spec_.cutover.hook + ")") +
        " and finish the migration (" +
        (spec_.after_cutover.source == SourceAfterCutover::kKeep ? "keep" : "shut down") +
        " the source)? [y/N] ";
    switch (AskOperator(Phase::kCutover, question)) {
      case Confirmation::kYes:
        break;
      case Confirmation::kNo:
        return MakeError(ControlErrc::kDeclined,
                         "the operator declined to run the cutover hook again; nothing was "
                         "rolled back (the cutover had started). Run keyferry apply again "
                         "to finish it");
      case Confirmation::kStopped:
        return MakeError(ControlErrc::kAborted,
                         "stopped by the operator before the cutover hook ran again; nothing "
                         "was rolled back (the cutover had started). Run keyferry apply again "
                         "to finish it");
    }
  }
  return {};
}

void Migration::Impl::ReportSourceWritesSince(int64_t at_cutover, int64_t now) {
  if (at_cutover < 0) return;
  nlohmann::json data = {{"offset_at_cutover", at_cutover}, {"offset_now", now}};
  if (now == at_cutover) {
    Event(Phase::kCutover, EventKind::kInfo,
          "the source took no writes since the cutover started (its offset is still " +
              std::to_string(now) + ")",
          data);
    return;
  }
  if (source_cluster_) {
    Event(Phase::kCutover, EventKind::kWarn,
          "the summed replication offset of the source cluster's primaries moved from " +
              std::to_string(at_cutover) + " to " + std::to_string(now) +
              " since the cutover started; keyferry does not read a cluster source's backlogs "
              "back, so it cannot tell replication PINGs from writes: if clients still pointed "
              "at Redis wrote there after its pause ran out, those writes are not in Valkey",
          data);
    return;
  }
  // The offset also moves by the PINGs a primary sends its replicas: read what it holds.
  auto checkpoint = sync::LoadCheckpoint(spec_.state_dir + "/sync-checkpoint.json");
  std::string replid = checkpoint && *checkpoint ? (*checkpoint)->replid : "";
  auto source = SourceUri();
  auto backlog = source && !replid.empty()
                     ? ReadBacklogSince(*source, replid, at_cutover, now)
                     : Result<BacklogWrites>(MakeError(ControlErrc::kPhaseFailed,
                                                       "no replication id in the checkpoint"));
  if (!backlog) {
    Event(Phase::kCutover, EventKind::kWarn,
          "the source's replication offset moved from " + std::to_string(at_cutover) + " to " +
              std::to_string(now) +
              " since the cutover started, and what moved it cannot be read back (" +
              backlog.error().ToString() +
              "): if it was writes (not only the PINGs Redis sends its replicas), they reached "
              "Redis after its write pause ran out and are not in Valkey",
          data);
    return;
  }
  data["writes"] = backlog->writes;
  data["examples"] = backlog->examples;
  if (backlog->writes == 0) {
    Event(Phase::kCutover, EventKind::kInfo,
          "the source took no writes since the cutover started (its offset moved from " +
              std::to_string(at_cutover) + " to " + std::to_string(now) +
              " by replication PINGs only)",
          data);
    return;
  }
  std::string examples;
  for (const auto& e : backlog->examples) examples += (examples.empty() ? "" : "; ") + e;
  Event(Phase::kCutover, EventKind::kWarn,
        "the source took " + std::to_string(backlog->writes) +
            (backlog->writes == 1 ? " write" : " writes") +
            " after its write pause ran out (offsets " + std::to_string(at_cutover) + " to " +
            std::to_string(now) + ", e.g. " + examples +
            "): clients still pointed at Redis wrote there, and those writes are not in "
            "Valkey. Find those clients; keyferry does not copy them into a target the "
            "application may already write to",
        data);
}

Result<void> Migration::Impl::Cutover() {
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  // Before the point of no return: the live sync stops and its marker leaves the target,
  // which the application is about to see (idempotent on a resumed cutover).
  KF_RETURN_IF_ERROR(RemoveMarker());
  if (resumed_cutover_) {
    KF_RETURN_IF_ERROR(ResumeInterruptedCutover());
  } else {
    if (StopRequested()) {
      return MakeError(ControlErrc::kAborted,
                       "aborted by the operator before the cutover hook started");
    }
    // The point of no return, journaled before the hook can change anything.
    KF_RETURN_IF_ERROR(journal_->Transaction([&]() -> Result<void> {
      KF_RETURN_IF_ERROR(journal_->Set(kCutoverStartedKey, std::to_string(UnixMillis())));
      return journal_->Set(kCutoverSourceOffsetKey, std::to_string(drained_offset_));
    }));
    if (StopRequested()) {  // an abort that raced the line above: the hook never ran
      auto erased = journal_->Erase(kCutoverStartedKey);
      if (erased) {
        return MakeError(ControlErrc::kAborted,
                         "aborted by the operator before the cutover hook started");
      }
    }
    Event(Phase::kCutover, EventKind::kInfo,
          "point of no return: running the cutover hook; from now on keyferry never rolls "
          "back (abort and rollback refuse), a failure or a crash is finished by running "
          "keyferry apply again");
  }
  if (!spec_.cutover.hook.empty()) {
    std::string command = spec_.HookCommand(*target, PrimaryAddresses(*target));
    auto hook =
        RunCutoverHook(command, std::chrono::seconds(spec_.cutover.hook_timeout_s), spec_.spec_dir);
    if (!hook) {
      return MakeError(ControlErrc::kHookFailed,
                       "the cutover hook could not be started: " + hook.error().ToString() +
                           ". Nothing is rolled back once the cutover has started: fix this, "
                           "then run keyferry apply again");
    }
    nlohmann::json data = {{"command", hook->command},
                           {"exit_code", hook->exit_code},
                           {"ms", hook->duration_ms},
                           {"output", hook->output},
                           {"dir", spec_.spec_dir}};
    if (hook->timed_out || hook->exit_code != 0) {
      Event(Phase::kCutover, EventKind::kFail, "the cutover hook failed", data);
      return MakeError(
          ControlErrc::kHookFailed,
          std::string("the cutover hook ") +
              (hook->timed_out
                   ? "timed out after " + std::to_string(spec_.cutover.hook_timeout_s) + " s"
                   : "exited with status " + std::to_string(hook->exit_code)) +
              " (run in " + spec_.spec_dir +
              "). keyferry does not roll back once the hook has started: it may already have "
              "switched the application, or part of it, to " +
              target->Endpoint() +
              ". Source writes stay paused until max_pause_ms runs out. Fix what made the "
              "hook fail, then run keyferry apply again: it runs the hook again (hooks must be "
              "idempotent) and finishes the migration. Output: " +
              hook->output);
    }
    Event(Phase::kCutover, EventKind::kInfo, "cutover hook succeeded", data);
  }
  KF_RETURN_IF_ERROR(journal_->Set(kCutoverDoneKey, "1"));
  if (resumed_cutover_) {
    Event(Phase::kCutover, EventKind::kFinish,
          "cut over to " + target->Endpoint() +
              " (the interrupted cutover finished; the write pause's length is unknown)",
          {{"target", target->Endpoint()}});
    return {};
  }
  if (spec_.source.is_file()) {
    Event(Phase::kCutover, EventKind::kFinish,
          "cut over to " + target->Endpoint() + " (from the backup file " + spec_.source.rdb_file +
              "; no write pause)",
          {{"target", target->Endpoint()}});
    return {};
  }
  int64_t pause_ms = UnixMillis() - pause_started_ms_;
  Event(Phase::kCutover, EventKind::kFinish,
        "cut over to " + target->Endpoint() + "; writes were paused for " +
            std::to_string(pause_ms) + " ms",
        {{"pause_ms", pause_ms}, {"target", target->Endpoint()}});
  return {};
}

Result<void> Migration::Impl::Decommission() {
  StopPauseKeeper();
  StopEngine();
  if (spec_.source.is_file()) {
    Event(Phase::kDecommission, EventKind::kInfo,
          "the source is the backup file " + spec_.source.rdb_file +
              ": nothing to shut down; the file is left as it is");
    return {};
  }
  auto source = SourceUri();
  if (!source) return MakeError(source.error());
  // The servers to keep or stop: the one source, or every node of a cluster source as the
  // live sync found it (journaled, so a resumed DECOMMISSION finds the nodes it has not
  // stopped yet even when the cluster can no longer be read); replicas first, so none is
  // promoted when its primary stops.
  std::vector<net::Uri> primaries{*source};
  std::vector<net::Uri> replicas;
  if (auto saved = State(kSourceNodesKey)) {
    auto nodes = nlohmann::json::parse(*saved, nullptr, false);
    if (nodes.is_object()) {
      auto read = [&](const char* field, std::vector<net::Uri>& into) {
        for (const auto& a : nodes.value(field, nlohmann::json::array())) {
          net::Uri uri = *source;
          uri.db = 0;
          uri.host = a.value("host", source->host);
          uri.port = a.value("port", source->port);
          into.push_back(uri);
        }
      };
      primaries.clear();
      read("primaries", primaries);
      read("replicas", replicas);
    }
  }
  if (!State(kSourceNodesKey) && ReadSourceTopology() && source_cluster_) {
    primaries.clear();
    for (const auto& shard : source_cluster_->shards) {
      if (!shard.slots.empty()) primaries.push_back(net::NodeUri(*source, shard.primary));
      for (const auto& replica : shard.replicas) {
        replicas.push_back(net::NodeUri(*source, replica));
      }
    }
  }
  if (spec_.after_cutover.source == SourceAfterCutover::kKeep) {
    for (const net::Uri& primary : primaries) {
      auto r = SourceControl(primary).Unpause();
      if (!r) {
        Event(Phase::kDecommission, EventKind::kWarn,
              "could not unpause the kept source " + primary.Endpoint() + ": " +
                  r.error().ToString());
      }
    }
    Event(Phase::kDecommission, EventKind::kInfo,
          "kept the source running (after_cutover.source: keep); writes made there from now "
          "on are not copied");
    return {};
  }
  std::string stopped;
  for (const auto* group : {&replicas, &primaries}) {
    for (const net::Uri& node : *group) {
      KF_RETURN_IF_ERROR(SourceControl(node).Shutdown());
      stopped += (stopped.empty() ? "" : ", ") + node.Endpoint();
    }
  }
  Event(Phase::kDecommission, EventKind::kInfo,
        replicas.empty() && primaries.size() == 1
            ? "shut down the source " + primaries[0].Endpoint()
            : "shut down the " + std::to_string(replicas.size() + primaries.size()) +
                  " nodes of the source cluster (replicas first): " + stopped);
  return {};
}

Result<Phase> Migration::Impl::Rollback(const std::string& reason, Phase terminal) {
  if (CutoverStarted()) {
    auto target = TargetUri();
    return MakeError(ControlErrc::kRefused,
                     RollbackRefusal(target ? target->Endpoint() : "the target",
                                     State(kCutoverDoneKey).has_value()));
  }
  // The whole reason is in the failure's own event; these repeat its first line.
  const std::string why = reason.substr(0, reason.find('\n'));
  Event(phase_, EventKind::kRollback, "rolling back: " + why);
  StopPauseKeeper();
  StopEngine();
  bool clean = true;
  if (State(kPauseStartKey)) {
    // Every primary of a cluster source: the pause may have stopped part-way.
    auto primaries = SourcePrimaries();
    if (!primaries) {
      clean = false;
      Event(phase_, EventKind::kWarn,
            "could not tell which source servers to unpause (their pause times out by itself "
            "after max_pause_ms): " +
                primaries.error().ToString());
    } else {
      for (const net::Uri& primary : *primaries) {
        auto r = SourceControl(primary).Unpause();
        if (!r) {
          clean = false;
          Event(phase_, EventKind::kWarn,
                "could not unpause the source " + primary.Endpoint() +
                    " (its pause times out by itself after max_pause_ms): " + r.error().ToString());
        } else {
          Event(phase_, EventKind::kInfo,
                "source writes resumed on " + primary.Endpoint() + " (CLIENT UNPAUSE)");
        }
      }
    }
  }
  if (!provider_->Remove(PhaseEvents())) clean = false;
  std::error_code ec;
  std::filesystem::remove(spec_.state_dir + "/sync-checkpoint.json", ec);
  // A cluster source's engines keep one checkpoint per shard: sync-checkpoint.json.<shard>.
  for (const auto& entry : std::filesystem::directory_iterator(spec_.state_dir, ec)) {
    if (entry.path().filename().string().starts_with("sync-checkpoint.json.")) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  for (std::string_view key : {kKeyTargetPid, kKeyTargetPort, kKeyTargetDir, kKeyTargetWritten,
                               kKeyTargetNodes, kKeyTargetCluster, kPauseStartKey,
                               kTargetNotifyFlagsKey, kSourceNodesKey, kKeySourceFileIdentity}) {
    auto r = journal_->Erase(key);
    (void)r;
  }
  Phase final_phase = clean ? terminal : Phase::kFailed;
  auto r = SetPhase(final_phase, PhaseStatus::kDone);
  (void)r;
  Event(final_phase, EventKind::kFinish, "migration stopped before cutover: " + why);
  return final_phase;
}

Result<Phase> Migration::Impl::Apply() {
  std::string fingerprint = spec_.Fingerprint();
  std::optional<Phase> journaled;
  const auto saved = State(kKeyPhase);
  if (saved) journaled = ParsePhase(*saved);
  const JournalFacts facts = ReadFacts();
  const ResumePoint resume = ResumeAt(journaled, facts);
  if (resume.already_done) {
    Event(Phase::kDone, EventKind::kInfo, "the migration is already done; nothing to do");
    return Phase::kDone;
  }
  auto saved_fp = State(kKeySpecFingerprint);
  if (resume.spec_locked && saved_fp && *saved_fp != fingerprint) {
    std::vector<std::string> changed;
    if (auto before = State(kKeySpecJson)) {
      auto json = nlohmann::json::parse(*before, nullptr, false);
      if (!json.is_discarded()) changed = ChangedFields(json, spec_.ToJson());
    }
    // Not in the fingerprint: where the file is, where the numbers are served.
    std::erase_if(changed, [](const std::string& f) {
      return f == "origin" || f == "observe" || f.starts_with("observe.");
    });
    if (!SpecChangeAllowed(changed, facts)) {
      std::string fields;
      for (const auto& f : changed) fields += (fields.empty() ? " (changed: " : ", ") + f;
      if (!fields.empty()) fields += ")";
      return MakeError(
          ControlErrc::kSpecChanged,
          "the spec changed since this migration started" + fields + " (phase " + *saved +
              (facts.cutover_started || facts.cutover_done
                   ? "); the cutover has started, so only cutover.* and after_cutover.* may "
                     "change: put the other fields back and run keyferry apply again"
                   : "); finish it with the original spec, or abort it (keyferry abort) "
                     "before applying a changed one"));
    }
    Event(Phase::kCutover, EventKind::kInfo,
          "the spec's cutover settings changed since the cutover started; using the new ones");
  }
  KF_RETURN_IF_ERROR(journal_->Set(kKeySpecFingerprint, fingerprint));
  KF_RETURN_IF_ERROR(journal_->Set(kKeySpecJson, spec_.ToJson().dump()));
  KF_RETURN_IF_ERROR(journal_->Set(kKeySpecName, spec_.name));
  resumed_cutover_ = resume.cutover_interrupted;
  if (resume.resumed_at != Phase::kPreflight) {
    Event(resume.resumed_at, EventKind::kInfo,
          "resuming the migration at " + std::string(PhaseName(resume.resumed_at)));
  }
  if (resume.back_to_live_sync) {
    Event(resume.resumed_at, EventKind::kInfo,
          "re-establishing the live sync before pausing writes again");
  }

  // Carries out a failed step's consequence (NextAfter): an event, then a rollback or,
  // past the point of no return, FAILED with nothing rolled back.
  auto fail = [&](Error e, const Next& next) -> Result<Phase> {
    Event(phase_, EventKind::kFail, e.ToString());
    if (next.kind == NextKind::kFailAfterCutover) {
      auto r = SetPhase(next.phase, PhaseStatus::kFailed);
      (void)r;
      Event(next.phase, EventKind::kFinish,
            "stopped after the cutover started; nothing was rolled back. Run keyferry apply "
            "again to finish the migration");
      return MakeError(std::move(e));
    }
    return Rollback(e.ToString(), next.phase);
  };

  Phase entry = resume.entry;
  // A resumed copy needs its provisioned target: reuse it when it is the same live
  // process, else start a new one and copy again from the start (never resume into an
  // empty server).
  if (resume.confirm_target) {
    auto replaced = provider_->ConfirmOrReplace(ProvisionEvents());
    if (!replaced) {
      phase_ = entry;
      Result<void> failed = MakeError(replaced.error());
      return fail(replaced.error(), NextAfter(entry, OutcomeOf(failed), ReadFacts()));
    }
    entry = EntryAfterTargetCheck(entry, *replaced);
  }

  Next next{NextKind::kRunPhase, entry};
  while (next.kind == NextKind::kRunPhase) {
    const Phase phase = next.phase;
    if (StopRequested()) {
      Next stopped = NextAfter(phase, StepOutcome::kStopped, ReadFacts());
      if (stopped.kind != NextKind::kRunPhase) {
        return fail(Error{make_error_code(ControlErrc::kAborted), "aborted by the operator"},
                    stopped);
      }
    }
    Result<void> r = SetPhase(phase);
    if (r) {
      Event(phase, EventKind::kStart, "started");
      HoldForTests(phase, options_.stop);
      r = RunStep(phase);
    }
    next = NextAfter(phase, OutcomeOf(r), ReadFacts());
    if (!r) return fail(std::move(r).error(), next);
    // FULL_SYNC, CATCH_UP and CUTOVER journal their own finish event, with their numbers.
    if (phase != Phase::kCutover && phase != Phase::kFullSync && phase != Phase::kCatchUp) {
      Event(phase, EventKind::kFinish, "done");
    }
  }
  if (next.kind == NextKind::kNoStep) return next.phase;
  KF_RETURN_IF_ERROR(SetPhase(Phase::kDone, PhaseStatus::kDone));
  nlohmann::json report = nlohmann::json::parse(stats_ ? stats_->ToJson() : "{}");
  Event(Phase::kDone, EventKind::kFinish, "migration complete", report);
  return Phase::kDone;
}

// FULL_SYNC: the live sync starts (or resumes from its checkpoint) and the snapshot is
// applied; in read-only mode the source's writes are paused from here on.
Result<void> Migration::Impl::FullSync() {
  if (spec_.migration.write_pause == WritePause::kReadOnly) {
    if (!State(kPauseStartKey)) {
      pause_started_ms_ = UnixMillis();
      KF_RETURN_IF_ERROR(journal_->Set(kPauseStartKey, std::to_string(pause_started_ms_)));
    }
    StartPauseKeeper();
    Event(Phase::kFullSync, EventKind::kInfo,
          "write_pause read-only: source writes are paused for the whole migration");
  }
  KF_RETURN_IF_ERROR(StartEngine());
  return WaitFullSync();
}

// CATCH_UP: the gap closes, the live verify runs, and the operator confirms (unless
// auto_approve) before anything is paused; the gap is closed again after each wait.
Result<void> Migration::Impl::CatchUp() {
  KF_RETURN_IF_ERROR(StartEngine());
  KF_RETURN_IF_ERROR(WaitCatchUp());
  KF_RETURN_IF_ERROR(LiveVerify());
  KF_RETURN_IF_ERROR(CollectStreamKeysAfterResume());
  KF_RETURN_IF_ERROR(WaitCatchUp());  // the verify took time: close the gap again
  if (!options_.auto_approve) {
    auto target = TargetUri();
    std::string question =
        "The target " + (target ? target->Endpoint() : std::string("(unknown)")) +
        " has caught up. Pause writes on the source, cut over and " +
        (spec_.after_cutover.source == SourceAfterCutover::kKeep ? "keep" : "shut down") +
        " the source? This cannot be undone. [y/N] ";
    switch (AskOperator(Phase::kCatchUp, question)) {
      case Confirmation::kYes:
        break;
      case Confirmation::kNo:
        return MakeError(ControlErrc::kDeclined,
                         "the operator declined the cutover; nothing was paused or cut over");
      case Confirmation::kStopped:
        return MakeError(ControlErrc::kAborted,
                         "aborted by the operator while apply awaited the confirmation; "
                         "nothing was paused or cut over");
    }
    // The answer may have taken a while: close the gap again before pausing.
    KF_RETURN_IF_ERROR(WaitCatchUp());
  }
  return {};
}

Result<void> Migration::Impl::RestoreFile() {
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  // The restore's numbers, shown and served as a live sync's (one engine, no shard).
  if (options_.sync_stats) options_.sync_stats(nullptr);
  if (options_.engine_stats) options_.engine_stats({});
  stats_ = std::make_unique<sync::SyncStats>();
  if (options_.sync_stats) options_.sync_stats(stats_.get());
  if (options_.engine_stats) options_.engine_stats({{"", stats_.get()}});
  return FileSourceSteps(spec_, journal_)
      .Restore(
          *target, options_.stop, stats_.get(), [this] { SaveProgress(); }, PhaseEvents());
}

Result<void> Migration::Impl::ConfirmFileCutover() {
  if (!options_.auto_approve) {
    auto target = TargetUri();
    std::string question =
        "The target " + (target ? target->Endpoint() : std::string("(unknown)")) + " holds what " +
        spec_.source.rdb_file +
        " holds. Compare the two key by key and, when they are equal, cut over? This cannot be "
        "undone. [y/N] ";
    switch (AskOperator(Phase::kCatchUp, question)) {
      case Confirmation::kYes:
        break;
      case Confirmation::kNo:
        return MakeError(ControlErrc::kDeclined,
                         "the operator declined the cutover; nothing was cut over");
      case Confirmation::kStopped:
        return MakeError(ControlErrc::kAborted,
                         "aborted by the operator while apply awaited the confirmation; "
                         "nothing was cut over");
    }
  }
  Event(Phase::kCatchUp, EventKind::kFinish,
        "the source is a backup file: nothing to catch up (an offline migration)");
  return {};
}

JournalFacts Migration::Impl::ReadFacts() {
  JournalFacts facts;
  facts.cutover_done = State(kCutoverDoneKey).has_value();
  facts.cutover_started = State(kCutoverStartedKey).has_value();
  return facts;
}

Result<void> Migration::Impl::RunStep(Phase phase) {
  switch (phase) {
    case Phase::kPreflight:
      return Preflight();
    case Phase::kProvision:
      return Provision();
    case Phase::kFullSync:
      return spec_.source.is_file() ? RestoreFile() : FullSync();
    case Phase::kCatchUp:
      return spec_.source.is_file() ? ConfirmFileCutover() : CatchUp();
    case Phase::kPauseWrites:
    case Phase::kDrain:
      if (spec_.source.is_file()) {
        Event(phase, EventKind::kInfo, "the source is a backup file: no writes to pause or drain");
        return {};
      }
      return phase == Phase::kPauseWrites ? PauseWrites() : Drain();
    case Phase::kVerify:
      if (spec_.source.is_file()) {
        auto target = TargetUri();
        if (!target) return MakeError(target.error());
        return FileSourceSteps(spec_, journal_).Verify(*target, PhaseEvents());
      }
      return VerifyFinal();
    case Phase::kCutover:
      return Cutover();
    case Phase::kDecommission:
      return Decommission();
    case Phase::kDone:
    case Phase::kFailed:
    case Phase::kRolledBack:
    case Phase::kAborted:
      break;
  }
  return {};  // terminal states have no step (NextAfter never runs one)
}

Migration::Migration(Spec spec, Journal* journal, ApplyOptions options)
    : impl_(std::make_unique<Impl>(std::move(spec), journal, std::move(options))) {}

Migration::~Migration() = default;

Result<Phase> Migration::Apply() { return impl_->Apply(); }

Result<Phase> Migration::Rollback(const std::string& reason) {
  return impl_->Rollback(reason, Phase::kAborted);
}

}  // namespace kf::control
