// The pure parts of a sync from a cluster source (sync/cluster_source_sync.h): shard names,
// the per-shard engine options, the refusal of a cluster that cannot be copied as it
// stands, the folding of the engines' numbers, and the marker key rule every reader of the
// target shares (target/applied_marker.h).
#include <gtest/gtest.h>

#include "net/uri.h"
#include "sync/cluster_source_sync.h"
#include "sync/sync_errc.h"
#include "target/applied_marker.h"

namespace kf::sync {
namespace {

net::ClusterShard Shard(std::vector<net::SlotRange> slots, const std::string& id, int port) {
  net::ClusterShard s;
  s.slots = std::move(slots);
  s.primary.id = id;
  s.primary.ip = "127.0.0.1";
  s.primary.port = port;
  s.primary.primary = true;
  return s;
}

net::ClusterTopology ThreeShards() {
  net::ClusterTopology t;
  t.shards = {Shard({{0, 5460}}, std::string(40, 'a'), 7000),
              Shard({{5461, 10922}}, std::string(40, 'b'), 7001),
              Shard({{10923, 16383}}, std::string(40, 'c'), 7002)};
  t.state = "ok";
  return t;
}

TEST(AppliedMarkerKeyTest, OneRuleForTheSingleAndThePerShardMarkers) {
  EXPECT_EQ(target::ShardMarkerKey("s5461"), "keyferry:applied-offset:s5461");
  EXPECT_TRUE(target::IsAppliedMarkerKey("keyferry:applied-offset"));
  EXPECT_TRUE(target::IsAppliedMarkerKey("keyferry:applied-offset:s0"));
  EXPECT_TRUE(target::IsAppliedMarkerKey(target::ShardMarkerKey("s10923")));
  EXPECT_FALSE(target::IsAppliedMarkerKey("keyferry:applied-offsets"));
  EXPECT_FALSE(target::IsAppliedMarkerKey("keyferry:applied"));
  EXPECT_FALSE(target::IsAppliedMarkerKey("x:keyferry:applied-offset"));
  EXPECT_EQ(target::ShardMarkerPattern(), "keyferry:applied-offset:*");
}

TEST(ClusterSourcePlanTest, OneEnginePerServingShardWithItsOwnMarkerSlotsAndCheckpoint) {
  auto topology = ThreeShards();
  net::ClusterShard empty = Shard({}, std::string(40, 'd'), 7003);  // a failed old primary
  topology.shards.push_back(empty);
  SyncOptions options;
  options.source = *net::Uri::Parse("redis://user:pw@127.0.0.1:7002");
  options.target = *net::Uri::Parse("redis://127.0.0.1:6400");
  options.checkpoint_path = "/tmp/cp.json";
  options.db_map = {"0:3"};
  auto shards = PlanShardSyncs(options, topology);
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[0].name, "s0");
  EXPECT_EQ(shards[1].name, "s5461");
  EXPECT_EQ(shards[2].name, "s10923");
  EXPECT_EQ(shards[1].options.source.Endpoint(), "127.0.0.1:7001");
  EXPECT_EQ(shards[1].options.source.user, "user");
  EXPECT_EQ(shards[1].options.marker_key, "keyferry:applied-offset:s5461");
  EXPECT_EQ(shards[1].options.checkpoint_path, "/tmp/cp.json.s5461");
  EXPECT_EQ(shards[1].options.owned_slots, (std::vector<net::SlotRange>{{5461, 10922}}));
  EXPECT_EQ(shards[1].options.db_map, options.db_map);
  EXPECT_EQ(shards[1].options.target.Endpoint(), "127.0.0.1:6400");
  // No checkpoint for the whole sync: none per shard either.
  options.checkpoint_path.clear();
  EXPECT_EQ(PlanShardSyncs(options, topology)[0].options.checkpoint_path, "");
}

TEST(ClusterSourcePlanTest, UnservedSlotsAndMigrationsAreRefusedWithWhatToDo) {
  EXPECT_TRUE(CheckSourceTopology(ThreeShards(), "127.0.0.1:7000"));

  auto hole = ThreeShards();
  hole.shards[1].slots = {{5461, 6000}};
  hole.state = "fail";
  auto refused = CheckSourceTopology(hole, "127.0.0.1:7000");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(SyncErrc::kClusterNotReady));
  EXPECT_NE(refused.error().message.find("no primary serving slots 6001-10922"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("CLUSTER ADDSLOTSRANGE"), std::string::npos);

  auto moving = ThreeShards();
  moving.migrations.push_back(
      {42, net::SlotMigrationState::kMigrating, std::string(40, 'a'), std::string(40, 'b')});
  refused = CheckSourceTopology(moving, "127.0.0.1:7000");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("a slot migration is in progress"), std::string::npos);
  EXPECT_NE(refused.error().message.find("slot 42"), std::string::npos) << refused.error().message;

  auto down = ThreeShards();
  down.state = "fail";
  refused = CheckSourceTopology(down, "127.0.0.1:7000");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("cluster_state:fail"), std::string::npos);
}

TEST(ClusterSourcePlanTest, StatsAreSummedAndThePhaseIsTheSlowestShards) {
  SyncStats a, b, out;
  a.phase = static_cast<int>(SyncPhase::kStream);
  b.phase = static_cast<int>(SyncPhase::kSnapshot);
  a.keys_written = 10;
  b.keys_written = 5;
  a.commands_applied = 7;
  a.applied_offset = 100;
  b.applied_offset = 50;
  a.source_offset = 120;
  b.source_offset = -1;  // not polled yet
  a.snapshot_ms = 30;
  b.snapshot_ms = 80;
  a.full_syncs = 1;
  b.full_syncs = 1;
  b.partial_syncs = 2;
  a.started_ms = 2000;
  b.started_ms = 1000;
  AggregateStats({&a, &b}, &out);
  EXPECT_EQ(out.phase.load(), static_cast<int>(SyncPhase::kSnapshot));
  EXPECT_EQ(out.keys_written.load(), 15u);
  EXPECT_EQ(out.commands_applied.load(), 7u);
  EXPECT_EQ(out.applied_offset.load(), 150);
  EXPECT_EQ(out.source_offset.load(), -1);
  EXPECT_EQ(out.snapshot_ms.load(), 80);
  EXPECT_EQ(out.full_syncs.load(), 2u);
  EXPECT_EQ(out.partial_syncs.load(), 2u);
  EXPECT_EQ(out.started_ms.load(), 1000);

  b.phase = static_cast<int>(SyncPhase::kDone);
  AggregateStats({&a, &b}, &out);
  EXPECT_EQ(out.phase.load(), static_cast<int>(SyncPhase::kStream));
  b.phase = static_cast<int>(SyncPhase::kFailed);
  AggregateStats({&a, &b}, &out);
  EXPECT_EQ(out.phase.load(), static_cast<int>(SyncPhase::kFailed));
}

}  // namespace
}  // namespace kf::sync
