// A plain string value in its serialized form, read without the RDB reader.
//
// What RdbReader hands over at kRaw for a key of type 0 (kTypeString) is the type byte and
// one RDB string: raw bytes, an integer (int8/16/32, little-endian) or LZF-compressed data.
// ParseSerializedString reads its header and DecodeSerializedStringInto writes the string
// itself into memory the caller owns, so a caller that copies string values into commands
// (the snapshot's MSET batches) decodes each straight into place, once.
#pragma once

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::rdb {

struct SerializedString {
  enum class Kind : uint8_t { kRaw, kInteger, kLzf };
  Kind kind = Kind::kRaw;
  ByteView data;        // kRaw: the string's bytes; kLzf: the compressed bytes
  int64_t integer = 0;  // kInteger: the value (the string is its decimal form)
  uint64_t length = 0;  // the decoded string's length in bytes
};

// Reads the whole of `serialized` (type byte 0, then one RDB string and nothing after it)
// into *out. False, with *out unspecified, for anything else: another type, a header that
// is cut or corrupt, bytes missing or left over. LZF data is not decompressed here (see
// DecodeSerializedStringInto); its announced length is not bounded here either: bound
// out->length before allocating room for it.
bool ParseSerializedString(ByteView serialized, SerializedString* out);

// Writes the string `s` describes into `out`, which must be exactly s.length bytes.
// Errors (RdbErrc): kCorrupt when LZF data does not decompress to exactly s.length bytes
// (`out` holds garbage then), kInvalidValue when `out` has another size.
Result<void> DecodeSerializedStringInto(const SerializedString& s, std::span<uint8_t> out);

}  // namespace kf::rdb
