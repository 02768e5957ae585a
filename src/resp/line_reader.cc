// LineReader: see line_reader.h. The search for the terminator runs only over bytes not yet
// seen, so a line fed one byte at a time costs linear time.
#include "resp/line_reader.h"

#include <cstring>

namespace kf::resp {

LineReader::Status LineReader::Take(const uint8_t** pos, const uint8_t* end, size_t max_len,
                                    Mode mode, std::string_view* line) {
  if (returned_) {
    buf_.clear();
    returned_ = false;
  }
  const uint8_t* p = *pos;
  if (mode == Mode::kCrlf) {
    if (pending_cr_) {
      if (p == end) return Status::kNeedMore;
      if (*p != '\n') return Status::kMissingCr;
      pending_cr_ = false;
      *pos = p + 1;
      *line = buf_;
      returned_ = true;
      return Status::kLine;
    }
    const auto* cr =
        static_cast<const uint8_t*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
    size_t n = static_cast<size_t>((cr ? cr : end) - p);
    if (buf_.size() + n > max_len) return Status::kTooLong;
    if (cr == nullptr || cr + 1 == end) {
      buf_.append(reinterpret_cast<const char*>(p), n);
      pending_cr_ = cr != nullptr;
      *pos = end;
      return Status::kNeedMore;
    }
    if (cr[1] != '\n') {
      *pos = cr + 1;
      return Status::kMissingCr;
    }
    if (buf_.empty()) {
      *line = std::string_view(reinterpret_cast<const char*>(p), n);
    } else {
      buf_.append(reinterpret_cast<const char*>(p), n);
      *line = buf_;
      returned_ = true;
    }
    *pos = cr + 2;
    return Status::kLine;
  }

  // kLfOptionalCr
  const auto* nl = static_cast<const uint8_t*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  size_t n = static_cast<size_t>((nl ? nl : end) - p);
  // One extra byte allowed for a '\r' that the terminator will strip.
  if (buf_.size() + n > max_len + 1) return Status::kTooLong;
  if (nl == nullptr) {
    buf_.append(reinterpret_cast<const char*>(p), n);
    *pos = end;
    return Status::kNeedMore;
  }
  std::string_view content;
  if (buf_.empty()) {
    content = std::string_view(reinterpret_cast<const char*>(p), n);
  } else {
    buf_.append(reinterpret_cast<const char*>(p), n);
    content = buf_;
    returned_ = true;
  }
  if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
  if (content.size() > max_len) return Status::kTooLong;
  *line = content;
  *pos = nl + 1;
  return Status::kLine;
}

}  // namespace kf::resp
