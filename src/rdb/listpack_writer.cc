// Listpack encoding (see listpack_writer.h). Entry encodings, from the listpack spec:
//   0xxxxxxx                 7-bit unsigned integer
//   10xxxxxx + data          string up to 63 bytes
//   110xxxxx xxxxxxxx        13-bit signed integer
//   1110xxxx xxxxxxxx + data string up to 4095 bytes
//   0xF0 + len32 LE + data   longer string
//   0xF1/0xF2/0xF3/0xF4      16/24/32/64-bit signed integer, little-endian
// then the backlen: the entry length written so it can be read right to left.
#include "rdb/listpack_writer.h"

#include "rdb/listpack.h"
#include "rdb/rdb_writer.h"

namespace kf::rdb {

namespace {

// Encodes the integer part of an entry into enc; returns its length.
size_t EncodeInteger(int64_t v, uint8_t* enc) {
  if (v >= 0 && v <= 127) {
    enc[0] = static_cast<uint8_t>(v);
    return 1;
  }
  if (v >= -4096 && v <= 4095) {
    const uint64_t u =
        v < 0 ? static_cast<uint64_t>((int64_t{1} << 13) + v) : static_cast<uint64_t>(v);
    enc[0] = static_cast<uint8_t>((u >> 8) | 0xC0);
    enc[1] = static_cast<uint8_t>(u & 0xFF);
    return 2;
  }
  int width = 0;
  uint8_t tag = 0;
  if (v >= -32768 && v <= 32767) {
    width = 2;
    tag = 0xF1;
  } else if (v >= -8388608 && v <= 8388607) {
    width = 3;
    tag = 0xF2;
  } else if (v >= -2147483648LL && v <= 2147483647LL) {
    width = 4;
    tag = 0xF3;
  } else {
    width = 8;
    tag = 0xF4;
  }
  const uint64_t u = static_cast<uint64_t>(v);  // two's complement, truncated below
  enc[0] = tag;
  for (int i = 0; i < width; ++i) enc[1 + i] = static_cast<uint8_t>(u >> (8 * i));
  return static_cast<size_t>(1 + width);
}

size_t StringHeader(size_t len, uint8_t* enc) {
  if (len < 64) {
    enc[0] = static_cast<uint8_t>(0x80 | len);
    return 1;
  }
  if (len < 4096) {
    enc[0] = static_cast<uint8_t>(0xE0 | (len >> 8));
    enc[1] = static_cast<uint8_t>(len & 0xFF);
    return 2;
  }
  enc[0] = 0xF0;
  for (int i = 0; i < 4; ++i) enc[1 + i] = static_cast<uint8_t>(len >> (8 * i));
  return 5;
}

// The backlen bytes as lpEncodeBacklen lays them out: most significant group first, every
// byte but the first carries the 0x80 continuation bit.
void AppendBacklen(Bytes& out, uint64_t l) {
  const size_t n = ListpackBacklenSize(l);
  for (size_t i = 0; i < n; ++i) {
    const size_t shift = 7 * (n - 1 - i);
    uint8_t b = static_cast<uint8_t>((l >> shift) & 127);
    if (i != 0) b |= 128;
    out.push_back(b);
  }
}

}  // namespace

size_t ListpackEntrySize(std::string_view s) {
  uint8_t enc[9];
  int64_t v = 0;
  size_t l = 0;
  if (ParseCanonicalInt64(s, &v)) {
    l = EncodeInteger(v, enc);
  } else {
    l = StringHeader(s.size(), enc) + s.size();
  }
  return l + ListpackBacklenSize(l);
}

size_t ListpackIntegerEntrySize(int64_t v) {
  uint8_t enc[9];
  const size_t l = EncodeInteger(v, enc);
  return l + ListpackBacklenSize(l);
}

ListpackWriter::ListpackWriter() { buf_.resize(kHeaderSize); }

void ListpackWriter::AppendString(std::string_view s) {
  int64_t v = 0;
  if (ParseCanonicalInt64(s, &v)) {
    AppendInteger(v);
    return;
  }
  uint8_t enc[5];
  const size_t n = StringHeader(s.size(), enc);
  AppendEntry(enc, n, s);
}

void ListpackWriter::AppendInteger(int64_t v) {
  uint8_t enc[9];
  const size_t n = EncodeInteger(v, enc);
  AppendEntry(enc, n, {});
}

void ListpackWriter::AppendEntry(const uint8_t* enc, size_t enc_len, std::string_view data) {
  buf_.insert(buf_.end(), enc, enc + enc_len);
  buf_.insert(buf_.end(), data.begin(), data.end());
  AppendBacklen(buf_, enc_len + data.size());
  ++count_;
}

Bytes ListpackWriter::Finish() {
  buf_.push_back(0xFF);
  const uint64_t total = buf_.size();
  for (int i = 0; i < 4; ++i) buf_[i] = static_cast<uint8_t>(total >> (8 * i));
  const uint16_t n = count_ < kUnknownCount ? static_cast<uint16_t>(count_) : kUnknownCount;
  buf_[4] = static_cast<uint8_t>(n & 0xFF);
  buf_[5] = static_cast<uint8_t>(n >> 8);
  Bytes out = std::move(buf_);
  buf_.assign(kHeaderSize, 0);
  count_ = 0;
  return out;
}

}  // namespace kf::rdb
