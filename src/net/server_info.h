// Reading what a server says about itself: fields of INFO text, which engine and version
// it is and its run id (identity), and the RDB version a server of that engine and version
// reads and writes (DESIGN.md §4). Pure functions of the text: no IO.
#pragma once

#include <string>
#include <string_view>

namespace kf::net {

// The value of `field` in INFO text ("role" → "master"), or "" when absent.
std::string InfoField(std::string_view info, std::string_view field);

// The key count of every db together, from an INFO keyspace text ("db0:keys=12,expires=...").
uint64_t KeyspaceKeyCount(std::string_view keyspace_info);

// The RDB version of the server whose INFO server text is given: Valkey 7.2–8.x 11,
// Valkey 9+ 80; Redis 6.x and older 9, 7.0 10, 7.2 11, 7.4–8.4 12, 8.6 13, newer 14.
int ServerRdbVersion(std::string_view info_server);

// What a server says it is in its INFO server text.
struct ServerIdentity {
  std::string engine;   // "valkey" (server_name:valkey or a valkey_version field), else "redis"
  std::string version;  // valkey_version for Valkey, redis_version otherwise; "" when absent
  std::string run_id;   // random per server start; "" when absent
  // server_mode (Valkey 8+), else redis_mode: "standalone", "cluster" or "sentinel"; ""
  // when absent.
  std::string mode;
  bool cluster() const { return mode == "cluster"; }
};
ServerIdentity ParseServerIdentity(std::string_view info_server);

// Whether two INFO server texts come from one running server: their run_ids are equal (and
// not empty). Two URIs that spell one server differently (localhost and 127.0.0.1, a
// hostname and its address) are caught this way; two servers never share a run_id.
bool SameServer(const ServerIdentity& a, const ServerIdentity& b);

}  // namespace kf::net
