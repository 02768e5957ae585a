// Hex and printable renderings of binary data.
#include "common/bytes.h"

namespace kf {

std::string HexEncode(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(b.size() * 2);
  for (size_t i = 0; i < b.size(); ++i) {
    out[2 * i] = kDigits[b[i] >> 4];
    out[2 * i + 1] = kDigits[b[i] & 0xf];
  }
  return out;
}

std::string Printable(ByteView b, size_t max_len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  size_t n = b.size() < max_len ? b.size() : max_len;
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = b[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  if (b.size() > max_len) out += "...";
  return out;
}

}  // namespace kf
