// Error codes of reading a Redis/Valkey Cluster's topology: replies of CLUSTER SHARDS /
// CLUSTER NODES that do not make sense, and CLUSTER commands a server refuses. Connection
// failures keep their NetErrc code (with a message that names the node).
#pragma once

#include <system_error>

namespace kf::net {

enum class ClusterErrc {
  kBadReply = 1,    // a CLUSTER SHARDS / CLUSTER NODES reply that does not parse or contradicts
                    // itself (two owners of a slot, a replica of an unknown primary, ...)
  kCommandRefused,  // the server answered CLUSTER INFO / SHARDS / NODES with an error
};

const std::error_category& ClusterCategory();

inline std::error_code make_error_code(ClusterErrc e) {
  return {static_cast<int>(e), ClusterCategory()};
}

}  // namespace kf::net

template <>
struct std::is_error_code_enum<kf::net::ClusterErrc> : std::true_type {};
