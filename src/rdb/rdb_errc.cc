// The "kf.rdb" error category (reader, codecs, DUMP payloads and the encoder).
#include "rdb/rdb_errc.h"

#include <string>

namespace kf::rdb {
namespace {

class RdbCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "kf.rdb"; }
  std::string message(int ev) const override {
    switch (static_cast<RdbErrc>(ev)) {
      case RdbErrc::kOk:
        return "ok";
      case RdbErrc::kTruncated:
        return "RDB input is truncated";
      case RdbErrc::kBadMagic:
        return "not an RDB file (bad magic)";
      case RdbErrc::kUnsupportedVersion:
        return "unsupported RDB version";
      case RdbErrc::kUnknownOpcode:
        return "unknown RDB opcode or value type";
      case RdbErrc::kUnsupportedType:
        return "unsupported RDB value type";
      case RdbErrc::kModuleValue:
        return "RDB module data cannot be decoded or re-encoded";
      case RdbErrc::kCorrupt:
        return "RDB data is corrupt";
      case RdbErrc::kLimitExceeded:
        return "RDB length above the configured limit";
      case RdbErrc::kChecksumMismatch:
        return "RDB checksum mismatch";
      case RdbErrc::kTrailingData:
        return "data after the RDB EOF record";
      case RdbErrc::kBadDumpPayload:
        return "bad DUMP payload";
      case RdbErrc::kFieldTtlNotRepresentable:
        return "hash field TTLs are not representable in the target RDB version";
      case RdbErrc::kInvalidValue:
        return "value cannot be encoded: it breaks an invariant of its type";
      case RdbErrc::kNotLoadable:
        return "RDB type not loadable by the target as is";
    }
    return "unknown kf.rdb error";
  }
};

}  // namespace

const std::error_category& RdbCategory() {
  static const RdbCategoryImpl category;
  return category;
}

}  // namespace kf::rdb
