// The streaming, resumable RDB reader.
//
// Feed() takes the file (or a replication payload) in chunks of any size, Finish() says
// the input ended. The reader parses as bytes arrive and reports what it finds to an
// RdbSink: header, aux fields, db selection, size hints, functions, module aux data, slot
// info, every key with its value, and the EOF record (CRC64 verified incrementally).
//
// Per key the sink chooses how far the value is decoded (OnKey returns an AccessLevel):
//   kSkip   - nothing is delivered (the value is walked, blobs are not decoded);
//   kRaw    - the serialized value exactly as in the file: the type byte followed by the
//             encoded value, i.e. a DUMP payload without its footer (OnRawValue);
//   kStruct - every encoded blob (ziplist / listpack / intset / zipmap / quicklist node /
//             stream node) as it is in the file after LZF decompression (OnStructBlob);
//             elements stored outside blobs, and stream metadata, arrive as kData;
//   kData   - the logical value (kf::rdb::Value, OnValue).
// A value bigger than ReaderOptions::big_value_bytes is delivered in parts (several
// OnValue / OnRawValue calls with last == false, then one with last == true), so a value
// of hundreds of MB never sits whole in memory; small values come in one call. A value's
// size here is its serialized size with every LZF-compressed string counted at its
// uncompressed length (roughly what the value takes once loaded). How parts are cut:
//   kRaw         - a value is known to be big once the bytes read of it pass the
//                  threshold, or as soon as a string's header announces a length that
//                  takes it past the threshold. The first part holds what was gathered
//                  until then (at most big_value_bytes), every later part at most
//                  min(big_value_bytes, 1 MiB). The parts joined are the RAW value.
//   kStruct/kData - aggregates: parts of decoded elements, the first of about
//                  big_value_bytes, later ones of about min(big_value_bytes, 1 MiB);
//                  one element is never split. Strings that make the value bigger than
//                  big_value_bytes (plain or LZF-compressed, decompressed as they stream
//                  with an 8 KiB window) come as consecutive pieces of Value::str of
//                  min(big_value_bytes, 1 MiB) bytes (the last one shorter);
//                  KeyInfo::string_length gives the whole length from the first piece.
//
// Memory: the reader holds only the unit it is decoding (one length, one string element,
// one blob), never the whole file or a whole big value; a unit split across Feed() calls
// is completed from the next chunk without re-scanning what came before. Every length is
// bounded by the bytes that actually arrived and by the configured limits before anything
// is allocated. Errors carry the byte offset and what was expected there.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"
#include "rdb/value.h"

namespace kf::rdb {

enum class AccessLevel : uint8_t { kSkip, kRaw, kStruct, kData };

// The key being read. `key` stays valid until the key's last callback returns.
struct KeyInfo {
  ByteView key;
  uint64_t db = 0;
  uint8_t rdb_type = 0;  // the type byte as in the file
  TypeKind kind = TypeKind::kInvalid;
  ValueType type = ValueType::kString;
  int64_t expire_ms = -1;  // absolute Unix ms, -1 = none
  int64_t idle_s = -1;     // LRU idle seconds (IDLE opcode), -1 = none
  int freq = -1;           // LFU counter (FREQ opcode), -1 = none
  uint64_t offset = 0;     // file offset of the type byte
  // A string value at kStruct/kData: its length (after LZF decompression), set before the
  // first OnValue (so a sink can size the whole string before its first piece); else 0.
  uint64_t string_length = 0;
};

enum class BlobKind : uint8_t {
  kZipmap,
  kZiplist,
  kIntset,
  kListpack,
  kQuicklistPlainNode,  // a quicklist v2 "plain" node: one element, not a listpack
  kStreamListpack,
};

struct StructBlob {
  BlobKind kind = BlobKind::kListpack;
  ByteView data;       // decompressed blob
  ByteView node_key;   // stream nodes: the 16-byte master ID (big-endian ms, seq)
  uint64_t index = 0;  // 0-based blob number within the value
};

struct FunctionLibrary {
  std::string name;  // from "#!<engine> name=<name>" (or the pre-GA record)
  std::string engine;
  std::string description;  // pre-GA records only
  std::string code;
  bool pre_ga = false;  // opcode 246 (Redis 7.0 release candidates)
};

struct ModuleAux {
  uint64_t module_id = 0;
  std::string module_name;  // decoded from module_id
  uint64_t when = 0;        // 1 = before keys, 2 = after keys
  ByteView raw;             // the record's bytes after the opcode, as in the file
};

struct EofInfo {
  bool has_checksum = false;      // RDB 5+
  uint64_t checksum = 0;          // as stored; 0 = the saver did not compute one
  bool checksum_checked = false;  // compared against the data (stored != 0 and enabled)
  uint64_t offset = 0;            // offset of the EOF opcode
};

// Receives the reader's events. Every method has an empty default; override what you need.
// Callbacks must not call back into the reader.
class RdbSink {
 public:
  virtual ~RdbSink() = default;
  virtual void OnHeader(const RdbFormat& /*format*/) {}
  virtual void OnAux(ByteView /*key*/, ByteView /*value*/) {}
  virtual void OnSelectDb(uint64_t /*db*/) {}
  virtual void OnResizeDb(uint64_t /*db_size*/, uint64_t /*expires_size*/) {}
  virtual void OnSlotInfo(uint64_t /*slot*/, uint64_t /*size*/, uint64_t /*expires_size*/) {}
  virtual void OnFunction(const FunctionLibrary& /*library*/) {}
  virtual void OnModuleAux(const ModuleAux& /*aux*/) {}
  // A key starts; the return value chooses what is delivered for its value.
  virtual AccessLevel OnKey(const KeyInfo& /*key*/) { return AccessLevel::kData; }
  // kRaw: consecutive parts of the serialized value (type byte first).
  virtual void OnRawValue(const KeyInfo& /*key*/, ByteView /*part*/, bool /*last*/) {}
  // kStruct: one encoded blob.
  virtual void OnStructBlob(const KeyInfo& /*key*/, const StructBlob& /*blob*/) {}
  // kData (and kStruct for what is not in blobs): the value, or a part of it. `part` may be
  // moved from; the reader clears it afterwards.
  virtual void OnValue(const KeyInfo& /*key*/, Value& /*part*/, bool /*last*/) {}
  // After every key, whatever the level: the serialized size (type byte + value bytes).
  virtual void OnKeyEnd(const KeyInfo& /*key*/, uint64_t /*serialized_bytes*/) {}
  virtual void OnEof(const EofInfo& /*eof*/) {}
};

struct ReaderOptions {
  // Largest string / blob / LZF-decompressed string accepted (one element).
  uint64_t max_string_bytes = uint64_t{1} << 32;
  // Values above this many bytes are delivered in parts (see the top of this file).
  uint64_t big_value_bytes = uint64_t{64} << 20;
  // Compare the stored CRC64 with the data (a stored 0 means "not computed" and is accepted).
  bool verify_checksum = true;
  // Module values (type 7) and module aux records: false = stop with RdbErrc::kModuleValue;
  // true = pass them through (aux as raw bytes; values at kRaw, or at kData as a kModule
  // Value whose `str` holds the serialized module data).
  bool module_passthrough = false;
};

class RdbReader {
 public:
  explicit RdbReader(RdbSink* sink, ReaderOptions options = {});
  ~RdbReader();
  RdbReader(const RdbReader&) = delete;
  RdbReader& operator=(const RdbReader&) = delete;

  // Makes the input one serialized value instead of an RDB file: its type byte and encoded
  // value (a DUMP payload without its footer, or the OnRawValue parts of a key joined), in
  // `format`. Call before the first Feed. There is no header, key, expiry or EOF record:
  // the value is delivered at kData (OnValue, in parts when it is bigger than
  // big_value_bytes) with an empty KeyInfo::key and without OnHeader, OnKey or OnEof;
  // done() once it is complete, and Finish() fails until then.
  void ExpectSerializedValue(const RdbFormat& format);

  // Parses what it can of `data` (any size, including 0). Once an error is returned, every
  // later call returns it again.
  Result<void> Feed(ByteView data);
  // The input has ended: an error unless the EOF record (and checksum) was read.
  Result<void> Finish();

  // Bytes consumed so far (the offset errors refer to).
  uint64_t offset() const;
  bool done() const;
  const RdbFormat& format() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Decodes a DUMP payload (type byte + value + 2-byte RDB version + CRC64) into a Value,
// after checking the footer. `options.module_passthrough` applies to module values.
Result<Value> DecodeDumpPayload(ByteView payload, const ReaderOptions& options = {});

}  // namespace kf::rdb
