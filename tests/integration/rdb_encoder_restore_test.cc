// The DUMP-payload encoder against a real Valkey 8.0: every type and encoding, encoded for
// RDB 9, 10 and 11, must be accepted by RESTORE and read back as the same data.
//
// Each value is also created on the same server with ordinary commands (key "ref"); the
// restored key must have the same DEBUG DIGEST-VALUE (a digest of the logical content) and
// the same replies to the reading commands. Streams with consumer groups are checked with
// XINFO STREAM FULL, whose reply covers entries, groups, PELs and consumers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "harness/server_process.h"
#include "rdb/encoder.h"
#include "rdb/reader.h"

namespace kf::rdb {
namespace {

using test::ServerKind;
using test::ServerProcess;

class EncoderRestoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ =
        ServerProcess::Start(ServerKind::kValkey, {.config = {{"enable-debug-command", "yes"}}})
            .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    server_->Call({"FLUSHALL"});
  }

  std::string Call(const std::vector<std::string>& args) { return server_->Call(args); }

  // RESTOREs `v` encoded for `version` as key "k" and returns the RESTORE reply.
  std::string Restore(const Value& v, int version, const EncodeOptions& o = {}) {
    auto payload = EncodeDumpPayload(v, version, o);
    EXPECT_TRUE(payload.has_value()) << (payload ? "" : payload.error().ToString());
    if (!payload) return "(encode failed)";
    return Call({"RESTORE", "k", "0", std::string(payload->begin(), payload->end()), "REPLACE"});
  }

  // Restores `v` at RDB 9, 10 and 11 and compares with "ref" through `read` (a command
  // with the key at position 1) and DEBUG DIGEST-VALUE.
  void ExpectSameAsRef(const Value& v, const std::vector<std::vector<std::string>>& reads,
                       bool sort_lines = false) {
    const std::string ref_digest = Call({"DEBUG", "DIGEST-VALUE", "ref"});
    ASSERT_EQ(ref_digest.find("ERR"), std::string::npos) << ref_digest;
    for (int version : {9, 10, 11}) {
      SCOPED_TRACE("RDB " + std::to_string(version));
      ASSERT_EQ(Restore(v, version), "OK");
      EXPECT_EQ(Call({"DEBUG", "DIGEST-VALUE", "k"}), ref_digest);
      EXPECT_EQ(Call({"TYPE", "k"}), Call({"TYPE", "ref"}));
      for (std::vector<std::string> read : reads) {
        read[1] = "ref";
        std::string want = Call(read);
        read[1] = "k";
        std::string got = Call(read);
        if (sort_lines) {
          want = SortedLines(want);
          got = SortedLines(got);
        }
        EXPECT_EQ(got, want) << read[0];
      }
    }
  }

  static std::string SortedLines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }

  static ServerProcess* server_;
};

ServerProcess* EncoderRestoreTest::server_ = nullptr;

Value List(const std::vector<std::string>& elements) {
  Value v;
  v.type = ValueType::kList;
  v.elements = elements;
  return v;
}

TEST_F(EncoderRestoreTest, Strings) {
  for (const std::string& s :
       {std::string("hello"), std::string("12345"), std::string(""), std::string("-0"),
        std::string(6000, 'z'), std::string("\0\xff\r\n", 4)}) {
    Call({"SET", "ref", s});
    Value v;
    v.str = s;
    for (int version : {9, 10, 11}) {
      EncodeOptions o;
      o.compress_strings = version == 11;
      ASSERT_EQ(Restore(v, version, o), "OK");
      EXPECT_EQ(Call({"GET", "k"}), s);
    }
  }
}

TEST_F(EncoderRestoreTest, Lists) {
  std::vector<std::vector<std::string>> lists = {
      {"a", "b", "1", "-70000", "9223372036854775807"},
      {std::string(9000, 'P'), "x", std::string(5000, 'Q'), std::string(9000, 'R')}};
  std::vector<std::string> big;
  for (int i = 0; i < 20000; ++i) big.push_back("e" + std::to_string(i));
  lists.push_back(big);
  for (const auto& elements : lists) {
    Call({"DEL", "ref"});
    for (size_t i = 0; i < elements.size(); i += 1000) {
      std::vector<std::string> cmd = {"RPUSH", "ref"};
      for (size_t j = i; j < std::min(elements.size(), i + 1000); ++j) cmd.push_back(elements[j]);
      Call(cmd);
    }
    ExpectSameAsRef(List(elements), {{"LRANGE", "", "0", "-1"}, {"LLEN", ""}});
  }
}

TEST_F(EncoderRestoreTest, Sets) {
  std::vector<std::vector<std::string>> sets = {{"1", "-2", "70000", "5000000000"},
                                                {"a", "b", "1", std::string(64, 'x')}};
  std::vector<std::string> ints, strings;
  for (int i = 0; i < 600; ++i) {
    ints.push_back(std::to_string(i * 7));
    strings.push_back("member-" + std::to_string(i));
  }
  sets.push_back(ints);
  sets.push_back(strings);
  for (const auto& members : sets) {
    Call({"DEL", "ref"});
    std::vector<std::string> cmd = {"SADD", "ref"};
    cmd.insert(cmd.end(), members.begin(), members.end());
    Call(cmd);
    Value v;
    v.type = ValueType::kSet;
    v.elements = members;
    ExpectSameAsRef(v, {{"SMEMBERS", ""}, {"SCARD", ""}}, /*sort_lines=*/true);
  }
}

TEST_F(EncoderRestoreTest, SortedSetsKeepEveryScore) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<ZsetEntry> small = {{"a", 1e-07}, {"b", 5e-324}, {"c", 1e300}, {"d", inf},
                                  {"e", -inf},  {"f", 0.1},    {"g", 1e17},  {"h", 3}};
  std::vector<ZsetEntry> big = small;
  for (int i = 0; i < 200; ++i) big.push_back({"m" + std::to_string(i), i * 0.25});
  for (const auto& entries : {small, big}) {
    Call({"DEL", "ref"});
    std::vector<std::string> cmd = {"ZADD", "ref"};
    for (const ZsetEntry& e : entries) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.17g", e.score);
      cmd.push_back(buf);
      cmd.push_back(e.member);
    }
    Call(cmd);
    Value v;
    v.type = ValueType::kZset;
    v.zset = entries;
    ExpectSameAsRef(v, {{"ZRANGE", "", "0", "-1", "WITHSCORES"}});
  }
  // -0 survives in both encodings (the server itself would turn it into 0 in a listpack).
  for (size_t filler : {size_t{0}, size_t{200}}) {
    Value v;
    v.type = ValueType::kZset;
    v.zset = {{"neg0", -0.0}};
    for (size_t i = 0; i < filler; ++i) v.zset.push_back({"f" + std::to_string(i), 1.0});
    for (int version : {9, 10, 11}) {
      ASSERT_EQ(Restore(v, version), "OK");
      EXPECT_EQ(Call({"ZSCORE", "k", "neg0"}), "-0") << "RDB " << version << ", " << filler;
    }
  }
}

TEST_F(EncoderRestoreTest, Hashes) {
  std::vector<std::vector<HashField>> hashes = {
      {{"a", "1", -1}, {"b", "hello", -1}, {"100", "-3", -1}, {"", "", -1}},
      {{"f", std::string(65, 'v'), -1}, {"g", "x", -1}}};
  std::vector<HashField> big;
  for (int i = 0; i < 600; ++i) big.push_back({"f" + std::to_string(i), std::to_string(i), -1});
  hashes.push_back(big);
  for (const auto& fields : hashes) {
    Call({"DEL", "ref"});
    std::vector<std::string> cmd = {"HSET", "ref"};
    for (const HashField& f : fields) {
      cmd.push_back(f.field);
      cmd.push_back(f.value);
    }
    Call(cmd);
    Value v;
    v.type = ValueType::kHash;
    v.hash = fields;
    ExpectSameAsRef(v, {{"HLEN", ""}});
    // HGETALL pairs: compare as sorted "field\nvalue" pairs.
    const std::string got = Call({"HGETALL", "k"});
    const std::string want = Call({"HGETALL", "ref"});
    auto pairs = [](const std::string& text) {
      std::vector<std::string> lines, out;
      std::istringstream in(text);
      for (std::string l; std::getline(in, l);) lines.push_back(l);
      for (size_t i = 0; i + 1 < lines.size(); i += 2) out.push_back(lines[i] + "=" + lines[i + 1]);
      std::sort(out.begin(), out.end());
      return out;
    };
    EXPECT_EQ(pairs(got), pairs(want));
  }
}

// Streams go through the reader: DUMP of a stream built with commands, decoded to a Value,
// re-encoded for each version, restored, and compared with XINFO STREAM FULL.
TEST_F(EncoderRestoreTest, StreamsWithGroups) {
  for (int i = 0; i < 250; ++i) {
    Call({"XADD", "ref", std::to_string(1000 + i / 3) + "-" + std::to_string(i % 3), "field",
          "value" + std::to_string(i), i % 5 == 0 ? "other" : "n", std::to_string(i)});
  }
  Call({"XDEL", "ref", "1000-1"});
  Call({"XGROUP", "CREATE", "ref", "grp", "0"});
  Call({"XGROUP", "CREATE", "ref", "late", "$"});
  Call({"XREADGROUP", "GROUP", "grp", "alice", "COUNT", "5", "STREAMS", "ref", ">"});
  Call({"XREADGROUP", "GROUP", "grp", "bob", "COUNT", "3", "STREAMS", "ref", ">"});
  Call({"XACK", "ref", "grp", "1000-2"});
  Call({"XGROUP", "CREATECONSUMER", "ref", "grp", "idle"});
  const std::string dump = Call({"DUMP", "ref"});
  auto value = DecodeDumpPayload(AsBytes(dump));
  ASSERT_TRUE(value.has_value()) << value.error().ToString();
  ASSERT_EQ(value->type, ValueType::kStream);
  const std::string want = Call({"XINFO", "STREAM", "ref", "FULL", "COUNT", "0"});
  ASSERT_EQ(Restore(*value, 11), "OK");
  EXPECT_EQ(Call({"XINFO", "STREAM", "k", "FULL", "COUNT", "0"}), want);
  // RDB 10 has no active-time: loading it, the server takes seen-time (the "idle"
  // consumer, never active, shows -1 in the reference). Everything else is the same.
  auto without_active_time = [](const std::string& text) {
    std::istringstream in(text);
    std::string out;
    bool skip = false;
    for (std::string line; std::getline(in, line);) {
      if (!skip) out += line + "\n";
      skip = line == "active-time";
    }
    return out;
  };
  ASSERT_EQ(Restore(*value, 10), "OK");
  EXPECT_EQ(without_active_time(Call({"XINFO", "STREAM", "k", "FULL", "COUNT", "0"})),
            without_active_time(want));
  // RDB 9 has no entries-read / first-id / max-deleted-id / active-time: entries and
  // PELs still match.
  ASSERT_EQ(Restore(*value, 9), "OK");
  EXPECT_EQ(Call({"XRANGE", "k", "-", "+"}), Call({"XRANGE", "ref", "-", "+"}));
  // XPENDING's extended form prints id, consumer, idle ms, delivery count; the idle time
  // grows while the test runs (the two calls are milliseconds apart), so it is left out.
  auto without_idle = [](const std::string& text) {
    std::istringstream in(text);
    std::string out;
    int line_no = 0;
    for (std::string line; std::getline(in, line); ++line_no) {
      if (line_no % 4 != 2) out += line + "\n";
    }
    return out;
  };
  std::string pending = without_idle(Call({"XPENDING", "ref", "grp", "-", "+", "100"}));
  EXPECT_NE(pending.find("alice\n1\n"), std::string::npos) << pending;
  EXPECT_EQ(without_idle(Call({"XPENDING", "k", "grp", "-", "+", "100"})), pending);
}

TEST_F(EncoderRestoreTest, RetargetedRedisPayloadLoads) {
  auto redis = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(redis);
  redis->Call({"HSET", "h", "a", "1", "b", "2"});
  redis->Call({"RPUSH", "l", "x", "y"});
  for (const std::string key : {"h", "l"}) {
    const std::string dump = redis->Call({"DUMP", key});
    auto retargeted = RetargetDumpPayload(AsBytes(dump), 11);
    ASSERT_TRUE(retargeted.has_value()) << retargeted.error().ToString();
    EXPECT_EQ(Call({"RESTORE", key, "0", std::string(retargeted->begin(), retargeted->end())}),
              "OK");
  }
  EXPECT_EQ(Call({"HGET", "h", "b"}), "2");
  EXPECT_EQ(Call({"LRANGE", "l", "0", "-1"}), "x\ny");
}

}  // namespace
}  // namespace kf::rdb
