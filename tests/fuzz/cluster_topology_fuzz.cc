// libFuzzer target for the cluster topology parsers (net/cluster_topology.h), which read
// what a server says about its cluster: the input is given to ParseClusterNodes as CLUSTER
// NODES text, to ParseOwnSlotMigrations, and (when it parses as one RESP reply) to
// ParseClusterShards. None may crash, hang or allocate by a claimed size; a topology they
// accept must hold its own promises: slot ranges inside 0..16383, no slot served by two
// shards, ShardOfSlot agreeing with the ranges, UnassignedSlots covering exactly the rest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "net/cluster_slots.h"
#include "net/cluster_topology.h"
#include "resp/reply_parser.h"

namespace {

void CheckTopology(const kf::net::ClusterTopology& t) {
  std::vector<int> owner(kf::net::kClusterSlotCount, -1);
  for (size_t i = 0; i < t.shards.size(); ++i) {
    for (const auto& range : t.shards[i].slots) {
      if (range.first < 0 || range.last >= kf::net::kClusterSlotCount || range.first > range.last) {
        std::abort();
      }
      for (int slot = range.first; slot <= range.last; ++slot) {
        if (owner[static_cast<size_t>(slot)] != -1) std::abort();  // two shards serve it
        owner[static_cast<size_t>(slot)] = static_cast<int>(i);
      }
    }
  }
  int unassigned = 0;
  for (int slot = 0; slot < kf::net::kClusterSlotCount; ++slot) {
    const auto* shard = t.ShardOfSlot(slot);
    const int expected = owner[static_cast<size_t>(slot)];
    if ((shard == nullptr) != (expected == -1)) std::abort();
    if (shard != nullptr && shard != &t.shards[static_cast<size_t>(expected)]) std::abort();
    if (expected == -1) ++unassigned;
  }
  int listed = 0;
  for (const auto& range : t.UnassignedSlots()) listed += range.size();
  if (listed != unassigned) std::abort();
  (void)t.Describe();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto nodes = kf::net::ParseClusterNodes(text)) CheckTopology(*nodes);
  (void)kf::net::ParseOwnSlotMigrations(text);

  kf::resp::Limits limits;
  limits.max_bulk_len = 1 << 16;
  limits.max_aggregate_len = 1 << 12;
  limits.max_depth = 8;
  kf::resp::ReplyParser parser(limits);
  auto out = parser.Feed(kf::ByteView(data, size));
  if (out.complete()) {
    if (auto shards = kf::net::ParseClusterShards(parser.TakeReply())) CheckTopology(*shards);
  }
  return 0;
}
