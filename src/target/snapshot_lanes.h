// SnapshotLanes: the snapshot-phase writer. Several connections ("lanes") to the target,
// each with its own thread, write RESTOREs (and chunked commands) pipelined.
//
// Contract:
//  - A key always goes to the same lane (LaneFor hashes db and key), and a lane writes its
//    ops in submission order, so one key's writes stay ordered.
//  - Submit blocks while the lane holds more than its byte budget of unwritten/unanswered
//    ops: backpressure on the reader instead of buffering (memory stays flat).
//  - Every reply is checked (CheckReply). After the first failure every lane stops, and
//    Submit and Drain return that failure (which names the key and what to do).
//  - Drain() is the barrier: it returns once every submitted op has been answered.
// Threads: Submit/Drain from one producer thread; lanes run their own threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "net/client.h"
#include "net/uri.h"
#include "target/write_op.h"

namespace kf::target {

struct LaneOptions {
  int lanes = 2;
  size_t budget_bytes_per_lane = 16u << 20;  // unanswered bytes one lane may hold
  size_t max_batch_bytes = 4u << 20;         // bytes written per pipelined batch
  size_t max_batch_ops = 2048;
  net::ClientOptions client;
};

class SnapshotLanes {
 public:
  SnapshotLanes(net::Uri target, LaneOptions options);
  ~SnapshotLanes();  // stops the lanes (Drain first to wait for outstanding writes)

  // Connects every lane. Errors name the target and the reason.
  Result<void> Start();
  size_t LaneFor(int db, ByteView key) const;
  Result<void> Submit(size_t lane, WriteOp op);
  Result<void> Drain();
  // Stops the lanes without waiting for outstanding ops.
  void Stop();

  uint64_t ops_done() const { return ops_done_.load(std::memory_order_relaxed); }
  uint64_t bytes_done() const { return bytes_done_.load(std::memory_order_relaxed); }

 private:
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;       // producer → lane: work or stop
    std::condition_variable drained;  // lane → producer: budget freed / idle
    std::deque<WriteOp> queue;
    size_t pending_bytes = 0;  // queued + in flight
    size_t in_flight_ops = 0;
    bool stop = false;
    std::unique_ptr<net::Client> client;
    std::thread thread;
  };
  void RunLane(Lane& lane);
  void Fail(Error error);
  std::optional<Error> failure() const;

  net::Uri target_;
  LaneOptions options_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  mutable std::mutex failure_mu_;
  std::optional<Error> failure_;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> ops_done_{0};
  std::atomic<uint64_t> bytes_done_{0};
};

}  // namespace kf::target
