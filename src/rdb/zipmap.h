// Zipmap reader: iterates the field/value entries of a zipmap blob (RDB type 9, hashes
// saved by Redis before 2.6).
//
// Layout: zmlen (1 byte) | { len field len free value free-bytes }* | 0xFF, where len is
// one byte below 254, or 254 followed by a u32 LE. Yields field, value, field, value...
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/packed_entry.h"

namespace kf::rdb {

class ZipmapReader {
 public:
  static Result<ZipmapReader> Open(ByteView blob);

  // Yields the next field or value (alternating); false at the end or when corrupt.
  bool Next(PackedEntry* entry);
  const std::string& error() const { return error_; }
  uint64_t index() const { return index_; }

 private:
  ZipmapReader(const uint8_t* begin, const uint8_t* end)
      : begin_(begin), p_(begin + 1), end_(end) {}
  bool Fail(const char* what);
  bool ReadLen(uint64_t* len, bool* at_end);

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t index_ = 0;
  bool done_ = false;
  std::string error_;
};

}  // namespace kf::rdb
