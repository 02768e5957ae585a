// RateLimiter: at most N operations per second to one server, so that a verify of a
// production source does not take its capacity away from the application.
//
// Acquire(n) blocks until n more operations fit in the rate: a pipelined batch is sent
// whole, and the one after it waits until the rate has paid for it. Unused capacity is
// kept for a tenth of a second at most (the burst). Over any longer span the average stays
// at the rate. Rate 0 = no limit.
#pragma once

#include <chrono>
#include <cstdint>

namespace kf::verify {

class RateLimiter {
 public:
  explicit RateLimiter(uint64_t ops_per_second = 0);

  // Waits until `ops` more operations are allowed; returns how long it waited.
  std::chrono::nanoseconds Acquire(uint64_t ops);
  uint64_t rate() const { return rate_; }

 private:
  using Clock = std::chrono::steady_clock;
  uint64_t rate_;
  // The time at which every operation granted so far has been "paid for" at the rate.
  Clock::time_point paid_until_;
};

}  // namespace kf::verify
