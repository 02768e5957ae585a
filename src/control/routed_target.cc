// RoutedTarget: key commands routed by slot to a cluster's primaries (see routed_target.h).
#include "control/routed_target.h"

#include "control/control_errc.h"
#include "net/cluster_probe.h"
#include "net/cluster_slots.h"
#include "net/identity_probe.h"

namespace kf::control {
namespace {

Error TargetError(const std::string& what) {
  return Error{make_error_code(ControlErrc::kPhaseFailed), what};
}

// "MOVED 3999 127.0.0.1:6381" → "127.0.0.1:6381"; "" for anything else.
std::string MovedAddress(const resp::Reply& reply) {
  if (!reply.is_error() || reply.str().rfind("MOVED ", 0) != 0) return "";
  auto space = reply.str().rfind(' ');
  return space == std::string::npos ? "" : reply.str().substr(space + 1);
}

}  // namespace

Result<std::optional<net::ClusterTopology>> ReadClusterIfAny(const net::Uri& uri) {
  auto identity = net::ReadServerIdentity(uri);
  if (!identity) {
    return MakeError(identity.error().code, "reading INFO server of " + uri.Endpoint() +
                                                " failed: " + identity.error().ToString());
  }
  if (!identity->cluster()) return std::optional<net::ClusterTopology>();
  return net::ReadClusterTopology(uri);
}

Result<void> RoutedTarget::Open(const net::Uri& uri, const std::string& client_name,
                                std::string end) {
  client_name_ = client_name;
  end_ = std::move(end);
  seed_ = uri;
  nodes_.clear();
  owner_.clear();
  auto topology = ReadClusterIfAny(uri);
  if (!topology) return MakeError(topology.error());
  cluster_ = topology->has_value();
  if (!cluster_) {
    nodes_.push_back({uri.Endpoint(), uri, nullptr});
  } else {
    owner_.assign(net::kClusterSlotCount, -1);
    for (const auto& shard : (*topology)->shards) {
      if (shard.slots.empty()) continue;
      net::Uri node = net::NodeUri(uri, shard.primary);
      for (const auto& range : shard.slots) {
        for (int s = range.first; s <= range.last; ++s) {
          owner_[static_cast<size_t>(s)] = static_cast<int>(nodes_.size());
        }
      }
      nodes_.push_back({node.Endpoint(), node, nullptr});
    }
    if (nodes_.empty()) {
      return MakeError(TargetError("the cluster at " + uri.Endpoint() + " has no primary"));
    }
  }
  for (Node& n : nodes_) {
    n.client = std::make_unique<net::Client>();
    net::ClientOptions co;
    co.client_name = client_name_;
    if (auto c = n.client->Connect(n.uri, co); !c) {
      return MakeError(TargetError("cannot reach the " + end_ + " node " + n.address + ": " +
                                   c.error().ToString()));
    }
  }
  return {};
}

std::string RoutedTarget::Describe() const {
  return cluster_ ? "the cluster at " + seed_.Endpoint() : seed_.Endpoint();
}

Result<void> RoutedTarget::Select(int db) {
  if (cluster_) {
    if (db == 0) return {};
    return MakeError(TargetError("the cluster " + end_ + " " + seed_.Endpoint() +
                                 " has db 0 only, not db " + std::to_string(db)));
  }
  auto selected = nodes_[0].client->Call({"SELECT", std::to_string(db)});
  if (!selected || selected->is_error()) {
    return MakeError(TargetError("SELECT " + std::to_string(db) + " failed on the " + end_ + " " +
                                 nodes_[0].address));
  }
  return {};
}

Result<size_t> RoutedTarget::NodeAt(const std::string& address) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].address == address) return i;
  }
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return MakeError(TargetError("a MOVED reply names " + address + ", which is not host:port"));
  }
  Node n;
  n.address = address;
  n.uri = seed_;
  n.uri.host = address.substr(0, colon);
  if (n.uri.host.size() > 2 && n.uri.host.front() == '[') {
    n.uri.host = n.uri.host.substr(1, n.uri.host.size() - 2);
  }
  n.uri.port = std::atoi(address.c_str() + colon + 1);
  n.uri.db = 0;
  n.client = std::make_unique<net::Client>();
  net::ClientOptions co;
  co.client_name = client_name_;
  if (auto c = n.client->Connect(n.uri, co); !c) {
    return MakeError(TargetError("cannot reach the " + end_ + " node " + address +
                                 " (named by MOVED): " + c.error().ToString()));
  }
  nodes_.push_back(std::move(n));
  return nodes_.size() - 1;
}

Result<std::vector<resp::Reply>> RoutedTarget::CallPipelined(
    const std::vector<std::string>& keys, const std::vector<std::vector<std::string>>& commands) {
  std::vector<resp::Reply> out(commands.size());
  // Commands of each node, in order.
  std::vector<std::vector<size_t>> per_node(nodes_.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    size_t node = 0;
    if (cluster_) {
      int owner = owner_[static_cast<size_t>(net::KeySlot(keys[i]))];
      if (owner < 0) {
        return MakeError(TargetError("no primary of " + Describe() + " serves the slot of " +
                                     Printable(keys[i], 80)));
      }
      node = static_cast<size_t>(owner);
    }
    per_node[node].push_back(i);
  }
  std::vector<size_t> moved;
  std::vector<std::string> moved_to;
  for (size_t n = 0; n < per_node.size(); ++n) {
    if (per_node[n].empty()) continue;
    std::vector<std::vector<std::string>> batch;
    for (size_t i : per_node[n]) batch.push_back(commands[i]);
    auto replies = nodes_[n].client->CallPipelined(batch);
    if (!replies) {
      return MakeError(TargetError("the " + end_ + " node " + nodes_[n].address +
                                   " failed: " + replies.error().ToString()));
    }
    for (size_t j = 0; j < per_node[n].size(); ++j) {
      const size_t i = per_node[n][j];
      std::string to = MovedAddress((*replies)[j]);
      if (!to.empty()) {
        moved.push_back(i);
        moved_to.push_back(to);
      }
      out[i] = std::move((*replies)[j]);
    }
  }
  // MOVED once: the command goes to the node named, and what it answers is the answer.
  for (size_t m = 0; m < moved.size(); ++m) {
    auto node = NodeAt(moved_to[m]);
    if (!node) return MakeError(node.error());
    auto reply = nodes_[*node].client->Call(commands[moved[m]]);
    if (!reply) {
      return MakeError(TargetError("the " + end_ + " node " + moved_to[m] +
                                   " failed: " + reply.error().ToString()));
    }
    out[moved[m]] = std::move(*reply);
  }
  return out;
}

Result<resp::Reply> RoutedTarget::CallSeed(const std::vector<std::string>& args) {
  return nodes_[0].client->Call(args);
}

}  // namespace kf::control
