// target::Writer: everything the sync engine does to a target, behind one seam, so that the
// engine does not know whether the target is one server or a cluster.
//
//   - admin: INFO of every primary (the engine sums keys and evictions and checks each
//     node's eviction policy), FLUSHALL everywhere, the applied-offset markers;
//   - the snapshot: SnapshotLanes routed to the server, or to the primary owning each key;
//   - the stream: ordered batches of StreamOp, each batch applied exactly once (its data and
//     the marker covering it change together).
//
// StandaloneWriter (here) is one server: one admin connection, the marker in db 0, and
// StreamWriter (one MULTI/EXEC per batch). ClusterWriter (cluster_writer.h) is a Valkey or
// Redis Cluster: per-slot markers and one MULTI/EXEC per slot, routed by slot, following
// MOVED / ASK / TRYAGAIN / CLUSTERDOWN.
//
// Contract for every implementation:
//   - Connect() before anything else; errors name the target and the reason.
//   - ReadMarker() returns what the target holds of a sync: nullopt when it holds no
//     keyferry marker; state kSnapshot when a full sync was being copied; state kStream with
//     the offset up to which every command is applied (a resume asks for offset + 1) and
//     the source db of the next command. A key named like a marker that keyferry did not
//     write is TargetErrc::kForeignMarker naming the key.
//   - Apply() of a batch that holds commands changes the target and the marker(s) covering
//     them together; on any failure applied_offset() is what the target really holds or
//     less (a resume replays, and replayed commands already applied are skipped or
//     harmless), never more. kLinkFailed means a connection broke: reconnect (Connect) and
//     read the marker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/client.h"
#include "net/cluster_topology.h"
#include "net/uri.h"
#include "resp/reply.h"
#include "target/applied_marker.h"
#include "target/snapshot_lanes.h"
#include "target/stream_writer.h"

namespace kf::target {

// One primary's INFO section text.
struct NodeInfo {
  std::string endpoint;
  std::string text;
};

// One primary's reply to a command sent to every primary.
struct NodeReply {
  std::string endpoint;
  resp::Reply reply;
};

class Writer {
 public:
  virtual ~Writer() = default;

  // For messages: "127.0.0.1:6379", or "the cluster at 127.0.0.1:7000 (3 primaries)".
  virtual std::string Describe() const = 0;
  virtual bool is_cluster() const = 0;

  // Connects the admin and stream connections (again, after a failure).
  virtual Result<void> Connect() = 0;
  virtual void Close() = 0;

  // INFO <section> of every primary (an error reply is an error naming the node).
  virtual Result<std::vector<NodeInfo>> Info(const char* section) = 0;
  // FLUSHALL on every primary.
  virtual Result<void> FlushAll() = 0;
  // One keyless command on every primary (FUNCTION LIST, FUNCTION FLUSH): the replies in
  // primary order; an error reply is kRejected naming the node and the command.
  virtual Result<std::vector<NodeReply>> CallEveryPrimary(const std::vector<std::string>& args) = 0;

  virtual Result<std::optional<AppliedMarker>> ReadMarker() = 0;
  // Sets the marker that says which sync holds the target and in which state (a full sync
  // starts: kSnapshot; its barrier passed: kStream at the snapshot's offset).
  virtual Result<void> WriteMarker(const AppliedMarker& marker) = 0;
  // Removes every marker this writer keeps (a sync that cannot be resumed leaves none).
  virtual Result<void> DeleteMarkers() = 0;

  // A target shared by several syncs (a cluster source: one engine per source shard).
  //  - set_marker_key: the key of this sync's head marker (default kAppliedMarkerKey);
  //  - set_owned_slots: the hash slots whose keys this sync writes. A cluster target's slot
  //    markers outside them belong to other syncs: ReadMarker and DeleteMarkers leave them
  //    alone, and a command for every primary is applied without a marker (the engine only
  //    sends forms that can be applied twice: FUNCTION LOAD ... REPLACE...).
  //  - DeleteKeysInSlots: deletes the keys of those slots in `db` before the sync copies its
  //    shard again, with those slots' own slot markers (a cluster target), but no head
  //    marker (each sync's lives wherever its name hashes); returns how many.
  virtual void set_marker_key(std::string key) = 0;
  virtual void set_owned_slots(std::vector<net::SlotRange> slots) = 0;
  virtual Result<uint64_t> DeleteKeysInSlots(const std::vector<net::SlotRange>& slots, int db) = 0;

  // Snapshot lanes for this target (not started). A cluster's lanes route each key to the
  // primary owning its slot; a string-gathering MSET is then not possible across slots.
  virtual std::unique_ptr<SnapshotLanes> NewSnapshotLanes(LaneOptions options) = 0;
  virtual bool supports_mset() const = 0;

  // The stream (StreamWriter's contract, plus StreamOp::slot routing for a cluster).
  virtual void set_marker_identity(std::string id, std::string replid) = 0;
  virtual Result<void> Apply(const std::vector<StreamOp>& batch) = 0;
  virtual int64_t applied_offset() const = 0;
  virtual void set_applied_offset(int64_t offset) = 0;
  virtual int source_db() const = 0;
  virtual void set_source_db(int db) = 0;
  virtual uint64_t commands_applied() const = 0;
};

// One server. The marker is the key kAppliedMarkerKey in db 0.
class StandaloneWriter : public Writer {
 public:
  explicit StandaloneWriter(net::Uri target) : target_(std::move(target)) {}

  std::string Describe() const override { return target_.Endpoint(); }
  bool is_cluster() const override { return false; }
  Result<void> Connect() override;
  void Close() override;
  Result<std::vector<NodeInfo>> Info(const char* section) override;
  Result<void> FlushAll() override;
  Result<std::vector<NodeReply>> CallEveryPrimary(const std::vector<std::string>& args) override;
  Result<std::optional<AppliedMarker>> ReadMarker() override;
  Result<void> WriteMarker(const AppliedMarker& marker) override;
  Result<void> DeleteMarkers() override;
  void set_marker_key(std::string key) override {
    marker_key_ = key;
    stream_.set_marker_key(std::move(key));
  }
  void set_owned_slots(std::vector<net::SlotRange>) override {}  // one marker per sync
  Result<uint64_t> DeleteKeysInSlots(const std::vector<net::SlotRange>& slots, int db) override;
  std::unique_ptr<SnapshotLanes> NewSnapshotLanes(LaneOptions options) override;
  bool supports_mset() const override { return true; }
  void set_marker_identity(std::string id, std::string replid) override {
    stream_.set_marker_identity(std::move(id), std::move(replid));
  }
  Result<void> Apply(const std::vector<StreamOp>& batch) override { return stream_.Apply(batch); }
  int64_t applied_offset() const override { return stream_.applied_offset(); }
  void set_applied_offset(int64_t offset) override { stream_.set_applied_offset(offset); }
  int source_db() const override { return stream_.source_db(); }
  void set_source_db(int db) override { stream_.set_source_db(db); }
  uint64_t commands_applied() const override { return stream_.commands_applied(); }

 private:
  net::Uri target_;
  std::string marker_key_{kAppliedMarkerKey};
  net::Client admin_;
  StreamWriter stream_;
};

// A StandaloneWriter or a ClusterWriter, from what the server at `target` says it is
// (CLUSTER INFO through net::ReadClusterTopology).
Result<std::unique_ptr<Writer>> OpenWriter(const net::Uri& target);

}  // namespace kf::target
