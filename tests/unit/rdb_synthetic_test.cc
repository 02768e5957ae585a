// The reader on hand-built RDB files covering what the fixtures do not: old encodings
// (linked lists, plain sets/zsets/hashes, zipmap, ziplists, quicklist v1), int-encoded and
// LZF strings, quicklist v2 plain/packed/LZF nodes, Redis 7.4 field-TTL hashes, second
// expiries, RDB < 5 (no checksum), VALKEY magic, SLOT_INFO, pre-GA functions, module data
// (refused or passed through), and DUMP payloads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rdb/canonical.h"
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

// Decodes `file` whole and in 1-byte chunks; both must give the same lines, returned.
std::vector<std::string> Dump(const std::string& file, ReaderOptions o = {}) {
  CanonicalDumpSink whole;
  RdbReader r1(&whole, o);
  auto a = FeedWhole(r1, file);
  EXPECT_TRUE(a.has_value()) << a.error().ToString();
  CanonicalDumpSink bytes;
  RdbReader r2(&bytes, o);
  auto b = FeedInPieces(r2, file, [] { return size_t{1}; });
  EXPECT_TRUE(b.has_value()) << b.error().ToString();
  EXPECT_EQ(whole.SortedLines(), bytes.SortedLines());
  return whole.SortedLines();
}

std::string Ziplist(const std::vector<std::string>& strs) {
  std::string body;
  size_t prev = 0, tail = 10;
  for (const auto& s : strs) {
    tail = 10 + body.size();
    std::string e =
        std::string(1, static_cast<char>(prev)) + std::string(1, static_cast<char>(s.size())) + s;
    body += e;
    prev = e.size();
  }
  return Le(11 + body.size(), 4) + Le(tail, 4) + Le(strs.size(), 2) + body + "\xff";
}

std::string Listpack(const std::vector<std::string>& strs) {
  std::string body;
  for (const auto& s : strs) {
    body += static_cast<char>(0x80 | s.size());
    body += s;
    body += static_cast<char>(1 + s.size());
  }
  return Le(7 + body.size(), 4) + Le(strs.size(), 2) + body + "\xff";
}

// LZF of `s` as one literal run (valid LZF, no compression), as an RDB string.
std::string LzfStr(const std::string& s) {
  std::string lzf;
  for (size_t i = 0; i < s.size(); i += 32) {
    std::string part = s.substr(i, 32);
    lzf += static_cast<char>(part.size() - 1);
    lzf += part;
  }
  return "\xc3" + Len(lzf.size()) + Len(s.size()) + lzf;
}

TEST(SyntheticTest, OldEncodingsAndStrings) {
  std::string body;
  body += "\xfe" + Len(0);
  body += std::string(1, 0) + Str("int8") + "\xc0\x85";               // -123
  body += std::string(1, 0) + Str("int16") + "\xc1" + Le(0xfff0, 2);  // -16
  body += std::string(1, 0) + Str("int32") + "\xc2" + Le(100000, 4);  // 100000
  body += std::string(1, 0) + Str("lzf") + LzfStr(std::string(40, 'z'));
  body += "\xfd" + Le(1700000000, 4) + std::string(1, 0) + Str("sec") + Str("v");
  body += std::string(1, 1) + Str("list") + Len(2) + Str("a") + Str("b");
  body += std::string(1, 2) + Str("set") + Len(2) + Str("y") + Str("x");
  body += std::string(1, 3) + Str("zold") + Len(3) + Str("m1") +
          "\x03"
          "1.5" +
          Str("m2") + "\xfe" + Str("m3") + "\xff";
  body += std::string(1, 5) + Str("z2") + Len(1) + Str("q") + Le(0x4004000000000000ULL, 8);  // 2.5
  body += std::string(1, 4) + Str("hash") + Len(1) + Str("f") + Str("v");
  std::string zm = std::string("\x01\x01") + "f" + "\x01" + std::string(1, 0) + "v" + "\xff";
  body += std::string(1, 9) + Str("zipmap") + Str(zm);
  body += std::string(1, 10) + Str("zl") + Str(Ziplist({"p", "q"}));
  body += std::string(1, 12) + Str("zzl") + Str(Ziplist({"m", "3.25"}));
  body += std::string(1, 13) + Str("hzl") + Str(Ziplist({"f", "v"}));
  body += std::string(1, 14) + Str("ql") + Len(2) + Str(Ziplist({"1"})) + Str(Ziplist({"2", "3"}));
  body += "\xfe" + Len(7) + std::string(1, 0) + LzfStr("lzfkey") + Str("in db 7");
  auto lines = Dump(MakeRdb(body, "REDIS0006"));
  std::vector<std::string> want = {
      R"({"db":0,"expire_ms":-1,"key":"68617368","type":"hash","value":[["66","76"]]})",
      R"({"db":0,"expire_ms":-1,"key":"687a6c","type":"hash","value":[["66","76"]]})",
      R"({"db":0,"expire_ms":-1,"key":"696e743136","type":"string","value":"2d3136"})",
      R"({"db":0,"expire_ms":-1,"key":"696e743332","type":"string","value":"313030303030"})",
      R"({"db":0,"expire_ms":-1,"key":"696e7438","type":"string","value":"2d313233"})",
      R"({"db":0,"expire_ms":-1,"key":"6c697374","type":"list","value":["61","62"]})",
      R"({"db":0,"expire_ms":-1,"key":"6c7a66","type":"string","value":")" +
          std::string(80, '7').replace(0, 80,
                                       [] {
                                         std::string s;
                                         for (int i = 0; i < 40; ++i) s += "7a";
                                         return s;
                                       }()) +
          R"("})",
      R"({"db":0,"expire_ms":-1,"key":"716c","type":"list","value":["31","32","33"]})",
      R"({"db":0,"expire_ms":1700000000000,"key":"736563","type":"string","value":"76"})",
      R"({"db":0,"expire_ms":-1,"key":"736574","type":"set","value":["78","79"]})",
      R"({"db":0,"expire_ms":-1,"key":"7a32","type":"zset","value":[["71","2.5"]]})",
      R"({"db":0,"expire_ms":-1,"key":"7a69706d6170","type":"hash","value":[["66","76"]]})",
      R"({"db":0,"expire_ms":-1,"key":"7a6c","type":"list","value":["70","71"]})",
      R"({"db":0,"expire_ms":-1,"key":"7a6f6c64","type":"zset","value":[["6d33","-inf"],["6d31","1.5"],["6d32","inf"]]})",
      R"({"db":0,"expire_ms":-1,"key":"7a7a6c","type":"zset","value":[["6d","3.25"]]})",
      R"({"db":7,"expire_ms":-1,"key":"6c7a666b6579","type":"string","value":"696e2064622037"})",
  };
  EXPECT_EQ(lines, want);
}

TEST(SyntheticTest, Quicklist2NodesAndFieldTtlHashes) {
  std::string body;
  // Quicklist v2: a packed node, a plain node, an LZF-compressed packed node.
  body += std::string(1, 18) + Str("ql2") + Len(3) + Len(2) + Str(Listpack({"a", "b"})) + Len(1) +
          Str(std::string(10, 'P')) + Len(2) + LzfStr(Listpack({"c"}));
  // Redis 7.4 hash with field TTLs (type 24): minExpire + relative TTLs.
  body += std::string(1, 24) + Str("hmeta") + Le(1000, 8) + Len(2) + Len(0) + Str("a") + Str("1") +
          Len(6) + Str("b") + Str("2");
  // Pre-GA (type 22): absolute TTLs, no minExpire.
  body += std::string(1, 22) + Str("hpre") + Len(1) + Len(4242) + Str("x") + Str("y");
  // Listpack with TTLs (type 25): minExpire + triples with absolute TTL (0 = none).
  std::string lpex = Listpack({"f", "v", "0", "g", "w", "99"});
  body += std::string(1, 25) + Str("hlpex") + Le(99, 8) + Str(lpex);
  auto lines = Dump(MakeRdb(body, "REDIS0012"));
  std::vector<std::string> want = {
      R"({"db":0,"expire_ms":-1,"field_expire_ms":{"67":99},"key":"686c706578","type":"hash","value":[["66","76"],["67","77"]]})",
      R"({"db":0,"expire_ms":-1,"field_expire_ms":{"62":1005},"key":"686d657461","type":"hash","value":[["61","31"],["62","32"]]})",
      R"({"db":0,"expire_ms":-1,"field_expire_ms":{"78":4242},"key":"68707265","type":"hash","value":[["78","79"]]})",
      R"({"db":0,"expire_ms":-1,"key":"716c32","type":"list","value":["61","62","50505050505050505050","63"]})",
  };
  EXPECT_EQ(lines, want);
  // The same hash types are not valid in an RDB 11 file.
  CanonicalDumpSink sink;
  RdbReader r(&sink);
  auto res = FeedWhole(r, MakeRdb(std::string(1, 24) + Str("h") + Le(0, 8) + Len(0), "REDIS0011"));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, RdbErrc::kUnknownOpcode);
}

class EventSink : public RdbSink {
 public:
  void OnHeader(const RdbFormat& f) override { log += "header " + std::to_string(f.version) + ";"; }
  void OnAux(ByteView k, ByteView v) override {
    log += "aux " + ToString(k) + "=" + ToString(v) + ";";
  }
  void OnSelectDb(uint64_t db) override { log += "db " + std::to_string(db) + ";"; }
  void OnResizeDb(uint64_t a, uint64_t b) override {
    log += "resize " + std::to_string(a) + "," + std::to_string(b) + ";";
  }
  void OnSlotInfo(uint64_t s, uint64_t n, uint64_t e) override {
    log += "slot " + std::to_string(s) + "," + std::to_string(n) + "," + std::to_string(e) + ";";
  }
  void OnFunction(const FunctionLibrary& f) override {
    log += "function " + f.name + "/" + f.engine + "/" + f.description + "/" + f.code + ";";
  }
  void OnModuleAux(const ModuleAux& a) override {
    log +=
        "moduleaux when=" + std::to_string(a.when) + " bytes=" + std::to_string(a.raw.size()) + ";";
  }
  AccessLevel OnKey(const KeyInfo& k) override {
    log += "key " + ToString(k.key) + " idle=" + std::to_string(k.idle_s) +
           " freq=" + std::to_string(k.freq) + ";";
    return level;
  }
  void OnRawValue(const KeyInfo&, ByteView part, bool last) override {
    log += "raw " + HexEncode(part) + (last ? ";" : "+");
  }
  void OnValue(const KeyInfo&, Value& v, bool) override {
    log += "value " + std::string(ValueTypeName(v.type)) + " " + HexEncode(AsBytes(v.str)) + ";";
  }
  void OnEof(const EofInfo& e) override {
    log += std::string("eof ") + (e.has_checksum ? "crc" : "nocrc") +
           (e.checksum_checked ? " checked" : "") + ";";
  }
  std::string log;
  AccessLevel level = AccessLevel::kData;
};

TEST(SyntheticTest, OpcodesAndEvents) {
  std::string body = "\xfa" + Str("redis-ver") + Str("7.2.4") + "\xf4" + Len(5) + Len(2) + Len(1) +
                     "\xfe" + Len(0) + "\xfb" + Len(2) + Len(1) + "\xf8" + Len(30) +
                     std::string(1, 0) + Str("k") + Str("v") + "\xf9\x07" + std::string(1, 0) +
                     Str("k2") + "\xc0\x05" + "\xf6" + Str("lib") + Str("LUA") + Len(1) +
                     Str("desc") + Str("code");
  EventSink s;
  RdbReader r(&s);
  ASSERT_TRUE(FeedWhole(r, MakeRdb(body, "REDIS0011")).has_value());
  EXPECT_EQ(s.log,
            "header 11;aux redis-ver=7.2.4;slot 5,2,1;db 0;resize 2,1;key k idle=30 freq=-1;"
            "value string 76;key k2 idle=-1 freq=7;value string 35;function lib/LUA/desc/code;"
            "eof crc checked;");
}

TEST(SyntheticTest, ValkeyMagicAndOldVersionsWithoutChecksum) {
  EventSink s;
  RdbReader r(&s);
  ASSERT_TRUE(
      FeedWhole(r, MakeRdb(std::string(1, 0) + Str("k") + Str("v"), "VALKEY080")).has_value());
  EXPECT_EQ(s.log, "header 80;key k idle=-1 freq=-1;value string 76;eof crc checked;");
  // RDB 4: no checksum after EOF.
  EventSink s4;
  RdbReader r4(&s4);
  std::string v4 = "REDIS0004" + std::string(1, 0) + Str("k") + Str("v") + "\xff";
  ASSERT_TRUE(FeedWhole(r4, v4).has_value());
  EXPECT_EQ(s4.log, "header 4;key k idle=-1 freq=-1;value string 76;eof nocrc;");
  // A stored checksum of 0 means "not computed" and is accepted.
  EventSink s0;
  RdbReader r0(&s0);
  ASSERT_TRUE(FeedWhole(r0, MakeRdb(std::string(1, 0) + Str("k") + Str("v"), "REDIS0009", false))
                  .has_value());
  EXPECT_EQ(s0.log, "header 9;key k idle=-1 freq=-1;value string 76;eof crc;");
}

TEST(SyntheticTest, ModuleDataRefusedOrPassedThrough) {
  uint64_t module_id = (uint64_t{1} << 10) | 3;  // name "AAAAAAAAB", encoding version 3
  std::string aux_body = Len(module_id) + Len(2) + Len(2) + Len(5) + Str("blob") + Len(0);
  std::string value = Len(module_id) + Len(1) + Len(42) + Len(4) + Le(0, 8) + Len(0);
  std::string file = MakeRdb("\xf7" + aux_body + std::string(1, 7) + Str("m") + value, "REDIS0011");
  {
    EventSink s;
    RdbReader r(&s);
    auto res = FeedWhole(r, file);
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error().code, RdbErrc::kModuleValue);
    EXPECT_NE(res.error().message.find("offset 9"), std::string::npos) << res.error().message;
  }
  ReaderOptions o;
  o.module_passthrough = true;
  EventSink s;
  s.level = AccessLevel::kRaw;
  RdbReader r(&s, o);
  ASSERT_TRUE(FeedInPieces(r, file, [] { return size_t{3}; }).has_value());
  EXPECT_EQ(s.log, "header 11;moduleaux when=2 bytes=" + std::to_string(aux_body.size()) +
                       ";key m idle=-1 freq=-1;raw 07" + HexEncode(AsBytes(value)) +
                       ";eof crc checked;");
  // A module value of module id X cannot be read without pass-through, also inside DUMP.
  auto d = DecodeDumpPayload(AsBytes(MakeDump(std::string(1, 7) + value, 11)));
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code, RdbErrc::kModuleValue);
  d = DecodeDumpPayload(AsBytes(MakeDump(std::string(1, 7) + value, 11)), o);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->type, ValueType::kModule);
  EXPECT_EQ(d->str, value);
}

TEST(SyntheticTest, DumpPayloads) {
  auto v = DecodeDumpPayload(AsBytes(MakeDump(std::string(1, 0) + Str("hello"), 11)));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->str, "hello");
  // Redis 7.4 field-TTL hash in a version-12 payload.
  std::string h = std::string(1, 24) + Le(500, 8) + Len(1) + Len(1) + Str("f") + Str("v");
  v = DecodeDumpPayload(AsBytes(MakeDump(h, 12)));
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  ASSERT_EQ(v->hash.size(), 1u);
  EXPECT_EQ(v->hash[0].expire_ms, 500);
  // ... but type 24 means nothing in a Valkey 9 payload.
  EXPECT_FALSE(DecodeDumpPayload(AsBytes(MakeDump(h, 80))).has_value());
  // Footer problems.
  std::string good = MakeDump(std::string(1, 0) + Str("hello"), 11);
  std::string bad = good;
  bad[3] ^= 1;
  auto e = DecodeDumpPayload(AsBytes(bad));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, RdbErrc::kBadDumpPayload);
  EXPECT_FALSE(DecodeDumpPayload(AsBytes(good.substr(0, 9))).has_value());
  EXPECT_FALSE(
      DecodeDumpPayload(AsBytes(MakeDump(std::string(1, 0) + Str("hello") + "x", 11))).has_value());
  EXPECT_FALSE(DecodeDumpPayload(AsBytes(MakeDump(std::string(1, 0) + "\x05"
                                                                      "hel",
                                                  11)))
                   .has_value());
  EXPECT_FALSE(DecodeDumpPayload(AsBytes(MakeDump(std::string(1, 0) + Str("x"), 60))).has_value());
}

TEST(SyntheticTest, RawPassThroughOfHugeStringIsNotBuffered) {
  // A 3 MiB string at kRaw with big_value_bytes = 64 KiB arrives in parts as it is fed.
  std::string big(3 << 20, 'b');
  std::string file = MakeRdb(std::string(1, 0) + Str("big") + Str(big), "REDIS0011");
  class PartSink : public RdbSink {
   public:
    AccessLevel OnKey(const KeyInfo&) override { return AccessLevel::kRaw; }
    void OnRawValue(const KeyInfo&, ByteView part, bool) override {
      total += part.size();
      max_part = std::max(max_part, part.size());
      ++parts;
    }
    size_t total = 0, max_part = 0, parts = 0;
  } sink;
  ReaderOptions o;
  o.big_value_bytes = 64 << 10;
  RdbReader r(&sink, o);
  ASSERT_TRUE(FeedInPieces(r, file, [] { return size_t{16 << 10}; }).has_value());
  EXPECT_EQ(sink.total, 1 + Str(big).size());
  EXPECT_GT(sink.parts, 10u);
  EXPECT_LT(sink.max_part, size_t{128} << 10);
}

}  // namespace
}  // namespace kf::rdb
