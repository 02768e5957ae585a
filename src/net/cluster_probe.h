// Asking a server whether it is a cluster node and, when it is, what the whole cluster
// looks like: ReadClusterTopology. The parsing is in cluster_topology.h; this file holds the
// IO (short connections of its own, closed before it returns).
//
// Steps, each with its contract:
//   1. CLUSTER INFO on the given node. A standalone server answers "ERR This instance has
//      cluster support disabled": the result is std::nullopt (not an error). Any other
//      error reply (an ACL without +cluster, a renamed command) is
//      ClusterErrc::kCommandRefused naming the node and what to grant.
//   2. CLUSTER SHARDS (Redis 7.0+, Valkey); a server that does not know the subcommand
//      ("unknown subcommand") is asked CLUSTER NODES instead. The topology is the view of
//      that one node.
//   3. CLUSTER NODES on every primary that is not failed, because a node shows its slots in
//      MIGRATING / IMPORTING state on its own line only: their union is
//      ClusterTopology::migrations. A primary that cannot be reached is an error naming it
//      (the migrations would be incomplete, and PREFLIGHT refuses a source with a slot
//      migration in progress).
#pragma once

#include <optional>

#include "common/result.h"
#include "net/client.h"
#include "net/cluster_topology.h"
#include "net/uri.h"

namespace kf::net {

struct ClusterReadOptions {
  ClientOptions client;
  // Read CLUSTER NODES even when CLUSTER SHARDS exists (the fallback path, exercised by
  // tests against servers that have both).
  bool use_cluster_nodes = false;
  // Step 3 above; off, `migrations` holds only what the given node's CLUSTER NODES shows
  // (nothing on the CLUSTER SHARDS path).
  bool read_migrations = true;
};

// The topology of the cluster `uri` belongs to, std::nullopt when `uri` is a standalone
// server. The URI's db is ignored (a cluster has db 0 only); its user and password are used
// for every node. ClusterTopology::state holds cluster_state from CLUSTER INFO.
Result<std::optional<ClusterTopology>> ReadClusterTopology(const Uri& uri,
                                                           const ClusterReadOptions& options = {});

// The URI of `node`: its ip (else its endpoint; else, for a node that has not learnt its
// own ip yet, the seed's host) and port, the seed's user and password, db 0.
Uri NodeUri(const Uri& seed, const ClusterNode& node);

}  // namespace kf::net
