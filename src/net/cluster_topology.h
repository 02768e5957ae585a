// ClusterTopology: the shards of a Redis/Valkey Cluster as one node sees them — for each
// shard its slot ranges, its primary and its replicas — plus the slots that are being
// moved between primaries (MIGRATING / IMPORTING). Pure parsers of the two replies that
// describe it; no IO (ReadClusterTopology in cluster_probe.h asks the servers).
//
// ParseClusterShards reads a CLUSTER SHARDS reply (Redis 7.0+, Valkey): an array of
// shards, each a map (RESP3) or a flat key/value array (RESP2) with "slots" (a flat array
// of start/end integers) and "nodes" (an array of node maps: id, port, tls-port, ip,
// endpoint, hostname, role, replication-offset, health). Unknown keys are skipped, so newer
// servers that add fields still parse. CLUSTER SHARDS does not show slot migrations.
//
// ParseClusterNodes reads CLUSTER NODES text, one node a line:
//   <id> <ip>:<port>@<bus-port>[,<hostname>[,...]] <flags> <primary-id|-> <ping-sent>
//   <pong-recv> <config-epoch> <link-state> [<slot> | <first>-<last> | [<slot>->-<id>] |
//   [<slot>-<-<id>]]...
// The bracketed forms are a slot this node is migrating to / importing from node <id>; a
// node prints them on its own ("myself") line only, so the migrations of a whole cluster
// are the union of every primary's CLUSTER NODES. Nodes still in handshake (just met,
// temporary ids) are not part of the cluster yet and are left out.
//
// Both parsers take a whole reply. Anything that does not fit — a missing field, a port
// out of range, a slot outside 0..16383, a slot claimed by two primaries, a replica whose
// primary is not listed, a shard with slots and no primary — is ClusterErrc::kBadReply
// with a sentence naming the shard/node/line and the offending text. They never crash or
// assert on their input. A CLUSTER SHARDS entry with neither slots nor a primary (replicas
// left behind by a primary that was removed) serves nothing and is left out. A failed
// primary that lost its slots to a failover is a shard without slots whose primary is
// failed — in both parsers, although Valkey's CLUSTER SHARDS lists it inside the shard of
// its successor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "resp/reply.h"

namespace kf::net {

// An inclusive range of hash slots [first, last].
struct SlotRange {
  int first = 0;
  int last = 0;
  int size() const { return last - first + 1; }
  bool Contains(int slot) const { return slot >= first && slot <= last; }
  bool operator==(const SlotRange&) const = default;
};

// "0-5460,5461,5462-10922" ("" for no slots).
std::string SlotRangesToString(const std::vector<SlotRange>& ranges);

enum class NodeHealth {
  kOnline,     // serving (SHARDS "online"; NODES without fail flags)
  kLoading,    // SHARDS "loading": a replica that has not loaded its primary's data yet
  kSuspected,  // NODES "fail?": the node that answered cannot reach it (PFAIL)
  kFailed,     // SHARDS "fail"/"failed"; NODES "fail" or "noaddr": agreed to be down
  kUnknown,    // a health word this parser does not know (newer server)
};
const char* NodeHealthName(NodeHealth health);  // "online", "loading", "fail?", "failed", ...

struct ClusterNode {
  std::string id;        // 40 hex digits
  std::string ip;        // may be empty on a node that has not met another one yet
  std::string endpoint;  // SHARDS "endpoint" (preferred client address), else ""
  std::string hostname;  // announced hostname, else ""
  int port = 0;          // plaintext client port; 0 when the node only listens with TLS
  int tls_port = 0;      // 0 when none is announced
  bool primary = false;
  std::string primary_id;  // replicas: the id of the primary they follow
  NodeHealth health = NodeHealth::kOnline;
  int64_t replication_offset = -1;  // SHARDS only; -1 from NODES
  bool myself = false;              // NODES only: the node that produced the reply

  // "ip:port" ("[ip]:port" for IPv6), with the TLS port when there is no plaintext one.
  std::string Address() const;
};

struct ClusterShard {
  std::vector<SlotRange> slots;  // sorted, merged where adjacent
  ClusterNode primary;
  std::vector<ClusterNode> replicas;  // sorted by id

  int SlotCount() const;
  bool Owns(int slot) const;
};

enum class SlotMigrationState {
  kMigrating,  // the node's keys of the slot are moving to peer_id (ASK for absent keys)
  kImporting,  // the node receives the slot's keys from peer_id (accepts ASKING)
};

struct SlotMigration {
  int slot = 0;
  SlotMigrationState state = SlotMigrationState::kMigrating;
  std::string node_id;  // the node in that state
  std::string peer_id;  // where the keys go to / come from
  bool operator==(const SlotMigration&) const = default;
};

// "slot 42 migrating from <node> to <peer>" / "slot 42 importing into <node> from <peer>".
std::string DescribeSlotMigration(const SlotMigration& migration);

enum class TopologySource { kClusterShards, kClusterNodes };

struct ClusterTopology {
  // Shards with slots sorted by their first slot, then shards without slots by primary id.
  std::vector<ClusterShard> shards;
  // Slots in MIGRATING / IMPORTING state, sorted by slot then node id. From CLUSTER NODES
  // only (ReadClusterTopology asks every primary for them).
  std::vector<SlotMigration> migrations;
  TopologySource source = TopologySource::kClusterShards;
  std::string state;  // cluster_state of CLUSTER INFO ("ok", "fail"); "" when not read

  // The shard serving `slot`, or nullptr when no primary owns it.
  const ClusterShard* ShardOfSlot(int slot) const;
  // Slots no shard owns (empty for a fully covered cluster).
  std::vector<SlotRange> UnassignedSlots() const;
  // Shards that own at least one slot.
  size_t ServingShardCount() const;
  // One line per shard, e.g. "shard 0-5460: primary 1f2e... 127.0.0.1:7000 (online),
  // replicas 9a8b... 127.0.0.1:7003 (online)", then one per migration.
  std::string Describe() const;
};

Result<ClusterTopology> ParseClusterShards(const resp::Reply& reply);
Result<ClusterTopology> ParseClusterNodes(std::string_view text);

// The migrations of the node that produced a CLUSTER NODES text (its "myself" line). Every
// line is checked as ParseClusterNodes does, but the shards are not assembled, so a view
// that is inconsistent elsewhere (a failover in progress) still gives the node's own state.
Result<std::vector<SlotMigration>> ParseOwnSlotMigrations(std::string_view text);

}  // namespace kf::net
