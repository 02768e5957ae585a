// SyncEngine: `keyferry sync` — keyferry as a replica of a Redis/Valkey source, writing
// into a target, from the snapshot through the live stream (docs/sync.md has the design).
//
// Run() connects, copies the snapshot, then applies the stream until `stop` is set (then
// it stops reading, finishes what it received, checkpoints and returns), or — with
// `once` — until the target has applied the offset the source had when the snapshot was
// received. A dropped link is resumed with PSYNC <replid> <applied+1>; a run that cannot
// continue returns an error that says what failed and what to do. Nothing half-done is
// reported as success.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/cluster_topology.h"
#include "net/uri.h"
#include "sync/recent_keys.h"
#include "sync/snapshot_sink.h"
#include "sync/target_expiries.h"
#include "sync/touched_keys.h"

namespace kf::sync {

struct SyncOptions {
  net::Uri source;
  net::Uri target;
  bool once = false;
  std::string checkpoint_path;
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  std::vector<std::string> db_map;
  OnUnsupported on_unsupported = OnUnsupported::kFail;
  uint64_t big_key_threshold = uint64_t{64} << 20;
  int writers = 2;
  bool flush_target = false;
  // Record the keys the target expires by itself (its `expired` keyspace events) in
  // SyncStats::target_expiries, for a later reconciliation (apply does it in the pause).
  bool track_target_expiries = false;
  // With track_target_expiries: called with the target's notify-keyspace-events value
  // before the sync adds the classes it needs (ExpirySubscriber::Start).
  std::function<void(const std::string&)> on_target_notify_flags;
  // The link is considered dead when the source sends nothing for this long (the source
  // PINGs every repl-ping-replica-period, 10 s by default).
  std::chrono::milliseconds link_timeout{60000};
  // How long to keep trying to reach the source after a drop before giving up.
  std::chrono::milliseconds reconnect_for{120000};
  // A target shared with other engines: a cluster source runs one engine per source shard,
  // all into one standalone target (sync/cluster_source_sync.h). Both empty: this engine
  // owns the target, as the sync of a standalone source does.
  //  - marker_key: the key of this engine's applied-offset marker (target::ShardMarkerKey);
  //    empty means target::kAppliedMarkerKey.
  //  - owned_slots: the hash slots of this engine's source shard. With them, the engine
  //    never FLUSHALLs the target and never refuses it for holding keys (the caller checks
  //    that, and --flush-target, once before all engines start). Instead, before every
  //    snapshot of its shard it deletes exactly the target's keys whose slot it owns
  //    (markers excepted): SCAN + UNLINK in the db its source db 0 lands in. A FLUSHALL or
  //    FLUSHDB in its stream stops it (it would empty the other shards' keys too), and a
  //    stream FUNCTION LOAD goes with REPLACE (every shard carries the same libraries).
  std::string marker_key;
  std::vector<net::SlotRange> owned_slots;
  // Where the source is now, asked after a reconnect to it failed: a cluster source's
  // shard answers with its current primary, another node after a failover (the engine then
  // asks that one to continue the replication: PSYNC2 lets a promoted replica continue its
  // old primary's history). nullopt, or the same node: keep trying that one.
  std::function<std::optional<net::Uri>()> locate_source;
};

enum class SyncPhase : int { kConnecting, kSnapshot, kStream, kDone, kFailed };
const char* SyncPhaseName(SyncPhase phase);

// Live numbers, written by the engine, read by progress printers and /status.
struct SyncStats {
  std::atomic<int> phase{static_cast<int>(SyncPhase::kConnecting)};
  std::atomic<int64_t> started_ms{0};
  std::atomic<uint64_t> keys_written{0};
  std::atomic<uint64_t> keys_skipped{0};
  std::atomic<uint64_t> snapshot_bytes{0};        // RDB bytes received
  std::atomic<uint64_t> snapshot_total_bytes{0};  // 0 when unknown (diskless)
  std::atomic<int64_t> snapshot_ms{0};            // time the last snapshot took
  // Keys of the snapshot under way (written + skipped), and the source's key count read
  // as it began (INFO keyspace, every db; 0 when unknown): the progress bar's estimate.
  std::atomic<uint64_t> snapshot_keys{0};
  std::atomic<uint64_t> snapshot_keys_estimate{0};
  std::atomic<uint64_t> commands_applied{0};
  std::atomic<int64_t> applied_offset{-1};
  std::atomic<int64_t> source_offset{-1};  // the source's master_repl_offset, polled
  std::atomic<int64_t> lag_ms{0};
  std::atomic<uint64_t> full_syncs{0};
  std::atomic<uint64_t> partial_syncs{0};
  std::atomic<uint64_t> link_drops{0};
  // The last distinct keys the stream wrote; keeps nothing unless the caller sets a
  // capacity before Run() (apply does, for its in-pause check).
  RecentKeys recent_keys;
  // The stream keys whose consumer groups the stream changed (StreamGroupKeys); keeps
  // nothing unless the caller sets a capacity before Run() (apply does, to repair the
  // groups' entries-read inside the pause).
  TouchedKeys stream_group_keys;
  // True once this engine ran a full sync: from then on stream_group_keys holds every
  // stream the stream changed. False while it only continued an earlier run's
  // replication (PSYNC CONTINUE from a checkpoint): what changed before is not known.
  std::atomic<bool> tracked_since_full_sync{false};
  // With SyncOptions::track_target_expiries: keys the target expired by itself whose DEL
  // the stream has not (yet) carried. The caller sets a capacity before Run().
  TargetExpiries target_expiries;

  // One JSON object with every number above plus derived rates.
  std::string ToJson() const;
};

class SyncEngine {
 public:
  SyncEngine(SyncOptions options, SyncStats* stats);
  Result<void> Run(const std::atomic<bool>& stop);

 private:
  struct Session;
  SyncOptions options_;
  SyncStats* stats_;
};

}  // namespace kf::sync
