// Checks of a target before anything is written to it (target_checks.h).
#include "sync/target_checks.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "net/server_info.h"
#include "sync/sync_errc.h"

namespace kf::sync {

Result<int> TargetRdbVersion(target::Writer& writer) {
  auto server = writer.Info("server");
  if (!server) return MakeError(server.error());
  int version = 11;
  for (const auto& node : *server) {
    int v = net::ServerRdbVersion(node.text);
    if (&node == &server->front() || v < version) version = v;
  }
  return version > 11 ? 11 : version;
}

Result<uint64_t> TargetKeyCount(target::Writer& writer) {
  auto keyspace = writer.Info("keyspace");
  if (!keyspace) return MakeError(keyspace.error());
  uint64_t keys = 0;
  for (const auto& node : *keyspace) keys += net::KeyspaceKeyCount(node.text);
  return keys;
}

Result<uint64_t> TargetFunctionLibraryCount(target::Writer& writer) {
  auto replies = writer.CallEveryPrimary({"FUNCTION", "LIST"});
  if (!replies) return MakeError(replies.error());
  uint64_t most = 0;
  for (const auto& node : *replies) most = std::max<uint64_t>(most, node.reply.size());
  return most;
}

Result<void> EmptyTarget(target::Writer& writer) {
  KF_RETURN_IF_ERROR(writer.FlushAll());
  auto flushed = writer.CallEveryPrimary({"FUNCTION", "FLUSH"});
  if (!flushed) return MakeError(flushed.error());
  return {};
}

Result<void> RefuseEvictingTarget(target::Writer& writer) {
  auto memory = writer.Info("memory");
  if (!memory) return MakeError(memory.error());
  for (const auto& node : *memory) {
    std::string policy = net::InfoField(node.text, "maxmemory_policy");
    std::string maxmemory = net::InfoField(node.text, "maxmemory");
    if (policy.empty() || policy == "noeviction" || maxmemory == "0" || maxmemory.empty()) {
      continue;
    }
    return MakeError(SyncErrc::kTargetDropped,
                     "the target " + node.endpoint + " has maxmemory " + maxmemory +
                         " with maxmemory-policy " + policy +
                         ": it would evict keys keyferry copies, silently losing them. Set "
                         "`CONFIG SET maxmemory-policy noeviction` on the target (or "
                         "maxmemory 0) for the migration, and run again");
  }
  return {};
}

int64_t TargetEvictedKeys(target::Writer& writer) {
  auto stats = writer.Info("stats");
  if (!stats) return -1;
  int64_t total = 0;
  for (const auto& node : *stats) {
    int64_t n = -1;
    std::string v = net::InfoField(node.text, "evicted_keys");
    std::from_chars(v.data(), v.data() + v.size(), n);
    if (n < 0) return -1;
    total += n;
  }
  return total;
}

}  // namespace kf::sync
