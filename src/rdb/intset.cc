// Intset decoding (see intset.h for the layout).
#include "rdb/intset.h"

#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"

namespace kf::rdb {

Result<IntsetReader> IntsetReader::Open(ByteView blob) {
  if (blob.size() < 8) return MakeError(RdbErrc::kCorrupt, "intset is shorter than its header");
  uint32_t width = DecodeLe32(blob.data());
  uint32_t count = DecodeLe32(blob.data() + 4);
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
  e->is_int = true;
  e->int_value = DecodeLeSigned(q, width_);
  ++index_;
  return true;
}

}  // namespace kf::rdb
