// TouchedKeys: a bounded set that says when it was too small.
#include "sync/touched_keys.h"

namespace kf::sync {

void TouchedKeys::set_capacity(size_t capacity) {
  std::lock_guard lock(mu_);
  capacity_ = capacity;
}

size_t TouchedKeys::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

void TouchedKeys::Add(const std::vector<std::pair<int, std::string>>& keys) {
  std::lock_guard lock(mu_);
  if (capacity_ == 0) return;
  for (const auto& k : keys) {
    if (keys_.count(k)) continue;
    if (keys_.size() >= capacity_) {
      overflowed_ = true;
      continue;
    }
    keys_.insert(k);
  }
}

std::map<int, std::vector<std::string>> TouchedKeys::ByDb() const {
  std::lock_guard lock(mu_);
  std::map<int, std::vector<std::string>> out;
  for (const auto& [db, key] : keys_) out[db].push_back(key);
  return out;
}

size_t TouchedKeys::size() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

bool TouchedKeys::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

}  // namespace kf::sync
