// LZF decompression: whole buffers through liblzf, and a streaming decoder with an 8 KiB
// window (see lzf_codec.h). The instruction format, as liblzf writes it:
//   000LLLLL                      literal run of L+1 bytes, which follow
//   LLLddddd dddddddd             back-reference of L+2 bytes (L = 1..6), distance d+1
//   111ddddd LLLLLLLL dddddddd    back-reference of L+9 bytes, distance d+1
// where the distance counts back from the next output byte (1 = the last one written).
#include "rdb/lzf_codec.h"

#include <lzf.h>

#include <algorithm>
#include <cstring>

#include "rdb/rdb_errc.h"

namespace kf::rdb {

Result<void> LzfDecompress(ByteView in, uint64_t expected_len, uint64_t limit, std::string* out) {
  if (expected_len > limit) {
    return MakeError(RdbErrc::kLimitExceeded, "LZF string claims " + std::to_string(expected_len) +
                                                  " uncompressed bytes, above the limit of " +
                                                  std::to_string(limit));
  }
  if (expected_len > LzfMaxExpansion(in.size()) || in.size() > UINT32_MAX ||
      expected_len > UINT32_MAX) {
    return MakeError(RdbErrc::kCorrupt, "LZF string claims " + std::to_string(expected_len) +
                                            " uncompressed bytes from only " +
                                            std::to_string(in.size()) + " compressed bytes");
  }
  out->resize(expected_len);
  if (expected_len == 0) {
    if (!in.empty()) return MakeError(RdbErrc::kCorrupt, "LZF string of length 0 has data");
    return {};
  }
  unsigned int n = lzf_decompress(in.data(), static_cast<unsigned int>(in.size()), out->data(),
                                  static_cast<unsigned int>(expected_len));
  if (n != expected_len) {
    out->clear();
    return MakeError(RdbErrc::kCorrupt, "LZF data decompressed to " + std::to_string(n) +
                                            " bytes instead of the claimed " +
                                            std::to_string(expected_len));
  }
  return {};
}

Result<void> LzfDecompressInto(ByteView in, std::span<uint8_t> out) {
  if (out.size() > LzfMaxExpansion(in.size()) || in.size() > UINT32_MAX ||
      out.size() > UINT32_MAX) {
    return MakeError(RdbErrc::kCorrupt, "LZF string claims " + std::to_string(out.size()) +
                                            " uncompressed bytes from only " +
                                            std::to_string(in.size()) + " compressed bytes");
  }
  if (out.empty()) {
    if (!in.empty()) return MakeError(RdbErrc::kCorrupt, "LZF string of length 0 has data");
    return {};
  }
  unsigned int n = lzf_decompress(in.data(), static_cast<unsigned int>(in.size()), out.data(),
                                  static_cast<unsigned int>(out.size()));
  if (n != out.size()) {
    return MakeError(RdbErrc::kCorrupt, "LZF data decompressed to " + std::to_string(n) +
                                            " bytes instead of the claimed " +
                                            std::to_string(out.size()));
  }
  return {};
}

namespace {
constexpr size_t kWindowMask = LzfStreamDecoder::kWindowBytes - 1;
static_assert((LzfStreamDecoder::kWindowBytes & kWindowMask) == 0, "window is a power of two");
}  // namespace

void LzfStreamDecoder::Reset(uint64_t expected_len) {
  state_ = State::kControl;
  left_ = 0;
  distance_ = 0;
  expected_ = expected_len;
  produced_ = 0;
}

Error LzfStreamDecoder::Overrun(uint64_t wanted) const {
  return Error{make_error_code(RdbErrc::kCorrupt),
               "LZF data produces more than the announced " + std::to_string(expected_) +
                   " bytes (an instruction at output offset " + std::to_string(produced_) +
                   " writes " + std::to_string(wanted) + " bytes)"};
}

void LzfStreamDecoder::ToWindow(const char* from, size_t n) {
  // n is at most one instruction's output (264 bytes), far below the window.
  size_t at = static_cast<size_t>(produced_) & kWindowMask;
  size_t first = std::min(n, kWindowBytes - at);
  std::memcpy(window_.data() + at, from, first);
  std::memcpy(window_.data(), from + first, n - first);
}

void LzfStreamDecoder::CopyLiteral(const uint8_t* from, size_t n, std::string* out) {
  out->append(reinterpret_cast<const char*>(from), n);
  ToWindow(reinterpret_cast<const char*>(from), n);
}

void LzfStreamDecoder::CopyReference(size_t n, std::string* out) {
  size_t base = out->size();
  out->resize(base + n);
  char* to = out->data() + base;
  // The first min(n, distance) bytes come from the window (all written before this
  // reference); past them the output repeats with period `distance` (a reference may
  // overlap what it writes, e.g. distance 1 repeats one byte), so it is filled by copying
  // what is already there, doubling each time.
  size_t head = std::min<size_t>(n, distance_);
  size_t at = static_cast<size_t>(produced_ - distance_) & kWindowMask;
  size_t first = std::min(head, kWindowBytes - at);
  std::memcpy(to, window_.data() + at, first);
  std::memcpy(to + first, window_.data(), head - first);
  for (size_t done = head; done < n;) {
    size_t chunk = std::min(done, n - done);  // done is a multiple of the period
    std::memcpy(to + done, to, chunk);
    done += chunk;
  }
  ToWindow(to, n);
}

Result<size_t> LzfStreamDecoder::Decode(ByteView in, size_t max_out, std::string* out) {
  size_t used = 0;
  size_t room = max_out;
  for (;;) {
    if (state_ == State::kRefCopy) {  // needs no input, only room
      if (room == 0) break;
      size_t n = std::min<size_t>(left_, room);
      CopyReference(n, out);
      produced_ += n;
      room -= n;
      left_ -= static_cast<uint32_t>(n);
      if (left_ == 0) state_ = State::kControl;
      continue;
    }
    if (used == in.size()) break;
    switch (state_) {
      case State::kControl: {
        uint8_t c = in[used++];
        if (c < 32) {
          left_ = uint32_t{c} + 1;
          if (left_ > expected_ - produced_) return MakeError(Overrun(left_));
          state_ = State::kLiteral;
        } else {
          left_ = c >> 5;
          distance_ = uint32_t{c & 0x1fu} << 8;
          state_ = left_ == 7 ? State::kRefLength : State::kRefDistance;
        }
        break;
      }
      case State::kRefLength:
        left_ += in[used++];
        state_ = State::kRefDistance;
        break;
      case State::kRefDistance:
        distance_ += uint32_t{in[used++]} + 1;
        left_ += 2;
        if (distance_ > produced_) {
          return MakeError(RdbErrc::kCorrupt, "LZF back-reference at output offset " +
                                                  std::to_string(produced_) + " reaches " +
                                                  std::to_string(distance_) +
                                                  " bytes back, before the start of the output");
        }
        if (left_ > expected_ - produced_) return MakeError(Overrun(left_));
        state_ = State::kRefCopy;
        break;
      case State::kLiteral: {
        if (room == 0) return used;
        size_t n = std::min<size_t>({left_, in.size() - used, room});
        CopyLiteral(in.data() + used, n, out);
        produced_ += n;
        used += n;
        room -= n;
        left_ -= static_cast<uint32_t>(n);
        if (left_ == 0) state_ = State::kControl;
        break;
      }
      case State::kRefCopy:
        break;  // handled above
    }
  }
  return used;
}

Result<void> LzfStreamDecoder::Finish() const {
  if (state_ != State::kControl) {
    return MakeError(RdbErrc::kCorrupt, "LZF data ends inside an instruction, at output offset " +
                                            std::to_string(produced_));
  }
  if (produced_ != expected_) {
    return MakeError(RdbErrc::kCorrupt, "LZF data decompressed to " + std::to_string(produced_) +
                                            " bytes instead of the announced " +
                                            std::to_string(expected_));
  }
  return {};
}

}  // namespace kf::rdb
