// Checks of a target before anything is written to it, shared by the live sync
// (SyncEngine) and `keyferry restore` (restore.h). Each reads INFO from every primary
// through target::Writer, so a standalone server and a cluster are checked alike.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "target/writer.h"

namespace kf::sync {

// The RDB version every primary can load (the oldest one decides), capped at 11, the
// newest the encoder writes. Errors are the writer's (INFO failed).
Result<int> TargetRdbVersion(target::Writer& writer);

// Keys in every db of every primary (INFO keyspace), markers included.
Result<uint64_t> TargetKeyCount(target::Writer& writer);

// Function libraries on the target: the most any primary holds (FUNCTION LIST).
Result<uint64_t> TargetFunctionLibraryCount(target::Writer& writer);

// FLUSHALL and FUNCTION FLUSH on every primary: no key and no library left.
Result<void> EmptyTarget(target::Writer& writer);

// kTargetDropped naming the node when a primary has a maxmemory and a maxmemory-policy
// that can evict: keys copied there could silently disappear. Says how to fix it.
Result<void> RefuseEvictingTarget(target::Writer& writer);

// INFO stats evicted_keys summed over the primaries; -1 when it cannot be read.
int64_t TargetEvictedKeys(target::Writer& writer);

}  // namespace kf::sync
