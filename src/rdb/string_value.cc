// SerializedString (see string_value.h): the header of a type-0 value parsed with the RDB
// primitive decoders, the string written with memcpy, to_chars or LZF decompression.
#include "rdb/string_value.h"

#include <charconv>
#include <cstring>
#include <string>

#include "rdb/lzf_codec.h"
#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"

namespace kf::rdb {
namespace {

// Special string encodings (the low bits after 11xxxxxx): int8, int16, int32, LZF.
constexpr uint64_t kEncodingInt32 = 2;
constexpr uint64_t kEncodingLzf = 3;

// The decimal form of v into buf (at least 20 bytes); returns its length.
size_t FormatInteger(int64_t v, char* buf) {
  auto [end, ec] = std::to_chars(buf, buf + 20, v);
  (void)ec;  // 20 characters hold every int64
  return static_cast<size_t>(end - buf);
}

}  // namespace

bool ParseSerializedString(ByteView serialized, SerializedString* out) {
  if (serialized.size() < 2 || serialized[0] != kTypeString) return false;
  const uint8_t* p = serialized.data() + 1;
  const uint8_t* end = serialized.data() + serialized.size();
  uint64_t len = 0;
  bool special = false;
  size_t used = 0;
  if (DecodeLength(p, end, &len, &special, &used) != Parse::kOk) return false;
  p += used;
  const size_t left = static_cast<size_t>(end - p);
  if (!special) {
    if (len != left) return false;
    *out = SerializedString{SerializedString::Kind::kRaw, ByteView(p, left), 0, len};
    return true;
  }
  if (len <= kEncodingInt32) {  // 1, 2 or 4 bytes
    const size_t bytes = size_t{1} << len;
    if (left != bytes) return false;
    char digits[24];
    const int64_t v = DecodeLeSigned(p, bytes);
    *out = SerializedString{SerializedString::Kind::kInteger, {}, v, FormatInteger(v, digits)};
    return true;
  }
  if (len != kEncodingLzf) return false;
  uint64_t compressed = 0;
  uint64_t plain = 0;
  if (DecodeLength(p, end, &compressed, &special, &used) != Parse::kOk || special) return false;
  p += used;
  if (DecodeLength(p, end, &plain, &special, &used) != Parse::kOk || special) return false;
  p += used;
  if (compressed != static_cast<uint64_t>(end - p)) return false;
  *out = SerializedString{SerializedString::Kind::kLzf,
                          ByteView(p, static_cast<size_t>(compressed)), 0, plain};
  return true;
}

Result<void> DecodeSerializedStringInto(const SerializedString& s, std::span<uint8_t> out) {
  if (out.size() != s.length) {
    return MakeError(RdbErrc::kInvalidValue, "a string of " + std::to_string(s.length) +
                                                 " bytes cannot be written into " +
                                                 std::to_string(out.size()) + " bytes");
  }
  switch (s.kind) {
    case SerializedString::Kind::kRaw:
      if (!s.data.empty()) std::memcpy(out.data(), s.data.data(), s.data.size());
      return {};
    case SerializedString::Kind::kInteger: {
      char digits[24];
      const size_t n = FormatInteger(s.integer, digits);
      std::memcpy(out.data(), digits, n);
      return {};
    }
    case SerializedString::Kind::kLzf:
      return LzfDecompressInto(s.data, out);
  }
  return {};
}

}  // namespace kf::rdb
