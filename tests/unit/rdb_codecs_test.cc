// The RDB codecs on hand-built blobs: listpack, ziplist, zipmap, intset, LZF, length and
// double encodings, header/type tables, and the canonical-form formatting helpers. Each
// codec is also fed corrupt blobs, which must be reported, not followed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "rdb/canonical.h"
#include "rdb/intset.h"
#include "rdb/listpack.h"
#include "rdb/lzf_codec.h"
#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"
#include "rdb/ziplist.h"
#include "rdb/zipmap.h"
#include "rdb_test_util.h"

namespace kf::rdb {
namespace {

using testing::Le;

// ---- a test-side listpack builder ----
std::string LpBacklen(size_t l) {
  std::string b;
  if (l <= 127) {
    b.push_back(static_cast<char>(l));
  } else if (l < 16383) {
    b.push_back(static_cast<char>(l >> 7));
    b.push_back(static_cast<char>((l & 127) | 128));
  } else {
    b.push_back(static_cast<char>(l >> 14));
    b.push_back(static_cast<char>(((l >> 7) & 127) | 128));
    b.push_back(static_cast<char>((l & 127) | 128));
  }
  return b;
}
std::string LpEntry(const std::string& enc) { return enc + LpBacklen(enc.size()); }
std::string LpStr(const std::string& s) {
  if (s.size() < 64) return LpEntry(std::string(1, static_cast<char>(0x80 | s.size())) + s);
  if (s.size() < 4096) {
    return LpEntry(
        std::string{static_cast<char>(0xE0 | (s.size() >> 8)), static_cast<char>(s.size() & 0xff)} +
        s);
  }
  return LpEntry("\xf0" + Le(s.size(), 4) + s);
}
std::string LpInt(int64_t v) {
  if (v >= 0 && v <= 127) return LpEntry(std::string(1, static_cast<char>(v)));
  if (v >= -4096 && v <= 4095) {
    uint64_t u = static_cast<uint64_t>(v) & 0x1FFF;
    return LpEntry(std::string{static_cast<char>(0xC0 | (u >> 8)), static_cast<char>(u & 0xff)});
  }
  if (v >= -32768 && v <= 32767) return LpEntry("\xf1" + Le(static_cast<uint64_t>(v), 2));
  if (v >= -(1 << 23) && v < (1 << 23)) return LpEntry("\xf2" + Le(static_cast<uint64_t>(v), 3));
  if (v >= INT32_MIN && v <= INT32_MAX) return LpEntry("\xf3" + Le(static_cast<uint64_t>(v), 4));
  return LpEntry("\xf4" + Le(static_cast<uint64_t>(v), 8));
}
std::string Listpack(const std::vector<std::string>& entries, int count = -1) {
  std::string body;
  for (const auto& e : entries) body += e;
  uint64_t n = count >= 0 ? static_cast<uint64_t>(count) : entries.size();
  return Le(6 + body.size() + 1, 4) + Le(n, 2) + body + "\xff";
}

std::vector<std::string> ListpackStrings(const std::string& blob, std::string* error) {
  std::vector<std::string> out;
  auto r = ListpackReader::Open(AsBytes(blob));
  if (!r) {
    *error = r.error().message;
    return out;
  }
  PackedEntry e;
  while (r->Next(&e)) out.push_back(e.ToString());
  *error = r->error();
  return out;
}

TEST(ListpackTest, AllEncodings) {
  std::string big(5000, 'x');
  std::string mid(300, 'm');
  std::string lp = Listpack({LpStr("hello"), LpInt(7), LpInt(-100), LpInt(4000), LpInt(-30000),
                             LpInt(8000000), LpInt(-2000000000), LpInt(int64_t{1} << 40),
                             LpInt(INT64_MIN), LpStr(mid), LpStr(big), LpStr("")});
  std::string err;
  auto v = ListpackStrings(lp, &err);
  EXPECT_EQ(err, "");
  std::vector<std::string> want = {"hello",
                                   "7",
                                   "-100",
                                   "4000",
                                   "-30000",
                                   "8000000",
                                   "-2000000000",
                                   "1099511627776",
                                   "-9223372036854775808",
                                   mid,
                                   big,
                                   ""};
  EXPECT_EQ(v, want);
  EXPECT_EQ(ListpackCount(AsBytes(lp)).value(), 12u);
}

TEST(ListpackTest, UnknownCountHeader) {
  std::string lp = Listpack({LpStr("a"), LpStr("b")}, 65535);
  std::string err;
  EXPECT_EQ(ListpackStrings(lp, &err).size(), 2u);
  EXPECT_EQ(err, "");
}

TEST(ListpackTest, CorruptBlobsAreReported) {
  std::string good = Listpack({LpStr("abc"), LpInt(5)});
  std::string err;
  // Total bytes disagree with the blob.
  std::string bad = good;
  bad[0] = static_cast<char>(bad[0] + 1);
  ListpackStrings(bad, &err);
  EXPECT_NE(err, "");
  // Missing terminator.
  bad = good;
  bad.back() = 0x00;
  ListpackStrings(bad, &err);
  EXPECT_NE(err, "");
  // Wrong backlen.
  bad = good;
  bad[6 + 4] = 9;
  ListpackStrings(bad, &err);
  EXPECT_NE(err, "");
  // A string length running past the end.
  bad = good;
  bad[6] = static_cast<char>(0x80 | 60);
  ListpackStrings(bad, &err);
  EXPECT_NE(err, "");
  // Invalid encoding byte.
  bad = good;
  bad[6] = static_cast<char>(0xF7);
  ListpackStrings(bad, &err);
  EXPECT_NE(err, "");
  // Header count disagrees with the entries.
  ListpackStrings(Listpack({LpStr("a")}, 3), &err);
  EXPECT_NE(err, "");
  // Too short.
  ListpackStrings(std::string("\x05\x00\x00\x00\xff", 5), &err);
  EXPECT_NE(err, "");
}

// ---- ziplist ----
std::string Ziplist(const std::vector<std::string>& encoded_entries) {
  // encoded_entries: encoding + data (prevlen added here).
  std::string body;
  size_t prev = 0;
  size_t tail = 10;
  for (const auto& e : encoded_entries) {
    std::string pl = prev < 254 ? std::string(1, static_cast<char>(prev)) : "\xfe" + Le(prev, 4);
    tail = 10 + body.size();
    body += pl + e;
    prev = pl.size() + e.size();
  }
  return Le(10 + body.size() + 1, 4) + Le(tail, 4) + Le(encoded_entries.size(), 2) + body + "\xff";
}

TEST(ZiplistTest, AllEncodings) {
  std::string s100(100, 'q');
  std::string s300(300, 'r');
  std::string zl =
      Ziplist({std::string(1, 3) + "abc",
               std::string{static_cast<char>(0x40 | (100 >> 8)), static_cast<char>(100)} + s100,
               "\x80" + std::string{0, 0, 1, 44} + s300,  // 32-bit BE length 300
               "\xc0" + Le(static_cast<uint64_t>(-300), 2), "\xd0" + Le(70000, 4),
               "\xe0" + Le(uint64_t{1} << 50, 8), "\xf0" + Le(static_cast<uint64_t>(-70000), 3),
               "\xfe" + Le(static_cast<uint64_t>(-5), 1), "\xf1", "\xfd"});
  auto r = ZiplistReader::Open(AsBytes(zl));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  std::vector<std::string> got;
  PackedEntry e;
  while (r->Next(&e)) got.push_back(e.ToString());
  EXPECT_EQ(r->error(), "");
  std::vector<std::string> want = {"abc",    s100, s300, "-300", "70000", "1125899906842624",
                                   "-70000", "-5", "0",  "12"};
  EXPECT_EQ(got, want);
}

TEST(ZiplistTest, CorruptBlobsAreReported) {
  std::string zl = Ziplist({std::string(1, 1) + "a", std::string(1, 1) + "b"});
  auto run = [](const std::string& blob) {
    auto r = ZiplistReader::Open(AsBytes(blob));
    if (!r) return std::string("open: ") + r.error().message;
    PackedEntry e;
    while (r->Next(&e)) {
    }
    return r->error();
  };
  EXPECT_EQ(run(zl), "");
  std::string bad = zl;
  bad[10 + 3] = 7;  // second entry's prevlen
  EXPECT_NE(run(bad), "");
  bad = zl;
  bad[11] = 40;  // first string length past the end
  EXPECT_NE(run(bad), "");
  bad = zl;
  bad[11] = static_cast<char>(0xF0 | 0x0E);  // 0xFE? no: 0xFE is int8; use an invalid one
  bad[11] = static_cast<char>(0xC1);
  EXPECT_NE(run(bad), "");
  bad = zl;
  bad.back() = 1;
  EXPECT_NE(run(bad), "");
  EXPECT_NE(run(zl.substr(0, 9)), "");
}

TEST(ZipmapTest, PairsAndCorruption) {
  std::string zm = std::string("\x02") + "\x03" + "foo" + "\x03" + "\x01" + "bar" + "Z" + "\x01" +
                   "k" + std::string("\x00\x00", 2) + "\xff";
  auto r = ZipmapReader::Open(AsBytes(zm));
  ASSERT_TRUE(r.has_value());
  std::vector<std::string> got;
  PackedEntry e;
  while (r->Next(&e)) got.push_back(e.ToString());
  EXPECT_EQ(r->error(), "");
  EXPECT_EQ(got, (std::vector<std::string>{"foo", "bar", "k", ""}));
  std::string bad = zm;
  bad[1] = 100;  // key length past the end
  auto r2 = ZipmapReader::Open(AsBytes(bad));
  ASSERT_TRUE(r2.has_value());
  while (r2->Next(&e)) {
  }
  EXPECT_NE(r2->error(), "");
  EXPECT_FALSE(ZipmapReader::Open(AsBytes(std::string("\x01\x01", 2))).has_value());
}

TEST(IntsetTest, WidthsAndCorruption) {
  for (uint32_t width : {2u, 4u, 8u}) {
    std::vector<int64_t> vals = {-3, 0, 7,
                                 width == 2   ? 30000
                                 : width == 4 ? 2000000000
                                              : INT64_MAX};
    std::string blob = Le(width, 4) + Le(vals.size(), 4);
    for (int64_t v : vals) blob += Le(static_cast<uint64_t>(v), static_cast<int>(width));
    auto r = IntsetReader::Open(AsBytes(blob));
    ASSERT_TRUE(r.has_value());
    PackedEntry e;
    std::vector<int64_t> got;
    while (r->Next(&e)) got.push_back(e.int_value);
    EXPECT_EQ(got, vals);
  }
  EXPECT_FALSE(IntsetReader::Open(AsBytes(Le(3, 4) + Le(0, 4))).has_value());
  EXPECT_FALSE(IntsetReader::Open(AsBytes(Le(2, 4) + Le(2, 4) + "\x01\x00")).has_value());
  EXPECT_FALSE(IntsetReader::Open(AsBytes(Le(8, 4) + Le(0xFFFFFFFF, 4))).has_value());
}

TEST(LzfTest, DecompressesAndBoundsLengths) {
  // literal run "abc" (ctrl 2) + back reference: length 6 (ctrl (6-2)<<5), distance 3.
  std::string in = std::string(
                       "\x02"
                       "abc") +
                   "\x80\x02";
  std::string out;
  ASSERT_TRUE(LzfDecompress(AsBytes(in), 9, 1 << 20, &out).has_value());
  EXPECT_EQ(out, "abcabcabc");
  // Claimed length wrong.
  auto r = LzfDecompress(AsBytes(in), 10, 1 << 20, &out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kCorrupt);
  // Above the caller's limit: nothing allocated, limit error.
  r = LzfDecompress(AsBytes(in), 5000, 100, &out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kLimitExceeded);
  // More than 6 bytes of LZF can ever produce.
  r = LzfDecompress(AsBytes(in), uint64_t{1} << 40, uint64_t{1} << 50, &out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kCorrupt);
  // Back reference before the start.
  r = LzfDecompress(AsBytes(std::string("\x80\x05", 2)), 8, 100, &out);
  EXPECT_FALSE(r.has_value());
}

TEST(FormatTest, Lengths) {
  auto dec = [](const std::string& s, uint64_t* v, bool* special, size_t* size) {
    auto p = reinterpret_cast<const uint8_t*>(s.data());
    return DecodeLength(p, p + s.size(), v, special, size);
  };
  uint64_t v = 0;
  bool sp = false;
  size_t n = 0;
  EXPECT_EQ(dec("\x05", &v, &sp, &n), Parse::kOk);
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(dec("\x41\x02", &v, &sp, &n), Parse::kOk);
  EXPECT_EQ(v, 258u);
  EXPECT_EQ(dec(std::string("\x80\x00\x01\x00\x00", 5), &v, &sp, &n), Parse::kOk);
  EXPECT_EQ(v, 65536u);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(dec(std::string("\x81\x00\x00\x00\x01\x00\x00\x00\x00", 9), &v, &sp, &n), Parse::kOk);
  EXPECT_EQ(v, uint64_t{1} << 32);
  EXPECT_EQ(dec("\xc3", &v, &sp, &n), Parse::kOk);
  EXPECT_TRUE(sp);
  EXPECT_EQ(v, 3u);
  EXPECT_EQ(dec("", &v, &sp, &n), Parse::kNeedMore);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(dec("\x41", &v, &sp, &n), Parse::kNeedMore);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(dec("\x81\x00", &v, &sp, &n), Parse::kNeedMore);
  EXPECT_EQ(n, 9u);
  EXPECT_EQ(dec("\x82", &v, &sp, &n), Parse::kCorrupt);
}

TEST(FormatTest, Doubles) {
  auto dec = [](const std::string& s, double* d, size_t* n) {
    auto p = reinterpret_cast<const uint8_t*>(s.data());
    return DecodeStringDouble(p, p + s.size(), d, n);
  };
  double d = 0;
  size_t n = 0;
  EXPECT_EQ(dec("\xfd", &d, &n), Parse::kOk);
  EXPECT_TRUE(std::isnan(d));
  EXPECT_EQ(dec("\xfe", &d, &n), Parse::kOk);
  EXPECT_EQ(d, std::numeric_limits<double>::infinity());
  EXPECT_EQ(dec("\xff", &d, &n), Parse::kOk);
  EXPECT_EQ(d, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(dec("\x03"
                "2.5",
                &d, &n),
            Parse::kOk);
  EXPECT_EQ(d, 2.5);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(dec("\x02-0", &d, &n), Parse::kOk);
  EXPECT_TRUE(std::signbit(d));
  EXPECT_EQ(dec("\x03"
                "2.",
                &d, &n),
            Parse::kNeedMore);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(dec("\x03"
                "abc",
                &d, &n),
            Parse::kCorrupt);
  uint8_t bin[8];
  double x = -1.25;
  std::memcpy(bin, &x, 8);
  EXPECT_EQ(DecodeBinaryDouble(bin), -1.25);
}

TEST(FormatTest, HeadersAndTypeTables) {
  auto h = [](const char* s) { return ParseHeader(AsBytes(std::string_view(s, 9))); };
  ASSERT_TRUE(h("REDIS0009").has_value());
  EXPECT_EQ(h("REDIS0012")->version, 12);
  EXPECT_EQ(h("VALKEY080")->magic, RdbMagic::kValkey);
  EXPECT_TRUE(h("REDIS0014").has_value());
  auto bad = h("REDIS0015");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, RdbErrc::kUnsupportedVersion);
  EXPECT_NE(bad.error().message.find("15"), std::string::npos);
  EXPECT_EQ(h("VALKEY082").error().code, RdbErrc::kUnsupportedVersion);
  EXPECT_EQ(h("MEMCACHED").error().code, RdbErrc::kBadMagic);
  EXPECT_EQ(h("REDIS00x1").error().code, RdbErrc::kBadMagic);

  RdbFormat r11{RdbMagic::kRedis, 11}, r12{RdbMagic::kRedis, 12}, v80{RdbMagic::kValkey, 80};
  EXPECT_EQ(ClassifyType(20, r11), TypeKind::kSetListpack);
  EXPECT_EQ(ClassifyType(24, r11), TypeKind::kInvalid);
  EXPECT_EQ(ClassifyType(24, r12), TypeKind::kHashMetadata);
  EXPECT_EQ(ClassifyType(25, r12), TypeKind::kHashListpackEx);
  EXPECT_EQ(ClassifyType(22, r12), TypeKind::kHashMetadata);
  EXPECT_EQ(ClassifyType(22, v80), TypeKind::kUnsupported);
  EXPECT_EQ(ClassifyType(24, v80), TypeKind::kInvalid);
  EXPECT_EQ(ClassifyType(8, r12), TypeKind::kInvalid);
  EXPECT_EQ(RdbTypeName(25, r12), "hash-listpack-ex");
  EXPECT_EQ(RdbTypeName(18, r11), "list-quicklist2");
  EXPECT_TRUE(IsOpcode(244, r11));
  EXPECT_FALSE(IsOpcode(244, RdbFormat{RdbMagic::kRedis, 9}));
  EXPECT_EQ(FormatForDumpVersion(12)->magic, RdbMagic::kRedis);
  EXPECT_EQ(FormatForDumpVersion(80)->magic, RdbMagic::kValkey);
  EXPECT_FALSE(FormatForDumpVersion(50).has_value());
}

TEST(CanonicalTest, ScoresAndJsonStrings) {
  EXPECT_EQ(FormatScore(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FormatScore(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(FormatScore(-0.0), "-0");
  EXPECT_EQ(FormatScore(0.1), "0.10000000000000001");
  EXPECT_EQ(FormatScore(5e-324), "4.9406564584124654e-324");
  EXPECT_EQ(FormatScore(3479099956230698.0), "3479099956230698");
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\\u00e9\"");
  EXPECT_EQ(JsonQuote("\xf0\x9f\x98\x80"), "\"\\ud83d\\ude00\"");
  EXPECT_EQ(JsonQuote("\xff"), "\"\\u00ff\"");
}

TEST(CanonicalTest, KeyLines) {
  Value z;
  z.type = ValueType::kZset;
  z.zset = {{"b", 2}, {"a", 2}, {"c", -std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(
      CanonicalKeyLine(3, AsBytes("k"), 5, z),
      R"({"db":3,"expire_ms":5,"key":"6b","type":"zset","value":[["63","-inf"],["61","2"],["62","2"]]})");
  Value h;
  h.type = ValueType::kHash;
  h.hash = {{"f2", "v2", 77}, {"f1", "v1", -1}};
  EXPECT_EQ(
      CanonicalKeyLine(0, AsBytes("h"), -1, h),
      R"({"db":0,"expire_ms":-1,"field_expire_ms":{"6632":77},"key":"68","type":"hash","value":[["6631","7631"],["6632","7632"]]})");
  Value s;
  s.type = ValueType::kSet;
  s.elements = {"\xff", "a", ""};
  EXPECT_EQ(CanonicalKeyLine(0, AsBytes("s"), -1, s),
            R"({"db":0,"expire_ms":-1,"key":"73","type":"set","value":["","61","ff"]})");
  FunctionLibrary lib;
  lib.name = "x";
  lib.code = "#!lua name=x\nreturn 'a'";
  EXPECT_EQ(CanonicalFunctionLine(lib),
            R"({"code": "#!lua name=x\nreturn 'a'", "function_library": "x"})");
}

}  // namespace
}  // namespace kf::rdb
