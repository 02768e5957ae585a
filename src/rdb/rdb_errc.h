// Error codes of the RDB layer: the reader, the codecs, DUMP payload decoding and the
// DUMP-payload encoder (one enum for the whole domain, DESIGN.md §7).
//
// RdbErrc is an std::error_code enum with its own category ("kf.rdb"); make_error_code is
// found by ADL so `std::error_code ec = RdbErrc::kTruncated;` works. Messages built on top of
// these codes carry the byte offset (or the key / field) and what was expected there.
#pragma once

#include <system_error>
#include <type_traits>

namespace kf::rdb {

enum class RdbErrc {
  kOk = 0,
  kTruncated,           // input ended before the structure was complete
  kBadMagic,            // not an RDB file (magic is neither REDIS nor VALKEY)
  kUnsupportedVersion,  // an RDB version this reader does not know, or that the encoder
                        // does not write (target versions other than 9, 10, 11)
  kUnknownOpcode,       // an opcode/type byte that is not valid for this magic+version
  kUnsupportedType,     // a known type this reader cannot decode (e.g. foreign types)
  kModuleValue,         // a module value or module aux field: pass-through is off, or the
                        // encoder was asked to re-encode it (its format is the module's)
  kCorrupt,             // a structure is inconsistent (bad encoding, bad count, ...)
  kLimitExceeded,       // a claimed length is above the configured limit
  kChecksumMismatch,    // the CRC64 of a file or DUMP payload does not match the data
  kTrailingData,        // bytes after the EOF record
  kBadDumpPayload,      // a DUMP payload's footer is missing or wrong, or it is too short
  // Encoder (encoder.h).
  kFieldTtlNotRepresentable,  // hash field TTLs and a target RDB version without them
  kInvalidValue,              // a Value breaks an invariant (empty list, NaN score, ...)
  kNotLoadable,               // a payload's RDB type cannot be loaded by the target as is
};

const std::error_category& RdbCategory();

inline std::error_code make_error_code(RdbErrc e) { return {static_cast<int>(e), RdbCategory()}; }

}  // namespace kf::rdb

template <>
struct std::is_error_code_enum<kf::rdb::RdbErrc> : std::true_type {};
