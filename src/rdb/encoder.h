// The DUMP-payload encoder: turns a logical Value into the bytes `RESTORE key ttl payload`
// accepts, for a chosen target RDB version, and rebuilds the footer of payloads that are
// passed through unchanged.
//
// A DUMP payload is: the RDB type byte, the RDB-serialized value, the RDB version as
// uint16 little-endian, and the CRC-64 (kf::rdb::Crc64) of everything before it as uint64
// little-endian.
//
// The encoder picks encodings the way the server of that version does with its default
// configuration, so small values get the compact form and big ones the plain form:
//   version 9  (Redis 5.0-6.2): ziplist hashes/zsets, quicklist of ziplists, intset sets,
//                               STREAM_LISTPACKS
//   version 10 (Redis 7.0):     listpack hashes/zsets, quicklist v2, intset sets,
//                               STREAM_LISTPACKS_2
//   version 11 (Redis 7.2, Valkey 7.2-8.1): as 10 plus listpack sets, plain quicklist nodes
//                               for elements above the node size, STREAM_LISTPACKS_3
// For values whose server encoding is a function of the content (strings, intsets,
// listpacks, ziplists, quicklists built by appending, skiplist zsets, streams without
// deleted entries) the output is byte-identical to `DUMP` on that server (with the same
// rdbcompression setting); hash-table sets and hashes are written in the Value's order.
// One deliberate difference: a zset score of -0 in a listpack is stored as the string
// "-0" (the server stores the integer 0 and loses the sign), so every score survives
// bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"
#include "rdb/value.h"

namespace kf::rdb {

// Server configuration that decides encodings; defaults are the servers' defaults.
struct EncodeOptions {
  // Hash field TTLs (Redis 7.4+) have no RDB <= 11 form: false = refuse such a hash,
  // true = write the hash without its field TTLs.
  bool drop_field_ttls = false;
  // LZF-compress strings and blobs over 20 bytes when it pays (`rdbcompression yes`).
  // Off by default: RESTORE loads either form and compression costs keyferry CPU.
  bool compress_strings = false;

  size_t hash_max_listpack_entries = 512;  // hash-max-listpack-entries (ziplist in RDB 9)
  size_t hash_max_listpack_value = 64;
  size_t zset_max_listpack_entries = 128;
  size_t zset_max_listpack_value = 64;
  size_t set_max_intset_entries = 512;
  size_t set_max_listpack_entries = 128;  // RDB 11+ only
  size_t set_max_listpack_value = 64;
  // list-max-listpack-size: negative = node byte limit (-1: 4 KiB ... -5: 64 KiB),
  // positive = entries per node.
  int list_max_listpack_size = -2;
  size_t stream_node_max_bytes = 4096;
  size_t stream_node_max_entries = 100;
};

// The RDB versions EncodeDumpPayload writes: 9, 10 and 11.
constexpr int kMinEncodeRdbVersion = 9;
constexpr int kMaxEncodeRdbVersion = 11;

// Encodes `value` as a complete DUMP payload (footer included) for `target_rdb_version`.
// Errors (RdbErrc): kUnsupportedVersion (a target other than 9..11), kModuleValue (module
// values have no generic encoding), kFieldTtlNotRepresentable (hash with field TTLs unless
// drop_field_ttls), kInvalidValue (empty list/set/zset/hash, NaN score, stream entries out
// of order or PEL entries naming unknown consumers).
Result<Bytes> EncodeDumpPayload(const Value& value, int target_rdb_version,
                                const EncodeOptions& options = {});

// Bytes of a DUMP payload's footer: the RDB version (uint16) and the CRC-64 (uint64).
inline constexpr size_t kDumpFooterBytes = 10;

// Writes a whole DUMP payload into `out`, memory the caller owns (e.g. the space of a
// RESTORE argument in a buffer being encoded, resp::AppendBulkSpace), so the value is copied
// once: `serialized_value` (the type byte plus the encoded value, as the RDB reader hands it
// over at kRaw), then the footer for `rdb_version` with the CRC-64 of everything before it.
// `out` must be exactly serialized_value.size() + kDumpFooterBytes long (must not overlap
// `serialized_value`). Errors: kBadDumpPayload (an empty value or `out` of another size),
// kUnsupportedVersion (a version outside 1..65535); `out` is left unwritten then.
Result<void> WriteDumpPayload(ByteView serialized_value, int rdb_version, std::span<uint8_t> out);

// Appends a footer for `target_rdb_version` to a serialized value (the type byte plus the
// encoded value, without any footer: the RAW bytes the RDB reader hands over).
// Errors: kBadDumpPayload when `serialized_value` is empty; kUnsupportedVersion when the
// version does not fit the 2-byte field.
Result<Bytes> RewriteDumpFooter(ByteView serialized_value, int target_rdb_version);

// Takes a whole DUMP payload (e.g. from `DUMP` on the source), verifies its CRC-64, checks
// that its type can be loaded by the target as is, and returns it with a footer for
// `target_rdb_version`. Errors: kBadDumpPayload (too short), kChecksumMismatch,
// kNotLoadable.
Result<Bytes> RetargetDumpPayload(ByteView dump_payload, int target_rdb_version);

// (The footer's version is read by DumpPayloadVersion in rdb/reader.h.)

// Whether a value serialized with RDB type `rdb_type` by a server writing RDB
// `source_rdb_version` can be loaded unchanged (after a footer rewrite) by a server that
// reads RDB `target_rdb_version`. Versions below 80 follow Redis' type table, 80 and up
// Valkey's (files with the VALKEY magic): types 0-21 mean the same in both; types 22 and up
// are only loadable within one family by a target at least as new. Module types (6, 7)
// need the module on the target and are reported as not loadable.
bool IsTypeLoadableAsIs(int rdb_type, int source_rdb_version, int target_rdb_version);

// The first RDB version that defines `rdb_type` in Redis' table, or -1 when unknown.
int MinRdbVersionForType(int rdb_type);

// Formats a zset score the way the server's d2string does for the given RDB version's
// server (used for scores that are not stored as integers): "%.17g" for RDB <= 10, the
// shortest round-trip form laid out like fpconv_dtoa for RDB 11; "inf", "-inf", "-0".
std::string FormatScore(double score, int rdb_version);

}  // namespace kf::rdb
