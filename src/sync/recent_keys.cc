// RecentKeys: a bounded most-recently-written set (list + index).
#include "sync/recent_keys.h"

namespace kf::sync {

void RecentKeys::set_capacity(size_t capacity) {
  std::lock_guard lock(mu_);
  capacity_ = capacity;
  while (order_.size() > capacity_) {
    index_.erase(std::to_string(order_.front().first) + ":" + order_.front().second);
    order_.pop_front();
  }
}

size_t RecentKeys::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

void RecentKeys::Add(const std::vector<std::pair<int, std::string>>& keys) {
  std::lock_guard lock(mu_);
  if (capacity_ == 0) return;
  for (const auto& [db, key] : keys) {
    std::string id = std::to_string(db) + ":" + key;
    auto it = index_.find(id);
    if (it != index_.end()) {
      order_.splice(order_.end(), order_, it->second);  // now the newest
      continue;
    }
    order_.emplace_back(db, key);
    index_.emplace(std::move(id), std::prev(order_.end()));
    if (order_.size() > capacity_) {
      index_.erase(std::to_string(order_.front().first) + ":" + order_.front().second);
      order_.pop_front();
    }
  }
}

std::map<int, std::vector<std::string>> RecentKeys::ByDb() const {
  std::lock_guard lock(mu_);
  std::map<int, std::vector<std::string>> out;
  for (const auto& [db, key] : order_) out[db].push_back(key);
  return out;
}

size_t RecentKeys::size() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

}  // namespace kf::sync
