// Intset reader: the members of an intset blob (RDB type 11, small sets of integers).
//
// Layout: encoding (u32 LE: 2, 4 or 8 bytes per member) | length (u32 LE) | members
// (signed, little-endian, ascending). The blob size must be exactly 8 + length * encoding.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/packed_entry.h"

namespace kf::rdb {

class IntsetReader {
 public:
  static Result<IntsetReader> Open(ByteView blob);

  // Yields the next member (always an integer); false at the end.
  bool Next(PackedEntry* entry);
  uint32_t size() const { return count_; }

 private:
  IntsetReader(const uint8_t* p, uint32_t width, uint32_t count)
      : p_(p), width_(width), count_(count) {}

  const uint8_t* p_;
  uint32_t width_;
  uint32_t count_;
  uint32_t index_ = 0;
};

}  // namespace kf::rdb
