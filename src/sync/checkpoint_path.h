// Whether a checkpoint can be kept at a path, asked before anything is copied.
//
// `keyferry sync --checkpoint FILE` writes FILE once a second from the first applied offset
// on (FILE.tmp, then a rename: checkpoint.h). A path in a directory that does not exist,
// or one this user cannot write, would only fail after the snapshot was written into the
// target. CheckCheckpointPath finds that first: the directory exists and is a directory,
// FILE (when it exists) is a regular file, and a temporary file can be created and removed
// in the directory (so the rename will work too).
#pragma once

#include <string>

#include "common/result.h"

namespace kf::sync {

// SyncErrc::kCheckpoint with the path, the reason and what to do, or success.
Result<void> CheckCheckpointPath(const std::string& path);

}  // namespace kf::sync
