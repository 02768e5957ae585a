// Error codes of the sync layer (the pipeline joining a source to a target).
#pragma once

#include <system_error>

namespace kf::sync {

enum class SyncErrc {
  kBadOption = 1,    // an option value that cannot be used
  kCheckpoint,       // the checkpoint file cannot be read or written
  kUnsupportedData,  // a value the target cannot hold (and --on-unsupported=fail)
  kTargetRejected,   // the target answered a write with an error: data would be lost
  kTargetNotEmpty,   // the first full sync needs an empty target
  kFilterSplit,      // a multi-key command mixes keys inside and outside the filter
  kStopped,          // stopped on request before finishing
  kTargetNotOurs,    // the target holds another migration's marker, or lost keyferry's data
  kTargetDropped,    // the target evicted (or otherwise dropped) keys it was given
  kKeysUnknown,      // the keys of a command cannot be told (unknown or malformed command)
  kCrossSlot,        // a command's keys lie in several cluster hash slots and it cannot be split
  kNotRoutable,      // a command a cluster target cannot be sent by slot (no key, or SWAPDB)
  kClusterNotReady,  // a cluster source with unserved slots or a slot migration in progress
  kSourceChanged,    // the source changed in a way the live sync cannot follow (scan mode)
};

const std::error_category& SyncCategory();
inline std::error_code make_error_code(SyncErrc e) { return {static_cast<int>(e), SyncCategory()}; }

}  // namespace kf::sync

template <>
struct std::is_error_code_enum<kf::sync::SyncErrc> : std::true_type {};
