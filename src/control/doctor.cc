// Doctor checks (see doctor.h). Each check reads, never writes.
#include "control/doctor.h"

#include <charconv>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "control/journal.h"
#include "control/local_provider.h"
#include "control/source_control.h"
#include "net/client.h"
#include "net/errc.h"
#include "net/server_info.h"

namespace kf::control {
namespace {

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

const char* StatusName(CheckStatus s) {
  switch (s) {
    case CheckStatus::kOk:
      return "ok";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "FAIL";
  }
  return "?";
}

struct Probe {
  std::vector<std::string> command;
  std::string needed_for;
};

// CLIENT PAUSE shows in no INFO field. PUBLISH to a channel nobody listens on is held by a
// write pause (and by PAUSE ALL) and changes no data, so a PUBLISH that gets no answer
// within a second means the server's writes are paused. False when the probe cannot tell
// (no connection, PUBLISH not allowed): the other checks report those.
bool WritesPaused(const net::Uri& uri) {
  net::Client probe;
  net::ClientOptions options;
  options.client_name = "keyferry-doctor";
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.io_timeout = std::chrono::milliseconds(1000);
  if (!probe.Connect(uri, options)) return false;
  auto reply = probe.Call({"PUBLISH", "__keyferry:doctor:pause-probe", "?"});
  return !reply && reply.error().code == make_error_code(net::NetErrc::kTimeout);
}

// What to say when a connection attempt failed; a timeout after connecting usually means
// a server that is paused or busy rather than a wrong address.
std::string ConnectAction(const Error& e, const std::string& usual) {
  if (e.code == make_error_code(net::NetErrc::kTimeout)) {
    return "the server did not answer in time: it may be paused (CLIENT PAUSE ALL; "
           "CLIENT UNPAUSE ends it), running a long script (SCRIPT KILL / FUNCTION KILL) or "
           "overloaded; otherwise " +
           usual;
  }
  return usual;
}

// The "<end>.connect" check: takes the spec's URI (its password from the environment)
// and connects `client`. Adds the check to `report` either way; true when connected.
bool ConnectCheck(const std::string& name, const Result<net::Uri>& uri,
                  const std::string& uri_action, const std::string& connect_action,
                  net::Client& client, DoctorReport& report) {
  DoctorCheck conn;
  conn.name = name;
  if (!uri) {
    conn.status = CheckStatus::kFail;
    conn.detail = uri.error().ToString();
    conn.action = uri_action;
  } else if (auto connected = client.Connect(*uri); !connected) {
    conn.status = CheckStatus::kFail;
    conn.detail = connected.error().ToString();
    conn.action = ConnectAction(connected.error(), connect_action);
  } else {
    conn.detail = "connected to " + uri->Endpoint();
  }
  report.checks.push_back(conn);
  return conn.status != CheckStatus::kFail;
}

// ACL DRYRUN answers +OK when allowed, else a bulk string explaining the denial.
void CheckPermissions(net::Client& client, const std::string& user, const std::string& end,
                      const std::vector<Probe>& probes, const std::string& extra_hint,
                      DoctorReport& report) {
  std::vector<std::string> missing;
  bool dryrun_supported = true;
  for (const auto& probe : probes) {
    std::vector<std::string> args = {"ACL", "DRYRUN", user};
    args.insert(args.end(), probe.command.begin(), probe.command.end());
    auto reply = client.Call(args);
    if (!reply) continue;
    if (reply->is_error()) {
      if (reply->str().find("unknown") != std::string::npos ||
          reply->str().find("NOPERM") != std::string::npos) {
        dryrun_supported = false;
        break;
      }
      continue;
    }
    if (!reply->IsOk()) {
      missing.push_back(
          "+" + probe.command[0] +
          (probe.command.size() > 1 && probe.command[0] == "CLIENT" ? "|" + probe.command[1] : "") +
          " (" + probe.needed_for + ")");
    }
  }
  DoctorCheck check;
  check.name = end + ".permissions";
  if (!dryrun_supported) {
    check.status = CheckStatus::kWarn;
    check.detail = "cannot check permissions (ACL DRYRUN unavailable to user \"" + user + "\")";
    check.action = "make sure the user may run the commands listed in docs/apply.md";
  } else if (missing.empty()) {
    check.detail = "user \"" + user + "\" has every permission the migration needs";
  } else {
    check.status = CheckStatus::kFail;
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    check.detail = "user \"" + user + "\" lacks " + list;
    check.action = "grant them: ACL SETUSER " + user + " ";
    for (const auto& m : missing) check.action += m.substr(0, m.find(' ')) + " ";
    check.action += extra_hint;
  }
  report.checks.push_back(check);
}

void CheckSource(const Spec& spec, DoctorReport& report, std::string* source_version,
                 int64_t* used_memory, int64_t* subexpiry) {
  auto uri = spec.SourceUri();
  net::Client client;
  if (!ConnectCheck("source.connect", uri,
                    "set the environment variable the spec names in source.password_env",
                    "check source.uri, the user and the password", client, report)) {
    return;
  }

  std::string user = uri->user.empty() ? "default" : uri->user;
  std::vector<Probe> probes = {{{"PSYNC", "?", "-1"}, "FULL_SYNC: the replica link"},
                               {{"REPLCONF", "ACK", "0"}, "FULL_SYNC: the replica link"},
                               {{"CLIENT", "PAUSE", "1", "WRITE"}, "PAUSE_WRITES"},
                               {{"INFO"}, "offsets and checks"}};
  if (spec.after_cutover.source != SourceAfterCutover::kKeep)
    probes.push_back({{"SHUTDOWN"}, "DECOMMISSION"});
  CheckPermissions(client, user, "source", probes,
                   "(a managed service that forbids PSYNC needs the scan source, which is "
                   "not built yet)",
                   report);

  auto server = client.Call({"INFO", "server"});
  auto repl = client.Call({"INFO", "replication"});
  auto persistence = client.Call({"INFO", "persistence"});
  auto memory = client.Call({"INFO", "memory"});
  auto keyspace = client.Call({"INFO", "keyspace"});
  if (server && !server->is_error())
    *source_version = net::InfoField(server->str(), "redis_version");
  if (memory && !memory->is_error())
    *used_memory = ToInt(net::InfoField(memory->str(), "used_memory"));
  if (keyspace && !keyspace->is_error()) {
    const std::string& text = keyspace->str();
    for (size_t pos = text.find("subexpiry="); pos != std::string::npos;
         pos = text.find("subexpiry=", pos + 1)) {
      *subexpiry += ToInt(text.substr(pos + 10));
    }
  }

  DoctorCheck state;
  state.name = "source.state";
  std::vector<std::string> problems;
  if (repl && !repl->is_error()) {
    std::string role = net::InfoField(repl->str(), "role");
    if (role != "master") {
      problems.push_back("it is a " + role + " (master_link_status: " +
                         net::InfoField(repl->str(), "master_link_status") + "), not a primary");
    }
  }
  if (persistence && !persistence->is_error()) {
    const std::string& p = persistence->str();
    if (net::InfoField(p, "loading") == "1") problems.push_back("it is loading its dataset");
    if (net::InfoField(p, "rdb_bgsave_in_progress") == "1") {
      problems.push_back("a background save (BGSAVE) is in progress");
    }
    if (net::InfoField(p, "aof_rewrite_in_progress") == "1") {
      problems.push_back("an AOF rewrite is in progress");
    }
  }
  if (problems.empty()) {
    state.detail = "primary, not loading, no background save or AOF rewrite running";
  } else {
    state.status = CheckStatus::kFail;
    for (const auto& p : problems) state.detail += (state.detail.empty() ? "" : "; ") + p;
    state.action =
        "wait until the background job ends (INFO persistence), or point the spec at the "
        "primary; the full sync needs its own snapshot";
  }
  report.checks.push_back(state);

  DoctorCheck pause;
  pause.name = "source.writes";
  if (WritesPaused(*uri)) {
    pause.status = CheckStatus::kWarn;
    pause.detail = "writes on the source are paused (CLIENT PAUSE): a PUBLISH probe got no answer";
    pause.action =
        "if no keyferry apply is in PAUSE_WRITES right now, someone else paused the source "
        "(a failover, another tool): find out before migrating, CLIENT UNPAUSE ends it";
  } else {
    pause.detail = "writes are not paused";
  }
  report.checks.push_back(pause);
}

void CheckTarget(const Spec& spec, DoctorReport& report, int64_t used_memory, Journal* journal) {
  if (spec.target.provider == ProviderKind::kLocal) {
    DoctorCheck binary;
    binary.name = "target.binary";
    std::string found;
    if (spec.target.local.valkey_server.find('/') != std::string::npos) {
      found = std::filesystem::exists(spec.target.local.valkey_server)
                  ? spec.target.local.valkey_server
                  : "";
    } else {
      for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/usr/sbin/"}) {
        if (std::filesystem::exists(std::string(dir) + spec.target.local.valkey_server)) {
          found = std::string(dir) + spec.target.local.valkey_server;
          break;
        }
      }
    }
    if (found.empty()) {
      binary.status = CheckStatus::kFail;
      binary.detail = spec.target.local.valkey_server + " not found";
      binary.action =
          "install valkey-server (Debian: apt-get install -t bookworm-backports "
          "valkey-server) or set target.local.valkey_server";
    } else {
      binary.detail = "found " + found;
    }
    report.checks.push_back(binary);
    auto pid = journal ? journal->Get("target.pid") : Result<std::optional<std::string>>{};
    auto port = journal ? journal->Get("target.port") : Result<std::optional<std::string>>{};
    bool provisioned = journal && pid && *pid && port && *port;
    int wanted_port = spec.target.local.port;
    if (!provisioned && wanted_port > 0) {
      DoctorCheck free_port;
      free_port.name = "target.port";
      if (PortFree(spec.target.local.bind, wanted_port)) {
        free_port.detail = "port " + std::to_string(wanted_port) + " on " + spec.target.local.bind +
                           " is free for the new target";
      } else {
        free_port.status = CheckStatus::kFail;
        free_port.detail = "port " + std::to_string(wanted_port) + " on " + spec.target.local.bind +
                           " is already in use by another process";
        free_port.action = "set target.local.port to a free port, or to 0 to let keyferry pick one";
      }
      report.checks.push_back(free_port);
    }
    if (journal) {
      if (provisioned) {
        DoctorCheck drift;
        drift.name = "target.drift";
        auto target = spec.TargetUri(0);
        LocalServer server{static_cast<pid_t>(ToInt(**pid)), static_cast<int>(ToInt(**port)),
                           spec.target.local.bind, "",
                           target && target->has_password ? target->password : ""};
        auto health = CheckLocalServer(server);
        if (health.alive) {
          drift.detail = "the provisioned valkey-server (pid " + **pid + ") runs on port " + **port;
        } else {
          drift.status = CheckStatus::kFail;
          drift.detail = health.problem;
          drift.action =
              "run keyferry apply again: PROVISION starts a new target and the copy "
              "starts over (or keyferry abort to roll back)";
        }
        report.checks.push_back(drift);
      }
    }
    int64_t maxmemory = static_cast<int64_t>(spec.target.local.maxmemory);
    DoctorCheck headroom;
    headroom.name = "target.memory";
    if (maxmemory > 0 && used_memory > 0 && used_memory * 12 / 10 > maxmemory) {
      headroom.status = CheckStatus::kFail;
      headroom.detail = "the source uses " + std::to_string(used_memory) +
                        " bytes; target maxmemory is " + std::to_string(maxmemory);
      headroom.action = "raise target.local.maxmemory to at least 1.2x the source's used_memory";
    } else {
      headroom.detail = maxmemory > 0 ? "maxmemory " + std::to_string(maxmemory) +
                                            " bytes leaves room for the source's " +
                                            std::to_string(used_memory) + " bytes"
                                      : "no maxmemory limit on the target";
    }
    report.checks.push_back(headroom);
    return;
  }
  auto uri = spec.TargetUri(0);
  net::Client client;
  if (ConnectCheck("target.connect", uri,
                   "set the environment variable the spec names in target.external.password_env",
                   "check target.external.uri and its password", client, report)) {
    std::string user = uri->user.empty() ? "default" : uri->user;
    CheckPermissions(client, user, "target",
                     {{{"RESTORE", "k", "0", "x"}, "FULL_SYNC"},
                      {{"FLUSHALL"}, "rollback"},
                      {{"FUNCTION", "LOAD", "x"}, "functions"}},
                     "", report);
    if (WritesPaused(*uri)) {
      DoctorCheck pause;
      pause.name = "target.writes";
      pause.status = CheckStatus::kFail;
      pause.detail = "writes on the target are paused (CLIENT PAUSE): the copy could not write";
      pause.action = "find who paused it; CLIENT UNPAUSE on the target ends the pause";
      report.checks.push_back(pause);
    }
  }
}

}  // namespace

bool DoctorReport::ok() const {
  for (const auto& c : checks) {
    if (c.status == CheckStatus::kFail) return false;
  }
  return true;
}

std::string DoctorReport::ToText() const {
  std::string out;
  for (const auto& c : checks) {
    out += std::string("[") + StatusName(c.status) + "] " + c.name + ": " + c.detail + "\n";
    if (!c.action.empty()) out += "       what to do: " + c.action + "\n";
  }
  out += ok() ? "doctor: nothing blocks the migration\n"
              : "doctor: the migration cannot go on until the FAIL items are fixed\n";
  return out;
}

std::string DoctorReport::ToJson() const {
  nlohmann::json j = {{"ok", ok()}, {"checks", nlohmann::json::array()}};
  for (const auto& c : checks) {
    j["checks"].push_back({{"name", c.name},
                           {"status", StatusName(c.status)},
                           {"detail", c.detail},
                           {"action", c.action}});
  }
  return j.dump();
}

DoctorReport RunDoctor(const Spec& spec) {
  DoctorReport report;
  std::string source_version;
  int64_t used_memory = 0;
  int64_t subexpiry = 0;
  CheckSource(spec, report, &source_version, &used_memory, &subexpiry);
  DoctorCheck compat;
  compat.name = "compatibility";
  compat.detail = "source Redis " + (source_version.empty() ? "?" : source_version) + " → " +
                  spec.target.engine + " " + spec.target.version;
  if (subexpiry > 0) {
    compat.detail += "; " + std::to_string(subexpiry) + " keys carry hash-field TTLs";
    if (spec.migration.on_unsupported == sync::OnUnsupported::kFail) {
      compat.status = CheckStatus::kFail;
      compat.action =
          "Valkey 8 cannot hold hash-field TTLs: set migration.on_unsupported to "
          "drop-field-ttl (copy such hashes without field TTLs) or skip";
    } else {
      compat.status = CheckStatus::kWarn;
      compat.action = "those TTLs will be " +
                      std::string(spec.migration.on_unsupported == sync::OnUnsupported::kSkip
                                      ? "skipped with their keys"
                                      : "dropped");
    }
  }
  report.checks.push_back(compat);
  std::unique_ptr<Journal> journal;
  if (std::filesystem::exists(spec.state_dir + "/journal.db")) {
    auto opened = Journal::Open(spec.state_dir, false);
    if (opened) journal = std::move(*opened);
  }
  CheckTarget(spec, report, used_memory, journal.get());
  return report;
}

}  // namespace kf::control
