// keyferry verify with a Redis/Valkey Cluster at either end (issue #11 §2: "given the URI of
// any node, verify detects a cluster and reads its shards"). Every deployment here holds the
// same seed of every type (absolute expiries, a stream with groups, a function library),
// written separately; verify must find them equal from any node, in both directions and
// across shard counts, and must name a difference wherever it lies:
//  - a 3-primary Redis Cluster (given as a replica-less primary) against a standalone Valkey;
//  - the reverse direction, from a standalone into a 2-primary Valkey Cluster;
//  - a cluster against a cluster with another shard count (3 → 2);
//  - a changed value, a missing key and a function library missing on one primary;
//  - a slot migration in progress is refused, a --db other than 0 too.
// The harness's own CanonicalDiff (which reads every primary itself) must agree each time.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::seconds;

struct VerifyRun {
  int exit = -1;
  std::string out;
};

VerifyRun RunVerify(const std::string& source, const std::string& target,
                    std::vector<std::string> more = {}) {
  std::vector<std::string> args = {KeyferryBinary(), "verify",   "--source",
                                   source,           "--target", target};
  for (auto& m : more) args.push_back(std::move(m));
  Subprocess verify(args);
  VerifyRun run;
  run.exit = verify.Wait(seconds(120));
  run.out = verify.Stdout() + verify.Stderr();
  return run;
}

TEST(ClusterVerifyTest, AClusterComparesWithAStandaloneBothWaysAndNamesDifferences) {
  auto cluster = ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3});
  ASSERT_TRUE(cluster);
  SeedEveryTypeForCompare(*cluster);
  ASSERT_FALSE(HasFatalFailure());
  auto standalone = StartSeededForCompare(ServerKind::kValkey);
  ASSERT_TRUE(standalone);
  ASSERT_FALSE(HasFailure());
  const std::vector<net::Uri> single = {UriOf(standalone->uri())};
  ASSERT_EQ(JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single)), "");

  // From every primary as the given node: equal, and every key of every shard was checked.
  const std::string standalone_keys = standalone->Call({"DBSIZE"});
  for (ServerProcess* node : cluster->Primaries()) {
    auto run = RunVerify(node->uri(), standalone->uri());
    EXPECT_EQ(run.exit, 0) << run.out;
    EXPECT_NE(run.out.find("result: EQUAL"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("cluster of 3 primaries"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("keys checked: " + standalone_keys + " on the source"),
              std::string::npos)
        << run.out;
  }
  auto reverse = RunVerify(standalone->uri(), cluster->uri());
  EXPECT_EQ(reverse.exit, 0) << reverse.out;
  EXPECT_NE(reverse.out.find("keys checked: " + standalone_keys + " on the source"),
            std::string::npos)
      << reverse.out;

  // A changed value on one shard, a key missing from the cluster: both named.
  EXPECT_EQ(cluster->Call({"SET", "db0:str:int", "54321"}).str(), "OK");
  EXPECT_EQ(standalone->Call({"SET", "only-in-standalone", "x"}), "OK");
  auto diffs = JoinDiffs(CanonicalDiff(cluster->PrimaryUris(), single));
  EXPECT_NE(diffs.find("db0:str:int"), std::string::npos) << diffs;
  auto different = RunVerify(cluster->uri(), standalone->uri());
  EXPECT_EQ(different.exit, 1) << different.out;
  EXPECT_NE(different.out.find("db0:str:int"), std::string::npos) << different.out;
  EXPECT_NE(different.out.find("only-in-standalone"), std::string::npos) << different.out;

  // A --db other than 0 on the cluster end is refused with the reason.
  auto db3 = RunVerify(cluster->uri() + "/3", standalone->uri());
  EXPECT_EQ(db3.exit, 2) << db3.out;
  EXPECT_NE(db3.out.find("only db 0"), std::string::npos) << db3.out;
}

TEST(ClusterVerifyTest, ClustersOfDifferentShardCountsAndLibrariesPerPrimary) {
  auto source = ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3});
  ASSERT_TRUE(source);
  auto target = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 2});
  ASSERT_TRUE(target);
  SeedEveryTypeForCompare(*source);
  SeedEveryTypeForCompare(*target);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(JoinDiffs(CanonicalDiff(source->PrimaryUris(), target->PrimaryUris())), "");

  auto equal = RunVerify(source->uri(), target->uri());
  EXPECT_EQ(equal.exit, 0) << equal.out;
  EXPECT_NE(equal.out.find("result: EQUAL"), std::string::npos) << equal.out;
  EXPECT_NE(equal.out.find("cluster of 2 primaries"), std::string::npos) << equal.out;

  // A key moved to a slot of the other primary (a half-migrated slot): refused, not judged.
  ServerProcess* owner = target->OwnerOfKey("db0:str:int");
  ASSERT_NE(owner, nullptr);
  ServerProcess* other = nullptr;
  for (ServerProcess* p : target->Primaries()) {
    if (p != owner) other = p;
  }
  ASSERT_NE(other, nullptr);
  const int slot = std::stoi(owner->Call({"CLUSTER", "KEYSLOT", "db0:str:int"}));
  ASSERT_TRUE(target->MoveSlot(slot, *other, SlotMoveEnd::kHalfMigrated, 1));
  auto moving = RunVerify(source->uri(), target->uri());
  EXPECT_EQ(moving.exit, 2) << moving.out;
  EXPECT_NE(moving.out.find("slot migration in progress"), std::string::npos) << moving.out;
  ASSERT_TRUE(target->MoveSlot(slot, *other, SlotMoveEnd::kComplete, 1));
  // MIGRATE carries a key's TTL as time left, so the moved key's absolute expiry shifts by
  // the move's latency (4 ms seen under load): compare expiries with a tolerance here.
  auto moved = RunVerify(source->uri(), target->uri(), {"--ttl-tolerance-ms", "5000"});
  EXPECT_EQ(moved.exit, 0) << moved.out;

  // One primary of the target loses the function library: the compare says so.
  ServerProcess* flushed = target->Primaries().back();
  EXPECT_EQ(flushed->Call({"FUNCTION", "FLUSH"}), "OK");
  auto libraries = RunVerify(source->uri(), target->uri());
  EXPECT_NE(libraries.exit, 0) << libraries.out;
  EXPECT_NE(libraries.out.find("function libraries must be the same on every primary"),
            std::string::npos)
      << libraries.out;
}

}  // namespace
}  // namespace kf::test
