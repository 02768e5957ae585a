// ReadClusterTopology: CLUSTER INFO, then CLUSTER SHARDS (or NODES), then every primary's
// CLUSTER NODES for the slots in migration.
#include "net/cluster_probe.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <tuple>

#include "net/cluster_errc.h"
#include "net/server_info.h"

namespace kf::net {
namespace {

bool ContainsNoCase(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

Unexpected Refused(const Uri& uri, std::string_view command, const resp::Reply& reply) {
  return MakeError(ClusterErrc::kCommandRefused,
                   std::string(command) + " on " + uri.Endpoint() +
                       " was refused: " + reply.ToString(120) +
                       "; keyferry reads the cluster's layout with CLUSTER INFO, SHARDS and "
                       "NODES — grant them (ACL: +cluster|info +cluster|shards +cluster|nodes) "
                       "or un-rename the CLUSTER command");
}

// Adds the node's own context to a connection or IO error.
Unexpected NodeError(Error error, const std::string& what) {
  error.message = what + ": " + error.ToString();
  return MakeError(std::move(error));
}

Result<std::string> ClusterNodesText(Client& client, const Uri& uri) {
  auto reply = client.Call({"CLUSTER", "NODES"});
  if (!reply) {
    return NodeError(std::move(reply).error(), "CLUSTER NODES on " + uri.Endpoint() + " failed");
  }
  if (reply->is_error()) return Refused(uri, "CLUSTER NODES", *reply);
  if (!reply->is_string()) {
    return MakeError(ClusterErrc::kBadReply,
                     "CLUSTER NODES on " + uri.Endpoint() + " answered a reply of type " +
                         resp::ReplyTypeName(reply->type()) + ", expected text");
  }
  return reply->str();
}

// Step 3: the union of every serving primary's own migrations.
Result<std::vector<SlotMigration>> ReadMigrations(const Uri& seed, const ClusterTopology& topology,
                                                  const ClusterReadOptions& options) {
  std::vector<SlotMigration> all;
  for (const auto& shard : topology.shards) {
    const ClusterNode& primary = shard.primary;
    if (primary.health == NodeHealth::kFailed) continue;
    const Uri uri = NodeUri(seed, primary);
    const std::string who =
        "primary " + primary.id + " at " + uri.Endpoint() +
        (shard.slots.empty() ? std::string(" (no slots)")
                             : " (slots " + SlotRangesToString(shard.slots) + ")");
    Client client;
    auto connected = client.Connect(uri, options.client);
    if (!connected) {
      return NodeError(std::move(connected).error(),
                       "cannot reach " + who +
                           " to read its slot migrations; check that node (or wait until the "
                           "cluster has failed it over) and try again");
    }
    auto text = ClusterNodesText(client, uri);
    if (!text) return MakeError(std::move(text).error());
    auto own = ParseOwnSlotMigrations(*text);
    if (!own) return NodeError(std::move(own).error(), "the CLUSTER NODES reply of " + who);
    for (const auto& m : *own) {
      if (m.node_id == primary.id) all.push_back(m);
    }
  }
  std::sort(all.begin(), all.end(), [](const SlotMigration& a, const SlotMigration& b) {
    return std::tie(a.slot, a.node_id, a.state) < std::tie(b.slot, b.node_id, b.state);
  });
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

}  // namespace

Uri NodeUri(const Uri& seed, const ClusterNode& node) {
  Uri uri = seed;
  uri.db = 0;
  if (!node.ip.empty()) {
    uri.host = node.ip;
  } else if (!node.endpoint.empty() && node.endpoint != "?") {
    uri.host = node.endpoint;
  }
  // A TLS seed reaches the other nodes on their TLS port (tls-cluster yes; CLUSTER SLOTS
  // answers a TLS client with the TLS ports already).
  if (seed.tls.enabled) {
    uri.port = node.tls_port != 0 ? node.tls_port : node.port;
  } else {
    uri.port = node.port != 0 ? node.port : node.tls_port;
  }
  return uri;
}

Result<std::optional<ClusterTopology>> ReadClusterTopology(const Uri& uri,
                                                           const ClusterReadOptions& options) {
  Uri seed = uri;
  seed.db = 0;  // SELECT of another db fails on a cluster node
  Client client;
  auto connected = client.Connect(seed, options.client);
  if (!connected) {
    return NodeError(std::move(connected).error(),
                     "cannot connect to " + seed.Endpoint() + " to read its cluster topology");
  }
  // 1. Cluster mode or not.
  auto info = client.Call({"CLUSTER", "INFO"});
  if (!info) {
    return NodeError(std::move(info).error(), "CLUSTER INFO on " + seed.Endpoint() + " failed");
  }
  if (info->is_error()) {
    if (ContainsNoCase(info->str(), "cluster support disabled")) return std::nullopt;
    return Refused(seed, "CLUSTER INFO", *info);
  }
  if (!info->is_string()) {
    return MakeError(ClusterErrc::kBadReply,
                     "CLUSTER INFO on " + seed.Endpoint() + " answered a reply of type " +
                         resp::ReplyTypeName(info->type()) + ", expected text");
  }
  const std::string state = InfoField(info->str(), "cluster_state");

  // 2. The shards as this node sees them.
  Result<ClusterTopology> topology = MakeError(ClusterErrc::kBadReply, "not read");
  bool use_nodes = options.use_cluster_nodes;
  if (!use_nodes) {
    auto shards = client.Call({"CLUSTER", "SHARDS"});
    if (!shards) {
      return NodeError(std::move(shards).error(),
                       "CLUSTER SHARDS on " + seed.Endpoint() + " failed");
    }
    if (shards->is_error() && ContainsNoCase(shards->str(), "unknown subcommand")) {
      use_nodes = true;  // older than Redis 7.0
    } else if (shards->is_error()) {
      return Refused(seed, "CLUSTER SHARDS", *shards);
    } else {
      topology = ParseClusterShards(*shards);
    }
  }
  if (use_nodes) {
    auto text = ClusterNodesText(client, seed);
    if (!text) return MakeError(std::move(text).error());
    topology = ParseClusterNodes(*text);
  }
  if (!topology) {
    return NodeError(std::move(topology).error(),
                     "the cluster topology read from " + seed.Endpoint() + " is unusable");
  }
  client.Close();
  topology->state = state;

  // 3. Slot migrations, which each primary shows only about itself.
  if (options.read_migrations) {
    auto migrations = ReadMigrations(seed, *topology, options);
    if (!migrations) return MakeError(std::move(migrations).error());
    topology->migrations = std::move(*migrations);
  }
  return std::optional<ClusterTopology>(std::move(*topology));
}

}  // namespace kf::net
