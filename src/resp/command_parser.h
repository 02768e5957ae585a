// CommandParser: incremental, IO-free parser of requests (client → server), which is also
// the format of a replication stream (primary → replica).
//
// Accepts multibulk commands (`*N\r\n$len\r\narg\r\n...`) and inline commands (a line of
// space/tab-separated words ended by \n or \r\n, as Redis reads them; quotes are not
// interpreted). A line starting with '*' is a multibulk, anything else is inline.
//
// Contract: the same as ReplyParser (see reply_parser.h): Feed consumes a prefix, stops
// after one complete command, never rescans consumed bytes, bounds every length by Limits
// and grows argument storage only as bytes arrive. After kComplete, command() holds the
// result (valid until the next Feed) and command().wire_size() is the exact byte count
// consumed for it; TakeCommand() moves it out instead. Empty commands — an empty inline
// line (a bare "\n" keepalive), "*0\r\n" or "*-1\r\n" — complete with argc() == 0 and their
// true wire size, so a caller counting offsets stays exact; callers skip them.
//
// Fast path: the parser keeps one Command whose buffers are reused, so a stream of small
// commands costs no allocation per command once warmed up (use command(), not
// TakeCommand(), in the hot loop).
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "resp/command.h"
#include "resp/line_reader.h"
#include "resp/parse_types.h"

namespace kf::resp {

class CommandParser {
 public:
  explicit CommandParser(Limits limits = {}) : limits_(limits) {}

  ParseOutcome Feed(ByteView data);
  const Command& command() const { return cmd_; }
  Command TakeCommand() { return std::move(cmd_); }

  void Reset();
  uint64_t offset() const { return offset_; }
  bool idle() const { return state_ == State::kStart; }
  size_t BufferedCapacity() const { return line_.capacity() + cmd_.data_.capacity(); }

 private:
  enum class State {
    kStart,
    kInline,
    kMultibulkHeader,
    kBulkType,
    kBulkLength,
    kBulkBody,
    kBulkCrlf,
    kFailed
  };

  ParseOutcome Fail(RespErrc code, uint64_t at, std::string what);
  void SplitInline(std::string_view line);

  Limits limits_;
  State state_ = State::kStart;
  LineReader line_;
  Command cmd_;
  uint64_t args_left_ = 0;
  uint64_t bulk_remaining_ = 0;
  int crlf_seen_ = 0;
  uint64_t cmd_start_ = 0;    // stream offset where the current command began
  uint64_t token_start_ = 0;  // stream offset of the current header line
  uint64_t offset_ = 0;
  Error error_;
};

}  // namespace kf::resp
