// The replica side of the PSYNC exchange as pure, IO-free parsers (DESIGN.md §4).
//
// After a replica sends `PSYNC <replid> <offset>` the primary answers with, in order:
//   zero or more bare "\n" keepalives (while it prepares the snapshot),
//   one status line: +FULLRESYNC <replid> <offset> | +CONTINUE [<replid>] | -<error>,
// and, after FULLRESYNC, the snapshot framed as either
//   "$<len>\r\n" + len bytes                        (disk-based transfer), or
//   "$EOF:<40-byte mark>\r\n" + bytes + the mark    (diskless transfer),
// again possibly preceded by "\n" keepalives. After the snapshot (or right after CONTINUE)
// the primary's command stream follows on the same socket.
//
// PsyncReplyParser reads the status line; SnapshotFramer turns the framed snapshot into
// plain RDB bytes and says where it ends. Both accept arbitrary splits of the input and
// distinguish "need more bytes" from "malformed"; neither trusts a length from the wire
// beyond what it is given (lengths are only counted down, never allocated).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::source {

enum class ReplicationErrc {
  kMalformedReply = 1,  // the primary sent something that is not a PSYNC reply
  kPrimaryError,        // the primary answered PSYNC with an error line
  kRetryLater,          // -LOADING / -NOMASTERLINK / -MASTERDOWN: try again after a pause
  kMalformedPayload,    // the snapshot framing is broken
  kLinkLost,            // the connection dropped
  kHandshakeRefused,    // AUTH / REPLCONF / PSYNC refused (permissions, managed service)
  kProtocol,            // unexpected bytes in the command stream
};

const std::error_category& ReplicationCategory();
inline std::error_code make_error_code(ReplicationErrc e) {
  return {static_cast<int>(e), ReplicationCategory()};
}

}  // namespace kf::source

template <>
struct std::is_error_code_enum<kf::source::ReplicationErrc> : std::true_type {};

namespace kf::source {

// A PSYNC answer.
struct PsyncReply {
  enum class Kind { kFullResync, kContinue };
  Kind kind = Kind::kFullResync;
  std::string replid;   // FULLRESYNC: the new replication id; CONTINUE: new id or empty
  int64_t offset = -1;  // FULLRESYNC: the offset the snapshot corresponds to
};

// Outcome of one parse step: consumed bytes (always), and whether the thing is complete.
struct ParseStep {
  size_t consumed = 0;
  bool complete = false;
};

// Longest status line accepted; a real one is under 100 bytes.
inline constexpr size_t kMaxStatusLine = 4096;

class PsyncReplyParser {
 public:
  // Consumes keepalives and, once it is whole, the status line. On complete, reply()
  // holds the answer. Errors: kPrimaryError / kRetryLater (with the primary's text),
  // kMalformedReply.
  Result<ParseStep> Parse(ByteView data);
  const PsyncReply& reply() const { return reply_; }

 private:
  std::string line_;
  PsyncReply reply_;
};

class SnapshotFramer {
 public:
  static constexpr size_t kEofMarkLength = 40;

  // One step over `data`. Header bytes and keepalives are consumed silently; payload bytes
  // are handed to `on_payload` (it may be called several times per step, never with bytes
  // of the EOF mark). On complete, `consumed` counts up to and including the end of the
  // payload: what follows in `data` is the command stream.
  template <typename OnPayload>
  Result<ParseStep> Parse(ByteView data, OnPayload&& on_payload);

  // Total payload size when the primary announced it ($<len>), else nullopt (diskless, or
  // the header is not read yet). Stays valid once the payload is complete.
  std::optional<uint64_t> announced_size() const {
    if (mode_ == Mode::kSized || (mode_ == Mode::kDone && mark_.empty())) return announced_;
    return std::nullopt;
  }
  uint64_t payload_bytes() const { return delivered_; }
  // True once the header said $EOF:<mark> (and still after the payload is complete).
  bool diskless() const { return !mark_.empty(); }
  // True once the header line has been read.
  bool header_done() const { return mode_ != Mode::kHeader; }

 private:
  enum class Mode { kHeader, kSized, kEofMarked, kDone };
  Result<ParseStep> ParseHeader(ByteView data);

  Mode mode_ = Mode::kHeader;
  std::string header_;
  std::string mark_;
  uint64_t announced_ = 0;
  uint64_t remaining_ = 0;
  uint64_t delivered_ = 0;
  // Diskless mode: the last up-to-40 bytes seen, held back until we know they are not
  // the end mark.
  std::string tail_;
};

template <typename OnPayload>
Result<ParseStep> SnapshotFramer::Parse(ByteView data, OnPayload&& on_payload) {
  ParseStep step;
  if (mode_ == Mode::kHeader) {
    auto header = ParseHeader(data);
    if (!header) return header;
    step.consumed = header->consumed;
    if (!header->complete) return step;
    data = data.subspan(step.consumed);
  }
  if (mode_ == Mode::kSized) {
    size_t take = remaining_ < data.size() ? static_cast<size_t>(remaining_) : data.size();
    if (take > 0) on_payload(data.first(take));
    remaining_ -= take;
    delivered_ += take;
    step.consumed += take;
    if (remaining_ == 0) {
      mode_ = Mode::kDone;
      step.complete = true;
    }
    return step;
  }
  if (mode_ == Mode::kEofMarked) {
    // The mark can only be at the very end of what has arrived: a primary sends nothing
    // after a diskless payload until the replica's first ACK. So the last 40 bytes seen
    // are held back (tail_) until more bytes prove they are payload, and the end of each
    // step is compared with the mark.
    step.consumed += data.size();
    if (data.size() >= kEofMarkLength) {
      ByteView last = data.last(kEofMarkLength);
      ByteView body = data.first(data.size() - kEofMarkLength);
      if (!tail_.empty()) {
        on_payload(AsBytes(tail_));
        delivered_ += tail_.size();
      }
      if (!body.empty()) on_payload(body);
      delivered_ += body.size();
      if (AsStringView(last) == mark_) {
        tail_.clear();
        mode_ = Mode::kDone;
        step.complete = true;
      } else {
        tail_.assign(AsStringView(last));
      }
      return step;
    }
    std::string joined = tail_;
    joined.append(AsStringView(data));
    if (joined.size() >= kEofMarkLength &&
        joined.compare(joined.size() - kEofMarkLength, kEofMarkLength, mark_) == 0) {
      size_t payload_len = joined.size() - kEofMarkLength;
      if (payload_len > 0) on_payload(AsBytes(std::string_view(joined).substr(0, payload_len)));
      delivered_ += payload_len;
      tail_.clear();
      mode_ = Mode::kDone;
      step.complete = true;
      return step;
    }
    if (joined.size() > kEofMarkLength) {
      size_t payload_len = joined.size() - kEofMarkLength;
      on_payload(AsBytes(std::string_view(joined).substr(0, payload_len)));
      delivered_ += payload_len;
      tail_.assign(joined, payload_len, std::string::npos);
    } else {
      tail_ = std::move(joined);
    }
    return step;
  }
  step.complete = true;  // kDone
  return step;
}

}  // namespace kf::source
