// RDB primitive encodings (see rdb_writer.h). Byte layouts follow the server's rdb.c
// conventions: lengths big-endian, integers and doubles little-endian.
#include "rdb/rdb_writer.h"

#include <lzf.h>

#include <bit>
#include <cstring>
#include <limits>
#include <vector>

namespace kf::rdb {

namespace {

constexpr uint8_t kEncInt8 = 0xC0;
constexpr uint8_t kEncInt16 = 0xC1;
constexpr uint8_t kEncInt32 = 0xC2;
constexpr uint8_t kEncLzf = 0xC3;

void AppendLittleEndian(Bytes& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

bool ParseCanonicalInt64(std::string_view s, int64_t* out) {
  // A canonical int64 has at most 20 characters ("-9223372036854775808").
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool negative = false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  if (s[0] == '-') {
    negative = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;  // no leading zeros, no "-0", no '+'
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (negative) {
    constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
    if (v > kMinMagnitude) return false;
    *out = static_cast<int64_t>(0 - v);  // two's complement; exact for -2^63 too
  } else {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

void AppendBigEndian64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void RdbWriter::WriteLength(uint64_t len) {
  if (len < (1u << 6)) {
    out_.push_back(static_cast<uint8_t>(len));
  } else if (len < (1u << 14)) {
    out_.push_back(static_cast<uint8_t>(0x40 | (len >> 8)));
    out_.push_back(static_cast<uint8_t>(len & 0xFF));
  } else if (len <= std::numeric_limits<uint32_t>::max()) {
    out_.push_back(0x80);
    for (int i = 3; i >= 0; --i) out_.push_back(static_cast<uint8_t>(len >> (8 * i)));
  } else {
    out_.push_back(0x81);
    AppendBigEndian64(out_, len);
  }
}

void RdbWriter::WriteString(std::string_view s) {
  // The server tries the integer forms only for strings that could be one (<= 11 chars
  // covers "-2147483648"); a value outside 32 bits stays a plain string.
  if (s.size() <= 11) {
    int64_t v = 0;
    if (ParseCanonicalInt64(s, &v)) {
      if (v >= std::numeric_limits<int8_t>::min() && v <= std::numeric_limits<int8_t>::max()) {
        out_.push_back(kEncInt8);
        AppendLittleEndian(out_, static_cast<uint64_t>(v), 1);
        return;
      }
      if (v >= std::numeric_limits<int16_t>::min() && v <= std::numeric_limits<int16_t>::max()) {
        out_.push_back(kEncInt16);
        AppendLittleEndian(out_, static_cast<uint64_t>(v), 2);
        return;
      }
      if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
        out_.push_back(kEncInt32);
        AppendLittleEndian(out_, static_cast<uint64_t>(v), 4);
        return;
      }
    }
  }
  // LZF as rdbSaveLzfStringObject: the output must fit in len - 4 bytes, else the
  // string goes uncompressed. liblzf's lzf_compress takes unsigned int sizes.
  if (compress_ && s.size() > 20 && s.size() <= std::numeric_limits<unsigned int>::max()) {
    const size_t max_out = s.size() - 4;
    std::vector<uint8_t> buf(max_out + 1);
    const unsigned int clen = lzf_compress(s.data(), static_cast<unsigned int>(s.size()),
                                           buf.data(), static_cast<unsigned int>(max_out));
    if (clen != 0) {
      out_.push_back(kEncLzf);
      WriteLength(clen);
      WriteLength(s.size());
      out_.insert(out_.end(), buf.begin(), buf.begin() + clen);
      return;
    }
  }
  WriteLength(s.size());
  WriteRaw(s);
}

void RdbWriter::WriteBinaryDouble(double v) {
  AppendLittleEndian(out_, std::bit_cast<uint64_t>(v), 8);
}

void RdbWriter::WriteMillis(int64_t ms) { AppendLittleEndian(out_, static_cast<uint64_t>(ms), 8); }

void RdbWriter::WriteStreamIdRaw(uint64_t ms, uint64_t seq) {
  AppendBigEndian64(out_, ms);
  AppendBigEndian64(out_, seq);
}

}  // namespace kf::rdb
