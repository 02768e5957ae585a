// ListpackWriter: builds a listpack blob (Redis 7+ compact encoding) entry by entry.
//
// Layout: total bytes (uint32 LE), number of elements (uint16 LE, 65535 once the count
// no longer fits), the entries, then the 0xFF terminator. Each entry is an encoding byte
// (plus data) followed by its "backlen" (the entry's encoded length, 7 bits a byte).
// Strings that are canonical int64s are stored as integers, as the server's lpAppend does,
// so the output is byte-identical to a listpack the server built by appending the same
// elements.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"

namespace kf::rdb {

class ListpackWriter {
 public:
  static constexpr size_t kHeaderSize = 6;
  static constexpr uint16_t kUnknownCount = 65535;

  ListpackWriter();

  // Appends a string element (integer-encoded when canonical, like lpAppend).
  void AppendString(std::string_view s);
  // Appends an integer element in the smallest integer encoding.
  void AppendInteger(int64_t v);

  // Bytes of the finished listpack so far, terminator included (what lpBytes would say).
  size_t BytesWithTerminator() const { return buf_.size() + 1; }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }

  // Writes the header and the terminator and returns the blob; the writer is then empty.
  Bytes Finish();

 private:
  void AppendEntry(const uint8_t* enc, size_t enc_len, std::string_view data);

  Bytes buf_;  // header placeholder + entries, no terminator
  size_t count_ = 0;
};

// Listpack entry size (encoding + data + backlen) of a string element, as lpAppend stores
// it; used to predict node sizes without building them.
size_t ListpackEntrySize(std::string_view s);
// Listpack entry size of an integer element.
size_t ListpackIntegerEntrySize(int64_t v);

}  // namespace kf::rdb
