// CRC-64 as Redis computes it for RDB files and DUMP payloads: the "Jones" polynomial
// 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor.
// Check value: Crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
#pragma once

#include <cstdint>

#include "common/bytes.h"

namespace kf::rdb {

// Continues a running CRC over `data`; start with crc = 0.
uint64_t Crc64(uint64_t crc, ByteView data);

}  // namespace kf::rdb
