// Intset encoding (see intset_writer.h).
#include "rdb/intset_writer.h"

#include <algorithm>
#include <limits>

namespace kf::rdb {

Bytes BuildIntset(std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  uint32_t width = 2;
  for (int64_t v : values) {
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      width = 8;
      break;
    }
    if (v < std::numeric_limits<int16_t>::min() || v > std::numeric_limits<int16_t>::max()) {
      width = 4;
    }
  }
  Bytes out;
  out.reserve(8 + values.size() * width);
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put32(width);
  put32(static_cast<uint32_t>(values.size()));
  for (int64_t v : values) {
    const uint64_t u = static_cast<uint64_t>(v);
    for (uint32_t i = 0; i < width; ++i) out.push_back(static_cast<uint8_t>(u >> (8 * i)));
  }
  return out;
}

}  // namespace kf::rdb
