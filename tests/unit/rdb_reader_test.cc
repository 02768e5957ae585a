// The streaming RDB reader against the real fixtures (whole, 1-byte, 7-byte and random
// chunks), the access levels (RAW round-trips through DecodeDumpPayload, STRUCT blobs,
// DATA parts of big values), synthetic records (opcodes, types, limits), and bad input:
// truncation at many offsets, flipped bytes, wrong checksums, huge lengths, unknown types.
//
// Fixture comparison is byte for byte in the canonical form (which lists at most 10
// pending entries per group, as the fixtures do), for every fixture.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rdb/canonical.h"
#include "rdb/listpack.h"
#include "rdb/reader.h"
#include "rdb_test_util.h"

namespace kf::rdb {
namespace {

using testing::FeedInPieces;
using testing::FeedWhole;
using testing::FixturePath;
using testing::FixtureStems;
using testing::Le;
using testing::Len;
using testing::MakeDump;
using testing::MakeRdb;
using testing::ReadFileBytes;
using testing::Str;

// Decodes `rdb` (fed by `feed`) and compares with the fixture's lines; returns "" or the
// first difference.
std::string CompareWithFixture(const std::string& stem,
                               const std::function<Result<void>(RdbReader&)>& feed,
                               ReaderOptions options = {}) {
  CanonicalDumpSink sink;
  RdbReader reader(&sink, options);
  auto r = feed(reader);
  if (!r) return stem + ": reader error: " + r.error().ToString();
  return testing::CompareFixtureLines(stem, sink.SortedLines());
}

class FixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string data_ = ReadFileBytes(FixturePath(GetParam(), ".rdb"));
};

TEST_P(FixtureTest, WholeBuffer) {
  ASSERT_GT(data_.size(), 1000u);
  EXPECT_EQ(CompareWithFixture(GetParam(), [&](RdbReader& r) { return FeedWhole(r, data_); }), "");
}

TEST_P(FixtureTest, SevenByteChunks) {
  EXPECT_EQ(CompareWithFixture(
                GetParam(),
                [&](RdbReader& r) { return FeedInPieces(r, data_, [] { return size_t{7}; }); }),
            "");
}

TEST_P(FixtureTest, OneByteChunks) {
  EXPECT_EQ(CompareWithFixture(
                GetParam(),
                [&](RdbReader& r) { return FeedInPieces(r, data_, [] { return size_t{1}; }); }),
            "");
}

TEST_P(FixtureTest, RandomSplits) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> small(1, 64), large(1, 70000);
    EXPECT_EQ(CompareWithFixture(GetParam(),
                                 [&](RdbReader& r) {
                                   return FeedInPieces(r, data_, [&] {
                                     return rng() % 4 == 0 ? large(rng) : small(rng);
                                   });
                                 }),
              "")
        << "seed " << seed;
  }
}

TEST_P(FixtureTest, BigValuesInParts) {
  // Every value above 1 KiB is delivered in parts; the canonical sink joins them.
  ReaderOptions o;
  o.big_value_bytes = 1024;
  EXPECT_EQ(
      CompareWithFixture(
          GetParam(),
          [&](RdbReader& r) { return FeedInPieces(r, data_, [] { return size_t{4093}; }); }, o),
      "");
}

// Collects RAW values and DATA values of the same file to check RAW -> DUMP -> Value.
class RawSink : public RdbSink {
 public:
  AccessLevel OnKey(const KeyInfo&) override { return AccessLevel::kRaw; }
  void OnRawValue(const KeyInfo& k, ByteView part, bool last) override {
    current.append(AsStringView(part));
    if (!last) ++parts;
    if (last) {
      raws.emplace_back(ToString(k.key), std::move(current));
      current.clear();
    }
  }
  void OnKeyEnd(const KeyInfo&, uint64_t bytes) override { sizes.push_back(bytes); }
  std::vector<std::pair<std::string, std::string>> raws;
  std::vector<uint64_t> sizes;
  std::string current;
  int parts = 0;
};

class DataSink : public RdbSink {
 public:
  void OnValue(const KeyInfo& k, Value& part, bool last) override {
    AppendValuePart(&current, std::move(part));
    if (last) {
      values.emplace_back(ToString(k.key), std::move(current));
      current = Value{};
    }
  }
  std::vector<std::pair<std::string, Value>> values;
  Value current;
};

TEST_P(FixtureTest, RawValuesAreDumpPayloads) {
  RawSink raw;
  ReaderOptions o;
  o.big_value_bytes = 8192;  // some values arrive in parts
  RdbReader rr(&raw, o);
  ASSERT_TRUE(FeedInPieces(rr, data_, [] { return size_t{1000}; }).has_value());
  DataSink data;
  RdbReader dr(&data);
  ASSERT_TRUE(FeedWhole(dr, data_).has_value());
  ASSERT_EQ(raw.raws.size(), data.values.size());
  ASSERT_EQ(raw.sizes.size(), raw.raws.size());
  EXPECT_GT(raw.parts, 0);
  for (size_t i = 0; i < raw.raws.size(); ++i) {
    ASSERT_EQ(raw.raws[i].first, data.values[i].first);
    EXPECT_EQ(raw.sizes[i], raw.raws[i].second.size());
    auto v = DecodeDumpPayload(AsBytes(MakeDump(raw.raws[i].second, rr.format().version)));
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    // Compare through the full form (hash/set order, NaN-free doubles, every PEL entry).
    const CanonicalOptions full = CanonicalOptions::Full();
    EXPECT_EQ(CanonicalKeyLine(0, AsBytes(raw.raws[i].first), -1, *v, full),
              CanonicalKeyLine(0, AsBytes(data.values[i].first), -1, data.values[i].second, full))
        << "key " << Printable(raw.raws[i].first);
  }
}

// Keys read at kRaw, kSkip and kData in turn: every value decoded at kData is the one a
// reader at kData for every key gives (the reader leaves its Value alone for keys it does
// not decode, and must not carry anything of them into the next decoded one).
TEST_P(FixtureTest, MixedLevelsDecodeLikeDataOnly) {
  class MixedSink : public DataSink {
   public:
    AccessLevel OnKey(const KeyInfo&) override {
      static constexpr AccessLevel kOrder[] = {AccessLevel::kRaw, AccessLevel::kData,
                                               AccessLevel::kSkip, AccessLevel::kData};
      AccessLevel level = kOrder[n++ % 4];
      decoded.push_back(level == AccessLevel::kData);
      return level;
    }
    size_t n = 0;
    std::vector<bool> decoded;
  } mixed;
  RdbReader mr(&mixed);
  ASSERT_TRUE(FeedInPieces(mr, data_, [] { return size_t{4096}; }).has_value());
  DataSink data;
  RdbReader dr(&data);
  ASSERT_TRUE(FeedWhole(dr, data_).has_value());
  std::vector<std::pair<std::string, Value>> want;
  for (size_t i = 0; i < data.values.size(); ++i) {
    if (mixed.decoded[i]) want.push_back(data.values[i]);
  }
  ASSERT_GT(want.size(), 10u);
  ASSERT_EQ(mixed.values.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(mixed.values[i].first, want[i].first);
    EXPECT_TRUE(mixed.values[i].second == want[i].second)
        << "key " << Printable(want[i].first) << " differs after keys at other levels";
  }
}

TEST_P(FixtureTest, RawPartsStayBoundedWhenFedWhole) {
  class PartSink : public RdbSink {
   public:
    AccessLevel OnKey(const KeyInfo&) override { return AccessLevel::kRaw; }
    void OnRawValue(const KeyInfo&, ByteView part, bool last) override {
      max_part = std::max(max_part, part.size());
      if (!last) ++parts;
    }
    size_t max_part = 0;
    int parts = 0;
  } sink;
  ReaderOptions o;
  o.big_value_bytes = 16384;
  RdbReader r(&sink, o);
  ASSERT_TRUE(FeedWhole(r, data_).has_value());
  EXPECT_GT(sink.parts, 0);
  // A part is at most the threshold plus one unit (the largest single string, 32 KiB + header).
  EXPECT_LT(sink.max_part, size_t{16384} + 40000);
}

TEST_P(FixtureTest, StructLevelDeliversBlobs) {
  class StructSink : public RdbSink {
   public:
    AccessLevel OnKey(const KeyInfo&) override { return AccessLevel::kStruct; }
    void OnStructBlob(const KeyInfo&, const StructBlob& b) override {
      ++blobs;
      if (b.kind == BlobKind::kListpack) {
        if (!ListpackCount(b.data)) ++bad;
      }
      if (b.kind == BlobKind::kStreamListpack) {
        EXPECT_EQ(b.node_key.size(), 16u);
      }
    }
    int blobs = 0;
    int bad = 0;
  } sink;
  RdbReader r(&sink);
  ASSERT_TRUE(FeedWhole(r, data_).has_value());
  EXPECT_GT(sink.blobs, 10);
  EXPECT_EQ(sink.bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(FixtureStems()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace kf::rdb
