// TargetExpiries: keys the target expired by itself (its `expired` keyspace events) whose
// expiry the source has not yet confirmed with a DEL in the stream.
//
// Why: a replica never expires keys, it waits for its primary's DEL; keyferry's target is a
// primary and expires keys on its own clock. A write the source made just before a key's
// expiry can reach the target just after it, and then recreates the key there without its
// TTL; normally the source's DEL (sent when it expires the key) follows and fixes it, but
// while writes are paused the source expires nothing, and after cutover nothing more
// comes. `apply` therefore reconciles the keys left in this set against the source inside
// the write pause (control/expiry_reconcile.h).
//
// The sync engine adds a key when the target reports `expired` for it and removes it when
// the stream carries a DEL or UNLINK of it (the source expired or deleted it too). An event
// that arrives after the DEL leaves the key in the set: reconciling it is harmless.
// Thread-safe. Past the capacity keys are not kept and overflowed() turns true; when the
// event subscription broke, events_lost() is true: either way the set is not complete.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kf::sync {

class TargetExpiries {
 public:
  void set_capacity(size_t capacity);
  size_t capacity() const;
  void Add(int target_db, std::string key);
  void Remove(int target_db, std::string_view key);
  // The keys kept, by target db.
  std::map<int, std::vector<std::string>> ByDb() const;
  size_t size() const;
  uint64_t added() const;
  bool overflowed() const;
  void set_events_lost(std::string why);
  bool events_lost() const;
  std::string events_lost_why() const;

  // Fences: events reach the subscriber asynchronously, so before the set is read as
  // complete up to "now", a token is published on the subscriber's fence channel; the
  // server delivers messages in order, so once the subscriber has seen the token it has
  // seen every event published before it.
  void set_fence_channel(std::string channel);
  std::string fence_channel() const;  // empty until a subscriber runs
  void FenceReached(std::string token);
  // True when `token` was seen within `timeout`.
  bool AwaitFence(const std::string& token, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  size_t capacity_ = 0;
  bool overflowed_ = false;
  uint64_t added_ = 0;
  std::string lost_;
  std::string fence_channel_;
  std::string fence_seen_;
  mutable std::condition_variable fence_cv_;
  std::set<std::pair<int, std::string>, std::less<>> keys_;
};

}  // namespace kf::sync
