// Byte views and buffers shared by every layer.
//
// ByteView is a non-owning view of raw bytes (network data, RDB payloads); Bytes owns them.
// Keys and values in Redis are binary-safe, so keyferry never treats them as C strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kf {

using ByteView = std::span<const uint8_t>;
using Bytes = std::vector<uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsStringView(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}
inline std::string ToString(ByteView b) { return std::string(AsStringView(b)); }

// Lowercase hex of raw bytes, as in the canonical JSON form.
std::string HexEncode(ByteView b);
// A printable rendering of binary bytes for messages: printable ASCII as is, the rest as
// \xHH, cut at max_len with "..." appended.
std::string Printable(ByteView b, size_t max_len = 64);
inline std::string Printable(std::string_view s, size_t max_len = 64) {
  return Printable(AsBytes(s), max_len);
}

}  // namespace kf
