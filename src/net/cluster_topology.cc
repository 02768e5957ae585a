// Parsing CLUSTER SHARDS replies and CLUSTER NODES text into a ClusterTopology, and the
// checks that make the result trustworthy (every slot in range and owned once, every
// replica attached to a listed primary).
#include "net/cluster_topology.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

#include "net/cluster_errc.h"
#include "net/cluster_slots.h"

namespace kf::net {
namespace {

constexpr size_t kNodeIdLength = 40;
// Longest excerpt of offending input quoted in an error.
constexpr size_t kQuoteLength = 80;

Unexpected BadReply(std::string message) {
  return MakeError(ClusterErrc::kBadReply, std::move(message));
}

// The text quoted in an error: cut, and with control bytes escaped so a garbage reply
// cannot garble a terminal.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kQuoteLength; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (text.size() > kQuoteLength) out += "...";
  out += "\"";
  return out;
}

bool IsNodeId(std::string_view id) {
  if (id.size() != kNodeIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// A decimal integer that fills all of `text`.
std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int> ParsePort(std::string_view text) {
  auto v = ParseInt(text);
  if (!v || *v < 0 || *v > 65535) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<int> ParseSlot(std::string_view text) {
  auto v = ParseInt(text);
  if (!v || *v < 0 || *v >= kClusterSlotCount) return std::nullopt;
  return static_cast<int>(*v);
}

std::vector<std::string_view> Split(std::string_view text, char sep, bool skip_empty) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  for (;;) {
    size_t end = text.find(sep, pos);
    std::string_view part = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (!skip_empty || !part.empty()) parts.push_back(part);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return parts;
}

std::string AddressOf(std::string_view host, int port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[" + std::string(host) + "]";
  } else {
    out = std::string(host);
  }
  return out + ":" + std::to_string(port);
}

// Sorts and merges adjacent or overlapping ranges of one shard.
std::vector<SlotRange> MergeRanges(std::vector<SlotRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const SlotRange& a, const SlotRange& b) { return a.first < b.first; });
  std::vector<SlotRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::string ShardName(const ClusterShard& shard) {
  return "shard of primary " + shard.primary.id + " (" + shard.primary.Address() + ")";
}

// Sorts shards, replicas and migrations, merges slot ranges, and refuses a slot claimed by
// two shards (within one reply a slot has exactly one owner).
Result<ClusterTopology> Finish(ClusterTopology topology) {
  for (auto& shard : topology.shards) {
    shard.slots = MergeRanges(std::move(shard.slots));
    std::sort(shard.replicas.begin(), shard.replicas.end(),
              [](const ClusterNode& a, const ClusterNode& b) { return a.id < b.id; });
  }
  std::vector<int> owner(kClusterSlotCount, -1);
  for (size_t i = 0; i < topology.shards.size(); ++i) {
    for (const auto& range : topology.shards[i].slots) {
      for (int slot = range.first; slot <= range.last; ++slot) {
        int previous = owner[static_cast<size_t>(slot)];
        if (previous >= 0 && static_cast<size_t>(previous) != i) {
          return BadReply(std::string(topology.source == TopologySource::kClusterShards
                                          ? "CLUSTER SHARDS: "
                                          : "CLUSTER NODES: ") +
                          "slot " + std::to_string(slot) + " is claimed by two shards: the " +
                          ShardName(topology.shards[static_cast<size_t>(previous)]) + " and the " +
                          ShardName(topology.shards[i]) +
                          "; the cluster's configuration is inconsistent (run CLUSTER NODES on "
                          "each node and fix the slot owners) or the reply is corrupt");
        }
        owner[static_cast<size_t>(slot)] = static_cast<int>(i);
      }
    }
  }
  std::stable_sort(topology.shards.begin(), topology.shards.end(),
                   [](const ClusterShard& a, const ClusterShard& b) {
                     if (a.slots.empty() != b.slots.empty()) return !a.slots.empty();
                     if (!a.slots.empty()) return a.slots.front().first < b.slots.front().first;
                     return a.primary.id < b.primary.id;
                   });
  std::sort(topology.migrations.begin(), topology.migrations.end(),
            [](const SlotMigration& a, const SlotMigration& b) {
              return std::tie(a.slot, a.node_id, a.state) < std::tie(b.slot, b.node_id, b.state);
            });
  return topology;
}

// ---- CLUSTER SHARDS ----

// The key/value pairs of a RESP3 map or a RESP2 flat array, keys as text.
Result<std::vector<std::pair<std::string, const resp::Reply*>>> PairsOf(const resp::Reply& reply,
                                                                        const std::string& what) {
  if (reply.type() != resp::ReplyType::kMap && reply.type() != resp::ReplyType::kArray) {
    return BadReply("CLUSTER SHARDS: " + what + " has type " + resp::ReplyTypeName(reply.type()) +
                    " (" + reply.ToString(kQuoteLength) + "), expected a map of fields");
  }
  if (reply.size() % 2 != 0) {
    return BadReply("CLUSTER SHARDS: " + what + " has an odd number of elements (" +
                    std::to_string(reply.size()) + "), expected field/value pairs");
  }
  std::vector<std::pair<std::string, const resp::Reply*>> pairs;
  for (size_t i = 0; i + 1 < reply.size(); i += 2) {
    const auto& key = reply[i];
    if (!key.is_string() || key.is_error()) {
      return BadReply("CLUSTER SHARDS: " + what + " has a field name of type " +
                      resp::ReplyTypeName(key.type()) + " (" + key.ToString(kQuoteLength) + ")");
    }
    pairs.emplace_back(key.str(), &reply[i + 1]);
  }
  return pairs;
}

Result<int64_t> IntegerField(const resp::Reply& value, const std::string& what) {
  if (value.type() == resp::ReplyType::kInteger) return value.integer();
  if (value.is_string() && !value.is_error()) {
    if (auto v = ParseInt(value.str())) return *v;
  }
  return BadReply("CLUSTER SHARDS: " + what + " is " + value.ToString(kQuoteLength) +
                  ", expected an integer");
}

Result<std::string> TextField(const resp::Reply& value, const std::string& what) {
  if (value.is_null()) return std::string();
  if (value.is_string() && !value.is_error()) return value.str();
  return BadReply("CLUSTER SHARDS: " + what + " has type " + resp::ReplyTypeName(value.type()) +
                  " (" + value.ToString(kQuoteLength) + "), expected a string");
}

NodeHealth ShardsHealth(std::string_view word) {
  if (word == "online") return NodeHealth::kOnline;
  if (word == "loading") return NodeHealth::kLoading;
  if (word == "fail" || word == "failed") return NodeHealth::kFailed;
  return NodeHealth::kUnknown;
}

Result<ClusterNode> ShardsNode(const resp::Reply& reply, const std::string& where) {
  auto pairs = PairsOf(reply, where);
  if (!pairs) return MakeError(std::move(pairs).error());
  ClusterNode node;
  bool has_port = false, has_tls_port = false, has_role = false, has_id = false;
  for (const auto& [key, value] : *pairs) {
    const std::string what = where + " field \"" + key + "\"";
    if (key == "id") {
      auto id = TextField(*value, what);
      if (!id) return MakeError(std::move(id).error());
      if (!IsNodeId(*id)) {
        return BadReply("CLUSTER SHARDS: " + what + " is " + Quote(*id) +
                        ", expected a node id of 40 hex digits");
      }
      node.id = *id;
      has_id = true;
    } else if (key == "port" || key == "tls-port") {
      auto port = IntegerField(*value, what);
      if (!port) return MakeError(std::move(port).error());
      if (*port < 0 || *port > 65535) {
        return BadReply("CLUSTER SHARDS: " + what + " is " + std::to_string(*port) +
                        ", outside 0..65535");
      }
      (key == "port" ? node.port : node.tls_port) = static_cast<int>(*port);
      (key == "port" ? has_port : has_tls_port) = true;
    } else if (key == "ip" || key == "endpoint" || key == "hostname") {
      auto text = TextField(*value, what);
      if (!text) return MakeError(std::move(text).error());
      (key == "ip" ? node.ip : key == "endpoint" ? node.endpoint : node.hostname) = *text;
    } else if (key == "role") {
      auto role = TextField(*value, what);
      if (!role) return MakeError(std::move(role).error());
      if (*role != "master" && *role != "primary" && *role != "replica") {
        return BadReply("CLUSTER SHARDS: " + what + " is " + Quote(*role) +
                        ", expected \"master\" or \"replica\"");
      }
      node.primary = *role != "replica";
      has_role = true;
    } else if (key == "replication-offset") {
      auto offset = IntegerField(*value, what);
      if (!offset) return MakeError(std::move(offset).error());
      node.replication_offset = *offset;
    } else if (key == "health") {
      auto health = TextField(*value, what);
      if (!health) return MakeError(std::move(health).error());
      node.health = ShardsHealth(*health);
    }
  }
  if (!has_id) return BadReply("CLUSTER SHARDS: " + where + " has no \"id\"");
  if (!has_role) return BadReply("CLUSTER SHARDS: " + where + " (" + node.id + ") has no \"role\"");
  if (!has_port && !has_tls_port) {
    return BadReply("CLUSTER SHARDS: " + where + " (" + node.id + ") has neither \"port\" nor " +
                    "\"tls-port\"");
  }
  // A TLS-only node reports its TLS port as "tls-port" and no "port".
  return node;
}

Result<std::vector<SlotRange>> ShardsSlots(const resp::Reply& value, const std::string& where) {
  if (value.type() != resp::ReplyType::kArray && value.type() != resp::ReplyType::kSet) {
    return BadReply("CLUSTER SHARDS: " + where + " \"slots\" has type " +
                    resp::ReplyTypeName(value.type()) + ", expected an array of start/end pairs");
  }
  if (value.size() % 2 != 0) {
    return BadReply("CLUSTER SHARDS: " + where + " \"slots\" has an odd number of elements (" +
                    std::to_string(value.size()) + "), expected start/end pairs");
  }
  std::vector<SlotRange> ranges;
  for (size_t i = 0; i + 1 < value.size(); i += 2) {
    const std::string what = where + " slot range " + std::to_string(i / 2);
    auto first = IntegerField(value[i], what + " start");
    if (!first) return MakeError(std::move(first).error());
    auto last = IntegerField(value[i + 1], what + " end");
    if (!last) return MakeError(std::move(last).error());
    if (*first < 0 || *last >= kClusterSlotCount || *first > *last) {
      return BadReply("CLUSTER SHARDS: " + what + " is " + std::to_string(*first) + "-" +
                      std::to_string(*last) + ", expected 0 <= start <= end <= 16383");
    }
    ranges.push_back({static_cast<int>(*first), static_cast<int>(*last)});
  }
  return ranges;
}

// ---- CLUSTER NODES ----

NodeHealth NodesHealth(const std::vector<std::string_view>& flags) {
  bool failed = false, suspected = false;
  for (auto f : flags) {
    if (f == "fail" || f == "noaddr") failed = true;
    if (f == "fail?") suspected = true;
  }
  if (failed) return NodeHealth::kFailed;
  if (suspected) return NodeHealth::kSuspected;
  return NodeHealth::kOnline;
}

struct NodesLine {
  ClusterNode node;
  std::vector<SlotRange> slots;
  std::vector<SlotMigration> migrations;
  bool handshake = false;
};

// "[<slot>->-<id>]" or "[<slot>-<-<id>]", brackets already checked.
Result<SlotMigration> NodesMigration(std::string_view token, const std::string& where) {
  std::string_view inner = token.substr(1, token.size() - 2);
  SlotMigration m;
  size_t arrow = inner.find("->-");
  size_t back = inner.find("-<-");
  size_t pos;
  if (arrow != std::string_view::npos) {
    m.state = SlotMigrationState::kMigrating;
    pos = arrow;
  } else if (back != std::string_view::npos) {
    m.state = SlotMigrationState::kImporting;
    pos = back;
  } else {
    return BadReply("CLUSTER NODES: " + where + " has the slot token " + Quote(token) +
                    ", expected [<slot>->-<id>] or [<slot>-<-<id>]");
  }
  auto slot = ParseSlot(inner.substr(0, pos));
  std::string_view peer = inner.substr(pos + 3);
  if (!slot || !IsNodeId(peer)) {
    return BadReply("CLUSTER NODES: " + where + " has the slot token " + Quote(token) +
                    ", expected a slot in 0..16383 and a node id of 40 hex digits");
  }
  m.slot = *slot;
  m.peer_id = std::string(peer);
  return m;
}

Result<NodesLine> ParseNodesLine(std::string_view line, size_t line_number) {
  const std::string where = "line " + std::to_string(line_number);
  auto fields = Split(line, ' ', /*skip_empty=*/true);
  if (fields.size() < 8) {
    return BadReply("CLUSTER NODES: " + where + " has " + std::to_string(fields.size()) +
                    " fields, expected at least 8 (id address flags primary ping pong epoch "
                    "link): " +
                    Quote(line));
  }
  NodesLine out;
  ClusterNode& node = out.node;
  if (!IsNodeId(fields[0])) {
    return BadReply("CLUSTER NODES: " + where + " starts with " + Quote(fields[0]) +
                    ", expected a node id of 40 hex digits");
  }
  node.id = std::string(fields[0]);
  const std::string who = where + " (node " + node.id + ")";

  // <ip>:<port>@<bus-port>[,<hostname>[,<aux>=<value>...]]
  auto address_parts = Split(fields[1], ',', /*skip_empty=*/false);
  std::string_view address = address_parts[0];
  if (address_parts.size() > 1 && address_parts[1].find('=') == std::string_view::npos) {
    node.hostname = std::string(address_parts[1]);
  }
  address = address.substr(0, address.find('@'));
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return BadReply("CLUSTER NODES: " + who + " has the address " + Quote(fields[1]) +
                    ", expected <ip>:<port>@<bus-port>");
  }
  std::string_view ip = address.substr(0, colon);
  // Servers print IPv6 addresses bare ("::1:7000@17000"); accept them bracketed too.
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  node.ip = std::string(ip);
  auto port = ParsePort(address.substr(colon + 1));
  if (!port) {
    return BadReply("CLUSTER NODES: " + who + " has the address " + Quote(fields[1]) +
                    ", whose port is not a number in 0..65535");
  }
  node.port = *port;

  auto flags = Split(fields[2], ',', /*skip_empty=*/true);
  bool is_master = false, is_replica = false;
  for (auto f : flags) {
    if (f == "master") is_master = true;
    if (f == "slave") is_replica = true;
    if (f == "myself") node.myself = true;
    if (f == "handshake") out.handshake = true;
  }
  if (out.handshake) return out;  // not a member yet: the caller skips it
  if (is_master == is_replica) {
    return BadReply("CLUSTER NODES: " + who + " has the flags " + Quote(fields[2]) +
                    ", expected exactly one of master and slave");
  }
  node.primary = is_master;
  node.health = NodesHealth(flags);
  if (is_replica) {
    if (!IsNodeId(fields[3])) {
      return BadReply("CLUSTER NODES: " + who + " is a replica whose primary is " +
                      Quote(fields[3]) + ", expected a node id of 40 hex digits");
    }
    node.primary_id = std::string(fields[3]);
  }
  for (size_t i = 4; i <= 6; ++i) {
    auto v = ParseInt(fields[i]);
    if (!v || *v < 0) {
      static const char* kNames[] = {"ping-sent", "pong-recv", "config-epoch"};
      return BadReply("CLUSTER NODES: " + who + " has " + kNames[i - 4] + " " + Quote(fields[i]) +
                      ", expected a non-negative integer");
    }
  }
  if (fields[7] != "connected" && fields[7] != "disconnected") {
    return BadReply("CLUSTER NODES: " + who + " has the link state " + Quote(fields[7]) +
                    ", expected connected or disconnected");
  }
  for (size_t i = 8; i < fields.size(); ++i) {
    std::string_view token = fields[i];
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      auto m = NodesMigration(token, who);
      if (!m) return MakeError(std::move(m).error());
      m->node_id = node.id;
      out.migrations.push_back(std::move(*m));
      continue;
    }
    size_t dash = token.find('-');
    auto first = ParseSlot(token.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : ParseSlot(token.substr(dash + 1));
    if (!first || !last || *first > *last) {
      return BadReply("CLUSTER NODES: " + who + " has the slot token " + Quote(token) +
                      ", expected <slot> or <first>-<last> within 0..16383");
    }
    out.slots.push_back({*first, *last});
  }
  if (!node.primary && !out.slots.empty()) {
    return BadReply("CLUSTER NODES: " + who + " is a replica but lists slots " +
                    SlotRangesToString(out.slots) + "; only primaries own slots");
  }
  return out;
}

}  // namespace

std::string SlotRangesToString(const std::vector<SlotRange>& ranges) {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ",";
    out += std::to_string(r.first);
    if (r.last != r.first) out += "-" + std::to_string(r.last);
  }
  return out;
}

const char* NodeHealthName(NodeHealth health) {
  switch (health) {
    case NodeHealth::kOnline:
      return "online";
    case NodeHealth::kLoading:
      return "loading";
    case NodeHealth::kSuspected:
      return "fail?";
    case NodeHealth::kFailed:
      return "failed";
    case NodeHealth::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string ClusterNode::Address() const {
  std::string_view host = !ip.empty() ? ip : !endpoint.empty() ? endpoint : hostname;
  return AddressOf(host, port != 0 ? port : tls_port);
}

int ClusterShard::SlotCount() const {
  int n = 0;
  for (const auto& r : slots) n += r.size();
  return n;
}

bool ClusterShard::Owns(int slot) const {
  return std::any_of(slots.begin(), slots.end(),
                     [slot](const SlotRange& r) { return r.Contains(slot); });
}

std::string DescribeSlotMigration(const SlotMigration& m) {
  if (m.state == SlotMigrationState::kMigrating) {
    return "slot " + std::to_string(m.slot) + " migrating from " + m.node_id + " to " + m.peer_id;
  }
  return "slot " + std::to_string(m.slot) + " importing into " + m.node_id + " from " + m.peer_id;
}

const ClusterShard* ClusterTopology::ShardOfSlot(int slot) const {
  for (const auto& shard : shards) {
    if (shard.Owns(slot)) return &shard;
  }
  return nullptr;
}

std::vector<SlotRange> ClusterTopology::UnassignedSlots() const {
  std::vector<SlotRange> owned;
  for (const auto& shard : shards)
    owned.insert(owned.end(), shard.slots.begin(), shard.slots.end());
  owned = MergeRanges(std::move(owned));
  std::vector<SlotRange> gaps;
  int next = 0;
  for (const auto& r : owned) {
    if (r.first > next) gaps.push_back({next, r.first - 1});
    next = std::max(next, r.last + 1);
  }
  if (next < kClusterSlotCount) gaps.push_back({next, kClusterSlotCount - 1});
  return gaps;
}

size_t ClusterTopology::ServingShardCount() const {
  return static_cast<size_t>(std::count_if(shards.begin(), shards.end(),
                                           [](const ClusterShard& s) { return !s.slots.empty(); }));
}

std::string ClusterTopology::Describe() const {
  auto node_text = [](const ClusterNode& n) {
    return n.id + " " + n.Address() + " (" + NodeHealthName(n.health) + ")";
  };
  std::string out;
  for (const auto& shard : shards) {
    out += "shard " +
           (shard.slots.empty() ? std::string("(no slots)") : SlotRangesToString(shard.slots));
    out += ": primary " + node_text(shard.primary);
    if (!shard.replicas.empty()) {
      out += ", replicas";
      for (size_t i = 0; i < shard.replicas.size(); ++i) {
        out += (i == 0 ? " " : ", ") + node_text(shard.replicas[i]);
      }
    }
    out += "\n";
  }
  for (const auto& m : migrations) out += DescribeSlotMigration(m) + "\n";
  return out;
}

Result<ClusterTopology> ParseClusterShards(const resp::Reply& reply) {
  if (reply.is_error()) {
    return BadReply("CLUSTER SHARDS answered with an error: " + reply.ToString(kQuoteLength));
  }
  if (reply.type() != resp::ReplyType::kArray && reply.type() != resp::ReplyType::kSet) {
    return BadReply(std::string("CLUSTER SHARDS: the reply has type ") +
                    resp::ReplyTypeName(reply.type()) + " (" + reply.ToString(kQuoteLength) +
                    "), expected an array of shards");
  }
  ClusterTopology topology;
  topology.source = TopologySource::kClusterShards;
  for (size_t i = 0; i < reply.size(); ++i) {
    const std::string where = "shard " + std::to_string(i);
    auto pairs = PairsOf(reply[i], where);
    if (!pairs) return MakeError(std::move(pairs).error());
    const resp::Reply* slots = nullptr;
    const resp::Reply* nodes = nullptr;
    for (const auto& [key, value] : *pairs) {
      if (key == "slots") slots = value;
      if (key == "nodes") nodes = value;
    }
    if (slots == nullptr || nodes == nullptr) {
      return BadReply("CLUSTER SHARDS: " + where + " has no \"" +
                      (slots == nullptr ? "slots" : "nodes") + "\" field");
    }
    auto ranges = ShardsSlots(*slots, where);
    if (!ranges) return MakeError(std::move(ranges).error());
    if (nodes->type() != resp::ReplyType::kArray && nodes->type() != resp::ReplyType::kSet) {
      return BadReply("CLUSTER SHARDS: " + where + " \"nodes\" has type " +
                      resp::ReplyTypeName(nodes->type()) + ", expected an array of nodes");
    }
    ClusterShard shard;
    shard.slots = std::move(*ranges);
    std::vector<ClusterNode> primaries;
    for (size_t j = 0; j < nodes->size(); ++j) {
      auto node = ShardsNode((*nodes)[j], where + " node " + std::to_string(j));
      if (!node) return MakeError(std::move(node).error());
      (node->primary ? primaries : shard.replicas).push_back(std::move(*node));
    }
    // Valkey groups nodes by shard id, so after a failover the shard lists its new primary
    // and the failed old one, both with role master. The one that is not failed serves the
    // slots; a failed former primary becomes a shard without slots, as Redis and CLUSTER
    // NODES show it.
    auto serving = std::stable_partition(primaries.begin(), primaries.end(), [](const auto& n) {
      return n.health != NodeHealth::kFailed;
    });
    size_t serving_count = static_cast<size_t>(serving - primaries.begin());
    if (serving_count > 1) {
      return BadReply("CLUSTER SHARDS: " + where + " lists two primaries that are not failed, " +
                      primaries[0].id + " and " + primaries[1].id +
                      "; the cluster is failing over — wait for cluster_state:ok and read it "
                      "again");
    }
    if (primaries.empty()) {
      if (shard.slots.empty()) continue;  // replicas of a primary that is gone: nothing served
      return BadReply("CLUSTER SHARDS: " + where + " owns slots " +
                      SlotRangesToString(shard.slots) +
                      " but lists no primary; the cluster is failing over or broken — wait for "
                      "cluster_state:ok and read it again");
    }
    // With no serving primary, the first failed one stays the shard's (failed) primary.
    shard.primary = std::move(primaries[0]);
    for (size_t j = 1; j < primaries.size(); ++j) {
      ClusterShard former;
      former.primary = std::move(primaries[j]);
      topology.shards.push_back(std::move(former));
    }
    for (auto& r : shard.replicas) r.primary_id = shard.primary.id;
    topology.shards.push_back(std::move(shard));
  }
  return Finish(std::move(topology));
}

// Every non-empty line of CLUSTER NODES text, parsed and checked (handshake nodes too).
Result<std::vector<NodesLine>> ParseNodesLines(std::string_view text) {
  std::vector<NodesLine> lines;
  size_t line_number = 0;
  for (std::string_view line : Split(text, '\n', /*skip_empty=*/false)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto parsed = ParseNodesLine(line, line_number);
    if (!parsed) return MakeError(std::move(parsed).error());
    lines.push_back(std::move(*parsed));
  }
  return lines;
}

Result<ClusterTopology> ParseClusterNodes(std::string_view text) {
  ClusterTopology topology;
  topology.source = TopologySource::kClusterNodes;
  auto parsed = ParseNodesLines(text);
  if (!parsed) return MakeError(std::move(parsed).error());
  std::vector<NodesLine> lines;
  for (auto& line : *parsed) {
    if (!line.handshake) lines.push_back(std::move(line));
  }
  if (lines.empty()) {
    return BadReply("CLUSTER NODES: the reply lists no node (" + Quote(text) + ")");
  }
  std::map<std::string, size_t> shard_of_primary;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    const ClusterNode& node = lines[i].node;
    if (!seen.emplace(node.id, i).second) {
      return BadReply("CLUSTER NODES: node " + node.id + " is listed twice");
    }
    if (!node.primary) continue;
    ClusterShard shard;
    shard.primary = node;
    shard.slots = lines[i].slots;
    shard_of_primary[node.id] = topology.shards.size();
    topology.shards.push_back(std::move(shard));
  }
  for (auto& line : lines) {
    topology.migrations.insert(topology.migrations.end(), line.migrations.begin(),
                               line.migrations.end());
    if (line.node.primary) continue;
    auto it = shard_of_primary.find(line.node.primary_id);
    if (it == shard_of_primary.end()) {
      bool listed = seen.count(line.node.primary_id) > 0;
      return BadReply("CLUSTER NODES: replica " + line.node.id + " (" + line.node.Address() +
                      ") follows " + line.node.primary_id +
                      (listed ? ", which is itself a replica" : ", which is not listed") +
                      "; the cluster is failing over or reconfiguring — wait for "
                      "cluster_state:ok and read it again");
    }
    topology.shards[it->second].replicas.push_back(line.node);
  }
  return Finish(std::move(topology));
}

Result<std::vector<SlotMigration>> ParseOwnSlotMigrations(std::string_view text) {
  auto lines = ParseNodesLines(text);
  if (!lines) return MakeError(std::move(lines).error());
  for (auto& line : *lines) {
    if (line.node.myself) {
      std::sort(line.migrations.begin(), line.migrations.end(),
                [](const SlotMigration& a, const SlotMigration& b) { return a.slot < b.slot; });
      return std::move(line.migrations);
    }
  }
  return BadReply("CLUSTER NODES: no line is flagged myself (" + Quote(text) + ")");
}

}  // namespace kf::net
