// Intset decoding (see intset.h for the layout).
#include "rdb/intset.h"

#include "rdb/rdb_errc.h"

namespace kf::rdb {
namespace {

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

Result<IntsetReader> IntsetReader::Open(ByteView blob) {
  if (blob.size() < 8) return MakeError(RdbErrc::kCorrupt, "intset is shorter than its header");
  uint32_t width = Le32(blob.data());
  uint32_t count = Le32(blob.data() + 4);
  if (width != 2 && width != 4 && width != 8) {
    return MakeError(RdbErrc::kCorrupt,
                     "intset has an invalid member width of " + std::to_string(width));
  }
  if (uint64_t{width} * count + 8 != blob.size()) {
    return MakeError(RdbErrc::kCorrupt, "intset of " + std::to_string(count) + " members of " +
                                            std::to_string(width) + " bytes does not fit its " +
                                            std::to_string(blob.size()) + "-byte blob");
  }
  return IntsetReader(blob.data() + 8, width, count);
}

bool IntsetReader::Next(PackedEntry* e) {
  if (index_ >= count_) return false;
  const uint8_t* q = p_ + size_t{index_} * width_;
  uint64_t u = 0;
  for (uint32_t i = 0; i < width_; ++i) u |= uint64_t{q[i]} << (8 * i);
  if (width_ < 8 && (u >> (8 * width_ - 1)) & 1) u |= ~uint64_t{0} << (8 * width_);
  e->is_int = true;
  e->int_value = static_cast<int64_t>(u);
  ++index_;
  return true;
}

}  // namespace kf::rdb
