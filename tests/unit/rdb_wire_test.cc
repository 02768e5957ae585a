// Tests of the wire pieces rdb/ gives callers that write straight into their own buffers:
// WriteDumpPayload (a DUMP payload written in place), SerializedString (a type-0 value read
// without the reader, decoded in place) and RdbReader::ExpectSerializedValue (one serialized
// value read as it streams, as the snapshot decodes big values).
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "rdb/encoder.h"
#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"
#include "rdb/rdb_writer.h"
#include "rdb/reader.h"
#include "rdb/string_value.h"
#include "rdb_test_util.h"

namespace kf::rdb {
namespace {

using testing::MakeDump;
using testing::Str;

std::string S(ByteView b) { return std::string(AsStringView(b)); }
Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

// ---- WriteDumpPayload ------------------------------------------------------------------

TEST(RdbWriteDumpPayload, ExactBytesOfASmallString) {
  const std::string value = std::string(1, '\0') + Str("foo");  // type 0, "foo"
  Bytes out(value.size() + kDumpFooterBytes, 0xee);
  ASSERT_TRUE(WriteDumpPayload(AsBytes(value), 11, out).has_value());
  // value, version 11 little-endian, CRC-64 of both little-endian (testing::MakeDump
  // computes it independently from the spec'd layout).
  EXPECT_EQ(S(out), MakeDump(value, 11));
  EXPECT_EQ(out[value.size()], 11);
  EXPECT_EQ(out[value.size() + 1], 0);
}

TEST(RdbWriteDumpPayload, SameBytesAsTheEncoderAndTheFooterRewrite) {
  Value list;
  list.type = ValueType::kList;
  for (int i = 0; i < 2000; ++i) list.elements.push_back("element-" + std::to_string(i));
  for (int version : {9, 10, 11}) {
    auto whole = EncodeDumpPayload(list, version);
    ASSERT_TRUE(whole.has_value()) << whole.error().ToString();
    ByteView serialized = ByteView(*whole).first(whole->size() - kDumpFooterBytes);
    Bytes out(whole->size());
    ASSERT_TRUE(WriteDumpPayload(serialized, version, out).has_value());
    EXPECT_EQ(out, *whole) << "RDB " << version;
    auto rewritten = RewriteDumpFooter(serialized, version);
    ASSERT_TRUE(rewritten.has_value());
    EXPECT_EQ(out, *rewritten);
    // A server-side check of the footer: the payload decodes back to the value.
    auto decoded = DecodeDumpPayload(out);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    EXPECT_EQ(*decoded, list);
  }
  // A payload for another version than the value was encoded for: only the footer differs.
  auto v10 = EncodeDumpPayload(list, 10);
  ASSERT_TRUE(v10.has_value());
  Bytes to12(v10->size());
  ASSERT_TRUE(WriteDumpPayload(ByteView(*v10).first(v10->size() - 10), 12, to12).has_value());
  EXPECT_EQ(to12[to12.size() - 10], 12);
  auto retargeted = RetargetDumpPayload(*v10, 12);
  ASSERT_TRUE(retargeted.has_value());
  EXPECT_EQ(to12, *retargeted);
}

TEST(RdbWriteDumpPayload, RefusesWrongRoomEmptyValuesAndVersions) {
  const Bytes value = B(std::string(1, '\0') + Str("foo"));
  Bytes small(value.size() + kDumpFooterBytes - 1, 0xee);
  auto r = WriteDumpPayload(value, 11, small);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kBadDumpPayload);
  EXPECT_EQ(small, Bytes(small.size(), 0xee)) << "nothing written";
  Bytes big(value.size() + kDumpFooterBytes + 1);
  EXPECT_EQ(WriteDumpPayload(value, 11, big).error().code, RdbErrc::kBadDumpPayload);
  Bytes room(kDumpFooterBytes);
  EXPECT_EQ(WriteDumpPayload({}, 11, room).error().code, RdbErrc::kBadDumpPayload);
  Bytes ok(value.size() + kDumpFooterBytes, 0xee);
  EXPECT_EQ(WriteDumpPayload(value, 0, ok).error().code, RdbErrc::kUnsupportedVersion);
  EXPECT_EQ(WriteDumpPayload(value, 0x10000, ok).error().code, RdbErrc::kUnsupportedVersion);
  EXPECT_EQ(ok, Bytes(ok.size(), 0xee));
  EXPECT_TRUE(WriteDumpPayload(value, 0xFFFF, ok).has_value());
  EXPECT_EQ(ok[value.size()], 0xFF);
  EXPECT_EQ(ok[value.size() + 1], 0xFF);
}

// ---- SerializedString ------------------------------------------------------------------

// The type-0 serialized value RdbWriter makes for `s` (raw, integer or LZF as the server).
std::string Serialized(std::string_view s, bool compress) {
  RdbWriter w(compress);
  w.WriteByte(kTypeString);
  w.WriteString(s);
  return S(w.bytes());
}

// Parses and decodes `serialized`; "<parse failed>" or "<decode failed>" otherwise.
std::string Decode(const std::string& serialized, SerializedString::Kind* kind = nullptr) {
  SerializedString s;
  if (!ParseSerializedString(AsBytes(serialized), &s)) return "<parse failed>";
  if (kind != nullptr) *kind = s.kind;
  std::string out(s.length, '\0');
  auto r = DecodeSerializedStringInto(
      s, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  if (!r) return "<decode failed>";
  return out;
}

TEST(RdbSerializedString, RawIntegerAndLzfFormsDecodeToTheString) {
  using Kind = SerializedString::Kind;
  struct Case {
    std::string value;
    bool compress;
    Kind kind;
  };
  const std::string text(5000, 'a');
  std::string binary;
  for (int i = 0; i < 300; ++i) binary.push_back(static_cast<char>(i));
  const std::vector<Case> cases = {
      {"", false, Kind::kRaw},
      {"hello", false, Kind::kRaw},
      {binary, false, Kind::kRaw},
      {"0", false, Kind::kInteger},
      {"-128", false, Kind::kInteger},         // int8
      {"127", false, Kind::kInteger},          // int8
      {"-32768", false, Kind::kInteger},       // int16
      {"2147483647", false, Kind::kInteger},   // int32
      {"-2147483648", false, Kind::kInteger},  // int32
      {"2147483648", false, Kind::kRaw},       // over 32 bits: a plain string
      {"007", false, Kind::kRaw},              // not canonical
      {text, true, Kind::kLzf},
      {"short text stays raw", true, Kind::kRaw},
  };
  for (const Case& c : cases) {
    Kind kind = Kind::kRaw;
    EXPECT_EQ(Decode(Serialized(c.value, c.compress), &kind), c.value) << c.value.substr(0, 20);
    EXPECT_EQ(kind, c.kind) << c.value.substr(0, 20);
  }
  SerializedString s;
  ASSERT_TRUE(ParseSerializedString(AsBytes(Serialized("-32768", false)), &s));
  EXPECT_EQ(s.integer, -32768);
  EXPECT_EQ(s.length, 6u);
  ASSERT_TRUE(ParseSerializedString(AsBytes(Serialized(text, true)), &s));
  EXPECT_EQ(s.length, text.size());
  EXPECT_LT(s.data.size(), text.size());
}

TEST(RdbSerializedString, AnythingElseIsRefused) {
  const std::string ok = Serialized("hello", false);
  EXPECT_EQ(Decode(ok), "hello");
  EXPECT_EQ(Decode(""), "<parse failed>");
  EXPECT_EQ(Decode(std::string(1, '\0')), "<parse failed>");           // no string
  EXPECT_EQ(Decode("\x01" + ok.substr(1)), "<parse failed>");          // a list's type byte
  EXPECT_EQ(Decode(ok + "x"), "<parse failed>");                       // a byte left over
  EXPECT_EQ(Decode(ok.substr(0, ok.size() - 1)), "<parse failed>");    // a byte missing
  EXPECT_EQ(Decode(std::string(1, '\0') + "\x80"), "<parse failed>");  // a cut 32-bit length
  EXPECT_EQ(Decode(std::string(1, '\0') + "\xc1" + "\x01"), "<parse failed>");  // int16 cut
  EXPECT_EQ(Decode(std::string(1, '\0') + "\xc4"), "<parse failed>");           // no such encoding
  // LZF whose data does not decompress to the announced length.
  std::string lzf = Serialized(std::string(5000, 'a'), true);
  SerializedString parsed;
  ASSERT_TRUE(ParseSerializedString(AsBytes(lzf), &parsed));
  ASSERT_EQ(parsed.kind, SerializedString::Kind::kLzf);
  const std::string data = S(parsed.data);
  const std::string bad_len =
      std::string(1, '\0') + "\xc3" + testing::Len(data.size()) + testing::Len(4999) + data;
  EXPECT_EQ(Decode(bad_len), "<decode failed>") << "4999 instead of 5000 bytes";
  // Room of another size than the string.
  SerializedString s;
  ASSERT_TRUE(ParseSerializedString(AsBytes(ok), &s));
  uint8_t room[4];
  auto r = DecodeSerializedStringInto(s, std::span<uint8_t>(room, 4));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kInvalidValue);
}

// ---- RdbReader::ExpectSerializedValue -----------------------------------------------------

// Joins the parts of one value (lists only here) and counts them.
class ListParts : public RdbSink {
 public:
  void OnValue(const KeyInfo& key, Value& part, bool last) override {
    EXPECT_TRUE(key.key.empty());
    EXPECT_FALSE(ended) << "a part after the last one";
    for (auto& e : part.elements) elements.push_back(std::move(e));
    ++parts;
    ended = last;
  }
  void OnHeader(const RdbFormat&) override { ADD_FAILURE() << "no header in a value"; }
  AccessLevel OnKey(const KeyInfo&) override {
    ADD_FAILURE() << "no key in a value";
    return AccessLevel::kData;
  }
  void OnEof(const EofInfo&) override { ADD_FAILURE() << "no EOF in a value"; }
  std::vector<std::string> elements;
  int parts = 0;
  bool ended = false;
};

TEST(RdbReaderSerializedValue, BigListStreamsInPartsWhateverTheSplits) {
  Value list;
  list.type = ValueType::kList;
  for (int i = 0; i < 60000; ++i) list.elements.push_back("element number " + std::to_string(i));
  auto payload = EncodeDumpPayload(list, 11);
  ASSERT_TRUE(payload.has_value());
  const std::string serialized = S(ByteView(*payload).first(payload->size() - kDumpFooterBytes));
  ASSERT_GT(serialized.size(), 256u * 1024);
  std::mt19937 rng(7);
  const std::vector<std::function<size_t()>> splits = {[&] { return serialized.size(); },
                                                       [] { return size_t{1}; },
                                                       [&] { return size_t{1} + rng() % 9000; }};
  for (size_t i = 0; i < splits.size(); ++i) {
    ListParts sink;
    ReaderOptions options;
    options.big_value_bytes = 64 * 1024;
    RdbReader reader(&sink, options);
    reader.ExpectSerializedValue(RdbFormat{RdbMagic::kRedis, 11});
    auto r = testing::FeedInPieces(reader, serialized, splits[i]);
    ASSERT_TRUE(r.has_value()) << "split " << i << ": " << r.error().ToString();
    EXPECT_TRUE(reader.done());
    EXPECT_TRUE(sink.ended);
    EXPECT_GT(sink.parts, 3) << "split " << i << ": a big value comes in parts";
    EXPECT_EQ(sink.elements, list.elements) << "split " << i;
  }
}

TEST(RdbReaderSerializedValue, CutValueFailsAtFinish) {
  Value list;
  list.type = ValueType::kList;
  list.elements = {"a", "b", "c"};
  auto payload = EncodeDumpPayload(list, 11);
  ASSERT_TRUE(payload.has_value());
  const std::string serialized = S(ByteView(*payload).first(payload->size() - kDumpFooterBytes));
  ListParts sink;
  RdbReader reader(&sink);
  reader.ExpectSerializedValue(RdbFormat{RdbMagic::kRedis, 11});
  ASSERT_TRUE(reader.Feed(AsBytes(serialized).first(serialized.size() - 1)).has_value());
  EXPECT_FALSE(reader.done());
  auto r = reader.Finish();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kTruncated);
  EXPECT_FALSE(sink.ended);
}

}  // namespace
}  // namespace kf::rdb
