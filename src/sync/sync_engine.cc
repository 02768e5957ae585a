// SyncEngine: over a source::ReplicaSession, the snapshot into the target, the barrier, the
// ordered stream, resume (docs/sync.md).
#include "sync/sync_engine.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "net/client.h"
#include "net/cluster_slots.h"
#include "net/errc.h"
#include "net/server_info.h"
#include "rdb/reader.h"
#include "resp/command.h"
#include "resp/encoder.h"
#include "source/replica_session.h"
#include "sync/checkpoint.h"
#include "sync/expiry_subscriber.h"
#include "sync/slot_split.h"
#include "sync/stream_command.h"
#include "sync/sync_errc.h"
#include "sync/target_checks.h"
#include "target/applied_marker.h"
#include "target/snapshot_lanes.h"
#include "target/stream_writer.h"
#include "target/target_errc.h"
#include "target/writer.h"

namespace kf::sync {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// How many times a snapshot is copied again because a cluster target moved slots under it.
constexpr int kMaxRedirectedSnapshots = 5;

Result<std::string> Info(net::Client& client, const char* section) {
  auto reply = client.Call({"INFO", section});
  if (!reply) return MakeError(reply.error());
  if (reply->is_error()) {
    return MakeError(SyncErrc::kBadOption, "INFO " + std::string(section) + " on " +
                                               client.uri().Endpoint() +
                                               " was refused: " + reply->str());
  }
  return reply->str();
}

bool IsLinkLoss(const Error& e) {
  return e.code == make_error_code(source::ReplicationErrc::kLinkLost) ||
         e.code == make_error_code(net::NetErrc::kClosedByPeer) ||
         e.code == make_error_code(net::NetErrc::kIoError) ||
         e.code == make_error_code(net::NetErrc::kTimeout) ||
         e.code == make_error_code(net::NetErrc::kConnectRefused) ||
         e.code == make_error_code(net::NetErrc::kConnectFailed) ||
         e.code == make_error_code(net::NetErrc::kNotConnected) ||
         e.code == make_error_code(source::ReplicationErrc::kRetryLater);
}

// A failure of the target's side: a connection to it broke (it restarted, the network
// dropped). What the target still holds is then read from its marker.
bool IsTargetLoss(const Error& e) {
  return e.code == make_error_code(target::TargetErrc::kLinkFailed);
}

// The replica side of the link: the node's protocol, ACKs and timeouts are the session's.
source::ReplicaSessionOptions ReplicaOptions(const SyncOptions& options) {
  source::ReplicaSessionOptions ro;
  ro.link.client.client_name = "keyferry-replica";
  ro.link_timeout = options.link_timeout;
  return ro;
}

}  // namespace

const char* SyncPhaseName(SyncPhase phase) {
  switch (phase) {
    case SyncPhase::kConnecting:
      return "connecting";
    case SyncPhase::kSnapshot:
      return "snapshot";
    case SyncPhase::kStream:
      return "stream";
    case SyncPhase::kDone:
      return "done";
    case SyncPhase::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string SyncStats::ToJson() const {
  int64_t now = UnixMillis();
  int64_t started = started_ms.load();
  double elapsed_s = started > 0 ? static_cast<double>(now - started) / 1000.0 : 0.0;
  int64_t src = source_offset.load();
  int64_t applied = applied_offset.load();
  nlohmann::json j = {
      {"phase", SyncPhaseName(static_cast<SyncPhase>(phase.load()))},
      {"elapsed_s", elapsed_s},
      {"keys_written", keys_written.load()},
      {"keys_skipped", keys_skipped.load()},
      {"snapshot_bytes", snapshot_bytes.load()},
      {"snapshot_total_bytes", snapshot_total_bytes.load()},
      {"snapshot_ms", snapshot_ms.load()},
      {"snapshot_keys", snapshot_keys.load()},
      {"snapshot_keys_estimate", snapshot_keys_estimate.load()},
      {"commands_applied", commands_applied.load()},
      {"applied_offset", applied},
      {"source_offset", src},
      {"lag_bytes", (src >= 0 && applied >= 0 && src > applied) ? src - applied : 0},
      {"lag_ms", lag_ms.load()},
      {"full_syncs", full_syncs.load()},
      {"partial_syncs", partial_syncs.load()},
      {"link_drops", link_drops.load()},
  };
  return j.dump();
}

struct SyncEngine::Session {
  // The node replicated from: options.source, until locate_source moves it (a failover).
  net::Uri source;
  const SyncOptions& options;
  SyncStats* stats;
  const std::atomic<bool>& stop;
  KeyFilter filter;
  DbMap db_map;
  DbLanding landing{&db_map};  // refuses two source dbs merging into one target db
  CommandTable table;
  int target_rdb_version = 11;
  std::string replid;
  int64_t applied = -1;  // last offset the target has applied
  int source_db = 0;     // db of the stream's next command (source numbering)
  bool in_multi = false;
  size_t tx_start = 0;  // index in the batch where the open source transaction began
  std::vector<target::StreamOp> carry;  // an open source transaction, for the next batch
  bool target_has_our_data = false;
  std::string migration_id;       // the marker's id (target/applied_marker.h)
  int64_t evicted_baseline = -1;  // the target's evicted_keys when the sync (re)connected
  std::unique_ptr<ExpirySubscriber> expiry_subscriber;  // with track_target_expiries
  int64_t once_target = -1;
  // The source node's replication link: PSYNC, decoding, ACK/GETACK, link timeouts.
  source::ReplicaSession replica;
  // The target: one server or a cluster (target/writer.h); opened by Prepare().
  std::unique_ptr<target::Writer> writer;
  bool track_recent = false;                            // stats->recent_keys has a capacity
  std::vector<std::pair<int, std::string>> written;     // keys of the batch being applied
  bool track_stream_groups = false;                     // stats->stream_group_keys has a capacity
  std::vector<std::pair<int, std::string>> group_keys;  // their stream keys in this batch
  Clock::time_point last_tick = Clock::now();
  net::Client source_admin;  // reads the source's offset for /status
  Clock::time_point next_offset_poll = Clock::now();

  Session(const SyncOptions& o, SyncStats* s, const std::atomic<bool>& st)
      : source(o.source),
        options(o),
        stats(s),
        stop(st),
        replica(ReplicaOptions(o)),
        marker_key(o.marker_key.empty() ? std::string(target::kAppliedMarkerKey) : o.marker_key) {}

  const std::string marker_key;  // this engine's marker (SyncOptions::marker_key)
  // Whether the target is shared with other engines (SyncOptions::owned_slots).
  bool shared() const { return !options.owned_slots.empty(); }

  Result<void> SaveCp() {
    if (options.checkpoint_path.empty() || replid.empty()) return {};
    return SaveCheckpoint(options.checkpoint_path, {migration_id, replid, applied, 0, source_db});
  }

  // The target's marker, nullopt when there is none; an error when a key of the marker's
  // name holds something that is not a keyferry marker.
  Result<std::optional<target::AppliedMarker>> ReadMarker() {
    auto marker = writer->ReadMarker();
    if (!marker && marker.error().code == make_error_code(target::TargetErrc::kForeignMarker)) {
      return MakeError(SyncErrc::kTargetNotOurs, marker.error().message);
    }
    return marker;
  }

  Result<void> WriteMarker(target::MarkerState state, int64_t offset) {
    auto written = writer->WriteMarker({migration_id, state, replid, offset, source_db});
    if (!written && written.error().code == make_error_code(target::TargetErrc::kRejected)) {
      return MakeError(SyncErrc::kTargetRejected, written.error().message);
    }
    return written;
  }

  // The key count of the target (INFO keyspace, every db).
  Result<uint64_t> TargetKeys() { return TargetKeyCount(*writer); }

  // A shared target, before a snapshot of this engine's shard: deletes exactly the keys
  // whose slot the shard owns, in the db its source db 0 lands in (a cluster has db 0
  // only), so that keys deleted on the source since an earlier copy do not survive. Other
  // shards' keys and every engine's marker stay.
  Result<void> DeleteShardKeys() {
    auto deleted = writer->DeleteKeysInSlots(options.owned_slots, db_map.Map(0));
    if (!deleted) {
      return MakeError(SyncErrc::kTargetRejected,
                       deleted.error().message +
                           " (before copying those slots again). Check the target and run again");
    }
    spdlog::info("deleted {} keys of slots {} from the target before copying them", *deleted,
                 net::SlotRangesToString(options.owned_slots));
    return {};
  }

  int64_t TargetEvictions() { return TargetEvictedKeys(*writer); }

  // A target that evicts keys loses data the stream will never send again.
  Result<void> CheckEvictionPolicy() { return RefuseEvictingTarget(*writer); }

  // Once a second: the target must not have evicted anything since the sync connected.
  Result<void> CheckEvictions() {
    if (evicted_baseline < 0) return {};
    int64_t now = TargetEvictions();
    if (now > evicted_baseline) {
      return MakeError(SyncErrc::kTargetDropped,
                       "the target " + writer->Describe() + " evicted " +
                           std::to_string(now - evicted_baseline) +
                           " keys since the sync started (INFO stats evicted_keys): they are "
                           "lost on the target and the copy is not complete. Give the target "
                           "more memory and maxmemory-policy noeviction, then run the sync "
                           "again from an empty target");
    }
    return {};
  }

  // Decides, from the checkpoint (which migration this is) and the target's marker (what
  // the target really holds), whether the sync can continue where the target stands.
  Result<void> DecideResume(const std::optional<Checkpoint>& cp);
  // After a target connection failed: reconnect, and take the resume point from the marker.
  Result<void> RecoverTarget(const Error& cause);

  // The source's master_repl_offset, read over one kept-open admin connection (a new
  // connection each second would cost a handshake and, on a slow path, stall the stream).
  Result<int64_t> SourceOffset() {
    if (!source_admin.connected()) {
      net::ClientOptions co;
      co.client_name = "keyferry-admin";
      co.connect_timeout = milliseconds(1000);
      co.io_timeout = milliseconds(1000);
      auto connected = source_admin.Connect(source, co);
      if (!connected) {
        source_admin.Close();
        return MakeError(connected.error());
      }
    }
    auto info = Info(source_admin, "replication");
    if (!info) {
      source_admin.Close();
      return MakeError(info.error());
    }
    int64_t offset = -1;
    std::string v = net::InfoField(*info, "master_repl_offset");
    std::from_chars(v.data(), v.data() + v.size(), offset);
    return offset;
  }

  // Once a second: write the checkpoint, check evictions, poll the source's offset (the
  // ACKs are the replica session's: each forced Tick follows one, see Run). The poll only
  // feeds /status, so after a failed poll it waits 10 s before the next one rather than
  // holding up the stream every second.
  Result<void> Tick(bool force) {
    auto now = Clock::now();
    if (!force && now - last_tick < milliseconds(1000)) return {};
    last_tick = now;
    stats->applied_offset = applied;
    KF_RETURN_IF_ERROR(SaveCp());
    KF_RETURN_IF_ERROR(CheckEvictions());
    if (now >= next_offset_poll) {
      auto offset = SourceOffset();
      if (offset) {
        stats->source_offset = *offset;
      } else {
        spdlog::debug("reading the source offset failed ({}); next try in 10 s",
                      offset.error().ToString());
        next_offset_poll = now + seconds(10);
      }
    }
    return {};
  }

  // The source's key count (INFO keyspace, every db), read before each PSYNC: the estimated
  // total of a snapshot's progress bar. 0 when it cannot be read (the bar then shows only a
  // count).
  uint64_t key_estimate = 0;  // SourceKeyEstimate() before the last PSYNC
  uint64_t SourceKeyEstimate() {
    net::Client client;
    net::ClientOptions co;
    co.client_name = "keyferry-admin";
    co.connect_timeout = milliseconds(1000);
    co.io_timeout = milliseconds(1000);
    if (!client.Connect(source, co)) return 0;
    auto info = Info(client, "keyspace");
    return info ? net::KeyspaceKeyCount(*info) : 0;
  }

  Result<void> Prepare();
  Result<void> RunSnapshot(int64_t snapshot_offset);
  Result<void> RunStream();
  Result<void> HandleCommand(const resp::Command& cmd, int64_t end,
                             std::vector<target::StreamOp>* batch);
  // An operation that only moves the applied offset to `end` (PING, REPLCONF, GETACK: bytes
  // the source counts that change nothing); inside a source transaction only its EXEC
  // moves the offset, so a batch never ends inside one.
  target::StreamOp OffsetOnly(int64_t end) const {
    target::StreamOp op;
    op.end_offset = in_multi ? -1 : end;
    op.source_db_after = source_db;
    op.target_db = db_map.Map(source_db);
    return op;
  }
};

Result<void> SyncEngine::Session::Prepare() {
  filter = KeyFilter(options.match, options.exclude);
  auto map = DbMap::Parse(options.db_map);
  if (!map) return MakeError(map.error());
  db_map = *map;
  auto opened = target::OpenWriter(options.target);
  if (!opened) return MakeError(opened.error());
  writer = std::move(*opened);
  writer->set_marker_key(marker_key);
  writer->set_owned_slots(options.owned_slots);
  KF_RETURN_IF_ERROR(writer->Connect());
  auto version = TargetRdbVersion(*writer);  // the oldest primary decides, at most 11
  if (!version) return MakeError(version.error());
  target_rdb_version = *version;
  if (writer->is_cluster()) landing.set_single_db(writer->Describe());
  KF_RETURN_IF_ERROR(CheckEvictionPolicy());
  if (writer->is_cluster()) {
    // Refuse a source whose dbs cannot all land in the cluster's db 0 before any write
    // (the snapshot would otherwise stop at the first key of such a db).
    net::Client src;
    if (src.Connect(options.source)) {
      auto keyspace = src.Call({"INFO", "keyspace"});
      if (keyspace && !keyspace->is_error()) {
        std::istringstream lines(keyspace->str());
        std::string line;
        while (std::getline(lines, line)) {
          int db = -1;
          if (line.rfind("db", 0) != 0) continue;
          std::from_chars(line.data() + 2, line.data() + line.size(), db);
          if (db < 0) continue;
          auto landed = landing.Land(db);
          if (!landed) return MakeError(landed.error());
        }
      }
    }
  }
  std::optional<Checkpoint> cp;
  if (!options.checkpoint_path.empty()) {
    auto loaded = LoadCheckpoint(options.checkpoint_path);
    if (!loaded) return MakeError(loaded.error());
    cp = *loaded;
  }
  KF_RETURN_IF_ERROR(DecideResume(cp));
  evicted_baseline = TargetEvictions();
  if (options.track_target_expiries) {
    expiry_subscriber = std::make_unique<ExpirySubscriber>(options.target, &stats->target_expiries);
    KF_RETURN_IF_ERROR(expiry_subscriber->Start(options.on_target_notify_flags));
  }
  track_recent = stats->recent_keys.capacity() > 0;
  track_stream_groups = stats->stream_group_keys.capacity() > 0;
  if (!filter.AcceptsAll() || track_recent || writer->is_cluster()) {
    table = CommandTable::BuiltIn();
    net::Client src;
    if (src.Connect(options.source)) {
      auto reply = src.Call({"COMMAND"});
      if (reply && !reply->is_error()) table = CommandTable::FromCommandReply(*reply);
    }
  }
  writer->set_applied_offset(applied);
  writer->set_source_db(source_db);
  writer->set_marker_identity(migration_id, replid);
  return {};
}

Result<void> SyncEngine::Session::DecideResume(const std::optional<Checkpoint>& cp) {
  auto marker = ReadMarker();
  if (!marker) return MakeError(marker.error());
  const std::string where = "the target " + options.target.Endpoint();
  if (cp && !cp->id.empty() && marker->has_value() && (*marker)->id != cp->id) {
    return MakeError(SyncErrc::kTargetNotOurs,
                     where + " was written by another keyferry sync (marker id " + (*marker)->id +
                         ", this checkpoint's id " + cp->id +
                         "): it is not the target of checkpoint " + options.checkpoint_path +
                         ". Point --target at the right server, or use another checkpoint file");
  }
  if (cp && cp->id.empty()) {
    return MakeError(SyncErrc::kCheckpoint,
                     "checkpoint " + options.checkpoint_path +
                         " was written by an older keyferry that kept no marker in the target, "
                         "so what the target applied cannot be known exactly. Move the "
                         "checkpoint away and copy again (--flush-target)");
  }
  migration_id = cp ? cp->id : target::NewMigrationId();
  if (cp && marker->has_value() && (*marker)->state == target::MarkerState::kStream) {
    // The target holds a complete copy up to the marker's offset: continue from there.
    const target::AppliedMarker& m = **marker;
    replid = m.replid;
    applied = m.offset;
    source_db = m.db;
    target_has_our_data = true;
    spdlog::info(
        "{}: the target holds keyferry's copy up to offset {} (marker): resuming "
        "replication id {} at offset {}",
        options.checkpoint_path, m.offset, m.replid, m.offset + 1);
    return {};
  }
  if (cp && marker->has_value()) {
    // A full sync of this migration was being copied: the target holds a partial copy.
    spdlog::warn(
        "the target holds a partial snapshot of this sync (killed while copying): "
        "emptying it and copying again");
    target_has_our_data = true;
    return {};
  }
  if (shared()) {
    // Other shards' keys are expected in a shared target; the caller checked it once before
    // the engines started. This shard is copied again, its own keys deleted first.
    if (cp) {
      spdlog::warn(
          "{} holds no marker {} of this shard (its keys were removed, or the target was "
          "flushed or replaced): copying the shard again",
          where, marker_key);
    }
    target_has_our_data = true;
    return {};
  }
  auto keys = TargetKeys();
  if (!keys) return MakeError(keys.error());
  if (cp) {
    // A checkpoint, but the target lacks the marker: it restarted empty, was flushed, or is
    // another server. Resuming would skip everything the target lost.
    if (*keys > 0 && !options.flush_target) {
      return MakeError(SyncErrc::kTargetNotOurs,
                       where + " holds " + std::to_string(*keys) +
                           " keys but not keyferry's marker: it is not the target checkpoint " +
                           options.checkpoint_path +
                           " belongs to, or it lost data. Check --target; to copy everything "
                           "again into it, pass --flush-target");
    }
    spdlog::warn(
        "{} no longer holds keyferry's marker (it restarted empty, was flushed or "
        "replaced): not resuming from the checkpoint; copying everything again",
        where);
    target_has_our_data = *keys > 0;
    return {};
  }
  if (*keys > 0 && !options.flush_target) {
    return MakeError(SyncErrc::kTargetNotEmpty,
                     where + " already holds " + std::to_string(*keys) +
                         " keys; keyferry copies into an empty target. Empty it, point "
                         "keyferry at another one, or pass --flush-target to delete them");
  }
  target_has_our_data = *keys > 0;  // flushed before the full sync
  return {};
}

Result<void> SyncEngine::Session::RecoverTarget(const Error& cause) {
  spdlog::warn("{}; reconnecting to the target to read what it holds", cause.ToString());
  writer->Close();
  auto deadline = Clock::now() + options.reconnect_for;
  milliseconds backoff{100};
  for (;;) {
    if (stop) return MakeError(SyncErrc::kStopped, "stopped while the target was unreachable");
    auto connected = writer->Connect();
    if (connected) {
      auto persistence = writer->Info("persistence");
      bool loading = !persistence;
      if (persistence) {
        for (const auto& node : *persistence) {
          loading = loading || net::InfoField(node.text, "loading") == "1";
        }
      }
      if (!loading) break;
      writer->Close();
    }
    if (Clock::now() > deadline) {
      return MakeError(cause.code, cause.message + "; the target did not come back within " +
                                       std::to_string(options.reconnect_for.count() / 1000) + " s");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(2000));
  }
  auto marker = ReadMarker();
  if (!marker) return MakeError(marker.error());
  if (marker->has_value() && (*marker)->id != migration_id) {
    return MakeError(SyncErrc::kTargetNotOurs,
                     "after reconnecting, the target " + options.target.Endpoint() +
                         " carries another sync's marker (" + (*marker)->id +
                         "): it is not the server keyferry was writing; stopping");
  }
  if (marker->has_value() && (*marker)->state == target::MarkerState::kStream) {
    const target::AppliedMarker& m = **marker;
    if (m.offset < applied) {
      spdlog::warn(
          "the target came back holding offset {} (it had applied {}): it reloaded "
          "older data from its own persistence; re-applying from {}",
          m.offset, applied, m.offset + 1);
    }
    replid = m.replid;
    applied = m.offset;
    source_db = m.db;
  } else {
    // No marker (restarted empty) or a snapshot in progress: everything again.
    auto keys = TargetKeys();
    if (!keys) return MakeError(keys.error());
    if (*keys > 0 && !marker->has_value() && !options.flush_target && !shared()) {
      return MakeError(SyncErrc::kTargetNotOurs,
                       "the target " + options.target.Endpoint() + " came back holding " +
                           std::to_string(*keys) +
                           " keys but not keyferry's marker: it lost keyferry's copy and holds "
                           "something else. Check the target; to copy again into it, run "
                           "with --flush-target");
    }
    spdlog::warn("the target came back without keyferry's copy ({}): starting a new full sync",
                 marker->has_value() ? "a snapshot was in progress"
                                     : "no marker: it restarted "
                                       "empty or was replaced");
    replid.clear();
    applied = -1;
    target_has_our_data = *keys > 0 || shared();
  }
  evicted_baseline = TargetEvictions();
  writer->set_applied_offset(applied);
  writer->set_source_db(source_db);
  writer->set_marker_identity(migration_id, replid);
  stats->applied_offset = applied;
  return {};
}

Result<void> SyncEngine::Session::RunSnapshot(int64_t snapshot_offset) {
  auto start = Clock::now();
  stats->phase = static_cast<int>(SyncPhase::kSnapshot);
  stats->snapshot_bytes = 0;
  stats->snapshot_total_bytes = 0;
  stats->snapshot_keys = 0;
  stats->snapshot_keys_estimate = key_estimate;
  target::LaneOptions lo;
  lo.lanes = options.writers;
  lo.client.client_name = "keyferry-snapshot";
  auto lanes_owned = writer->NewSnapshotLanes(lo);
  target::SnapshotLanes& lanes = *lanes_owned;
  KF_RETURN_IF_ERROR(lanes.Start());
  SnapshotSinkOptions so;
  if (!writer->supports_mset()) so.mset_pairs = 0;  // a cluster: keys of one MSET share a slot
  so.target_rdb_version = target_rdb_version;
  so.on_unsupported = options.on_unsupported;
  if (options.track_target_expiries) so.expiries = &stats->target_expiries;
  SnapshotSink sink(&lanes, &filter, &landing, so);
  rdb::ReaderOptions ro;
  ro.big_value_bytes = options.big_key_threshold;
  rdb::RdbReader reader(&sink, ro);
  // The snapshot's events: RDB bytes into the reader (and so the sink and lanes).
  struct SnapshotEvents : source::ReplicationEvents {
    rdb::RdbReader* reader;
    SnapshotSink* sink;
    SyncStats* stats;
    bool complete = false;
    SnapshotEvents(rdb::RdbReader* r, SnapshotSink* k, SyncStats* st)
        : reader(r), sink(k), stats(st) {}
    Result<void> OnSnapshotStart(std::optional<uint64_t> announced_size) override {
      if (announced_size) stats->snapshot_total_bytes = *announced_size;
      return {};
    }
    Result<void> OnSnapshotBytes(ByteView payload) override {
      auto fed = reader->Feed(payload);
      stats->snapshot_bytes += payload.size();
      if (!fed) {
        return MakeError(fed.error().code, "the snapshot from the source is not a readable RDB: " +
                                               fed.error().ToString());
      }
      if (sink->error()) return MakeError(*sink->error());
      return {};
    }
    Result<void> OnSnapshotEnd(uint64_t) override {
      complete = true;
      if (sink->error()) return MakeError(*sink->error());
      auto finished = reader->Finish();
      if (!finished) {
        return MakeError(finished.error().code,
                         "the snapshot ended early: " + finished.error().ToString());
      }
      return {};
    }
  } events(&reader, &sink, stats);
  uint64_t keys_before = stats->keys_written;
  uint64_t skipped_before = stats->keys_skipped;
  while (!events.complete) {
    if (stop) {
      return MakeError(SyncErrc::kStopped,
                       "stopped during the snapshot: the target holds a partial copy; run "
                       "the sync again to copy it whole");
    }
    // Stream bytes that came with the snapshot's end stay in the session for RunStream.
    auto got = replica.Next(events, milliseconds(500));
    if (!got) return MakeError(std::move(got).error());
    if (sink.error()) return MakeError(*sink.error());
    stats->keys_written = keys_before + sink.keys_written();
    stats->keys_skipped = skipped_before + sink.keys_skipped();
    stats->snapshot_keys = sink.keys_written() + sink.keys_skipped();
  }
  // Barrier: every write answered before the first ACK.
  sink.Flush();
  if (sink.error()) return MakeError(*sink.error());
  auto drained = lanes.Drain();
  if (!drained) return MakeError(drained.error());
  if (sink.error()) return MakeError(*sink.error());
  stats->keys_written = keys_before + sink.keys_written();
  stats->keys_skipped = skipped_before + sink.keys_skipped();
  stats->snapshot_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  applied = snapshot_offset;
  writer->set_applied_offset(applied);
  writer->set_source_db(source_db);
  spdlog::info(
      "snapshot applied: {} keys ({} chunked, {} skipped), {} functions, {} bytes in {} ms",
      sink.keys_written(), sink.keys_chunked(), sink.keys_skipped(), sink.functions_loaded(),
      stats->snapshot_bytes.load(), stats->snapshot_ms.load());
  return {};
}

Result<void> SyncEngine::Session::HandleCommand(const resp::Command& cmd, int64_t end,
                                                std::vector<target::StreamOp>* batch) {
  target::StreamOp op = OffsetOnly(end);
  switch (ClassifyStreamCommand(cmd)) {
    case StreamAction::kConsume:  // GETACK never comes here: the replica session answers it
      batch->push_back(std::move(op));
      return {};
    case StreamAction::kDrop:
      batch->push_back(std::move(op));
      return {};
    case StreamAction::kSelect: {
      int db = 0;
      auto v = cmd.argc() >= 2 ? cmd.arg_view(1) : std::string_view();
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), db);
      if (ec != std::errc() || db < 0) {
        return MakeError(SyncErrc::kBadOption, "the source sent " + cmd.ToString());
      }
      auto landed = landing.Land(db);
      if (!landed) return MakeError(std::move(landed).error());
      source_db = db;
      op.source_db_after = db;
      batch->push_back(std::move(op));
      return {};
    }
    case StreamAction::kForward:
      break;
  }
  if (shared() && (cmd.ArgEquals(0, "flushall") || cmd.ArgEquals(0, "flushdb"))) {
    // The target holds the other shards' keys too: forwarding it would delete them.
    return MakeError(SyncErrc::kBadOption,
                     "the source " + options.source.Endpoint() + " ran " + cmd.ToString(40) +
                         ", which keyferry does not follow from a cluster source yet (it would "
                         "empty every shard's keys in the shared target). Start the sync over: "
                         "remove its checkpoint files and run it with --flush-target");
  }
  // The source's MULTI/EXEC are not forwarded: the batch's own MULTI/EXEC (StreamWriter)
  // holds the whole source transaction, so it stays atomic on the target.
  if (cmd.ArgEquals(0, "multi")) {
    if (!in_multi) tx_start = batch->size();
    in_multi = true;
    return {};
  }
  if (cmd.ArgEquals(0, "exec")) {
    in_multi = false;
    op.end_offset = end;
    batch->push_back(std::move(op));  // offset-only: the transaction's commands now count
    return {};
  }
  if (cmd.ArgEquals(0, "discard")) {  // never propagated, but if it were: drop the tx
    if (in_multi) batch->resize(tx_start);
    in_multi = false;
    op.end_offset = end;
    batch->push_back(std::move(op));
    return {};
  }
  if (!filter.AcceptsAll() || track_recent) {
    auto keys = table.Keys(cmd);  // once for both uses
    if (!filter.AcceptsAll()) {
      if (!keys) {
        return MakeError(keys.error().code,
                         keys.error().message +
                             "; so --match/--exclude cannot be applied: run without key filters");
      }
      size_t accepted = 0;
      for (auto k : *keys) accepted += filter.Accepts(k) ? 1 : 0;
      if (!keys->empty() && accepted == 0) {
        batch->push_back(std::move(op));  // every key filtered out
        return {};
      }
      if (accepted != keys->size()) {
        return MakeError(SyncErrc::kFilterSplit,
                         "the source ran " + cmd.ToString() +
                             ", which touches keys both inside and outside --match/--exclude; "
                             "it cannot be split safely. Widen the filters to cover all its keys");
      }
    }
    if (track_recent && keys) {  // commands whose keys cannot be told are not tracked
      for (auto k : *keys) written.emplace_back(source_db, std::string(k));
    }
  }
  if (track_stream_groups) {
    for (auto k : StreamGroupKeys(cmd)) group_keys.emplace_back(source_db, std::string(k));
  }
  if (options.track_target_expiries) {
    // A command whose absolute expiry is already past (or about to be) when the target
    // applies it makes the target delete the key without an `expired` event: watch it.
    if (auto expiry = AbsoluteExpiryOf(cmd); expiry && expiry->at_ms <= UnixMillis() + 1000) {
      stats->target_expiries.Add(op.target_db, std::string(expiry->key));
    }
  }
  if (options.track_target_expiries && (cmd.ArgEquals(0, "del") || cmd.ArgEquals(0, "unlink"))) {
    // The source deleted (or expired) these keys too: a key the target expired by itself
    // is settled by this DEL.
    for (size_t i = 1; i < cmd.argc(); ++i) {
      stats->target_expiries.Remove(op.target_db, cmd.arg_view(i));
    }
  }
  if (writer->is_cluster()) {
    // A cluster runs a command only in one slot: route it, cut it per slot, or refuse it
    // (slot_split.h; docs/cluster.md "Multi-key commands into a cluster").
    auto plan = PlanBySlot(cmd, table);
    if (!plan) return MakeError(plan.error());
    if (plan->kind == SlotPlanKind::kEveryPrimary) {
      op.slot = target::kEveryPrimary;
    } else if (plan->kind == SlotPlanKind::kSingleSlot) {
      op.slot = plan->pieces.front().slot;
    } else {
      // The pieces count at the command's end offset: only the last one carries it, so a
      // batch never ends between them (the cluster writer gives each the command's end).
      for (size_t i = 0; i < plan->pieces.size(); ++i) {
        target::StreamOp piece;
        piece.end_offset = i + 1 == plan->pieces.size() ? op.end_offset : -1;
        piece.source_db_after = op.source_db_after;
        piece.target_db = op.target_db;
        piece.slot = plan->pieces[i].slot;
        std::vector<ByteView> piece_args;
        for (const auto& a : plan->pieces[i].args) piece_args.push_back(AsBytes(a));
        piece.command = resp::EncodeCommand(piece_args);
        piece.reply_count = 1;
        piece.description =
            cmd.ToString(40) + " (its part in slot " + std::to_string(piece.slot) + ")";
        batch->push_back(std::move(piece));
      }
      return {};
    }
  }
  std::vector<ByteView> args;
  args.reserve(cmd.argc() + 1);
  for (size_t i = 0; i < cmd.argc(); ++i) args.push_back(cmd.arg(i));
  if (shared() && cmd.argc() >= 3 && cmd.ArgEquals(0, "function") && cmd.ArgEquals(1, "load")) {
    // Every primary of a cluster holds the same libraries, so each shard's engine loads
    // them: the second load of a library replaces it instead of failing.
    bool replace = false;
    for (size_t i = 2; i + 1 < cmd.argc(); ++i) replace = replace || cmd.ArgEquals(i, "replace");
    static constexpr std::string_view kReplace = "REPLACE";
    if (!replace) {
      args.insert(args.begin() + 2,
                  ByteView(reinterpret_cast<const uint8_t*>(kReplace.data()), kReplace.size()));
    }
  }
  // MOVE / COPY ... DB / SWAPDB name source databases: map them as SELECT is mapped.
  std::vector<std::string> mapped_dbs;
  if (!db_map.empty()) {
    auto positions = DbArgumentPositions(cmd);
    mapped_dbs.reserve(positions.size());
    for (size_t pos : positions) {
      int db = -1;
      auto v = cmd.arg_view(pos);
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), db);
      if (ec != std::errc() || p != v.data() + v.size() || db < 0) {
        return MakeError(SyncErrc::kBadOption, "the source sent " + cmd.ToString() +
                                                   ", whose database argument is not a number");
      }
      auto landed = landing.Land(db);
      if (!landed) return MakeError(std::move(landed).error());
      mapped_dbs.push_back(std::to_string(*landed));
      args[pos] = ByteView(reinterpret_cast<const uint8_t*>(mapped_dbs.back().data()),
                           mapped_dbs.back().size());
    }
  }
  op.command = resp::EncodeCommand(args);
  op.reply_count = 1;
  op.description = cmd.ToString(40);
  batch->push_back(std::move(op));
  return {};
}

Result<void> SyncEngine::Session::RunStream() {
  stats->phase = static_cast<int>(SyncPhase::kStream);
  std::vector<target::StreamOp> batch;
  // The stream's events: each command (and each GETACK, already answered by the session,
  // for its offset) becomes operations of the batch.
  struct StreamEvents : source::ReplicationEvents {
    Session* session;
    std::vector<target::StreamOp>* batch;
    StreamEvents(Session* s, std::vector<target::StreamOp>* b) : session(s), batch(b) {}
    Result<void> OnCommand(const resp::Command& cmd, int64_t end) override {
      return session->HandleCommand(cmd, end, batch);
    }
    Result<void> OnAckRequest(int64_t end) override {
      batch->push_back(session->OffsetOnly(end));
      return {};
    }
  } events(this, &batch);
  for (;;) {
    applied = writer->applied_offset();
    stats->applied_offset = applied;
    replica.set_applied(applied);
    if (stop) return {};
    if (options.once && once_target >= 0 && applied >= once_target) return {};
    KF_RETURN_IF_ERROR(Tick(false));
    batch.clear();
    if (!carry.empty()) {  // an open source transaction from the last read comes first
      batch = std::move(carry);
      carry.clear();
    }
    // The commands decoded from one read form one batch. A short wait: a stop request
    // (apply stops the sync inside the write pause) is seen within 10 ms.
    auto got = replica.Next(events, milliseconds(10));
    if (!got) return MakeError(std::move(got).error());
    if (!*got) {  // nothing came: the open transaction waits on
      carry = std::move(batch);
      continue;
    }
    if (in_multi) {  // hold the open transaction back until its EXEC arrives
      carry.assign(std::make_move_iterator(batch.begin() + static_cast<ptrdiff_t>(tx_start)),
                   std::make_move_iterator(batch.end()));
      batch.resize(tx_start);
      tx_start = 0;
    }
    if (!batch.empty()) {
      auto apply_start = Clock::now();
      auto applied_ok = writer->Apply(batch);
      stats->lag_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - apply_start).count();
      stats->commands_applied = writer->commands_applied();
      applied = writer->applied_offset();
      if (!applied_ok) {
        auto saved = SaveCp();
        (void)saved;
        return MakeError(applied_ok.error());
      }
      if (!written.empty()) {
        stats->recent_keys.Add(written);
        written.clear();
      }
      if (!group_keys.empty()) {
        stats->stream_group_keys.Add(group_keys);
        group_keys.clear();
      }
    }
  }
}

SyncEngine::SyncEngine(SyncOptions options, SyncStats* stats)
    : options_(std::move(options)), stats_(stats) {}

Result<void> SyncEngine::Run(const std::atomic<bool>& stop) {
  stats_->started_ms = UnixMillis();
  Session s(options_, stats_, stop);
  auto prepared = s.Prepare();
  if (!prepared) {
    stats_->phase = static_cast<int>(SyncPhase::kFailed);
    return prepared;
  }
  bool ever_connected = false;
  int redirected_snapshots = 0;
  auto reconnect_deadline = Clock::now() + options_.reconnect_for;
  milliseconds backoff{100};
  auto fail = [&](Error e) -> Result<void> {
    stats_->phase = static_cast<int>(SyncPhase::kFailed);
    auto saved = s.SaveCp();
    (void)saved;
    return MakeError(std::move(e));
  };
  while (!stop) {
    stats_->phase = static_cast<int>(SyncPhase::kConnecting);
    int64_t next = s.applied >= 0 && !s.replid.empty() ? s.applied + 1 : -1;
    // Read before PSYNC: once the RDB flows, a slow link would delay the answer.
    s.key_estimate = s.SourceKeyEstimate();
    auto reply = s.replica.Open(s.source, s.replid, next);
    if (!reply) {
      const Error& e = reply.error();
      bool retry = ever_connected && IsLinkLoss(e) && Clock::now() < reconnect_deadline;
      if (!retry) {
        return fail(Error{e.code, "cannot replicate from the source " + s.source.Endpoint() + ": " +
                                      e.ToString()});
      }
      if (options_.locate_source) {
        // The node may be gone for good (a cluster failed its shard over to a replica).
        auto where = options_.locate_source();
        if (where && where->Endpoint() != s.source.Endpoint()) {
          spdlog::warn(
              "the source moved from {} to {} (a failover): asking the new primary to continue "
              "replication id {} at offset {}",
              s.source.Endpoint(), where->Endpoint(), s.replid, next);
          s.source = *where;
          s.source_admin.Close();
          reconnect_deadline = Clock::now() + options_.reconnect_for;
          backoff = milliseconds(100);
          continue;
        }
      }
      spdlog::warn("reconnecting to the source: {}", e.ToString());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(5000));
      continue;
    }
    ever_connected = true;
    backoff = milliseconds(100);
    if (reply->kind == source::PsyncReply::Kind::kFullResync) {
      if (next >= 0) {
        spdlog::warn(
            "the source could not continue replication id {} at offset {} (its "
            "backlog no longer holds it, or it restarted): falling back to a full "
            "sync",
            s.replid, next);
      }
      ++stats_->full_syncs;
      if (s.target_has_our_data && s.shared()) {
        auto deleted = s.DeleteShardKeys();
        if (!deleted) return fail(std::move(deleted).error());
      } else if (s.target_has_our_data) {
        spdlog::warn("emptying the target before the new full sync (FLUSHALL)");
        auto flushed = s.writer->FlushAll();
        if (!flushed) {
          return fail(Error{
              make_error_code(SyncErrc::kTargetRejected),
              "emptying the target before a new full sync failed: " + flushed.error().ToString()});
        }
      }
      s.target_has_our_data = true;
      stats_->tracked_since_full_sync = true;
      s.replid = reply->replid;
      s.applied = -1;
      s.source_db = 0;
      s.in_multi = false;
      s.carry.clear();
      // The target now holds (a start of) this sync's copy: say so before writing it, so a
      // crash mid-snapshot is recognised as ours and copied again, never resumed into.
      auto marked = s.WriteMarker(target::MarkerState::kSnapshot, reply->offset);
      if (!marked) return fail(std::move(marked).error());
      if (auto cp = s.SaveCp(); !cp) return fail(std::move(cp).error());
      auto snap = s.RunSnapshot(reply->offset);
      if (!snap && snap.error().code == make_error_code(target::TargetErrc::kRedirected) &&
          ++redirected_snapshots <= kMaxRedirectedSnapshots) {
        // A cluster target moved slots while the snapshot was written: the lanes route by
        // the slot map they started with, so copy again over the new one.
        spdlog::warn("{}; reading the target's slot map again and copying the snapshot again",
                     snap.error().ToString());
        s.replica.Close();
        s.replid.clear();
        auto reconnected = s.writer->Connect();
        if (!reconnected) return fail(std::move(reconnected).error());
        continue;
      }
      if (!snap && IsTargetLoss(snap.error())) {
        s.replica.Close();
        auto recovered = s.RecoverTarget(snap.error());
        if (!recovered) return fail(std::move(recovered).error());
        continue;
      }
      if (snap) {
        // Every snapshot write is answered (the barrier): the copy is complete up to the
        // snapshot's offset.
        auto done = s.WriteMarker(target::MarkerState::kStream, reply->offset);
        if (!done) return fail(std::move(done).error());
        s.writer->set_marker_identity(s.migration_id, s.replid);
      }
      if (!snap) {
        if (IsLinkLoss(snap.error()) &&
            Clock::now() < reconnect_deadline + options_.reconnect_for) {
          ++stats_->link_drops;
          spdlog::warn("{}; starting over", snap.error().ToString());
          s.replica.Close();
          s.replid.clear();
          reconnect_deadline = Clock::now() + options_.reconnect_for;
          continue;
        }
        return fail(std::move(snap).error());
      }
      if (options_.once) {
        auto offset = s.SourceOffset();
        s.once_target = offset ? *offset : reply->offset;
      }
      // The first ACK, right after the snapshot is applied, then the burst until the stream
      // flows (ReplicaSession::SnapshotApplied).
      auto acked = s.replica.SnapshotApplied(s.applied);
      auto ticked = acked ? s.Tick(true) : acked;
      if (!ticked && !IsLinkLoss(ticked.error())) return fail(std::move(ticked).error());
    } else {
      ++stats_->partial_syncs;
      s.replid = s.replica.replid();  // the primary's new id, or the one asked for
      s.writer->set_marker_identity(s.migration_id, s.replid);
      spdlog::info("the source continued replication at offset {}", next);
      if (options_.once && s.once_target < 0) {
        auto offset = s.SourceOffset();
        s.once_target = offset ? *offset : next - 1;
      }
      s.replica.set_applied(s.applied);
      auto acked = s.replica.SendAck();
      auto ticked = acked ? s.Tick(true) : acked;
      if (!ticked && !IsLinkLoss(ticked.error())) return fail(std::move(ticked).error());
    }
    auto streamed = s.RunStream();
    if (streamed) break;  // stopped, or --once reached its offset
    // An open source transaction was never sent (batches end at transaction boundaries):
    // it comes again with the replay, which starts where the writer stands.
    s.in_multi = false;
    s.carry.clear();
    if (s.writer->applied_offset() >= 0) s.applied = s.writer->applied_offset();
    s.source_db = s.writer->source_db();
    if (IsTargetLoss(streamed.error())) {
      s.replica.Close();
      auto recovered = s.RecoverTarget(streamed.error());
      if (!recovered) return fail(std::move(recovered).error());
      reconnect_deadline = Clock::now() + options_.reconnect_for;
      continue;
    }
    if (!IsLinkLoss(streamed.error())) return fail(std::move(streamed).error());
    ++stats_->link_drops;
    spdlog::warn("{}; resuming with PSYNC at offset {}", streamed.error().ToString(),
                 s.applied + 1);
    s.replica.Close();
    reconnect_deadline = Clock::now() + options_.reconnect_for;
  }
  s.applied = s.writer->applied_offset() >= 0 ? s.writer->applied_offset() : s.applied;
  s.replica.set_applied(s.applied);
  if (s.replica.SendAck()) {
    auto ticked = s.Tick(true);
    (void)ticked;
  }
  auto saved = s.SaveCp();
  if (!saved) return fail(std::move(saved).error());
  s.replica.Close();
  if (options_.checkpoint_path.empty()) {
    // Nothing can resume this run: the marker would only be a stray key in the target.
    auto removed = s.writer->DeleteMarkers();
    if (!removed) {
      spdlog::warn("could not delete keyferry's marker {} from the target; delete it by hand",
                   s.marker_key);
    }
  }
  stats_->phase = static_cast<int>(SyncPhase::kDone);
  return {};
}

}  // namespace kf::sync
