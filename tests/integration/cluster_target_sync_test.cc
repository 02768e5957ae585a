// keyferry sync from a standalone Redis into a Valkey Cluster (issue #11 §2, "cluster as
// target"): every key routed to the primary owning its slot, the stream applied one
// MULTI/EXEC per slot with that slot's marker, MOVED / ASK / TRYAGAIN followed when the
// target's slots move during the sync, exactly once through kill -9.
//
// Each run is proven by `keyferry verify` (which reads every shard) and by the harness's
// own CanonicalDiff over the cluster's primaries; counters written with INCR show any
// replayed or lost command.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "harness/cluster_process.h"
#include "harness/command_loop.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"
#include "net/cluster_slots.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

uint64_t TotalKeys(ClusterProcess& cluster) {
  uint64_t total = 0;
  for (ServerProcess* p : cluster.Primaries()) total += std::stoull(p->Call({"DBSIZE"}));
  return total;
}

std::string RunVerify(const std::string& source, const std::string& target, int* exit_code) {
  Subprocess verify({KeyferryBinary(), "verify", "--source", source, "--target", target});
  *exit_code = verify.Wait(seconds(120));
  return verify.Stdout() + verify.Stderr();
}

// What shows a lost or doubled command on the target: INCR on 200 counters spread over
// every slot range, RPUSH on 50 lists, and every 10th round an MSET and a MULTI/EXEC of
// keys under one hash tag and a DEL of several keys in one slot.
std::vector<std::vector<std::string>> CounterRound(uint64_t i) {
  std::vector<std::vector<std::string>> cmds = {
      {"INCR", "ctr:" + std::to_string(i % 200)},
      {"RPUSH", "list:" + std::to_string(i % 50), std::to_string(i)}};
  if (i % 10 == 0) {
    cmds.push_back({"MULTI"});
    cmds.push_back({"INCRBY", "{tx}ctr", "3"});
    cmds.push_back({"RPUSH", "{tx}list", std::to_string(i)});
    cmds.push_back({"EXEC"});
    cmds.push_back({"MSET", "{m}a", std::to_string(i), "{m}b", std::to_string(i)});
    cmds.push_back({"SET", "{d}x", "1"});
    cmds.push_back({"SET", "{d}y", "1"});
    cmds.push_back({"DEL", "{d}x", "{d}y"});
  }
  return cmds;
}

std::unique_ptr<ServerProcess> StartSource() {
  return ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"},
                                                              {"repl-backlog-size", "128mb"}}});
}

// Every type, TTLs, a stream with consumer groups and a function library, from a
// standalone Redis into a 3-primary Valkey Cluster. Before: sync refused a cluster target.
TEST(ClusterTargetSyncTest, EveryTypeLandsOnTheShardOwningItsSlot) {
  auto source = StartSeededForCompare(ServerKind::kRedis);
  ASSERT_TRUE(source);
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  ASSERT_FALSE(HasFailure());

  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", source->uri(), "--target", cluster->uri(), "--once"});
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();

  const std::vector<net::Uri> single = {UriOf(source->uri())};
  EXPECT_EQ(JoinDiffs(CanonicalDiff(single, cluster->PrimaryUris())), "");
  // Without a checkpoint nothing can resume the run: no marker is left behind.
  EXPECT_EQ(TotalKeys(*cluster), std::stoull(source->Call({"DBSIZE"})));
  int exit_code = -1;
  auto out = RunVerify(source->uri(), cluster->uri(), &exit_code);
  EXPECT_EQ(exit_code, 0) << out;
  EXPECT_NE(out.find("result: EQUAL"), std::string::npos) << out;
  // Every primary got keys, and the function library (FCALL runs on any primary).
  for (ServerProcess* p : cluster->Primaries()) {
    EXPECT_GT(std::stoull(p->Call({"DBSIZE"})), 0u) << p->uri();
    EXPECT_NE(p->Call({"FUNCTION", "LIST"}).find("kflib"), std::string::npos) << p->uri();
  }
}

// A source with data in two dbs cannot land in a cluster (db 0 only): refused before any
// write, with the way out named.
TEST(ClusterTargetSyncTest, SourceWithSeveralDbsIsRefusedBeforeAnyWrite) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  ASSERT_EQ(source->Call({"SET", "a", "1"}), "OK");
  ASSERT_EQ(source->Call({"SELECT", "3"}), "OK");
  net::Client c;
  ASSERT_TRUE(c.Connect(UriOf(source->uri() + "/3")));
  ASSERT_TRUE(c.Call({"SET", "b", "2"}));
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", source->uri(), "--target", cluster->uri(), "--once"});
  EXPECT_EQ(sync.Wait(seconds(60)), 2) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("has db 0 only"), std::string::npos) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("--db-map 3:0"), std::string::npos) << sync.Stderr();
  EXPECT_EQ(TotalKeys(*cluster), 0u);
}

// Live writes while keyferry is killed with SIGKILL mid-stream and the target cluster moves
// slots (a whole slot, then another one left half migrated for a while): every counter must
// end at exactly the number of INCRs the source acknowledged.
TEST(ClusterTargetSyncTest, KillAndSlotMovesDuringTheStreamNeverLoseOrDoubleAWrite) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  std::string dir = MakeTempDir("kf-cluster-target-");
  const std::string checkpoint = dir + "/cp.json";
  auto sync_args = [&] {
    return std::vector<std::string>{KeyferryBinary(), "sync",         "--source",     source->uri(),
                                    "--target",       cluster->uri(), "--checkpoint", checkpoint};
  };
  uint64_t rounds = 0;
  {
    CommandLoop writer(UriOf(source->uri()), CounterRound, std::chrono::minutes(3));
    {
      Subprocess first(sync_args());
      std::this_thread::sleep_for(milliseconds(2500));
      first.Signal(SIGKILL);
      first.Wait(seconds(10));
    }
    // Move the slot of ctr:1 to another primary (MOVED), while the next run streams.
    Subprocess second(sync_args());
    std::this_thread::sleep_for(milliseconds(1500));
    const int slot = net::KeySlot("ctr:1");
    ServerProcess* owner = cluster->OwnerOfSlot(slot);
    ASSERT_NE(owner, nullptr);
    ServerProcess* other = nullptr;
    for (ServerProcess* p : cluster->Primaries()) {
      if (p != owner) other = p;
    }
    ASSERT_TRUE(cluster->MoveSlot(slot, *other));
    // Half-migrate the slot of ctr:2 (ASK / TRYAGAIN for a moment), then finish the move.
    const int slot2 = net::KeySlot("ctr:2");
    ServerProcess* owner2 = cluster->OwnerOfSlot(slot2);
    ServerProcess* other2 = nullptr;
    for (ServerProcess* p : cluster->Primaries()) {
      if (p != owner2) other2 = p;
    }
    ASSERT_TRUE(cluster->MoveSlot(slot2, *other2, SlotMoveEnd::kHalfMigrated));
    std::this_thread::sleep_for(milliseconds(1000));
    ASSERT_TRUE(cluster->MoveSlot(slot2, *other2, SlotMoveEnd::kComplete));
    std::this_thread::sleep_for(milliseconds(1000));
    second.Signal(SIGKILL);
    second.Wait(seconds(10));
    // The moves reached the writer as redirections it followed (MOVED, then ASK/TRYAGAIN).
    EXPECT_NE(second.Stderr().find("redirected the writes"), std::string::npos) << second.Stderr();
    EXPECT_NE(second.Stderr().find("\"MOVED "), std::string::npos) << second.Stderr();
    EXPECT_NE(second.Stderr().find("\"ASK "), std::string::npos) << second.Stderr();
    writer.Stop();
    EXPECT_EQ(writer.error(), "");
    rounds = writer.rounds();
    EXPECT_GT(rounds, 1000u);
  }
  Subprocess last({KeyferryBinary(), "sync", "--source", source->uri(), "--target", cluster->uri(),
                   "--once", "--checkpoint", checkpoint});
  ASSERT_EQ(last.Wait(seconds(120)), 0) << last.Stderr();
  // Resumed by CONTINUE each time, not copied again.
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "1");
  EXPECT_GE(std::stoi(source->InfoField("stats", "sync_partial_ok")), 2);

  net::Client any;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "ctr:" + std::to_string(i);
    auto owner = cluster->OwnerOfKey(key);
    ASSERT_NE(owner, nullptr);
    const uint64_t expected = rounds / 200 + (static_cast<uint64_t>(i) < rounds % 200 ? 1 : 0);
    EXPECT_EQ(owner->Call({"GET", key}), std::to_string(expected)) << key;
  }
  const std::vector<net::Uri> single = {UriOf(source->uri())};
  auto diffs = CanonicalDiff(single, cluster->PrimaryUris());
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  int exit_code = -1;
  auto out = RunVerify(source->uri(), cluster->uri(), &exit_code);
  EXPECT_EQ(exit_code, 0) << out;
  RemoveTree(dir);
}

// Waits (at most `timeout`) until the cluster serves `key` with `value`.
bool WaitForKey(ClusterProcess& cluster, const std::string& key, const std::string& value,
                milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    ServerProcess* owner = cluster.OwnerOfKey(key);
    if (owner != nullptr && owner->Call({"GET", key}) == value) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

// Multi-key commands of a standalone source whose keys lie in several slots: the ones
// whose per-slot pieces do the same are split (MSET, MSETNX, DEL, UNLINK, and a source
// MULTI/EXEC across slots, applied per slot); RENAME across slots cannot be, and stops the
// sync naming it. Before (28e382d): the first MSET stopped the sync.
TEST(ClusterTargetSyncTest, CrossSlotCommandsAreSplitOrRefusedByName) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  std::string dir = MakeTempDir("kf-cluster-split-");
  ASSERT_EQ(source->Call({"SET", "before", "1"}), "OK");
  Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", cluster->uri(),
                   "--checkpoint", dir + "/cp.json"});
  ASSERT_TRUE(WaitForKey(*cluster, "before", "1", seconds(30))) << sync.Stderr();

  net::Client c;
  ASSERT_TRUE(c.Connect(UriOf(source->uri())));
  std::vector<std::vector<std::string>> commands = {
      {"MSET", "a", "1", "b", "2", "c", "3", "d", "4"},
      {"MSETNX", "n1", "x", "n2", "y", "n3", "z"},
      {"SET", "gone1", "1"},
      {"SET", "gone2", "1"},
      {"SET", "gone3", "1"},
      {"DEL", "gone1", "gone2", "missing"},
      {"UNLINK", "gone3", "a"},
      {"MULTI"},
      {"INCR", "tx1"},
      {"INCR", "tx2"},
      {"RPUSH", "tx3", "v"},
      {"EXEC"},
      {"SET", "after", "1"}};
  auto replies = c.CallPipelined(commands);
  ASSERT_TRUE(replies);
  for (size_t i = 0; i < replies->size(); ++i) {
    ASSERT_FALSE((*replies)[i].is_error()) << (*replies)[i].str();
  }
  // The keys are really in several slots (else this tests nothing).
  ASSERT_NE(net::KeySlot("a"), net::KeySlot("b"));
  ASSERT_NE(net::KeySlot("tx1"), net::KeySlot("tx2"));
  ASSERT_TRUE(WaitForKey(*cluster, "after", "1", seconds(30))) << sync.Stderr();
  const std::vector<net::Uri> single = {UriOf(source->uri())};
  EXPECT_EQ(JoinDiffs(CanonicalDiff(single, cluster->PrimaryUris())), "");

  // RENAME across slots: no per-slot pieces do the same. The sync stops and names it.
  ASSERT_EQ(source->Call({"RENAME", "b", "renamed"}), "OK");
  ASSERT_NE(net::KeySlot("b"), net::KeySlot("renamed"));
  EXPECT_EQ(sync.Wait(seconds(30)), 2) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("RENAME"), std::string::npos) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("hash tag"), std::string::npos) << sync.Stderr();
  // Nothing of the RENAME reached the target: b is still there, renamed is not.
  EXPECT_EQ(cluster->OwnerOfKey("b")->Call({"GET", "b"}), "2");
  RemoveTree(dir);
}

}  // namespace
}  // namespace kf::test

namespace kf::test {
namespace {

// A slot of the target moves while the snapshot is written: the lanes route by the slot map
// they started with, so the snapshot is copied again over the new map (docs/cluster.md,
// "Slots that move during the sync"), and the run still ends equal.
TEST(ClusterTargetSyncTest, ASlotMovedDuringTheSnapshotIsCopiedAgainAndEndsEqual) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  {
    net::Client c;
    ASSERT_TRUE(c.Connect(UriOf(source->uri())));
    for (int from = 0; from < 300000; from += 1000) {
      std::vector<std::vector<std::string>> cmds;
      for (int i = from; i < from + 1000; ++i) {
        cmds.push_back({"HSET", "bulk:" + std::to_string(i), "a", std::to_string(i), "b",
                        std::string(64, 'x')});
      }
      ASSERT_TRUE(c.CallPipelined(cmds));
    }
  }
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);
  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", source->uri(), "--target", cluster->uri(), "--once"});
  // Wait for the first keys to land, then move a slot that already holds some.
  const int slot = net::KeySlot("bulk:0");
  ServerProcess* owner = cluster->OwnerOfSlot(slot);
  ASSERT_NE(owner, nullptr);
  bool landed = false;
  for (int i = 0; i < 400 && !landed; ++i) {
    landed = std::stoull(owner->Call({"DBSIZE"})) > 1000;
    if (!landed) std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(landed) << sync.Stderr();
  ServerProcess* other = cluster->Primaries().front() == owner ? cluster->Primaries().back()
                                                               : cluster->Primaries().front();
  ASSERT_TRUE(cluster->MoveSlot(slot, *other));
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("copying the snapshot again"), std::string::npos) << sync.Stderr();
  const std::vector<net::Uri> single = {UriOf(source->uri())};
  auto diffs = CanonicalDiff(single, cluster->PrimaryUris());
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

}  // namespace
}  // namespace kf::test
