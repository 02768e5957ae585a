// The reader on bad input: truncation at many offsets (an error at Finish, never a wrong
// success), flipped bytes (an error - mostly the checksum - or, without checksum checks,
// a different but valid result; never a crash), wrong checksums, claimed lengths far
// beyond the input or the limits (no allocation of the claim), unknown type bytes,
// unsupported versions, trailing data, and sticky errors.
#include <gtest/gtest.h>
#include <malloc.h>

#include <random>
#include <string>

#include "rdb/canonical.h"
#include "rdb/reader.h"
#include "rdb_test_util.h"

namespace kf::rdb {
namespace {

using testing::FeedInPieces;
using testing::FeedWhole;
using testing::FixturePath;
using testing::Le;
using testing::Len;
using testing::MakeRdb;
using testing::ReadFileBytes;
using testing::Str;

// Decodes every value to DATA level and drops it.
Result<void> Decode(const std::string& data, ReaderOptions o = {}) {
  RdbSink sink;
  RdbReader r(&sink, o);
  return FeedWhole(r, data);
}

TEST(BadInputTest, TruncatedAtManyOffsetsIsAnErrorAtFinish) {
  std::string data = ReadFileBytes(FixturePath("redis-7.0-base", ".rdb"));
  ASSERT_GT(data.size(), 100000u);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < 400; ++i) cuts.push_back(i);
  for (size_t i = 400; i < data.size(); i += 1499) cuts.push_back(i);
  for (size_t i = data.size() - 20; i < data.size(); ++i) cuts.push_back(i);
  for (size_t cut : cuts) {
    RdbSink sink;
    RdbReader r(&sink);
    auto fed = r.Feed(AsBytes(std::string_view(data).substr(0, cut)));
    auto fin = r.Finish();
    ASSERT_FALSE(fin.has_value()) << "cut at " << cut << " decoded successfully";
    if (fed.has_value()) {
      EXPECT_EQ(fin.error().code, RdbErrc::kTruncated)
          << "cut " << cut << ": " << fin.error().message;
      EXPECT_NE(fin.error().message.find("offset " + std::to_string(cut)), std::string::npos)
          << fin.error().message;
    }
  }
}

TEST(BadInputTest, FlippedBytesAreCaught) {
  std::string data = ReadFileBytes(FixturePath("valkey-8.0-base", ".rdb"));
  std::mt19937 rng(42);
  int checksum_errors = 0, other_errors = 0, unchecked_ok = 0;
  for (int i = 0; i < 200; ++i) {
    std::string bad = data;
    size_t at = rng() % (data.size() - 8);
    bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
    auto r = Decode(bad);
    ASSERT_FALSE(r.has_value()) << "flip at " << at << " went unnoticed";
    if (r.error().code == RdbErrc::kChecksumMismatch) {
      ++checksum_errors;
    } else {
      ++other_errors;
    }
    // Without the checksum: an error or a (different) valid result, never a crash.
    ReaderOptions o;
    o.verify_checksum = false;
    if (Decode(bad, o).has_value()) ++unchecked_ok;
  }
  EXPECT_GT(checksum_errors, 60);
  EXPECT_GT(unchecked_ok, 30);
  RecordProperty("other_errors", other_errors);
}

TEST(BadInputTest, WrongChecksum) {
  std::string data = ReadFileBytes(FixturePath("redis-7.4-base", ".rdb"));
  data[data.size() - 3] ^= 0x10;
  auto r = Decode(data);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kChecksumMismatch);
  EXPECT_NE(r.error().message.find("offset " + std::to_string(data.size() - 8)), std::string::npos)
      << r.error().message;
  ReaderOptions o;
  o.verify_checksum = false;
  EXPECT_TRUE(Decode(data, o).has_value());
}

TEST(BadInputTest, HugeClaimedLengthsAllocateNothing) {
  // A key claiming 3 GiB (under the 4 GiB default limit) followed by a few bytes: the
  // reader waits for the bytes and fails at Finish, having allocated nothing like 3 GiB.
  std::string file = "REDIS0011" + std::string(1, 0) + Len(uint64_t{3} << 30) + "abc";
  size_t before = mallinfo2().uordblks;
  CanonicalDumpSink sink;
  RdbReader r(&sink);
  ASSERT_TRUE(r.Feed(AsBytes(file)).has_value());
  EXPECT_LT(mallinfo2().uordblks, before + (16 << 20));
  auto fin = r.Finish();
  ASSERT_FALSE(fin.has_value());
  EXPECT_EQ(fin.error().code, RdbErrc::kTruncated);
  // Above the limit: refused at once, naming the offset.
  std::string huge = "REDIS0011" + std::string(1, 0) + Len(uint64_t{1} << 60) + "abc";
  auto e = Decode(huge);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kLimitExceeded);
  EXPECT_NE(e.error().message.find("offset 10"), std::string::npos) << e.error().message;
  // A configured limit.
  ReaderOptions o;
  o.max_string_bytes = 100;
  e = Decode(MakeRdb(std::string(1, 0) + Str("k") + Str(std::string(200, 'x'))), o);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kLimitExceeded);
  // LZF claiming a huge uncompressed size from 3 bytes.
  e = Decode(MakeRdb(std::string(1, 0) + Str("k") + "\xc3" + Len(3) + Len(uint64_t{1} << 31) +
                     std::string("\x01"
                                 "ab")));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kCorrupt);
  // A list claiming 2^62 elements: nothing reserved, truncated at Finish.
  CanonicalDumpSink sink2;
  RdbReader r2(&sink2);
  ASSERT_TRUE(r2.Feed(AsBytes("REDIS0011" + std::string(1, 1) + Str("l") + Len(uint64_t{1} << 62) +
                              Str("a")))
                  .has_value());
  EXPECT_LT(mallinfo2().uordblks, before + (16 << 20));
  EXPECT_EQ(r2.Finish().error().code, RdbErrc::kTruncated);
}

TEST(BadInputTest, UnknownTypesAndOpcodes) {
  auto e = Decode(MakeRdb(std::string(1, 30) + Str("k") + Str("v")));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kUnknownOpcode);
  EXPECT_NE(e.error().message.find("offset 9"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("REDIS RDB version 11"), std::string::npos) << e.error().message;
  e = Decode(MakeRdb(std::string(1, 8) + Str("k") + Str("v")));
  EXPECT_EQ(e.error().code, RdbErrc::kUnknownOpcode);
  // Valkey 9 field-TTL hash: known but not decodable.
  e = Decode(MakeRdb(std::string(1, 22) + Str("k") + Str("v"), "VALKEY080"));
  EXPECT_EQ(e.error().code, RdbErrc::kUnsupportedType);
  // Opcode 244 does not exist in RDB 9.
  e = Decode(MakeRdb("\xf4" + Len(1) + Len(1) + Len(1), "REDIS0009"));
  EXPECT_EQ(e.error().code, RdbErrc::kUnknownOpcode);
  // Bad quicklist container.
  e = Decode(MakeRdb(std::string(1, 18) + Str("l") + Len(1) + Len(3) + Str("x")));
  EXPECT_EQ(e.error().code, RdbErrc::kCorrupt);
  // Corrupt listpack inside a valid string.
  e = Decode(MakeRdb(std::string(1, 20) + Str("s") + Str("garbage-not-a-listpack")));
  EXPECT_EQ(e.error().code, RdbErrc::kCorrupt);
  // Pre-GA module values.
  e = Decode(MakeRdb(std::string(1, 6) + Str("m") + Len(1)));
  EXPECT_EQ(e.error().code, RdbErrc::kModuleValue);
}

TEST(BadInputTest, HeaderProblemsNameTheVersion) {
  auto e = Decode(MakeRdb("", "REDIS0099"));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kUnsupportedVersion);
  EXPECT_NE(e.error().message.find("99"), std::string::npos);
  EXPECT_NE(e.error().message.find("offset 0"), std::string::npos);
  EXPECT_EQ(Decode(MakeRdb("", "VALKEY079")).error().code, RdbErrc::kUnsupportedVersion);
  EXPECT_EQ(Decode("GIF89a-not-an-rdb").error().code, RdbErrc::kBadMagic);
  EXPECT_EQ(Decode("").error().code, RdbErrc::kTruncated);
}

TEST(BadInputTest, TrailingDataAndStickyErrors) {
  std::string file = MakeRdb(std::string(1, 0) + Str("k") + Str("v"));
  auto e = Decode(file + "x");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kTrailingData);
  CanonicalDumpSink sink;
  RdbReader r(&sink);
  ASSERT_FALSE(r.Feed(AsBytes(std::string("REDIS0011\x1e"))).has_value());
  EXPECT_FALSE(r.Feed(AsBytes(file)).has_value());
  EXPECT_FALSE(r.Finish().has_value());
}

TEST(BadInputTest, GarbageNeverCrashes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s = "REDIS0011";
    size_t n = rng() % 200;
    for (size_t j = 0; j < n; ++j) s.push_back(static_cast<char>(rng()));
    CanonicalDumpSink sink;
    RdbReader r(&sink);
    (void)FeedInPieces(r, s, [&] { return size_t{1 + rng() % 9}; });
    (void)DecodeDumpPayload(AsBytes(s));
  }
  SUCCEED();
}

}  // namespace
}  // namespace kf::rdb
