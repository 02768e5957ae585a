// keyferry apply from a Redis Cluster source (issue #11 §2 "apply", docs/cluster.md "apply
// from a cluster source"): a seeded 3-primary Redis 7.0 cluster, INCR/RPUSH writers on every
// shard through FULL_SYNC and CATCH_UP, migrated to DONE with `after_cutover.source:
// shutdown`
//  (a) into a local standalone Valkey keyferry starts, the source cluster having one replica
//      per primary (DECOMMISSION stops replicas and primaries);
//  (b) into a local 3-shard Valkey Cluster keyferry starts;
//  (c) into an external 3-primary Valkey Cluster the harness runs;
// keyferry abort after PAUSE_WRITES, which unpauses every primary; doctor's refusal of a
// source cluster with a half-migrated slot; and (d) source.mode: scan from a cluster that
// refuses PSYNC, SYNC and CONFIG, into a local standalone Valkey (every write exact), and
// its rollback naming the primary whose engine failed.
//
// The source is gone after DONE, so `keyferry verify` runs inside the cutover hook: at that
// point every source primary is paused, the target has applied every offset and keyferry's
// markers are gone, which is the state the application is switched to. The hook writes the
// verify output and exit status to files the test reads. The counters are checked against
// what the source acknowledged. On main every test fails at doctor/PREFLIGHT, which FAILs
// `source.topology` for a cluster source.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/journal.h"
#include "harness/cluster_counter_writer.h"
#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/journal_value.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool WaitUntil(const std::function<bool()>& done, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return done();
}

bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A spec whose source is a node of `source`, in its own temp dir. The hook runs keyferry
// verify of the source against {uri} and records its output, its exit status and
// "{uri} {nodes}". Kills what the migration provisioned at the end (by pid).
class SourceClusterSpec {
 public:
  // `source_more`: further YAML lines under source: (user, password_env).
  SourceClusterSpec(const std::string& source_uri, const std::string& target,
                    const std::string& after_cutover, const std::string& source_more = "") {
    dir_ = MakeTempDir("kf-csapply-");
    path_ = dir_ + "/cache.yaml";
    std::ofstream(path_) << "name: cluster-source\n"
                            "source:\n"
                            "  uri: "
                         << source_uri << "\n"
                         << source_more
                         << "target:\n"
                            "  version: \"8.0\"\n"
                         << target
                         << "migration:\n"
                            "  max_pause_ms: 8000\n"
                            "cutover:\n"
                            "  hook_timeout_s: 60\n"
                            "  hook: \""
                         << KeyferryBinary() << " verify --source " << source_uri
                         << " --target {uri} > " << dir_ << "/verify.txt 2>&1; echo $? > " << dir_
                         << "/verify.rc; echo {uri} {nodes} > " << dir_
                         << "/cutover.txt\"\n"
                            "after_cutover:\n"
                            "  source: "
                         << after_cutover << "\n";
  }
  ~SourceClusterSpec() {
    for (pid_t pid : TargetPids()) ::kill(pid, SIGKILL);
    RemoveTree(dir_);
  }
  const std::string& path() const { return path_; }
  std::string state_dir() const { return dir_ + "/keyferry-state/cluster-source"; }
  std::string Get(const std::string& key) const { return JournalValue(state_dir(), key); }
  std::string Phase() const { return Get("phase"); }
  std::vector<pid_t> TargetPids() const {
    std::vector<pid_t> out;
    if (auto pid = Get("target.pid"); !pid.empty()) out.push_back(std::stoi(pid));
    auto nodes = nlohmann::json::parse(Get("target.nodes"), nullptr, false);
    if (nodes.is_array()) {
      for (const auto& n : nodes) out.push_back(static_cast<pid_t>(n.value("pid", -1)));
    }
    return out;
  }
  std::string HookUri() const {
    std::istringstream in(ReadFile(dir_ + "/cutover.txt"));
    std::string uri;
    in >> uri;
    return uri;
  }
  std::string VerifyOutput() const { return ReadFile(dir_ + "/verify.txt"); }
  std::string VerifyStatus() const {
    std::string rc = ReadFile(dir_ + "/verify.rc");
    while (!rc.empty() && (rc.back() == '\n' || rc.back() == ' ')) rc.pop_back();
    return rc;
  }
  std::string Events() const {
    Subprocess events({KeyferryBinary(), "events", "-f", path_});
    events.Wait(seconds(20));
    return events.Stdout();
  }

 private:
  std::string dir_;
  std::string path_;
};

std::unique_ptr<ClusterProcess> SeededSourceCluster(int replicas) {
  auto cluster =
      ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3,
                                                 .replicas_per_primary = replicas,
                                                 .config = {{"repl-backlog-size", "64mb"}}});
  if (cluster) SeedEveryTypeForCompare(*cluster);
  return cluster;
}

// keyferry's markers left on a server: keys matching keyferry:applied-offset* (every node of
// a cluster is asked by the caller).
std::vector<std::string> MarkersOn(const net::Uri& node) {
  std::vector<std::string> out;
  net::Client c;
  if (!c.Connect(node)) return {"<unreachable " + node.Endpoint() + ">"};
  std::string cursor = "0";
  for (int i = 0; i < 10000; ++i) {
    auto page = c.Call({"SCAN", cursor, "MATCH", "keyferry:applied-offset*", "COUNT", "1000"});
    if (!page || page->is_error() || page->size() != 2) return {"<scan failed>"};
    cursor = (*page)[0].str();
    for (const auto& k : (*page)[1].children()) out.push_back(k.str());
    if (cursor == "0") break;
  }
  return out;
}

// The primaries of the cluster `node` belongs to (CLUSTER NODES), or {node} for a
// standalone server.
std::vector<net::Uri> KeyHolders(const net::Uri& node) {
  net::Client c;
  if (!c.Connect(node)) return {node};
  auto nodes = c.Call({"CLUSTER", "NODES"});
  if (!nodes || nodes->is_error()) return {node};
  std::vector<net::Uri> out;
  std::istringstream lines(nodes->str());
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string id, addr, flags;
    f >> id >> addr >> flags;
    if (flags.find("master") == std::string::npos) continue;
    out.push_back(UriOf("redis://" + addr.substr(0, addr.find('@'))));
  }
  return out;
}

// Runs apply while `writer` writes through FULL_SYNC and CATCH_UP; PAUSE_WRITES is held 3 s
// before it pauses, and the writer stops 1.5 s into that hold. Then: DONE, verify EQUAL in
// the hook, every counter exact on the target, no marker left, every source node stopped.
void MigrateUnderWrites(ClusterProcess& source, SourceClusterSpec& spec) {
  std::vector<pid_t> source_pids;
  for (const auto& node : source.nodes()) source_pids.push_back(node->pid());
  ClusterCounterWriter writer(&source);
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=PAUSE_WRITES:3000", KeyferryBinary(),
                    "--log-level", "info", "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_TRUE(
      WaitUntil([&] { return spec.Phase() == "PAUSE_WRITES" || !apply.running(); }, seconds(90)))
      << apply.Stderr();
  std::this_thread::sleep_for(milliseconds(1500));
  writer.Stop();
  ASSERT_EQ(spec.Phase(), "PAUSE_WRITES") << "the writer must stop before the pause\n"
                                          << apply.Stderr();
  EXPECT_EQ(writer.error(), "");
  EXPECT_GT(writer.rounds(), 20u);
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  std::string events = spec.Events();
  EXPECT_NE(events.find("paused writes on the 3 primaries of the source cluster"),
            std::string::npos)
      << events;

  EXPECT_EQ(spec.VerifyStatus(), "0") << spec.VerifyOutput();
  EXPECT_NE(spec.VerifyOutput().find("EQUAL"), std::string::npos) << spec.VerifyOutput();
  const std::string uri = spec.HookUri();
  ASSERT_FALSE(uri.empty()) << "the cutover hook did not run\n" << events;
  ExpectCountersExact(UriOf(uri), writer.acked());
  for (const net::Uri& node : KeyHolders(UriOf(uri))) {
    EXPECT_EQ(MarkersOn(node), std::vector<std::string>{}) << "markers left on " << node.Endpoint();
  }
  // after_cutover.source: shutdown stopped every node of the source cluster.
  for (pid_t pid : source_pids) {
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, seconds(15)))
        << "source node pid " << pid << " still runs\n"
        << events;
  }
  EXPECT_NE(events.find("nodes of the source cluster (replicas first)"), std::string::npos)
      << events;
}

// (a) A 3-primary Redis Cluster with a replica per primary into a local standalone Valkey.
TEST(ClusterSourceApplyTest, IntoLocalStandaloneToDoneUnderWritesAndSourceShutDown) {
  auto source = SeededSourceCluster(1);
  ASSERT_TRUE(source);
  ASSERT_FALSE(HasFatalFailure());
  // Any node will do as the source URI: a replica here.
  ServerProcess* replica = source->ReplicasOf(*source->Primaries()[1]).front();
  SourceClusterSpec spec(replica->uri(), "  provider: local\n", "shutdown");
  MigrateUnderWrites(*source, spec);
}

// (b) A 3-primary Redis Cluster into a local 3-shard Valkey Cluster.
TEST(ClusterSourceApplyTest, IntoLocalClusterToDoneUnderWritesAndSourceShutDown) {
  auto source = SeededSourceCluster(0);
  ASSERT_TRUE(source);
  ASSERT_FALSE(HasFatalFailure());
  SourceClusterSpec spec(
      source->uri(), "  topology: cluster\n  provider: local\n  local: {shards: 3}\n", "shutdown");
  MigrateUnderWrites(*source, spec);
  EXPECT_EQ(spec.TargetPids().size(), 3u);
}

// (c) The same into an external 3-primary Valkey Cluster the harness runs (any node as its
// URI).
TEST(ClusterSourceApplyTest, IntoExternalClusterToDoneUnderWritesAndSourceShutDown) {
  auto target = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(target);
  auto source = SeededSourceCluster(0);
  ASSERT_TRUE(source);
  ASSERT_FALSE(HasFatalFailure());
  SourceClusterSpec spec(source->uri(),
                         "  topology: cluster\n  provider: external\n  external: {uri: "
                         "\"redis://127.0.0.1:" +
                             std::to_string(target->node(1).port()) + "\"}\n",
                         "shutdown");
  MigrateUnderWrites(*source, spec);
}

// Keys under keyferry:* on `node` (markers, scan probes): none may be left after DONE.
std::vector<std::string> KeyferryKeysOn(const net::Uri& node) {
  net::Client c;
  if (!c.Connect(node)) return {"<unreachable " + node.Endpoint() + ">"};
  auto keys = c.Call({"KEYS", "keyferry:*"});
  if (!keys || keys->is_error()) return {"<KEYS failed on " + node.Endpoint() + ">"};
  std::vector<std::string> out;
  for (const auto& k : keys->children()) out.push_back(k.str());
  return out;
}

// source.mode: scan from a 3-primary Redis Cluster that refuses PSYNC, SYNC and CONFIG
// (renamed, as a managed service does) with notify-keyspace-events set in its configuration:
// one scan engine per primary (each probes its own primary's notifications with keys of its
// own slots), INCR/RPUSH on every shard plus one key INCRed and one list RPUSHed every
// millisecond during FULL_SYNC and CATCH_UP, through the pause to DONE into a local
// standalone Valkey. The target then holds exactly what the writers were acknowledged, equals
// the source key by key (the source is kept), verify (in the hook) says EQUAL, and no
// keyferry:* key is left on either end. Before this, StartEngine refused the cluster source
// in scan mode ("source.mode: scan takes one server") and the test failed at FULL_SYNC.
// A 3-primary Redis Cluster as a managed service shows it: PSYNC, SYNC and CONFIG refused
// (renamed), notify-keyspace-events set in its configuration.
std::unique_ptr<ClusterProcess> StartManagedLikeCluster() {
  return ClusterProcess::Start(ServerKind::kRedis,
                               {.primaries = 3,
                                .config = {{"rename-command", "PSYNC kf-test-hidden-psync"},
                                           {"rename-command", "SYNC kf-test-hidden-sync"},
                                           {"rename-command", "CONFIG kf-test-hidden-config"},
                                           {"notify-keyspace-events", "KEA"}}});
}

TEST(ClusterSourceApplyTest, ScanModeFromAClusterSourceKeepsEveryAcknowledgedWrite) {
  auto source = StartManagedLikeCluster();
  ASSERT_TRUE(source);
  SeedEveryTypeForCompare(*source);
  ASSERT_FALSE(HasFatalFailure());
  for (ServerProcess* p : source->Primaries()) {
    ASSERT_NE(p->Call({"DBSIZE"}), "0") << "every shard holds keys: " << p->uri();
    ASSERT_NE(p->Call({"CONFIG", "GET", "notify-keyspace-events"}).find("ERR"), std::string::npos)
        << "CONFIG must be refused";
  }
  SourceClusterSpec spec(source->uri(), "  provider: local\n", "keep", "  mode: scan\n");

  // One counter and one list written every millisecond, on the primary that owns them.
  const std::string hot_counter = "hot:{h}:counter";
  const std::string hot_list = "hot:{h}:list";
  ServerProcess* hot_owner = source->OwnerOfKey(hot_counter);
  ASSERT_NE(hot_owner, nullptr);
  std::atomic<bool> hot_stop{false};
  std::atomic<int64_t> hot_incrs{0};
  std::atomic<int64_t> hot_pushes{0};
  std::string hot_error;
  std::thread hot([&] {
    net::Client c;
    if (auto connected = c.Connect(UriOf(hot_owner->uri())); !connected) {
      hot_error = connected.error().ToString();
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + seconds(90);
    while (!hot_stop && std::chrono::steady_clock::now() < deadline) {
      auto incr = c.Call({"INCR", hot_counter});
      if (!incr || incr->is_error()) {
        hot_error = incr ? incr->str() : incr.error().ToString();
        return;
      }
      ++hot_incrs;
      auto push = c.Call({"RPUSH", hot_list, std::to_string(hot_pushes.load())});
      if (!push || push->is_error()) {
        hot_error = push ? push->str() : push.error().ToString();
        return;
      }
      ++hot_pushes;
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  ClusterCounterWriter writer(source.get());
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=PAUSE_WRITES:3000", KeyferryBinary(),
                    "--log-level", "info", "apply", "-f", spec.path(), "--auto-approve"});
  const bool reached =
      WaitUntil([&] { return spec.Phase() == "PAUSE_WRITES" || !apply.running(); }, seconds(90));
  std::this_thread::sleep_for(milliseconds(1500));
  writer.Stop();
  hot_stop = true;
  hot.join();
  ASSERT_TRUE(reached) << apply.Stderr();
  ASSERT_EQ(spec.Phase(), "PAUSE_WRITES") << "the writers must stop before the pause\n"
                                          << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(writer.error(), "");
  EXPECT_EQ(hot_error, "");
  EXPECT_GT(writer.rounds(), 20u);
  EXPECT_GT(hot_incrs.load(), 500);
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  const std::string events = spec.Events();
  EXPECT_NE(apply.Stderr().find("scan mode from a cluster source: 3 primaries"), std::string::npos)
      << apply.Stderr();
  EXPECT_NE(events.find("notified keys not yet copied again"), std::string::npos) << events;
  EXPECT_NE(events.find("paused writes on the 3 primaries of the source cluster"),
            std::string::npos)
      << events;

  EXPECT_EQ(spec.VerifyStatus(), "0") << spec.VerifyOutput();
  EXPECT_NE(spec.VerifyOutput().find("EQUAL"), std::string::npos) << spec.VerifyOutput();
  const std::string uri = spec.HookUri();
  ASSERT_FALSE(uri.empty()) << "the cutover hook did not run\n" << events;
  const net::Uri target = UriOf(uri);
  ExpectCountersExact(target, writer.acked());
  net::Client t;
  ASSERT_TRUE(t.Connect(target));
  EXPECT_EQ(t.Call({"GET", hot_counter})->str(), std::to_string(hot_incrs.load()));
  EXPECT_EQ(t.Call({"LLEN", hot_list})->integer(), hot_pushes.load());
  // The source was kept: the two ends hold the same data, key by key.
  auto diffs = CanonicalDiff(source->PrimaryUris(), {target});
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(KeyferryKeysOn(target), std::vector<std::string>{});
  for (ServerProcess* p : source->Primaries()) {
    EXPECT_EQ(KeyferryKeysOn(UriOf(p->uri())), std::vector<std::string>{})
        << "probe keys left on " << p->uri();
  }
}

// source.mode: scan from a cluster source whose primary dies in CATCH_UP: that primary's
// engine fails, the others are stopped, and the migration rolls back naming the shard and the
// primary (no partial copy goes on).
TEST(ClusterSourceApplyTest, ScanModeRollsBackNamingThePrimaryWhoseEngineFailed) {
  auto source = StartManagedLikeCluster();
  ASSERT_TRUE(source);
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 30; ++i) sets.push_back({"SET", "k:" + std::to_string(i), "v"});
  ExpectNoErrorReplies(source->Run(sets), sets);
  SourceClusterSpec spec(source->uri(), "  provider: local\n", "keep", "  mode: scan\n");
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:6000", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  ASSERT_TRUE(
      WaitUntil([&] { return spec.Phase() == "CATCH_UP" || !apply.running(); }, seconds(60)))
      << apply.Stderr();
  ASSERT_EQ(spec.Phase(), "CATCH_UP") << apply.Stdout() << apply.Stderr();
  ServerProcess* victim = source->Primaries()[1];
  const std::string shard = "s" + std::to_string(source->SlotsOf(*victim).front().first);
  const std::string where = "127.0.0.1:" + std::to_string(victim->port());
  source->KillNode(*victim);
  EXPECT_NE(apply.Wait(seconds(90)), 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "ROLLED_BACK");
  const std::string events = spec.Events();
  EXPECT_NE(events.find("shard " + shard + " (source primary " + where + ")"), std::string::npos)
      << events;
  EXPECT_EQ(spec.TargetPids(), std::vector<pid_t>{}) << "the rollback removes the target";
}

// Whether `node` answers a PUBLISH within `timeout` (a paused primary holds it until its
// pause ends, here up to max_pause_ms 8000).
bool TakesWrites(const ServerProcess& node, milliseconds timeout) {
  net::Client c;
  net::ClientOptions co;
  co.io_timeout = timeout;
  if (!c.Connect(UriOf(node.uri()), co)) return false;
  // PUBLISH changes no data and needs no slot, and CLIENT PAUSE WRITE holds it.
  auto r = c.Call({"PUBLISH", "keyferry-test-unpaused", "1"});
  return r && !r->is_error();
}

// keyferry abort while apply holds in DRAIN, i.e. after PAUSE_WRITES paused every primary:
// the rollback unpauses every one of them (each takes a write within 1 s, not after its
// 8 s pause runs out) and no source node is shut down. On main doctor refuses the source.
TEST(ClusterSourceApplyTest, AbortAfterThePauseUnpausesEveryPrimary) {
  auto source = SeededSourceCluster(0);
  ASSERT_TRUE(source);
  ASSERT_FALSE(HasFatalFailure());
  SourceClusterSpec spec(source->uri(), "  provider: local\n", "shutdown");
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=DRAIN:30000", KeyferryBinary(), "apply", "-f",
                    spec.path(), "--auto-approve"});
  ASSERT_TRUE(WaitUntil([&] { return spec.Phase() == "DRAIN" || !apply.running(); }, seconds(60)))
      << apply.Stderr();
  for (ServerProcess* p : source->Primaries()) {
    EXPECT_FALSE(TakesWrites(*p, milliseconds(1000))) << p->uri() << " is not paused in DRAIN";
  }
  Subprocess abort({KeyferryBinary(), "abort", "-f", spec.path()});
  EXPECT_EQ(abort.Wait(seconds(60)), 0) << abort.Stderr();
  apply.Wait(seconds(60));
  EXPECT_EQ(spec.Phase(), "ABORTED") << apply.Stderr();
  for (ServerProcess* p : source->Primaries()) {
    EXPECT_TRUE(TakesWrites(*p, milliseconds(1000))) << p->uri() << " is still paused";
  }
  for (const auto& node : source->nodes()) EXPECT_FALSE(ProcessGone(node->pid())) << node->uri();
  EXPECT_NE(spec.Events().find("source writes resumed on"), std::string::npos) << spec.Events();
}

// A standalone source whose user may not run CLUSTER (apply never needed it) still
// migrates to DONE: apply tells a cluster from INFO server before it sends any CLUSTER
// command (the live sync, the in-pause repairs and DECOMMISSION all ask).
TEST(ClusterSourceApplyTest, StandaloneSourceUserWithoutClusterPermissionStillMigrates) {
  auto source = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(source);
  ASSERT_EQ(source->Call({"SET", "a", "1"}), "OK");
  ASSERT_EQ(source->Call({"XADD", "st", "1-1", "f", "v"}), "1-1");
  ASSERT_EQ(source->Call({"ACL", "SETUSER", "mover", "on", ">pw", "~*", "&*", "+@all", "-cluster"}),
            "OK");
  SourceClusterSpec spec("redis://127.0.0.1:" + std::to_string(source->port()),
                         "  provider: local\n", "keep",
                         "  user: mover\n  password_env: KF_TEST_MOVER_PW\n");
  Subprocess apply({"env", "KF_TEST_MOVER_PW=pw", KeyferryBinary(), "apply", "-f", spec.path(),
                    "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(60)), 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  const std::string uri = spec.HookUri();
  ASSERT_FALSE(uri.empty());
  net::Client target;
  ASSERT_TRUE(target.Connect(UriOf(uri)));
  EXPECT_EQ(target.Call({"GET", "a"})->str(), "1");
}

// doctor PASSes a stable source cluster (on main: FAIL source.topology, exit 1) and FAILs
// it, naming the slot, once a slot is half migrated; apply stops at PREFLIGHT then.
TEST(ClusterSourceApplyTest, DoctorAcceptsAStableSourceClusterAndRefusesAHalfMigratedSlot) {
  auto source = ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3});
  ASSERT_TRUE(source);
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 30; ++i) sets.push_back({"SET", "k:" + std::to_string(i), "v"});
  ExpectNoErrorReplies(source->Run(sets), sets);
  SourceClusterSpec spec(source->uri(), "  provider: local\n", "keep");
  {
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
    EXPECT_EQ(doctor.Wait(seconds(60)), 0) << doctor.Stdout() << doctor.Stderr();
    EXPECT_NE(doctor.Stdout().find("a Redis Cluster: cluster_state ok"), std::string::npos)
        << doctor.Stdout();
  }
  const int slot = 100;  // served by the first primary
  ASSERT_TRUE(source->MoveSlot(slot, *source->Primaries()[1], SlotMoveEnd::kHalfMigrated));
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout() << doctor.Stderr();
  EXPECT_NE(doctor.Stdout().find("source.topology"), std::string::npos) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("slot 100"), std::string::npos) << doctor.Stdout();
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  EXPECT_NE(apply.Wait(seconds(60)), 0);
  EXPECT_NE(apply.Stderr().find("slot 100"), std::string::npos) << apply.Stderr();
  EXPECT_EQ(spec.TargetPids(), std::vector<pid_t>{}) << "nothing may be provisioned";
}

}  // namespace
}  // namespace kf::test
