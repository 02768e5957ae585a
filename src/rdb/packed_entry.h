// PackedEntry: one entry of a packed encoding (listpack, ziplist, zipmap, intset), and
// PackedCursor: the walking state the listpack, ziplist and zipmap readers share.
//
// Packed encodings store each entry either as a byte string or as an integer; a reader
// yields a PackedEntry that views the blob it came from (valid while the blob lives).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::rdb {

struct PackedEntry {
  bool is_int = false;
  int64_t int_value = 0;
  std::string_view str;  // when !is_int

  // Appends the entry's string form (integers in decimal, as Redis renders them).
  void AppendTo(std::string* out) const {
    if (!is_int) {
      out->append(str.data(), str.size());
      return;
    }
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), int_value);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  }
  std::string ToString() const {
    std::string s;
    AppendTo(&s);
    return s;
  }
  // The entry as a signed integer: integers as is, strings when they are a canonical
  // decimal number. Returns false otherwise.
  bool AsInt(int64_t* out) const {
    if (is_int) {
      *out = int_value;
      return true;
    }
    if (str.empty() || str.size() > 20) return false;
    auto r = std::from_chars(str.data(), str.data() + str.size(), *out);
    return r.ec == std::errc() && r.ptr == str.data() + str.size();
  }
};

// Where a packed-blob reader stands: the next entry's position, how many entries it has
// yielded, and the first error, which names the encoding, the entry index and the byte
// offset in the blob. After an error the walk is over (the position moves to the end).
class PackedCursor {
 public:
  const std::string& error() const { return error_; }
  // Entries yielded so far.
  uint64_t index() const { return index_; }

 protected:
  // `kind` ("listpack", ...) must be a string literal; `end` is where entries stop.
  PackedCursor(const char* kind, const uint8_t* begin, const uint8_t* p, const uint8_t* end)
      : kind_(kind), begin_(begin), p_(p), end_(end) {}

  // Records "<kind> entry <index> at byte <offset>: <what>" (the first error only), ends
  // the walk and returns false.
  bool Fail(const char* what) {
    if (error_.empty()) {
      error_ = std::string(kind_) + " entry " + std::to_string(index_) + " at byte " +
               std::to_string(p_ - begin_) + ": " + what;
    }
    p_ = end_;
    return false;
  }
  // At the end of the entries: false, after recording an error when the header's entry
  // count (65535: "count them") differs from the entries yielded.
  bool EndOfEntries(uint32_t header_count) {
    if (header_count != 65535 && index_ != header_count && error_.empty()) {
      return Fail("entry count differs from the header");
    }
    return false;
  }

  const char* kind_;
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t index_ = 0;
  std::string error_;
};

// Checks the frame of a listpack or ziplist blob: at least `min_size` bytes, a leading
// u32 LE total that equals the blob's size, and the 0xFF terminator as the last byte.
Result<void> CheckPackedBlobFrame(ByteView blob, const char* kind, size_t min_size);

}  // namespace kf::rdb
