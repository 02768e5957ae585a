// verify's logical value equality: order rules per type, exact zset scores (one ulp is a
// difference, two spellings of one double are not), stream metadata, groups and PEL, and
// what is deliberately not compared (consumer seen times, PEL delivery times).
#include <gtest/gtest.h>

#include <cmath>

#include "verify/value_compare.h"

namespace kf::verify {
namespace {

using rdb::Value;
using rdb::ValueType;

Value Str(std::string s) {
  Value v;
  v.type = ValueType::kString;
  v.str = std::move(s);
  return v;
}

Value Elements(ValueType type, std::vector<std::string> e) {
  Value v;
  v.type = type;
  v.elements = std::move(e);
  return v;
}

Value Zset(std::vector<rdb::ZsetEntry> z) {
  Value v;
  v.type = ValueType::kZset;
  v.zset = std::move(z);
  return v;
}

Value Hash(std::vector<rdb::HashField> h) {
  Value v;
  v.type = ValueType::kHash;
  v.hash = std::move(h);
  return v;
}

std::optional<std::string> Diff(Value a, Value b) { return DescribeValueDifference(&a, &b); }

TEST(VerifyValueCompareTest, StringsAreByteEqual) {
  EXPECT_FALSE(Diff(Str(std::string("a\0b", 3)), Str(std::string("a\0b", 3))));
  auto d = Diff(Str("abcdef"), Str("abcXef"));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "bytes differ from offset 3");
  d = Diff(Str("abc"), Str("abcd"));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "length 3 vs 4");
}

TEST(VerifyValueCompareTest, TypesDiffer) {
  auto d = Diff(Str("a"), Elements(ValueType::kList, {"a"}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "type string vs list");
}

TEST(VerifyValueCompareTest, ListsCompareInOrder) {
  EXPECT_FALSE(
      Diff(Elements(ValueType::kList, {"a", "b"}), Elements(ValueType::kList, {"a", "b"})));
  auto d = Diff(Elements(ValueType::kList, {"a", "b", "c"}),
                Elements(ValueType::kList, {"a", "c", "b"}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "element 1: \"b\" vs \"c\"");
  d = Diff(Elements(ValueType::kList, {"a"}), Elements(ValueType::kList, {"a", "b"}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "length 1 vs 2");
}

TEST(VerifyValueCompareTest, SetsCompareAsSets) {
  EXPECT_FALSE(
      Diff(Elements(ValueType::kSet, {"x", "y", "z"}), Elements(ValueType::kSet, {"z", "x", "y"})));
  auto d = Diff(Elements(ValueType::kSet, {"x", "y"}), Elements(ValueType::kSet, {"y"}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "member \"x\" missing on target");
  d = Diff(Elements(ValueType::kSet, {"y"}),
           Elements(ValueType::kSet, {"y", std::string("\x00q", 2)}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "member \"\\x00q\" only on target");
}

TEST(VerifyValueCompareTest, HashesCompareAsSetsOfFields) {
  EXPECT_FALSE(Diff(Hash({{"a", "1"}, {"b", "2"}}), Hash({{"b", "2"}, {"a", "1"}})));
  auto d = Diff(Hash({{"a", "1"}, {"b", "2"}}), Hash({{"a", "1"}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "field \"b\" missing on target");
  d = Diff(Hash({{"a", "1"}}), Hash({{"a", "9"}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "field \"a\": \"1\" vs \"9\"");
  // Redis 7.4 field TTLs are part of the value.
  d = Diff(Hash({{"a", "1", 5000}}), Hash({{"a", "1", -1}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "field \"a\": field expiry 5000 vs -1");
}

TEST(VerifyValueCompareTest, ZsetScoresCompareAsExactDoubles) {
  EXPECT_FALSE(Diff(Zset({{"a", 1e-7}, {"b", 0.1}}), Zset({{"b", 0.1}, {"a", 1e-7}})));
  const double s = 4.125;
  auto d = Diff(Zset({{"m", s}}), Zset({{"m", std::nextafter(s, 10.0)}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "member \"m\": score 4.125 vs 4.1250000000000009");
  EXPECT_FALSE(Diff(Zset({{"m", HUGE_VAL}}), Zset({{"m", HUGE_VAL}})));
  d = Diff(Zset({{"m", 1}}), Zset({{"n", 1}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "member \"m\" missing on target");
}

TEST(VerifyValueCompareTest, ScoresParseTheSameWhicheverWayAServerPrintsThem) {
  // Redis prints "%.17g", Valkey 8 the shortest form: both must be one double.
  EXPECT_EQ(ParseScore("9.9999999999999995e-08"), ParseScore("1e-7"));
  EXPECT_EQ(ParseScore("1e-07"), ParseScore("1e-7"));
  EXPECT_EQ(ParseScore("4.9406564584124654e-324"), ParseScore("5e-324"));
  EXPECT_EQ(ParseScore("0.10000000000000001"), ParseScore("0.1"));
  EXPECT_EQ(ParseScore("inf"), HUGE_VAL);
  EXPECT_EQ(ParseScore("+inf"), HUGE_VAL);
  EXPECT_EQ(ParseScore("-inf"), -HUGE_VAL);
  EXPECT_EQ(ParseScore("-0"), 0.0);
  EXPECT_NE(ParseScore("4.125"), ParseScore("4.1250000000000009"));
  EXPECT_FALSE(ParseScore("nan"));
  EXPECT_FALSE(ParseScore(""));
  EXPECT_FALSE(ParseScore("1x"));
  EXPECT_FALSE(ParseScore("abc"));
  EXPECT_EQ(ScoreText(1e-7), "9.9999999999999995e-08");
  EXPECT_EQ(ScoreText(-HUGE_VAL), "-inf");
}

Value Stream() {
  Value v;
  v.type = ValueType::kStream;
  auto& s = v.stream;
  s.entries = {{{1, 1}, {{"f", "v1"}}}, {{1, 2}, {{"f", "v2"}}}, {{1, 4}, {{"f", "v4"}}}};
  s.length = 3;
  s.last_id = {1, 4};
  s.first_id = {1, 1};
  s.max_deleted_id = {1, 3};
  s.entries_added = 4;
  s.has_v2_metadata = true;
  rdb::StreamGroup g1;
  g1.name = "g1";
  g1.last_delivered_id = {1, 2};
  g1.entries_read = 2;
  g1.pel = {{{1, 1}, "alice", 1, 1000}, {{1, 2}, "bob", 2, 2000}};
  g1.consumers = {{"alice", 1000, 1000}, {"bob", 2000, 2000}, {"carol", 10, -1}};
  rdb::StreamGroup g2;
  g2.name = "g2";
  g2.last_delivered_id = {0, 0};
  s.groups = {g1, g2};
  return v;
}

TEST(VerifyValueCompareTest, StreamsEqualDespiteServerClocks) {
  Value a = Stream(), b = Stream();
  // Seen/active times and delivery times are clocks of the server; group order is free.
  for (auto& c : b.stream.groups[0].consumers) c.seen_time_ms += 12345, c.active_time_ms = 7;
  for (auto& p : b.stream.groups[0].pel) p.delivery_time_ms += 999;
  std::swap(b.stream.groups[0], b.stream.groups[1]);
  std::swap(b.stream.groups[1].consumers[0], b.stream.groups[1].consumers[2]);
  EXPECT_FALSE(Diff(a, b));
}

TEST(VerifyValueCompareTest, StreamDifferencesAreNamed) {
  struct Case {
    const char* name;
    void (*change)(rdb::StreamValue&);
    const char* expected;
  };
  const Case cases[] = {
      {"entry removed", [](rdb::StreamValue& s) { s.entries.erase(s.entries.begin() + 1); },
       "entry 1-2 missing on target"},
      {"entry field", [](rdb::StreamValue& s) { s.entries[2].fields[0].second = "x"; },
       "entry 1-4: fields differ"},
      {"last id",
       [](rdb::StreamValue& s) {
         s.last_id = {1, 5};
       },
       "last id 1-4 vs 1-5"},
      {"max deleted",
       [](rdb::StreamValue& s) {
         s.max_deleted_id = {0, 0};
       },
       "max deleted id 1-3 vs 0-0"},
      {"entries added", [](rdb::StreamValue& s) { s.entries_added = 5; }, "entries added 4 vs 5"},
      {"last delivered",
       [](rdb::StreamValue& s) {
         s.groups[0].last_delivered_id = {1, 4};
       },
       "group \"g1\": last delivered id 1-2 vs 1-4"},
      {"entries read", [](rdb::StreamValue& s) { s.groups[0].entries_read = -1; },
       "group \"g1\": entries read 2 vs -1"},
      {"pel acked", [](rdb::StreamValue& s) { s.groups[0].pel.erase(s.groups[0].pel.begin()); },
       "group \"g1\": pending entry 1-1 missing on target"},
      {"pel owner", [](rdb::StreamValue& s) { s.groups[0].pel[1].consumer = "alice"; },
       "group \"g1\": pending entry 1-2 owned by \"bob\" vs \"alice\""},
      {"delivery count", [](rdb::StreamValue& s) { s.groups[0].pel[1].delivery_count = 3; },
       "group \"g1\": pending entry 1-2 delivery count 2 vs 3"},
      {"consumer", [](rdb::StreamValue& s) { s.groups[0].consumers.pop_back(); },
       "group \"g1\": consumer \"carol\" missing on target"},
      {"group",
       [](rdb::StreamValue& s) {
         rdb::StreamGroup g;
         g.name = "g3";
         s.groups.push_back(g);
       },
       "group \"g3\" only on target"},
  };
  for (const auto& c : cases) {
    Value a = Stream(), b = Stream();
    c.change(b.stream);
    auto d = Diff(a, b);
    ASSERT_TRUE(d) << c.name;
    EXPECT_EQ(*d, c.expected) << c.name;
  }
}

TEST(VerifyValueCompareTest, DetailsEscapeBinaryAndCutLongElements) {
  std::string big(500, 'x');
  auto d = Diff(Elements(ValueType::kList, {big}), Elements(ValueType::kList, {"\xff\n"}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "element 0: \"" + std::string(40, 'x') + "...\" vs \"\\xff\\x0a\"");
}

}  // namespace
}  // namespace kf::verify
