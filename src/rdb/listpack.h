// Listpack reader: iterates the entries of a listpack blob (Redis 7+ small lists, sets,
// hashes, zsets, quicklist v2 nodes and stream nodes).
//
// Layout: total-bytes (u32 LE) | entry-count (u16 LE, 65535 = unknown) | entries | 0xFF.
// Each entry is an encoding byte (7-bit uint, 6/12/32-bit string lengths, 13/16/24/32/64
// bit integers) followed by its data and a 1-5 byte "backlen". Every length is checked
// against the blob; the backlen is verified, so a corrupt blob is reported, not followed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/packed_entry.h"

namespace kf::rdb {

class ListpackReader : public PackedCursor {
 public:
  // Checks the header against the blob (total bytes, terminator). The blob must outlive
  // the reader and the entries it yields.
  static Result<ListpackReader> Open(ByteView blob);

  // Yields the next entry; false at the end or on a corrupt entry (then !error().empty()).
  bool Next(PackedEntry* entry);
  // The header's entry count (65535 means "count it").
  uint32_t header_count() const { return header_count_; }

 private:
  // `end` is the 0xFF terminator.
  ListpackReader(const uint8_t* begin, const uint8_t* p, const uint8_t* end, uint32_t count)
      : PackedCursor("listpack", begin, p, end), header_count_(count) {}

  uint32_t header_count_;
};

// Bytes the backlen of an entry of `entry_bytes` bytes (encoding + data) takes: 1 to 5
// (used by the reader to verify it and by ListpackWriter to write it).
size_t ListpackBacklenSize(uint64_t entry_bytes);

// Counts the entries of a listpack (validating each); an error when corrupt.
Result<uint64_t> ListpackCount(ByteView blob);

}  // namespace kf::rdb
