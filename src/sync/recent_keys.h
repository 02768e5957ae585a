// RecentKeys: the last N distinct keys a replication stream wrote, newest last, so that
// exactly those keys can be compared on both ends later (`apply` does it inside the
// write pause: they are the keys most likely to be still in flight).
//
// Thread-safe: the sync engine adds once per applied batch, any thread may read. A key
// written again moves to the newest end; beyond the capacity the oldest key is dropped.
// Capacity 0 (the default) keeps nothing and makes Add() a no-op.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kf::sync {

class RecentKeys {
 public:
  void set_capacity(size_t capacity);
  size_t capacity() const;
  // Records `keys` (source db, key) in the order they were written.
  void Add(const std::vector<std::pair<int, std::string>>& keys);
  // The keys kept, grouped by source db, oldest first within each db.
  std::map<int, std::vector<std::string>> ByDb() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  size_t capacity_ = 0;
  std::list<std::pair<int, std::string>> order_;  // oldest first
  // "<db>:<key>" → its place in order_.
  std::unordered_map<std::string, std::list<std::pair<int, std::string>>::iterator> index_;
};

}  // namespace kf::sync
