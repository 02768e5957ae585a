// The frame check shared by the listpack and ziplist readers (see packed_entry.h).
#include "rdb/packed_entry.h"

#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"

namespace kf::rdb {

Result<void> CheckPackedBlobFrame(ByteView blob, const char* kind, size_t min_size) {
  if (blob.size() < min_size) {
    return MakeError(RdbErrc::kCorrupt, std::string(kind) + " of " + std::to_string(blob.size()) +
                                            " bytes is below the " + std::to_string(min_size) +
                                            "-byte minimum");
  }
  const uint32_t total = DecodeLe32(blob.data());
  if (total != blob.size()) {
    return MakeError(RdbErrc::kCorrupt, std::string(kind) + " header says " +
                                            std::to_string(total) + " bytes but the blob has " +
                                            std::to_string(blob.size()));
  }
  if (blob[blob.size() - 1] != 0xFF) {
    return MakeError(RdbErrc::kCorrupt,
                     std::string(kind) + " does not end with the 0xFF terminator");
  }
  return {};
}

}  // namespace kf::rdb
