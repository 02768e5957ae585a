// Facts about the RDB format shared by the reader and the DUMP-payload decoder: the
// header (magic + version), type and opcode numbers per engine, and pure decoders of the
// small primitives (lengths, string headers, doubles, times).
//
// Type and opcode numbers up to 21 mean the same in every engine. From 22 on they diverge:
// Redis 7.4+ (RDB 12..14) uses 22..25 for hashes with field TTLs, Valkey 9 (RDB 80/81,
// magic VALKEY) uses 22 for its own field-TTL hash. The table to use is chosen by
// magic AND version (DUMP payloads carry only the version: 12..79 is Redis, 80+ Valkey).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::rdb {

// Value types (the byte before each key).
inline constexpr uint8_t kTypeString = 0;
inline constexpr uint8_t kTypeList = 1;
inline constexpr uint8_t kTypeSet = 2;
inline constexpr uint8_t kTypeZset = 3;
inline constexpr uint8_t kTypeHash = 4;
inline constexpr uint8_t kTypeZset2 = 5;
inline constexpr uint8_t kTypeModulePreGa = 6;
inline constexpr uint8_t kTypeModule2 = 7;
inline constexpr uint8_t kTypeHashZipmap = 9;
inline constexpr uint8_t kTypeListZiplist = 10;
inline constexpr uint8_t kTypeSetIntset = 11;
inline constexpr uint8_t kTypeZsetZiplist = 12;
inline constexpr uint8_t kTypeHashZiplist = 13;
inline constexpr uint8_t kTypeListQuicklist = 14;
inline constexpr uint8_t kTypeStreamListpacks = 15;
inline constexpr uint8_t kTypeHashListpack = 16;
inline constexpr uint8_t kTypeZsetListpack = 17;
inline constexpr uint8_t kTypeListQuicklist2 = 18;
inline constexpr uint8_t kTypeStreamListpacks2 = 19;
inline constexpr uint8_t kTypeSetListpack = 20;
inline constexpr uint8_t kTypeStreamListpacks3 = 21;
// Redis 7.4+ (RDB 12+) only.
inline constexpr uint8_t kTypeRedisHashMetadataPreGa = 22;
inline constexpr uint8_t kTypeRedisHashListpackExPreGa = 23;
inline constexpr uint8_t kTypeRedisHashMetadata = 24;
inline constexpr uint8_t kTypeRedisHashListpackEx = 25;
// Valkey 9+ (RDB 80+) only.
inline constexpr uint8_t kTypeValkeyHash2 = 22;

// Opcodes.
inline constexpr uint8_t kOpSlotInfo = 244;  // Valkey 8+ / Redis cluster saves
inline constexpr uint8_t kOpFunction2 = 245;
inline constexpr uint8_t kOpFunctionPreGa = 246;
inline constexpr uint8_t kOpModuleAux = 247;
inline constexpr uint8_t kOpIdle = 248;
inline constexpr uint8_t kOpFreq = 249;
inline constexpr uint8_t kOpAux = 250;
inline constexpr uint8_t kOpResizeDb = 251;
inline constexpr uint8_t kOpExpireTimeMs = 252;
inline constexpr uint8_t kOpExpireTime = 253;
inline constexpr uint8_t kOpSelectDb = 254;
inline constexpr uint8_t kOpEof = 255;

// Module serialization opcodes (module values and module aux data).
inline constexpr uint64_t kModuleOpEof = 0;
inline constexpr uint64_t kModuleOpSint = 1;
inline constexpr uint64_t kModuleOpUint = 2;
inline constexpr uint64_t kModuleOpFloat = 3;
inline constexpr uint64_t kModuleOpDouble = 4;
inline constexpr uint64_t kModuleOpString = 5;

// Quicklist v2 node containers.
inline constexpr uint64_t kQuicklistNodePlain = 1;
inline constexpr uint64_t kQuicklistNodePacked = 2;

enum class RdbMagic : uint8_t { kRedis, kValkey };

// The format a file (or DUMP payload) is in: picks the type/opcode table.
struct RdbFormat {
  RdbMagic magic = RdbMagic::kRedis;
  int version = 11;

  bool IsValkeyTable() const { return version >= 80; }
  bool IsRedisTable() const { return version >= 12 && version < 80; }
  bool HasChecksum() const { return version >= 5; }
};

// Parses the 9-byte header "REDISnnnn" / "VALKEYnnn". Fails (with the version named) on a
// bad magic or an unsupported version: REDIS 1..14, VALKEY 80/81.
Result<RdbFormat> ParseHeader(ByteView nine_bytes);

// The format implied by a DUMP payload's 2-byte version.
Result<RdbFormat> FormatForDumpVersion(int version);

// What a value type byte means in a format.
enum class TypeKind : uint8_t {
  kInvalid,      // not a type in this format
  kUnsupported,  // a known type this reader cannot decode (named in the error)
  kString,
  kListLinked,
  kSetPlain,
  kZsetOld,
  kZset2,
  kHashPlain,
  kModulePreGa,
  kModule2,
  kHashZipmap,
  kListZiplist,
  kSetIntset,
  kZsetZiplist,
  kHashZiplist,
  kListQuicklist,
  kStream,  // 15, 19, 21
  kHashListpack,
  kZsetListpack,
  kListQuicklist2,
  kSetListpack,
  kHashMetadata,    // Redis 22 / 24
  kHashListpackEx,  // Redis 23 / 25
};

TypeKind ClassifyType(uint8_t type, const RdbFormat& format);
// "list-quicklist2", "hash-listpack-ex", ... (unknown types: "type-<n>").
std::string RdbTypeName(uint8_t type, const RdbFormat& format);
// Whether `op` is an opcode (not a value type) in this format.
bool IsOpcode(uint8_t op, const RdbFormat& format);

// Outcome of a primitive decoder: complete, needs more bytes, or corrupt.
enum class Parse : uint8_t { kOk, kNeedMore, kCorrupt };

// An RDB length at p (6/14/32/64-bit, or a special-encoding marker 11xxxxxx). On kOk:
// *value is the length (or the special kind 0..3 when *special), *size the bytes used.
// On kNeedMore: *size is how many bytes the length needs in total.
Parse DecodeLength(const uint8_t* p, const uint8_t* end, uint64_t* value, bool* special,
                   size_t* size);

// Binary double / ms time / s time (little-endian).
double DecodeBinaryDouble(const uint8_t* p);
uint64_t DecodeLe64(const uint8_t* p);
uint32_t DecodeLe32(const uint8_t* p);
// A signed little-endian integer of `bytes` (1..8) bytes, sign-extended (int-encoded RDB
// strings, listpack / ziplist integers, intset members).
int64_t DecodeLeSigned(const uint8_t* p, size_t bytes);

// Old-style score: 1 length byte (253 nan, 254 +inf, 255 -inf) then that many ASCII
// bytes. *size = bytes used (or needed on kNeedMore).
Parse DecodeStringDouble(const uint8_t* p, const uint8_t* end, double* value, size_t* size);

// The module name encoded in a 64-bit module id (9 characters) and its encoding version.
std::string ModuleNameFromId(uint64_t module_id);

}  // namespace kf::rdb
