// LZF decompression for RDB strings stored with the LZF special encoding.
//
// LzfDecompress wraps liblzf's lzf_decompress for a whole buffer, with the checks the RDB
// format needs: the claimed uncompressed length is bounded (by a caller limit and by the
// most LZF can expand its input) before anything is allocated, and the output must be
// exactly that long.
//
// LzfStreamDecoder decodes the same format from input given in pieces of any size into
// output of bounded pieces, for strings too big to hold whole. LZF is a byte-oriented
// LZ77: a control byte starts either a literal run (1-32 bytes copied from the input) or
// a back-reference (3-264 bytes copied from at most 8 KiB back in the output), so the
// decoder keeps only the last 8 KiB of output and the instruction it is in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::rdb {

// The largest uncompressed size `compressed_len` bytes of LZF data can produce (a 3-byte
// back reference expands to at most 264 bytes).
constexpr uint64_t LzfMaxExpansion(uint64_t compressed_len) { return compressed_len * 89 + 64; }

// Decompresses `in` into `*out`, which ends up exactly `expected_len` bytes long. Fails
// with RdbErrc::kLimitExceeded when expected_len > limit or more than `in` can expand to,
// and with RdbErrc::kCorrupt when the data does not decompress to exactly expected_len.
Result<void> LzfDecompress(ByteView in, uint64_t expected_len, uint64_t limit, std::string* out);

// Decompresses `in` into exactly `out.size()` bytes at out.data() (memory the caller owns,
// e.g. the tail of a buffer being encoded, so the bytes are written once). Fails like
// LzfDecompress (without a limit: the caller sized `out`); on failure `out` holds garbage.
Result<void> LzfDecompressInto(ByteView in, std::span<uint8_t> out);

// Streaming LZF decompression of one string whose uncompressed length is announced.
//
// Contract: Decode() takes the next compressed bytes (split anywhere, even inside an
// instruction) and appends output to *out, at most `max_out` bytes per call; it returns the
// input bytes it consumed, which is all of `in` unless the output bound stopped it. Output
// owed by a back-reference whose input is all consumed comes out on later calls, with or
// without new input (pending_output() says so). Finish() is called once every compressed
// byte has been given. Memory: the 8 KiB window and the instruction state, whatever the
// string's size. Errors (RdbErrc::kCorrupt, with the output offset): a back-reference
// reaching before the start of the output, output longer than announced, and at Finish()
// input ending inside an instruction or output shorter than announced. After an error
// the decoder must not be used again.
class LzfStreamDecoder {
 public:
  static constexpr size_t kWindowBytes = 8192;  // the farthest a back-reference reaches

  explicit LzfStreamDecoder(uint64_t expected_len = 0) { Reset(expected_len); }
  void Reset(uint64_t expected_len);

  Result<size_t> Decode(ByteView in, size_t max_out, std::string* out);
  Result<void> Finish() const;

  bool pending_output() const { return state_ == State::kRefCopy; }
  uint64_t produced() const { return produced_; }

 private:
  enum class State : uint8_t { kControl, kLiteral, kRefLength, kRefDistance, kRefCopy };
  Error Overrun(uint64_t wanted) const;
  void ToWindow(const char* from, size_t n);  // the next n output bytes, into the window
  void CopyLiteral(const uint8_t* from, size_t n, std::string* out);
  void CopyReference(size_t n, std::string* out);

  State state_ = State::kControl;
  uint32_t left_ = 0;      // bytes of the current literal run / back-reference still owed
  uint32_t distance_ = 0;  // how far back the current back-reference reads
  uint64_t expected_ = 0;
  uint64_t produced_ = 0;
  std::array<uint8_t, kWindowBytes> window_{};  // output byte i is at window_[i % size]
};

}  // namespace kf::rdb
