// Tests of the cluster test harness itself, on real Redis 7.0 and Valkey 8.0 clusters: they
// start with and without replicas and stop by PID; the harness's cluster client routes
// every key to the primary owning its slot; a slot moves (half-way, provoking ASK, then
// fully); a shard fails over by hand and after a crash; and the canonical content of a
// whole cluster compares with a standalone server and with another cluster — and the
// comparison does see a difference when there is one.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "net/client.h"
#include "net/cluster_slots.h"

namespace kf::test {
namespace {

using Cmd = std::vector<std::string>;

const char* EngineName(ServerKind kind) { return kind == ServerKind::kRedis ? "Redis" : "Valkey"; }

int64_t KeysOn(const ServerProcess& node) { return std::stoll(node.Call({"DBSIZE"})); }

class ClusterHarnessTest : public ::testing::TestWithParam<ServerKind> {};

TEST_P(ClusterHarnessTest, StartsWithAndWithoutReplicasAndStopsByPid) {
  for (int replicas : {0, 1}) {
    SCOPED_TRACE(std::to_string(replicas) + " replicas per primary");
    auto cluster =
        ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = replicas});
    ASSERT_TRUE(cluster);
    ASSERT_EQ(cluster->nodes().size(), static_cast<size_t>(3 * (1 + replicas)));
    auto primaries = cluster->Primaries();
    ASSERT_EQ(primaries.size(), 3u);
    int slots = 0;
    for (size_t i = 0; i < primaries.size(); ++i) {
      // Primary i is node i, with range i of the even spread.
      EXPECT_EQ(primaries[i], &cluster->node(i));
      auto ranges = cluster->SlotsOf(*primaries[i]);
      ASSERT_EQ(ranges.size(), 1u);
      EXPECT_EQ(ranges[0].first, static_cast<int>(i) * 16384 / 3);
      slots += ranges[0].second - ranges[0].first + 1;
      EXPECT_EQ(cluster->ReplicasOf(*primaries[i]).size(), static_cast<size_t>(replicas));
      for (ServerProcess* replica : cluster->ReplicasOf(*primaries[i])) {
        EXPECT_EQ(replica->InfoField("replication", "master_port"),
                  std::to_string(primaries[i]->port()));
      }
    }
    EXPECT_EQ(slots, 16384);
    for (const auto& node : cluster->nodes()) {
      EXPECT_NE(node->Call({"CLUSTER", "INFO"}).find("cluster_state:ok"), std::string::npos)
          << node->port();
      EXPECT_EQ(cluster->NodeId(*node).size(), 40u);
      EXPECT_NE(node->cluster_port(), 0);
      EXPECT_EQ(node->InfoField("server", GetParam() == ServerKind::kRedis ? "redis_version"
                                                                           : "valkey_version")
                    .substr(0, 2),
                GetParam() == ServerKind::kRedis ? "7." : "8.");
    }
    std::vector<pid_t> pids;
    for (const auto& node : cluster->nodes()) pids.push_back(node->pid());
    cluster.reset();
    for (pid_t pid : pids)
      EXPECT_NE(::kill(pid, 0), 0) << "node " << pid << " outlived its cluster";
  }
}

TEST_P(ClusterHarnessTest, KeysGoToTheirSlotOwnerAndTheClusterComparesWithAStandalone) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  SeedEveryTypeForCompare(*cluster);
  ASSERT_FALSE(HasFailure());
  // Routing by keyferry's KeySlot sent every command to the owner at once.
  EXPECT_EQ(cluster->moved_redirects(), 0u);
  EXPECT_EQ(cluster->ask_redirects(), 0u);
  int64_t total = 0;
  for (ServerProcess* primary : cluster->Primaries()) {
    EXPECT_GT(KeysOn(*primary), 0) << "no key on primary " << primary->port();
    total += KeysOn(*primary);
  }
  EXPECT_GE(total, 20);
  for (const std::string key : {"db0:str:int", "db0:stream", "db0:hash:big"}) {
    ServerProcess* owner = cluster->OwnerOfKey(key);
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(owner->Call({"EXISTS", key}), "1") << key;
    EXPECT_EQ(cluster->OwnerOfSlot(net::KeySlot(key)), owner);
  }

  auto standalone = StartSeededForCompare(GetParam());
  ASSERT_TRUE(standalone);
  ASSERT_TRUE(cluster->WaitUntilStable());
  const std::vector<net::Uri> single = {UriOf(standalone->uri())};
  EXPECT_EQ(JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single)), "");

  // The comparison sees a changed value, a key on the wrong side, a key held by two nodes
  // and primaries whose function libraries differ.
  EXPECT_EQ(cluster->Call({"SET", "db0:str:int", "54321"}).str(), "OK");
  EXPECT_EQ(cluster->Call({"SET", "only-in-cluster", "x"}).str(), "OK");
  auto diffs = JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single));
  EXPECT_NE(diffs.find("value differs: db0 db0:str:int"), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("expiry differs: db0 db0:str:int"), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("missing on target: db0 only-in-cluster"), std::string::npos) << diffs;

  const int slot = net::KeySlot("only-in-cluster");
  ServerProcess* owner = cluster->OwnerOfSlot(slot);
  ServerProcess* other =
      cluster->Primaries()[0] == owner ? cluster->Primaries()[1] : cluster->Primaries()[0];
  ASSERT_TRUE(cluster->MoveSlot(slot, *other, SlotMoveEnd::kHalfMigrated));
  // Written on the importing node by hand while the source still holds it: two copies.
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(other->uri())));
  auto written = client.CallPipelined({{"ASKING"}, {"SET", "only-in-cluster", "y"}});
  ASSERT_TRUE(written);
  EXPECT_TRUE((*written)[1].IsOk()) << (*written)[1].ToString();
  EXPECT_EQ(other->Call({"FUNCTION", "DELETE", "kflib"}), "OK");
  diffs = JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single, 100));
  EXPECT_NE(diffs.find("key only-in-cluster is on two nodes"), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("function libraries differ between source nodes"), std::string::npos)
      << diffs;
}

TEST_P(ClusterHarnessTest, MoveASlotHalfWayThenFully) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  std::vector<Cmd> writes;
  for (int i = 0; i < 40; ++i) {
    writes.push_back({"SET", "{moving}:" + std::to_string(i), "v" + std::to_string(i)});
  }
  ExpectNoErrorReplies(cluster->Run(writes), writes);
  const int slot = net::KeySlot("moving");
  ServerProcess* from = cluster->OwnerOfSlot(slot);
  ASSERT_NE(from, nullptr);
  EXPECT_EQ(from->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "40");
  ServerProcess* to =
      cluster->Primaries()[0] == from ? cluster->Primaries()[1] : cluster->Primaries()[0];

  ASSERT_TRUE(cluster->MoveSlot(slot, *to, SlotMoveEnd::kHalfMigrated));
  EXPECT_EQ(from->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "20");
  EXPECT_EQ(to->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "20");
  EXPECT_EQ(cluster->OwnerOfSlot(slot), from);  // still the owner until SETSLOT NODE
  std::vector<Cmd> reads;
  for (int i = 0; i < 40; ++i) reads.push_back({"GET", "{moving}:" + std::to_string(i)});
  auto values = cluster->Run(reads);
  ASSERT_EQ(values.size(), 40u);
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(values[static_cast<size_t>(i)].str(), "v" + std::to_string(i));
  // Each moved key answered ASK from the old owner.
  EXPECT_EQ(cluster->ask_redirects(), 20u);
  // A new key of the slot is created where the slot is going.
  EXPECT_EQ(cluster->Call({"SET", "{moving}:new", "n"}).str(), "OK");
  EXPECT_EQ(to->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "21");

  ASSERT_TRUE(cluster->MoveSlot(slot, *to));
  EXPECT_EQ(cluster->OwnerOfSlot(slot), to);
  EXPECT_EQ(from->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "0");
  EXPECT_EQ(to->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "41");
  const uint64_t asks = cluster->ask_redirects();
  values = cluster->Run(reads);
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(values[static_cast<size_t>(i)].str(), "v" + std::to_string(i));
  EXPECT_EQ(cluster->ask_redirects(), asks);
  EXPECT_EQ(cluster->moved_redirects(), 0u);
  ASSERT_TRUE(cluster->WaitUntilStable());
  // The replica of the new owner holds the moved keys too.
  auto replicas = cluster->ReplicasOf(*to);
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0]->Call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "41");
}

TEST_P(ClusterHarnessTest, ShardFailsOverByHandAndAfterACrash) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  SeedEveryTypeForCompare(*cluster);
  auto standalone = StartSeededForCompare(GetParam());
  ASSERT_TRUE(standalone);
  const std::vector<net::Uri> single = {UriOf(standalone->uri())};
  ASSERT_TRUE(cluster->WaitUntilStable());

  const std::string key = "db0:hash:big";
  ServerProcess* old_primary = cluster->OwnerOfKey(key);
  ASSERT_NE(old_primary, nullptr);
  auto replicas = cluster->ReplicasOf(*old_primary);
  ASSERT_EQ(replicas.size(), 1u);
  ServerProcess* new_primary = replicas[0];

  ASSERT_TRUE(cluster->FailOver(*new_primary));
  EXPECT_EQ(cluster->OwnerOfKey(key), new_primary);
  auto followers = cluster->ReplicasOf(*new_primary);
  ASSERT_EQ(followers.size(), 1u);
  EXPECT_EQ(followers[0], old_primary);
  EXPECT_EQ(JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single)), "");

  // A crash of the new primary: the cluster promotes the old one again by itself.
  cluster->KillNode(*new_primary);
  EXPECT_FALSE(new_primary->running());
  ASSERT_TRUE(cluster->WaitUntilStable());
  EXPECT_EQ(cluster->OwnerOfKey(key), old_primary);
  EXPECT_EQ(cluster->Primaries().size(), 3u);
  EXPECT_EQ(JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single)), "");
  EXPECT_EQ(cluster->Call({"HGET", key, "field-7"}).str(), "value-49");
}

INSTANTIATE_TEST_SUITE_P(Engines, ClusterHarnessTest,
                         ::testing::Values(ServerKind::kRedis, ServerKind::kValkey),
                         [](const auto& info) { return EngineName(info.param); });

TEST(ClusterHarnessCrossEngineTest, ARedisClusterComparesWithAValkeyCluster) {
  auto redis = ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3});
  ASSERT_TRUE(redis);
  auto valkey = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 2});
  ASSERT_TRUE(valkey);
  SeedEveryTypeForCompare(*redis);
  SeedEveryTypeForCompare(*valkey);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(JoinDiffs(CanonicalDiff(redis->PrimaryUris(), valkey->PrimaryUris())), "");
  EXPECT_EQ(valkey->Call({"DEL", "db0:set:big"}).integer(), 1);
  auto diffs = JoinDiffs(CanonicalDiff(redis->PrimaryUris(), valkey->PrimaryUris()));
  EXPECT_NE(diffs.find("missing on target: db0 db0:set:big"), std::string::npos) << diffs;
}

}  // namespace
}  // namespace kf::test
