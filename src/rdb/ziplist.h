// Ziplist reader: iterates the entries of a ziplist blob (RDB 9 and older small lists,
// hashes, zsets and quicklist v1 nodes).
//
// Layout: zlbytes (u32 LE) | zltail (u32 LE) | zllen (u16 LE) | entries | 0xFF. Each entry
// is prevlen (1 byte, or 0xFE + u32 LE) | encoding (string lengths of 6/14/32 bits or an
// integer kind, 4-bit immediates included) | data. Every length is checked against the
// blob.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/packed_entry.h"

namespace kf::rdb {

class ZiplistReader : public PackedCursor {
 public:
  // Checks the header against the blob. The blob must outlive the reader and its entries.
  static Result<ZiplistReader> Open(ByteView blob);

  // Yields the next entry; false at the end or on a corrupt entry (then !error().empty()).
  bool Next(PackedEntry* entry);

 private:
  // `end` is the 0xFF terminator.
  ZiplistReader(const uint8_t* begin, const uint8_t* p, const uint8_t* end, uint32_t count)
      : PackedCursor("ziplist", begin, p, end), header_count_(count) {}

  uint32_t header_count_;
  uint64_t prev_len_ = 0;
};

}  // namespace kf::rdb
