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

class ZipmapReader : public PackedCursor {
 public:
  static Result<ZipmapReader> Open(ByteView blob);

  // Yields the next field or value (alternating); false at the end or when corrupt.
  bool Next(PackedEntry* entry);

 private:
  // `end` is one past the 0xFF terminator.
  ZipmapReader(const uint8_t* begin, const uint8_t* end)
      : PackedCursor("zipmap", begin, begin + 1, end) {}
  bool ReadLen(uint64_t* len, bool* at_end);

  bool done_ = false;
};

}  // namespace kf::rdb
