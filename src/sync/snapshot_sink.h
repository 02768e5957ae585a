// SnapshotSink: turns the keys of a source snapshot (RDB reader events) into writes on the
// target's snapshot lanes.
//
// Per key (DESIGN.md §3):
//  - filtered out (--match/--exclude) → skipped unread;
//  - the target loads the encoding as is → RAW pass-through: `RESTORE key ttl payload
//    ABSTTL [IDLETIME s | FREQ f] REPLACE` where payload = the source bytes + a new footer;
//  - it does not (e.g. Redis 7.4 field-TTL hashes for Valkey 8) → --on-unsupported decides:
//    fail (stop with the key named), skip (logged), drop-field-ttl (decoded, field TTLs
//    dropped, re-encoded for the target's RDB version);
//  - a plain string without TTL, LRU or LFU data (at most 16 KiB serialized) → gathered
//    with others of its lane and db into one `MSET k1 v1 k2 v2 ...` (options.mset_pairs per
//    command): the same result as RESTORE ... REPLACE, at a fraction of the target's
//    per-command cost. Pending MSETs are written by Flush() (and at the end of the RDB).
//    An MSET holds keys of one lane and db only; a cluster writer would have to group them
//    by slot instead;
//  - a value bigger than the big-key threshold (the reader hands it over in parts) is
//    decoded while it streams, by a nested reader that hands over decoded parts of about
//    chunk_bytes, and written as chunked commands: DEL, then RPUSH / SADD / ZADD / HSET /
//    XADD batches, or for a string one SETRANGE at its last byte (the target allocates it
//    once) and a SETRANGE per piece of at most 1 MiB (LZF strings decompressed as they
//    stream), then PEXPIREAT — never whole in memory. Such a key is only whole once its
//    last command is answered; the snapshot counts as applied only at the barrier
//    (SnapshotLanes::Drain), and a snapshot that fails before is redone from scratch.
// Function libraries become FUNCTION LOAD REPLACE. The first error stops the sink; the
// caller checks error() after each Feed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rdb/reader.h"
#include "sync/key_filter.h"
#include "sync/target_expiries.h"
#include "target/snapshot_lanes.h"

namespace kf::sync {

enum class OnUnsupported { kFail, kSkip, kDropFieldTtl };

struct SnapshotSinkOptions {
  int target_rdb_version = 11;
  OnUnsupported on_unsupported = OnUnsupported::kFail;
  uint64_t chunk_elements = 1000;   // elements per chunked command
  uint64_t chunk_bytes = 1u << 20;  // bytes per chunked command
  uint32_t mset_pairs = 128;        // strings per MSET; 0 = every string as RESTORE
  // When set, keys whose expiry is already past or near (expiry_watch_ms from now) are
  // recorded here: the target drops them on RESTORE without an `expired` event, so a
  // stream write that reaches it afterwards would recreate them unseen (target_expiries.h).
  TargetExpiries* expiries = nullptr;
  int64_t expiry_watch_ms = 2000;
};

class SnapshotSink : public rdb::RdbSink {
 public:
  SnapshotSink(target::SnapshotLanes* lanes, const KeyFilter* filter, DbLanding* landing,
               SnapshotSinkOptions options);
  ~SnapshotSink() override;

  void OnHeader(const rdb::RdbFormat& format) override;
  void OnFunction(const rdb::FunctionLibrary& library) override;
  rdb::AccessLevel OnKey(const rdb::KeyInfo& key) override;
  void OnRawValue(const rdb::KeyInfo& key, ByteView part, bool last) override;
  void OnValue(const rdb::KeyInfo& key, rdb::Value& part, bool last) override;
  void OnEof(const rdb::EofInfo& eof) override;

  // Writes the pending MSETs to the lanes. Call before SnapshotLanes::Drain().
  void Flush();

  // The first failure (a lane error, an unsupported value with kFail), if any.
  const std::optional<Error>& error() const { return error_; }
  uint64_t keys_written() const { return keys_written_; }
  uint64_t keys_skipped() const { return keys_skipped_; }
  uint64_t keys_chunked() const { return keys_chunked_; }
  uint64_t functions_loaded() const { return functions_loaded_; }

  // Writes one decoded part of a big value as commands (used by the nested reader too).
  // `string_length` is the whole length of a string value (KeyInfo::string_length).
  void WriteValuePart(int db, ByteView key, int64_t expire_ms, uint64_t string_length,
                      rdb::Value& part, bool first, bool last);

 private:
  class NestedDecoder;
  void Submit(int db, ByteView key, Bytes command, const char* what);
  // RESTORE of one whole value, written straight into the lane's buffer: `payload` is the
  // serialized value, given its DUMP footer for `footer_version` on the way, or (with
  // footer_version 0) a whole DUMP payload.
  void SubmitRestore(int db, const rdb::KeyInfo& key, ByteView payload, int footer_version);
  // One command (args[0] is `command`, args[1] the key), written straight into the lane's
  // buffer.
  void SubmitArgs(int db, ByteView key, const char* command, const std::vector<std::string>& args);
  // SETRANGE key offset piece, written straight into the lane's buffer.
  void SubmitSetRange(int db, ByteView key, uint64_t offset, ByteView piece);
  // One piece of a big string: before the first, DEL and the whole length allocated;
  // then the piece copied in place.
  void WriteStringPart(int db, ByteView key, uint64_t length, const std::string& piece, bool first,
                       bool last);
  void SetError(Error e);
  // Adds a string to its lane's pending MSET; false when `raw` is not a plain string
  // encoding this sink decodes (the caller RESTOREs it instead).
  bool AddToMset(int db, size_t lane, ByteView key, ByteView raw);
  void FlushMset(size_t lane);

  // One lane's MSET being gathered.
  struct PendingMset {
    int db = 0;
    uint32_t count = 0;
    Bytes pairs;  // RESP bulk strings: key, value, key, value...
    Bytes first_key;
  };

  target::SnapshotLanes* lanes_;
  const KeyFilter* filter_;
  DbLanding* landing_;  // maps source dbs, refusing two that would share a target db
  int key_db_ = 0;      // target db of the current key
  SnapshotSinkOptions options_;
  rdb::RdbFormat format_;
  int footer_version_ = 11;
  std::optional<Error> error_;
  bool value_started_ = false;
  std::unique_ptr<NestedDecoder> nested_;
  std::vector<PendingMset> msets_;  // by lane
  uint64_t string_offset_ = 0;      // where the next piece of a big string goes
  uint64_t keys_written_ = 0;
  uint64_t keys_skipped_ = 0;
  uint64_t keys_chunked_ = 0;
  uint64_t functions_loaded_ = 0;
};

}  // namespace kf::sync
