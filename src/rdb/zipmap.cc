// Zipmap decoding (see zipmap.h for the layout).
#include "rdb/zipmap.h"

#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"

namespace kf::rdb {

Result<ZipmapReader> ZipmapReader::Open(ByteView blob) {
  if (blob.size() < 2) return MakeError(RdbErrc::kCorrupt, "zipmap is shorter than 2 bytes");
  if (blob[blob.size() - 1] != 0xFF) {
    return MakeError(RdbErrc::kCorrupt, "zipmap does not end with the 0xFF terminator");
  }
  return ZipmapReader(blob.data(), blob.data() + blob.size());
}

bool ZipmapReader::ReadLen(uint64_t* len, bool* at_end) {
  *at_end = false;
  if (p_ >= end_) return Fail("length runs past the end");
  uint8_t b = *p_;
  if (b == 255) {
    *at_end = true;
    return true;
  }
  if (b < 254) {
    *len = b;
    ++p_;
    return true;
  }
  if (end_ - p_ < 5) return Fail("32-bit length runs past the end");
  *len = DecodeLe32(p_ + 1);
  p_ += 5;
  return true;
}

bool ZipmapReader::Next(PackedEntry* e) {
  if (done_ || !error_.empty()) return false;
  bool is_value = (index_ % 2) == 1;
  uint64_t len = 0;
  bool at_end = false;
  if (!ReadLen(&len, &at_end)) return false;
  if (at_end) {
    if (is_value) return Fail("field without a value");
    if (p_ + 1 != end_) return Fail("terminator before the end of the blob");
    done_ = true;
    return false;
  }
  uint64_t free_bytes = 0;
  if (is_value) {
    if (p_ >= end_) return Fail("free byte runs past the end");
    free_bytes = *p_++;
  }
  if (static_cast<uint64_t>(end_ - p_) < len + free_bytes) return Fail("string runs past the end");
  e->is_int = false;
  e->str = std::string_view(reinterpret_cast<const char*>(p_), len);
  p_ += len + free_bytes;
  ++index_;
  return true;
}

}  // namespace kf::rdb
