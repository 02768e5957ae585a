// Restore: loads an RDB backup (a file, or standard input) into a Valkey target, standalone
// or cluster — `keyferry restore` (docs/restore.md).
//
// The same path as a live sync's snapshot, minus the replica link: the file is read in
// chunks by rdb::RdbReader into SnapshotSink, which writes each key to the target's
// snapshot lanes (target::Writer: routed per slot for a cluster) with the same
// transcoding, big-key chunking, --db-map / --match / --exclude and --on-unsupported rules.
// Memory stays bounded whatever the file's size; nothing is spooled.
//
// Contract:
//   - Before any write: the options parse, the target answers, it does not evict
//     (RefuseEvictingTarget), and it holds no key and no function library — or, with
//     flush_target, both are deleted (FLUSHALL, FUNCTION FLUSH on every primary).
//     A refusal (kTargetNotEmpty, kTargetDropped, kBadOption) writes nothing.
//   - While writing, the target carries keyferry's marker in state "snapshot" (target/
//     applied_marker.h): a partial copy is flagged, and a later sync refuses to resume into
//     it. Success removes the marker.
//   - Any failure after the first write (a truncated or corrupt file — the CRC64 is checked
//     at the end —, a value the target refuses, a lost target, a stop request) empties the
//     target again (FLUSHALL and FUNCTION FLUSH on every primary): it was empty when the
//     restore began, so that is the state it is left in, and the error says so. When even that
//     fails the error says the target holds a partial copy flagged by the marker.
//   - Success means every key the file holds (less the filtered and the skipped, counted)
//     was answered OK by the target and the file's checksum matched (or the file has none,
//     which the summary says).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/uri.h"
#include "source/rdb_file_input.h"
#include "sync/snapshot_sink.h"

namespace kf::sync {

struct RestoreOptions {
  net::Uri target;
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  std::vector<std::string> db_map;
  OnUnsupported on_unsupported = OnUnsupported::kFail;
  uint64_t big_key_threshold = uint64_t{64} << 20;
  int writers = 2;
  bool flush_target = false;
};

// Progress, readable from another thread while RestoreRdb runs.
struct RestoreProgress {
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> total_bytes{0};  // 0 when unknown (standard input)
  std::atomic<uint64_t> keys_written{0};
  std::atomic<uint64_t> keys_skipped{0};
  std::atomic<int64_t> started_ms{0};
};

struct RestoreSummary {
  std::string source;  // the file's name, or "standard input"
  std::string target;  // the writer's description
  int rdb_version = 0;
  uint64_t bytes = 0;
  uint64_t keys_written = 0;
  uint64_t keys_skipped = 0;  // --on-unsupported skip, and keys filtered out
  uint64_t keys_chunked = 0;
  uint64_t functions_loaded = 0;
  bool checksum_checked = false;  // false: the file carries no checksum (RDB < 5, or 0)
  bool target_flushed = false;    // --flush-target deleted keys before the restore
  int64_t ms = 0;
};

Result<RestoreSummary> RestoreRdb(source::RdbFileInput& input, const RestoreOptions& options,
                                  RestoreProgress* progress, const std::atomic<bool>& stop);

}  // namespace kf::sync
