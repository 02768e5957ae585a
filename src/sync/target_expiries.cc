// TargetExpiries: the bounded set of keys the target expired by itself.
#include "sync/target_expiries.h"

namespace kf::sync {

void TargetExpiries::set_capacity(size_t capacity) {
  std::lock_guard lock(mu_);
  capacity_ = capacity;
}

size_t TargetExpiries::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

void TargetExpiries::Add(int target_db, std::string key) {
  std::lock_guard lock(mu_);
  if (capacity_ == 0) return;
  ++added_;
  auto k = std::make_pair(target_db, std::move(key));
  if (keys_.count(k)) return;
  if (keys_.size() >= capacity_) {
    overflowed_ = true;
    return;
  }
  keys_.insert(std::move(k));
}

void TargetExpiries::Remove(int target_db, std::string_view key) {
  std::lock_guard lock(mu_);
  if (keys_.empty()) return;
  auto it = keys_.find(std::make_pair(target_db, std::string(key)));
  if (it != keys_.end()) keys_.erase(it);
}

std::map<int, std::vector<std::string>> TargetExpiries::ByDb() const {
  std::lock_guard lock(mu_);
  std::map<int, std::vector<std::string>> out;
  for (const auto& [db, key] : keys_) out[db].push_back(key);
  return out;
}

size_t TargetExpiries::size() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

uint64_t TargetExpiries::added() const {
  std::lock_guard lock(mu_);
  return added_;
}

bool TargetExpiries::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

void TargetExpiries::set_events_lost(std::string why) {
  std::lock_guard lock(mu_);
  if (lost_.empty()) lost_ = std::move(why);
}

bool TargetExpiries::events_lost() const {
  std::lock_guard lock(mu_);
  return !lost_.empty();
}

std::string TargetExpiries::events_lost_why() const {
  std::lock_guard lock(mu_);
  return lost_;
}

void TargetExpiries::set_fence_channel(std::string channel) {
  std::lock_guard lock(mu_);
  fence_channel_ = std::move(channel);
}

std::string TargetExpiries::fence_channel() const {
  std::lock_guard lock(mu_);
  return fence_channel_;
}

void TargetExpiries::FenceReached(std::string token) {
  {
    std::lock_guard lock(mu_);
    fence_seen_ = std::move(token);
  }
  fence_cv_.notify_all();
}

bool TargetExpiries::AwaitFence(const std::string& token, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return fence_cv_.wait_for(lock, timeout, [&] {
    return fence_seen_ == token || !lost_.empty();
  }) && fence_seen_ == token;
}

}  // namespace kf::sync
