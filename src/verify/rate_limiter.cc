// Token-bucket rate limiting (see rate_limiter.h).
#include "verify/rate_limiter.h"

#include <thread>

namespace kf::verify {

RateLimiter::RateLimiter(uint64_t ops_per_second)
    : rate_(ops_per_second), paid_until_(Clock::now()) {}

std::chrono::nanoseconds RateLimiter::Acquire(uint64_t ops) {
  if (rate_ == 0 || ops == 0) return std::chrono::nanoseconds(0);
  const auto now = Clock::now();
  // Unused capacity is kept for at most one burst (a tenth of a second).
  const auto burst = std::chrono::milliseconds(100);
  if (paid_until_ < now - burst) paid_until_ = now - burst;
  const auto cost = std::chrono::nanoseconds(
      static_cast<int64_t>(static_cast<double>(ops) * 1e9 / static_cast<double>(rate_)));
  // The operations start once everything granted before them has been paid for.
  const auto start_at = paid_until_;
  paid_until_ += cost;
  if (start_at <= now) return std::chrono::nanoseconds(0);
  std::this_thread::sleep_until(start_at);
  return start_at - now;
}

}  // namespace kf::verify
