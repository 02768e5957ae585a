// Parsing CLUSTER SHARDS replies and CLUSTER NODES text. The fixtures in
// tests/data/cluster/ are replies of real redis-server 7.0.15 and valkey-server 8.0.1
// clusters (3 primaries, 1 replica each, slot 42 being moved; then after a primary was
// killed and its replica took over), see that folder's README. Bad input is checked case by
// case for the sentence it gives, then by mutation: any truncation or corruption gives
// either a topology that keeps every invariant or an error with a message, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "common/bytes.h"
#include "net/cluster_errc.h"
#include "net/cluster_slots.h"
#include "net/cluster_topology.h"
#include "resp/reply_parser.h"

namespace kf::net {
namespace {

using resp::Reply;
using resp::ReplyType;

// Node ids of the fixtures.
const std::string kRedisA = "550cf34d25371f9a8a302aabe1e2eb5d9fc1722e";    // 17100, 0-5460
const std::string kRedisB = "82c2aa3fe0b8077d06aa87f605f48645f56967ed";    // 17101, 5461-10922
const std::string kRedisC = "17b1b054666a7ed0055cdf3b78a63b0e66ca431e";    // 17102, rest
const std::string kRedisA1 = "4122f082454e83aeb1abf362163fb3608eccbbc3";   // 17103
const std::string kRedisB1 = "d112964d41d956e68cd9a0b2078c0412fc47e7c8";   // 17104
const std::string kRedisC1 = "5e239c7740a34118e4b7a65dcc3992d770a3f533";   // 17105
const std::string kValkeyA = "1097ae0cb532c942d6ca3a6f77834887c309c0d3";   // 17300
const std::string kValkeyB = "a1cd21ae761d72f2b263f46bc680bbbde7f83ff7";   // 17301
const std::string kValkeyC = "b086acbca568f15d0f1aa625e91be3e78566e445";   // 17302
const std::string kValkeyC1 = "4c2dab7bc4bfec9be0628f5fc2ca8aed9ef43674";  // 17305

std::string ReadData(const std::string& name) {
  std::ifstream in(std::string(KF_TEST_DATA_DIR) + "/cluster/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses RESP bytes fed in pieces cut at `cuts` (sorted offsets); a null reply when they
// are not exactly one whole reply.
Reply ParseResp(const std::string& bytes, const std::vector<size_t>& cuts = {}) {
  resp::ReplyParser parser;
  size_t pos = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(bytes.size());
  for (size_t end : ends) {
    while (pos < end) {
      auto out = parser.Feed(AsBytes(std::string_view(bytes).substr(pos, end - pos)));
      if (out.malformed()) return Reply::Null();
      pos += out.consumed;
      if (out.complete()) return pos == bytes.size() ? parser.TakeReply() : Reply::Null();
    }
  }
  return Reply::Null();
}

ClusterTopology Shards(const std::string& fixture) {
  auto parsed = ParseClusterShards(ParseResp(ReadData(fixture)));
  EXPECT_TRUE(parsed) << fixture << ": " << (parsed ? "" : parsed.error().ToString());
  return parsed ? *parsed : ClusterTopology{};
}

ClusterTopology Nodes(const std::string& fixture) {
  auto parsed = ParseClusterNodes(ReadData(fixture));
  EXPECT_TRUE(parsed) << fixture << ": " << (parsed ? "" : parsed.error().ToString());
  return parsed ? *parsed : ClusterTopology{};
}

// What both parsers must agree on: slots, primary and replicas (id, address, role, failed
// or not) of every shard, and the migrations.
std::string Summary(const ClusterTopology& t) {
  std::string out;
  auto node = [](const ClusterNode& n) {
    return n.id.substr(0, 8) + "@" + n.Address() +
           (n.health == NodeHealth::kFailed ? "(failed)" : "");
  };
  for (const auto& s : t.shards) {
    out += "[" + SlotRangesToString(s.slots) + "] " + node(s.primary);
    for (const auto& r : s.replicas) out += " +" + node(r) + "->" + r.primary_id.substr(0, 8);
    out += "\n";
  }
  for (const auto& m : t.migrations) out += DescribeSlotMigration(m) + "\n";
  return out;
}

// Invariants of any topology a parser returns.
void ExpectSound(const ClusterTopology& t, const std::string& context) {
  std::vector<int> owners(kClusterSlotCount, 0);
  for (const auto& s : t.shards) {
    EXPECT_EQ(s.primary.id.size(), 40u) << context;
    EXPECT_TRUE(s.primary.primary) << context;
    EXPECT_GE(s.primary.port, 0) << context;
    EXPECT_LE(s.primary.port, 65535) << context;
    for (const auto& r : s.slots) {
      ASSERT_GE(r.first, 0) << context;
      ASSERT_LE(r.first, r.last) << context;
      ASSERT_LT(r.last, kClusterSlotCount) << context;
      for (int slot = r.first; slot <= r.last; ++slot) ++owners[static_cast<size_t>(slot)];
    }
    for (const auto& r : s.replicas) {
      EXPECT_FALSE(r.primary) << context;
      EXPECT_EQ(r.primary_id, s.primary.id) << context;
    }
  }
  for (int slot = 0; slot < kClusterSlotCount; ++slot) {
    ASSERT_LE(owners[static_cast<size_t>(slot)], 1) << context << ": slot " << slot;
  }
  for (const auto& m : t.migrations) {
    EXPECT_GE(m.slot, 0) << context;
    EXPECT_LT(m.slot, kClusterSlotCount) << context;
  }
}

TEST(ClusterTopologyTest, RedisShardsResp2) {
  ClusterTopology t = Shards("redis70_shards_resp2.bin");
  ASSERT_EQ(t.shards.size(), 3u);
  EXPECT_EQ(t.source, TopologySource::kClusterShards);
  EXPECT_EQ(t.shards[0].primary.id, kRedisA);
  EXPECT_EQ(t.shards[0].primary.Address(), "127.0.0.1:17100");
  EXPECT_EQ(t.shards[0].primary.endpoint, "127.0.0.1");
  EXPECT_GE(t.shards[0].primary.replication_offset, 0);
  EXPECT_EQ(SlotRangesToString(t.shards[0].slots), "0-5460");
  EXPECT_EQ(SlotRangesToString(t.shards[1].slots), "5461-10922");
  EXPECT_EQ(SlotRangesToString(t.shards[2].slots), "10923-16383");
  ASSERT_EQ(t.shards[0].replicas.size(), 1u);
  EXPECT_EQ(t.shards[0].replicas[0].id, kRedisA1);
  EXPECT_EQ(t.shards[0].replicas[0].primary_id, kRedisA);
  EXPECT_EQ(t.shards[0].replicas[0].port, 17103);
  EXPECT_EQ(t.shards[1].replicas[0].id, kRedisB1);
  EXPECT_EQ(t.shards[2].primary.id, kRedisC);
  EXPECT_EQ(t.shards[2].replicas[0].id, kRedisC1);
  for (const auto& s : t.shards) EXPECT_EQ(s.primary.health, NodeHealth::kOnline);
  EXPECT_TRUE(t.UnassignedSlots().empty());
  EXPECT_EQ(t.ServingShardCount(), 3u);
  EXPECT_EQ(t.ShardOfSlot(0)->primary.id, kRedisA);
  EXPECT_EQ(t.ShardOfSlot(KeySlot("foo"))->primary.id, kRedisC);  // 12182
  EXPECT_EQ(t.ShardOfSlot(5461)->primary.id, kRedisB);
  EXPECT_TRUE(t.migrations.empty());  // CLUSTER SHARDS does not show them
  ExpectSound(t, "redis resp2");
}

TEST(ClusterTopologyTest, Resp2AndResp3GiveOneTopologyAndChunkingDoesNotMatter) {
  ClusterTopology resp2 = Shards("redis70_shards_resp2.bin");
  ClusterTopology resp3 = Shards("redis70_shards_resp3.bin");
  EXPECT_EQ(Summary(resp2), Summary(resp3));
  for (const char* fixture : {"redis70_shards_resp3.bin", "valkey80_shards_resp3.bin"}) {
    const std::string bytes = ReadData(fixture);
    const std::string whole = Summary(Shards(fixture));
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < bytes.size(); ++i) every_byte.push_back(i);
    auto bytewise = ParseClusterShards(ParseResp(bytes, every_byte));
    ASSERT_TRUE(bytewise) << fixture;
    EXPECT_EQ(Summary(*bytewise), whole);
    std::mt19937 rng(3);
    for (int round = 0; round < 20; ++round) {
      std::vector<size_t> cuts;
      for (size_t pos = 1 + rng() % 40; pos < bytes.size(); pos += 1 + rng() % 40) {
        cuts.push_back(pos);
      }
      auto split = ParseClusterShards(ParseResp(bytes, cuts));
      ASSERT_TRUE(split) << fixture;
      EXPECT_EQ(Summary(*split), whole);
    }
  }
}

TEST(ClusterTopologyTest, ValkeyShardsResp3) {
  ClusterTopology t = Shards("valkey80_shards_resp3.bin");
  ASSERT_EQ(t.shards.size(), 3u);
  EXPECT_EQ(t.shards[0].primary.id, kValkeyA);
  EXPECT_EQ(t.shards[1].primary.id, kValkeyB);
  EXPECT_EQ(t.shards[2].primary.id, kValkeyC);
  EXPECT_EQ(t.shards[2].replicas.at(0).id, kValkeyC1);
  EXPECT_EQ(t.shards[2].replicas.at(0).Address(), "127.0.0.1:17305");
  ExpectSound(t, "valkey resp3");
}

TEST(ClusterTopologyTest, NodesTextAgreesWithShardsAndShowsMigrations) {
  ClusterTopology nodes = Nodes("redis70_nodes_migrating.txt");
  EXPECT_EQ(nodes.source, TopologySource::kClusterNodes);
  ASSERT_EQ(nodes.migrations.size(), 1u);
  EXPECT_EQ(nodes.migrations[0],
            (SlotMigration{42, SlotMigrationState::kMigrating, kRedisA, kRedisB}));
  EXPECT_EQ(DescribeSlotMigration(nodes.migrations[0]),
            "slot 42 migrating from " + kRedisA + " to " + kRedisB);
  EXPECT_TRUE(nodes.shards[0].primary.myself);
  EXPECT_FALSE(nodes.shards[1].primary.myself);
  EXPECT_EQ(nodes.shards[0].primary.replication_offset, -1);
  nodes.migrations.clear();
  EXPECT_EQ(Summary(nodes), Summary(Shards("redis70_shards_resp2.bin")));
  ExpectSound(nodes, "redis nodes");

  ClusterTopology valkey = Nodes("valkey80_nodes_importing.txt");
  ASSERT_EQ(valkey.migrations.size(), 1u);
  EXPECT_EQ(valkey.migrations[0],
            (SlotMigration{42, SlotMigrationState::kImporting, kValkeyB, kValkeyA}));
  valkey.migrations.clear();
  EXPECT_EQ(Summary(valkey), Summary(Shards("valkey80_shards_resp3.bin")));
}

TEST(ClusterTopologyTest, OwnMigrationsComeFromTheMyselfLine) {
  auto redis = ParseOwnSlotMigrations(ReadData("redis70_nodes_migrating.txt"));
  ASSERT_TRUE(redis) << redis.error().ToString();
  EXPECT_EQ(*redis,
            (std::vector<SlotMigration>{{42, SlotMigrationState::kMigrating, kRedisA, kRedisB}}));
  auto valkey = ParseOwnSlotMigrations(ReadData("valkey80_nodes_importing.txt"));
  ASSERT_TRUE(valkey) << valkey.error().ToString();
  EXPECT_EQ(*valkey,
            (std::vector<SlotMigration>{{42, SlotMigrationState::kImporting, kValkeyB, kValkeyA}}));
  // A view that cannot be assembled into shards (a replica of an unknown primary) still
  // gives the node's own state.
  const std::string a(40, 'a'), b(40, 'b'), c(40, 'c');
  auto partial = ParseOwnSlotMigrations(a + " h:1@1 myself,master - 0 0 1 connected 0-9 [3-<-" + b +
                                        "]\n" + c + " h:2@2 slave " + b + " 0 0 1 connected\n");
  ASSERT_TRUE(partial) << partial.error().ToString();
  ASSERT_EQ(partial->size(), 1u);
  EXPECT_EQ((*partial)[0].node_id, a);
  auto no_myself = ParseOwnSlotMigrations(a + " h:1@1 master - 0 0 1 connected\n");
  ASSERT_FALSE(no_myself);
  EXPECT_NE(no_myself.error().message.find("no line is flagged myself"), std::string::npos);
  EXPECT_FALSE(ParseOwnSlotMigrations(a + " h:1@1 myself,master - 0 0 1 connected [x]"));
}

TEST(ClusterTopologyTest, AfterAFailoverTheOldPrimaryIsAFailedShardWithoutSlots) {
  // Redis lists the failed primary as a shard of its own; Valkey lists it (role master,
  // health fail) inside its successor's shard. Both read the same way, and as CLUSTER NODES.
  for (const auto& [shards_fixture, nodes_fixture, new_primary, old_primary] :
       {std::tuple{"redis70_shards_after_failover_resp2.bin", "redis70_nodes_after_failover.txt",
                   kRedisC1, kRedisC},
        std::tuple{"valkey80_shards_after_failover_resp3.bin", "valkey80_nodes_after_failover.txt",
                   kValkeyC1, kValkeyC}}) {
    ClusterTopology t = Shards(shards_fixture);
    ASSERT_EQ(t.shards.size(), 4u) << shards_fixture;
    EXPECT_EQ(t.ServingShardCount(), 3u);
    EXPECT_EQ(t.ShardOfSlot(16383)->primary.id, new_primary);
    EXPECT_EQ(t.ShardOfSlot(16383)->primary.health, NodeHealth::kOnline);
    EXPECT_TRUE(t.ShardOfSlot(16383)->replicas.empty());
    EXPECT_EQ(t.shards[3].primary.id, old_primary);
    EXPECT_TRUE(t.shards[3].slots.empty());
    EXPECT_EQ(t.shards[3].primary.health, NodeHealth::kFailed);
    EXPECT_TRUE(t.UnassignedSlots().empty());
    ExpectSound(t, shards_fixture);
    ClusterTopology n = Nodes(nodes_fixture);
    n.migrations.clear();
    EXPECT_EQ(Summary(n), Summary(t)) << nodes_fixture;
    EXPECT_NE(t.Describe().find("shard (no slots): primary " + old_primary), std::string::npos)
        << t.Describe();
  }
}

TEST(ClusterTopologyTest, NodesTextVariants) {
  const std::string a(40, 'a'), b(40, 'b'), c(40, 'c'), d(40, 'd'), e(40, 'e');
  const std::string text =
      a + " ::1:7000@17000,host-a master,myself - 0 0 1 connected 0 1-99 100 [5->-" + b +
      "]\r\n" +  // IPv6, hostname
      b + " 10.0.0.2:7001@17001 master,fail? - 5 6 2 disconnected 200-16383\r\n" +  // PFAIL
      c + " :0@0 master,noaddr - 0 0 3 disconnected\r\n" +                          // no address
      d + " 10.0.0.4:7003@17003,,tls-port=0,shard-id=x slave,nofailover " + b +
      " 0 0 2 connected\r\n" + e + " 10.0.0.5:7004@17004 handshake - 0 0 0 disconnected\r\n\r\n";
  auto parsed = ParseClusterNodes(text);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  const ClusterTopology& t = *parsed;
  ASSERT_EQ(t.shards.size(), 3u);  // the node in handshake is not a member yet
  EXPECT_EQ(SlotRangesToString(t.shards[0].slots), "0-100");  // merged
  EXPECT_EQ(t.shards[0].primary.ip, "::1");
  EXPECT_EQ(t.shards[0].primary.hostname, "host-a");
  EXPECT_EQ(t.shards[0].primary.Address(), "[::1]:7000");
  auto bracketed = ParseClusterNodes(a + " [fe80::2]:7000@17000 master - 0 0 1 connected");
  ASSERT_TRUE(bracketed) << bracketed.error().ToString();
  EXPECT_EQ(bracketed->shards[0].primary.ip, "fe80::2");
  EXPECT_EQ(t.shards[1].primary.health, NodeHealth::kSuspected);
  ASSERT_EQ(t.shards[1].replicas.size(), 1u);
  EXPECT_EQ(t.shards[1].replicas[0].hostname, "");  // an empty hostname field
  EXPECT_EQ(t.shards[1].replicas[0].Address(), "10.0.0.4:7003");
  EXPECT_EQ(t.shards[2].primary.health, NodeHealth::kFailed);
  EXPECT_TRUE(t.shards[2].slots.empty());
  EXPECT_EQ(SlotRangesToString(t.UnassignedSlots()), "101-199");
  EXPECT_EQ(t.ShardOfSlot(150), nullptr);
  ASSERT_EQ(t.migrations.size(), 1u);
  EXPECT_EQ(t.migrations[0].peer_id, b);
  ExpectSound(t, "variants");
}

// ---- bad input, case by case ----

Reply Bulk(const std::string& s) { return Reply::Bulk(s); }
Reply Int(int64_t v) { return Reply::Integer(v); }
Reply Arr(std::vector<Reply> children) { return Reply::Aggregate(ReplyType::kArray, children); }
Reply Map(std::vector<Reply> children) { return Reply::Aggregate(ReplyType::kMap, children); }

Reply NodeMap(const std::string& id, int port, const std::string& role,
              const std::string& health = "online") {
  return Map({Bulk("id"), Bulk(id), Bulk("port"), Int(port), Bulk("ip"), Bulk("127.0.0.1"),
              Bulk("role"), Bulk(role), Bulk("replication-offset"), Int(7), Bulk("health"),
              Bulk(health)});
}

Reply ShardMap(std::vector<Reply> slots, std::vector<Reply> nodes) {
  return Map({Bulk("slots"), Arr(std::move(slots)), Bulk("nodes"), Arr(std::move(nodes))});
}

// The error of parsing `reply`; fails the test when it parses.
std::string ShardsError(const Reply& reply) {
  auto parsed = ParseClusterShards(reply);
  if (parsed) {
    ADD_FAILURE() << "parsed: " << reply.ToString();
    return "";
  }
  EXPECT_EQ(parsed.error().code, make_error_code(ClusterErrc::kBadReply));
  return parsed.error().ToString();
}

std::string NodesError(const std::string& text) {
  auto parsed = ParseClusterNodes(text);
  if (parsed) {
    ADD_FAILURE() << "parsed: " << text;
    return "";
  }
  EXPECT_EQ(parsed.error().code, make_error_code(ClusterErrc::kBadReply));
  return parsed.error().ToString();
}

TEST(ClusterTopologyTest, BadShardsRepliesSayWhatIsWrong) {
  const std::string a(40, 'a'), b(40, 'b');
  auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };
  EXPECT_PRED2(has, ShardsError(Int(3)), "expected an array of shards");
  EXPECT_PRED2(has, ShardsError(Reply::Error("ERR unknown subcommand")), "answered with an error");
  EXPECT_PRED2(has, ShardsError(Arr({Int(1)})), "shard 0 has type integer");
  EXPECT_PRED2(has, ShardsError(Arr({Arr({Bulk("slots")})})), "odd number of elements");
  EXPECT_PRED2(has, ShardsError(Arr({Map({Bulk("slots"), Arr({})})})), "no \"nodes\" field");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({Int(0)}, {NodeMap(a, 1, "master")})})),
               "\"slots\" has an odd number");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({Int(0), Int(16384)}, {NodeMap(a, 1, "master")})})),
               "0-16384, expected 0 <= start <= end <= 16383");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({Int(9), Int(3)}, {NodeMap(a, 1, "master")})})),
               "9-3");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({Bulk("x"), Int(3)}, {NodeMap(a, 1, "master")})})),
               "expected an integer");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({}, {NodeMap("abc", 1, "master")})})),
               "40 hex digits");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({}, {NodeMap(a, 70000, "master")})})),
               "outside 0..65535");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({}, {NodeMap(a, 1, "boss")})})),
               "\"boss\", expected \"master\" or \"replica\"");
  EXPECT_PRED2(has,
               ShardsError(Arr({ShardMap({}, {Map({Bulk("id"), Bulk(a), Bulk("port"), Int(1)})})})),
               "has no \"role\"");
  EXPECT_PRED2(
      has,
      ShardsError(Arr({ShardMap({}, {Map({Bulk("id"), Bulk(a), Bulk("role"), Bulk("master")})})})),
      "neither \"port\" nor \"tls-port\"");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({}, {Map({Bulk("port"), Int(1)})})})),
               "has no \"id\"");
  EXPECT_PRED2(has,
               ShardsError(Arr({ShardMap({Int(0), Int(5)},
                                         {NodeMap(a, 1, "master"), NodeMap(b, 2, "master")})})),
               "two primaries that are not failed");
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({Int(0), Int(5)}, {NodeMap(b, 2, "replica")})})),
               "owns slots 0-5 but lists no primary");
  EXPECT_PRED2(has,
               ShardsError(Arr({ShardMap({Int(0), Int(10)}, {NodeMap(a, 1, "master")}),
                                ShardMap({Int(10), Int(20)}, {NodeMap(b, 2, "master")})})),
               "slot 10 is claimed by two shards");
  EXPECT_PRED2(has, ShardsError(Arr({Map({Bulk("slots"), Arr({}), Bulk("nodes"), Int(4)})})),
               "\"nodes\" has type integer");
  EXPECT_PRED2(has,
               ShardsError(Arr({ShardMap({}, {Map({Bulk("id"), Arr({}), Bulk("port"), Int(1)})})})),
               "expected a string");
  // Control bytes in quoted input are escaped.
  EXPECT_PRED2(has, ShardsError(Arr({ShardMap({}, {NodeMap("a\r\n\x1b[2J", 1, "master")})})),
               "\\x0d\\x0a\\x1b");

  // Replicas with neither slots nor a primary serve nothing; unknown keys and health words
  // are tolerated (newer servers).
  Reply lenient = Arr({ShardMap({}, {NodeMap(b, 2, "replica")}),
                       Map({Bulk("slots"), Arr({Int(0), Int(16383)}), Bulk("shard-id"), Bulk("x"),
                            Bulk("nodes"), Arr({NodeMap(a, 1, "master", "resting")})})});
  auto parsed = ParseClusterShards(lenient);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  ASSERT_EQ(parsed->shards.size(), 1u);
  EXPECT_EQ(parsed->shards[0].primary.health, NodeHealth::kUnknown);
}

TEST(ClusterTopologyTest, BadNodesTextSaysWhatIsWrong) {
  const std::string a(40, 'a'), b(40, 'b');
  const std::string tail = " 0 0 1 connected";
  auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };
  EXPECT_PRED2(has, NodesError(""), "lists no node");
  EXPECT_PRED2(has, NodesError("\r\n\n"), "lists no node");
  EXPECT_PRED2(has, NodesError(a + " 1.2.3.4:1@2 master -"), "line 1 has 4 fields");
  EXPECT_PRED2(has, NodesError("xyz 1.2.3.4:1@2 master -" + tail), "starts with \"xyz\"");
  EXPECT_PRED2(has, NodesError(a + " nowhere master -" + tail), "expected <ip>:<port>@<bus-port>");
  EXPECT_PRED2(has, NodesError(a + " h:99999@1 master -" + tail), "not a number in 0..65535");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master,slave -" + tail), "exactly one of master");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 myself -" + tail), "exactly one of master");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 slave -" + tail), "replica whose primary is \"-\"");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master - 0 x 1 connected"), "pong-recv \"x\"");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master - 0 0 1 linked"), "link state \"linked\"");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master -" + tail + " 16384"), "slot token \"16384\"");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master -" + tail + " 9-3"), "slot token \"9-3\"");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master -" + tail + " 1-"), "slot token \"1-\"");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master -" + tail + " [5->-zz]"), "40 hex digits");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master -" + tail + " [5~" + b + "]"),
               "expected [<slot>->-<id>]");
  EXPECT_PRED2(
      has, NodesError(a + " h:1@1 master -" + tail + "\n" + b + " h:2@2 slave " + a + tail + " 3"),
      "is a replica but lists slots 3");
  EXPECT_PRED2(has,
               NodesError(a + " h:1@1 master -" + tail + "\n" + b + " h:2@2 slave " +
                          std::string(40, 'c') + tail),
               "follows " + std::string(40, 'c') + ", which is not listed");
  EXPECT_PRED2(has,
               NodesError(a + " h:1@1 slave " + b + tail + "\n" + b + " h:2@2 slave " + a + tail),
               "which is itself a replica");
  EXPECT_PRED2(has, NodesError(a + " h:1@1 master -" + tail + "\n" + a + " h:1@1 master -" + tail),
               "is listed twice");
  EXPECT_PRED2(has,
               NodesError(a + " h:1@1 master -" + tail + " 0-10\n" + b + " h:2@2 master -" + tail +
                          " 10-20"),
               "slot 10 is claimed by two shards");
}

// ---- mutation: no crash, sound results, errors with messages ----

TEST(ClusterTopologyTest, TruncatedAndCorruptedNodesTextNeverCrash) {
  std::mt19937 rng(5);
  int ok = 0, bad = 0;
  for (const char* fixture : {"redis70_nodes_migrating.txt", "valkey80_nodes_importing.txt",
                              "redis70_nodes_after_failover.txt"}) {
    const std::string text = ReadData(fixture);
    for (size_t n = 0; n <= text.size(); ++n) {
      auto parsed = ParseClusterNodes(std::string_view(text).substr(0, n));
      if (parsed) {
        ++ok;
        ExpectSound(*parsed, std::string(fixture) + " cut at " + std::to_string(n));
      } else {
        ++bad;
        EXPECT_NE(parsed.error().message.find("CLUSTER NODES"), std::string::npos);
      }
    }
    static const char kAlphabet[] = " \r\n-[]<>:@,0123456789abcdef";
    for (int round = 0; round < 3000; ++round) {
      std::string mutated = text;
      for (int k = 0, flips = 1 + static_cast<int>(rng() % 4); k < flips; ++k) {
        size_t at = rng() % mutated.size();
        mutated[at] =
            rng() % 2 ? static_cast<char>(rng()) : kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
      }
      auto parsed = ParseClusterNodes(mutated);
      if (parsed) {
        ++ok;
        ExpectSound(*parsed, "mutated " + std::string(fixture));
      } else {
        ++bad;
        EXPECT_FALSE(parsed.error().message.empty());
      }
      if (HasFatalFailure()) return;
    }
  }
  // Both outcomes occur: the mutations reach the checks and also leave valid text.
  EXPECT_GT(ok, 0);
  EXPECT_GT(bad, 0);
}

// Replaces a random node of the tree by another value, or drops one of its children.
void MutateTree(Reply& root, std::mt19937& rng) {
  Reply* node = &root;
  while (node->is_aggregate() && node->size() > 0 && rng() % 3 != 0) {
    node = &node->mutable_children()[rng() % node->size()];
  }
  switch (rng() % 6) {
    case 0:
      *node = Reply::Integer(static_cast<int64_t>(rng()) - (1 << 30));
      break;
    case 1:
      *node = Reply::Bulk(std::string(rng() % 50, static_cast<char>(rng())));
      break;
    case 2:
      *node = Reply::Null();
      break;
    case 3:
      *node = Reply::Aggregate(rng() % 2 ? ReplyType::kArray : ReplyType::kMap, {});
      break;
    case 4:
      if (node->is_aggregate() && node->size() > 0) {
        auto& children = node->mutable_children();
        children.erase(children.begin() + static_cast<long>(rng() % children.size()));
      }
      break;
    case 5:
      *node = Reply::Integer(rng() % 2 ? 16383 : 0);
      break;
  }
}

TEST(ClusterTopologyTest, CorruptedShardsRepliesNeverCrash) {
  std::mt19937 rng(9);
  int ok = 0, bad = 0;
  for (const char* fixture : {"redis70_shards_resp2.bin", "valkey80_shards_resp3.bin",
                              "valkey80_shards_after_failover_resp3.bin"}) {
    const std::string bytes = ReadData(fixture);
    const Reply original = ParseResp(bytes);
    ASSERT_FALSE(original.is_null()) << fixture;
    for (int round = 0; round < 4000; ++round) {
      Reply mutated = original;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) MutateTree(mutated, rng);
      auto parsed = ParseClusterShards(mutated);
      if (parsed) {
        ++ok;
        ExpectSound(*parsed, std::string("mutated ") + fixture);
      } else {
        ++bad;
        EXPECT_NE(parsed.error().message.find("CLUSTER SHARDS"), std::string::npos);
      }
      if (HasFatalFailure()) return;
    }
    // Byte corruption of the RESP itself: what still parses as one reply goes through too.
    for (int round = 0; round < 2000; ++round) {
      std::string corrupt = bytes;
      corrupt[rng() % corrupt.size()] = static_cast<char>(rng());
      Reply reply = ParseResp(corrupt);
      auto parsed = ParseClusterShards(reply);
      if (parsed) ExpectSound(*parsed, std::string("corrupt ") + fixture);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(bad, 0);
}

}  // namespace
}  // namespace kf::net
