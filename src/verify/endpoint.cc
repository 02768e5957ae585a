// One end of a verify: connection, messages, rate limit (see endpoint.h).
#include "verify/endpoint.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/bytes.h"
#include "net/cluster_probe.h"
#include "net/cluster_slots.h"
#include "net/errc.h"
#include "resp/encoder.h"
#include "verify/verify_errc.h"

namespace kf::verify {
namespace {

// Whether two primaries answered the same, the order of a top-level list aside: FUNCTION
// LIST lists libraries in the order of the server's dict, which a per-process hash seed
// shuffles, so two primaries holding the same libraries list them in different orders.
bool SameUpToOrder(const resp::Reply& a, const resp::Reply& b) {
  if (a == b) return true;
  if (a.type() != resp::ReplyType::kArray || b.type() != resp::ReplyType::kArray ||
      a.children().size() != b.children().size()) {
    return false;
  }
  std::vector<bool> used(b.children().size(), false);
  for (const auto& x : a.children()) {
    bool found = false;
    for (size_t i = 0; i < used.size() && !found; ++i) {
      if (!used[i] && x == b.children()[i]) used[i] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

std::string InfoLine(const std::string& info, std::string_view field) {
  std::string needle = std::string(field) + ":";
  size_t pos = 0;
  while ((pos = info.find(needle, pos)) != std::string::npos) {
    if (pos == 0 || info[pos - 1] == '\n') {
      size_t start = pos + needle.size();
      size_t end = info.find_first_of("\r\n", start);
      return info.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    pos += needle.size();
  }
  return "";
}

std::string Upper(std::string_view word) {
  std::string out(word);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Sums "keys=" and "expires=" of every "db0:" line of INFO keyspace replies.
void AddKeyspace(const std::string& info, int64_t* keys, int64_t* expires) {
  const std::string line = InfoLine(info, "db0");
  for (auto [name, total] : {std::pair<std::string_view, int64_t*>{"keys=", keys},
                             std::pair<std::string_view, int64_t*>{"expires=", expires}}) {
    size_t at = line.find(name);
    if (at == std::string::npos) continue;
    int64_t v = 0;
    const char* begin = line.data() + at + name.size();
    std::from_chars(begin, line.data() + line.size(), v);
    *total += v;
  }
}

}  // namespace

Endpoint::Endpoint(std::string role, net::Uri uri, const VerifyOptions& options)
    : role_(std::move(role)), uri_(std::move(uri)), limiter_(options.max_ops) {
  client_options_.connect_timeout = options.connect_timeout;
  client_options_.io_timeout = options.io_timeout;
  client_options_.client_name = "keyferry-verify";
}

std::string Endpoint::Describe() const { return "the " + role_ + " " + uri_.Endpoint(); }

Result<void> Endpoint::Connect() {
  auto connected = client_.Connect(uri_, client_options_);
  if (!connected) {
    const auto& e = connected.error();
    // The net layer's messages already say what to check; name the end in front.
    std::string what = "--" + role_ + ": " + e.ToString();
    if (e.code == net::NetErrc::kAuthFailed) {
      what = "--" + role_ + ": " + Describe() + " refused the login: " + e.ToString();
    } else if (e.message.find("NOAUTH") != std::string::npos) {
      what = "--" + role_ + ": " + Describe() +
             " needs a password; give it in the URI: redis://[user]:PASSWORD@host:port";
    }
    return MakeError(VerifyErrc::kUnreachable, what);
  }
  db_ = uri_.db;
  // A server that needs a password lets the connection open and refuses the first command.
  auto ping = client_.Call({"PING"});
  if (!ping)
    return MakeError(VerifyErrc::kUnreachable,
                     "cannot talk to " + Describe() + ": " + ping.error().ToString());
  if (ping->is_error()) {
    std::string words = ping->str();
    if (words.starts_with("NOAUTH")) {
      return MakeError(VerifyErrc::kUnreachable,
                       Describe() + " needs a password (" + words +
                           "); give it in the URI: redis://[user]:PASSWORD@host:port");
    }
    return MakeError(VerifyErrc::kUnreachable,
                     Describe() + " refused PING: " + words + "; the compare cannot start");
  }
  auto info = client_.Call({"INFO", "server"});
  if (info && info->is_error()) {
    return MakeError(VerifyErrc::kServerError,
                     Describe() + " refused INFO server: " + info->str() +
                         "; verify needs it to tell a standalone server from one node of a "
                         "cluster (whose other shards it would miss): allow the user +info");
  }
  if (info && info->is_string()) {
    std::string product = InfoLine(info->str(), "server_name");
    std::string version = InfoLine(info->str(), "valkey_version");
    if (version.empty()) version = InfoLine(info->str(), "redis_version");
    if (product.empty()) product = "redis";
    server_ = product + " " + version;
  }
  // PEXPIRETIME arrived in Redis 7.0; before it, absolute expiries come from PTTL.
  auto probe = client_.Call({"PEXPIRETIME", "keyferry:verify:probe"});
  if (!probe)
    return MakeError(VerifyErrc::kUnreachable,
                     "cannot talk to " + Describe() + ": " + probe.error().ToString());
  // A cluster node that does not serve the probe's slot redirects it: the command exists.
  has_pexpiretime_ = !probe->is_error() || probe->str().starts_with("MOVED ");
  if (info && info->is_string() && !info->is_error() &&
      (InfoLine(info->str(), "server_mode") == "cluster" ||
       InfoLine(info->str(), "redis_mode") == "cluster")) {
    return ConnectCluster();
  }
  return {};
}

Result<void> Endpoint::ConnectCluster() {
  net::ClusterReadOptions read;
  read.client = client_options_;
  auto topology = net::ReadClusterTopology(uri_, read);
  if (!topology) {
    return MakeError(VerifyErrc::kUnreachable, "--" + role_ + ": " + Describe() +
                                                   " is a cluster node, but its cluster could "
                                                   "not be read: " +
                                                   topology.error().ToString());
  }
  if (!*topology) {  // INFO said cluster mode, CLUSTER INFO says otherwise
    return MakeError(VerifyErrc::kServerError,
                     Describe() +
                         " says it runs in cluster mode but answers CLUSTER INFO as a "
                         "standalone server; the compare could miss other shards: "
                         "check the server and run verify again");
  }
  const net::ClusterTopology& t = **topology;
  if (auto missing = t.UnassignedSlots(); !missing.empty()) {
    return MakeError(VerifyErrc::kServerError,
                     Describe() + " belongs to a cluster that does not serve slots " +
                         net::SlotRangesToString(missing) + " (cluster_state:" + t.state +
                         "); the compare would miss their keys: wait for cluster_state:ok "
                         "and run verify again");
  }
  if (!t.migrations.empty()) {
    return MakeError(VerifyErrc::kServerError,
                     Describe() + " belongs to a cluster with a slot migration in progress (" +
                         net::DescribeSlotMigration(t.migrations.front()) +
                         "); its keys are on two nodes: finish the move and run verify again");
  }
  if (uri_.db != 0) {
    return MakeError(VerifyErrc::kBadOption,
                     Describe() + " is a cluster node: a cluster has db 0 only; drop /" +
                         std::to_string(uri_.db) + " from --" + role_);
  }
  slot_node_.assign(net::kClusterSlotCount, 0);
  for (const auto& shard : t.shards) {
    if (shard.slots.empty()) continue;
    auto node = std::make_unique<Node>();
    node->uri = net::NodeUri(uri_, shard.primary);
    auto connected = node->client.Connect(node->uri, client_options_);
    if (!connected) {
      return MakeError(VerifyErrc::kUnreachable, "--" + role_ +
                                                     ": cannot connect to the cluster's primary " +
                                                     node->uri.Endpoint() + " (slots " +
                                                     net::SlotRangesToString(shard.slots) +
                                                     "): " + connected.error().ToString());
    }
    for (const auto& range : shard.slots) {
      for (int slot = range.first; slot <= range.last; ++slot) {
        slot_node_[static_cast<size_t>(slot)] = static_cast<uint16_t>(nodes_.size());
      }
    }
    nodes_.push_back(std::move(node));
  }
  server_ += " cluster of " + std::to_string(nodes_.size()) + " primaries";
  db_ = 0;
  return {};
}

Result<void> Endpoint::Select(int db) {
  if (db == db_) return {};
  if (cluster()) {
    if (db == 0) {  // nothing to select: every primary serves db 0 only
      db_ = 0;
      return {};
    }
    return MakeError(VerifyErrc::kBadOption,
                     Describe() + " is a cluster, which has db 0 only; the compare asked for db " +
                         std::to_string(db) + ": check --db / --db-map");
  }
  auto reply = Call({"SELECT", std::to_string(db)}, "SELECT " + std::to_string(db));
  if (!reply) return MakeError(std::move(reply).error());
  if (reply->is_error()) {
    return MakeError(VerifyErrc::kServerError,
                     Describe() + " refused SELECT " + std::to_string(db) + ": " + reply->str() +
                         "; check --db / --db-map (the server has fewer databases?)");
  }
  db_ = db;
  return {};
}

Error Endpoint::Lost(const Error& io, std::string_view what) {
  db_ = -1;
  return Error{make_error_code(VerifyErrc::kConnectionLost),
               "lost the connection to " + Describe() + " during " + std::string(what) + ": " +
                   io.ToString() +
                   ". The compare is incomplete, so there is no result; check that the server "
                   "is up (was it restarted?) and run verify again"};
}

Result<void> Endpoint::Send(const std::vector<Command>& commands, std::string_view what) {
  if (commands.empty()) return {};
  limiter_.Acquire(commands.size());
  if (cluster()) return SendCluster(commands, what);
  resp::CommandEncoder encoder;
  for (const auto& c : commands) encoder.Add(c);
  auto sent = client_.Send(encoder);
  if (!sent) return MakeError(Lost(sent.error(), what));
  commands_sent_ += commands.size();
  return {};
}

Result<std::vector<resp::Reply>> Endpoint::Receive(size_t n, std::string_view what) {
  std::vector<resp::Reply> replies;
  replies.reserve(n);
  if (cluster()) {
    for (size_t i = 0; i < n; ++i) {
      if (routes_.empty()) {
        return MakeError(VerifyErrc::kUnexpectedReply,
                         "internal: a reply was read from " + Describe() + " for " +
                             std::string(what) + " that no command asked for");
      }
      Route route = routes_.front();
      routes_.pop_front();
      auto reply = ReceiveCluster(route, what);
      if (!reply) return MakeError(std::move(reply).error());
      replies.push_back(std::move(*reply));
    }
    return replies;
  }
  for (size_t i = 0; i < n; ++i) {
    auto reply = client_.ReadReply();
    if (!reply) return MakeError(Lost(reply.error(), what));
    replies.push_back(std::move(*reply));
  }
  return replies;
}

Result<void> Endpoint::SendCluster(const std::vector<Command>& commands, std::string_view what) {
  std::vector<resp::CommandEncoder> encoders(nodes_.size());
  std::vector<size_t> counts(nodes_.size(), 0);
  auto to_node = [&](size_t node, const Command& c) {
    encoders[node].Add(c);
    ++counts[node];
  };
  for (const auto& c : commands) {
    const std::string name = c.empty() ? "" : Upper(c[0]);
    Route route;
    if (name == "SCAN" && c.size() >= 2) {
      // "<primary>.<cursor>", or "0" for the first primary's start.
      size_t node = 0;
      std::string cursor = c[1];
      if (auto dot = c[1].find('.'); dot != std::string::npos) {
        auto [p, ec] = std::from_chars(c[1].data(), c[1].data() + dot, node);
        if (ec != std::errc() || p != c[1].data() + dot || node >= nodes_.size()) {
          return MakeError(VerifyErrc::kUnexpectedReply,
                           "internal: cluster SCAN cursor \"" + c[1] + "\" names no primary");
        }
        cursor = c[1].substr(dot + 1);
      }
      Command scan = c;
      scan[1] = cursor;
      route = {RouteKind::kScan, node};
      to_node(node, scan);
    } else if (name == "DBSIZE" || name == "FUNCTION" || name == "PING" ||
               (name == "INFO" && c.size() == 2 && Upper(c[1]) == "KEYSPACE")) {
      route.kind = name == "DBSIZE" ? RouteKind::kSum
                   : name == "INFO" ? RouteKind::kKeyspace
                                    : RouteKind::kSame;
      for (size_t n = 0; n < nodes_.size(); ++n) to_node(n, c);
    } else if (c.size() >= 2) {
      const bool key_third = name == "MEMORY" || name == "XINFO" || name == "OBJECT";
      if (key_third && c.size() < 3) {
        return MakeError(VerifyErrc::kUnexpectedReply,
                         "internal: " + name + " without a key sent to cluster " + Describe());
      }
      const std::string& key = key_third ? c[2] : c[1];
      route = {RouteKind::kNode, slot_node_[static_cast<size_t>(net::KeySlot(key))]};
      to_node(route.node, c);
    } else {
      route = {RouteKind::kNode, 0};
      to_node(0, c);
    }
    routes_.push_back(route);
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (counts[n] == 0) continue;
    auto sent = nodes_[n]->client.Send(encoders[n]);
    if (!sent) return MakeError(Lost(sent.error(), what));
  }
  commands_sent_ += commands.size();
  return {};
}

Result<resp::Reply> Endpoint::ReadFrom(size_t node, std::string_view what) {
  auto reply = nodes_[node]->client.ReadReply();
  if (!reply) return MakeError(Lost(reply.error(), what));
  if (reply->is_error() &&
      (reply->str().starts_with("MOVED ") || reply->str().starts_with("ASK "))) {
    return MakeError(VerifyErrc::kServerError,
                     "the cluster's primary " + nodes_[node]->uri.Endpoint() + " (of " +
                         Describe() + ") answered " + std::string(what) + " with " + reply->str() +
                         ": slots moved during the compare, so it is incomplete; run verify "
                         "again once the cluster is stable");
  }
  return std::move(*reply);
}

Result<resp::Reply> Endpoint::ReceiveCluster(const Route& route, std::string_view what) {
  switch (route.kind) {
    case RouteKind::kNode:
      return ReadFrom(route.node, what);
    case RouteKind::kScan: {
      auto reply = ReadFrom(route.node, what);
      if (!reply) return reply;
      if (reply->is_error() || reply->type() != resp::ReplyType::kArray || reply->size() != 2 ||
          !(*reply)[0].is_string()) {
        return reply;  // the caller names the shape error
      }
      const std::string next = (*reply)[0].str();
      std::string cursor;
      if (next != "0") {
        cursor = std::to_string(route.node) + "." + next;
      } else if (route.node + 1 < nodes_.size()) {
        cursor = std::to_string(route.node + 1) + ".0";
      } else {
        cursor = "0";
      }
      std::vector<resp::Reply> parts;
      parts.push_back(resp::Reply::Bulk(cursor));
      parts.push_back(std::move(reply->mutable_children()[1]));
      return resp::Reply::Aggregate(resp::ReplyType::kArray, std::move(parts));
    }
    case RouteKind::kSum:
    case RouteKind::kKeyspace:
    case RouteKind::kSame: {
      std::vector<resp::Reply> all;
      for (size_t n = 0; n < nodes_.size(); ++n) {
        auto reply = ReadFrom(n, what);
        if (!reply) return reply;
        all.push_back(std::move(*reply));
      }
      for (auto& r : all) {
        if (r.is_error()) return std::move(r);
      }
      if (route.kind == RouteKind::kSum) {
        int64_t total = 0;
        for (const auto& r : all) {
          if (r.type() != resp::ReplyType::kInteger) return std::move(all.front());
          total += r.integer();
        }
        return resp::Reply::Integer(total);
      }
      if (route.kind == RouteKind::kKeyspace) {
        int64_t keys = 0, expires = 0;
        for (const auto& r : all) {
          if (!r.is_string()) return std::move(all.front());
          AddKeyspace(r.str(), &keys, &expires);
        }
        std::string text = "# Keyspace\r\n";
        if (keys > 0) {
          text += "db0:keys=" + std::to_string(keys) + ",expires=" + std::to_string(expires) +
                  ",avg_ttl=0\r\n";
        }
        return resp::Reply::Bulk(text);
      }
      for (size_t n = 1; n < all.size(); ++n) {
        if (!SameUpToOrder(all[n], all[0])) {
          return resp::Reply::Error("ERR the cluster's primaries " + nodes_[0]->uri.Endpoint() +
                                    " and " + nodes_[n]->uri.Endpoint() + " answer differently (" +
                                    std::string(what) +
                                    "): a cluster's function libraries must be the same on every "
                                    "primary; load them on each (FUNCTION LOAD REPLACE)");
        }
      }
      return std::move(all.front());
    }
  }
  return MakeError(VerifyErrc::kUnexpectedReply, "internal: unknown cluster route");
}

Result<std::vector<resp::Reply>> Endpoint::Run(const std::vector<Command>& commands,
                                               std::string_view what) {
  KF_RETURN_IF_ERROR(Send(commands, what));
  return Receive(commands.size(), what);
}

Result<resp::Reply> Endpoint::Call(const Command& command, std::string_view what) {
  auto replies = Run({command}, what);
  if (!replies) return MakeError(std::move(replies).error());
  return std::move((*replies)[0]);
}

Error Endpoint::ReplyError(const resp::Reply& reply, std::string_view command,
                           std::string_view key) const {
  std::string words = reply.str();
  std::string next = "the compare is incomplete; fix the cause and run verify again";
  if (words.starts_with("LOADING")) {
    next =
        "the server is loading its data (just restarted?); run verify again once it serves "
        "reads";
  } else if (words.starts_with("NOPERM")) {
    next = "the user in --" + role_ + " lacks the permission; grant it (read commands, " +
           "SCAN, DUMP, MEMORY USAGE, FUNCTION LIST) or use another user";
  }
  return Error{make_error_code(VerifyErrc::kServerError),
               Describe() + " answered " + std::string(command) +
                   (key.empty() ? "" : " of key \"" + Printable(key, 80) + "\"") +
                   " with: " + words + "; " + next};
}

Error Endpoint::ShapeError(const resp::Reply& reply, std::string_view command,
                           std::string_view key) const {
  return Error{make_error_code(VerifyErrc::kUnexpectedReply),
               Describe() + " answered " + std::string(command) +
                   (key.empty() ? "" : " of key \"" + Printable(key, 80) + "\"") +
                   " with an unexpected reply: " + reply.ToString(120) +
                   "; the compare is incomplete (is this a Redis-compatible server?)"};
}

Result<std::pair<std::vector<resp::Reply>, std::vector<resp::Reply>>> RunBoth(
    Endpoint& a, const std::vector<Command>& a_commands, Endpoint& b,
    const std::vector<Command>& b_commands, std::string_view what) {
  KF_RETURN_IF_ERROR(a.Send(a_commands, what));
  KF_RETURN_IF_ERROR(b.Send(b_commands, what));
  auto ra = a.Receive(a_commands.size(), what);
  if (!ra) return MakeError(std::move(ra).error());
  auto rb = b.Receive(b_commands.size(), what);
  if (!rb) return MakeError(std::move(rb).error());
  return std::make_pair(std::move(*ra), std::move(*rb));
}

const resp::Reply* FieldOf(const resp::Reply& reply, std::string_view name) {
  if (reply.type() == resp::ReplyType::kMap) return reply.Find(name);
  if (reply.type() != resp::ReplyType::kArray) return nullptr;
  for (size_t i = 0; i + 1 < reply.size(); i += 2) {
    if (reply[i].is_string() && reply[i].str() == name) return &reply[i + 1];
  }
  return nullptr;
}

bool IsKeyChangedError(const resp::Reply& reply) {
  if (!reply.is_error()) return false;
  const std::string& words = reply.str();
  return words.starts_with("WRONGTYPE") || words.find("no such key") != std::string::npos;
}

}  // namespace kf::verify
