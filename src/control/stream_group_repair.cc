// Stream consumer-group repair inside the write pause (see stream_group_repair.h).
#include "control/stream_group_repair.h"

#include <charconv>
#include <sstream>

#include "control/control_errc.h"
#include "control/routed_target.h"
#include "net/client.h"
#include "net/cluster_probe.h"

namespace kf::control {
namespace {

constexpr size_t kBatchKeys = 200;

struct GroupState {
  std::string name;
  std::string last_id;
  int64_t entries_read = -1;  // -1: unknown (nil)
};

// The groups of one XINFO GROUPS reply (RESP2: an array of flat field/value arrays).
std::vector<GroupState> ParseGroups(const resp::Reply& reply) {
  std::vector<GroupState> groups;
  if (!reply.is_aggregate()) return groups;
  for (const resp::Reply& g : reply.children()) {
    GroupState state;
    for (size_t i = 0; i + 1 < g.size(); i += 2) {
      const std::string& field = g[i].str();
      const resp::Reply& value = g[i + 1];
      if (field == "name") state.name = value.str();
      if (field == "last-delivered-id") state.last_id = value.str();
      if (field == "entries-read" && value.type() == resp::ReplyType::kInteger) {
        state.entries_read = value.integer();
      }
    }
    if (!state.name.empty() && !state.last_id.empty()) groups.push_back(std::move(state));
  }
  return groups;
}

Error RepairError(const std::string& what) {
  return Error{make_error_code(ControlErrc::kPhaseFailed),
               "repairing stream consumer groups: " + what};
}

}  // namespace

Result<StreamGroupRepair> RepairStreamGroups(const net::Uri& source, const net::Uri& target,
                                             const std::map<int, std::vector<std::string>>& keys) {
  StreamGroupRepair out;
  if (keys.empty()) return out;
  RoutedTarget src;  // a cluster source: each stream read from its primary
  RoutedTarget dst;
  net::ClientOptions co;
  co.client_name = "keyferry-repair";
  if (auto c = src.Open(source, co.client_name, "source"); !c) {
    return MakeError(RepairError("cannot reach the source: " + c.error().ToString()));
  }
  if (auto c = dst.Open(target, co.client_name); !c) {
    return MakeError(RepairError("cannot reach the target: " + c.error().ToString()));
  }
  for (const auto& [db, names] : keys) {
    const std::string db_text = std::to_string(db);
    if (auto r = src.Select(db); !r) return MakeError(RepairError(r.error().ToString()));
    if (auto r = dst.Select(db); !r) return MakeError(RepairError(r.error().ToString()));
    for (size_t from = 0; from < names.size(); from += kBatchKeys) {
      const size_t to = std::min(names.size(), from + kBatchKeys);
      std::vector<std::vector<std::string>> reads;
      std::vector<std::string> read_keys(names.begin() + static_cast<std::ptrdiff_t>(from),
                                         names.begin() + static_cast<std::ptrdiff_t>(to));
      for (size_t i = from; i < to; ++i) reads.push_back({"XINFO", "GROUPS", names[i]});
      auto src_groups = src.CallPipelined(read_keys, reads);
      if (!src_groups) {
        return MakeError(
            RepairError("XINFO GROUPS on the source: " + src_groups.error().ToString()));
      }
      auto dst_groups = dst.CallPipelined(read_keys, reads);
      if (!dst_groups) {
        return MakeError(
            RepairError("XINFO GROUPS on the target: " + dst_groups.error().ToString()));
      }
      std::vector<std::vector<std::string>> writes;
      std::vector<std::string> write_keys;
      std::vector<std::string> described;
      for (size_t i = from; i < to; ++i) {
        const resp::Reply& s = (*src_groups)[i - from];
        const resp::Reply& t = (*dst_groups)[i - from];
        if (s.is_error() || t.is_error()) continue;  // not a stream on one end: verify says so
        ++out.streams_read;
        std::map<std::string, GroupState> on_target;
        for (auto& g : ParseGroups(t)) on_target.emplace(g.name, g);
        for (const GroupState& g : ParseGroups(s)) {
          auto it = on_target.find(g.name);
          if (it == on_target.end()) continue;  // a missing group: verify reports it
          if (it->second.last_id != g.last_id || it->second.entries_read != g.entries_read) {
            ++out.groups_changed;
          }
          writes.push_back({"XGROUP", "SETID", names[i], g.name, g.last_id, "ENTRIESREAD",
                            std::to_string(g.entries_read)});
          write_keys.push_back(names[i]);
          described.push_back(names[i] + " group " + g.name);
        }
      }
      if (writes.empty()) continue;
      auto set = dst.CallPipelined(write_keys, writes);
      if (!set)
        return MakeError(RepairError("XGROUP SETID on the target: " + set.error().ToString()));
      for (size_t w = 0; w < set->size(); ++w) {
        if (!(*set)[w].IsOk()) {
          return MakeError(RepairError("the target refused XGROUP SETID for stream " +
                                       described[w] + " (db " + db_text + "): " + (*set)[w].str()));
        }
        ++out.groups_set;
      }
    }
  }
  return out;
}

namespace {

// SourceStreamKeys on one server, added to `out`.
Result<void> StreamKeysOfNode(const net::Uri& source,
                              std::map<int, std::vector<std::string>>& out) {
  net::Client src;
  net::ClientOptions co;
  co.client_name = "keyferry-repair";
  if (auto c = src.Connect(source, co); !c) {
    return MakeError(RepairError("cannot reach the source: " + c.error().ToString()));
  }
  auto keyspace = src.Call({"INFO", "keyspace"});
  if (!keyspace || keyspace->is_error()) return MakeError(RepairError("INFO keyspace failed"));
  std::vector<int> dbs;
  std::istringstream lines(keyspace->str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("db", 0) != 0) continue;
    int db = -1;
    auto [p, ec] = std::from_chars(line.data() + 2, line.data() + line.size(), db);
    if (ec == std::errc() && db >= 0) dbs.push_back(db);
  }
  for (int db : dbs) {
    auto selected = src.Call({"SELECT", std::to_string(db)});
    if (!selected || selected->is_error()) return MakeError(RepairError("SELECT failed"));
    std::string cursor = "0";
    do {
      auto page = src.Call({"SCAN", cursor, "COUNT", "1000", "TYPE", "stream"});
      if (!page || page->is_error() || page->size() != 2) {
        return MakeError(RepairError("SCAN ... TYPE stream on the source failed" +
                                     (page && page->is_error() ? ": " + page->str() : "")));
      }
      cursor = (*page)[0].str();
      for (const resp::Reply& k : (*page)[1].children()) out[db].push_back(k.str());
    } while (cursor != "0");
  }
  return {};
}

}  // namespace

Result<std::map<int, std::vector<std::string>>> SourceStreamKeys(const net::Uri& source) {
  auto topology = ReadClusterIfAny(source);
  if (!topology) {
    return MakeError(RepairError("reading the source " + source.Endpoint() +
                                 " failed: " + topology.error().ToString()));
  }
  std::map<int, std::vector<std::string>> out;
  if (!*topology) {
    KF_RETURN_IF_ERROR(StreamKeysOfNode(source, out));
    return out;
  }
  // A cluster source: each primary holds the streams of its own slots.
  for (const auto& shard : (*topology)->shards) {
    if (shard.slots.empty()) continue;
    KF_RETURN_IF_ERROR(StreamKeysOfNode(net::NodeUri(source, shard.primary), out));
  }
  return out;
}

}  // namespace kf::control
