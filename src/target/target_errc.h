// Error codes of the target layer (writers into Valkey).
#pragma once

#include <system_error>

namespace kf::target {

enum class TargetErrc {
  kRejected = 1,   // the target answered a write with an error reply
  kOutOfMemory,    // -OOM: the target's maxmemory is reached
  kLinkFailed,     // a target connection failed (IO error or timeout)
  kStopped,        // the writer was stopped after an earlier failure
  kRedirected,     // a cluster target answered MOVED, ASK, TRYAGAIN or CLUSTERDOWN
  kForeignMarker,  // a key with a marker's name holds something keyferry did not write
};

const std::error_category& TargetCategory();
inline std::error_code make_error_code(TargetErrc e) {
  return {static_cast<int>(e), TargetCategory()};
}

}  // namespace kf::target

template <>
struct std::is_error_code_enum<kf::target::TargetErrc> : std::true_type {};
