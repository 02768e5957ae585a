// Exactly once through crashes and faulty targets (issue #10): keyferry killed with SIGKILL
// at random points of the snapshot and of the stream while writers run non-idempotent
// commands (INCR, RPUSH: a replayed command shows as a counter too high or a list too
// long); a target that restarted empty; a target that restarts mid-stream with and without
// its own persistence; a target that is someone else's; an evicting target.
//
// Every run ends with the source and the target compared by content (CanonicalDiff), or
// with a refusal that says why; never with exit 0 over missing or doubled data.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "harness/command_loop.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"
#include "net/uri.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::unique_ptr<ServerProcess> StartSource() {
  return ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"},
                                                              {"repl-backlog-size", "256mb"}}});
}

// INCR and RPUSH on 64 keys each, in db 0 and db 2, about 4,000 commands/s, plus a
// MULTI/EXEC block (INCR + RPUSH) every 10th round: applied twice, any of them shows.
std::vector<std::vector<std::string>> NonIdempotentRound(uint64_t i) {
  const std::string n = std::to_string(i % 64);
  const std::string db = i % 3 == 0 ? "2" : "0";
  std::vector<std::vector<std::string>> cmds = {
      {"SELECT", db}, {"INCR", "ctr:" + n}, {"RPUSH", "list:" + n, std::to_string(i)}};
  if (i % 10 == 0) {
    cmds.push_back({"MULTI"});
    cmds.push_back({"INCRBY", "tx:ctr", "3"});
    cmds.push_back({"RPUSH", "tx:list", std::to_string(i)});
    cmds.push_back({"EXEC"});
  }
  return cmds;
}

// Fills the source so that its snapshot takes a noticeable time to copy.
void SeedBulk(ServerProcess& source, int keys) {
  net::Client c;
  ASSERT_TRUE(c.Connect(UriOf(source.uri())));
  for (int from = 0; from < keys; from += 1000) {
    std::vector<std::vector<std::string>> cmds;
    for (int i = from; i < std::min(keys, from + 1000); ++i) {
      cmds.push_back(
          {"HSET", "bulk:" + std::to_string(i), "a", std::to_string(i), "b", std::string(64, 'x')});
    }
    ASSERT_TRUE(c.CallPipelined(cmds));
  }
}

std::vector<std::string> SyncArgs(const ServerProcess& source, const std::string& target_uri,
                                  const std::string& checkpoint) {
  return {KeyferryBinary(), "sync",     "--source",     source.uri(),
          "--target",       target_uri, "--checkpoint", checkpoint};
}

// SIGKILL at random points of the snapshot and of the stream, again and again, with
// INCR/RPUSH writers; then the writers stop and a last `--once` must leave both ends
// equal. Before the marker (5a11fe3): the checkpoint lagged up to a second behind the
// target, so each kill replayed commands (counters too high, lists too long), and a kill
// inside the snapshot left a partial target the next run refused or resumed into.
TEST(ExactlyOnceTest, SigkillAtRandomPointsNeverAppliesTwiceOrSkips) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  SeedBulk(*source, 150000);
  ASSERT_FALSE(HasFatalFailure());
  std::string dir = MakeTempDir("kf-once-");
  const std::string checkpoint = dir + "/cp.json";
  std::mt19937 rng(20261127);
  std::string delays;
  {
    CommandLoop writer(UriOf(source->uri()), NonIdempotentRound, std::chrono::minutes(4));
    std::this_thread::sleep_for(milliseconds(100));
    for (int round = 0; round < 8; ++round) {
      // Short delays land in the snapshot (about 0.5-1 s here), long ones in the stream.
      const int ms = round % 2 == 0 ? std::uniform_int_distribution<int>(50, 700)(rng)
                                    : std::uniform_int_distribution<int>(800, 2500)(rng);
      delays += std::to_string(ms) + " ";
      Subprocess sync(SyncArgs(*source, target->uri(), checkpoint));
      std::this_thread::sleep_for(milliseconds(ms));
      sync.Signal(SIGKILL);
      sync.Wait(seconds(10));
    }
    writer.Stop();
    EXPECT_EQ(writer.error(), "");
    EXPECT_GT(writer.commands(), 1000u);
  }
  Subprocess last({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                   "--once", "--checkpoint", checkpoint});
  ASSERT_EQ(last.Wait(seconds(120)), 0) << last.Stderr();
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << "kills after " << delays << "ms\n" << JoinDiffs(diffs);
  // Resumes went by CONTINUE where the target held a complete copy.
  EXPECT_GE(std::stoi(source->InfoField("stats", "sync_partial_ok")), 1);
  RemoveTree(dir);
}

// A target that restarted empty between runs must not be resumed into (PSYNC would
// continue and skip everything it lost): the marker is gone, so keyferry copies again.
// Before: `--once` exited 0 with most keys missing.
TEST(ExactlyOnceTest, TargetRestartedEmptyIsCopiedAgainNotResumed) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  std::string dir = MakeTempDir("kf-once-");
  const std::string checkpoint = dir + "/cp.json";
  auto once = [&] {
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                     "--once", "--checkpoint", checkpoint});
    EXPECT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
    return sync.Stderr();
  };
  once();
  target->Kill();
  ASSERT_TRUE(target->Restart());  // no persistence: it comes back empty
  ASSERT_EQ(target->Call({"DBSIZE"}), "0");
  source->Call({"SET", "after-restart", "1"});
  std::string log = once();
  EXPECT_NE(log.find("no longer holds keyferry's marker"), std::string::npos) << log;
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "2");
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  RemoveTree(dir);
}

// A checkpoint pointed at a server that holds data but not this sync's marker (a mistyped
// host, another team's cache) is refused before anything is written; so is a target that
// carries another sync's marker.
TEST(ExactlyOnceTest, TargetThatIsNotOursIsRefused) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  auto other = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target && other);
  source->Call({"SET", "k", "v"});
  std::string dir = MakeTempDir("kf-once-");
  {
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                     "--once", "--checkpoint", dir + "/a.json"});
    ASSERT_EQ(sync.Wait(seconds(60)), 0) << sync.Stderr();
  }
  other->Call({"SET", "someone-else", "data"});
  {
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", other->uri(),
                     "--once", "--checkpoint", dir + "/a.json"});
    EXPECT_EQ(sync.Wait(seconds(60)), 2);
    EXPECT_NE(sync.Stderr().find("not keyferry's marker"), std::string::npos) << sync.Stderr();
    EXPECT_EQ(other->Call({"GET", "someone-else"}), "data");
    EXPECT_EQ(other->Call({"DBSIZE"}), "1");
  }
  {
    // Another sync (its own checkpoint) takes the first one's target over on purpose...
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                     "--once", "--checkpoint", dir + "/b.json", "--flush-target"});
    ASSERT_EQ(sync.Wait(seconds(60)), 0) << sync.Stderr();
  }
  {
    // ...so the first sync's checkpoint no longer belongs to that target.
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                     "--once", "--checkpoint", dir + "/a.json"});
    EXPECT_EQ(sync.Wait(seconds(60)), 2);
    EXPECT_NE(sync.Stderr().find("was written by another keyferry sync"), std::string::npos)
        << sync.Stderr();
  }
  RemoveTree(dir);
}

// The target restarts in the middle of the stream. With its own persistence (AOF,
// fsync always) it comes back holding the marker that matches its data, and keyferry
// continues from the marker's offset; without persistence it comes back empty and
// keyferry copies everything again. Either way the run ends equal.
class TargetRestartTest : public ::testing::TestWithParam<bool> {};

TEST_P(TargetRestartTest, MidStreamRestartEndsEqual) {
  const bool persistent = GetParam();
  auto source = StartSource();
  ServerOptions target_options;
  if (persistent) {
    target_options.config = {{"appendonly", "yes"}, {"appendfsync", "always"}};
  }
  auto target = ServerProcess::Start(ServerKind::kValkey, target_options);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  std::string dir = MakeTempDir("kf-once-");
  {
    Subprocess sync(SyncArgs(*source, target->uri(), dir + "/cp.json"));
    ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 30000)) << sync.Stderr();
    CommandLoop writer(UriOf(source->uri()), NonIdempotentRound, std::chrono::minutes(4));
    std::this_thread::sleep_for(milliseconds(800));
    target->Kill();
    std::this_thread::sleep_for(milliseconds(300));
    ASSERT_TRUE(target->Restart());
    std::this_thread::sleep_for(milliseconds(1500));
    writer.Stop();
    EXPECT_EQ(writer.error(), "");
    ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 60000)) << sync.Stderr();
    sync.Signal(SIGTERM);
    ASSERT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
    if (persistent) {
      EXPECT_EQ(source->InfoField("stats", "sync_full"), "1") << sync.Stderr();
    } else {
      EXPECT_EQ(source->InfoField("stats", "sync_full"), "2") << sync.Stderr();
    }
  }
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  RemoveTree(dir);
}

INSTANTIATE_TEST_SUITE_P(Persistence, TargetRestartTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Aof" : "None"; });

// A target that may evict is refused before anything is written; one whose policy is
// switched to evicting mid-run and then evicts stops the sync loudly (exit 2). Before:
// "done: 300000 keys" with most of them evicted.
TEST(ExactlyOnceTest, EvictingTargetIsRefusedAndEvictionsStopTheSync) {
  auto source = StartSource();
  auto target = ServerProcess::Start(
      ServerKind::kValkey,
      {.config = {{"maxmemory", "20mb"}, {"maxmemory-policy", "allkeys-lru"}}});
  ASSERT_TRUE(source && target);
  SeedBulk(*source, 100000);
  ASSERT_FALSE(HasFatalFailure());
  {
    Subprocess sync(
        {KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(), "--once"});
    EXPECT_EQ(sync.Wait(seconds(60)), 2);
    EXPECT_NE(sync.Stderr().find("maxmemory-policy allkeys-lru"), std::string::npos)
        << sync.Stderr();
    EXPECT_NE(sync.Stderr().find("noeviction"), std::string::npos) << sync.Stderr();
    EXPECT_EQ(target->Call({"DBSIZE"}), "0");
  }
  // Allowed at start (noeviction, big enough), then switched behind keyferry's back.
  target->Call({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  target->Call({"CONFIG", "SET", "maxmemory", "0"});
  std::string dir = MakeTempDir("kf-once-");
  Subprocess sync(SyncArgs(*source, target->uri(), dir + "/cp.json"));
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 60000)) << sync.Stderr();
  target->Call({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  target->Call({"CONFIG", "SET", "maxmemory", "10mb"});
  source->Call({"SET", "trigger", std::string(1000, 'x')});  // a write makes it evict
  EXPECT_EQ(sync.Wait(seconds(30)), 2);
  EXPECT_NE(sync.Stderr().find("evicted"), std::string::npos) << sync.Stderr();
  RemoveTree(dir);
}

// An external target with an evicting policy is a PREFLIGHT failure (doctor's
// target.eviction), before anything is provisioned or written.
TEST(ExactlyOnceTest, EvictingExternalTargetFailsPreflight) {
  auto source = StartSource();
  auto target = ServerProcess::Start(
      ServerKind::kValkey,
      {.config = {{"maxmemory", "50mb"}, {"maxmemory-policy", "allkeys-lru"}}});
  ASSERT_TRUE(source && target);
  source->Call({"SET", "k", "v"});
  std::string dir = MakeTempDir("kf-once-");
  std::ofstream(dir + "/spec.yaml")
      << "name: evicting\nsource:\n  uri: redis://127.0.0.1:" << source->port()
      << "\ntarget:\n  version: \"8.0\"\n  provider: external\n  external:\n    uri: "
         "redis://127.0.0.1:"
      << target->port() << "\nafter_cutover:\n  source: keep\n";
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", dir + "/spec.yaml"});
  EXPECT_EQ(doctor.Wait(seconds(30)), 1);
  EXPECT_NE(doctor.Stdout().find("[FAIL] target.eviction"), std::string::npos) << doctor.Stdout();
  Subprocess apply({KeyferryBinary(), "apply", "-f", dir + "/spec.yaml", "--auto-approve"});
  EXPECT_EQ(apply.Wait(seconds(60)), 1);
  EXPECT_NE(apply.Stderr().find("maxmemory-policy allkeys-lru"), std::string::npos)
      << apply.Stderr();
  EXPECT_EQ(target->Call({"DBSIZE"}), "0");
  RemoveTree(dir);
}

}  // namespace
}  // namespace kf::test
