// LocalClusterProvider: `target.topology: cluster` with `provider: local` — keyferry starts a
// Valkey Cluster of its own under <state_dir>/target/node-<i>/ and owns it (provider.h holds
// the contract every provider meets).
//
// Provision():
//   1. starts shards * (1 + replicas_per_shard) daemonized valkey-server processes with
//      cluster-enabled, each on a free client port and a free cluster bus port (the default
//      bus port, client port + 10000, may be taken or overflow), noeviction like the local
//      standalone server; with target.local.tls the client port is a TLS port (port 0) and
//      the bus and replication links speak TLS (tls-cluster, tls-replication yes), and every
//      connection keyferry makes to a node uses the spec's TlsOptions; every node is journaled
//      (target.nodes: pid, port, bus port, dir, role, shard) as soon as it answers, before the
//      cluster is formed, so a crash leaves nothing unaccounted for;
//   2. gives each node its own config epoch, makes the first node MEET every other one,
//      assigns the 16384 slots evenly (primary i: [i*16384/N, (i+1)*16384/N - 1]) with
//      ADDSLOTSRANGE, attaches each replica (CLUSTER REPLICATE) to its primary, and waits
//      (bounded) until every node says cluster_state:ok and knows every node; then
//      journals target.cluster = "formed".
// A later Provision() (a resumed apply) reuses a formed cluster whose primaries all run and
// answer as the nodes keyferry started; a cluster that was never formed, or one whose
// primary is gone, is removed whole and a new one started (the copy then starts over: a
// new cluster holds no applied-offset marker). A replica that is gone is reported, not
// replaced. Remove() stops every node (SHUTDOWN NOSAVE, then signals by pid) and removes
// every node's dir.
//
// TargetUri() is the first primary (the seed keyferry's writer, verify and the hook's {uri}
// use); every primary's host:port is read from the cluster itself at CUTOVER ({nodes}).
#pragma once

#include <string>
#include <vector>

#include "control/provider.h"

namespace kf::control {

// One node of a local cluster as the journal keeps it.
struct LocalClusterNode {
  int pid = -1;
  int port = 0;
  int bus_port = 0;
  std::string dir;
  bool primary = true;
  int shard = 0;  // the shard it serves (a primary) or follows (a replica)
};

// target.nodes as JSON text, and back (nullopt for text that is not such a list).
std::string LocalClusterNodesToJson(const std::vector<LocalClusterNode>& nodes);
std::optional<std::vector<LocalClusterNode>> LocalClusterNodesFromJson(const std::string& text);

class LocalClusterProvider : public Provider {
 public:
  // `journal` may be null (plan, which only describes).
  LocalClusterProvider(const Spec& spec, Journal* journal) : spec_(spec), journal_(journal) {}

  ProviderKind kind() const override { return ProviderKind::kLocal; }
  Result<void> Provision(const ProviderEvent& event) override;
  Result<bool> ConfirmOrReplace(const ProviderEvent& event) override;
  Result<void> ConfirmAfterCutover() override;
  Result<net::Uri> TargetUri() const override;
  Result<void> Remove(const ProviderEvent& event) override;
  ProviderDescription Describe() const override;

 private:
  std::vector<LocalClusterNode> Nodes() const;  // from the journal
  Result<void> SaveNodes(const std::vector<LocalClusterNode>& nodes);
  std::string Password() const;
  // Starts the nodes, journals them, forms the cluster.
  Result<void> StartCluster(const ProviderEvent& event);
  // Stops every journaled node and removes its dir, then erases the journal keys. A node that
  // cannot be stopped is an error naming it, and the nodes stay journaled.
  Result<void> RemoveNodes();

  const Spec& spec_;
  Journal* journal_;
};

}  // namespace kf::control
