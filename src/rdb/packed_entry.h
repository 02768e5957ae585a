// PackedEntry: one entry of a packed encoding (listpack, ziplist, zipmap, intset).
//
// Packed encodings store each entry either as a byte string or as an integer; a reader
// yields a PackedEntry that views the blob it came from (valid while the blob lives).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace kf::rdb
