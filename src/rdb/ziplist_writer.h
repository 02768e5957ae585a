// ZiplistWriter: builds a ziplist blob, the compact encoding of RDB 9 (Redis <= 6.2)
// hashes, zsets and quicklist nodes.
//
// Layout: zlbytes (uint32 LE), zltail (uint32 LE offset of the last entry), zllen
// (uint16 LE, 65535 once the count no longer fits), the entries, then 0xFF. Each entry is
// prevlen (1 byte, or 0xFE + uint32 LE when the previous entry is 254 bytes or more), an
// encoding (string lengths 6/14/32-bit, or one of the integer forms) and the data.
// Canonical integer strings are stored as integers, as ziplistPush does.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"

namespace kf::rdb {

class ZiplistWriter {
 public:
  static constexpr size_t kHeaderSize = 10;

  ZiplistWriter();

  void Append(std::string_view s);

  size_t BytesWithTerminator() const { return buf_.size() + 1; }
  size_t count() const { return count_; }

  // Writes the header and terminator and returns the blob; the writer is then empty.
  Bytes Finish();

 private:
  Bytes buf_;  // header placeholder + entries
  size_t count_ = 0;
  size_t last_entry_offset_ = 0;
  size_t last_entry_size_ = 0;
};

}  // namespace kf::rdb
