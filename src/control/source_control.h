// SourceControl: what a migration does to the source server besides replicating from it:
// pausing and resuming writes, reading its replication offset, and decommissioning it.
//
// Pauses use `CLIENT PAUSE <ms> WRITE` (Redis 6.2+/Valkey): reads keep working, writes
// (and replication PINGs) wait; the timeout is a safety net so that a crashed keyferry
// never leaves the source paused for longer than `max_pause_ms`. Every call opens its own
// short connection: these are rare operations, and a fresh connection cannot be a
// victim of the pause itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "net/uri.h"

namespace kf::control {

class SourceControl {
 public:
  explicit SourceControl(net::Uri source) : source_(std::move(source)) {}

  Result<void> PauseWrites(std::chrono::milliseconds max_pause);
  Result<void> Unpause();
  Result<int64_t> ReplicationOffset();
  // SHUTDOWN (the server saves if its own config says so). A source that is already gone
  // counts as done.
  Result<void> Shutdown();
  // One INFO section as text.
  Result<std::string> Info(const std::string& section);

 private:
  net::Uri source_;
};

}  // namespace kf::control
