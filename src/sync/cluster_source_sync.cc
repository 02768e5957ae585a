// ClusterSourceSync: one SyncEngine per source shard into one shared target
// (cluster_source_sync.h; docs/cluster.md, "Cluster source").
#include "sync/cluster_source_sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "net/client.h"
#include "net/cluster_probe.h"
#include "net/server_info.h"
#include "sync/checkpoint.h"
#include "sync/sync_errc.h"
#include "target/applied_marker.h"
#include "target/writer.h"

namespace kf::sync {
namespace {

// How often the orchestrator reads the source's topology again, to stop on a reshard.

// The slowest phase first: connecting < snapshot < stream < done.
int PhaseRank(SyncPhase phase) {
  switch (phase) {
    case SyncPhase::kConnecting:
      return 0;
    case SyncPhase::kSnapshot:
      return 1;
    case SyncPhase::kStream:
      return 2;
    case SyncPhase::kDone:
      return 3;
    case SyncPhase::kFailed:
      return -1;
  }
  return 0;
}

}  // namespace

std::string ShardName(const net::ClusterShard& shard) {
  return shard.slots.empty() ? "s-" + shard.primary.id : "s" + std::to_string(shard.slots[0].first);
}

Result<void> CheckSourceTopology(const net::ClusterTopology& topology, const std::string& seed) {
  if (auto unserved = topology.UnassignedSlots(); !unserved.empty()) {
    return MakeError(SyncErrc::kClusterNotReady,
                     "the cluster of the source " + seed + " has no primary serving slots " +
                         net::SlotRangesToString(unserved) + " (cluster_state: " +
                         (topology.state.empty() ? "unknown" : topology.state) +
                         "): the copy would miss their keys. Nothing was written; assign the "
                         "slots (CLUSTER ADDSLOTSRANGE, or redis-cli --cluster fix) and run "
                         "again once CLUSTER INFO says cluster_state:ok");
  }
  if (!topology.migrations.empty()) {
    std::string moving;
    for (const auto& m : topology.migrations) {
      if (!moving.empty()) moving += "; ";
      moving += net::DescribeSlotMigration(m);
    }
    return MakeError(SyncErrc::kClusterNotReady,
                     "a slot migration is in progress in the cluster of the source " + seed + " (" +
                         moving +
                         "): a key on its way between two shards could be copied by neither or "
                         "both. Nothing was written; let the reshard finish (or end it with "
                         "CLUSTER SETSLOT <slot> STABLE on both nodes) and run again");
  }
  if (!topology.state.empty() && topology.state != "ok") {
    return MakeError(SyncErrc::kClusterNotReady,
                     "the cluster of the source " + seed + " says cluster_state:" + topology.state +
                         ". Nothing was written; run again once CLUSTER INFO says "
                         "cluster_state:ok");
  }
  return {};
}

std::function<std::optional<net::Uri>()> ShardPrimaryLocator(const net::Uri& seed,
                                                             const net::ClusterTopology& topology,
                                                             int slot) {
  // Every node the cluster had at the start can answer; the seed first.
  std::vector<net::Uri> nodes{seed};
  for (const auto& shard : topology.shards) {
    nodes.push_back(net::NodeUri(seed, shard.primary));
    for (const auto& replica : shard.replicas) nodes.push_back(net::NodeUri(seed, replica));
  }
  return [nodes, seed, slot]() -> std::optional<net::Uri> {
    net::ClusterReadOptions ro;
    ro.read_migrations = false;
    ro.client.connect_timeout = std::chrono::milliseconds(500);
    ro.client.io_timeout = std::chrono::milliseconds(1000);
    for (const auto& node : nodes) {
      auto read = net::ReadClusterTopology(node, ro);
      if (!read || !read->has_value()) continue;
      const net::ClusterShard* shard = (*read)->ShardOfSlot(slot);
      if (shard == nullptr || shard->primary.health == net::NodeHealth::kFailed)
        return std::nullopt;
      return net::NodeUri(seed, shard->primary);
    }
    return std::nullopt;
  };
}

Error ReshardError(const std::string& moved) {
  return Error{make_error_code(SyncErrc::kClusterNotReady),
               "the source cluster is being resharded (" + moved +
                   "): each shard is copied from its own primary, and a key moving between two "
                   "shards cannot be ordered between their streams, so keyferry stopped. When "
                   "the reshard is over, run the sync again from the start (--flush-target, "
                   "without the old checkpoint files)"};
}

std::string ReshardSince(const net::Uri& seed, const net::ClusterTopology& start) {
  std::vector<net::Uri> nodes{seed};
  for (const auto& shard : start.shards) {
    nodes.push_back(net::NodeUri(seed, shard.primary));
    for (const auto& replica : shard.replicas) nodes.push_back(net::NodeUri(seed, replica));
  }
  net::ClusterReadOptions ro;
  ro.client.connect_timeout = std::chrono::milliseconds(500);
  ro.client.io_timeout = std::chrono::milliseconds(1000);
  for (const auto& node : nodes) {
    auto read = net::ReadClusterTopology(node, ro);
    if (!read || !read->has_value()) continue;  // a node that is down, or failing over
    const net::ClusterTopology& now = **read;
    if (!now.migrations.empty()) {
      return net::DescribeSlotMigration(now.migrations.front()) +
             (now.migrations.size() > 1
                  ? " and " + std::to_string(now.migrations.size() - 1) + " more"
                  : "");
    }
    for (const auto& shard : start.shards) {
      if (shard.slots.empty()) continue;
      const net::ClusterShard* current = now.ShardOfSlot(shard.slots.front().first);
      if (current == nullptr || current->slots != shard.slots) {
        return "the shard that served slots " + net::SlotRangesToString(shard.slots) +
               " now serves " +
               (current == nullptr ? std::string("nothing")
                                   : net::SlotRangesToString(current->slots));
      }
    }
    return "";
  }
  return "";  // no node answered: each engine reports its own lost link
}

std::vector<ShardSync> PlanShardSyncs(const SyncOptions& options,
                                      const net::ClusterTopology& topology) {
  std::vector<ShardSync> out;
  for (const auto& shard : topology.shards) {
    if (shard.slots.empty()) continue;
    ShardSync s;
    s.name = ShardName(shard);
    s.options = options;
    s.options.source = net::NodeUri(options.source, shard.primary);
    s.options.marker_key = target::ShardMarkerKey(s.name);
    s.options.owned_slots = shard.slots;
    if (!options.checkpoint_path.empty()) {
      s.options.checkpoint_path = options.checkpoint_path + "." + s.name;
    }
    out.push_back(std::move(s));
  }
  return out;
}

void AggregateStats(const std::vector<const SyncStats*>& shards, SyncStats* out) {
  if (shards.empty()) return;
  int slowest = 3;
  bool failed = false;
  int64_t started = 0, snapshot_ms = 0, lag_ms = 0, applied = 0, source = 0;
  bool applied_known = true, source_known = true;
  uint64_t keys = 0, skipped = 0, bytes = 0, total_bytes = 0, commands = 0;
  uint64_t full = 0, partial = 0, drops = 0, snapshot_keys = 0, keys_estimate = 0;
  for (const SyncStats* s : shards) {
    auto phase = static_cast<SyncPhase>(s->phase.load());
    failed = failed || phase == SyncPhase::kFailed;
    if (phase != SyncPhase::kFailed) slowest = std::min(slowest, PhaseRank(phase));
    int64_t st = s->started_ms.load();
    if (st > 0 && (started == 0 || st < started)) started = st;
    snapshot_ms = std::max(snapshot_ms, s->snapshot_ms.load());
    lag_ms = std::max(lag_ms, s->lag_ms.load());
    int64_t a = s->applied_offset.load(), src = s->source_offset.load();
    applied_known = applied_known && a >= 0;
    source_known = source_known && src >= 0;
    applied += std::max<int64_t>(a, 0);
    source += std::max<int64_t>(src, 0);
    keys += s->keys_written.load();
    skipped += s->keys_skipped.load();
    bytes += s->snapshot_bytes.load();
    snapshot_keys += s->snapshot_keys.load();
    keys_estimate += s->snapshot_keys_estimate.load();
    total_bytes += s->snapshot_total_bytes.load();
    commands += s->commands_applied.load();
    full += s->full_syncs.load();
    partial += s->partial_syncs.load();
    drops += s->link_drops.load();
  }
  static constexpr SyncPhase kByRank[] = {SyncPhase::kConnecting, SyncPhase::kSnapshot,
                                          SyncPhase::kStream, SyncPhase::kDone};
  out->phase = static_cast<int>(failed ? SyncPhase::kFailed : kByRank[slowest]);
  if (started > 0) out->started_ms = started;
  out->snapshot_ms = snapshot_ms;
  out->lag_ms = lag_ms;
  out->applied_offset = applied_known ? applied : -1;
  out->source_offset = source_known ? source : -1;
  out->keys_written = keys;
  out->keys_skipped = skipped;
  out->snapshot_bytes = bytes;
  out->snapshot_total_bytes = total_bytes;
  out->snapshot_keys = snapshot_keys;
  out->snapshot_keys_estimate = keys_estimate;
  out->commands_applied = commands;
  out->full_syncs = full;
  out->partial_syncs = partial;
  out->link_drops = drops;
}

ClusterSourceSync::ClusterSourceSync(SyncOptions options, net::ClusterTopology topology,
                                     SyncStats* stats)
    : options_(std::move(options)), topology_(std::move(topology)), stats_(stats) {}

Result<void> ClusterSourceSync::CheckTarget(const std::vector<ShardSync>& shards) {
  // One server or a cluster: the same questions through target::Writer.
  auto opened = target::OpenWriter(options_.target);
  if (!opened) return MakeError(opened.error());
  target::Writer& writer = **opened;
  KF_RETURN_IF_ERROR(writer.Connect());
  const std::string where = "the target " + writer.Describe();
  auto keyspace = writer.Info("keyspace");
  if (!keyspace) {
    return MakeError(SyncErrc::kBadOption,
                     keyspace.error().message + "; allow the target user +info");
  }
  uint64_t keys = 0;
  for (const auto& node : *keyspace) keys += net::KeyspaceKeyCount(node.text);
  if (keys == 0) return {};
  // A shard resumes when its checkpoint exists and the target still holds its marker; the
  // shards without one are copied again by their engines (their slots' keys deleted first).
  bool any_checkpoint = false;
  bool resumable = false;
  if (!options_.checkpoint_path.empty()) {
    for (const auto& shard : shards) {
      auto cp = LoadCheckpoint(shard.options.checkpoint_path);
      if (!cp) return MakeError(cp.error());
      if (!cp->has_value()) continue;
      any_checkpoint = true;
      writer.set_marker_key(shard.options.marker_key);
      writer.set_owned_slots(shard.options.owned_slots);
      auto marker = writer.ReadMarker();
      if (!marker) return MakeError(SyncErrc::kTargetNotOurs, marker.error().message);
      resumable = resumable || marker->has_value();
    }
  }
  if (resumable) return {};
  if (options_.flush_target) {
    spdlog::warn("{} holds {} keys: emptying it (FLUSHALL, --flush-target)", where, keys);
    auto flushed = writer.FlushAll();
    if (!flushed) {
      return MakeError(
          SyncErrc::kTargetRejected,
          "FLUSHALL on " + where + " (--flush-target) failed: " + flushed.error().ToString());
    }
    return {};
  }
  if (any_checkpoint) {
    return MakeError(SyncErrc::kTargetNotOurs,
                     where + " holds " + std::to_string(keys) +
                         " keys but not keyferry's marker: it is not the target checkpoint " +
                         options_.checkpoint_path +
                         ".* belongs to, or it lost data. Check --target; to copy everything "
                         "again into it, pass --flush-target");
  }
  return MakeError(SyncErrc::kTargetNotEmpty,
                   where + " already holds " + std::to_string(keys) +
                       " keys; keyferry copies into an empty target. Empty it, point "
                       "keyferry at another one, or pass --flush-target to delete them");
}

Result<void> ClusterSourceSync::Run(const std::atomic<bool>& stop) {
  stats_->started_ms = UnixMillis();
  auto shards = PlanShardSyncs(options_, topology_);
  if (shards.empty()) {
    stats_->phase = static_cast<int>(SyncPhase::kFailed);
    return MakeError(SyncErrc::kClusterNotReady, "the cluster of the source " +
                                                     options_.source.Endpoint() +
                                                     " has no primary serving slots");
  }
  if (auto checked = CheckTarget(shards); !checked) {
    stats_->phase = static_cast<int>(SyncPhase::kFailed);
    return checked;
  }
  std::string names;
  for (const auto& shard : shards) {
    names += (names.empty() ? "" : ", ") + shard.name + " at " + shard.options.source.Endpoint() +
             " (slots " + net::SlotRangesToString(shard.options.owned_slots) + ")";
  }
  spdlog::info("cluster source: {} shards: {}", shards.size(), names);

  if (!shard_stats_.empty() && shard_stats_.size() != shards.size()) {
    stats_->phase = static_cast<int>(SyncPhase::kFailed);
    return MakeError(SyncErrc::kClusterNotReady,
                     "the cluster of the source " + options_.source.Endpoint() + " now has " +
                         std::to_string(shards.size()) + " shards serving slots, not the " +
                         std::to_string(shard_stats_.size()) +
                         " it had when the migration read it; run again");
  }
  std::vector<std::unique_ptr<SyncStats>> own_stats;
  std::vector<SyncStats*> shard_stats = shard_stats_;
  if (shard_stats.empty()) {
    for (size_t i = 0; i < shards.size(); ++i) {
      own_stats.push_back(std::make_unique<SyncStats>());
      shard_stats.push_back(own_stats.back().get());
    }
  }
  for (auto& shard : shards) {
    shard.options.locate_source =
        ShardPrimaryLocator(options_.source, topology_, shard.options.owned_slots.front().first);
  }
  return RunShardEngines(
      shards, shard_stats, stats_,
      [&](size_t i, const std::atomic<bool>& stop_engine) {
        SyncEngine engine(shards[i].options, shard_stats[i]);
        return engine.Run(stop_engine);
      },
      [&] { return ReshardSince(options_.source, topology_); }, topology_check_every_, stop);
}

Result<void> RunShardEngines(const std::vector<ShardSync>& shards,
                             const std::vector<SyncStats*>& shard_stats, SyncStats* folded,
                             const ShardEngineRun& run,
                             const std::function<std::string()>& resharded,
                             std::chrono::milliseconds check_every, const std::atomic<bool>& stop) {
  std::atomic<bool> stop_all{false};
  std::mutex mu;
  std::optional<Error> first_error;
  std::vector<const SyncStats*> views(shard_stats.begin(), shard_stats.end());
  std::vector<std::unique_ptr<std::atomic<bool>>> done;
  for (size_t i = 0; i < shards.size(); ++i) {
    done.push_back(std::make_unique<std::atomic<bool>>(false));
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < shards.size(); ++i) {
    threads.emplace_back([&, i] {
      auto result = run(i, stop_all);
      if (!result) {
        std::lock_guard lock(mu);
        // The first failure is recorded before it stops the others, so an engine that only
        // reports being stopped by it never hides the cause.
        if (!first_error) {
          first_error = Error{result.error().code, "shard " + shards[i].name + " (source primary " +
                                                       shards[i].options.source.Endpoint() +
                                                       "): " + result.error().ToString()};
        }
        stop_all = true;
      }
      *done[i] = true;
    });
  }
  auto next_topology_check = std::chrono::steady_clock::now() + check_every;
  for (;;) {
    bool all_done = true;
    for (const auto& d : done) all_done = all_done && d->load();
    AggregateStats(views, folded);
    if (all_done) break;
    if (stop) stop_all = true;
    if (resharded && std::chrono::steady_clock::now() >= next_topology_check && !stop_all) {
      next_topology_check = std::chrono::steady_clock::now() + check_every;
      if (auto moved = resharded(); !moved.empty()) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = ReshardError(moved);
        stop_all = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& t : threads) t.join();
  // The last look: a reshard since the last periodic check (or, in a short run, since the
  // start) would otherwise go unseen by a run that ends now, with `--once` reporting
  // success or apply's sync stopped inside the pause. Engines that failed already say why.
  if (!first_error && resharded) {
    if (auto moved = resharded(); !moved.empty()) first_error = ReshardError(moved);
  }
  AggregateStats(views, folded);
  if (first_error) {
    folded->phase = static_cast<int>(SyncPhase::kFailed);
    return MakeError(std::move(*first_error));
  }
  folded->phase = static_cast<int>(SyncPhase::kDone);
  return {};
}

}  // namespace kf::sync
