// Tests of the RESP reply parser and command parser. Every parse case runs three ways —
// the whole buffer at once, one byte per Feed, and random splits with fixed seeds — and
// the three must agree exactly (replies, message boundaries, error code and message).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "resp/command_parser.h"
#include "resp/reply_parser.h"

namespace kf::resp {
namespace {

using namespace std::string_literals;

// What a parser produced over a whole stream, however it was chunked.
template <typename Message>
struct Trace {
  std::vector<Message> messages;
  std::vector<uint64_t> ends;  // stream offset right after each message
  std::optional<std::error_code> error;
  std::string error_message;
  bool partial_at_end = false;  // bytes of an unfinished message were left in the parser

  bool operator==(const Trace&) const = default;
};

template <typename Parser, typename Take>
auto RunChunks(const std::string& input, const std::vector<size_t>& cuts, Limits limits,
               Take take) {
  Parser parser(limits);
  Trace<decltype(take(parser))> trace;
  size_t pos = 0;
  for (size_t ci = 0; ci <= cuts.size(); ++ci) {
    size_t end = ci < cuts.size() ? cuts[ci] : input.size();
    ByteView chunk = AsBytes(std::string_view(input).substr(pos, end - pos));
    pos = end;
    while (!chunk.empty()) {
      ParseOutcome out = parser.Feed(chunk);
      EXPECT_LE(out.consumed, chunk.size());
      chunk = chunk.subspan(out.consumed);
      if (out.complete()) {
        trace.messages.push_back(take(parser));
        trace.ends.push_back(parser.offset());
      } else if (out.malformed()) {
        trace.error = out.error.code;
        trace.error_message = out.error.message;
        // The failure is sticky.
        ParseOutcome again = parser.Feed(AsBytes("+OK\r\n"));
        EXPECT_TRUE(again.malformed());
        return trace;
      } else {
        EXPECT_TRUE(chunk.empty()) << "need-more must consume everything it was given";
        break;
      }
    }
  }
  trace.partial_at_end = !parser.idle();
  return trace;
}

// Runs a parse three ways and checks they agree; returns the whole-buffer trace.
template <typename Parser, typename Take>
auto ParseThreeWays(const std::string& input, Limits limits, Take take) {
  auto whole = RunChunks<Parser>(input, {}, limits, take);
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
  auto bytewise = RunChunks<Parser>(input, every_byte, limits, take);
  EXPECT_EQ(whole, bytewise) << "1-byte chunks disagree with the whole buffer for input "
                             << Printable(input, 200);
  for (uint32_t seed : {1u, 7u, 42u, 1234u}) {
    std::mt19937 rng(seed);
    std::vector<size_t> cuts;
    size_t p = 0;
    while (input.size() > 1) {
      p += 1 + rng() % std::max<size_t>(2, input.size() / 3);
      if (p >= input.size()) break;
      cuts.push_back(p);
    }
    auto split = RunChunks<Parser>(input, cuts, limits, take);
    EXPECT_EQ(whole, split) << "random split (seed " << seed << ") disagrees for input "
                            << Printable(input, 200);
  }
  return whole;
}

Trace<Reply> Replies(const std::string& input, Limits limits = {}) {
  return ParseThreeWays<ReplyParser>(input, limits, [](ReplyParser& p) { return p.TakeReply(); });
}

struct ParsedCommand {
  std::vector<std::string> args;
  size_t wire_size;
  bool is_inline;
  bool operator==(const ParsedCommand&) const = default;
};

Trace<ParsedCommand> Commands(const std::string& input, Limits limits = {}) {
  return ParseThreeWays<CommandParser>(input, limits, [](CommandParser& p) {
    const Command& c = p.command();
    ParsedCommand out{{}, c.wire_size(), c.is_inline()};
    for (size_t i = 0; i < c.argc(); ++i) out.args.emplace_back(c.arg_view(i));
    return out;
  });
}

// One complete reply that consumes the whole input.
Reply One(const std::string& input, Limits limits = {}) {
  auto t = Replies(input, limits);
  EXPECT_FALSE(t.error) << t.error_message;
  EXPECT_EQ(t.messages.size(), 1u) << Printable(input);
  EXPECT_FALSE(t.partial_at_end);
  if (t.messages.size() != 1) return Reply();
  EXPECT_EQ(t.ends[0], input.size());
  return t.messages[0];
}

std::error_code ErrorOf(const std::string& input, Limits limits = {}) {
  auto t = Replies(input, limits);
  EXPECT_TRUE(t.error) << "expected an error for " << Printable(input);
  return t.error.value_or(std::error_code());
}

// ---- scalars ----------------------------------------------------------------------------

TEST(RespReplyParserTest, SimpleStringErrorInteger) {
  Reply ok = One("+OK\r\n");
  EXPECT_EQ(ok.type(), ReplyType::kSimpleString);
  EXPECT_EQ(ok.str(), "OK");
  EXPECT_TRUE(ok.IsOk());

  Reply err = One("-ERR unknown command 'FOO'\r\n");
  EXPECT_EQ(err.type(), ReplyType::kError);
  EXPECT_TRUE(err.is_error());
  EXPECT_EQ(err.str(), "ERR unknown command 'FOO'");

  EXPECT_EQ(One(":0\r\n").integer(), 0);
  EXPECT_EQ(One(":-42\r\n").integer(), -42);
  EXPECT_EQ(One(":9223372036854775807\r\n").integer(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(One(":-9223372036854775808\r\n").integer(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(One("+\r\n").str(), "");
}

TEST(RespReplyParserTest, BulkStringsAreBinarySafe) {
  Reply r = One("$5\r\nhello\r\n");
  EXPECT_EQ(r.type(), ReplyType::kBulkString);
  EXPECT_EQ(r.str(), "hello");
  EXPECT_EQ(One("$0\r\n\r\n").str(), "");
  EXPECT_EQ(One("$4\r\na\r\nb\r\n").str(), "a\r\nb");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  Reply b = One("$256\r\n" + all + "\r\n");
  EXPECT_EQ(b.str(), all);
  EXPECT_EQ(b.bytes().size(), 256u);
}

TEST(RespReplyParserTest, Nulls) {
  EXPECT_TRUE(One("$-1\r\n").is_null());
  EXPECT_TRUE(One("*-1\r\n").is_null());
  EXPECT_TRUE(One("_\r\n").is_null());
}

TEST(RespReplyParserTest, Resp3Scalars) {
  EXPECT_DOUBLE_EQ(One(",3.14\r\n").dbl(), 3.14);
  EXPECT_DOUBLE_EQ(One(",-1.5e10\r\n").dbl(), -1.5e10);
  EXPECT_DOUBLE_EQ(One(",10\r\n").dbl(), 10.0);
  EXPECT_DOUBLE_EQ(One(",+2.5\r\n").dbl(), 2.5);
  EXPECT_EQ(One(",inf\r\n").dbl(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(One(",-inf\r\n").dbl(), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(One(",nan\r\n").dbl()));
  EXPECT_EQ(One(",1e999\r\n").dbl(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(One(",inf\r\n").type(), ReplyType::kDouble);

  EXPECT_TRUE(One("#t\r\n").boolean());
  EXPECT_FALSE(One("#f\r\n").boolean());
  EXPECT_EQ(One("#t\r\n").type(), ReplyType::kBoolean);

  Reply big = One("(3492890328409238509324850943850943825024385\r\n");
  EXPECT_EQ(big.type(), ReplyType::kBigNumber);
  EXPECT_EQ(big.str(), "3492890328409238509324850943850943825024385");
  EXPECT_EQ(One("(-12\r\n").str(), "-12");

  Reply verbatim = One("=15\r\ntxt:Some string\r\n");
  EXPECT_EQ(verbatim.type(), ReplyType::kVerbatim);
  EXPECT_EQ(verbatim.format(), "txt");
  EXPECT_EQ(verbatim.str(), "Some string");

  Reply blob = One("!21\r\nSYNTAX invalid syntax\r\n");
  EXPECT_EQ(blob.type(), ReplyType::kBlobError);
  EXPECT_TRUE(blob.is_error());
  EXPECT_EQ(blob.str(), "SYNTAX invalid syntax");
}

// ---- aggregates -------------------------------------------------------------------------

TEST(RespReplyParserTest, ArraysAndNesting) {
  Reply r = One("*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+a\r\n*0\r\n");
  ASSERT_EQ(r.type(), ReplyType::kArray);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].integer(), 1);
  EXPECT_EQ(r[1].str(), "foo");
  ASSERT_EQ(r[2].size(), 2u);
  EXPECT_EQ(r[2][0].str(), "a");
  EXPECT_EQ(r[2][1].type(), ReplyType::kArray);
  EXPECT_EQ(r[2][1].size(), 0u);

  Reply empty = One("*0\r\n");
  EXPECT_EQ(empty.type(), ReplyType::kArray);
  EXPECT_EQ(empty.size(), 0u);

  Reply with_nulls = One("*3\r\n$-1\r\n*-1\r\n_\r\n");
  ASSERT_EQ(with_nulls.size(), 3u);
  for (const Reply& c : with_nulls.children()) EXPECT_TRUE(c.is_null());

  Reply deep = One("*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n");
  EXPECT_EQ(deep[0][0][0][0].integer(), 7);
}

TEST(RespReplyParserTest, Resp3Aggregates) {
  Reply map = One("%2\r\n+first\r\n:1\r\n+second\r\n*2\r\n#t\r\n,0.5\r\n");
  ASSERT_EQ(map.type(), ReplyType::kMap);
  ASSERT_EQ(map.map_size(), 2u);
  EXPECT_EQ(map.key(0).str(), "first");
  EXPECT_EQ(map.value(0).integer(), 1);
  ASSERT_NE(map.Find("second"), nullptr);
  EXPECT_TRUE((*map.Find("second"))[0].boolean());
  EXPECT_EQ(map.Find("third"), nullptr);

  Reply set = One("~3\r\n+a\r\n+b\r\n+c\r\n");
  EXPECT_EQ(set.type(), ReplyType::kSet);
  EXPECT_EQ(set.size(), 3u);

  Reply push = One(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
  EXPECT_EQ(push.type(), ReplyType::kPush);
  EXPECT_EQ(push[2].str(), "hello");

  EXPECT_EQ(One("%0\r\n").map_size(), 0u);
}

TEST(RespReplyParserTest, AttributesAttachToTheFollowingValue) {
  Reply r =
      One("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n");
  ASSERT_EQ(r.type(), ReplyType::kArray);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r.attributes().size(), 2u);
  EXPECT_EQ(r.attributes()[0].str(), "key-popularity");
  EXPECT_EQ(r.attributes()[1].type(), ReplyType::kMap);
  EXPECT_DOUBLE_EQ(r.attributes()[1].value(0).dbl(), 0.19);

  // Inside an aggregate the attribute does not count as an element.
  Reply inner = One("*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:5\r\n");
  ASSERT_EQ(inner.size(), 2u);
  EXPECT_EQ(inner[0].str(), "v");
  ASSERT_EQ(inner[0].attributes().size(), 2u);
  EXPECT_EQ(inner[0].attributes()[1].integer(), 3600);
  EXPECT_TRUE(inner[1].attributes().empty());

  // An attribute alone is not a message yet.
  auto t = Replies("|1\r\n+a\r\n+b\r\n");
  EXPECT_TRUE(t.messages.empty());
  EXPECT_TRUE(t.partial_at_end);
}

TEST(RespReplyParserTest, PipelinedMessagesInOneBuffer) {
  auto t = Replies("+OK\r\n:5\r\n$3\r\nbar\r\n*2\r\n:1\r\n:2\r\n_\r\n-ERR x\r\n");
  ASSERT_FALSE(t.error);
  ASSERT_EQ(t.messages.size(), 6u);
  EXPECT_EQ(t.ends, (std::vector<uint64_t>{5, 9, 18, 30, 33, 41}));
  EXPECT_EQ(t.messages[2].str(), "bar");
  EXPECT_EQ(t.messages[3].size(), 2u);
  EXPECT_TRUE(t.messages[4].is_null());
  EXPECT_TRUE(t.messages[5].is_error());
  EXPECT_FALSE(t.partial_at_end);
}

// ---- truncation and bad input -----------------------------------------------------------

TEST(RespReplyParserTest, TruncatedInputNeedsMoreAndIsNotAnError) {
  for (std::string s :
       {"+O", "+OK\r", ":12", "$5\r\nhel", "$5\r\nhello", "$5\r\nhello\r", "*2\r\n:1\r\n",
        "%1\r\n+k\r\n", "=15\r\ntxt:Some", "*1\r\n*1\r\n", ",3.", "#", "_\r", "$", "*"}) {
    auto t = Replies(s);
    EXPECT_FALSE(t.error) << Printable(s) << ": " << t.error_message;
    EXPECT_TRUE(t.messages.empty()) << Printable(s);
    EXPECT_TRUE(t.partial_at_end) << Printable(s);
  }
}

TEST(RespReplyParserTest, BadInputIsMalformedWithOffsetAndExpectation) {
  EXPECT_EQ(ErrorOf("?what\r\n"), RespErrc::kBadTypeByte);
  EXPECT_EQ(ErrorOf("+OK\r\n@"), RespErrc::kBadTypeByte);
  EXPECT_EQ(ErrorOf("$-2\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("*-5\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("%-1\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("$99999999999999999999\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("*99999999999999999999\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("$1a\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("$ 3\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("$+3\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf("$\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(ErrorOf(":12x\r\n"), RespErrc::kBadInteger);
  EXPECT_EQ(ErrorOf(":\r\n"), RespErrc::kBadInteger);
  EXPECT_EQ(ErrorOf(":9223372036854775808\r\n"), RespErrc::kBadInteger);
  EXPECT_EQ(ErrorOf(",abc\r\n"), RespErrc::kBadDouble);
  EXPECT_EQ(ErrorOf(",1.5x\r\n"), RespErrc::kBadDouble);
  EXPECT_EQ(ErrorOf(",\r\n"), RespErrc::kBadDouble);
  EXPECT_EQ(ErrorOf("#x\r\n"), RespErrc::kBadBoolean);
  EXPECT_EQ(ErrorOf("#true\r\n"), RespErrc::kBadBoolean);
  EXPECT_EQ(ErrorOf("_x\r\n"), RespErrc::kBadNull);
  EXPECT_EQ(ErrorOf("(12a\r\n"), RespErrc::kBadBigNumber);
  EXPECT_EQ(ErrorOf("=3\r\ntxt\r\n"), RespErrc::kBadVerbatim);
  EXPECT_EQ(ErrorOf("=5\r\ntxt-x\r\n"), RespErrc::kBadVerbatim);
  // Missing CRLF: a bare \n, a \r followed by another byte, a bulk not followed by \r\n.
  EXPECT_EQ(ErrorOf("+OK\rX\r\n"), RespErrc::kMissingCrlf);
  EXPECT_EQ(ErrorOf("$3\r\nfooX\r\n"), RespErrc::kMissingCrlf);
  EXPECT_EQ(ErrorOf("$3\r\nfoo\rX"), RespErrc::kMissingCrlf);
  EXPECT_EQ(ErrorOf(":1\n:2\r\n"), RespErrc::kBadInteger);  // "1\n:2" is not a number
  EXPECT_EQ(ErrorOf("$?\r\n"), RespErrc::kUnsupported);
  EXPECT_EQ(ErrorOf(";4\r\n"), RespErrc::kUnsupported);

  auto t = Replies("+OK\r\n$3\r\nfooX");
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.messages.size(), 1u);  // the good message before the bad one was delivered
  EXPECT_NE(t.error_message.find("offset 12"), std::string::npos) << t.error_message;
  EXPECT_NE(t.error_message.find("expected \\r"), std::string::npos) << t.error_message;

  auto bad_type = Replies("*2\r\n:1\r\nX");
  EXPECT_NE(bad_type.error_message.find("offset 8"), std::string::npos) << bad_type.error_message;
  EXPECT_NE(bad_type.error_message.find("0x58 'X'"), std::string::npos) << bad_type.error_message;
}

TEST(RespReplyParserTest, LimitsAreEnforced) {
  Limits small;
  small.max_bulk_len = 10;
  small.max_aggregate_len = 3;
  small.max_depth = 4;
  small.max_inline_len = 8;
  EXPECT_EQ(One("$10\r\n0123456789\r\n", small).str(), "0123456789");
  EXPECT_EQ(ErrorOf("$11\r\n", small), RespErrc::kBulkTooLong);
  EXPECT_EQ(ErrorOf("!11\r\n", small), RespErrc::kBulkTooLong);
  EXPECT_EQ(One("*3\r\n:1\r\n:2\r\n:3\r\n", small).size(), 3u);
  EXPECT_EQ(ErrorOf("*4\r\n", small), RespErrc::kAggregateTooLong);
  EXPECT_EQ(ErrorOf("%4\r\n", small), RespErrc::kAggregateTooLong);
  EXPECT_EQ(One("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", small)[0][0][0][0].integer(), 1);
  EXPECT_EQ(ErrorOf("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", small), RespErrc::kTooDeep);
  EXPECT_EQ(One("+12345678\r\n", small).str(), "12345678");
  EXPECT_EQ(ErrorOf("+123456789\r\n", small), RespErrc::kLineTooLong);
  EXPECT_EQ(ErrorOf("+123456789", small), RespErrc::kLineTooLong);  // no CRLF yet, still over
  EXPECT_EQ(ErrorOf(":" + std::string(200, '1') + "\r\n"), RespErrc::kLineTooLong);

  // Default limits: 512 MiB bulk, depth 64.
  EXPECT_EQ(ErrorOf("$536870913\r\n"), RespErrc::kBulkTooLong);
  EXPECT_EQ(ErrorOf("*4294967296\r\n"), RespErrc::kAggregateTooLong);
}

TEST(RespReplyParserTest, DepthBombIsRefused) {
  std::string bomb;
  for (int i = 0; i < 10000; ++i) bomb += "*1\r\n";
  auto t = Replies(bomb);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(*t.error, RespErrc::kTooDeep);
  EXPECT_NE(t.error_message.find("offset 256"), std::string::npos) << t.error_message;  // 65th
  std::string ok_depth;
  for (int i = 0; i < 64; ++i) ok_depth += "*1\r\n";
  EXPECT_EQ(One(ok_depth + ":1\r\n").size(), 1u);
}

TEST(RespReplyParserTest, ClaimedHugeBulkIsNotAllocatedUpFront) {
  ReplyParser parser;
  std::string input = "$500000000\r\n0123456789";
  ParseOutcome out = parser.Feed(AsBytes(input));
  EXPECT_TRUE(out.need_more());
  EXPECT_EQ(out.consumed, input.size());
  EXPECT_LT(parser.BufferedCapacity(), 4096u);
  // More bytes grow the buffer only by what arrived.
  std::string more(100000, 'x');
  out = parser.Feed(AsBytes(more));
  EXPECT_TRUE(out.need_more());
  EXPECT_LT(parser.BufferedCapacity(), 4 * more.size());

  ReplyParser agg;
  out = agg.Feed(AsBytes("*4000000000\r\n:1\r\n"));
  EXPECT_TRUE(out.need_more());
  EXPECT_FALSE(agg.idle());
}

TEST(RespReplyParserTest, ResetRecoversFromAnError) {
  ReplyParser parser;
  EXPECT_TRUE(parser.Feed(AsBytes("@@")).malformed());
  parser.Reset();
  ParseOutcome out = parser.Feed(AsBytes("+OK\r\n"));
  ASSERT_TRUE(out.complete());
  EXPECT_TRUE(parser.TakeReply().IsOk());
}

TEST(RespReplyParserTest, ToStringRendersForMessages) {
  EXPECT_EQ(One("+OK\r\n").ToString(), "OK");
  EXPECT_EQ(One("-ERR bad\r\n").ToString(), "(error) ERR bad");
  EXPECT_EQ(One(":3\r\n").ToString(), "(integer) 3");
  EXPECT_EQ(One("$3\r\na\x00z\r\n"s).ToString(), "\"a\\x00z\"");
  EXPECT_EQ(One("*2\r\n:1\r\n_\r\n").ToString(), "[(integer) 1, (nil)]");
  EXPECT_EQ(One("%1\r\n+k\r\n#t\r\n").ToString(), "{k: (true)}");
  std::string long_array = "*1000\r\n";
  for (int i = 0; i < 1000; ++i) long_array += ":1234567\r\n";
  EXPECT_LE(One(long_array).ToString(100).size(), 103u);
}

// ---- no quadratic behaviour -------------------------------------------------------------

TEST(RespReplyParserTest, MillionElementArrayInOneByteChunksIsLinear) {
  constexpr int kN = 1000000;
  std::string input = "*" + std::to_string(kN) + "\r\n";
  input.reserve(input.size() + kN * 4);
  for (int i = 0; i < kN; ++i) input += ":7\r\n";
  auto start = std::chrono::steady_clock::now();
  ReplyParser parser;
  size_t completes = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    ParseOutcome out = parser.Feed(AsBytes(std::string_view(input).substr(i, 1)));
    ASSERT_FALSE(out.malformed()) << out.error.message;
    ASSERT_EQ(out.consumed, 1u);
    if (out.complete()) ++completes;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(completes, 1u);
  Reply r = parser.TakeReply();
  ASSERT_EQ(r.size(), static_cast<size_t>(kN));
  EXPECT_EQ(r[kN - 1].integer(), 7);
  EXPECT_LT(secs, 20.0) << "parsing looks super-linear";
}

TEST(RespReplyParserTest, HundredMegabyteBulkIn16KChunksIsLinear) {
  constexpr size_t kLen = 100u * 1024 * 1024;
  std::string body(kLen, 'v');
  body[12345] = '\r';
  body[12346] = '\n';
  std::string input = "$" + std::to_string(kLen) + "\r\n" + body + "\r\n";
  auto start = std::chrono::steady_clock::now();
  ReplyParser parser;
  bool done = false;
  for (size_t pos = 0; pos < input.size(); pos += 16384) {
    ParseOutcome out = parser.Feed(AsBytes(std::string_view(input).substr(pos, 16384)));
    ASSERT_FALSE(out.malformed()) << out.error.message;
    if (out.complete()) done = true;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(done);
  EXPECT_TRUE(parser.TakeReply().str() == body);
  EXPECT_LT(secs, 20.0);
}

// ---- commands ---------------------------------------------------------------------------

TEST(RespCommandParserTest, MultibulkCommandsCarryArgsAndWireSize) {
  std::string set = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
  auto t = Commands(set);
  ASSERT_FALSE(t.error) << t.error_message;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].args, (std::vector<std::string>{"SET", "key", "value"}));
  EXPECT_EQ(t.messages[0].wire_size, set.size());
  EXPECT_FALSE(t.messages[0].is_inline);

  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string bin = "*2\r\n$3\r\nSET\r\n$256\r\n" + all + "\r\n";
  auto b = Commands(bin);
  ASSERT_EQ(b.messages.size(), 1u);
  EXPECT_EQ(b.messages[0].args[1], all);

  auto empty_arg = Commands("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
  ASSERT_EQ(empty_arg.messages.size(), 1u);
  EXPECT_EQ(empty_arg.messages[0].args, (std::vector<std::string>{"ECHO", ""}));
}

TEST(RespCommandParserTest, InlineCommands) {
  auto t = Commands("PING\r\nSET  a\tb\r\n\n\r\nGET a\n");
  ASSERT_FALSE(t.error) << t.error_message;
  ASSERT_EQ(t.messages.size(), 5u);
  EXPECT_EQ(t.messages[0].args, (std::vector<std::string>{"PING"}));
  EXPECT_EQ(t.messages[0].wire_size, 6u);
  EXPECT_TRUE(t.messages[0].is_inline);
  EXPECT_EQ(t.messages[1].args, (std::vector<std::string>{"SET", "a", "b"}));
  EXPECT_EQ(t.messages[1].wire_size, 10u);
  EXPECT_TRUE(t.messages[2].args.empty());  // bare "\n" keepalive
  EXPECT_EQ(t.messages[2].wire_size, 1u);
  EXPECT_TRUE(t.messages[3].args.empty());
  EXPECT_EQ(t.messages[3].wire_size, 2u);
  EXPECT_EQ(t.messages[4].args, (std::vector<std::string>{"GET", "a"}));
  EXPECT_EQ(t.messages[4].wire_size, 6u);
  EXPECT_EQ(t.ends.back(), 25u);
}

TEST(RespCommandParserTest, PipelinedStreamOffsetsAddUp) {
  std::string stream = "*1\r\n$4\r\nPING\r\n*0\r\n*-1\r\nPING\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
  auto t = Commands(stream);
  ASSERT_FALSE(t.error) << t.error_message;
  ASSERT_EQ(t.messages.size(), 5u);
  size_t total = 0;
  for (size_t i = 0; i < t.messages.size(); ++i) {
    total += t.messages[i].wire_size;
    EXPECT_EQ(t.ends[i], total);
  }
  EXPECT_EQ(total, stream.size());
  EXPECT_TRUE(t.messages[1].args.empty());
  EXPECT_TRUE(t.messages[2].args.empty());
  EXPECT_EQ(t.messages[4].args, (std::vector<std::string>{"SELECT", "0"}));
}

TEST(RespCommandParserTest, TruncatedCommandsNeedMore) {
  for (std::string s : {"*", "*2", "*2\r\n$3\r\nSET\r\n", "*2\r\n$3\r\nSE", "*1\r\n$4\r\nPING\r",
                        "PIN", "PING\r"}) {
    auto t = Commands(s);
    EXPECT_FALSE(t.error) << Printable(s) << ": " << t.error_message;
    EXPECT_TRUE(t.messages.empty()) << Printable(s);
    EXPECT_TRUE(t.partial_at_end) << Printable(s);
  }
}

TEST(RespCommandParserTest, BadCommandsAreMalformed) {
  auto code = [](const std::string& s, Limits limits = {}) {
    auto t = Commands(s, limits);
    EXPECT_TRUE(t.error) << Printable(s);
    return t.error.value_or(std::error_code());
  };
  EXPECT_EQ(code("*1\r\n:1\r\n"), RespErrc::kBadCommand);
  EXPECT_EQ(code("*1\r\n$-1\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(code("*-2\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(code("*x\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(code("*1\r\n$99999999999999999999\r\n"), RespErrc::kBadLength);
  EXPECT_EQ(code("*1\r\n$3\r\nfooXY"), RespErrc::kMissingCrlf);
  EXPECT_EQ(code("*1\r\n$3\rX"), RespErrc::kMissingCrlf);
  EXPECT_EQ(code("*1\r\n$536870913\r\n"), RespErrc::kBulkTooLong);
  Limits small;
  small.max_aggregate_len = 2;
  small.max_inline_len = 10;
  EXPECT_EQ(code("*3\r\n", small), RespErrc::kAggregateTooLong);
  EXPECT_EQ(code("PING 1234567890\r\n", small), RespErrc::kLineTooLong);
  EXPECT_EQ(code(std::string(100, 'a'), small), RespErrc::kLineTooLong);
  auto t = Commands("*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n");
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.messages.size(), 1u);
  EXPECT_NE(t.error_message.find("offset 18"), std::string::npos) << t.error_message;
  EXPECT_NE(t.error_message.find("expected '$'"), std::string::npos) << t.error_message;
}

TEST(RespCommandParserTest, ClaimedHugeArgumentIsNotAllocatedUpFront) {
  CommandParser parser;
  ParseOutcome out = parser.Feed(AsBytes("*2\r\n$3\r\nSET\r\n$500000000\r\nabcdefghij"));
  EXPECT_TRUE(out.need_more());
  EXPECT_LT(parser.BufferedCapacity(), 4096u);
}

TEST(RespCommandParserTest, ManySmallCommandsFast) {
  std::string stream;
  constexpr int kN = 1000000;
  for (int i = 0; i < kN; ++i) {
    std::string key = "key:" + std::to_string(i);
    stream +=
        "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$1\r\nv\r\n";
  }
  CommandParser parser;
  auto start = std::chrono::steady_clock::now();
  ByteView rest = AsBytes(stream);
  size_t commands = 0, bytes = 0;
  while (!rest.empty()) {
    ParseOutcome out = parser.Feed(rest);
    ASSERT_TRUE(out.complete());
    rest = rest.subspan(out.consumed);
    bytes += parser.command().wire_size();
    ++commands;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(commands, static_cast<size_t>(kN));
  EXPECT_EQ(bytes, stream.size());
  EXPECT_EQ(parser.command().arg_view(1), "key:999999");
  std::printf("parsed %d commands in %.3f s (%.1f M commands/s)\n", kN, secs, kN / secs / 1e6);
  EXPECT_LT(secs, 10.0);
}

}  // namespace
}  // namespace kf::resp
