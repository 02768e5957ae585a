// Tests of the RESP command encoder: exact bytes, binary safety, scatter/gather segments
// with large arguments referenced (not copied), and a round trip through CommandParser.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace kf::resp
