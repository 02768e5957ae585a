// Tests of the RESP command encoder: exact bytes, binary safety, scatter/gather segments
// with large arguments referenced (not copied), and a round trip through CommandParser.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "resp/command_parser.h"
#include "resp/encoder.h"

namespace kf::resp {
namespace {

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(RespEncoderTest, ExactBytes) {
  EXPECT_EQ(Str(EncodeCommand({"PING"})), "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(Str(EncodeCommand({"SET", "key", "value"})),
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  EXPECT_EQ(Str(EncodeCommand({"ECHO", ""})), "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
  EXPECT_EQ(Str(EncodeCommand(std::initializer_list<std::string_view>{})), "*0\r\n");

  CommandEncoder enc;
  enc.Add({"GET", "a"});
  enc.Add({"GET", "b"});
  EXPECT_EQ(enc.command_count(), 2u);
  EXPECT_EQ(enc.segments().size(), 1u);  // small commands coalesce into one segment
  EXPECT_EQ(Str(enc.ToBytes()), "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
  EXPECT_EQ(enc.size(), enc.ToBytes().size());
  enc.Clear();
  EXPECT_TRUE(enc.empty());
  EXPECT_EQ(enc.size(), 0u);
  EXPECT_TRUE(enc.segments().empty());
}

TEST(RespEncoderTest, BinaryArguments) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string with_crlf = "a\r\nb\0c";
  with_crlf.push_back('\0');
  Bytes out = EncodeCommand({"SET", all, with_crlf});
  std::string expected = "*3\r\n$3\r\nSET\r\n$256\r\n" + all + "\r\n$" +
                         std::to_string(with_crlf.size()) + "\r\n" + with_crlf + "\r\n";
  EXPECT_EQ(Str(out), expected);

  CommandParser parser;
  ParseOutcome r = parser.Feed(out);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.consumed, out.size());
  EXPECT_EQ(parser.command().argc(), 3u);
  EXPECT_EQ(parser.command().arg_view(1), all);
  EXPECT_EQ(parser.command().arg_view(2), with_crlf);
  EXPECT_EQ(parser.command().wire_size(), out.size());
}

TEST(RespEncoderTest, LargeArgumentsAreReferencedNotCopied) {
  std::string big(1 << 20, 'x');
  big[0] = '\r';
  std::string edge(4096, 'e');   // exactly the threshold: referenced
  std::string below(4095, 'b');  // below: copied
  CommandEncoder enc;
  enc.Add({"SET", "k1", big});
  enc.Add({"SET", "k2", edge});
  enc.Add({"SET", "k3", below});
  auto segs = enc.segments();
  // owned(header..k1 header) big owned(CRLF..k2 header) edge owned(rest incl. below)
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[1].data(), reinterpret_cast<const uint8_t*>(big.data()));
  EXPECT_EQ(segs[1].size(), big.size());
  EXPECT_EQ(segs[3].data(), reinterpret_cast<const uint8_t*>(edge.data()));
  EXPECT_LT(enc.owned_bytes(), 4095u + 200u);  // headers + the small argument only
  size_t total = 0;
  for (ByteView s : segs) total += s.size();
  EXPECT_EQ(total, enc.size());

  // The gathered bytes parse back into the same three commands.
  Bytes flat = enc.ToBytes();
  CommandParser parser;
  ByteView rest = flat;
  std::vector<std::string> values;
  while (!rest.empty()) {
    ParseOutcome r = parser.Feed(rest);
    ASSERT_TRUE(r.complete());
    rest = rest.subspan(r.consumed);
    values.emplace_back(parser.command().arg_view(2));
  }
  EXPECT_EQ(values, (std::vector<std::string>{big, edge, below}));

  // A custom threshold.
  CommandEncoder copy_all(SIZE_MAX);
  copy_all.Add({"SET", "k", big});
  EXPECT_EQ(copy_all.segments().size(), 1u);
  EXPECT_EQ(copy_all.ToBytes(), flat.size() > 0 ? EncodeCommand({"SET", "k", big}) : Bytes());
}

TEST(RespEncoderTest, SegmentsFromByteViews) {
  Bytes v1 = {0, 1, 2};
  std::vector<ByteView> args = {AsBytes("RPUSH"), AsBytes("list"), ByteView(v1)};
  CommandEncoder enc;
  enc.Add(args);
  std::vector<std::string> s_args = {"RPUSH", "list", std::string("\0\1\2", 3)};
  CommandEncoder enc2;
  enc2.Add(s_args);
  EXPECT_EQ(enc.ToBytes(), enc2.ToBytes());
  EXPECT_EQ(enc.ToBytes(), EncodeCommand(args));
  Bytes appended = {'x'};
  AppendCommand(&appended, args);
  EXPECT_EQ(appended.size(), 1 + enc.size());
}

// ---- appending into a caller's buffer ----

TEST(RespAppendTest, ExactBytesOfEachPiece) {
  Bytes out = {'>'};  // whatever the buffer held before stays
  AppendArrayHeader(&out, 0);
  AppendArrayHeader(&out, 12);
  AppendBulkHeader(&out, 7);
  EXPECT_EQ(Str(out), ">*0\r\n*12\r\n$7\r\n");

  out.clear();
  EXPECT_EQ(AppendBulk(&out, std::string_view("RESTORE")), 4u);  // "$7\r\n" comes first
  EXPECT_EQ(AppendBulk(&out, std::string_view("")), 17u);
  EXPECT_EQ(Str(out), "$7\r\nRESTORE\r\n$0\r\n\r\n");

  out.clear();
  AppendBulkInt(&out, 0);
  AppendBulkInt(&out, -12);
  AppendBulkInt(&out, INT64_MIN);
  AppendBulkInt(&out, INT64_MAX);
  EXPECT_EQ(
      Str(out),
      "$1\r\n0\r\n$3\r\n-12\r\n$20\r\n-9223372036854775808\r\n$19\r\n9223372036854775807\r\n");

  out.assign({'a', 'b'});
  uint8_t* place = AppendBulkSpace(&out, 3);
  EXPECT_EQ(place, out.data() + 6);  // after "ab$3\r\n"
  EXPECT_EQ(Str(out), std::string("ab$3\r\n\0\0\0\r\n", 11));
  place[0] = 'x';
  place[1] = 'y';
  place[2] = 'z';
  EXPECT_EQ(Str(out), "ab$3\r\nxyz\r\n");
  out.clear();
  AppendBulkSpace(&out, 0);
  EXPECT_EQ(Str(out), "$0\r\n\r\n");

  for (size_t n :
       {size_t{0}, size_t{9}, size_t{10}, size_t{99}, size_t{100}, size_t{123456789}, SIZE_MAX}) {
    out.clear();
    AppendBulkHeader(&out, n);
    EXPECT_EQ(BulkHeaderSize(n), out.size()) << n;
  }
}

TEST(RespAppendTest, ConstBulkIsTheBulkStringOfItsLiteral) {
  static constexpr ConstBulk kRestore("RESTORE");
  static constexpr ConstBulk kEmpty("");
  static constexpr ConstBulk kTen("0123456789");
  Bytes out = {'>'};
  AppendBulk(&out, kRestore);
  AppendBulk(&out, kEmpty);
  AppendBulk(&out, kTen);
  EXPECT_EQ(Str(out), ">$7\r\nRESTORE\r\n$0\r\n\r\n$10\r\n0123456789\r\n");
  Bytes same = {'>'};
  AppendBulk(&same, std::string_view("RESTORE"));
  AppendBulk(&same, std::string_view(""));
  AppendBulk(&same, std::string_view("0123456789"));
  EXPECT_EQ(out, same);
}

TEST(RespAppendTest, CommandsMatchTheEncoderAndTheirSize) {
  const std::vector<std::vector<std::string>> commands = {
      {"PING"},
      {"SET", "key", "value"},
      {"RPUSH", "list", std::string(10, 'x'), "", std::string("\0\r\n", 3)},
      {"HSET", "h", std::string(5000, 'f'), std::string(100000, 'v')},
  };
  for (const auto& args : commands) {
    CommandEncoder enc;
    enc.Add(args);
    Bytes out = {'z'};
    AppendCommand(&out, args);
    EXPECT_EQ(out.size(), 1 + CommandSize(args)) << args[0];
    EXPECT_EQ(Bytes(out.begin() + 1, out.end()), enc.ToBytes()) << args[0];
    EXPECT_EQ(EncodeCommand(args), enc.ToBytes()) << args[0];
  }
  Bytes out;
  AppendCommand(&out, {"GET", "k"});
  EXPECT_EQ(Str(out), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

// A command composed from the pieces (as the snapshot writes RESTORE: the payload filled in
// place) parses back with CommandParser, argument for argument, and the offset AppendBulk
// returned points at the key.
TEST(RespAppendTest, ComposedCommandRoundTripsThroughTheParser) {
  std::string key = "user:\r\n:1";
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  Bytes out = EncodeCommand({"PING"});  // a command before it in the same buffer
  AppendArrayHeader(&out, 7);
  AppendBulk(&out, std::string_view("RESTORE"));
  size_t key_at = AppendBulk(&out, key);
  AppendBulkInt(&out, 1700000000123);
  uint8_t* place = AppendBulkSpace(&out, payload.size());
  std::memcpy(place, payload.data(), payload.size());
  AppendBulk(&out, std::string_view("ABSTTL"));
  AppendBulk(&out, std::string_view("IDLETIME"));
  AppendBulkInt(&out, 42);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data()) + key_at, key.size()), key);

  for (size_t step : {out.size(), size_t{1}, size_t{4093}}) {
    CommandParser parser;
    std::vector<std::vector<std::string>> parsed;
    for (size_t fed = 0; fed < out.size(); fed += step) {  // fed in pieces of `step` bytes
      ByteView rest = ByteView(out).subspan(fed, std::min(step, out.size() - fed));
      while (!rest.empty()) {
        ParseOutcome r = parser.Feed(rest);
        ASSERT_FALSE(r.malformed()) << r.error.ToString();
        rest = rest.subspan(r.consumed);
        if (!r.complete()) break;
        std::vector<std::string> args;
        for (size_t i = 0; i < parser.command().argc(); ++i) {
          args.emplace_back(parser.command().arg_view(i));
        }
        parsed.push_back(std::move(args));
      }
      ASSERT_TRUE(rest.empty()) << "the parser takes every byte it is given";
    }
    ASSERT_EQ(parsed.size(), 2u) << "step " << step;
    EXPECT_EQ(parsed[0], (std::vector<std::string>{"PING"}));
    EXPECT_EQ(parsed[1], (std::vector<std::string>{"RESTORE", key, "1700000000123", payload,
                                                   "ABSTTL", "IDLETIME", "42"}))
        << "step " << step;
    EXPECT_TRUE(parser.idle());
  }
}

}  // namespace
}  // namespace kf::resp
