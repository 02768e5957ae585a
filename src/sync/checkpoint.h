// The sync checkpoint: the replication id and the offset the target has applied, kept in
// a small file so that a restarted `keyferry sync` can ask the source to CONTINUE.
//
// The file is JSON, e.g. {"id":"3f0c...","replid":"8de1...","offset":12345,"db":0,
// "updated_ms":1764140000000}. `id` names the migration (the target's applied-offset
// marker carries the same id, target/applied_marker.h); the marker, written with the data,
// is what a resume trusts for the offset — the file's offset is informative.
// Writes are atomic (write to FILE.tmp, fsync, rename over FILE, fsync the directory), so a
// crash leaves either the old or the new checkpoint, never a torn one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace kf::sync {

struct Checkpoint {
  std::string id;  // the migration's id; empty in files written before the marker existed
  std::string replid;
  int64_t offset = -1;  // the last applied replication offset (PSYNC asks for offset + 1)
  int64_t updated_ms = 0;
  int db = 0;  // the db the stream's next command applies to (after --db-map: source db)
};

// Reads FILE; nullopt when it does not exist. A file that exists but cannot be parsed is
// an error (it is never silently ignored: that would turn a resume into a full sync).
Result<std::optional<Checkpoint>> LoadCheckpoint(const std::string& path);
Result<void> SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint);

}  // namespace kf::sync
