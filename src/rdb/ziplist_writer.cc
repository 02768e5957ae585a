// Ziplist encoding (see ziplist_writer.h). Integer encodings, chosen smallest first as
// zipTryEncoding does (only for canonical integer strings shorter than 32 bytes):
//   0xF1..0xFD  0..12 in the low nibble (+1)      0xFE  int8
//   0xC0 int16   0xF0 int24   0xD0 int32   0xE0 int64   (all little-endian)
// String encodings: 00pppppp, 01pppppp qqqqqqqq (big-endian 14 bits), 0x80 + be32.
#include "rdb/ziplist_writer.h"

#include "rdb/rdb_writer.h"

namespace kf::rdb {

ZiplistWriter::ZiplistWriter() { buf_.resize(kHeaderSize); }

void ZiplistWriter::Append(std::string_view s) {
  const size_t start = buf_.size();
  // prevlen
  if (count_ == 0 || last_entry_size_ < 254) {
    buf_.push_back(static_cast<uint8_t>(count_ == 0 ? 0 : last_entry_size_));
  } else {
    buf_.push_back(0xFE);
    for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<uint8_t>(last_entry_size_ >> (8 * i)));
  }
  int64_t v = 0;
  if (s.size() < 32 && ParseCanonicalInt64(s, &v)) {
    const uint64_t u = static_cast<uint64_t>(v);
    auto put = [&](uint8_t tag, int width) {
      buf_.push_back(tag);
      for (int i = 0; i < width; ++i) buf_.push_back(static_cast<uint8_t>(u >> (8 * i)));
    };
    if (v >= 0 && v <= 12) {
      buf_.push_back(static_cast<uint8_t>(0xF1 + v));
    } else if (v >= -128 && v <= 127) {
      put(0xFE, 1);
    } else if (v >= -32768 && v <= 32767) {
      put(0xC0, 2);
    } else if (v >= -8388608 && v <= 8388607) {
      put(0xF0, 3);
    } else if (v >= -2147483648LL && v <= 2147483647LL) {
      put(0xD0, 4);
    } else {
      put(0xE0, 8);
    }
  } else {
    const size_t len = s.size();
    if (len <= 0x3F) {
      buf_.push_back(static_cast<uint8_t>(len));
    } else if (len <= 0x3FFF) {
      buf_.push_back(static_cast<uint8_t>(0x40 | (len >> 8)));
      buf_.push_back(static_cast<uint8_t>(len & 0xFF));
    } else {
      buf_.push_back(0x80);
      for (int i = 3; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(len >> (8 * i)));
    }
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  last_entry_offset_ = start;
  last_entry_size_ = buf_.size() - start;
  ++count_;
}

Bytes ZiplistWriter::Finish() {
  buf_.push_back(0xFF);
  const uint64_t total = buf_.size();
  // An empty ziplist's tail offset points at the terminator (just past the header).
  const uint64_t tail = count_ == 0 ? kHeaderSize : last_entry_offset_;
  for (int i = 0; i < 4; ++i) buf_[i] = static_cast<uint8_t>(total >> (8 * i));
  for (int i = 0; i < 4; ++i) buf_[4 + i] = static_cast<uint8_t>(tail >> (8 * i));
  const uint16_t n = count_ < 65535 ? static_cast<uint16_t>(count_) : 65535;
  buf_[8] = static_cast<uint8_t>(n & 0xFF);
  buf_[9] = static_cast<uint8_t>(n >> 8);
  Bytes out = std::move(buf_);
  buf_.assign(kHeaderSize, 0);
  count_ = 0;
  last_entry_offset_ = 0;
  last_entry_size_ = 0;
  return out;
}

}  // namespace kf::rdb
