// keyferry apply into a Valkey Cluster target (issue #11 §2, "apply"): a standalone Redis
// 7.0 migrated end to end to DONE into a local 3-shard cluster keyferry starts itself, and
// into an external 3-primary cluster the harness runs; a rollback that removes every local
// node; doctor's refusals of a two-db source and of a target cluster with a slot migration
// in progress.
//
// The content is proven by `keyferry verify` against the cluster (it reads every primary)
// and by INCR counters whose every acknowledged increment must be on the target exactly
// once.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/expiry_reconcile.h"
#include "control/journal.h"
#include "control/stream_group_repair.h"
#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/journal_value.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"
#include "sync/expiry_subscriber.h"
#include "sync/target_expiries.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
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

// A spec for a cluster target in its own temp dir. `target` is the YAML under target:
// (after provider). The hook writes "{uri} {nodes}" to a file. Kills what the migration
// provisioned at the end (every journaled node, by pid).
class ClusterSpec {
 public:
  ClusterSpec(const ServerProcess& source, const std::string& target,
              const std::string& after_cutover = "keep") {
    dir_ = MakeTempDir("kf-capply-");
    path_ = dir_ + "/cache.yaml";
    hook_out_ = dir_ + "/cutover.txt";
    std::ofstream(path_) << "name: cluster-cache\n"
                            "source:\n"
                            "  uri: redis://127.0.0.1:"
                         << source.port()
                         << "\n"
                            "target:\n"
                            "  version: \"8.0\"\n"
                            "  topology: cluster\n"
                         << target
                         << "migration:\n"
                            "  max_pause_ms: 5000\n"
                            "cutover:\n"
                            "  hook: \"echo {uri} {nodes} > "
                         << hook_out_
                         << "\"\n"
                            "after_cutover:\n"
                            "  source: "
                         << after_cutover << "\n";
  }
  ~ClusterSpec() {
    for (pid_t pid : NodePids()) ::kill(pid, SIGKILL);
    RemoveTree(dir_);
  }
  const std::string& path() const { return path_; }
  std::string state_dir() const { return dir_ + "/keyferry-state/cluster-cache"; }
  std::string Get(const std::string& key) const { return JournalValue(state_dir(), key); }
  std::string Phase() const { return Get("phase"); }
  std::vector<pid_t> NodePids() const {
    std::vector<pid_t> out;
    auto nodes = nlohmann::json::parse(Get("target.nodes"), nullptr, false);
    if (!nodes.is_array()) return out;
    for (const auto& n : nodes) out.push_back(static_cast<pid_t>(n.value("pid", -1)));
    return out;
  }
  std::vector<std::string> NodeDirs() const {
    std::vector<std::string> out;
    auto nodes = nlohmann::json::parse(Get("target.nodes"), nullptr, false);
    if (!nodes.is_array()) return out;
    for (const auto& n : nodes) out.push_back(n.value("dir", ""));
    return out;
  }
  // The hook's output: {uri} and {nodes}.
  std::pair<std::string, std::string> HookOutput() const {
    std::ifstream in(hook_out_);
    std::string uri, nodes;
    in >> uri >> nodes;
    return {uri, nodes};
  }
  std::string Events() const {
    Subprocess events({KeyferryBinary(), "events", "-f", path_});
    events.Wait(seconds(20));
    return events.Stdout();
  }

 private:
  std::string dir_;
  std::string path_;
  std::string hook_out_;
};

// The primaries' host:port of the cluster a node belongs to, sorted (CLUSTER NODES: the
// lines flagged master that serve slots).
std::set<std::string> PrimariesOf(const net::Uri& node) {
  std::set<std::string> out;
  net::Client c;
  if (!c.Connect(node)) return out;
  auto nodes = c.Call({"CLUSTER", "NODES"});
  if (!nodes || nodes->is_error()) return out;
  std::istringstream lines(nodes->str());
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string id, addr, flags, master, ping, pong, epoch, link, slots;
    f >> id >> addr >> flags >> master >> ping >> pong >> epoch >> link >> slots;
    if (flags.find("master") == std::string::npos || slots.empty()) continue;
    out.insert(addr.substr(0, addr.find('@')));
  }
  return out;
}

net::Uri UriOfAddress(const std::string& address) { return UriOf("redis://" + address); }

// GET through the cluster, following one MOVED.
std::string ClusterGet(const net::Uri& seed, const std::string& key) {
  net::Client c;
  if (!c.Connect(seed)) return "<unreachable>";
  auto r = c.Call({"GET", key});
  if (!r) return "<failed>";
  if (r->is_error() && r->str().rfind("MOVED ", 0) == 0) {
    net::Client owner;
    if (!owner.Connect(UriOfAddress(r->str().substr(r->str().rfind(' ') + 1)))) {
      return "<unreachable owner>";
    }
    r = owner.Call({"GET", key});
    if (!r) return "<failed>";
  }
  return r->is_null() ? "<nil>" : r->str();
}

// keyferry's markers left on a node: keys matching keyferry:applied-offset*.
std::vector<std::string> MarkersOn(const std::string& address) {
  std::vector<std::string> out;
  net::Client c;
  if (!c.Connect(UriOfAddress(address))) return {"<unreachable " + address + ">"};
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

// INCR on 300 counters (spread over every slot range) from one connection, each increment
// counted when the source acknowledged it.
class IncrWriter {
 public:
  explicit IncrWriter(net::Uri uri) : uri_(std::move(uri)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~IncrWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<std::string, int64_t> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  uint64_t count() const { return count_.load(); }
  bool uncertain() const { return uncertain_.load(); }

 private:
  void Run() {
    net::Client c;
    net::ClientOptions co;
    co.io_timeout = milliseconds(15000);
    if (!c.Connect(uri_, co)) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    for (uint64_t i = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
      std::string key = "ctr:" + std::to_string(i % 300);
      auto r = c.Call({"INCR", key});
      if (!r) {
        uncertain_ = true;  // sent, answer lost: the source may or may not have run it
        return;
      }
      if (r->type() == resp::ReplyType::kInteger) {
        std::lock_guard lock(mu_);
        ++acked_[key];
        ++count_;
      }
      if (i % 4 == 0) std::this_thread::sleep_for(milliseconds(1));
    }
  }
  net::Uri uri_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> uncertain_{false};
  std::atomic<uint64_t> count_{0};
  std::mutex mu_;
  std::map<std::string, int64_t> acked_;
  std::thread thread_;
};

std::unique_ptr<ServerProcess> SeededSource() {
  auto source = StartSeededForCompare(ServerKind::kRedis);
  if (source) {
    EXPECT_EQ(source->Call({"CONFIG", "SET", "repl-diskless-sync-delay", "0"}), "OK");
  }
  return source;
}

// Runs apply while the writer writes: through FULL_SYNC and CATCH_UP, and into
// PAUSE_WRITES, which is held 3 s before it pauses the source (the live sync streams the
// INCRs all along). The writer stops 1.5 s into that hold, so the source holds still for
// verify after cutover (after_cutover: keep unpauses it).
void ApplyWithWriter(ClusterSpec& spec, IncrWriter& writer) {
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=PAUSE_WRITES:3000", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  ASSERT_TRUE(
      WaitUntil([&] { return spec.Phase() == "PAUSE_WRITES" || !apply.running(); }, seconds(60)))
      << apply.Stderr();
  std::this_thread::sleep_for(milliseconds(1500));
  writer.Stop();
  ASSERT_EQ(spec.Phase(), "PAUSE_WRITES") << "the writer must stop before the pause";
  ASSERT_EQ(apply.Wait(seconds(90)), 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  EXPECT_GT(writer.count(), 500u);
  EXPECT_FALSE(writer.uncertain());
}

// After DONE: the hook's {uri} is a node of the cluster and {nodes} its primaries; no
// marker on any primary; every counter exact; keyferry verify EQUAL.
void ExpectMigrated(ClusterSpec& spec, ServerProcess& source, IncrWriter& writer,
                    size_t primaries) {
  auto [uri, nodes] = spec.HookOutput();
  ASSERT_FALSE(uri.empty()) << "the cutover hook did not run";
  net::Uri seed = UriOf(uri);
  std::set<std::string> expected = PrimariesOf(seed);
  ASSERT_EQ(expected.size(), primaries);
  std::set<std::string> got;
  std::istringstream list(nodes);
  for (std::string a; std::getline(list, a, ',');) got.insert(a);
  EXPECT_EQ(got, expected) << "{nodes} was " << nodes;
  EXPECT_TRUE(expected.contains(seed.Endpoint())) << "{uri} " << uri << " is not a primary";
  for (const auto& address : expected) {
    EXPECT_EQ(MarkersOn(address), std::vector<std::string>{}) << "markers left on " << address;
  }
  size_t wrong = 0;
  std::string example;
  for (const auto& [key, n] : writer.acked()) {
    std::string value = ClusterGet(seed, key);
    if (value != std::to_string(n)) {
      if (wrong++ == 0) example = key + " is " + value + ", acknowledged " + std::to_string(n);
    }
    EXPECT_EQ(source.Call({"GET", key}), std::to_string(n));
  }
  EXPECT_EQ(wrong, 0u) << "of " << writer.acked().size() << " counters; e.g. " << example << "\n"
                       << spec.Events();
  Subprocess verify({KeyferryBinary(), "verify", "--source", source.uri(), "--target", uri});
  int code = verify.Wait(seconds(60));
  EXPECT_EQ(code, 0) << verify.Stdout() << verify.Stderr();
  EXPECT_NE(verify.Stdout().find("EQUAL"), std::string::npos) << verify.Stdout();
}

// A seeded standalone Redis (every type, a function library) into a local 3-shard cluster
// keyferry starts, with INCR writers during FULL_SYNC and CATCH_UP, to DONE. Fails on main,
// which refuses topology: cluster in the spec (exit 2 before anything runs).
TEST(ClusterApplyTest, LocalThreeShardClusterToDoneUnderWrites) {
  auto source = SeededSource();
  ASSERT_TRUE(source);
  ClusterSpec spec(*source, "  provider: local\n  local: {shards: 3}\n");
  IncrWriter writer(UriOf(source->uri()));
  ApplyWithWriter(spec, writer);
  if (HasFatalFailure()) return;
  EXPECT_EQ(spec.NodePids().size(), 3u);
  ExpectMigrated(spec, *source, writer, 3);
  std::string events = spec.Events();
  EXPECT_NE(events.find("started a local Valkey Cluster of 3 shards"), std::string::npos) << events;
}

// The same into an external 3-primary Valkey Cluster the harness runs (any node as the
// URI: a replica-less cluster's second primary). Fails on main (spec refused).
TEST(ClusterApplyTest, ExternalClusterToDoneUnderWrites) {
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  auto source = SeededSource();
  ASSERT_TRUE(source);
  ClusterSpec spec(*source, "  provider: external\n  external: {uri: \"redis://127.0.0.1:" +
                                std::to_string(cluster->node(1).port()) + "\"}\n");
  IncrWriter writer(UriOf(source->uri()));
  ApplyWithWriter(spec, writer);
  if (HasFatalFailure()) return;
  ExpectMigrated(spec, *source, writer, 3);
  // The harness's own comparison over the cluster's primaries agrees.
  EXPECT_EQ(CanonicalDiff({UriOf(source->uri())}, cluster->PrimaryUris()),
            std::vector<std::string>{});
}

// keyferry abort while apply runs (held in CATCH_UP): apply rolls back and every node of
// the local cluster is stopped and its dir removed; the source takes writes again.
TEST(ClusterApplyTest, AbortRemovesEveryLocalNode) {
  auto source = SeededSource();
  ASSERT_TRUE(source);
  ClusterSpec spec(*source, "  provider: local\n  local: {shards: 2, replicas_per_shard: 1}\n");
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:30000", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  ASSERT_TRUE(
      WaitUntil([&] { return spec.Phase() == "CATCH_UP" || !apply.running(); }, seconds(60)))
      << apply.Stderr();
  auto pids = spec.NodePids();
  auto dirs = spec.NodeDirs();
  ASSERT_EQ(pids.size(), 4u);
  for (pid_t pid : pids) ASSERT_FALSE(ProcessGone(pid)) << pid;
  for (const auto& dir : dirs) ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
  Subprocess abort({KeyferryBinary(), "abort", "-f", spec.path()});
  EXPECT_EQ(abort.Wait(seconds(60)), 0) << abort.Stderr();
  apply.Wait(seconds(60));
  EXPECT_EQ(spec.Phase(), "ABORTED") << apply.Stderr();
  for (pid_t pid : pids) {
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, seconds(10)))
        << "cluster node pid " << pid << " still runs";
  }
  for (const auto& dir : dirs) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  EXPECT_FALSE(std::filesystem::exists(spec.state_dir() + "/target"));
  EXPECT_EQ(spec.Get("target.nodes"), "");
  EXPECT_EQ(source->Call({"SET", "after-abort", "1"}), "OK");
}

// doctor FAILs a source with keys in two dbs for a cluster target (naming the db), and an
// external cluster with a slot half migrated (naming the slot). Fails on main (spec
// refused: doctor exits 2, not 1).
TEST(ClusterApplyTest, DoctorRefusesTwoDbSourceAndSlotInMigration) {
  auto source = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(source);
  ASSERT_EQ(source->Call({"SET", "a", "1"}), "OK");
  net::Client c;
  ASSERT_TRUE(c.Connect(UriOf(source->uri())));
  auto r = c.CallPipelined({{"SELECT", "3"}, {"SET", "b", "1"}});
  ASSERT_TRUE(r);
  {
    ClusterSpec spec(*source, "  provider: local\n");
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
    EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout() << doctor.Stderr();
    EXPECT_NE(doctor.Stdout().find("source.dbs"), std::string::npos) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("keys in db 3"), std::string::npos) << doctor.Stdout();
  }
  ASSERT_EQ(c.Call({"FLUSHALL"})->str(), "OK");
  ASSERT_EQ(source->Call({"SET", "a", "1"}), "OK");
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  ClusterSpec spec(*source,
                   "  provider: external\n  external: {uri: \"" + cluster->uri() + "\"}\n");
  {
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
    int code = doctor.Wait(seconds(60));
    EXPECT_EQ(code, 0) << doctor.Stdout() << doctor.Stderr();
  }
  const int slot = 100;  // served by the first primary
  ASSERT_TRUE(cluster->MoveSlot(slot, *cluster->Primaries()[1], SlotMoveEnd::kHalfMigrated));
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout() << doctor.Stderr();
  EXPECT_NE(doctor.Stdout().find("target.topology"), std::string::npos) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("slot 100"), std::string::npos) << doctor.Stdout();
}

// A killed apply resumes into the local cluster it started (the same node processes), and
// into a new cluster, copied from scratch, when a primary of the old one is gone; every old
// node is stopped then. Fails on main (spec refused).
TEST(ClusterApplyTest, ResumeReusesTheClusterOrReplacesItWholeWhenAPrimaryIsGone) {
  auto source = SeededSource();
  ASSERT_TRUE(source);
  ClusterSpec spec(*source, "  provider: local\n  local: {shards: 3}\n");
  // Runs apply held in CATCH_UP until `reached` holds, then SIGKILLs it.
  auto run_and_kill = [&](const std::function<bool()>& reached) {
    Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:60000", KeyferryBinary(), "apply",
                      "-f", spec.path(), "--auto-approve"});
    EXPECT_TRUE(WaitUntil([&] { return reached() || !apply.running(); }, seconds(60)));
    EXPECT_TRUE(apply.running()) << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
  };
  run_and_kill([&] { return spec.Phase() == "CATCH_UP"; });
  if (HasFailure()) return;
  const std::vector<pid_t> first = spec.NodePids();
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(source->Call({"SET", "between-runs-1", "1"}), "OK");
  // The resumed copy confirms the cluster before it goes on (then holds in CATCH_UP).
  run_and_kill(
      [&] { return spec.Events().find("reusing the local Valkey Cluster") != std::string::npos; });
  if (HasFailure()) return;
  EXPECT_EQ(spec.NodePids(), first) << "the resumed apply must reuse the cluster";
  // A primary dies between runs: the whole cluster is replaced and copied again.
  ASSERT_EQ(::kill(first[1], SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return ProcessGone(first[1]); }, seconds(10)));
  ASSERT_EQ(source->Call({"SET", "between-runs-2", "1"}), "OK");
  Subprocess again({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(again.Wait(seconds(90)), 0) << again.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  EXPECT_NE(again.Stderr().find("removing every node, provisioning a new cluster"),
            std::string::npos)
      << again.Stderr();
  const std::vector<pid_t> now = spec.NodePids();
  ASSERT_EQ(now.size(), 3u);
  for (pid_t pid : first) {
    EXPECT_TRUE(std::find(now.begin(), now.end(), pid) == now.end()) << pid;
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, seconds(10))) << pid;
  }
  auto [uri, nodes] = spec.HookOutput();
  ASSERT_FALSE(uri.empty());
  Subprocess verify({KeyferryBinary(), "verify", "--source", source->uri(), "--target", uri});
  EXPECT_EQ(verify.Wait(seconds(60)), 0) << verify.Stdout() << verify.Stderr();
  EXPECT_EQ(ClusterGet(UriOf(uri), "between-runs-2"), "1");
}

// notify-keyspace-events of a node ("" when none).
std::string NotifyFlags(const ServerProcess& node) {
  std::string reply = node.Call({"CONFIG", "GET", "notify-keyspace-events"});
  auto newline = reply.find('\n');
  return newline == std::string::npos ? "<no value>" : reply.substr(newline + 1);
}

// The target's own expiries in a cluster are seen on every primary: keys of every slot
// range expire (PX 50) and each one lands in TargetExpiries; a fence published once on the
// seed is reached (every primary's connection delivered it); Stop() sets
// notify-keyspace-events back on every primary. Fails on main, where the subscriber listens
// to the seed only (the other primaries' keys are missing) and Prepare refuses a cluster.
TEST(ClusterApplyTest, ExpirySubscriberListensToEveryPrimary) {
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  sync::TargetExpiries expiries;
  expiries.set_capacity(1000);
  std::string journaled;
  {
    sync::ExpirySubscriber subscriber(UriOf(cluster->uri()), &expiries);
    ASSERT_TRUE(subscriber.Start([&](const std::string& flags) { journaled = flags; }));
    EXPECT_EQ(journaled, "") << "the operator's flags, before keyferry changed them";
    for (ServerProcess* p : cluster->Primaries()) {
      EXPECT_NE(NotifyFlags(*p).find('E'), std::string::npos) << p->uri();
    }
    std::vector<std::vector<std::string>> sets;
    std::set<std::string> owners;
    for (int i = 0; i < 60; ++i) {
      std::string key = "exp:" + std::to_string(i);
      sets.push_back({"SET", key, "v", "PX", "50"});
      owners.insert(cluster->OwnerOfKey(key)->uri());
    }
    ASSERT_EQ(owners.size(), 3u) << "the keys must cover every primary";
    ExpectNoErrorReplies(cluster->Run(sets), sets);
    // Active expiry finds them within a few hundred ms; GETs make it certain.
    std::this_thread::sleep_for(milliseconds(200));
    for (const auto& set : sets) cluster->Call({"GET", set[1]});
    EXPECT_TRUE(WaitUntil([&] { return expiries.size() == sets.size(); }, seconds(10)))
        << expiries.size() << " of " << sets.size() << " expired keys seen";
    ASSERT_FALSE(expiries.fence_channel().empty());
    net::Client seed;
    ASSERT_TRUE(seed.Connect(UriOf(cluster->uri())));
    auto published = seed.Call({"PUBLISH", expiries.fence_channel(), "token-1"});
    ASSERT_TRUE(published);
    EXPECT_TRUE(expiries.AwaitFence("token-1", milliseconds(2000)));
    EXPECT_FALSE(expiries.events_lost()) << expiries.events_lost_why();
    subscriber.Stop();
  }
  for (ServerProcess* p : cluster->Primaries()) {
    EXPECT_EQ(NotifyFlags(*p), "") << "not restored on " << p->uri();
  }
}

// The in-pause writes route by slot: ReconcileExpiredKeys restores or deletes keys of every
// primary and RepairStreamGroups sets entries-read on streams of every primary, given the
// cluster's seed. Fails on main, which sends everything to the seed (MOVED refusals).
TEST(ClusterApplyTest, InPauseRepairsRouteEveryKeyToItsPrimary) {
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  auto source = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(source);
  net::Client src;
  ASSERT_TRUE(src.Connect(UriOf(source->uri())));
  std::vector<std::string> keys, streams;
  std::vector<std::vector<std::string>> stale;
  for (int i = 0; i < 30; ++i) {
    std::string key = "rk:" + std::to_string(i);
    keys.push_back(key);
    stale.push_back({"SET", key, "stale"});  // on the target: without a TTL, stale
    if (i % 3 != 0) {
      ASSERT_EQ(src.Call({"SET", key, "fresh-" + std::to_string(i), "PX", "600000"})->str(), "OK");
    }  // every third key is gone on the source: the target's copy is deleted
    std::string stream = "st:" + std::to_string(i);
    streams.push_back(stream);
    std::vector<std::vector<std::string>> on_source = {
        {"XADD", stream, "1-1", "f", "v"},
        {"XADD", stream, "2-1", "f", "v"},
        {"XGROUP", "CREATE", stream, "g", "0"},
        {"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", stream, ">"}};
    auto r = src.CallPipelined(on_source);
    ASSERT_TRUE(r);
    for (size_t j = 0; j < r->size(); ++j) ASSERT_FALSE((*r)[j].is_error()) << (*r)[j].str();
    stale.push_back({"XADD", stream, "1-1", "f", "v"});
    stale.push_back({"XADD", stream, "2-1", "f", "v"});
    stale.push_back({"XGROUP", "CREATE", stream, "g", "0"});
  }
  ExpectNoErrorReplies(cluster->Run(stale), stale);
  auto reconciled =
      control::ReconcileExpiredKeys(UriOf(source->uri()), UriOf(cluster->uri()), {{0, keys}});
  ASSERT_TRUE(reconciled) << reconciled.error().ToString();
  EXPECT_EQ(reconciled->restored, 20u);
  EXPECT_EQ(reconciled->deleted, 10u);
  for (int i = 0; i < 30; ++i) {
    resp::Reply got = cluster->Call({"GET", keys[static_cast<size_t>(i)]});
    if (i % 3 == 0) {
      EXPECT_TRUE(got.is_null()) << keys[static_cast<size_t>(i)];
    } else {
      EXPECT_EQ(got.str(), "fresh-" + std::to_string(i));
      EXPECT_GT(cluster->Call({"PTTL", keys[static_cast<size_t>(i)]}).integer(), 0);
    }
  }
  auto repaired =
      control::RepairStreamGroups(UriOf(source->uri()), UriOf(cluster->uri()), {{0, streams}});
  ASSERT_TRUE(repaired) << repaired.error().ToString();
  EXPECT_EQ(repaired->groups_set, 30u);
  for (const auto& stream : streams) {
    resp::Reply groups = cluster->Call({"XINFO", "GROUPS", stream});
    ASSERT_TRUE(groups.is_aggregate() && groups.size() == 1) << stream;
    const resp::Reply& g = groups[0];
    std::string last_id;
    int64_t entries_read = -2;
    for (size_t i = 0; i + 1 < g.size(); i += 2) {
      if (g[i].str() == "last-delivered-id") last_id = g[i + 1].str();
      if (g[i].str() == "entries-read" && g[i + 1].type() == resp::ReplyType::kInteger) {
        entries_read = g[i + 1].integer();
      }
    }
    EXPECT_EQ(last_id, "1-1") << stream;
    EXPECT_EQ(entries_read, 1) << stream;
  }
}

}  // namespace
}  // namespace kf::test
