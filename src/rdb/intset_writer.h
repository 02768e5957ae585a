// Intset encoding: the compact encoding of sets whose members are all integers.
//
// Layout: encoding (uint32 LE: 2, 4 or 8 = bytes per element, the smallest that holds
// every member), length (uint32 LE), then the members sorted ascending, little-endian.
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"

namespace kf::rdb {

// Builds the intset of `values` (sorted and de-duplicated here).
Bytes BuildIntset(std::vector<int64_t> values);

}  // namespace kf::rdb
