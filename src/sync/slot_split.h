// What to send a Valkey Cluster target for one command of a standalone source's
// replication stream: the command as it is, to the primary of its keys' slot; the command
// cut into one piece per slot, when the pieces together do what the command did; the
// command to every primary, for the keyless commands that change every node; or a refusal.
//
// A cluster runs a command only when all its keys lie in one hash slot (CROSSSLOT
// otherwise); a standalone source has no such rule. The decisions, command by command, and
// what a primary rewrites before it propagates are in docs/cluster.md ("Multi-key commands
// into a cluster"). Pure: no IO, no state; the caller groups the pieces per slot into its
// MULTI/EXEC batches and routes each slot to its primary.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "resp/command.h"
#include "sync/stream_command.h"

namespace kf::sync {

// One command for the primary that owns `slot`, or for every primary when `slot` is -1.
struct SlotCommand {
  int slot = -1;
  std::vector<std::string> args;
};

enum class SlotPlanKind {
  kSingleSlot,    // one piece: the command unchanged, all its keys in that piece's slot
  kSplit,         // two or more pieces, one per slot, in the order the slots first appear
  kEveryPrimary,  // one piece with slot -1: FLUSHALL, FLUSHDB, FUNCTION LOAD/DELETE/FLUSH/
                  // RESTORE, SCRIPT LOAD/FLUSH, which change every node
};
// There is no "any one primary" kind: every keyless command a primary propagates either
// changes every node (kEveryPrimary), is handled by the stream engine before routing
// (PING, REPLCONF, SELECT, MULTI, EXEC, PUBLISH), or cannot be applied to a cluster.

struct SlotPlan {
  SlotPlanKind kind = SlotPlanKind::kSingleSlot;
  std::vector<SlotCommand> pieces;
};

// Decides, for `cmd` from a standalone source's stream, what the cluster target is sent.
// Keys are found with `table` (the source's COMMAND reply, or CommandTable::BuiltIn()).
//
// - All keys in one slot (hash tags count): kSingleSlot, the arguments unchanged.
// - Keys in several slots, for MSET, MSETNX, DEL, UNLINK, TOUCH, EXISTS and MGET: kSplit.
//   Each piece keeps its keys (with MSET's values) in their original order; MSETNX pieces
//   are MSET, because a primary propagates MSETNX only when it set every key.
// - Keys in several slots for any other command: SyncErrc::kCrossSlot, naming the command,
//   its first keys and their slots, and what to do.
// - SORT whose BY or GET pattern may reach keys outside the sorted key's slot: kCrossSlot
//   (the cluster refuses such a SORT).
// - Keys that cannot be told (unknown command, malformed, numkeys beyond the arguments):
//   SyncErrc::kKeysUnknown.
// - No key: kEveryPrimary for the commands listed above; SyncErrc::kNotRoutable for every
//   other one (SWAPDB, a script with numkeys 0, the commands the stream engine handles).
// - An empty command: kKeysUnknown.
Result<SlotPlan> PlanBySlot(const resp::Command& cmd, const CommandTable& table);

}  // namespace kf::sync
