// Ziplist entry decoding (see ziplist.h for the layout).
#include "rdb/ziplist.h"

#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"

namespace kf::rdb {

Result<ZiplistReader> ZiplistReader::Open(ByteView blob) {
  auto frame = CheckPackedBlobFrame(blob, "ziplist", 11);
  if (!frame) return MakeError(std::move(frame).error());
  if (DecodeLe32(blob.data() + 4) > blob.size() - 1) {
    return MakeError(RdbErrc::kCorrupt, "ziplist tail offset points past the end");
  }
  uint32_t count = uint32_t{blob[8]} | uint32_t{blob[9]} << 8;
  return ZiplistReader(blob.data(), blob.data() + 10, blob.data() + blob.size() - 1, count);
}

bool ZiplistReader::Next(PackedEntry* e) {
  if (p_ >= end_) return EndOfEntries(header_count_);
  const uint8_t* p = p_;
  size_t avail = static_cast<size_t>(end_ - p);
  size_t hdr;
  uint64_t prevlen;
  if (p[0] < 254) {
    prevlen = p[0];
    hdr = 1;
  } else if (p[0] == 254) {
    if (avail < 5) return Fail("prevlen runs past the end");
    prevlen = DecodeLe32(p + 1);
    hdr = 5;
  } else {
    return Fail("unexpected terminator byte");
  }
  if (prevlen != prev_len_) return Fail("prevlen does not match the previous entry");
  if (hdr >= avail) return Fail("encoding runs past the end");
  uint8_t enc = p[hdr];
  size_t total;
  e->is_int = false;
  switch (enc >> 6) {
    case 0: {
      uint64_t len = enc & 0x3F;
      total = hdr + 1 + len;
      if (total > avail) return Fail("string runs past the end");
      e->str = std::string_view(reinterpret_cast<const char*>(p + hdr + 1), len);
      break;
    }
    case 1: {
      if (hdr + 2 > avail) return Fail("14-bit length runs past the end");
      uint64_t len = (static_cast<uint64_t>(enc & 0x3F) << 8) | p[hdr + 1];
      total = hdr + 2 + len;
      if (total > avail) return Fail("string runs past the end");
      e->str = std::string_view(reinterpret_cast<const char*>(p + hdr + 2), len);
      break;
    }
    case 2: {
      if (hdr + 5 > avail) return Fail("32-bit length runs past the end");
      const uint8_t* q = p + hdr + 1;
      uint64_t len = uint64_t{q[0]} << 24 | uint64_t{q[1]} << 16 | uint64_t{q[2]} << 8 | q[3];
      total = hdr + 5 + len;
      if (total > avail) return Fail("string runs past the end");
      e->str = std::string_view(reinterpret_cast<const char*>(p + hdr + 5), len);
      break;
    }
    default: {
      int n;
      e->is_int = true;
      if (enc == 0xC0) {
        n = 2;
      } else if (enc == 0xD0) {
        n = 4;
      } else if (enc == 0xE0) {
        n = 8;
      } else if (enc == 0xF0) {
        n = 3;
      } else if (enc == 0xFE) {
        n = 1;
      } else if (enc >= 0xF1 && enc <= 0xFD) {
        n = 0;
        e->int_value = (enc & 0x0F) - 1;
      } else {
        return Fail("invalid encoding byte");
      }
      total = hdr + 1 + static_cast<size_t>(n);
      if (total > avail) return Fail("integer runs past the end");
      if (n > 0) e->int_value = DecodeLeSigned(p + hdr + 1, static_cast<size_t>(n));
      break;
    }
  }
  prev_len_ = total;
  p_ = p + total;
  ++index_;
  return true;
}

}  // namespace kf::rdb
