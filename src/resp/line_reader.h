// LineReader: collects one CRLF- (or LF-) terminated line across Feed calls for the RESP
// parsers. Internal to src/resp.
//
// When a whole line lies inside the fed span it is returned as a view into that span (no
// copy); only a line split across calls is copied into the reader's own buffer. Every byte
// is scanned once: a search resumes after the bytes already buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kf::resp {

class LineReader {
 public:
  enum class Status { kLine, kNeedMore, kTooLong, kMissingCr };

  // Terminator rules: kCrlf requires "\r\n" (RESP replies and headers; a \r must be
  // followed by \n, the line may not hold a bare \r); kLfOptionalCr ends at '\n' and drops
  // one preceding '\r' (inline commands, as Redis reads them).
  enum class Mode { kCrlf, kLfOptionalCr };

  // Consumes bytes from [*pos, end). On kLine, *line is the content without terminator
  // (valid until the next call or Reset) and *pos points after the terminator. On
  // kNeedMore all bytes were consumed. On kTooLong the content would exceed max_len; on
  // kMissingCr a \r was followed by another byte than \n (kCrlf) — *pos is then at the
  // offending byte's position if it is in this span, else unchanged.
  Status Take(const uint8_t** pos, const uint8_t* end, size_t max_len, Mode mode,
              std::string_view* line);

  // Bytes of the current partial line held so far.
  size_t buffered() const { return buf_.size() + (pending_cr_ ? 1 : 0); }
  size_t capacity() const { return buf_.capacity(); }
  void Reset() {
    buf_.clear();
    pending_cr_ = false;
    returned_ = false;
  }

 private:
  std::string buf_;
  bool pending_cr_ = false;  // kCrlf: the last byte seen was '\r' (not yet in buf_)
  bool returned_ = false;    // buf_ holds a line already returned; clear it on the next call
};

}  // namespace kf::resp
