// The applied-offset marker: one key keyferry keeps in the target's db 0 that says which
// migration wrote the target and up to which source replication offset it has applied.
//
// It is written in the same MULTI/EXEC as the stream commands it covers (StreamWriter),
// so after any crash — of keyferry, or of a target that reloads its own persistence —
// the marker and the data agree: the marker's offset is exactly what the target holds,
// and a resume asks the source for the next byte (PSYNC <replid> <offset+1>). A target
// without the marker lost keyferry's data (restarted empty, flushed, replaced); one with
// another migration's id is someone else's. docs/sync.md ("Exactly once") has the
// argument for every kill point.
//
// Value (text, one line): "keyferry-marker 1 <id> <state> <replid> <offset> <db>"
//   id     32 hex digits, chosen at the first full sync, kept in the checkpoint file;
//   state  "snapshot" (a full sync is being copied: the target holds a partial copy) or
//          "stream" (the snapshot is complete and every command up to offset is applied);
//   replid the source's replication id the offset belongs to;
//   offset the last applied source offset (PSYNC asks for offset + 1);
//   db     the source db the stream's next command applies to (the last SELECT).
// Parsing is strict: anything else is "not a keyferry marker".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kf::target {

// The marker's key. Reserved: verify ignores it, CUTOVER deletes it, and a snapshot never
// copies a source key of this name over it.
inline constexpr std::string_view kAppliedMarkerKey = "keyferry:applied-offset";

// A sync from a cluster source runs one engine per source shard into one target, and each
// keeps its own marker: "keyferry:applied-offset:<shard>", where <shard> names the source
// shard stably across failovers ("s0", "s5461": its lowest slot; docs/cluster.md).
std::string ShardMarkerKey(std::string_view shard);
// Whether `key` is a marker of either form: the one rule everything that must skip or
// delete markers (verify, CUTOVER, the test harness) goes through.
bool IsAppliedMarkerKey(std::string_view key);
// The glob that matches every per-shard marker (for SCAN MATCH): "keyferry:applied-offset:*".
std::string ShardMarkerPattern();

enum class MarkerState { kSnapshot, kStream };

struct AppliedMarker {
  std::string id;
  MarkerState state = MarkerState::kSnapshot;
  std::string replid;
  int64_t offset = -1;
  int db = 0;
  friend bool operator==(const AppliedMarker&, const AppliedMarker&) = default;
};

std::string EncodeMarker(const AppliedMarker& marker);
// nullopt when `text` is not a marker this version wrote.
std::optional<AppliedMarker> ParseMarker(std::string_view text);
// A new random id: 32 lower-case hex digits.
std::string NewMigrationId();

}  // namespace kf::target
