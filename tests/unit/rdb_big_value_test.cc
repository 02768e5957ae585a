// The reader on big strings: above ReaderOptions::big_value_bytes a string (plain or
// LZF-compressed, with the LZF size counted uncompressed) is delivered in pieces at kData
// and in bounded parts at kRaw from its header on, fed whole, in 1- and 7-byte chunks and
// in random splits; smaller ones stay whole; a corrupt or cut big LZF string is an error.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "rdb/rdb_writer.h"
#include "rdb/reader.h"
#include "rdb_test_util.h"

namespace kf::rdb {
namespace {

using testing::FeedInPieces;
using testing::FeedWhole;
using testing::Le;
using testing::Len;
using testing::MakeDump;
using testing::MakeRdb;
using testing::Str;

constexpr uint64_t kThreshold = (uint64_t{5} << 20) / 4;  // 1.25 MiB
constexpr size_t kPiece = size_t{1} << 20;                // min(threshold, 1 MiB)

// An RDB string as the server saves it with rdbcompression on.
std::string LzfString(const std::string& s) {
  RdbWriter w(/*compress_strings=*/true);
  w.WriteString(s);
  Bytes b = w.Take();
  EXPECT_EQ(b[0], 0xc3) << "not LZF-compressed";
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Text(size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) s += "piece " + std::to_string(i % 1000) + " of a big text; ";
  s.resize(n);
  return s;
}

struct Sample {
  std::string key;
  std::string value;       // the logical string
  std::string serialized;  // the RDB string (value part of the RAW form, after the type byte)
  bool big;
};

std::vector<Sample> Samples() {
  std::string random = RandomBytes(kThreshold + kPiece / 2 + 3, 1);
  std::string text = Text(3 * kPiece + 5);  // ~50 KB compressed: big only uncompressed
  // Type byte + 5-byte length + string: exactly the threshold, and one byte above it.
  std::string at_threshold = RandomBytes(kThreshold - 6, 2);
  std::string above = RandomBytes(kThreshold - 5, 3);
  std::string small_text = Text(kThreshold - 100);
  return {
      {"plain", random, Str(random), true},
      {"lzf", text, LzfString(text), true},
      {"at-threshold", at_threshold, Str(at_threshold), false},
      {"above-threshold", above, Str(above), true},
      {"small-lzf", small_text, LzfString(small_text), false},
      {"tiny", "hello", Str("hello"), false},
  };
}

std::string FileOf(const std::vector<Sample>& samples) {
  std::string body;
  for (const auto& s : samples) {
    body += "\xfc" + Le(4102444800000ULL, 8);  // EXPIRETIME_MS: big values keep their expiry
    body += std::string(1, '\0') + Str(s.key) + s.serialized;
  }
  return MakeRdb(body);
}

struct Delivered {
  std::vector<size_t> parts;
  std::string joined;
  uint64_t string_length = 0;  // KeyInfo::string_length at the first piece (kData)
  int64_t expire_ms = -1;
};

class PartsSink : public RdbSink {
 public:
  explicit PartsSink(AccessLevel level) : level_(level) {}
  AccessLevel OnKey(const KeyInfo&) override { return level_; }
  void OnRawValue(const KeyInfo& k, ByteView part, bool last) override {
    Add(k, AsStringView(part), last);
  }
  void OnValue(const KeyInfo& k, Value& part, bool last) override {
    EXPECT_EQ(part.type, ValueType::kString);
    if (current_.parts.empty()) current_.string_length = k.string_length;
    Add(k, part.str, last);
  }
  std::vector<std::pair<std::string, Delivered>> keys;

 private:
  void Add(const KeyInfo& k, std::string_view part, bool last) {
    current_.parts.push_back(part.size());
    current_.joined.append(part);
    current_.expire_ms = k.expire_ms;
    if (last) {
      keys.emplace_back(ToString(k.key), std::move(current_));
      current_ = Delivered{};
    }
  }
  AccessLevel level_;
  Delivered current_;
};

using Feeder = std::function<Result<void>(RdbReader&, const std::string&)>;

std::vector<std::pair<std::string, Feeder>> Feeders() {
  return {
      {"whole", [](RdbReader& r, const std::string& f) { return FeedWhole(r, f); }},
      {"1-byte", [](RdbReader& r,
                    const std::string& f) { return FeedInPieces(r, f, [] { return size_t{1}; }); }},
      {"7-byte", [](RdbReader& r,
                    const std::string& f) { return FeedInPieces(r, f, [] { return size_t{7}; }); }},
      {"random",
       [](RdbReader& r, const std::string& f) {
         std::mt19937 rng(5);
         std::uniform_int_distribution<size_t> small(1, 64), large(1, 300000);
         return FeedInPieces(r, f, [&] { return rng() % 4 == 0 ? large(rng) : small(rng); });
       }},
  };
}

TEST(BigStringTest, DataLevelDeliversBigStringsInPieces) {
  const auto samples = Samples();
  ASSERT_FALSE(HasFailure());
  const std::string file = FileOf(samples);
  ReaderOptions o;
  o.big_value_bytes = kThreshold;
  for (const auto& [how, feed] : Feeders()) {
    SCOPED_TRACE(how);
    PartsSink sink(AccessLevel::kData);
    RdbReader r(&sink, o);
    auto fed = feed(r, file);
    ASSERT_TRUE(fed.has_value()) << fed.error().ToString();
    ASSERT_EQ(sink.keys.size(), samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      const Sample& s = samples[i];
      const Delivered& d = sink.keys[i].second;
      SCOPED_TRACE(s.key);
      EXPECT_EQ(sink.keys[i].first, s.key);
      EXPECT_TRUE(d.joined == s.value) << "the pieces do not join to the value";
      EXPECT_EQ(d.string_length, s.value.size());
      EXPECT_EQ(d.expire_ms, 4102444800000LL);
      if (!s.big) {
        EXPECT_EQ(d.parts.size(), 1u);
        continue;
      }
      EXPECT_EQ(d.parts.size(), (s.value.size() + kPiece - 1) / kPiece);
      for (size_t p = 0; p + 1 < d.parts.size(); ++p) EXPECT_EQ(d.parts[p], kPiece);
    }
  }
}

TEST(BigStringTest, RawLevelHandsBigStringsOverFromTheirHeaderOn) {
  const auto samples = Samples();
  ASSERT_FALSE(HasFailure());
  const std::string file = FileOf(samples);
  ReaderOptions o;
  o.big_value_bytes = kThreshold;
  for (const auto& [how, feed] : Feeders()) {
    SCOPED_TRACE(how);
    PartsSink sink(AccessLevel::kRaw);
    RdbReader r(&sink, o);
    auto fed = feed(r, file);
    ASSERT_TRUE(fed.has_value()) << fed.error().ToString();
    ASSERT_EQ(sink.keys.size(), samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      const Sample& s = samples[i];
      const Delivered& d = sink.keys[i].second;
      SCOPED_TRACE(s.key);
      // The parts join to the RAW value: a DUMP payload without its footer.
      EXPECT_TRUE(d.joined == std::string(1, '\0') + s.serialized);
      auto v = DecodeDumpPayload(AsBytes(MakeDump(d.joined, 11)));
      ASSERT_TRUE(v.has_value()) << v.error().ToString();
      EXPECT_TRUE(v->str == s.value);
      if (!s.big) {
        EXPECT_EQ(d.parts.size(), 1u);
        continue;
      }
      // Never gathered up to the threshold: every part is at most a piece, from the first.
      EXPECT_GE(d.parts.size(), 2u);
      for (size_t part : d.parts) EXPECT_LE(part, kPiece);
    }
  }
}

// A file with one big LZF string whose compressed data is `lzf` and whose header announces
// `announced` bytes.
std::string FileWithLzf(const std::string& lzf, uint64_t announced) {
  std::string value = "\xc3" + Len(lzf.size()) + Len(announced) + lzf;
  return MakeRdb(std::string(1, '\0') + Str("bad") + value);
}

// The compressed data of an RDB LZF string (after its 3-part header).
std::string LzfData(const std::string& plain) {
  std::string s = LzfString(plain);
  size_t at = 1;
  for (int i = 0; i < 2; ++i) {
    uint8_t b = static_cast<uint8_t>(s[at]);
    at += (b >> 6) == 0 ? 1 : (b >> 6) == 1 ? 2 : b == 0x80 ? 5 : 9;
  }
  return s.substr(at);
}

Error ReadError(const std::string& file, const Feeder& feed) {
  ReaderOptions o;
  o.big_value_bytes = kThreshold;
  PartsSink sink(AccessLevel::kData);
  RdbReader r(&sink, o);
  auto fed = feed(r, file);
  EXPECT_FALSE(fed.has_value());
  return fed ? Error{} : fed.error();
}

TEST(BigStringTest, CorruptOrCutBigLzfStringsAreErrors) {
  const std::string plain(3 * kPiece, 'a');
  const std::string good = LzfData(plain);
  ASSERT_FALSE(HasFailure());
  ASSERT_LT(good.size(), kThreshold);  // big only uncompressed: the streaming path
  for (const auto& [how, feed] : Feeders()) {
    SCOPED_TRACE(how);
    // A back-reference before the start of the output.
    Error e =
        ReadError(FileWithLzf(std::string("\x20\x05", 2) + good.substr(2), plain.size()), feed);
    EXPECT_EQ(e.code, RdbErrc::kCorrupt);
    EXPECT_NE(e.message.find("before the start of the output"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("key \"bad\""), std::string::npos) << e.message;
    // More output than the header announces.
    e = ReadError(FileWithLzf(good, plain.size() - 1), feed);
    EXPECT_EQ(e.code, RdbErrc::kCorrupt);
    EXPECT_NE(e.message.find("more than the announced"), std::string::npos) << e.message;
    // Less.
    e = ReadError(FileWithLzf(good, plain.size() + 1), feed);
    EXPECT_EQ(e.code, RdbErrc::kCorrupt);
    EXPECT_NE(e.message.find("instead of the announced"), std::string::npos) << e.message;
    // The input ends inside the string.
    std::string cut = FileWithLzf(good, plain.size());
    e = ReadError(cut.substr(0, cut.size() - 9 - good.size() / 2), feed);
    EXPECT_EQ(e.code, RdbErrc::kTruncated);
  }
}

TEST(BigStringTest, AnnouncedSizesAreBoundedBeforeAnything) {
  // A big plain string claiming more than max_string_bytes, and an LZF string claiming more
  // than its compressed bytes can expand to: refused at the header.
  ReaderOptions o;
  o.big_value_bytes = 1024;
  o.max_string_bytes = uint64_t{1} << 30;
  PartsSink sink(AccessLevel::kData);
  RdbReader r(&sink, o);
  auto fed = r.Feed(AsBytes(std::string("REDIS0011") + std::string(1, '\0') + Str("k") +
                            Len((uint64_t{1} << 30) + 1)));
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().code, RdbErrc::kLimitExceeded);
  PartsSink sink2(AccessLevel::kData);
  RdbReader r2(&sink2, o);
  fed = r2.Feed(AsBytes(std::string("REDIS0011") + std::string(1, '\0') + Str("k") + "\xc3" +
                        Len(100) + Len(100 * 89 + 65)));
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().code, RdbErrc::kCorrupt);
  EXPECT_TRUE(sink.keys.empty() && sink2.keys.empty());
}

}  // namespace
}  // namespace kf::rdb
