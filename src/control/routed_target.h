// RoutedTarget: the target as the in-pause work (expiry reconciliation, stream group repair)
// writes to it — one server, or every primary of a cluster with each key's commands routed
// to the primary owning its slot (net::KeySlot). The same work reads the source through it
// too (Open with end "source"), so a cluster source's keys are read from their primaries.
//
// Inside the write pause the target's topology is stable (nothing reshards it while keyferry
// holds the application's writes), so the slot map is read once at Open(); a reply MOVED
// (an operator's resharding after all) is followed once, to the node it names, and a second
// redirection is returned as the error reply it is. ASK is not followed: a slot in
// migration is refused before apply starts (PREFLIGHT), so it means the operator started
// one during the migration, and the caller's error names the key and the reply.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/client.h"
#include "net/cluster_topology.h"
#include "net/uri.h"
#include "resp/reply.h"

namespace kf::control {

// The cluster `uri` belongs to, or nullopt for a standalone server. Which one is decided by
// INFO server (redis_mode / server_mode), so a standalone server is never sent a CLUSTER
// command: a source user that may run INFO but not CLUSTER still works as before. Errors
// name the node.
Result<std::optional<net::ClusterTopology>> ReadClusterIfAny(const net::Uri& uri);

class RoutedTarget {
 public:
  // Connects to `uri`, and when it is a cluster node, to every primary that serves slots.
  // Errors name the node and what failed; `end` ("target", "source") is the end they name.
  Result<void> Open(const net::Uri& uri, const std::string& client_name,
                    std::string end = "target");
  bool is_cluster() const { return cluster_; }
  // The seed node's address ("host:port"), for messages.
  std::string Describe() const;

  // SELECT db on a standalone server; a cluster has db 0 only (another db is an error).
  Result<void> Select(int db);
  // Sends `commands` (commands[i] is about the key keys[i]), pipelined per node, and returns
  // one reply per command in the same order. Error replies are replies, not errors; a broken
  // connection is an error naming the node.
  Result<std::vector<resp::Reply>> CallPipelined(
      const std::vector<std::string>& keys, const std::vector<std::vector<std::string>>& commands);
  // One command on the seed node (INFO, PUBLISH...).
  Result<resp::Reply> CallSeed(const std::vector<std::string>& args);

 private:
  struct Node {
    std::string address;  // host:port
    net::Uri uri;
    std::unique_ptr<net::Client> client;
  };
  Result<size_t> NodeAt(const std::string& address);  // connects one MOVED names

  std::string client_name_;
  std::string end_ = "target";
  bool cluster_ = false;
  net::Uri seed_;
  std::vector<Node> nodes_;  // nodes_[0] is the seed (standalone: the only one)
  std::vector<int> owner_;   // slot → index in nodes_ (cluster only)
};

}  // namespace kf::control
