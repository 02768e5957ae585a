// CRC16/XMODEM and the hash slot of a key, hash tags included. The expected slots are what
// redis-server 7.0.15 answered to CLUSTER KEYSLOT for the same keys (the integration test
// cluster_topology_test.cc asks both engines again at run time).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "net/cluster_slots.h"

namespace kf::net {
namespace {

TEST(ClusterSlotsTest, Crc16XmodemCheckValue) {
  EXPECT_EQ(Crc16Xmodem(std::string_view("123456789")), 0x31C3);
  EXPECT_EQ(Crc16Xmodem(std::string_view("")), 0);
  // One byte: the table entry itself.
  EXPECT_EQ(Crc16Xmodem(std::string_view("\x01", 1)), 0x1021);
}

TEST(ClusterSlotsTest, SlotsOfPlainKeys) {
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("somekey"), 11058);
  EXPECT_EQ(KeySlot("a"), 15495);
  EXPECT_EQ(KeySlot("123456789"), 12739);  // 0x31C3 < 16384
  EXPECT_EQ(KeySlot(""), 0);
  EXPECT_EQ(KeySlot(std::string_view("k\xff\x01", 3)), 14404);  // binary-safe
}

TEST(ClusterSlotsTest, HashTags) {
  EXPECT_EQ(KeySlot("foo{hash_tag}"), 2515);
  EXPECT_EQ(KeySlot("{user1000}.following"), 3443);
  EXPECT_EQ(KeySlot("{user1000}.followers"), 3443);
  EXPECT_EQ(KeyHashPart("{user1000}.following"), "user1000");
  // "{}" is empty: the whole key is hashed.
  EXPECT_EQ(KeyHashPart("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(KeySlot("foo{}{bar}"), 8363);
  EXPECT_EQ(KeySlot("{}"), 15257);
  // The first '{' and the first '}' after it: "{bar" is hashed.
  EXPECT_EQ(KeyHashPart("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  // Only the first tag counts.
  EXPECT_EQ(KeyHashPart("foo{bar}{zap}"), "bar");
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
  // A '}' before the first '{' does not close anything.
  EXPECT_EQ(KeyHashPart("}{a}"), "a");
  EXPECT_EQ(KeySlot("}{a}"), 15495);
  // No closing brace: the whole key.
  EXPECT_EQ(KeyHashPart("a{b"), "a{b");
  EXPECT_EQ(KeySlot("a{b"), 13340);
  EXPECT_EQ(KeySlot("{"), 4092);
  EXPECT_EQ(KeyHashPart("plain"), "plain");
}

// The slot of a glob pattern, as Redis 7 / Valkey decide it for SORT BY/GET in a cluster.
TEST(ClusterSlotsTest, PatternSlot) {
  // No wildcard: one key, hashed as KeySlot does (tags included).
  EXPECT_EQ(PatternSlot("a"), 15495);
  EXPECT_EQ(PatternSlot("foo{hash_tag}"), 2515);
  EXPECT_EQ(PatternSlot("foo{}{bar}"), 8363);
  // A tag that closes before the first wildcard decides the slot.
  EXPECT_EQ(PatternSlot("{user1000}.*"), 3443);
  EXPECT_EQ(PatternSlot("{user1000}w_*->f"), 3443);
  EXPECT_EQ(PatternSlot("}{a}?"), 15495);
  // A wildcard, class or escape before the tag closes (or with no tag): any slot.
  EXPECT_EQ(PatternSlot("w_*"), -1);
  EXPECT_EQ(PatternSlot("*{user1000}"), -1);
  EXPECT_EQ(PatternSlot("{user*}"), -1);
  EXPECT_EQ(PatternSlot("{a?}"), -1);
  EXPECT_EQ(PatternSlot("x[ab]{a}"), -1);
  EXPECT_EQ(PatternSlot("\\{a}"), -1);
  EXPECT_EQ(PatternSlot("{}*"), -1);   // an empty tag hashes the whole pattern
  EXPECT_EQ(PatternSlot("a{b*"), -1);  // no closing brace: the whole pattern
}

TEST(ClusterSlotsTest, EverySlotInRangeAndTagsGroupKeys) {
  std::mt19937 rng(11);
  std::vector<bool> seen(kClusterSlotCount, false);
  int distinct = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string key(1 + rng() % 24, '\0');
    for (auto& c : key) c = static_cast<char>(rng());
    int slot = KeySlot(key);
    ASSERT_GE(slot, 0);
    ASSERT_LT(slot, kClusterSlotCount);
    if (!seen[static_cast<size_t>(slot)]) {
      seen[static_cast<size_t>(slot)] = true;
      ++distinct;
    }
    // Any key with a non-empty tag (and no brace before it) lands with its tag.
    std::string tag = "t" + std::to_string(rng() % 1000);
    ASSERT_EQ(KeySlot("x{" + tag + "}" + key), KeySlot(tag));
  }
  // Random keys reach (nearly) every slot: the hash spreads.
  EXPECT_GT(distinct, kClusterSlotCount * 99 / 100);
}

}  // namespace
}  // namespace kf::net
