// ClusterWriter: target::Writer for a Redis or Valkey Cluster (writer.h has the contract).
//
// Routing: the slot map comes from net::ReadClusterTopology (CLUSTER SHARDS, or CLUSTER
// NODES); each primary gets its own admin connection, opened on first use. The stream's
// ops carry their slot (StreamOp::slot, set by the sync engine after it split commands
// across slots); a cluster has db 0 only, and an op for another db is refused.
//
// Exactly once (applied_marker.h, "A cluster target"): a batch is applied as one
// MULTI/EXEC per slot, sent to the slot's owner, each setting that slot's marker to the
// batch's end offset with the batch's floor (the offset every slot had reached before it).
// The transactions of one primary are pipelined together, and all primaries are written
// before any reply is read. Ops a slot's marker already covers (a replay after a crash)
// are skipped. A keyless command for every primary (StreamOp::slot == kEveryPrimary:
// FLUSHALL, FUNCTION LOAD...) is applied alone, once per primary, in a transaction that
// sets the marker of that primary's first slot.
//
// Redirections: a transaction refused with MOVED is sent again to the slot's new owner
// after the slot map is read again; ASK sends it to the importing node behind ASKING;
// TRYAGAIN (a slot half migrated, the transaction's keys on both sides) and CLUSTERDOWN
// wait 100 ms and try again. A refused transaction applied nothing (EXECABORT), so sending
// it again is safe. Retries end after `redirect_for`, with an error naming the slot and
// the last reply. In the snapshot, the lanes stop at a redirection (TargetErrc::
// kRedirected) and the engine copies the snapshot again over a refreshed slot map.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/client.h"
#include "net/cluster_topology.h"
#include "net/uri.h"
#include "target/writer.h"

namespace kf::target {

class ClusterWriter : public Writer {
 public:
  explicit ClusterWriter(net::Uri seed,
                         std::chrono::milliseconds redirect_for = std::chrono::seconds(30));

  std::string Describe() const override;
  bool is_cluster() const override { return true; }
  Result<void> Connect() override;
  void Close() override;
  Result<std::vector<NodeInfo>> Info(const char* section) override;
  Result<void> FlushAll() override;
  Result<std::vector<NodeReply>> CallEveryPrimary(const std::vector<std::string>& args) override;
  Result<std::optional<AppliedMarker>> ReadMarker() override;
  Result<void> WriteMarker(const AppliedMarker& marker) override;
  Result<void> DeleteMarkers() override;
  void set_marker_key(std::string key) override { head_key_ = std::move(key); }
  void set_owned_slots(std::vector<net::SlotRange> slots) override;
  Result<uint64_t> DeleteKeysInSlots(const std::vector<net::SlotRange>& slots, int db) override;
  std::unique_ptr<SnapshotLanes> NewSnapshotLanes(LaneOptions options) override;
  bool supports_mset() const override { return false; }
  void set_marker_identity(std::string id, std::string replid) override {
    marker_id_ = std::move(id);
    replid_ = std::move(replid);
  }
  Result<void> Apply(const std::vector<StreamOp>& batch) override;
  int64_t applied_offset() const override { return applied_offset_; }
  void set_applied_offset(int64_t offset) override { applied_offset_ = offset; }
  int source_db() const override { return source_db_; }
  void set_source_db(int db) override { source_db_ = db; }
  uint64_t commands_applied() const override { return commands_applied_; }

  // Number of transactions sent again after MOVED / ASK / TRYAGAIN / CLUSTERDOWN.
  uint64_t redirects() const { return redirects_; }

 private:
  struct Node {
    net::Uri uri;
    std::string address;  // "host:port", as MOVED / ASK name it
    std::unique_ptr<net::Client> client;
  };
  // One slot's transaction of a batch.
  struct SlotTx {
    int slot = 0;
    std::vector<const StreamOp*> ops;
    std::string marker_value;
    std::string marker_key;
    std::string last_error;  // the redirection that refused it, for retries and messages
    // After ASK: the importing node the next send goes to, behind ASKING.
    std::optional<size_t> ask_node;
  };

  Result<void> RefreshTopology();
  size_t NodeIndex(const std::string& host, int port);
  Result<net::Client*> ClientOf(size_t node);
  Result<size_t> OwnerOf(int slot);
  // Writes the transactions of `txs` (indices into all) to their owners, pipelined, then
  // reads every reply. Transactions refused with a redirection land in `redirected`.
  Result<void> SendTransactions(std::vector<SlotTx>& all, const std::vector<size_t>& txs,
                                std::vector<size_t>* redirected);
  // Sends the transactions in `redirected` again, one by one, until applied or redirect_for.
  Result<void> Retry(std::vector<SlotTx>& all, std::vector<size_t> redirected);
  // One call routed by slot, following redirections (admin: markers).
  Result<resp::Reply> CallInSlot(int slot, const std::vector<std::string>& args);
  // Applies ops [begin, end) (no kEveryPrimary among them).
  Result<void> ApplySlots(const std::vector<StreamOp>& batch, const std::vector<int64_t>& ends,
                          size_t begin, size_t end);
  Result<void> ApplyEveryPrimary(const StreamOp& op, int64_t end);
  Error LinkFailed(const Node& node, const std::string& what, const Error& e);

  // Slot markers outside owned_ are other syncs' (set_owned_slots); empty: every slot.
  bool Owns(int slot) const { return owned_.empty() || owned_[static_cast<size_t>(slot)]; }
  // SCAN of one primary for keys matching `pattern`; `keep` picks the ones to return.
  Result<std::vector<std::string>> ScanNode(size_t node, const std::string& pattern,
                                            const std::function<bool(const std::string&)>& keep);

  net::Uri seed_;
  std::string head_key_{kAppliedMarkerKey};
  std::vector<bool> owned_;
  std::chrono::milliseconds redirect_for_;
  std::vector<Node> nodes_;
  std::vector<int> owner_;             // slot → index in nodes_, -1 when unassigned
  std::vector<size_t> primaries_;      // nodes owning slots, by first slot
  std::vector<int> first_slot_;        // parallel to primaries_
  std::vector<int64_t> slot_applied_;  // slot → offset its marker holds (-1: none known)
  std::string marker_id_;
  std::string replid_;
  int64_t applied_offset_ = -1;
  int source_db_ = 0;
  uint64_t commands_applied_ = 0;
  uint64_t redirects_ = 0;
};

}  // namespace kf::target
