// Provider: the local standalone and the external target of a migration (see provider.h).
#include "control/provider.h"

#include <chrono>
#include <filesystem>

#include "control/checks.h"
#include "control/control_errc.h"
#include "control/local_cluster_provider.h"
#include "control/local_provider.h"
#include "net/client.h"
#include "net/cluster_probe.h"
#include "net/identity_probe.h"
#include "net/server_info.h"

namespace kf::control {
namespace {

using std::chrono::milliseconds;

std::optional<std::string> JournalState(Journal* journal, std::string_view key) {
  if (journal == nullptr) return std::nullopt;
  auto v = journal->Get(key);
  if (!v) return std::nullopt;
  return *v;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// LocalStandaloneProvider

std::optional<std::string> LocalStandaloneProvider::State(std::string_view key) const {
  return JournalState(journal_, key);
}

std::string LocalStandaloneProvider::Password() const {
  auto target = spec_.TargetUri(0);
  return target && target->has_password ? target->password : "";
}

Result<net::Uri> LocalStandaloneProvider::TargetUri() const {
  int port = 0;
  if (auto p = State(kKeyTargetPort)) port = std::stoi(*p);
  return spec_.TargetUri(port);
}

Result<void> LocalStandaloneProvider::Provision(const ProviderEvent& event) {
  if (auto pid = State(kKeyTargetPid)) {
    LocalServer server{static_cast<pid_t>(std::stol(*pid)),
                       std::stoi(*State(kKeyTargetPort)),
                       spec_.target.local.bind,
                       State(kKeyTargetDir).value_or(""),
                       Password(),
                       spec_.target.local.tls};
    auto health = CheckLocalServer(server);
    if (health.alive) {
      event(EventKind::kInfo,
            "reusing the valkey-server keyferry started (pid " + *pid + ", port " +
                std::to_string(server.port) + ")",
            nlohmann::json::object());
      return {};
    }
    event(EventKind::kWarn, health.problem + "; provisioning a new one and starting the copy over",
          nlohmann::json::object());
    auto removed = RemoveLocalServer(server);
    (void)removed;
    std::error_code ec;
    std::filesystem::remove(spec_.state_dir + "/sync-checkpoint.json", ec);
  }
  LocalServerConfig config;
  config.binary = spec_.target.local.valkey_server;
  config.bind = spec_.target.local.bind;
  config.port = spec_.target.local.port;
  if (spec_.target.local.maxmemory > 0) {
    config.maxmemory = std::to_string(spec_.target.local.maxmemory);
  }
  config.persistence = std::string(PersistenceName(spec_.target.local.persistence));
  config.password = Password();
  config.extra_config = spec_.target.local.extra_config;
  config.dir = spec_.state_dir + "/target";
  config.tls = spec_.target.local.tls;
  auto server = StartLocalServer(config, milliseconds(15000));
  if (!server) return MakeError(server.error());
  KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetPid, std::to_string(server->pid)));
  KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetPort, std::to_string(server->port)));
  KF_RETURN_IF_ERROR(journal_->Set(kKeyTargetDir, server->dir));
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  KF_RETURN_IF_ERROR(ConfirmStartedEngine(
      spec_, *target, "the started server on port " + std::to_string(server->port), config.binary));
  event(EventKind::kInfo,
        "started valkey-server pid " + std::to_string(server->pid) + " on " + server->bind + ":" +
            std::to_string(server->port),
        {{"pid", server->pid}, {"port", server->port}});
  return {};
}

Result<bool> LocalStandaloneProvider::ConfirmOrReplace(const ProviderEvent& event) {
  const auto pid_before = State(kKeyTargetPid);
  KF_RETURN_IF_ERROR(Provision(event));
  return State(kKeyTargetPid) != pid_before;
}

Result<void> LocalStandaloneProvider::ConfirmAfterCutover() {
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  auto pid = State(kKeyTargetPid);
  LocalServer server{pid ? static_cast<pid_t>(std::stol(*pid)) : -1,
                     target->port,
                     spec_.target.local.bind,
                     State(kKeyTargetDir).value_or(""),
                     Password(),
                     spec_.target.local.tls};
  auto health = CheckLocalServer(server);
  if (!health.alive) {
    return MakeError(ControlErrc::kPhaseFailed,
                     health.problem +
                         ". The cutover had started, so the data lives in that server: "
                         "keyferry will not provision a new, empty one. Start valkey-server "
                         "again from its directory " +
                         server.dir + " on port " + std::to_string(server.port) +
                         ", then run keyferry apply again");
  }
  return {};
}

Result<void> LocalStandaloneProvider::Remove(const ProviderEvent& event) {
  auto pid = State(kKeyTargetPid);
  if (!pid) return {};
  LocalServer server{static_cast<pid_t>(std::stol(*pid)),
                     std::stoi(*State(kKeyTargetPort)),
                     spec_.target.local.bind,
                     State(kKeyTargetDir).value_or(""),
                     Password(),
                     spec_.target.local.tls};
  auto r = RemoveLocalServer(server);
  event(EventKind::kInfo, "removed the provisioned valkey-server (pid " + *pid + ")",
        nlohmann::json::object());
  return r;
}

ProviderDescription LocalStandaloneProvider::Describe() const {
  const auto& l = spec_.target.local;
  std::string port = l.port ? std::to_string(l.port) : "a free port";
  ProviderDescription d;
  d.data = {{"provider", "local"},
            {"binary", l.valkey_server},
            {"bind", l.bind},
            {"port", l.port},
            {"maxmemory", l.maxmemory},
            {"persistence", PersistenceName(l.persistence)},
            {"dir", spec_.state_dir + "/target"}};
  d.line = "  + provision  " + l.valkey_server + " on " + l.bind + ":" + port + ", maxmemory " +
           (l.maxmemory ? std::to_string(l.maxmemory) + " bytes" : std::string("unlimited")) +
           ", persistence " + std::string(PersistenceName(l.persistence)) + ", data in " +
           spec_.state_dir + "/target";
  return d;
}

// ---------------------------------------------------------------------------------------
// ExternalProvider

std::string ExternalClusterProblem(const net::Uri& seed, bool must_be_empty) {
  auto topology = net::ReadClusterTopology(seed);
  if (!topology) return "reading the external cluster failed: " + topology.error().ToString();
  if (!*topology) return "the external target " + seed.Endpoint() + " is not a cluster node";
  const net::ClusterTopology& t = **topology;
  if (t.state != "ok") {
    return "the external cluster at " + seed.Endpoint() +
           " says cluster_state:" + (t.state.empty() ? std::string("unknown") : t.state) +
           ", not ok: wait until every slot is served";
  }
  if (auto unassigned = t.UnassignedSlots(); !unassigned.empty()) {
    return "the external cluster at " + seed.Endpoint() + " serves no node for slots " +
           net::SlotRangesToString(unassigned) + ": assign them (CLUSTER ADDSLOTSRANGE)";
  }
  if (!t.migrations.empty()) {
    std::string text;
    for (const auto& m : t.migrations) {
      text += (text.empty() ? "" : "; ") + net::DescribeSlotMigration(m);
    }
    return "the external cluster at " + seed.Endpoint() + " has slot migrations in progress (" +
           text + "): finish or cancel them (CLUSTER SETSLOT <slot> NODE|STABLE) first";
  }
  if (must_be_empty) {
    for (const auto& shard : t.shards) {
      if (shard.slots.empty()) continue;
      net::Uri uri = net::NodeUri(seed, shard.primary);
      net::Client client;
      if (auto c = client.Connect(uri); !c) {
        return "cannot reach the cluster's primary " + uri.Endpoint() + ": " + c.error().ToString();
      }
      auto size = client.Call({"DBSIZE"});
      if (size && size->type() == resp::ReplyType::kInteger && size->integer() > 0) {
        return "the external cluster's primary " + uri.Endpoint() + " holds " +
               std::to_string(size->integer()) +
               " keys; an external target must be empty before the migration (keyferry will "
               "not mix its copy with other data)";
      }
    }
  }
  return "";
}

bool ExternalProvider::Written() const {
  return JournalState(journal_, kKeyTargetWritten).has_value();
}

Result<net::Uri> ExternalProvider::TargetUri() const { return spec_.TargetUri(0); }

// Reachable, not the source, and empty unless keyferry already wrote there (PREFLIGHT
// checked all of it; checked again here, right before the first write).
Result<void> ExternalProvider::Provision(const ProviderEvent& event) {
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  net::Client client;
  auto connected = client.Connect(*target);
  if (!connected) {
    return MakeError(ControlErrc::kProvisionFailed,
                     "cannot reach the external target: " + connected.error().ToString());
  }
  auto target_id = net::ReadServerIdentity(*target);
  // A backup file as the source (source.rdb_file) is no server the target could be.
  if (!spec_.source.is_file()) {
    auto source = spec_.SourceUri();
    if (!source) return MakeError(source.error());
    auto source_id = net::ReadServerIdentity(*source);
    if (source_id && target_id && net::SameServer(*source_id, *target_id)) {
      return MakeError(ControlErrc::kProvisionFailed,
                       net::SameServerMessage(*source, *target, *target_id) +
                           ": copying a server onto itself would destroy its data; set "
                           "target.external.uri to the Valkey server to migrate to");
    }
  }
  const bool want_cluster = spec_.target.topology == Topology::kCluster;
  if (target_id && target_id->cluster() != want_cluster) {
    return MakeError(ControlErrc::kProvisionFailed,
                     want_cluster ? "the external target " + target->Endpoint() +
                                        " is a standalone server, but target.topology is "
                                        "cluster; nothing was written: point "
                                        "target.external.uri at a node of the cluster, or set "
                                        "topology: standalone"
                                  : net::ClusterNodeMessage(*target, "target") +
                                        "; nothing was written: set target.topology: cluster "
                                        "to migrate into that cluster, or point "
                                        "target.external.uri at a standalone Valkey server");
  }
  if (want_cluster) {
    std::string problem = ExternalClusterProblem(*target, !Written());
    if (!problem.empty()) {
      return MakeError(ControlErrc::kProvisionFailed,
                       problem + "; nothing was written: fix the cluster and apply again");
    }
  } else if (!Written()) {
    auto keyspace = client.Call({"INFO", "keyspace"});
    if (keyspace && !keyspace->is_error() && keyspace->str().find("keys=") != std::string::npos) {
      return MakeError(ControlErrc::kProvisionFailed,
                       "the external target " + target->Endpoint() +
                           " is not empty; an external target must be empty before the "
                           "migration (keyferry will not mix its copy with other data)");
    }
  }
  event(EventKind::kInfo, "external target " + target->Endpoint() + " is reachable and empty",
        nlohmann::json::object());
  return {};
}

Result<bool> ExternalProvider::ConfirmOrReplace(const ProviderEvent&) { return false; }

Result<void> ExternalProvider::ConfirmAfterCutover() {
  auto target = TargetUri();
  if (!target) return MakeError(target.error());
  net::Client client;
  if (auto connected = client.Connect(*target); !connected) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "the external target " + target->Endpoint() +
                         " does not answer: " + connected.error().ToString() +
                         ". The cutover had started, so the data lives there: bring it "
                         "back, then run keyferry apply again");
  }
  return {};
}

// The target was empty before keyferry wrote to it: emptying it (keys and function
// libraries) puts it back. Best effort, as a rollback is.
Result<void> ExternalProvider::Remove(const ProviderEvent& event) {
  if (!Written()) return {};
  auto target = TargetUri();
  if (!target) return {};
  std::vector<net::Uri> primaries = {*target};
  if (spec_.target.topology == Topology::kCluster) {
    if (auto topology = net::ReadClusterTopology(*target); topology && *topology) {
      primaries.clear();
      for (const auto& shard : (*topology)->shards) {
        if (!shard.slots.empty()) primaries.push_back(net::NodeUri(*target, shard.primary));
      }
    }
  }
  for (const net::Uri& uri : primaries) {
    net::Client client;
    if (!client.Connect(uri)) continue;
    auto f1 = client.Call({"FLUSHALL"});
    auto f2 = client.Call({"FUNCTION", "FLUSH"});
    (void)f1;
    (void)f2;
    event(EventKind::kInfo,
          "emptied the external target " + uri.Endpoint() + " (it was empty before)",
          nlohmann::json::object());
  }
  return {};
}

ProviderDescription ExternalProvider::Describe() const {
  ProviderDescription d;
  d.data = {{"provider", "external"}, {"uri", spec_.target.external.uri}};
  d.line = "  = target     external " + spec_.target.external.uri + " (must be empty)";
  return d;
}

// ---------------------------------------------------------------------------------------

Result<void> ConfirmStartedEngine(const Spec& spec, const net::Uri& uri, const std::string& started,
                                  const std::string& binary) {
  auto identity = net::ReadServerIdentity(uri);
  if (!identity) {
    return MakeError(ControlErrc::kProvisionFailed,
                     started + " does not answer INFO server: " + identity.error().ToString());
  }
  std::string mismatch =
      EngineMismatch(spec, "the server started from target.local.valkey_server " + binary,
                     identity->engine, identity->version);
  if (!mismatch.empty()) {
    return MakeError(ControlErrc::kProvisionFailed,
                     mismatch + "; point target.local.valkey_server at a valkey-server " +
                         (spec.target.version.empty() ? "" : spec.target.version + " ") +
                         "program");
  }
  return {};
}

std::unique_ptr<Provider> MakeProvider(const Spec& spec, Journal* journal) {
  switch (spec.target.provider) {
    case ProviderKind::kLocal:
      if (spec.target.topology == Topology::kCluster) {
        return std::make_unique<LocalClusterProvider>(spec, journal);
      }
      return std::make_unique<LocalStandaloneProvider>(spec, journal);
    case ProviderKind::kExternal:
      return std::make_unique<ExternalProvider>(spec, journal);
  }
  return std::make_unique<LocalStandaloneProvider>(spec, journal);  // unreachable
}

}  // namespace kf::control
