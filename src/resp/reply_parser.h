// ReplyParser: an incremental, IO-free parser of RESP2 and RESP3 replies (server → client).
//
// Contract (in the manner of hiredis' read.c):
//  - Feed(data) consumes a prefix of `data` and returns a ParseOutcome. It stops right after
//    the first complete message (kComplete, `consumed` = its last byte + 1 within `data`),
//    so pipelined replies in one buffer are read by calling Feed again on the rest.
//    kNeedMore means every byte given was taken into the parser's state: a partial line is
//    buffered, a partial bulk string is appended to the reply under construction, and the
//    stack of open aggregates is kept. No consumed byte is ever scanned again, so a
//    1M-element array fed one byte at a time, or a 100 MB bulk fed in 16 KB chunks, costs
//    linear time.
//  - After kComplete, TakeReply() moves the message out; the parser is ready for the next.
//  - kMalformed carries a RespErrc code and a message naming the stream offset (bytes
//    since construction or Reset) and what was expected. The parser then stays failed and
//    returns the same error until Reset(): the stream position is lost, reconnect.
//  - Every claimed length is checked against Limits first and is never allocated up front;
//    strings and element lists grow only as their bytes arrive.
//  - Supported: + - : $ * _ , # ( = ! % ~ > |. RESP2 nulls ($-1, *-1) and RESP3 _ all
//    give ReplyType::kNull. Attributes (|) are parsed and attached to the value that
//    follows (Reply::attributes()). RESP3 streamed strings/aggregates ($?, *?, ;, .) are
//    refused with kUnsupported (no server sends them to a client that did not ask).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "resp/line_reader.h"
#include "resp/parse_types.h"
#include "resp/reply.h"

namespace kf::resp {

class ReplyParser {
 public:
  explicit ReplyParser(Limits limits = {}) : limits_(limits) {}

  ParseOutcome Feed(ByteView data);
  // The message completed by the last Feed. Call once per kComplete.
  Reply TakeReply() { return std::move(root_); }

  // Forgets any partial message and error; offsets restart at 0.
  void Reset();

  // Bytes consumed since construction or Reset.
  uint64_t offset() const { return offset_; }
  // True when no message is partially parsed (a clean message boundary).
  bool idle() const { return state_ == State::kType && stack_.empty() && pending_attrs_.empty(); }
  // Memory held for the current partial token: the line buffer plus the string being filled.
  // Bounded by the bytes received, never by a claimed length.
  size_t BufferedCapacity() const;
  const Limits& limits() const { return limits_; }

 private:
  enum class State { kType, kLine, kBulkBody, kBulkCrlf, kFailed };

  struct Frame {
    Reply* node;
    uint64_t remaining;            // elements still expected (2 per map/attribute pair)
    std::unique_ptr<Reply> owned;  // set for attributes, which live outside the tree
  };

  ParseOutcome Fail(RespErrc code, uint64_t at, std::string what);
  // Handles a complete header/scalar line. Returns false and sets the failure on error.
  bool OnLine(std::string_view line, bool* message_done);
  Reply* NewNode(ReplyType type);
  // A value just completed: pops finished aggregates. True when the message is complete.
  bool FinishValue();

  Limits limits_;
  State state_ = State::kType;
  LineReader line_;
  uint8_t type_byte_ = 0;     // the type of the line being read
  uint64_t token_start_ = 0;  // stream offset of that type byte
  std::string* bulk_target_ = nullptr;
  uint64_t bulk_remaining_ = 0;
  int crlf_seen_ = 0;  // kBulkCrlf: bytes of the trailing \r\n seen
  ReplyType bulk_type_ = ReplyType::kBulkString;
  Reply root_;
  std::vector<Frame> stack_;
  std::vector<Reply> pending_attrs_;
  uint64_t offset_ = 0;
  Error error_;
};

}  // namespace kf::resp
