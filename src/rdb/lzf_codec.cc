// LZF decompression with bounded output (see lzf_codec.h).
#include "rdb/lzf_codec.h"

#include <lzf.h>

#include "rdb/rdb_errc.h"

namespace kf::rdb {

Result<void> LzfDecompress(ByteView in, uint64_t expected_len, uint64_t limit, std::string* out) {
  if (expected_len > limit) {
    return MakeError(RdbErrc::kLimitExceeded, "LZF string claims " + std::to_string(expected_len) +
                                                  " uncompressed bytes, above the limit of " +
                                                  std::to_string(limit));
  }
  if (expected_len > LzfMaxExpansion(in.size()) || in.size() > UINT32_MAX ||
      expected_len > UINT32_MAX) {
    return MakeError(RdbErrc::kCorrupt, "LZF string claims " + std::to_string(expected_len) +
                                            " uncompressed bytes from only " +
                                            std::to_string(in.size()) + " compressed bytes");
  }
  out->resize(expected_len);
  if (expected_len == 0) {
    if (!in.empty()) return MakeError(RdbErrc::kCorrupt, "LZF string of length 0 has data");
    return {};
  }
  unsigned int n = lzf_decompress(in.data(), static_cast<unsigned int>(in.size()), out->data(),
                                  static_cast<unsigned int>(expected_len));
  if (n != expected_len) {
    out->clear();
    return MakeError(RdbErrc::kCorrupt, "LZF data decompressed to " + std::to_string(n) +
                                            " bytes instead of the claimed " +
                                            std::to_string(expected_len));
  }
  return {};
}

}  // namespace kf::rdb
