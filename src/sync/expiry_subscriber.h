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
//
// A cluster target: keyspace events are local to the node that expired the key, so Start()
// does all of the above on every primary (from the slot map it reads through the given
// node), with one connection and one thread per primary. A fence counts as reached once
// every primary's connection has delivered it (a PUBLISH on any node of a cluster reaches
// the subscribers of every node, after the events that node published before it).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
  bool running() const { return !nodes_.empty() && nodes_.front().thread.joinable(); }

 private:
  // What the receiving threads touch. Stop() clears `expiries` under the mutex, so a thread
  // that outlives the subscriber (detached when the target cannot be reached to wake it)
  // never writes into a set that is gone.
  struct Shared {
    std::mutex mu;
    TargetExpiries* expiries = nullptr;
    std::string stop_channel;
    std::string fence_channel;            // TargetExpiries fences (target_expiries.h)
    std::vector<std::string> fence_seen;  // per node: the last fence token it delivered
  };
  // One primary (the whole target when it is one server).
  struct Node {
    net::Uri uri;
    std::string old_flags;
    bool config_changed = false;
    std::thread thread;
  };

  // Turns on the expired events of `node` (calling before_change with its flags when set).
  Result<void> EnableEvents(Node& node, const std::function<void(const std::string&)>& before);

  net::Uri target_;
  TargetExpiries* expiries_;
  std::shared_ptr<Shared> shared_;
  std::vector<Node> nodes_;
};

}  // namespace kf::sync
