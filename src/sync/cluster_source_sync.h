// ClusterSourceSync: `keyferry sync` from a Redis/Valkey Cluster into one standalone target
// (docs/cluster.md, "Cluster source"). One SyncEngine per source primary, each in its own
// thread, all writing into the same target; each keeps its own applied-offset marker
// (target::ShardMarkerKey) and checkpoint file, and owns the target's keys of its shard's
// slots (SyncOptions::owned_slots).
//
// The topology is read once, before Run(): a shard that fails over during the run is not
// followed (its engine fails once its reconnect window passes, naming the node).
//
// Run() contract:
//   1. The target is checked once, for all engines, with the messages of a single sync: a
//      target holding keys is refused (or emptied with --flush-target) unless some shard
//      can resume into it (its checkpoint file exists and the target holds its marker).
//   2. The engines start; their numbers are folded into the caller's SyncStats every
//      100 ms (AggregateStats).
//   3. The first engine that fails stops all the others; the error names its shard and
//      node. A stop request stops them all (each applies what it received and checkpoints).
//      With `once`, Run() returns when every engine has reached its own once target.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/cluster_topology.h"
#include "net/uri.h"
#include "sync/sync_engine.h"

namespace kf::sync {

// The stable name of a source shard, the same after a failover inside it: "s" and its
// lowest slot ("s0", "s5461").
std::string ShardName(const net::ClusterShard& shard);

// Whether the cluster can be copied as it stands: every slot served, no slot being
// migrated, cluster_state ok. Otherwise SyncErrc::kClusterNotReady naming the slots (or
// the migration) and what to do. `seed` is the node the operator gave, for the message.
Result<void> CheckSourceTopology(const net::ClusterTopology& topology, const std::string& seed);

// What one shard's engine gets: the whole sync's options with the shard's primary as the
// source, its marker key, its slots and its checkpoint file (`<checkpoint>.<shard>`).
struct ShardSync {
  std::string name;  // ShardName
  SyncOptions options;
};
// One entry per shard that serves slots, in slot order. `options.source` is the seed.
std::vector<ShardSync> PlanShardSyncs(const SyncOptions& options,
                                      const net::ClusterTopology& topology);

// SyncOptions::locate_source for the shard serving `slot`: asks the nodes the cluster had
// at the start (the seed first, then every primary and replica, short timeouts) for the
// current topology, and answers with the primary now serving `slot` (nullopt while no
// reachable node says, or while that primary is failed).
std::function<std::optional<net::Uri>()> ShardPrimaryLocator(const net::Uri& seed,
                                                             const net::ClusterTopology& topology,
                                                             int slot);

// What changed in the source's slot layout since `start`, read from the cluster now (the
// seed first, then every node `start` knew): a slot migration in progress, or a shard that
// no longer serves exactly the slots it served. Empty when nothing changed (a failover
// inside a shard changes no slot) or when no node answered. The orchestrator asks every 2 s
// and once more when the engines end, and stops every engine on an answer; apply asks once
// more inside the write pause, before it verifies: a key moving between two shards arrives as a DEL
// in one shard's stream and a RESTORE in the other's, which no order between the two streams makes
// safe.
std::string ReshardSince(const net::Uri& seed, const net::ClusterTopology& start);
// The error a run stops with when ReshardSince answered `moved` (kClusterNotReady; says to
// run again from the start once the reshard is over).
Error ReshardError(const std::string& moved);

// Folds the engines' numbers into `out` (what the CLI prints and /status serves): counts
// and bytes are summed, offsets summed when every engine knows its own (else -1), the
// snapshot time and lag are the largest, the start the earliest, and the phase is the
// slowest engine's (failed when one failed).
void AggregateStats(const std::vector<const SyncStats*>& shards, SyncStats* out);

// The engine of one shard: runs it (the shard's index in the plan) until `stop` or its end.
using ShardEngineRun = std::function<Result<void>(size_t shard, const std::atomic<bool>& stop)>;

// Runs every shard's engine in its own thread — the loop a cluster source shares in replica
// mode (ClusterSourceSync) and scan mode (ClusterScanSync). `shard_stats[i]` is what engine i
// updates; they are folded into `folded` every 100 ms (AggregateStats). The first engine
// that fails stops the others, and Run returns its error with the shard and its primary
// named (no engine ends alone while the others copy on). A stop request stops them all.
// When `resharded` is given it is asked every `check_every` while the engines run and once
// more after they end (a reshard in the run's last moments must not end it well): a
// non-empty answer stops every engine with ReshardError. `folded->phase` ends kDone or
// kFailed.
Result<void> RunShardEngines(const std::vector<ShardSync>& shards,
                             const std::vector<SyncStats*>& shard_stats, SyncStats* folded,
                             const ShardEngineRun& run,
                             const std::function<std::string()>& resharded,
                             std::chrono::milliseconds check_every, const std::atomic<bool>& stop);

class ClusterSourceSync {
 public:
  ClusterSourceSync(SyncOptions options, net::ClusterTopology topology, SyncStats* stats);
  // The engines' own SyncStats, one per shard in PlanShardSyncs' order, owned by the
  // caller and outliving Run(): apply sets their key-set capacities before Run() and reads
  // each engine's sets and offsets (its in-pause work is per engine). Without it, Run()
  // keeps its own. `stats` (the constructor's) still receives the folded numbers.
  void set_shard_stats(std::vector<SyncStats*> per_shard) { shard_stats_ = std::move(per_shard); }
  // How often Run() reads the source topology while the engines run (2 s). Whatever the
  // interval, Run() reads it once more after the engines end and fails on a reshard seen
  // then, also when it was asked to stop: a run never ends well over a moved slot.
  void set_topology_check_every(std::chrono::milliseconds every) { topology_check_every_ = every; }
  Result<void> Run(const std::atomic<bool>& stop);

 private:
  // Step 1 of Run(): the one check of the shared target.
  Result<void> CheckTarget(const std::vector<ShardSync>& shards);

  SyncOptions options_;
  net::ClusterTopology topology_;
  SyncStats* stats_;
  std::vector<SyncStats*> shard_stats_;
  std::chrono::milliseconds topology_check_every_{2000};
};

}  // namespace kf::sync
