// PSYNC reply and snapshot framing parsers, each case fed whole, in 1-byte chunks and in
// random splits, which must all give the same result.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "source/psync_protocol.h"

namespace kf::source {
namespace {

// Splits `input` three ways: whole, 1-byte chunks, and random splits with a fixed seed.
std::vector<std::vector<std::string>> Splits(const std::string& input) {
  std::vector<std::vector<std::string>> out;
  out.push_back({input});
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  out.push_back(bytes);
  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> pieces;
    size_t pos = 0;
    while (pos < input.size()) {
      size_t len = 1 + rng() % 17;
      pieces.push_back(input.substr(pos, len));
      pos += len;
    }
    out.push_back(pieces);
  }
  return out;
}

struct ReplyOutcome {
  bool ok = false;
  bool complete = false;
  size_t consumed = 0;
  PsyncReply reply;
  std::error_code error;
};

ReplyOutcome ParseReply(const std::vector<std::string>& pieces) {
  PsyncReplyParser parser;
  ReplyOutcome outcome;
  for (const auto& piece : pieces) {
    auto step = parser.Parse(AsBytes(piece));
    if (!step) {
      outcome.error = step.error().code;
      return outcome;
    }
    outcome.consumed += step->consumed;
    if (step->complete) {
      outcome.ok = outcome.complete = true;
      outcome.reply = parser.reply();
      return outcome;
    }
  }
  outcome.ok = true;
  return outcome;
}

TEST(PsyncReplyParserTest, FullResyncAfterKeepalives) {
  const std::string input =
      "\n\n\n+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 1234\r\nREST";
  for (const auto& pieces : Splits(input)) {
    auto outcome = ParseReply(pieces);
    ASSERT_TRUE(outcome.complete);
    EXPECT_EQ(outcome.reply.kind, PsyncReply::Kind::kFullResync);
    EXPECT_EQ(outcome.reply.replid, "8de1787ba490483314a4d30f1c628bc5025eb761");
    EXPECT_EQ(outcome.reply.offset, 1234);
    EXPECT_EQ(outcome.consumed, input.size() - 4) << "must stop right after the CRLF";
  }
}

TEST(PsyncReplyParserTest, ContinueWithAndWithoutId) {
  for (const auto& pieces : Splits("+CONTINUE\r\n")) {
    auto outcome = ParseReply(pieces);
    ASSERT_TRUE(outcome.complete);
    EXPECT_EQ(outcome.reply.kind, PsyncReply::Kind::kContinue);
    EXPECT_EQ(outcome.reply.replid, "");
  }
  for (const auto& pieces : Splits("+CONTINUE abc123\r\n")) {
    auto outcome = ParseReply(pieces);
    ASSERT_TRUE(outcome.complete);
    EXPECT_EQ(outcome.reply.replid, "abc123");
  }
}

TEST(PsyncReplyParserTest, TruncatedNeedsMore) {
  for (const auto& pieces : Splits("\n+FULLRESYNC abc 12")) {
    auto outcome = ParseReply(pieces);
    EXPECT_TRUE(outcome.ok);
    EXPECT_FALSE(outcome.complete);
  }
}

TEST(PsyncReplyParserTest, ErrorsAreClassified) {
  struct Case {
    std::string input;
    ReplicationErrc errc;
  } cases[] = {
      {"-LOADING Redis is loading the dataset in memory\r\n", ReplicationErrc::kRetryLater},
      {"-NOMASTERLINK Can't SYNC while not connected with my master\r\n",
       ReplicationErrc::kRetryLater},
      {"-NOPERM this user has no permissions to run the 'psync' command\r\n",
       ReplicationErrc::kPrimaryError},
      {"+FULLRESYNC abc notanumber\r\n", ReplicationErrc::kMalformedReply},
      {"+FULLRESYNC abc -5\r\n", ReplicationErrc::kMalformedReply},
      {"+FULLRESYNC\r\n", ReplicationErrc::kMalformedReply},
      {"+OK\r\n", ReplicationErrc::kMalformedReply},
      {"+FULLRESYNC abc 1\n", ReplicationErrc::kMalformedReply},
      {"HTTP/1.1 200 OK\r\n", ReplicationErrc::kMalformedReply},
      {std::string(5000, 'x'), ReplicationErrc::kMalformedReply},
  };
  for (const auto& c : cases) {
    for (const auto& pieces : Splits(c.input)) {
      auto outcome = ParseReply(pieces);
      EXPECT_FALSE(outcome.ok) << c.input;
      EXPECT_EQ(outcome.error, make_error_code(c.errc)) << c.input;
    }
  }
}

struct FrameOutcome {
  bool complete = false;
  bool ok = true;
  std::string payload;
  size_t consumed = 0;
};

FrameOutcome Frame(const std::vector<std::string>& pieces) {
  SnapshotFramer framer;
  FrameOutcome outcome;
  for (const auto& piece : pieces) {
    ByteView data = AsBytes(piece);
    while (!outcome.complete) {
      auto step = framer.Parse(data, [&](ByteView b) { outcome.payload += AsStringView(b); });
      if (!step) {
        outcome.ok = false;
        return outcome;
      }
      outcome.consumed += step->consumed;
      data = data.subspan(step->consumed);
      if (step->complete) outcome.complete = true;
      if (data.empty() || step->consumed == 0) break;
    }
    if (outcome.complete) break;
  }
  return outcome;
}

TEST(SnapshotFramerTest, SizedPayloadThenStream) {
  const std::string rdb = "REDIS0010\xfa\x00payload\r\n\xff";
  const std::string input = "\n\n$" + std::to_string(rdb.size()) + "\r\n" + rdb;
  for (const auto& pieces : Splits(input + "*1\r\n$4\r\nPING\r\n")) {
    auto outcome = Frame(pieces);
    ASSERT_TRUE(outcome.ok);
    ASSERT_TRUE(outcome.complete);
    EXPECT_EQ(outcome.payload, rdb);
    EXPECT_EQ(outcome.consumed, input.size());
  }
}

TEST(SnapshotFramerTest, DisklessPayloadEndsAtMark) {
  const std::string mark(40, 'm');
  std::string rdb = "REDIS0011";
  for (int i = 0; i < 300; ++i) rdb += static_cast<char>('a' + i % 26);
  rdb += std::string(39, 'm');  // a near-miss of the mark inside the payload
  rdb += "x";
  const std::string input = "\n$EOF:" + mark + "\r\n" + rdb + mark;
  for (const auto& pieces : Splits(input)) {
    auto outcome = Frame(pieces);
    ASSERT_TRUE(outcome.ok);
    ASSERT_TRUE(outcome.complete);
    EXPECT_EQ(outcome.payload, rdb);
    EXPECT_EQ(outcome.consumed, input.size());
  }
}

TEST(SnapshotFramerTest, BadHeaders) {
  for (const std::string input : {"+OK\r\n", "$EOF:short\r\n", "$-3\r\n", "$12a\r\n"}) {
    for (const auto& pieces : Splits(input)) {
      EXPECT_FALSE(Frame(pieces).ok) << input;
    }
  }
  // A truncated payload is not an error at this level; it is simply incomplete.
  for (const auto& pieces : Splits("$100\r\nabc")) {
    auto outcome = Frame(pieces);
    EXPECT_TRUE(outcome.ok);
    EXPECT_FALSE(outcome.complete);
    EXPECT_EQ(outcome.payload, "abc");
  }
}

}  // namespace
}  // namespace kf::source
