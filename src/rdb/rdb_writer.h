// RdbWriter: the primitive encodings of the RDB format, appended to a growing buffer.
//
// Lengths (the 6/14/32/64-bit "rdbSaveLen" forms), strings as the server saves them
// (integer-encoded when short and canonical, optionally LZF-compressed when long),
// binary doubles, millisecond times and raw bytes. The DUMP-payload encoder builds every
// value from these; the listpack, ziplist and intset blobs are written as RDB strings.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"

namespace kf::rdb {

// string2ll as the server applies it: true when `s` is the canonical decimal form of an
// int64 ("0", "-5", "123"; not "", "+1", "007", "-0", " 1", or anything out of range).
// Listpacks, ziplists, intsets and the RDB integer string encoding all use this rule.
bool ParseCanonicalInt64(std::string_view s, int64_t* out);

class RdbWriter {
 public:
  // compress_strings: LZF-compress strings longer than 20 bytes when that saves at least
  // 4 bytes, exactly like the server with `rdbcompression yes`.
  explicit RdbWriter(bool compress_strings = false) : compress_(compress_strings) {}

  void WriteByte(uint8_t b) { out_.push_back(b); }
  void WriteRaw(ByteView bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  void WriteRaw(std::string_view bytes) { WriteRaw(AsBytes(bytes)); }
  // rdbSaveLen: 00xxxxxx, 01xxxxxx xxxxxxxx, 0x80 + be32, 0x81 + be64.
  void WriteLength(uint64_t len);
  // rdbSaveRawString: int8/16/32 encoding for canonical integers of at most 11 chars,
  // else (with compression on and len > 20) LZF when it pays, else length + bytes.
  void WriteString(std::string_view s);
  void WriteString(ByteView b) { WriteString(AsStringView(b)); }
  // rdbSaveBinaryDoubleValue: the 8 IEEE-754 bytes, little-endian.
  void WriteBinaryDouble(double v);
  // rdbSaveMillisecondTime: int64 little-endian.
  void WriteMillis(int64_t ms);
  // A 128-bit stream ID in raw form: ms then seq, both big-endian (the rax key form).
  void WriteStreamIdRaw(uint64_t ms, uint64_t seq);

  size_t size() const { return out_.size(); }
  Bytes& bytes() { return out_; }
  Bytes Take() { return std::move(out_); }

 private:
  bool compress_;
  Bytes out_;
};

// Appends a 64-bit value big-endian (stream IDs in rax keys are big-endian).
void AppendBigEndian64(Bytes& out, uint64_t v);

}  // namespace kf::rdb
