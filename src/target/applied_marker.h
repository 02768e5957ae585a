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
#include <vector>

namespace kf::target {

// The marker's key. Reserved: verify ignores it, CUTOVER deletes it, and a snapshot never
// copies a source key of this name over it.
inline constexpr std::string_view kAppliedMarkerKey = "keyferry:applied-offset";

// A sync from a cluster source runs one engine per source shard into one target, and each
// keeps its own marker: "keyferry:applied-offset:<shard>", where <shard> names the source
// shard stably across failovers ("s0", "s5461": its lowest slot; docs/cluster.md).
std::string ShardMarkerKey(std::string_view shard);
// Whether `key` is a marker of any form (the single sync's, a cluster source's per-shard
// ":<shard>" ones, a cluster target's per-slot "{tag}" ones): the one rule everything that must
// skip or delete markers (verify, CUTOVER, the test harness) goes through.
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

// --- A cluster target (ClusterWriter) ---------------------------------------------------
// A cluster cannot hold one MULTI/EXEC across slots, so each stream batch is applied as one
// MULTI/EXEC per hash slot, and each of those sets that slot's own marker:
//   key    "keyferry:applied-offset{<tag>}", <tag> a short string of the slot (SlotMarkerKey),
//          so the marker lives in the slot it describes and moves with it;
//   value  "keyferry-slot-marker 1 <id> <replid> <offset> <floor> <floor_db> <db>":
//          every command of this slot up to <offset> is applied; every batch up to <floor>
//          was applied in full on every slot (batches are applied one after the other, so a
//          batch's floor is the end of the one before); <floor_db> and <db> are the source
//          db at <floor> and after <offset>.
// The head marker (kAppliedMarkerKey, the AppliedMarker above, in its own slot) says which
// sync holds the target and whether its snapshot is complete. Resume: ResumeFromMarkers.
struct SlotMarker {
  int slot = 0;
  std::string id;
  std::string replid;
  int64_t offset = -1;
  int64_t floor = -1;
  int floor_db = 0;
  int db = 0;
  friend bool operator==(const SlotMarker&, const SlotMarker&) = default;
};

// The marker key of `slot` (0..16383): a key that hashes to that slot.
std::string SlotMarkerKey(int slot);
// The slot `key` is the marker of, or -1 when it is not a slot marker key.
int SlotOfMarkerKey(std::string_view key);
std::string EncodeSlotMarker(const SlotMarker& marker);
// nullopt when `text` is not a slot marker this version wrote; `slot` is set by the caller.
std::optional<SlotMarker> ParseSlotMarker(std::string_view text);

// What a cluster target holds, from its head marker (if any) and its slot markers:
//   - nullopt: no marker at all;
//   - the head in state kSnapshot: a full sync was being copied;
//   - otherwise state kStream at the resume point R = the highest of the head's offset and
//     every slot marker's floor, with that marker's replid and db at R. A resume replays
//     from R + 1 and skips, in each slot, the commands up to its marker's offset
//     (`slot_applied`, 16384 entries, -1 where a slot has no marker).
// Slot markers with another id than the head's (or, without a head, than each other's)
// are an error message in `foreign` (another sync wrote this target).
struct ClusterResume {
  std::optional<AppliedMarker> marker;
  std::vector<int64_t> slot_applied;
  std::string foreign;
};
ClusterResume ResumeFromMarkers(const std::optional<AppliedMarker>& head,
                                const std::vector<SlotMarker>& slot_markers);

}  // namespace kf::target
