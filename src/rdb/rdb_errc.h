// Error codes of the RDB layer (reader, codecs, DUMP payload decoding).
//
// RdbErrc is an std::error_code enum with its own category ("kf.rdb"); make_error_code is
// found by ADL so `std::error_code ec = RdbErrc::kTruncated;` works. Messages built on top of
// these codes carry the byte offset and what was expected there.
#pragma once

#include <system_error>
#include <type_traits>

namespace kf::rdb {

enum class RdbErrc {
  kOk = 0,
  kTruncated,           // input ended before the structure was complete
  kBadMagic,            // not an RDB file (magic is neither REDIS nor VALKEY)
  kUnsupportedVersion,  // an RDB version this reader does not know
  kUnknownOpcode,       // an opcode/type byte that is not valid for this magic+version
  kUnsupportedType,     // a known type this reader cannot decode (e.g. foreign types)
  kModuleValue,         // a module value or module aux field and pass-through is off
  kCorrupt,             // a structure is inconsistent (bad encoding, bad count, ...)
  kLimitExceeded,       // a claimed length is above the configured limit
  kChecksumMismatch,    // the CRC64 at the end does not match the data
  kTrailingData,        // bytes after the EOF record
  kBadDumpPayload,      // a DUMP payload's footer is missing or wrong
};

const std::error_category& RdbCategory();

inline std::error_code make_error_code(RdbErrc e) { return {static_cast<int>(e), RdbCategory()}; }

}  // namespace kf::rdb

template <>
struct std::is_error_code_enum<kf::rdb::RdbErrc> : std::true_type {};
