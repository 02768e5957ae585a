// Clocks: wall time in Unix milliseconds (for TTLs and events) and a monotonic clock for
// durations and deadlines.
#pragma once

#include <chrono>
#include <cstdint>

namespace kf {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

inline int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline Deadline DeadlineIn(std::chrono::milliseconds d) { return SteadyClock::now() + d; }

}  // namespace kf
