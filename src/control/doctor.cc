// Doctor checks (see doctor.h). Each check reads, never writes.
#include "control/doctor.h"

#include <charconv>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "control/checks.h"
#include "control/cutover_hook.h"
#include "control/journal.h"
#include "control/local_cluster_provider.h"
#include "control/local_provider.h"
#include "control/provider.h"
#include "net/client.h"
#include "net/cluster_probe.h"
#include "net/errc.h"
#include "net/identity_probe.h"
#include "net/server_info.h"
#include "source/rdb_file_survey.h"
#include "sync/cluster_source_sync.h"
#include "sync/keyspace_events.h"

namespace kf::control {
namespace {

// What a cluster node's cluster looks like, for the topology checks: " It is one of 3
// primaries: slots 0-5460 at 127.0.0.1:7000, ...; slot migrations in progress: ...".
std::string ClusterSummary(const net::Uri& uri) {
  net::ClusterReadOptions options;
  options.client.connect_timeout = std::chrono::milliseconds(5000);
  auto topology = net::ReadClusterTopology(uri, options);
  if (!topology) return " (its cluster could not be read: " + topology.error().ToString() + ")";
  if (!*topology) return "";
  const net::ClusterTopology& t = **topology;
  std::string out =
      " The cluster has " + std::to_string(t.ServingShardCount()) + " primaries serving slots:";
  bool first = true;
  for (const auto& shard : t.shards) {
    if (shard.slots.empty()) continue;
    out += std::string(first ? " " : ", ") + net::SlotRangesToString(shard.slots) + " at " +
           shard.primary.Address();
    first = false;
  }
  if (auto missing = t.UnassignedSlots(); !missing.empty()) {
    out += "; no primary serves slots " + net::SlotRangesToString(missing);
  }
  for (size_t i = 0; i < t.migrations.size(); ++i) {
    out += (i == 0 ? "; in migration: " : ", ") + net::DescribeSlotMigration(t.migrations[i]);
  }
  return out + ".";
}

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
  return "unknown";
}

std::string OrUnknown(const std::string& s) { return s.empty() ? "unknown" : s; }

struct Probe {
  std::vector<std::string> command;
  std::string needed_for;
};

// What the source said about itself, for the checks that compare the two ends.
struct SourceFacts {
  bool reachable = false;
  net::ServerIdentity identity;
  int64_t used_memory = 0;
  int64_t subexpiry = 0;
  std::vector<int> dbs_with_keys;  // from INFO keyspace
};

// One end of the migration as the spec names it, for connection messages.
struct EndNames {
  std::string end;           // "source" / "target"
  std::string uri_field;     // "source.uri"
  std::string user;          // ACL user ("" = default)
  std::string env_field;     // "source.password_env"
  std::string password_env;  // the variable's name, or ""
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

// The login advice: the password comes from the environment variable the spec names, never
// from a URI, so that is what a refused login points at.
std::string LoginAction(const EndNames& n) {
  std::string user = n.user.empty() ? "default" : n.user;
  if (n.password_env.empty()) {
    return "the " + n.end + " wants a password for user \"" + user +
           "\": put it in an environment variable and name that variable in " + n.env_field;
  }
  return "the password in the environment variable " + n.password_env + " (named by " +
         n.env_field + ") is not the password of user \"" + user + "\" on the " + n.end +
         ": export " + n.password_env + " with the right one";
}

// What to say when a connection attempt failed; a timeout after connecting usually means
// a server that is paused or busy rather than a wrong address.
std::string ConnectAction(const Error& e, const EndNames& n) {
  if (e.code == make_error_code(net::NetErrc::kAuthFailed)) return LoginAction(n);
  if (e.code == make_error_code(net::NetErrc::kTlsFailed)) {
    return "fix the TLS setting the message names (the tls section under " + n.end +
           " in the spec; docs/tls.md)";
  }
  std::string usual = "check " + n.uri_field + " and that the server runs";
  if (e.code == make_error_code(net::NetErrc::kTimeout)) {
    return "the server did not answer in time: it may be paused (CLIENT PAUSE ALL; "
           "CLIENT UNPAUSE ends it), running a long script (SCRIPT KILL / FUNCTION KILL) or "
           "overloaded; otherwise " +
           usual;
  }
  return usual;
}

// The net layer's words without its advice about URIs (a spec never holds a password).
std::string WithoutUriAdvice(std::string message) {
  size_t advice = message.find("; check the user and password in the URI");
  if (advice != std::string::npos) message.resize(advice);
  return message;
}

// The "<end>.connect" check: takes the spec's URI (its password from the environment)
// and connects `client`. Adds the check to `report` either way; true when connected and
// logged in.
bool ConnectCheck(const Result<net::Uri>& uri, const EndNames& names, net::Client& client,
                  DoctorReport& report) {
  DoctorCheck conn;
  conn.name = names.end + ".connect";
  if (!uri) {
    conn.status = CheckStatus::kFail;
    conn.detail = uri.error().ToString();
    conn.action = "set the environment variable the spec names in " + names.env_field;
  } else if (auto connected = client.Connect(*uri); !connected) {
    conn.status = CheckStatus::kFail;
    conn.detail = WithoutUriAdvice(connected.error().ToString());
    conn.action = ConnectAction(connected.error(), names);
  } else if (auto ping = client.Call({"PING"}); ping && ping->is_error()) {
    // A server that needs a password accepts the connection and refuses every command.
    conn.status = CheckStatus::kFail;
    conn.detail = uri->Endpoint() + " refused PING: " + ping->str();
    conn.action =
        ping->str().starts_with("NOAUTH") ? LoginAction(names) : "check what the server says above";
  } else {
    conn.detail = "connected to " + uri->Endpoint();
    if (uri->tls.enabled) conn.detail += " over " + uri->tls.Describe();
    if (uri->tls.enabled && uri->tls.insecure) {
      // Said as a warning in every doctor and PREFLIGHT report, never silently.
      conn.status = CheckStatus::kWarn;
      conn.action = "give the CA that signs the server's certificate with " +
                    uri->tls.OptionName("ca_cert") + " and remove " +
                    uri->tls.OptionName("insecure");
    }
  }
  report.checks.push_back(conn);
  return conn.status != CheckStatus::kFail;
}

// The permission as ACL SETUSER names it: +psync, +client|pause.
std::string AclName(const std::vector<std::string>& command) {
  std::string name = "+" + command[0];
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (command.size() > 1 && (command[0] == "CLIENT" || command[0] == "CONFIG")) {
    std::string sub = command[1];
    for (auto& c : sub) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    name += "|" + sub;
  }
  return name;
}

// ACL DRYRUN answers +OK when allowed, else a bulk string explaining the denial.
void CheckPermissions(net::Client& client, const std::string& user, const std::string& end,
                      const std::vector<Probe>& probes, const std::string& extra_hint,
                      DoctorReport& report) {
  std::vector<std::string> missing;
  std::vector<std::string> grants;
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
      missing.push_back(AclName(probe.command) + " (" + probe.needed_for + ")");
      grants.push_back(AclName(probe.command));
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
    check.action = "grant them: ACL SETUSER " + user;
    for (const auto& g : grants) check.action += " " + g;
    if (!extra_hint.empty()) check.action += " " + extra_hint;
  }
  report.checks.push_back(check);
}

// source.file: a backup file as the source (source.rdb_file). It is read whole, parse only
// (source/rdb_file_survey.h), so a truncated or corrupt file stops PREFLIGHT before
// anything is provisioned; what it holds stands in for what a server says about itself.
SourceFacts CheckSourceFile(const Spec& spec, DoctorReport& report) {
  SourceFacts facts;
  DoctorCheck file;
  file.name = "source.file";
  auto survey = source::SurveyRdbFile(spec.source.rdb_file);
  if (!survey) {
    const bool opened = survey.error().code != make_error_code(source::RdbFileErrc::kOpen);
    file.status = CheckStatus::kFail;
    file.detail = survey.error().ToString();
    file.action = opened ? "the file is not a complete RDB backup: take or download it again, and "
                           "check it with keyferry rdb inspect FILE"
                         : "check source.rdb_file (relative paths start at the spec's directory) "
                           "and the file's permissions";
    report.checks.push_back(file);
    return facts;
  }
  facts.reachable = true;
  const std::string& saved_by = survey->saved_by;
  if (saved_by.starts_with("Valkey ")) facts.identity.engine = "valkey";
  facts.identity.version = saved_by.substr(saved_by.find(' ') + 1);
  facts.subexpiry = static_cast<int64_t>(survey->field_ttl_hashes);
  for (const auto& [db, keys] : survey->keys_by_db) {
    if (keys > 0) facts.dbs_with_keys.push_back(static_cast<int>(db));
  }
  file.detail = spec.source.rdb_file + ": RDB " + std::to_string(survey->rdb_version) +
                (saved_by.empty() ? "" : " saved by " + saved_by) + ", " +
                std::to_string(survey->bytes) + " bytes, " + std::to_string(survey->keys) +
                " keys (" + std::to_string(survey->keys_with_expiry) + " with an expiry), " +
                std::to_string(survey->functions) + " function libraries; " +
                (survey->checksum_checked ? "its checksum matches"
                                          : "it carries no checksum, so corruption inside a value "
                                            "would show only when the target refuses it");
  report.checks.push_back(file);
  return facts;
}

// The checks of one source server (connect, permissions, state, writes) and what it says
// about itself. `uri` is the spec's source, or one primary of a cluster source.
SourceFacts CheckSourceNode(const Spec& spec, const Result<net::Uri>& uri, DoctorReport& report) {
  SourceFacts facts;
  net::Client client;
  EndNames names{"source", "source.uri", spec.source.user, "source.password_env",
                 spec.source.password_env};
  if (!ConnectCheck(uri, names, client, report)) return facts;
  facts.reachable = true;

  std::string user = uri->user.empty() ? "default" : uri->user;
  const bool scan = spec.source.mode == SourceMode::kScan;
  std::vector<Probe> probes;
  if (scan) {
    probes = {{{"SCAN", "0"}, "FULL_SYNC: the scan copy"},
              {{"DUMP", "k"}, "FULL_SYNC: the scan copy"},
              {{"PEXPIRETIME", "k"}, "FULL_SYNC: the scan copy"},
              {{"PSUBSCRIBE", "__keyspace@*__:*"}, "CATCH_UP: keyspace notifications"},
              {{"INFO", "commandstats"}, "CATCH_UP: seeing FLUSHDB/FLUSHALL/SWAPDB"}};
  } else {
    probes = {{{"PSYNC", "?", "-1"}, "FULL_SYNC: the replica link"},
              {{"REPLCONF", "ACK", "0"}, "FULL_SYNC: the replica link"}};
  }
  probes.push_back({{"CLIENT", "PAUSE", "1", "WRITE"}, "PAUSE_WRITES"});
  probes.push_back({{"INFO"}, "offsets and checks"});
  if (spec.after_cutover.source != SourceAfterCutover::kKeep)
    probes.push_back({{"SHUTDOWN"}, "DECOMMISSION"});
  CheckPermissions(client, user, "source", probes,
                   scan ? std::string()
                        : std::string("(a managed service that forbids PSYNC: set source.mode: "
                                      "scan, docs/scan.md)"),
                   report);
  if (scan) {
    // Scan mode follows changes through keyspace notifications (sync/keyspace_events.h).
    DoctorCheck notify;
    notify.name = "source.notifications";
    auto flags = client.Call({"CONFIG", "GET", "notify-keyspace-events"});
    if (flags && !flags->is_error() && flags->size() == 2) {
      const std::string missing = sync::MissingNotifyClasses((*flags)[1].str());
      if (missing.empty()) {
        notify.detail = "notify-keyspace-events \"" + (*flags)[1].str() +
                        "\" carries every class scan mode needs";
      } else {
        notify.status = CheckStatus::kWarn;
        notify.detail =
            "notify-keyspace-events \"" + (*flags)[1].str() + "\" lacks \"" + missing + "\"";
        notify.action =
            "keyferry adds them with CONFIG SET at FULL_SYNC and sets the old value "
            "back when the live sync ends";
      }
    } else {
      notify.status = CheckStatus::kWarn;
      notify.detail = "CONFIG GET is refused, so notify-keyspace-events cannot be read";
      notify.action =
          "set it to \"KEA\" in the service's parameter group; FULL_SYNC probes "
          "the classes with a few keys under keyferry:scan-probe: and stops, "
          "naming the missing ones";
    }
    report.checks.push_back(notify);
  }

  auto server = client.Call({"INFO", "server"});
  auto repl = client.Call({"INFO", "replication"});
  auto persistence = client.Call({"INFO", "persistence"});
  auto memory = client.Call({"INFO", "memory"});
  auto keyspace = client.Call({"INFO", "keyspace"});
  if (server && !server->is_error()) facts.identity = net::ParseServerIdentity(server->str());
  if (memory && !memory->is_error())
    facts.used_memory = ToInt(net::InfoField(memory->str(), "used_memory"));
  if (keyspace && !keyspace->is_error()) {
    const std::string& text = keyspace->str();
    for (size_t pos = text.find("subexpiry="); pos != std::string::npos;
         pos = text.find("subexpiry=", pos + 1)) {
      facts.subexpiry += ToInt(text.substr(pos + 10));
    }
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      int db = -1;
      if (line.rfind("db", 0) != 0) continue;
      auto [p, ec] = std::from_chars(line.data() + 2, line.data() + line.size(), db);
      if (ec == std::errc() && db >= 0 && line.find("keys=") != std::string::npos) {
        facts.dbs_with_keys.push_back(db);
      }
    }
  }

  DoctorCheck state;
  state.name = "source.state";
  std::vector<std::string> problems;
  if (repl && !repl->is_error()) {
    std::string role = net::InfoField(repl->str(), "role");
    if (role != "master") {
      problems.push_back("it is a " + OrUnknown(role) + " (master_link_status: " +
                         OrUnknown(net::InfoField(repl->str(), "master_link_status")) +
                         "), not a primary");
    }
  } else {
    problems.push_back("INFO replication failed, so its role is unknown");
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
        "point source.uri at the primary, or wait until the background job ends (INFO "
        "persistence): the full sync needs its own snapshot";
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
  return facts;
}

// The per-node checks of every primary of a cluster source folded into one check per name:
// the worst status; the detail of the first node when all are ok, else each node that is
// not ok with its own detail.
void FoldNodeChecks(const std::vector<std::pair<std::string, DoctorReport>>& nodes,
                    DoctorReport& report) {
  if (nodes.empty()) return;
  for (const DoctorCheck& first : nodes[0].second.checks) {
    DoctorCheck folded;
    folded.name = first.name;
    folded.detail = first.detail;
    std::string problems;
    for (const auto& [address, node] : nodes) {
      for (const DoctorCheck& c : node.checks) {
        if (c.name != first.name || c.status == CheckStatus::kOk) continue;
        if (c.status == CheckStatus::kFail || folded.status == CheckStatus::kOk) {
          if (folded.action.empty() || c.status == CheckStatus::kFail) folded.action = c.action;
          folded.status = c.status;
        }
        problems += (problems.empty() ? "" : "; ") + ("primary " + address + ": " + c.detail);
      }
    }
    if (problems.empty()) {
      folded.detail += " (on each of the " + std::to_string(nodes.size()) + " primaries)";
    } else {
      folded.detail = problems;
    }
    report.checks.push_back(folded);
  }
}

SourceFacts CheckSource(const Spec& spec, DoctorReport& report) {
  auto uri = spec.SourceUri();
  DoctorReport seed;
  SourceFacts facts = CheckSourceNode(spec, uri, seed);
  DoctorCheck topology;
  topology.name = "source.topology";
  if (!facts.reachable || !facts.identity.cluster()) {
    for (auto& c : seed.checks) report.checks.push_back(std::move(c));
    if (!facts.reachable) return facts;
    topology.detail = facts.identity.mode.empty() ? "not a cluster node (mode unknown)"
                                                  : "mode " + facts.identity.mode;
    report.checks.push_back(topology);
    return facts;
  }
  // A cluster source (docs/cluster.md, "apply from a cluster source"): any node names it;
  // the cluster must be copiable as it stands, and every primary passes the source checks.
  net::ClusterReadOptions options;
  options.client.connect_timeout = std::chrono::milliseconds(5000);
  auto read = net::ReadClusterTopology(*uri, options);
  if (!read || !*read) {
    report.checks.push_back(seed.checks.front());  // source.connect
    topology.status = CheckStatus::kFail;
    topology.detail = net::ClusterNodeMessage(*uri, "source") + ", and its cluster could not be " +
                      "read: " + (read ? "it says it is no cluster node" : read.error().ToString());
    topology.action = "check that CLUSTER SHARDS (or CLUSTER NODES) works for the source user";
    report.checks.push_back(topology);
    facts.reachable = false;
    return facts;
  }
  const net::ClusterTopology& cluster = **read;
  if (auto ready = sync::CheckSourceTopology(cluster, uri->Endpoint()); !ready) {
    topology.status = CheckStatus::kFail;
    topology.detail = ready.error().message + "." + ClusterSummary(*uri);
    topology.action =
        "make the source cluster stable first: every slot served, no slot in migration, "
        "cluster_state:ok (CLUSTER INFO)";
  } else {
    topology.detail =
        "a Redis Cluster: cluster_state ok, every slot served, no slot migration in "
        "progress; one live sync per primary." +
        ClusterSummary(*uri);
  }
  std::vector<std::pair<std::string, DoctorReport>> nodes;
  SourceFacts all;
  all.reachable = true;
  all.identity = facts.identity;
  std::set<int> dbs;
  for (const auto& shard : cluster.shards) {
    if (shard.slots.empty()) continue;
    net::Uri node = net::NodeUri(*uri, shard.primary);
    DoctorReport node_report;
    SourceFacts f = CheckSourceNode(spec, node, node_report);
    nodes.emplace_back(node.Endpoint(), std::move(node_report));
    all.reachable = all.reachable && f.reachable;
    all.used_memory += f.used_memory;
    all.subexpiry += f.subexpiry;
    dbs.insert(f.dbs_with_keys.begin(), f.dbs_with_keys.end());
    if (all.identity.version.empty()) all.identity.version = f.identity.version;
  }
  all.dbs_with_keys.assign(dbs.begin(), dbs.end());
  FoldNodeChecks(nodes, report);
  report.checks.push_back(topology);
  return all;
}

// target.memory: the source's used_memory against the target's maxmemory (0: no limit).
DoctorCheck MemoryCheck(int64_t used_memory, int64_t maxmemory, const std::string& field) {
  DoctorCheck headroom;
  headroom.name = "target.memory";
  if (maxmemory > 0 && used_memory > 0 && used_memory * 12 / 10 > maxmemory) {
    headroom.status = CheckStatus::kFail;
    headroom.detail = "the source uses " + std::to_string(used_memory) +
                      " bytes; the target's maxmemory is " + std::to_string(maxmemory) +
                      " bytes, less than 1.2x that: the copy would run out of memory";
    headroom.action = "raise " + field + " to at least " + std::to_string(used_memory * 12 / 10) +
                      " bytes (1.2x the source's used_memory)";
  } else if (maxmemory > 0) {
    headroom.detail = "maxmemory " + std::to_string(maxmemory) + " bytes leaves room for the " +
                      (used_memory > 0 ? std::to_string(used_memory) : std::string("unknown")) +
                      " bytes the source uses";
  } else {
    headroom.detail = "no maxmemory limit on the target";
  }
  return headroom;
}

// target.binary and target.engine of the local provider: the program exists, runs, and
// says it is the Valkey version the spec asks for. Returns the version it reported ("" when
// unknown).
std::string CheckLocalBinary(const Spec& spec, DoctorReport& report) {
  DoctorCheck binary;
  binary.name = "target.binary";
  const std::string& name = spec.target.local.valkey_server;
  ProgramLookup found = FindProgram(name, spec.spec_dir);
  if (!found.found) {
    binary.status = CheckStatus::kFail;
    binary.detail =
        name + " not found" + (name.find('/') == std::string::npos ? " on PATH" : std::string());
    binary.action =
        "install valkey-server (Debian: apt-get install -t bookworm-backports "
        "valkey-server) or set target.local.valkey_server";
  } else if (!found.executable) {
    binary.status = CheckStatus::kFail;
    binary.detail = found.path + " exists but is not executable";
    binary.action = "chmod +x " + found.path + ", or set target.local.valkey_server";
  } else {
    binary.detail = "found " + found.path;
  }
  report.checks.push_back(binary);
  if (binary.status == CheckStatus::kFail) return "";

  DoctorCheck engine;
  engine.name = "target.engine";
  std::string what = "target.local.valkey_server " + found.path;
  auto ran = RunProgram({found.path, "--version"}, std::chrono::seconds(10));
  std::optional<ProgramVersion> version;
  if (ran && !ran->timed_out && ran->exit_code == 0) version = ParseVersionOutput(ran->output);
  if (!version) {
    engine.status = CheckStatus::kFail;
    engine.detail =
        found.path + " --version did not print a server version" +
        (ran ? " (exit " + std::to_string(ran->exit_code) + ": " + ran->output.substr(0, 200) + ")"
             : ": " + ran.error().ToString());
    engine.action = "point target.local.valkey_server at a valkey-server program";
    report.checks.push_back(engine);
    return "";
  }
  std::string mismatch = EngineMismatch(spec, what, version->engine, version->version);
  if (!mismatch.empty()) {
    engine.status = CheckStatus::kFail;
    engine.detail = mismatch;
    engine.action = "set target.local.valkey_server to a valkey-server " +
                    (spec.target.version.empty() ? std::string() : spec.target.version + " ") +
                    "program (Debian: apt-get install -t bookworm-backports valkey-server)" +
                    (spec.target.engine == version->engine ? ", or change target.version" : "");
  } else {
    engine.detail = found.path + " is Valkey " + version->version +
                    (spec.target.version.empty() ? std::string()
                                                 : " (target.version " + spec.target.version + ")");
  }
  report.checks.push_back(engine);
  return mismatch.empty() ? version->version : "";
}

// Local cluster: drift of every journaled node, memory (maxmemory is per node: the shards
// together hold the dataset).
void CheckLocalCluster(const Spec& spec, DoctorReport& report, const SourceFacts& source,
                       Journal* journal, bool for_preflight) {
  const auto& l = spec.target.local;
  auto text = journal ? journal->Get(kKeyTargetNodes) : Result<std::optional<std::string>>{};
  auto nodes = journal && text && *text ? LocalClusterNodesFromJson(**text) : std::nullopt;
  if (nodes && !nodes->empty() && !for_preflight) {
    DoctorCheck drift;
    drift.name = "target.drift";
    auto target = spec.TargetUri(0);
    std::vector<std::string> problems;
    for (const auto& n : *nodes) {
      LocalServer server{static_cast<pid_t>(n.pid),
                         n.port,
                         l.bind,
                         n.dir,
                         target && target->has_password ? target->password : "",
                         l.tls};
      auto health = CheckLocalServer(server);
      if (!health.alive) {
        problems.push_back(std::string(n.primary ? "primary" : "replica") + " of shard " +
                           std::to_string(n.shard) + ": " + health.problem);
      }
    }
    if (problems.empty()) {
      drift.detail =
          "the " + std::to_string(nodes->size()) + " nodes of the provisioned local cluster run";
    } else {
      drift.status = CheckStatus::kFail;
      for (const auto& p : problems) drift.detail += (drift.detail.empty() ? "" : "; ") + p;
      auto started = journal->Get("cutover.started");
      drift.action = started && *started
                         ? "the cutover has started, so the data lives in that cluster: restart "
                           "each node from its directory (its nodes.conf keeps its place) "
                           "before running keyferry apply again"
                         : "run keyferry apply again: PROVISION replaces a cluster that lost a "
                           "primary and the copy starts over (or keyferry abort to roll back)";
    }
    report.checks.push_back(drift);
  }
  DoctorCheck topology;
  topology.name = "target.topology";
  topology.detail = "a local Valkey Cluster of " + std::to_string(l.shards) + " shards with " +
                    std::to_string(l.replicas_per_shard) + " replicas each";
  report.checks.push_back(topology);
  report.checks.push_back(MemoryCheck(source.used_memory,
                                      static_cast<int64_t>(l.maxmemory) * l.shards,
                                      "target.local.maxmemory (per node, times the shards)"));
}

// Local provider: binary, engine, port, drift, memory. Returns the target version.
std::string CheckLocalTarget(const Spec& spec, DoctorReport& report, const SourceFacts& source,
                             Journal* journal, bool for_preflight) {
  std::string version = CheckLocalBinary(spec, report);
  if (spec.target.topology == Topology::kCluster) {
    CheckLocalCluster(spec, report, source, journal, for_preflight);
    return version;
  }
  auto pid = journal ? journal->Get(kKeyTargetPid) : Result<std::optional<std::string>>{};
  auto port = journal ? journal->Get(kKeyTargetPort) : Result<std::optional<std::string>>{};
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
  if (provisioned && !for_preflight) {
    DoctorCheck drift;
    drift.name = "target.drift";
    auto target = spec.TargetUri(0);
    LocalServer server{static_cast<pid_t>(ToInt(**pid)),
                       static_cast<int>(ToInt(**port)),
                       spec.target.local.bind,
                       "",
                       target && target->has_password ? target->password : "",
                       spec.target.local.tls};
    auto health = CheckLocalServer(server);
    if (health.alive) {
      drift.detail = "the provisioned valkey-server (pid " + **pid + ") runs on port " + **port;
    } else {
      drift.status = CheckStatus::kFail;
      drift.detail = health.problem;
      auto started = journal->Get("cutover.started");
      if (started && *started) {
        drift.action =
            "the cutover has started, so the data lives in that server: restart it from its "
            "directory (" +
            journal->Get(kKeyTargetDir).value_or(std::nullopt).value_or("the state dir") +
            ") before running keyferry apply again";
      } else {
        drift.action =
            "run keyferry apply again: PROVISION starts a new target and the copy "
            "starts over (or keyferry abort to roll back)";
      }
    }
    report.checks.push_back(drift);
  }
  report.checks.push_back(MemoryCheck(source.used_memory,
                                      static_cast<int64_t>(spec.target.local.maxmemory),
                                      "target.local.maxmemory"));
  return version;
}

// External provider: login, permissions, engine and version, not the source itself, empty,
// memory, not paused. Returns the target version.
std::string CheckExternalTarget(const Spec& spec, DoctorReport& report, const SourceFacts& source,
                                Journal* journal) {
  auto uri = spec.TargetUri(0);
  net::Client client;
  EndNames names{"target", "target.external.uri", spec.target.external.user,
                 "target.external.password_env", spec.target.external.password_env};
  if (!ConnectCheck(uri, names, client, report)) return "";
  std::string user = uri->user.empty() ? "default" : uri->user;
  CheckPermissions(client, user, "target",
                   {{{"RESTORE", "k", "0", "x"}, "FULL_SYNC"},
                    {{"FLUSHALL"}, "rollback"},
                    {{"FUNCTION", "LOAD", "x"}, "functions"}},
                   "", report);
  auto server = client.Call({"INFO", "server"});
  net::ServerIdentity identity;
  if (server && !server->is_error()) identity = net::ParseServerIdentity(server->str());

  DoctorCheck same;
  same.name = "target.identity";
  if (source.reachable && net::SameServer(source.identity, identity)) {
    same.status = CheckStatus::kFail;
    same.detail = "the external target " + uri->Endpoint() +
                  " is the source itself (both report run_id " + identity.run_id + ")";
    same.action =
        "point target.external.uri at the Valkey server to migrate to; copying a server onto "
        "itself would destroy its data";
    report.checks.push_back(same);
    return identity.version;  // nothing below means anything for the source itself
  }
  same.detail = identity.run_id.empty() ? "the target's run_id is unknown"
                                        : "the target is another server than the source";
  report.checks.push_back(same);

  auto written = journal ? journal->Get(kKeyTargetWritten) : Result<std::optional<std::string>>{};
  bool ours = journal && written && *written;
  const bool want_cluster = spec.target.topology == Topology::kCluster;
  DoctorCheck topology;
  topology.name = "target.topology";
  if (identity.cluster() && !want_cluster) {
    topology.status = CheckStatus::kFail;
    topology.detail = net::ClusterNodeMessage(*uri, "target") + "." + ClusterSummary(*uri);
    topology.action =
        "set target.topology: cluster to migrate into that cluster, or set "
        "target.external.uri to a standalone Valkey server";
  } else if (!identity.cluster() && want_cluster) {
    topology.status = CheckStatus::kFail;
    topology.detail = "target.topology is cluster, but the external target " + uri->Endpoint() +
                      " is not a cluster node (" +
                      (identity.mode.empty() ? "mode unknown" : "mode " + identity.mode) + ")";
    topology.action =
        "point target.external.uri at any node of the Valkey Cluster, or set topology: "
        "standalone";
  } else if (want_cluster) {
    std::string problem = ExternalClusterProblem(*uri, !ours);
    if (!problem.empty()) {
      topology.status = CheckStatus::kFail;
      topology.detail = problem;
      topology.action = "the target cluster must be stable, serve every slot and be empty";
    } else {
      topology.detail =
          "a Valkey Cluster: cluster_state ok, every slot served, no slot "
          "migration in progress, every primary empty." +
          ClusterSummary(*uri);
    }
  } else {
    topology.detail =
        identity.mode.empty() ? "not a cluster node (mode unknown)" : "mode " + identity.mode;
  }
  report.checks.push_back(topology);

  DoctorCheck engine;
  engine.name = "target.engine";
  if (!server || server->is_error()) {
    engine.status = CheckStatus::kFail;
    engine.detail = "INFO server on the target failed, so its engine and version are unknown";
    engine.action = "allow the target user +info";
  } else if (std::string mismatch = EngineMismatch(spec, "the external target " + uri->Endpoint(),
                                                   identity.engine, identity.version);
             !mismatch.empty()) {
    engine.status = CheckStatus::kFail;
    engine.detail = mismatch;
    engine.action = "point target.external.uri at a Valkey " + spec.target.version +
                    (spec.target.version.empty() ? "" : " ") + "server" +
                    (identity.engine == "valkey" ? ", or change target.version" : "");
  } else {
    engine.detail = "the target is Valkey " + OrUnknown(identity.version);
  }
  report.checks.push_back(engine);

  DoctorCheck empty;
  empty.name = "target.empty";
  auto keyspace = client.Call({"INFO", "keyspace"});
  uint64_t keys = 0;
  if (keyspace && !keyspace->is_error()) {
    const std::string& text = keyspace->str();
    for (size_t pos = text.find("keys="); pos != std::string::npos;
         pos = text.find("keys=", pos + 1)) {
      keys += static_cast<uint64_t>(ToInt(text.substr(pos + 5)));
    }
  }
  if (keys > 0 && !ours) {
    empty.status = CheckStatus::kFail;
    empty.detail =
        "the external target holds " + std::to_string(keys) + " keys that keyferry did not write";
    empty.action =
        "an external target must be empty: empty it (FLUSHALL, if its data is not needed) or "
        "point target.external.uri at an empty server";
  } else {
    empty.detail = keys == 0 ? "the target is empty"
                             : "the target holds " + std::to_string(keys) +
                                   " keys keyferry copied there (this migration)";
  }
  report.checks.push_back(empty);

  auto memory = client.Call({"INFO", "memory"});
  int64_t maxmemory = 0;
  if (memory && !memory->is_error()) maxmemory = ToInt(net::InfoField(memory->str(), "maxmemory"));
  report.checks.push_back(
      MemoryCheck(source.used_memory, maxmemory, "the target's maxmemory (CONFIG SET maxmemory)"));

  // An evicting target drops keys the copy wrote, and the stream never sends them again.
  DoctorCheck eviction;
  eviction.name = "target.eviction";
  const std::string policy =
      memory && !memory->is_error() ? net::InfoField(memory->str(), "maxmemory_policy") : "";
  if (maxmemory > 0 && !policy.empty() && policy != "noeviction") {
    eviction.status = CheckStatus::kFail;
    eviction.detail = "the target has maxmemory " + std::to_string(maxmemory) +
                      " with maxmemory-policy " + policy +
                      ": it would evict keys the migration copied, silently losing them";
    eviction.action =
        "run CONFIG SET maxmemory-policy noeviction on the target (or its service's "
        "parameter group) for the migration; set the policy back after cutover";
  } else {
    eviction.detail = maxmemory == 0 ? "the target has no maxmemory: it never evicts"
                                     : "the target's maxmemory-policy is noeviction";
  }
  report.checks.push_back(eviction);

  if (WritesPaused(*uri)) {
    DoctorCheck pause;
    pause.name = "target.writes";
    pause.status = CheckStatus::kFail;
    pause.detail = "writes on the target are paused (CLIENT PAUSE): the copy could not write";
    pause.action = "find who paused it; CLIENT UNPAUSE on the target ends the pause";
    report.checks.push_back(pause);
  }
  return identity.version;
}

}  // namespace

DoctorCheck CheckCutoverHook(const Spec& spec) {
  DoctorCheck hook;
  hook.name = "cutover.hook";
  if (spec.cutover.hook.empty()) {
    hook.detail =
        "no cutover hook: at CUTOVER keyferry prints the new endpoint and you switch "
        "the application";
    return hook;
  }
  auto program = HookProgram(spec.cutover.hook);
  if (!program) {
    hook.status = CheckStatus::kWarn;
    hook.detail = "cannot tell which program the hook \"" + spec.cutover.hook + "\" runs";
    hook.action = "make sure it works when run with /bin/sh -c in " + spec.spec_dir;
    return hook;
  }
  if (IsShellBuiltin(*program)) {
    hook.detail = "the hook runs the shell's own " + *program + " (in " + spec.spec_dir + ")";
    return hook;
  }
  ProgramLookup found = FindProgram(*program, spec.spec_dir);
  if (!found.found) {
    hook.status = CheckStatus::kFail;
    hook.detail = "the hook's program " + *program + " does not exist" +
                  (program->find('/') == std::string::npos
                       ? " on PATH"
                       : " (the hook runs in the spec's directory " + spec.spec_dir +
                             ", so it looked for " + found.path + ")");
    hook.action = "fix cutover.hook (relative paths are relative to the spec file)";
  } else if (!found.executable) {
    hook.status = CheckStatus::kFail;
    hook.detail = "the hook's program " + found.path + " is not executable";
    hook.action = "chmod +x " + found.path;
  } else {
    hook.detail = "the hook runs " + found.path + " (in " + spec.spec_dir + ")";
  }
  return hook;
}

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

std::string FailuresText(const DoctorReport& report) {
  std::string out;
  for (const auto& c : report.checks) {
    if (c.status != CheckStatus::kFail) continue;
    out += "\n  " + c.name + ": " + c.detail;
    if (!c.action.empty()) out += "; what to do: " + c.action;
  }
  return out;
}

DoctorReport RunChecks(const Spec& spec, Journal* journal, bool for_preflight) {
  DoctorReport report;
  SourceFacts source =
      spec.source.is_file() ? CheckSourceFile(spec, report) : CheckSource(spec, report);
  std::string target_version = spec.target.provider == ProviderKind::kLocal
                                   ? CheckLocalTarget(spec, report, source, journal, for_preflight)
                                   : CheckExternalTarget(spec, report, source, journal);
  DoctorCheck compat;
  compat.name = "compatibility";
  std::string source_engine = source.identity.engine == "valkey" ? "Valkey" : "Redis";
  compat.detail = "source " + source_engine + " " + OrUnknown(source.identity.version) + " → " +
                  (spec.target.engine == "valkey" ? "Valkey" : spec.target.engine) + " " +
                  OrUnknown(!target_version.empty() ? target_version : spec.target.version);
  if (source.subexpiry > 0) {
    compat.detail += "; " + std::to_string(source.subexpiry) + " keys carry hash-field TTLs";
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
  if (spec.target.topology == Topology::kCluster && source.reachable) {
    // A cluster has db 0 only, and the spec maps no db: every key must be in db 0.
    DoctorCheck dbs;
    dbs.name = "source.dbs";
    std::string others;
    for (int db : source.dbs_with_keys) {
      if (db != 0) others += (others.empty() ? "" : ", ") + std::to_string(db);
    }
    if (!others.empty()) {
      dbs.status = CheckStatus::kFail;
      dbs.detail = "the source holds keys in db " + others + ", but a cluster target has db 0 only";
      dbs.action =
          "move those keys into db 0 (MOVE / SWAPDB, if the application allows it), or "
          "migrate to a standalone Valkey target (topology: standalone), which keeps every db";
    } else {
      dbs.detail = "every key of the source is in db 0, the only db of a cluster";
    }
    report.checks.push_back(dbs);
  }
  report.checks.push_back(CheckCutoverHook(spec));
  return report;
}

DoctorReport RunDoctor(const Spec& spec) {
  std::unique_ptr<Journal> journal;
  if (Journal::Exists(spec.state_dir)) {
    auto opened = Journal::Open(spec.state_dir, Journal::Mode::kReadOnly);
    if (opened) journal = std::move(*opened);
  }
  return RunChecks(spec, journal.get(), false);
}

}  // namespace kf::control
