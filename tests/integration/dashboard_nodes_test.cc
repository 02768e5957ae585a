// The dashboard's node reader against real servers: a cluster seed lists every node of the
// cluster (3 primaries with one replica each: six rows, each with its role, engine and
// version, the primaries with their slots), a standalone server is one row, and a node that
// is down is listed with its error while the others are still read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "observe/dashboard.h"

namespace kf::test {
namespace {

using ::testing::HasSubstr;

TEST(DashboardNodesTest, AClusterSeedListsEveryNode) {
  auto cluster =
      ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  Result<net::Uri> seed = UriOf(cluster->uri());
  // Right after the start a replica may not be in the seed's view yet (gossip): wait for
  // all six, at most 10 s.
  auto side = observe::ReadSideNodes(seed);
  for (int i = 0; i < 100 && side["nodes"].size() < 6u; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    side = observe::ReadSideNodes(seed);
  }
  SCOPED_TRACE(side.dump(2));
  EXPECT_EQ(side.value("cluster", false), true);
  ASSERT_EQ(side["nodes"].size(), 6u);
  std::set<std::string> endpoints;
  int masters = 0;
  int replicas = 0;
  for (const auto& node : side["nodes"]) {
    EXPECT_FALSE(node.contains("error"));
    EXPECT_EQ(node.value("engine", ""), "valkey");
    EXPECT_EQ(node.value("mode", ""), "cluster");
    endpoints.insert(node.value("endpoint", ""));
    if (node.value("role", "") == "master") {
      ++masters;
      EXPECT_FALSE(node.value("slots", "").empty());
    } else if (node.value("role", "") == "slave") {
      ++replicas;
    }
  }
  EXPECT_EQ(endpoints.size(), 6u);
  EXPECT_EQ(masters, 3);
  EXPECT_EQ(replicas, 3);
}

TEST(DashboardNodesTest, AStandaloneServerIsOneNodeAndADeadOneShowsItsError) {
  auto server = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(server);
  ASSERT_EQ(server->Call({"SET", "k", "v"}), "OK");
  Result<net::Uri> seed = UriOf(server->uri());
  auto side = observe::ReadSideNodes(seed);
  ASSERT_EQ(side["nodes"].size(), 1u) << side.dump(2);
  EXPECT_EQ(side["nodes"][0].value("engine", ""), "redis");
  EXPECT_EQ(side["nodes"][0].value("keys", 0), 1);
  EXPECT_GT(side["nodes"][0].value("used_memory", 0), 0);
  const std::string endpoint = side["nodes"][0].value("endpoint", "");
  server.reset();  // stopped by pid
  auto gone = observe::ReadSideNodes(seed);
  ASSERT_EQ(gone["nodes"].size(), 1u) << gone.dump(2);
  EXPECT_EQ(gone["nodes"][0].value("endpoint", ""), endpoint);
  EXPECT_THAT(gone["nodes"][0].value("error", ""), HasSubstr("cannot connect"));
}

}  // namespace
}  // namespace kf::test
