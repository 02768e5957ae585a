// LocalClusterProvider: a Valkey Cluster started and owned by a migration (see
// local_cluster_provider.h).
#include "control/local_cluster_provider.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "control/checks.h"
#include "control/control_errc.h"
#include "control/local_provider.h"
#include "net/client.h"
#include "net/identity_probe.h"
#include "net/server_info.h"

namespace kf::control {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kSlots = 16384;
constexpr milliseconds kStartTimeout{15000};
constexpr milliseconds kFormTimeout{60000};
constexpr std::string_view kFormed = "formed";

std::optional<std::string> JournalState(Journal* journal, std::string_view key) {
  if (journal == nullptr) return std::nullopt;
  auto v = journal->Get(key);
  if (!v) return std::nullopt;
  return *v;
}

std::string NodeName(const LocalClusterNode& n) {
  return std::string(n.primary ? "primary" : "replica") + " of shard " + std::to_string(n.shard) +
         " (pid " + std::to_string(n.pid) + ", port " + std::to_string(n.port) + ")";
}

Error FormError(const std::string& what) {
  return Error{make_error_code(ControlErrc::kProvisionFailed),
               "forming the local Valkey Cluster: " + what +
                   "; the nodes' logs are valkey.log in their dirs under the state dir's "
                   "target/. apply rolls back (removing every node); run it again"};
}

}  // namespace

std::string LocalClusterNodesToJson(const std::vector<LocalClusterNode>& nodes) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& n : nodes) {
    j.push_back({{"pid", n.pid},
                 {"port", n.port},
                 {"bus_port", n.bus_port},
                 {"dir", n.dir},
                 {"role", n.primary ? "primary" : "replica"},
                 {"shard", n.shard}});
  }
  return j.dump();
}

std::optional<std::vector<LocalClusterNode>> LocalClusterNodesFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return std::nullopt;
  std::vector<LocalClusterNode> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("pid") || !e.contains("port") || !e.contains("dir")) {
      return std::nullopt;
    }
    LocalClusterNode n;
    n.pid = e.value("pid", -1);
    n.port = e.value("port", 0);
    n.bus_port = e.value("bus_port", 0);
    n.dir = e.value("dir", "");
    n.primary = e.value("role", "primary") == "primary";
    n.shard = e.value("shard", 0);
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<LocalClusterNode> LocalClusterProvider::Nodes() const {
  auto text = JournalState(journal_, kKeyTargetNodes);
  if (!text) return {};
  return LocalClusterNodesFromJson(*text).value_or(std::vector<LocalClusterNode>{});
}

Result<void> LocalClusterProvider::SaveNodes(const std::vector<LocalClusterNode>& nodes) {
  KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetNodes, LocalClusterNodesToJson(nodes)));
  if (!nodes.empty()) {
    // The seed: the first primary (TargetUri, and doctor's drift check of the standalone
    // provider's keys, which this list replaces for a cluster).
    KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetPort, std::to_string(nodes.front().port)));
    KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetDir, spec_.state_dir + "/target"));
  }
  return {};
}

std::string LocalClusterProvider::Password() const {
  auto target = spec_.TargetUri(0);
  return target && target->has_password ? target->password : "";
}

Result<net::Uri> LocalClusterProvider::TargetUri() const {
  int port = 0;
  if (auto p = JournalState(journal_, kKeyTargetPort)) port = std::stoi(*p);
  return spec_.TargetUri(port);
}

Result<void> LocalClusterProvider::RemoveNodes() {
  std::optional<Error> first_failure;
  for (const auto& n : Nodes()) {
    LocalServer server{
        static_cast<pid_t>(n.pid), n.port, spec_.target.local.bind, n.dir, Password(),
        spec_.target.local.tls};
    auto r = RemoveLocalServer(server);
    if (!r && !first_failure) {
      first_failure =
          Error{r.error().code, "removing the cluster node on port " + std::to_string(n.port) +
                                    " (pid " + std::to_string(n.pid) + ", " + n.dir +
                                    ") failed: " + r.error().ToString()};
    }
  }
  // A node left running stays journaled, so the next run (or the operator) finds it.
  if (first_failure) return MakeError(std::move(*first_failure));
  std::error_code ec;
  std::filesystem::remove_all(spec_.state_dir + "/target", ec);
  for (std::string_view key : {kKeyTargetNodes, kKeyTargetCluster, kKeyTargetPort, kKeyTargetDir}) {
    auto r = journal_->Erase(key);
    if (!r) return MakeError(r.error());
  }
  return {};
}

Result<void> LocalClusterProvider::Provision(const ProviderEvent& event) {
  const auto nodes = Nodes();
  if (!nodes.empty()) {
    std::string problem;
    if (JournalState(journal_, kKeyTargetCluster) != std::string(kFormed)) {
      problem = "the local cluster's " + std::to_string(nodes.size()) +
                " nodes were started but the cluster was not formed (keyferry stopped "
                "while forming it)";
    }
    std::vector<std::string> replicas_gone;
    for (const auto& n : nodes) {
      if (!problem.empty()) break;
      LocalServer server{
          static_cast<pid_t>(n.pid), n.port, spec_.target.local.bind, n.dir, Password(),
          spec_.target.local.tls};
      auto health = CheckLocalServer(server);
      if (health.alive) continue;
      if (n.primary) {
        problem = "the local cluster's " + NodeName(n) + " is gone: " + health.problem;
      } else {
        replicas_gone.push_back(NodeName(n));
      }
    }
    if (problem.empty()) {
      for (const auto& r : replicas_gone) {
        event(EventKind::kWarn,
              "the local cluster's " + r +
                  " is gone; its primary still serves every key, so the copy goes on without it",
              nlohmann::json::object());
      }
      event(EventKind::kInfo,
            "reusing the local Valkey Cluster keyferry started (" + std::to_string(nodes.size()) +
                " nodes, seed port " + std::to_string(nodes.front().port) + ")",
            nlohmann::json::object());
      return {};
    }
    event(EventKind::kWarn,
          problem + "; removing every node, provisioning a new cluster and starting the copy over",
          nlohmann::json::object());
    KF_RETURN_IF_ERROR(RemoveNodes());
    std::error_code ec;
    std::filesystem::remove(spec_.state_dir + "/sync-checkpoint.json", ec);
  }
  return StartCluster(event);
}

Result<void> LocalClusterProvider::StartCluster(const ProviderEvent& event) {
  const auto& l = spec_.target.local;
  const int shards = l.shards;
  const int replicas = l.replicas_per_shard;
  const std::string password = Password();
  auto seed = spec_.TargetUri(0);
  if (!seed) return MakeError(seed.error());
  const std::string host = seed->host;  // where keyferry (and MEET) reach the nodes

  // 1. Start every node and journal it at once.
  std::vector<LocalClusterNode> nodes;
  for (int i = 0; i < shards * (1 + replicas); ++i) {
    LocalClusterNode n;
    n.primary = i < shards;
    n.shard = n.primary ? i : (i - shards) / replicas;
    n.dir = spec_.state_dir + "/target/node-" + std::to_string(i);
    n.bus_port = PickFreePort(l.bind);
    LocalServerConfig config;
    config.binary = l.valkey_server;
    config.bind = l.bind;
    config.port = 0;
    if (l.maxmemory > 0) config.maxmemory = std::to_string(l.maxmemory);
    config.persistence = std::string(PersistenceName(l.persistence));
    config.password = password;
    config.extra_config = l.extra_config;
    config.extra_config["cluster-enabled"] = "yes";
    config.extra_config["cluster-config-file"] = "nodes.conf";
    config.extra_config["cluster-port"] = std::to_string(n.bus_port);
    config.tls = l.tls;
    if (l.tls.enabled) {
      // TLS only: the client port is the TLS port (port 0), the bus and the replicas' links
      // speak TLS too, and a node announces its TLS port in CLUSTER SHARDS/SLOTS/NODES, so
      // MEET, {nodes} and every client reach the nodes on it. The nodes present their own
      // certificate to each other (no tls-client-cert-file), so it serves as a client one.
      config.extra_config["tls-cluster"] = "yes";
      config.extra_config["tls-replication"] = "yes";
    }
    if (!password.empty()) config.extra_config["masterauth"] = password;
    config.dir = n.dir;
    auto server = StartLocalServer(config, kStartTimeout);
    if (!server) {
      return MakeError(ControlErrc::kProvisionFailed,
                       "starting node " + std::to_string(i) +
                           " of the local Valkey Cluster: " + server.error().ToString());
    }
    n.pid = server->pid;
    n.port = server->port;
    nodes.push_back(n);
    KF_RETURN_IF_ERROR(SaveNodes(nodes));
  }

  // The running nodes must be the engine and version the spec asks for (PREFLIGHT asked
  // the binary; a wrapper or PATH change in between would otherwise go unnoticed).
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  KF_RETURN_IF_ERROR(ConfirmStartedEngine(
      spec_, *target, "the started cluster node on port " + std::to_string(nodes.front().port),
      l.valkey_server));

  // 2. Form the cluster.
  std::vector<std::unique_ptr<net::Client>> clients;
  std::vector<std::string> ids;
  for (const auto& n : nodes) {
    net::Uri uri = *target;
    uri.port = n.port;
    auto client = std::make_unique<net::Client>();
    if (auto c = client->Connect(uri); !c) {
      return MakeError(FormError("cannot reach the " + NodeName(n) + ": " + c.error().ToString()));
    }
    auto id = client->Call({"CLUSTER", "MYID"});
    if (!id || id->is_error()) {
      return MakeError(
          FormError("CLUSTER MYID failed on the " + NodeName(n) + (id ? ": " + id->str() : "")));
    }
    ids.push_back(id->str());
    // Distinct epochs before the nodes meet, so they need not resolve collisions.
    auto epoch = client->Call({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(clients.size() + 1)});
    if (!epoch || !epoch->IsOk()) {
      return MakeError(FormError("CLUSTER SET-CONFIG-EPOCH failed on the " + NodeName(n) +
                                 (epoch ? ": " + epoch->str() : "")));
    }
    clients.push_back(std::move(client));
  }
  for (size_t i = 1; i < nodes.size(); ++i) {
    auto met = clients[0]->Call({"CLUSTER", "MEET", host, std::to_string(nodes[i].port),
                                 std::to_string(nodes[i].bus_port)});
    if (!met || !met->IsOk()) {
      return MakeError(FormError("CLUSTER MEET of the " + NodeName(nodes[i]) + " failed" +
                                 (met ? ": " + met->str() : "")));
    }
  }
  for (int s = 0; s < shards; ++s) {
    const int first = s * kSlots / shards;
    const int last = (s + 1) * kSlots / shards - 1;
    auto added = clients[static_cast<size_t>(s)]->Call(
        {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last)});
    if (!added || !added->IsOk()) {
      return MakeError(FormError("CLUSTER ADDSLOTSRANGE " + std::to_string(first) + " " +
                                 std::to_string(last) + " failed on the " +
                                 NodeName(nodes[static_cast<size_t>(s)]) +
                                 (added ? ": " + added->str() : "")));
    }
  }
  // Every node must know every other before a replica can follow its primary by id.
  const std::string known = "cluster_known_nodes:" + std::to_string(nodes.size());
  auto deadline = Clock::now() + kFormTimeout;
  std::string last_seen;
  auto all_say = [&](const std::string& wanted) -> bool {
    for (size_t i = 0; i < nodes.size(); ++i) {
      auto info = clients[i]->Call({"CLUSTER", "INFO"});
      if (!info || info->is_error() || info->str().find(wanted) == std::string::npos) {
        last_seen = NodeName(nodes[i]) + " does not say " + wanted + " yet";
        return false;
      }
    }
    return true;
  };
  while (!all_say(known)) {
    if (Clock::now() > deadline) {
      return MakeError(FormError("the nodes did not all meet within " +
                                 std::to_string(kFormTimeout.count()) + " ms (" + last_seen + ")"));
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  for (size_t i = static_cast<size_t>(shards); i < nodes.size(); ++i) {
    const std::string& primary_id = ids[static_cast<size_t>(nodes[i].shard)];
    auto attached = clients[i]->Call({"CLUSTER", "REPLICATE", primary_id});
    if (!attached || !attached->IsOk()) {
      return MakeError(FormError("CLUSTER REPLICATE " + primary_id + " failed on the " +
                                 NodeName(nodes[i]) + (attached ? ": " + attached->str() : "")));
    }
  }
  while (!all_say("cluster_state:ok") || !all_say("cluster_slots_ok:16384")) {
    if (Clock::now() > deadline) {
      return MakeError(FormError("the cluster did not reach cluster_state:ok within " +
                                 std::to_string(kFormTimeout.count()) + " ms (" + last_seen + ")"));
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  // A replica counts once its role is set (CLUSTER REPLICATE turns it into a replica at
  // once); its first sync of an empty primary finishes by itself.
  KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetCluster, std::string(kFormed)));
  nlohmann::json data = nlohmann::json::parse(LocalClusterNodesToJson(nodes), nullptr, false);
  event(EventKind::kInfo,
        "started a local Valkey Cluster of " + std::to_string(shards) + " shards with " +
            std::to_string(replicas) + " replicas each (" + std::to_string(nodes.size()) +
            " nodes, seed " + host + ":" + std::to_string(nodes.front().port) + ")",
        {{"nodes", data}});
  return {};
}

Result<bool> LocalClusterProvider::ConfirmOrReplace(const ProviderEvent& event) {
  const auto before = JournalState(journal_, kKeyTargetNodes);
  KF_RETURN_IF_ERROR(Provision(event));
  return JournalState(journal_, kKeyTargetNodes) != before;
}

Result<void> LocalClusterProvider::ConfirmAfterCutover() {
  for (const auto& n : Nodes()) {
    if (!n.primary) continue;
    LocalServer server{
        static_cast<pid_t>(n.pid), n.port, spec_.target.local.bind, n.dir, Password(),
        spec_.target.local.tls};
    auto health = CheckLocalServer(server);
    if (!health.alive) {
      return MakeError(ControlErrc::kPhaseFailed,
                       "the local cluster's " + NodeName(n) + ": " + health.problem +
                           ". The cutover had started, so the data lives in that cluster: "
                           "keyferry will not provision a new, empty one. Start valkey-server "
                           "again from its directory " +
                           n.dir + " (its nodes.conf keeps its place in the cluster) on port " +
                           std::to_string(n.port) + ", then run keyferry apply again");
    }
  }
  return {};
}

Result<void> LocalClusterProvider::Remove(const ProviderEvent& event) {
  const auto nodes = Nodes();
  if (nodes.empty()) return {};
  KF_RETURN_IF_ERROR(RemoveNodes());
  event(EventKind::kInfo,
        "removed the local Valkey Cluster (" + std::to_string(nodes.size()) +
            " valkey-server processes and their dirs)",
        nlohmann::json::object());
  return {};
}

ProviderDescription LocalClusterProvider::Describe() const {
  const auto& l = spec_.target.local;
  const int total = l.shards * (1 + l.replicas_per_shard);
  ProviderDescription d;
  d.data = {{"provider", "local"},
            {"topology", "cluster"},
            {"shards", l.shards},
            {"replicas_per_shard", l.replicas_per_shard},
            {"binary", l.valkey_server},
            {"bind", l.bind},
            {"maxmemory", l.maxmemory},
            {"persistence", PersistenceName(l.persistence)},
            {"dir", spec_.state_dir + "/target"}};
  d.line =
      "  + provision  a Valkey Cluster of " + std::to_string(l.shards) + " shards x " +
      std::to_string(1 + l.replicas_per_shard) + " nodes (" + std::to_string(total) + " " +
      l.valkey_server + " processes on " + l.bind + ", free ports), maxmemory " +
      (l.maxmemory ? std::to_string(l.maxmemory) + " bytes per node" : std::string("unlimited")) +
      ", persistence " + std::string(PersistenceName(l.persistence)) + ", data in " +
      spec_.state_dir + "/target";
  return d;
}

}  // namespace kf::control
