// LZF decompression for RDB strings stored with the LZF special encoding.
//
// Wraps liblzf's lzf_decompress with the checks the RDB format needs: the claimed
// uncompressed length is bounded (by a caller limit and by the most LZF can expand its
// input) before anything is allocated, and the output must be exactly that long.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::rdb {

// The largest uncompressed size `compressed_len` bytes of LZF data can produce (a 3-byte
// back reference expands to at most 264 bytes).
constexpr uint64_t LzfMaxExpansion(uint64_t compressed_len) { return compressed_len * 89 + 64; }

// Decompresses `in` into `*out`, which ends up exactly `expected_len` bytes long. Fails
// with RdbErrc::kLimitExceeded when expected_len > limit or more than `in` can expand to,
// and with RdbErrc::kCorrupt when the data does not decompress to exactly expected_len.
Result<void> LzfDecompress(ByteView in, uint64_t expected_len, uint64_t limit, std::string* out);

}  // namespace kf::rdb
