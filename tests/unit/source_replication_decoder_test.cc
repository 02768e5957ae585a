// ReplicationDecoder on replication byte streams built like a primary sends them: a framed
// RDB (sized or diskless) made with the RDB test builder, then commands encoded by resp/.
// Every stream is decoded whole, 1 byte at a time and in random splits; each way must give
// the same events, the same RDB bytes and the same offsets.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rdb_test_util.h"
#include "resp/encoder.h"
#include "source/replication_decoder.h"

namespace kf::source {
namespace {

using rdb::testing::MakeRdb;
using rdb::testing::Str;

// Whole, 1-byte pieces, and random splits (pieces of 1 to max_piece bytes, fixed seeds).
std::vector<std::vector<std::string>> Splits(const std::string& input, size_t max_piece = 40) {
  std::vector<std::vector<std::string>> out;
  out.push_back({input});
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  out.push_back(bytes);
  for (unsigned seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    std::vector<std::string> pieces;
    size_t pos = 0;
    while (pos < input.size()) {
      size_t len = 1 + rng() % max_piece;
      pieces.push_back(input.substr(pos, len));
      pos += len;
    }
    out.push_back(pieces);
  }
  return out;
}

std::string Encode(std::initializer_list<std::string_view> args) {
  return ToString(ByteView(resp::EncodeCommand(args)));
}

// A small RDB as a primary would send it: two keys in db 0, one in db 2, with its CRC64.
std::string SmallRdb() {
  std::string body = "\xfa" + Str("redis-ver") + Str("7.0.15");
  body += std::string("\xfe\x00", 2);
  body += std::string("\x00", 1) + Str("counter") + Str("41");
  body += std::string("\x00", 1) + Str("greeting") + Str("hello\r\n$world");
  body += "\xfe\x02";
  body += std::string("\x00", 1) + Str("k2") + Str(std::string(300, 'x'));
  return MakeRdb(body);
}

const std::string kMark = "0123456789abcdef0123456789abcdef01234567";  // 40 bytes

// Records every event as a line; RDB bytes are gathered (their split varies by design).
class Recorder : public ReplicationEvents {
 public:
  std::vector<std::string> events;
  std::string rdb;
  bool ended = false;

  Result<void> OnSnapshotStart(std::optional<uint64_t> size) override {
    events.push_back(size ? "start " + std::to_string(*size) : "start diskless");
    return {};
  }
  Result<void> OnSnapshotBytes(ByteView bytes) override {
    EXPECT_FALSE(bytes.empty()) << "an empty payload event";
    rdb.append(AsStringView(bytes));
    return {};
  }
  Result<void> OnSnapshotEnd(uint64_t payload_bytes) override {
    events.push_back("end " + std::to_string(payload_bytes));
    ended = true;
    return {};
  }
  Result<void> OnCommand(const resp::Command& cmd, int64_t end) override {
    events.push_back("cmd " + cmd.ToString() + " @" + std::to_string(end));
    return {};
  }
  Result<void> OnAckRequest(int64_t end) override {
    events.push_back("getack @" + std::to_string(end));
    return {};
  }
};

struct Decoded {
  std::vector<std::string> events;
  std::string rdb;
  std::optional<Error> error;
  size_t consumed = 0;
  // Total bytes consumed when the snapshot ended (Feed must stop exactly there).
  std::optional<size_t> consumed_at_end;
  int64_t offset = -1;
};

// Feeds the pieces like the replica session does: whatever a Feed leaves (the stream after
// the snapshot's end) is fed again.
Decoded Decode(const std::vector<std::string>& pieces, std::optional<int64_t> snapshot_offset,
               int64_t stream_offset = -1) {
  ReplicationDecoder decoder;
  if (snapshot_offset) {
    decoder.StartSnapshot(*snapshot_offset);
  } else {
    decoder.StartStream(stream_offset);
  }
  Recorder recorder;
  Decoded out;
  for (const auto& piece : pieces) {
    ByteView rest = AsBytes(piece);
    while (!rest.empty()) {
      auto n = decoder.Feed(rest, recorder);
      if (!n) {
        out.error = n.error();
        out.events = recorder.events;
        out.rdb = recorder.rdb;
        return out;
      }
      out.consumed += *n;
      if (recorder.ended && !out.consumed_at_end) out.consumed_at_end = out.consumed;
      if (*n < rest.size() && !(recorder.ended && out.consumed_at_end == out.consumed)) {
        ADD_FAILURE() << "Feed left bytes without ending the snapshot";
        return out;
      }
      if (*n == 0) {
        ADD_FAILURE() << "Feed made no progress";
        return out;
      }
      rest = rest.subspan(*n);
    }
  }
  out.events = recorder.events;
  out.rdb = recorder.rdb;
  out.offset = decoder.offset();
  return out;
}

TEST(ReplicationDecoderTest, SizedSnapshotThenStreamInTheSameBytes) {
  const std::string rdb = SmallRdb();
  const std::string framed = "\n\n$" + std::to_string(rdb.size()) + "\r\n" + rdb;
  const std::string select = Encode({"SELECT", "0"});
  const std::string set = Encode({"SET", "k", "v\r\nwith crlf"});
  const std::string ping = Encode({"PING"});
  const std::string incr = Encode({"INCR", "counter"});
  const std::string stream = select + set + ping + incr;
  const int64_t start = 5000;
  const std::vector<std::string> want = {
      "start " + std::to_string(rdb.size()),
      "end " + std::to_string(rdb.size()),
      "cmd SELECT 0 @" + std::to_string(start + select.size()),
      "cmd " + resp::Command::FromArgs({"SET", "k", "v\r\nwith crlf"}).ToString() + " @" +
          std::to_string(start + select.size() + set.size()),
      "cmd PING @" + std::to_string(start + select.size() + set.size() + ping.size()),
      "cmd INCR counter @" + std::to_string(start + stream.size()),
  };
  for (const auto& pieces : Splits(framed + stream)) {
    auto got = Decode(pieces, start);
    ASSERT_FALSE(got.error) << got.error->ToString();
    EXPECT_EQ(got.events, want) << pieces.size() << " pieces";
    EXPECT_EQ(got.rdb, rdb) << pieces.size() << " pieces";
    EXPECT_EQ(got.consumed_at_end, framed.size()) << "Feed must stop right after the snapshot";
    EXPECT_EQ(got.consumed, framed.size() + stream.size());
    EXPECT_EQ(got.offset, start + static_cast<int64_t>(stream.size()));
  }
}

TEST(ReplicationDecoderTest, StreamStartingInTheReadThatEndsTheSnapshot) {
  // One read holds the snapshot's last bytes and the first commands: the first Feed stops at
  // the snapshot's end, the second hands on the commands.
  const std::string rdb = SmallRdb();
  const std::string head = "$" + std::to_string(rdb.size()) + "\r\n" + rdb.substr(0, 10);
  const std::string tail = rdb.substr(10) + Encode({"DEL", "a"}) + Encode({"DEL", "b"});
  ReplicationDecoder decoder;
  decoder.StartSnapshot(100);
  Recorder recorder;
  auto first = decoder.Feed(AsBytes(head), recorder);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, head.size());
  EXPECT_TRUE(decoder.in_snapshot());
  auto second = decoder.Feed(AsBytes(tail), recorder);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, rdb.size() - 10) << "stops right after the RDB's last byte";
  EXPECT_TRUE(recorder.ended);
  EXPECT_EQ(recorder.events.size(), 2u) << "no command before the caller feeds again";
  EXPECT_EQ(decoder.phase(), ReplicationDecoder::Phase::kStream);
  auto third = decoder.Feed(AsBytes(tail).subspan(*second), recorder);
  ASSERT_TRUE(third);
  EXPECT_EQ(*second + *third, tail.size());
  ASSERT_EQ(recorder.events.size(), 4u);
  EXPECT_EQ(recorder.events[2], "cmd DEL a @" + std::to_string(100 + Encode({"DEL", "a"}).size()));
  EXPECT_EQ(recorder.rdb, rdb);
}

TEST(ReplicationDecoderTest, DisklessSnapshotWithMarkLookalikes) {
  // The payload holds the mark's first 39 bytes and the mark with one byte changed: only the
  // real mark at the end of what arrived ends it. A diskless primary sends nothing after the
  // mark until the replica ACKs, so the stream is fed after the snapshot, in its own pieces.
  std::string rdb = SmallRdb();
  std::string almost = kMark;
  almost[39] = 'X';
  std::string payload =
      rdb.substr(0, 20) + kMark.substr(0, 39) + rdb.substr(20, 30) + almost + rdb.substr(50);
  const std::string framed = "\n$EOF:" + kMark + "\r\n" + payload + kMark;
  const std::string stream = Encode({"PING"}) + Encode({"SET", "x", "1"});
  const std::vector<std::string> want_snapshot = {"start diskless",
                                                  "end " + std::to_string(payload.size())};
  for (const auto& snap_pieces : Splits(framed, 50)) {
    for (const auto& stream_pieces : Splits(stream, 7)) {
      auto pieces = snap_pieces;
      pieces.insert(pieces.end(), stream_pieces.begin(), stream_pieces.end());
      auto got = Decode(pieces, 77);
      ASSERT_FALSE(got.error) << got.error->ToString();
      ASSERT_EQ(got.events.size(), 4u);
      EXPECT_EQ(std::vector<std::string>(got.events.begin(), got.events.begin() + 2),
                want_snapshot);
      EXPECT_EQ(got.events[2], "cmd PING @" + std::to_string(77 + 14));
      EXPECT_EQ(got.events[3], "cmd SET x 1 @" + std::to_string(77 + stream.size()));
      EXPECT_EQ(got.rdb, payload) << "the EOF mark is never part of the payload";
      EXPECT_EQ(got.consumed_at_end, framed.size());
    }
  }
}

TEST(ReplicationDecoderTest, GetackIsAnAckRequestAndCountsInTheOffset) {
  // After CONTINUE at offset 1001 (last applied 1000): GETACK mid-stream, between writes and
  // inside a transaction. It is not handed on as a command, but its bytes move the offset.
  const std::string set = Encode({"SET", "a", "1"});
  const std::string getack = Encode({"REPLCONF", "GETACK", "*"});
  const std::string multi = Encode({"MULTI"});
  const std::string incr = Encode({"INCR", "a"});
  const std::string exec = Encode({"EXEC"});
  const std::string stream = set + getack + multi + incr + getack + exec + "\n";
  int64_t at = 1000;
  std::vector<std::string> want;
  auto next = [&](const std::string& bytes, const std::string& line) {
    at += static_cast<int64_t>(bytes.size());
    want.push_back(line + " @" + std::to_string(at));
  };
  next(set, "cmd SET a 1");
  next(getack, "getack");
  next(multi, "cmd MULTI");
  next(incr, "cmd INCR a");
  next(getack, "getack");
  next(exec, "cmd EXEC");
  next("\n", "cmd ");  // an empty line completes as an empty command: its byte counts
  for (const auto& pieces : Splits(stream)) {
    auto got = Decode(pieces, std::nullopt, 1000);
    ASSERT_FALSE(got.error) << got.error->ToString();
    EXPECT_EQ(got.events, want) << pieces.size() << " pieces";
    EXPECT_EQ(got.offset, 1000 + static_cast<int64_t>(stream.size()));
  }
}

TEST(ReplicationDecoderTest, OtherReplconfAndInlineCommandsAreCommands) {
  const std::string stream = Encode({"REPLCONF", "ACK", "5"}) + "PING\r\n";
  auto got = Decode({stream}, std::nullopt, 0);
  ASSERT_FALSE(got.error);
  ASSERT_EQ(got.events.size(), 2u);
  EXPECT_TRUE(got.events[0].starts_with("cmd REPLCONF ACK 5 @"));
  EXPECT_EQ(got.events[1], "cmd PING @" + std::to_string(stream.size()));
}

TEST(ReplicationDecoderTest, WholeSizedSnapshotInOneFeedStillAnnouncesItsSize) {
  const std::string rdb = SmallRdb();
  auto got = Decode({"$" + std::to_string(rdb.size()) + "\r\n" + rdb}, 0);
  ASSERT_FALSE(got.error);
  EXPECT_EQ(got.events, (std::vector<std::string>{"start " + std::to_string(rdb.size()),
                                                  "end " + std::to_string(rdb.size())}));
}

TEST(ReplicationDecoderTest, TruncatedInputNeedsMoreAndIsNoError) {
  const std::string rdb = SmallRdb();
  const std::string framed = "$" + std::to_string(rdb.size()) + "\r\n" + rdb;
  // Cut inside the header, inside the RDB, and inside a stream command.
  for (size_t cut : {size_t{2}, framed.size() - 1}) {
    for (const auto& pieces : Splits(framed.substr(0, cut))) {
      auto got = Decode(pieces, 0);
      ASSERT_FALSE(got.error) << "cut at " << cut;
      EXPECT_EQ(got.consumed, cut) << "every byte is held, none left over";
      for (const auto& e : got.events) EXPECT_FALSE(e.starts_with("end")) << "cut at " << cut;
    }
  }
  const std::string set = Encode({"SET", "key", "value"});
  for (size_t cut = 1; cut < set.size(); ++cut) {
    auto got = Decode(Splits(set.substr(0, cut))[1], std::nullopt, 10);
    ASSERT_FALSE(got.error) << "cut at " << cut;
    EXPECT_TRUE(got.events.empty()) << "cut at " << cut;
    EXPECT_EQ(got.offset, 10) << "a partial command does not move the offset";
  }
}

TEST(ReplicationDecoderTest, MalformedFramingIsAnErrorNotNeedMore) {
  for (const std::string& bad : {std::string("$12x\r\n"), std::string("+OK\r\n"),
                                 std::string("$EOF:short\r\n"), std::string("$5\n")}) {
    for (const auto& pieces : Splits(bad)) {
      auto got = Decode(pieces, 0);
      ASSERT_TRUE(got.error) << Printable(bad);
      EXPECT_EQ(got.error->code, make_error_code(ReplicationErrc::kMalformedPayload));
    }
  }
}

TEST(ReplicationDecoderTest, MalformedStreamIsAProtocolErrorAndStaysFailed) {
  const std::string good = Encode({"SET", "a", "1"});
  const std::string bad = good + "*2\r\n$3\r\nGET\r\n$x\r\n";
  for (const auto& pieces : Splits(bad)) {
    auto got = Decode(pieces, std::nullopt, 0);
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->code, make_error_code(ReplicationErrc::kProtocol));
    EXPECT_FALSE(got.error->message.empty());
    EXPECT_EQ(got.events,
              (std::vector<std::string>{"cmd SET a 1 @" + std::to_string(good.size())}));
  }
  ReplicationDecoder decoder;
  decoder.StartStream(0);
  Recorder recorder;
  ASSERT_FALSE(decoder.Feed(AsBytes(bad), recorder));
  EXPECT_EQ(decoder.phase(), ReplicationDecoder::Phase::kFailed);
  auto again = decoder.Feed(AsBytes(good), recorder);
  ASSERT_FALSE(again) << "a failed decoder does not resume mid-stream";
  EXPECT_EQ(again.error().code, make_error_code(ReplicationErrc::kProtocol));
  decoder.StartStream(0);  // a new link starts it again
  EXPECT_TRUE(decoder.Feed(AsBytes(good), recorder));
}

TEST(ReplicationDecoderTest, HandlerErrorsStopTheDecoderUnchanged) {
  // A consumer that only reads snapshots (the defaults refuse stream events), and one whose
  // RDB reader fails: both errors come back as the handler made them.
  class RdbRefuser : public Recorder {
   public:
    Result<void> OnSnapshotBytes(ByteView) override {
      return MakeError(ReplicationErrc::kMalformedReply, "the RDB reader refused it");
    }
  };
  const std::string rdb = SmallRdb();
  for (const auto& pieces : Splits("$" + std::to_string(rdb.size()) + "\r\n" + rdb)) {
    ReplicationDecoder decoder;
    decoder.StartSnapshot(0);
    RdbRefuser refuser;
    std::optional<Error> error;
    for (const auto& piece : pieces) {
      auto n = decoder.Feed(AsBytes(piece), refuser);
      if (!n) {
        error = n.error();
        break;
      }
    }
    ASSERT_TRUE(error);
    EXPECT_EQ(error->message, "the RDB reader refused it");
    EXPECT_EQ(decoder.phase(), ReplicationDecoder::Phase::kFailed);
  }
  class SnapshotOnly : public ReplicationEvents {
   public:
    Result<void> OnSnapshotStart(std::optional<uint64_t>) override { return {}; }
    Result<void> OnSnapshotBytes(ByteView) override { return {}; }
    Result<void> OnSnapshotEnd(uint64_t) override { return {}; }
  };
  ReplicationDecoder decoder;
  decoder.StartStream(0);
  SnapshotOnly only;
  auto refused = decoder.Feed(AsBytes(Encode({"SET", "a", "1"})), only);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(ReplicationErrc::kProtocol));
}

TEST(ReplicationDecoderTest, NotStartedRefusesBytes) {
  ReplicationDecoder decoder;
  Recorder recorder;
  auto n = decoder.Feed(AsBytes(Encode({"PING"})), recorder);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, make_error_code(ReplicationErrc::kProtocol));
  EXPECT_TRUE(recorder.events.empty());
}

}  // namespace
}  // namespace kf::source
