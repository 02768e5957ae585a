// ExpirySubscriber: listens to the target's `expired` keyspace events for the sync, so
// that keys the target expired by itself can be reconciled later (target_expiries.h).
//
// Start() turns on the `E` and `x` classes of the target's notify-keyspace-events (keeping
// whatever was set; the old value is restored by Stop()), subscribes to
// `__keyevent@*__:expired` on a connection of its own and records every event in the
// TargetExpiries set from a background thread. When that connection breaks (the target
// restarted, the network dropped), events may have been missed: the set is marked
// events_lost and the thread ends. Stop() ends the thread (by a PUBLISH on a channel only
// this subscriber listens to) and restores the configuration.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "net/uri.h"
#include "sync/target_expiries.h"

namespace kf::sync {

class ExpirySubscriber {
 public:
  ExpirySubscriber(net::Uri target, TargetExpiries* expiries);
  ~ExpirySubscriber();
  ExpirySubscriber(const ExpirySubscriber&) = delete;
  ExpirySubscriber& operator=(const ExpirySubscriber&) = delete;

  // Errors name the target and what it refused (CONFIG, PSUBSCRIBE) and what to do.
  // `before_change` (if set) is called with the target's notify-keyspace-events value
  // before keyferry changes it, so a caller can keep it somewhere that outlives a crash
  // (apply journals it and sets it back at CUTOVER).
  Result<void> Start(const std::function<void(const std::string&)>& before_change = {});
  void Stop();
  bool running() const { return thread_.joinable(); }

 private:
  // What the receiving thread touches. Stop() clears `expiries` under the mutex, so a thread
  // that outlives the subscriber (detached when the target cannot be reached to wake it)
  // never writes into a set that is gone.
  struct Shared {
    std::mutex mu;
    TargetExpiries* expiries = nullptr;
    std::string stop_channel;
    std::string fence_channel;  // TargetExpiries fences (target_expiries.h)
  };

  net::Uri target_;
  TargetExpiries* expiries_;
  std::string old_flags_;
  bool config_changed_ = false;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace kf::sync
