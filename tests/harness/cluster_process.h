// Real Redis/Valkey Clusters for tests: N primaries with R replicas each, every node a
// ServerProcess (cluster-enabled, own temp dir, own free client and bus ports on
// 127.0.0.1), slots spread evenly, stopped by PID when the ClusterProcess goes away.
//
// What the harness knows about the cluster it reads from the servers (CLUSTER NODES,
// parsed here, independently of keyferry's net/cluster_topology.h so that parser can be
// tested against it). Every wait is bounded; a helper that cannot do its job adds a gtest
// failure saying what it saw and returns false / nullptr.
//
// Run() is a small cluster client for test data: it asks a server for each command's keys
// (COMMAND GETKEYS), hashes the first key with net::KeySlot, sends the command to the
// primary owning that slot (pipelined per node), and follows MOVED / ASK redirections like
// a cluster client. Commands without keys (FUNCTION LOAD, ...) go to every primary.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/server_process.h"
#include "net/uri.h"
#include "resp/reply.h"

namespace kf::test {

struct ClusterOptions {
  int primaries = 3;             // 1..6
  int replicas_per_primary = 0;  // 0..2
  // Extra config directives for every node (as ServerOptions::config).
  std::vector<std::pair<std::string, std::string>> config = {};
  std::chrono::milliseconds node_timeout{2000};  // cluster-node-timeout
  // When set: every node also listens on a TLS port (ServerOptions::tls) and the cluster
  // speaks TLS (tls-cluster yes), so it announces its TLS ports to TLS clients.
  std::optional<ServerTls> tls{};
  // Bound on the whole start: nodes up, met, slots assigned, replicas in sync.
  std::chrono::milliseconds ready_timeout{60000};
};

// How far MoveSlot goes.
enum class SlotMoveEnd {
  kComplete,      // all keys moved, slot assigned to the destination on every primary
  kHalfMigrated,  // MIGRATING / IMPORTING set and about half of the keys moved (at least one
                  // when the slot has two or more keys): clients get ASK for moved keys
};

class ClusterProcess {
 public:
  static std::unique_ptr<ClusterProcess> Start(ServerKind kind, ClusterOptions options = {});

  ~ClusterProcess();
  ClusterProcess(const ClusterProcess&) = delete;
  ClusterProcess& operator=(const ClusterProcess&) = delete;

  ServerKind kind() const { return kind_; }
  const ClusterOptions& options() const { return options_; }

  // Every node started, killed ones included (running() false), in start order: the
  // primaries first (node i served slot range i at start), then the replicas of primary 0,
  // of primary 1, ...
  const std::vector<std::unique_ptr<ServerProcess>>& nodes() const { return nodes_; }
  ServerProcess& node(size_t i) const { return *nodes_[i]; }
  // The 40-hex node id of a node of this cluster ("" for a stranger).
  std::string NodeId(const ServerProcess& node) const;
  ServerProcess* NodeById(const std::string& id) const;
  ServerProcess* NodeByPort(int port) const;

  // The current layout as a running node reports it. Primaries(): running primaries that
  // own slots, ordered by their first slot.
  std::vector<ServerProcess*> Primaries() const;
  std::vector<ServerProcess*> ReplicasOf(const ServerProcess& primary) const;
  // The primary owning `slot`, or nullptr (unassigned, or its owner is not running).
  ServerProcess* OwnerOfSlot(int slot) const;
  // The owner of the key's slot, the slot asked from a server (CLUSTER KEYSLOT).
  ServerProcess* OwnerOfKey(const std::string& key) const;
  // Slot ranges [first, last] a node owns.
  std::vector<std::pair<int, int>> SlotsOf(const ServerProcess& node) const;

  // A running primary's URI: where a cluster client starts.
  std::string uri() const;
  // The URIs of every running primary that owns slots (the whole content, for
  // CanonicalDiff); of every running node.
  std::vector<net::Uri> PrimaryUris() const;
  std::vector<net::Uri> NodeUris() const;

  // The cluster client (see above). One reply per command, in order; a failed command is an
  // error reply (CROSSSLOT, WRONGTYPE...). A connection failure fails the test and returns
  // an empty vector.
  std::vector<resp::Reply> Run(const std::vector<std::vector<std::string>>& commands);
  resp::Reply Call(const std::vector<std::string>& args);
  // Redirections Run() followed since the start.
  uint64_t moved_redirects() const { return moved_redirects_; }
  uint64_t ask_redirects() const { return ask_redirects_; }

  // Moves `slot` from its owner to the primary `to` as redis-cli --cluster reshard does:
  // CLUSTER SETSLOT IMPORTING on `to`, MIGRATING on the owner, MIGRATE of its keys in
  // batches of `batch` (CLUSTER GETKEYSINSLOT), then SETSLOT NODE on `to`, the old owner
  // and every other primary, and waits until every running node agrees. With
  // kHalfMigrated it stops before SETSLOT NODE (calling it again with kComplete finishes
  // the move). False, with a test failure, when a step fails.
  bool MoveSlot(int slot, ServerProcess& to, SlotMoveEnd end = SlotMoveEnd::kComplete,
                int batch = 10);

  // A manual failover of the replica's shard (CLUSTER FAILOVER on `replica`, which must be
  // in sync): waits until the replica is the primary, its old primary follows it and every
  // running node agrees.
  bool FailOver(ServerProcess& replica);

  // SIGKILL of one node (a crash). The cluster fails it over by itself after
  // node_timeout when it was a primary with a replica; WaitUntilStable() waits for that.
  void KillNode(ServerProcess& node);

  // Waits until every running node reports cluster_state:ok, all of them agree on the
  // roles and slots of the running nodes, no running node is flagged failing, nodes that
  // are not running own no slots, and every running replica is linked and has the
  // replication offset of its primary. False with a test failure saying what was last
  // seen when `timeout` passes.
  bool WaitUntilStable(std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

 private:
  ClusterProcess(ServerKind kind, ClusterOptions options);
  bool Build();
  // Empty when stable, else what is not.
  std::string Unstable();
  ServerProcess* AnyRunningNode() const;

  ServerKind kind_;
  ClusterOptions options_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::vector<std::string> ids_;  // ids_[i] is the id of nodes_[i]
  uint64_t moved_redirects_ = 0;
  uint64_t ask_redirects_ = 0;
};

// EveryTypeCommandsForCompare() (dataset.h) written into `cluster` through its cluster client,
// and into a new standalone server of `kind`: two deployments with identical content.
// Error replies fail the current test, naming the command.
void SeedEveryTypeForCompare(ClusterProcess& cluster);
// One reply per command and none of them an error (else the test fails, naming the command).
void ExpectNoErrorReplies(const std::vector<resp::Reply>& replies,
                          const std::vector<std::vector<std::string>>& commands);
std::unique_ptr<ServerProcess> StartSeededForCompare(ServerKind kind);

}  // namespace kf::test
