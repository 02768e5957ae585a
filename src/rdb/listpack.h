// Listpack reader: iterates the entries of a listpack blob (Redis 7+ small lists, sets,
// hashes, zsets, quicklist v2 nodes and stream nodes).
//
// Layout: total-bytes (u32 LE) | entry-count (u16 LE, 65535 = unknown) | entries | 0xFF.
// Each entry is an encoding byte (7-bit uint, 6/12/32-bit string lengths, 13/16/24/32/64
// bit integers) followed by its data and a 1-5 byte "backlen". Every length is checked
// against the blob; the backlen is verified, so a corrupt blob is reported, not followed.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/packed_entry.h"

namespace kf::rdb {

class ListpackReader {
 public:
  // Checks the header against the blob (total bytes, terminator). The blob must outlive
  // the reader and the entries it yields.
  static Result<ListpackReader> Open(ByteView blob);

  // Yields the next entry; false at the end or on a corrupt entry (then !error().empty()).
  bool Next(PackedEntry* entry);
  const std::string& error() const { return error_; }
  // The header's entry count (65535 means "count it").
  uint32_t header_count() const { return header_count_; }
  // Entries yielded so far.
  uint64_t index() const { return index_; }

 private:
  ListpackReader(const uint8_t* begin, const uint8_t* p, const uint8_t* end, uint32_t count)
      : begin_(begin), p_(p), end_(end), header_count_(count) {}
  bool Fail(const char* what);

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;  // the 0xFF terminator
  uint32_t header_count_;
  uint64_t index_ = 0;
  std::string error_;
};

// Counts the entries of a listpack (validating each); an error when corrupt.
Result<uint64_t> ListpackCount(ByteView blob);

}  // namespace kf::rdb
