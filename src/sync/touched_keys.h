// TouchedKeys: the distinct keys (source db, key) a replication stream touched in some
// way, up to a capacity, with a flag that says when more were seen than kept.
//
// `apply` uses it for the stream keys whose consumer groups the stream changed (their
// entries-read is repaired from the source inside the write pause): unlike RecentKeys,
// nothing is ever dropped silently — past the capacity overflowed() turns true and the
// caller must not treat the set as complete.
//
// Thread-safe: the sync engine adds once per applied batch, any thread may read.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace kf::sync {

class TouchedKeys {
 public:
  void set_capacity(size_t capacity);
  size_t capacity() const;
  // Records `keys` (source db, key). Keys beyond the capacity are not kept and set the
  // overflow flag. Capacity 0 (the default) keeps nothing and never overflows.
  void Add(const std::vector<std::pair<int, std::string>>& keys);
  // The keys kept, grouped by source db, sorted.
  std::map<int, std::vector<std::string>> ByDb() const;
  size_t size() const;
  // True once a key had to be left out because the set was full.
  bool overflowed() const;

 private:
  mutable std::mutex mu_;
  size_t capacity_ = 0;
  bool overflowed_ = false;
  std::set<std::pair<int, std::string>> keys_;
};

}  // namespace kf::sync
