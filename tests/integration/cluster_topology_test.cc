// keyferry's cluster reading against real Redis 7.0 and Valkey 8.0 clusters started by the
// harness: net::KeySlot agrees with CLUSTER KEYSLOT of both engines; ReadClusterTopology
// tells a standalone server from a cluster node and reads the same shards as the harness
// sees them, through CLUSTER SHARDS and through CLUSTER NODES, from a primary and from a
// replica; after a manual failover and after a crash; with a slot half-migrated (reported
// as MIGRATING and IMPORTING); and it says which node and what to do when it cannot read.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "net/client.h"
#include "net/cluster_errc.h"
#include "net/cluster_probe.h"
#include "net/cluster_slots.h"
#include "net/errc.h"

namespace kf::test {
namespace {

using net::ClusterTopology;

const char* EngineName(ServerKind kind) { return kind == ServerKind::kRedis ? "Redis" : "Valkey"; }

ClusterTopology Read(const std::string& uri, bool use_cluster_nodes = false) {
  net::ClusterReadOptions options;
  options.use_cluster_nodes = use_cluster_nodes;
  auto topology = net::ReadClusterTopology(UriOf(uri), options);
  EXPECT_TRUE(topology) << uri << ": " << (topology ? "" : topology.error().ToString());
  if (!topology) return {};
  EXPECT_TRUE(topology->has_value()) << uri << " was read as a standalone server";
  return topology->value_or(ClusterTopology{});
}

// The layout as the harness sees it (its own CLUSTER NODES reading), in the form keyferry's
// topology gives it: "[slots] primary-port (replica-ports)" per serving shard.
std::string HarnessLayout(const ClusterProcess& cluster) {
  std::string out;
  for (ServerProcess* primary : cluster.Primaries()) {
    std::string slots;
    for (const auto& [first, last] : cluster.SlotsOf(*primary)) {
      if (!slots.empty()) slots += ",";
      slots += std::to_string(first) + (last != first ? "-" + std::to_string(last) : "");
    }
    out += "[" + slots + "] " + cluster.NodeId(*primary) + "@" + std::to_string(primary->port());
    std::vector<std::pair<std::string, int>> replicas;
    for (ServerProcess* r : cluster.ReplicasOf(*primary)) {
      replicas.emplace_back(cluster.NodeId(*r), r->port());
    }
    std::sort(replicas.begin(), replicas.end());
    for (const auto& [id, port] : replicas) out += " +" + id + "@" + std::to_string(port);
    out += "\n";
  }
  return out;
}

std::string Layout(const ClusterTopology& t) {
  std::string out;
  for (const auto& shard : t.shards) {
    if (shard.slots.empty()) continue;
    out += "[" + net::SlotRangesToString(shard.slots) + "] " + shard.primary.id + "@" +
           std::to_string(shard.primary.port);
    for (const auto& r : shard.replicas) out += " +" + r.id + "@" + std::to_string(r.port);
    out += "\n";
  }
  return out;
}

// Read() until its layout is `expected`, for a bounded while (10 s). Valkey groups CLUSTER
// SHARDS by shard id, which a replica's peers learn by gossip a little after its role (the
// harness's stability check reads CLUSTER NODES): until then a replica can be missing from
// its primary's shard.
ClusterTopology ReadSettled(const std::string& uri, bool use_cluster_nodes,
                            const std::string& expected) {
  ClusterTopology t = Read(uri, use_cluster_nodes);
  for (int attempt = 0; attempt < 100 && Layout(t) != expected; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    t = Read(uri, use_cluster_nodes);
  }
  return t;
}

class ClusterTopologyTest : public ::testing::TestWithParam<ServerKind> {};

TEST_P(ClusterTopologyTest, KeySlotAgreesWithTheServer) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 1});
  ASSERT_TRUE(cluster);
  std::vector<std::string> keys = {"foo",
                                   "bar",
                                   "somekey",
                                   "foo{hash_tag}",
                                   "{user1000}.following",
                                   "{user1000}.followers",
                                   "foo{}{bar}",
                                   "foo{{bar}}zap",
                                   "{bar",
                                   "foo{bar}{zap}",
                                   "{}",
                                   "{",
                                   "}{a}",
                                   "a{b",
                                   "",
                                   std::string("\0{\xff}\r\n", 6)};
  std::mt19937 rng(17);
  for (int i = 0; i < 3000; ++i) {
    std::string key(rng() % 20, '\0');
    for (auto& c : key) c = static_cast<char>(rng() % 4 == 0 ? "{}"[rng() % 2] : rng());
    keys.push_back(key);
  }
  std::vector<std::vector<std::string>> asks;
  for (const auto& k : keys) asks.push_back({"CLUSTER", "KEYSLOT", k});
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(cluster->uri())));
  auto replies = client.CallPipelined(asks);
  ASSERT_TRUE(replies) << replies.error().ToString();
  ASSERT_EQ(replies->size(), keys.size());
  int mismatches = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if ((*replies)[i].integer() != net::KeySlot(keys[i]) && ++mismatches <= 5) {
      ADD_FAILURE() << "key " << Printable(keys[i]) << ": server " << (*replies)[i].ToString()
                    << ", keyferry " << net::KeySlot(keys[i]);
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ((*replies)[0].integer(), 12182);  // "foo"
}

TEST_P(ClusterTopologyTest, AStandaloneServerIsNotACluster) {
  auto server = ServerProcess::Start(GetParam());
  ASSERT_TRUE(server);
  auto topology = net::ReadClusterTopology(UriOf(server->uri() + "/3"));
  ASSERT_TRUE(topology) << topology.error().ToString();
  EXPECT_FALSE(topology->has_value());
}

TEST_P(ClusterTopologyTest, ReadsTheShardsTheHarnessSeesFromAnyNodeBothWays) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  const std::string expected = HarnessLayout(*cluster);
  ASSERT_EQ(std::count(expected.begin(), expected.end(), '\n'), 3);
  for (const auto& node : cluster->nodes()) {
    for (bool use_nodes : {false, true}) {
      SCOPED_TRACE("from node " + std::to_string(node->port()) +
                   (use_nodes ? " with CLUSTER NODES" : " with CLUSTER SHARDS"));
      ClusterTopology t = ReadSettled(node->uri(), use_nodes, expected);
      EXPECT_EQ(Layout(t), expected);
      EXPECT_EQ(t.source, use_nodes ? net::TopologySource::kClusterNodes
                                    : net::TopologySource::kClusterShards);
      EXPECT_EQ(t.state, "ok");
      EXPECT_EQ(t.shards.size(), 3u);
      EXPECT_TRUE(t.UnassignedSlots().empty());
      EXPECT_TRUE(t.migrations.empty());
      for (const auto& shard : t.shards) {
        EXPECT_EQ(shard.primary.health, net::NodeHealth::kOnline);
        EXPECT_EQ(shard.primary.ip, "127.0.0.1");
      }
    }
  }
  // Node URIs reach the nodes, with the seed's credentials.
  ClusterTopology t = Read(cluster->uri());
  for (const auto& shard : t.shards) {
    net::Client client;
    ASSERT_TRUE(client.Connect(net::NodeUri(UriOf(cluster->uri()), shard.primary)));
    auto id = client.Call({"CLUSTER", "MYID"});
    ASSERT_TRUE(id);
    EXPECT_EQ(id->str(), shard.primary.id);
  }
  // A key's shard is the node that holds it.
  ASSERT_TRUE(cluster->Call({"SET", "foo", "1"}).IsOk());
  const auto* shard = t.ShardOfSlot(net::KeySlot("foo"));
  ASSERT_NE(shard, nullptr);
  EXPECT_EQ(cluster->NodeByPort(shard->primary.port)->Call({"GET", "foo"}), "1");
}

TEST_P(ClusterTopologyTest, FollowsAManualFailoverAndACrash) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  ServerProcess* old_primary = cluster->Primaries()[1];
  ServerProcess* replica = cluster->ReplicasOf(*old_primary).at(0);
  ASSERT_TRUE(cluster->FailOver(*replica));
  for (bool use_nodes : {false, true}) {
    ClusterTopology t = ReadSettled(cluster->uri(), use_nodes, HarnessLayout(*cluster));
    EXPECT_EQ(Layout(t), HarnessLayout(*cluster));
    const auto* shard = t.ShardOfSlot(cluster->SlotsOf(*replica).at(0).first);
    ASSERT_NE(shard, nullptr);
    EXPECT_EQ(shard->primary.id, cluster->NodeId(*replica));
    ASSERT_EQ(shard->replicas.size(), 1u);
    EXPECT_EQ(shard->replicas[0].id, cluster->NodeId(*old_primary));
  }

  // A crashed primary: failed over by the cluster, then listed as a failed primary without
  // slots; the topology still reads (the failed node is not asked for migrations).
  ServerProcess* victim = cluster->Primaries()[2];
  ServerProcess* heir = cluster->ReplicasOf(*victim).at(0);
  const std::string victim_id = cluster->NodeId(*victim);
  cluster->KillNode(*victim);
  ASSERT_TRUE(cluster->WaitUntilStable());
  for (bool use_nodes : {false, true}) {
    SCOPED_TRACE(use_nodes ? "CLUSTER NODES" : "CLUSTER SHARDS");
    ClusterTopology t = ReadSettled(heir->uri(), use_nodes, HarnessLayout(*cluster));
    EXPECT_EQ(Layout(t), HarnessLayout(*cluster));
    EXPECT_EQ(t.ServingShardCount(), 3u);
    ASSERT_EQ(t.shards.size(), 4u) << t.Describe();
    EXPECT_EQ(t.shards[3].primary.id, victim_id);
    EXPECT_TRUE(t.shards[3].slots.empty());
    EXPECT_EQ(t.shards[3].primary.health, net::NodeHealth::kFailed);
    EXPECT_EQ(t.state, "ok");
  }
}

TEST_P(ClusterTopologyTest, ReportsASlotBeingMigrated) {
  auto cluster = ClusterProcess::Start(GetParam(), {.primaries = 3, .replicas_per_primary = 1});
  ASSERT_TRUE(cluster);
  std::vector<std::vector<std::string>> writes;
  for (int i = 0; i < 10; ++i) writes.push_back({"SET", "{m}" + std::to_string(i), "v"});
  cluster->Run(writes);
  const int slot = net::KeySlot("m");
  ServerProcess* from = cluster->OwnerOfSlot(slot);
  ASSERT_NE(from, nullptr);
  ServerProcess* to =
      cluster->Primaries()[0] == from ? cluster->Primaries()[2] : cluster->Primaries()[0];
  ASSERT_TRUE(cluster->MoveSlot(slot, *to, SlotMoveEnd::kHalfMigrated));
  const std::string from_id = cluster->NodeId(*from);
  const std::string to_id = cluster->NodeId(*to);
  const std::vector<net::SlotMigration> expected = {
      {slot, net::SlotMigrationState::kMigrating, from_id, to_id},
      {slot, net::SlotMigrationState::kImporting, to_id, from_id}};
  std::vector<net::SlotMigration> sorted = expected;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  // From every node (a replica too), both ways: the node that answered shows only its own
  // state, so the result proves every primary was asked.
  for (const auto& node : cluster->nodes()) {
    for (bool use_nodes : {false, true}) {
      ClusterTopology t = Read(node->uri(), use_nodes);
      EXPECT_EQ(t.migrations, sorted) << "from node " << node->port() << "\n" << t.Describe();
      EXPECT_EQ(t.ShardOfSlot(slot)->primary.id, from_id);  // still the owner
    }
  }
  ClusterTopology t = Read(cluster->uri());
  EXPECT_NE(t.Describe().find("slot " + std::to_string(slot) + " migrating from " + from_id +
                              " to " + to_id),
            std::string::npos);
  // Without step 3, CLUSTER SHARDS alone does not show it.
  net::ClusterReadOptions shards_only;
  shards_only.read_migrations = false;
  auto bare = net::ReadClusterTopology(UriOf(cluster->uri()), shards_only);
  ASSERT_TRUE(bare && bare->has_value());
  EXPECT_TRUE((*bare)->migrations.empty());

  ASSERT_TRUE(cluster->MoveSlot(slot, *to));
  t = Read(from->uri());
  EXPECT_TRUE(t.migrations.empty()) << t.Describe();
  EXPECT_EQ(t.ShardOfSlot(slot)->primary.id, to_id);
}

TEST_P(ClusterTopologyTest, ErrorsNameTheNodeAndWhatToDo) {
  // A primary that has just crashed is still "online" for the others for node_timeout:
  // reading its migrations fails and says which node.
  auto cluster = ClusterProcess::Start(
      GetParam(), {.primaries = 3, .config = {}, .node_timeout = std::chrono::milliseconds(15000)});
  ASSERT_TRUE(cluster);
  ServerProcess* victim = cluster->Primaries()[1];
  const std::string victim_id = cluster->NodeId(*victim);
  const std::string seed = cluster->Primaries()[0]->uri();
  cluster->KillNode(*victim);
  auto broken = net::ReadClusterTopology(UriOf(seed));
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("cannot reach primary " + victim_id +
                                        " at 127.0.0.1:" + std::to_string(victim->port())),
            std::string::npos)
      << broken.error().message;
  EXPECT_NE(broken.error().message.find("try again"), std::string::npos);
  EXPECT_EQ(broken.error().code, make_error_code(net::NetErrc::kConnectRefused))
      << broken.error().message;

  // Nothing listens: the seed is named.
  auto nowhere =
      net::ReadClusterTopology(UriOf("redis://127.0.0.1:" + std::to_string(victim->port())));
  ASSERT_FALSE(nowhere);
  EXPECT_NE(
      nowhere.error().message.find("cannot connect to 127.0.0.1:" + std::to_string(victim->port())),
      std::string::npos)
      << nowhere.error().message;

  // A user without the CLUSTER command: refused, with what to grant.
  ServerProcess* node = cluster->Primaries()[0];
  ASSERT_EQ(node->Call({"ACL", "SETUSER", "limited", "on", ">pw", "~*", "+@all", "-cluster"}),
            "OK");
  auto refused = net::ReadClusterTopology(
      UriOf("redis://limited:pw@127.0.0.1:" + std::to_string(node->port())));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(net::ClusterErrc::kCommandRefused));
  EXPECT_NE(refused.error().message.find(
                "CLUSTER INFO on 127.0.0.1:" + std::to_string(node->port()) + " was refused"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("+cluster|shards"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Engines, ClusterTopologyTest,
                         ::testing::Values(ServerKind::kRedis, ServerKind::kValkey),
                         [](const auto& info) { return EngineName(info.param); });

}  // namespace
}  // namespace kf::test
