// ScanSync: scan mode (`keyferry sync --source-mode scan`; docs/scan.md) for sources that
// refuse SYNC/PSYNC — managed services, renamed or ACL-denied replication commands.
//
// 1. Notifications first: the source's notify-keyspace-events must carry the classes of
//    kScanNotifyClasses. Read with CONFIG GET; missing classes are added with CONFIG SET
//    (and the old value set back when the run ends). When CONFIG is refused, a probe
//    writes one key of each type under "keyferry:scan-probe:<id>:" and waits for their
//    events; a class that stays silent is named in the error with what to set in the
//    service's parameter group. Then a connection of its own subscribes to
//    `__keyspace@*__:*` — before anything is copied, so no change made during the copy
//    goes unseen.
// 2. The copy: SCAN over every db the source's INFO keyspace lists; for each batch, DUMP
//    and PEXPIRETIME (PTTL before Redis 7) pipelined; each answer becomes one record of a
//    synthetic RDB stream (the payload's type byte, the key, the value, its absolute
//    expiry) fed to the same rdb::RdbReader → SnapshotSink → target lanes as a replica
//    sync's snapshot: the same transcoding, big-value chunking, filters, db map, cluster
//    routing and --on-unsupported rules. Function libraries: FUNCTION DUMP / RESTORE
//    REPLACE on every target primary.
// 3. Following: every notified key is put in a set; the set is copied again in batches
//    (DUMP → RESTORE REPLACE; a key that is gone → DEL on the target, in the key's lane,
//    after any pending write of it). A key changed while it was being copied is notified
//    again and copied again, so the target converges on the source's last state.
// 4. A notification connection that drops loses the events of the gap: scan mode
//    subscribes again, then copies every key again and deletes the target's keys the
//    source no longer has (a scan of every target primary), and logs that it did so.
//    The keys copied again go into stats->recent_keys (when it has a capacity), so apply's
//    in-pause verify compares the keys written last, as in replica mode.
// 5. `once`: after the copy, a fence (PING <token> on the subscription connection, whose
//    answer arrives after every notification of a write the source finished before it)
//    is awaited, the set copied until empty, and the run ends with every lane drained.
//    A stop request ends it the same way without the fence.
//
// What it guarantees (docs/scan.md): while the application writes, the target trails the
// source by the notified keys not yet copied again; each key ends with the source's value
// of some moment after its last change. Not covered: FLUSHALL/FLUSHDB/SWAPDB on the source
// (no per-key events), function changes after the start, a failover or reshard of a
// cluster source.
// The target must be empty at the start (or flush_target); a restarted scan sync copies
// everything again from an empty target.
//
// A cluster source (ClusterScanSync, RunClusterScanSync): one ScanSync per primary, each in
// its own thread (RunShardEngines, the loop the replica mode's ClusterSourceSync runs too),
// into the one target. Each reads and subscribes on its own primary (SCAN, DUMP and keyspace
// notifications are local to a node); the target is checked and emptied once, before any
// starts. An engine's options carry its shard's owned_slots: it then takes a cluster node
// as its source, leaves the target's emptiness to the orchestrator, and its re-scan after
// lost notifications deletes only target keys of its own slots. The source's slot layout is
// read again every 2 s and once at the end: a reshard stops the run (a key moving between
// two primaries is notified as a DEL on one and a RESTORE on the other, which no order
// between two engines makes safe).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "net/cluster_topology.h"
#include "sync/cluster_source_sync.h"
#include "sync/sync_engine.h"

namespace kf::sync {

// A scan-mode sync as apply drives it: one server (ScanSync) or a cluster (ClusterScanSync).
// Run() copies and follows until `stop`; from another thread while it follows (apply,
// inside the write pause): RequestDrain asks for a fence; Drained(token) turns true once
// every key notified before the fence is copied again and answered by the target. With
// writes paused, that is every acknowledged write. pending_keys() is the number of notified
// keys not yet copied.
class ScanLiveSync {
 public:
  virtual ~ScanLiveSync() = default;
  virtual Result<void> Run(const std::atomic<bool>& stop) = 0;
  virtual uint64_t RequestDrain() = 0;
  virtual bool Drained(uint64_t token) const = 0;
  virtual uint64_t pending_keys() const = 0;
};

class ScanSync : public ScanLiveSync {
 public:
  ScanSync(SyncOptions options, SyncStats* stats);
  ~ScanSync() override;
  Result<void> Run(const std::atomic<bool>& stop) override;
  uint64_t RequestDrain() override { return ++drain_requested_; }
  bool Drained(uint64_t token) const override { return drain_done_ >= token; }
  uint64_t pending_keys() const override { return pending_keys_; }

 private:
  struct Impl;
  SyncOptions options_;
  SyncStats* stats_;
  std::atomic<uint64_t> drain_requested_{0};
  std::atomic<uint64_t> drain_done_{0};
  std::atomic<uint64_t> pending_keys_{0};
};

// Scan mode from a cluster source: every primary (above). The engines are made when it is
// constructed (one per primary serving slots, PlanShardSyncs' order). `stats` receives the
// folded numbers; `per_shard`, when given (apply: its key sets per engine), holds one
// SyncStats per engine, owned by the caller and outliving Run(). The first engine's failure
// stops the others and is returned naming its shard and primary. A drain is a fence on
// every primary's subscription, done once every engine has copied what its primary
// notified before it; pending_keys() is the sum over the primaries.
class ClusterScanSync : public ScanLiveSync {
 public:
  ClusterScanSync(SyncOptions options, net::ClusterTopology topology, SyncStats* stats,
                  std::vector<SyncStats*> per_shard = {});
  ~ClusterScanSync() override;
  Result<void> Run(const std::atomic<bool>& stop) override;
  uint64_t RequestDrain() override;
  bool Drained(uint64_t token) const override;
  uint64_t pending_keys() const override;

 private:
  SyncOptions options_;
  net::ClusterTopology topology_;
  SyncStats* stats_;
  std::vector<ShardSync> shards_;
  std::vector<std::unique_ptr<SyncStats>> own_stats_;
  std::vector<SyncStats*> shard_stats_;
  std::vector<std::unique_ptr<ScanSync>> engines_;
  mutable std::mutex drain_mu_;
  std::vector<std::vector<uint64_t>> drains_;  // per RequestDrain: each engine's token
};

// ClusterScanSync(options, topology, stats).Run(stop): `keyferry sync --source-mode scan`.
Result<void> RunClusterScanSync(const SyncOptions& options, const net::ClusterTopology& topology,
                                SyncStats* stats, const std::atomic<bool>& stop);

}  // namespace kf::sync
