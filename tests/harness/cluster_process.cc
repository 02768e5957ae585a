// Starting, reshaping and reading real Redis/Valkey Clusters for tests (see
// cluster_process.h): start-up (nodes, config epochs, slots, MEET, replicas), the harness's
// own CLUSTER NODES reading, the routing cluster client, slot moves, failovers and the
// stability check every step waits for.
#include "harness/cluster_process.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "harness/dataset.h"
#include "net/client.h"
#include "net/cluster_slots.h"

namespace kf::test {
namespace {

using Cmd = std::vector<std::string>;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kSlots = 16384;
constexpr int kMaxRedirects = 5;

// One line of CLUSTER NODES as the harness needs it.
struct NodeLine {
  std::string id;
  int port = 0;
  bool master = false;
  bool myself = false;
  bool failing = false;  // fail, fail?, handshake or noaddr
  std::string flags;
  std::string master_id;  // replicas
  std::vector<std::pair<int, int>> slots;
};

std::vector<NodeLine> ParseNodes(const std::string& text) {
  std::vector<NodeLine> lines;
  std::istringstream in(text);
  std::string row;
  while (std::getline(in, row)) {
    std::istringstream fields(row);
    NodeLine line;
    std::string address, ping, pong, epoch, link;
    if (!(fields >> line.id >> address >> line.flags >> line.master_id >> ping >> pong >> epoch >>
          link)) {
      continue;
    }
    auto at = address.find('@');
    auto colon = address.rfind(':', at);
    if (colon != std::string::npos) line.port = std::atoi(address.c_str() + colon + 1);
    std::string flag;
    std::istringstream flags(line.flags);
    while (std::getline(flags, flag, ',')) {
      if (flag == "master") line.master = true;
      if (flag == "myself") line.myself = true;
      if (flag == "fail" || flag == "fail?" || flag == "handshake" || flag == "noaddr") {
        line.failing = true;
      }
    }
    if (line.master) line.master_id.clear();
    std::string token;
    while (fields >> token) {
      if (token.front() == '[') continue;  // a slot in migration: still owned as listed
      auto dash = token.find('-');
      int first = std::atoi(token.c_str());
      int last = dash == std::string::npos ? first : std::atoi(token.c_str() + dash + 1);
      line.slots.emplace_back(first, last);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// A field of CLUSTER INFO (INFO's "cluster" section has only cluster_enabled); "" when
// the node does not answer or has no such field.
std::string ClusterInfoField(const ServerProcess& node, const std::string& field) {
  std::istringstream lines(node.Call({"CLUSTER", "INFO"}));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

std::string SlotsText(const std::vector<std::pair<int, int>>& slots) {
  std::string out;
  for (const auto& [first, last] : slots) {
    out += " " + std::to_string(first) + "-" + std::to_string(last);
  }
  return out;
}

// A command through keyferry's client on its own connection; a failure to connect or read
// fails the test and gives a null reply.
resp::Reply NodeCall(const ServerProcess& node, const Cmd& args) {
  net::Client client;
  auto connected = client.Connect(UriOf(node.uri()));
  if (!connected) {
    ADD_FAILURE() << "cluster harness: cannot connect to node " << node.port() << ": "
                  << connected.error().ToString();
    return resp::Reply::Null();
  }
  auto reply = client.Call(args);
  if (!reply) {
    ADD_FAILURE() << "cluster harness: " << args[0] << " " << (args.size() > 1 ? args[1] : "")
                  << " on node " << node.port() << " failed: " << reply.error().ToString();
    return resp::Reply::Null();
  }
  return *reply;
}

bool ExpectOk(const resp::Reply& reply, const std::string& what) {
  if (reply.IsOk()) return true;
  ADD_FAILURE() << "cluster harness: " << what << " answered " << reply.ToString();
  return false;
}

}  // namespace

ClusterProcess::ClusterProcess(ServerKind kind, ClusterOptions options)
    : kind_(kind), options_(std::move(options)) {}

ClusterProcess::~ClusterProcess() = default;  // each ServerProcess stops its node by PID

std::unique_ptr<ClusterProcess> ClusterProcess::Start(ServerKind kind, ClusterOptions options) {
  if (options.primaries < 1 || options.primaries > 6 || options.replicas_per_primary < 0 ||
      options.replicas_per_primary > 2) {
    ADD_FAILURE() << "cluster harness: " << options.primaries << " primaries with "
                  << options.replicas_per_primary
                  << " replicas each is outside 1..6 primaries, 0..2 replicas";
    return nullptr;
  }
  std::unique_ptr<ClusterProcess> cluster(new ClusterProcess(kind, std::move(options)));
  if (!cluster->Build()) return nullptr;
  return cluster;
}

bool ClusterProcess::Build() {
  const auto deadline = steady_clock::now() + options_.ready_timeout;
  const int primaries = options_.primaries;
  const int total = primaries * (1 + options_.replicas_per_primary);
  for (int i = 0; i < total; ++i) {
    ServerOptions server_options;
    server_options.cluster = true;
    server_options.config = {
        {"cluster-node-timeout", std::to_string(options_.node_timeout.count())},
        // No 5 s wait for more replicas before a full sync.
        {"repl-diskless-sync-delay", "0"},
        // Replicas stay where the test put them (no move to an orphaned primary).
        {"cluster-allow-replica-migration", "no"},
    };
    server_options.config.insert(server_options.config.end(), options_.config.begin(),
                                 options_.config.end());
    if (options_.tls) {
      server_options.tls = options_.tls;
      server_options.config.push_back({"tls-cluster", "yes"});
    }
    auto node = ServerProcess::Start(kind_, server_options);
    if (!node) return false;
    std::string id = node->Call({"CLUSTER", "MYID"});
    if (id.size() != 40) {
      ADD_FAILURE() << "cluster harness: CLUSTER MYID on node " << node->port() << " answered "
                    << id;
      return false;
    }
    // Distinct config epochs up front, as redis-cli does, so the nodes need not resolve
    // collisions before they agree.
    if (!ExpectOk(NodeCall(*node, {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)}),
                  "CLUSTER SET-CONFIG-EPOCH")) {
      return false;
    }
    ids_.push_back(id);
    nodes_.push_back(std::move(node));
  }
  for (int i = 0; i < primaries; ++i) {
    int first = i * kSlots / primaries;
    int last = (i + 1) * kSlots / primaries - 1;
    if (!ExpectOk(
            NodeCall(*nodes_[static_cast<size_t>(i)],
                     {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last)}),
            "CLUSTER ADDSLOTSRANGE")) {
      return false;
    }
  }
  // The cluster bus port is not client port + 10000 here: MEET names it.
  for (int i = 1; i < total; ++i) {
    const auto& other = *nodes_[static_cast<size_t>(i)];
    if (!ExpectOk(
            NodeCall(*nodes_[0], {"CLUSTER", "MEET", "127.0.0.1", std::to_string(other.port()),
                                  std::to_string(other.cluster_port())}),
            "CLUSTER MEET")) {
      return false;
    }
  }
  // Every node must know every other one before a replica can name its primary.
  for (const auto& node : nodes_) {
    while (ClusterInfoField(*node, "cluster_known_nodes") != std::to_string(total)) {
      if (steady_clock::now() > deadline) {
        ADD_FAILURE() << "cluster harness: node " << node->port() << " knows "
                      << ClusterInfoField(*node, "cluster_known_nodes") << " of " << total
                      << " nodes after the start timeout";
        return false;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  for (int i = primaries; i < total; ++i) {
    const size_t primary = static_cast<size_t>((i - primaries) / options_.replicas_per_primary);
    auto& replica = *nodes_[static_cast<size_t>(i)];
    for (;;) {
      resp::Reply reply = NodeCall(replica, {"CLUSTER", "REPLICATE", ids_[primary]});
      if (reply.IsOk()) break;
      // "Unknown node" / "I can only replicate a master" until gossip has told it.
      if (steady_clock::now() > deadline) {
        ADD_FAILURE() << "cluster harness: CLUSTER REPLICATE on node " << replica.port()
                      << " answered " << reply.ToString();
        return false;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
  return WaitUntilStable(std::max(left, milliseconds(1)));
}

std::string ClusterProcess::NodeId(const ServerProcess& node) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].get() == &node) return ids_[i];
  }
  return "";
}

ServerProcess* ClusterProcess::NodeById(const std::string& id) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (ids_[i] == id) return nodes_[i].get();
  }
  return nullptr;
}

ServerProcess* ClusterProcess::NodeByPort(int port) const {
  for (const auto& node : nodes_) {
    if (node->port() == port) return node.get();
  }
  return nullptr;
}

ServerProcess* ClusterProcess::AnyRunningNode() const {
  for (const auto& node : nodes_) {
    if (node->running()) return node.get();
  }
  return nullptr;
}

std::vector<ServerProcess*> ClusterProcess::Primaries() const {
  ServerProcess* any = AnyRunningNode();
  if (any == nullptr) return {};
  std::vector<std::pair<int, ServerProcess*>> found;
  for (const auto& line : ParseNodes(any->Call({"CLUSTER", "NODES"}))) {
    ServerProcess* node = NodeById(line.id);
    if (!line.master || node == nullptr || !node->running()) continue;
    found.emplace_back(line.slots.empty() ? kSlots : line.slots.front().first, node);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->port() < b.second->port();
  });
  std::vector<ServerProcess*> out;
  for (const auto& [slot, node] : found) out.push_back(node);
  return out;
}

std::vector<ServerProcess*> ClusterProcess::ReplicasOf(const ServerProcess& primary) const {
  ServerProcess* any = AnyRunningNode();
  std::vector<ServerProcess*> out;
  if (any == nullptr) return out;
  const std::string id = NodeId(primary);
  for (const auto& line : ParseNodes(any->Call({"CLUSTER", "NODES"}))) {
    ServerProcess* node = NodeById(line.id);
    if (!line.master && line.master_id == id && node != nullptr && node->running()) {
      out.push_back(node);
    }
  }
  return out;
}

std::vector<std::pair<int, int>> ClusterProcess::SlotsOf(const ServerProcess& node) const {
  ServerProcess* any = AnyRunningNode();
  if (any == nullptr) return {};
  const std::string id = NodeId(node);
  for (const auto& line : ParseNodes(any->Call({"CLUSTER", "NODES"}))) {
    if (line.id == id) return line.slots;
  }
  return {};
}

ServerProcess* ClusterProcess::OwnerOfSlot(int slot) const {
  ServerProcess* any = AnyRunningNode();
  if (any == nullptr) return nullptr;
  for (const auto& line : ParseNodes(any->Call({"CLUSTER", "NODES"}))) {
    for (const auto& [first, last] : line.slots) {
      if (slot >= first && slot <= last) {
        ServerProcess* node = NodeById(line.id);
        return node != nullptr && node->running() ? node : nullptr;
      }
    }
  }
  return nullptr;
}

ServerProcess* ClusterProcess::OwnerOfKey(const std::string& key) const {
  ServerProcess* any = AnyRunningNode();
  if (any == nullptr) return nullptr;
  resp::Reply slot = NodeCall(*any, {"CLUSTER", "KEYSLOT", key});
  if (slot.type() != resp::ReplyType::kInteger) return nullptr;
  return OwnerOfSlot(static_cast<int>(slot.integer()));
}

std::string ClusterProcess::uri() const {
  auto primaries = Primaries();
  if (!primaries.empty()) return primaries.front()->uri();
  ServerProcess* any = AnyRunningNode();
  return any != nullptr ? any->uri() : "";
}

std::vector<net::Uri> ClusterProcess::PrimaryUris() const {
  std::vector<net::Uri> out;
  for (ServerProcess* node : Primaries()) out.push_back(UriOf(node->uri()));
  return out;
}

std::vector<net::Uri> ClusterProcess::NodeUris() const {
  std::vector<net::Uri> out;
  for (const auto& node : nodes_) {
    if (node->running()) out.push_back(UriOf(node->uri()));
  }
  return out;
}

resp::Reply ClusterProcess::Call(const std::vector<std::string>& args) {
  auto replies = Run({args});
  return replies.empty() ? resp::Reply::Null() : replies.front();
}

std::vector<resp::Reply> ClusterProcess::Run(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<resp::Reply> replies(commands.size());
  ServerProcess* any = AnyRunningNode();
  if (any == nullptr) {
    ADD_FAILURE() << "cluster harness: no running node to send commands to";
    return {};
  }
  // One connection per node for the whole call.
  std::map<int, std::unique_ptr<net::Client>> clients;
  auto client_of = [&](const ServerProcess& node) -> net::Client* {
    auto& client = clients[node.port()];
    if (!client) {
      client = std::make_unique<net::Client>();
      auto connected = client->Connect(UriOf(node.uri()));
      if (!connected) {
        ADD_FAILURE() << "cluster harness: cannot connect to node " << node.port() << ": "
                      << connected.error().ToString();
        client.reset();
        return nullptr;
      }
    }
    return client.get();
  };

  // 1. The keys of every command, as the server sees them.
  std::vector<int> slot_of(commands.size(), -1);  // -1: no key, goes to every primary
  net::Client* keys_client = client_of(*any);
  if (keys_client == nullptr) return {};
  for (size_t start = 0; start < commands.size(); start += 500) {
    std::vector<Cmd> getkeys;
    for (size_t i = start; i < std::min(commands.size(), start + 500); ++i) {
      Cmd c = {"COMMAND", "GETKEYS"};
      c.insert(c.end(), commands[i].begin(), commands[i].end());
      getkeys.push_back(std::move(c));
    }
    auto keys = keys_client->CallPipelined(getkeys);
    if (!keys) {
      ADD_FAILURE() << "cluster harness: COMMAND GETKEYS failed: " << keys.error().ToString();
      return {};
    }
    for (size_t j = 0; j < keys->size(); ++j) {
      const auto& k = (*keys)[j];
      if (!k.is_error() && k.size() > 0) slot_of[start + j] = net::KeySlot(k[0].str());
    }
  }

  // 2. Slot owners, as a running node reports them.
  std::vector<ServerProcess*> owner(kSlots, nullptr);
  for (const auto& line : ParseNodes(any->Call({"CLUSTER", "NODES"}))) {
    ServerProcess* node = NodeById(line.id);
    if (node == nullptr || !node->running()) continue;
    for (const auto& [first, last] : line.slots) {
      for (int s = first; s <= last && s < kSlots; ++s) owner[static_cast<size_t>(s)] = node;
    }
  }
  const std::vector<ServerProcess*> primaries = Primaries();

  // 3. Segments of keyed commands, pipelined per node; a command without keys between them
  // runs on every primary at its place in the order.
  std::vector<size_t> sent;  // keyed commands already answered, in order (for redirects)
  size_t i = 0;
  while (i < commands.size()) {
    if (slot_of[i] < 0) {
      bool first = true;
      for (ServerProcess* primary : primaries) {
        net::Client* client = client_of(*primary);
        if (client == nullptr) return {};
        auto reply = client->Call(commands[i]);
        if (!reply) {
          ADD_FAILURE() << "cluster harness: " << commands[i][0] << " on node " << primary->port()
                        << " failed: " << reply.error().ToString();
          return {};
        }
        if (first || reply->is_error()) replies[i] = *reply;
        first = false;
      }
      ++i;
      continue;
    }
    std::map<ServerProcess*, std::vector<size_t>> per_node;
    size_t end = i;
    for (; end < commands.size() && slot_of[end] >= 0; ++end) {
      ServerProcess* node = owner[static_cast<size_t>(slot_of[end])];
      per_node[node != nullptr ? node : any].push_back(end);  // no owner: let MOVED tell
    }
    for (const auto& [node, indexes] : per_node) {
      net::Client* client = client_of(*node);
      if (client == nullptr) return {};
      std::vector<Cmd> batch;
      for (size_t index : indexes) batch.push_back(commands[index]);
      auto answers = client->CallPipelined(batch);
      if (!answers) {
        ADD_FAILURE() << "cluster harness: pipeline to node " << node->port()
                      << " failed: " << answers.error().ToString();
        return {};
      }
      for (size_t j = 0; j < indexes.size(); ++j) replies[indexes[j]] = (*answers)[j];
    }
    // 4. Redirections, followed in the commands' order.
    for (size_t index = i; index < end; ++index) {
      for (int hop = 0; hop < kMaxRedirects && replies[index].is_error(); ++hop) {
        const std::string& text = replies[index].str();
        bool moved = text.rfind("MOVED ", 0) == 0;
        bool ask = text.rfind("ASK ", 0) == 0;
        if (!moved && !ask) break;
        int port = std::atoi(text.c_str() + text.rfind(':') + 1);
        ServerProcess* node = NodeByPort(port);
        if (node == nullptr) {
          ADD_FAILURE() << "cluster harness: redirected to unknown port: " << text;
          return {};
        }
        net::Client* client = client_of(*node);
        if (client == nullptr) return {};
        if (moved) {
          ++moved_redirects_;
          auto reply = client->Call(commands[index]);
          if (!reply) return {};
          replies[index] = *reply;
        } else {
          ++ask_redirects_;
          auto answers = client->CallPipelined({{"ASKING"}, commands[index]});
          if (!answers) return {};
          replies[index] = (*answers)[1];
        }
      }
    }
    i = end;
  }
  return replies;
}

bool ClusterProcess::MoveSlot(int slot, ServerProcess& to, SlotMoveEnd end, int batch) {
  ServerProcess* from = OwnerOfSlot(slot);
  if (from == nullptr) {
    ADD_FAILURE() << "cluster harness: slot " << slot << " has no running owner to move it from";
    return false;
  }
  const std::string from_id = NodeId(*from);
  const std::string to_id = NodeId(to);
  const std::string slot_text = std::to_string(slot);
  if (from == &to) return true;
  if (!ExpectOk(NodeCall(to, {"CLUSTER", "SETSLOT", slot_text, "IMPORTING", from_id}),
                "SETSLOT IMPORTING") ||
      !ExpectOk(NodeCall(*from, {"CLUSTER", "SETSLOT", slot_text, "MIGRATING", to_id}),
                "SETSLOT MIGRATING")) {
    return false;
  }
  resp::Reply count = NodeCall(*from, {"CLUSTER", "COUNTKEYSINSLOT", slot_text});
  const int64_t keys = count.integer();
  const int64_t to_move = end == SlotMoveEnd::kComplete ? keys : keys / 2;
  net::Uri dest = UriOf(to.uri());
  int64_t moved = 0;
  // Bounded: each round moves at least one key or stops.
  for (int64_t round = 0; moved < to_move && round <= keys; ++round) {
    int64_t want = std::min<int64_t>(batch, to_move - moved);
    resp::Reply names =
        NodeCall(*from, {"CLUSTER", "GETKEYSINSLOT", slot_text, std::to_string(want)});
    if (names.size() == 0) break;
    Cmd migrate = {"MIGRATE", "127.0.0.1", std::to_string(to.port()), "", "0", "10000"};
    if (dest.has_password) migrate.insert(migrate.end(), {"AUTH", dest.password});
    migrate.push_back("KEYS");
    for (const auto& name : names.children()) migrate.push_back(name.str());
    resp::Reply migrated = NodeCall(*from, migrate);
    if (!migrated.IsOk()) {
      ADD_FAILURE() << "cluster harness: MIGRATE of slot " << slot << " from node " << from->port()
                    << " to " << to.port() << " answered " << migrated.ToString();
      return false;
    }
    moved += static_cast<int64_t>(names.size());
  }
  if (end == SlotMoveEnd::kHalfMigrated) return true;
  // The new owner first, then the old one, then every other primary (as redis-cli does).
  std::vector<ServerProcess*> order = {&to, from};
  for (ServerProcess* p : Primaries()) {
    if (p != &to && p != from) order.push_back(p);
  }
  for (ServerProcess* p : order) {
    if (!ExpectOk(NodeCall(*p, {"CLUSTER", "SETSLOT", slot_text, "NODE", to_id}),
                  "SETSLOT NODE on node " + std::to_string(p->port()))) {
      return false;
    }
  }
  const auto deadline = steady_clock::now() + milliseconds(15000);
  std::string last;
  while (steady_clock::now() < deadline) {
    bool agreed = true;
    for (const auto& node : nodes_) {
      if (!node->running()) continue;
      for (const auto& line : ParseNodes(node->Call({"CLUSTER", "NODES"}))) {
        for (const auto& [first, l] : line.slots) {
          if (slot >= first && slot <= l && line.id != to_id) {
            agreed = false;
            last = "node " + std::to_string(node->port()) + " says slot " + slot_text +
                   " belongs to " + line.id;
          }
        }
      }
    }
    if (agreed) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  ADD_FAILURE() << "cluster harness: slot " << slot << " moved, but after 15 s " << last;
  return false;
}

bool ClusterProcess::FailOver(ServerProcess& replica) {
  const std::string id = NodeId(replica);
  if (!ExpectOk(NodeCall(replica, {"CLUSTER", "FAILOVER"}), "CLUSTER FAILOVER")) return false;
  const auto deadline = steady_clock::now() + milliseconds(20000);
  while (steady_clock::now() < deadline) {
    for (const auto& line : ParseNodes(replica.Call({"CLUSTER", "NODES"}))) {
      if (line.myself && line.master && !line.slots.empty()) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
        return WaitUntilStable(std::max(left, milliseconds(1)));
      }
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ADD_FAILURE() << "cluster harness: replica " << replica.port() << " (" << id
                << ") is not a primary 20 s after CLUSTER FAILOVER";
  return false;
}

void ClusterProcess::KillNode(ServerProcess& node) { node.Kill(); }

std::string ClusterProcess::Unstable() {
  std::set<std::string> running;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->running()) running.insert(ids_[i]);
  }
  std::string reference;
  ServerProcess* reference_node = nullptr;
  std::vector<NodeLine> reference_view;
  for (const auto& node : nodes_) {
    if (!node->running()) continue;
    const std::string who = "node " + std::to_string(node->port());
    std::string state = ClusterInfoField(*node, "cluster_state");
    if (state != "ok") return who + " has cluster_state:" + state;
    auto view = ParseNodes(node->Call({"CLUSTER", "NODES"}));
    std::map<std::string, std::string> lines;
    for (const auto& line : view) {
      if (!running.count(line.id)) {
        if (!line.slots.empty()) {
          return who + " still gives slots" + SlotsText(line.slots) + " to stopped node " + line.id;
        }
        continue;
      }
      if (line.failing) return who + " flags node " + line.id + " " + line.flags;
      lines[line.id] =
          (line.master ? "master" : "replica of " + line.master_id) + SlotsText(line.slots);
    }
    if (lines.size() != running.size()) {
      return who + " knows " + std::to_string(lines.size()) + " of the " +
             std::to_string(running.size()) + " running nodes";
    }
    std::string signature;
    for (const auto& [id, text] : lines) signature += id + " " + text + "\n";
    if (reference_node == nullptr) {
      reference = signature;
      reference_node = node.get();
      reference_view = view;
    } else if (signature != reference) {
      return who + " and node " + std::to_string(reference_node->port()) + " disagree:\n" +
             signature + "vs\n" + reference;
    }
  }
  if (reference_node == nullptr) return "no node is running";
  for (const auto& line : reference_view) {
    ServerProcess* replica = NodeById(line.id);
    if (line.master || replica == nullptr || !replica->running()) continue;
    ServerProcess* primary = NodeById(line.master_id);
    const std::string who = "replica " + std::to_string(replica->port());
    if (primary == nullptr || !primary->running()) return who + " follows a stopped primary";
    std::string link = replica->InfoField("replication", "master_link_status");
    std::string syncing = replica->InfoField("replication", "master_sync_in_progress");
    if (link != "up" || syncing != "0") {
      return who + " has master_link_status:" + link + " master_sync_in_progress:" + syncing;
    }
    std::string offset = replica->InfoField("replication", "slave_repl_offset");
    std::string primary_offset = primary->InfoField("replication", "master_repl_offset");
    if (offset.empty() || offset != primary_offset) {
      return who + " is at offset " + offset + ", its primary " + std::to_string(primary->port()) +
             " at " + primary_offset;
    }
  }
  return "";
}

bool ClusterProcess::WaitUntilStable(milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::string why;
  do {
    why = Unstable();
    if (why.empty()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  } while (steady_clock::now() < deadline);
  ADD_FAILURE() << "cluster harness: the " << ServerBinary(kind_) << " cluster is not stable after "
                << timeout.count() << " ms: " << why;
  return false;
}

void ExpectNoErrorReplies(const std::vector<resp::Reply>& replies,
                          const std::vector<std::vector<std::string>>& commands) {
  ASSERT_EQ(replies.size(), commands.size());
  for (size_t i = 0; i < replies.size(); ++i) {
    EXPECT_FALSE(replies[i].is_error())
        << commands[i][0] << " " << (commands[i].size() > 1 ? commands[i][1].substr(0, 40) : "")
        << ": " << replies[i].str();
  }
}

void SeedEveryTypeForCompare(ClusterProcess& cluster) {
  auto commands = EveryTypeCommandsForCompare();
  ExpectNoErrorReplies(cluster.Run(commands), commands);
}

std::unique_ptr<ServerProcess> StartSeededForCompare(ServerKind kind) {
  auto server = ServerProcess::Start(kind);
  if (!server) return nullptr;
  net::Client client;
  EXPECT_TRUE(client.Connect(UriOf(server->uri())));
  auto commands = EveryTypeCommandsForCompare();
  auto replies = client.CallPipelined(commands);
  EXPECT_TRUE(replies);
  if (replies) ExpectNoErrorReplies(*replies, commands);
  return server;
}

}  // namespace kf::test
