// SnapshotLanes: the snapshot-phase writer. Several connections ("lanes") to the target,
// each with its own thread, write RESTOREs (and chunked commands) pipelined.
//
// Contract:
//  - A key always goes to the same lane (LaneFor hashes db and key), and a lane writes its
//    ops in submission order, so one key's writes stay ordered.
//  - The producer appends ops to a per-lane open chunk (one contiguous buffer, no
//    allocation per op); a chunk is handed to its lane once it holds `chunk_bytes` or
//    `chunk_ops`, and by Drain(). Handing over blocks while the lane holds more than its
//    byte budget of unwritten/unanswered bytes: backpressure on the reader instead of
//    buffering (memory stays flat).
//  - A lane writes what it was handed in batches (one gather write each) and keeps up to
//    two batches in flight, so the target has the next batch while the lane reads the
//    replies to the previous one.
//  - Every reply is checked (CheckReply). After the first failure every lane stops, and
//    Submit/End and Drain return that failure (which names the key and what to do). An op
//    appended with an OpLabel instead of a description is described from it, only when it
//    fails: "<command> <key> (db N)", the key read from where the op's bytes hold it.
//  - Drain() is the barrier: it returns once every submitted op has been answered.
// Threads: Submit/Begin/End/Drain from one producer thread; lanes run their own threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "net/client.h"
#include "net/uri.h"
#include "target/write_op.h"

namespace kf::target {

struct LaneOptions {
  int lanes = 2;
  size_t budget_bytes_per_lane = 8u << 20;  // unanswered bytes one lane may hold
  size_t max_batch_bytes = 1u << 20;        // bytes written per pipelined batch
  size_t max_batch_ops = 16384;             // ops written per pipelined batch
  size_t chunk_bytes = 64u << 10;           // the producer hands over chunks of this size
  size_t chunk_ops = 1024;                  // ... or of this many ops
  net::ClientOptions client;
};

// What names an op in a message, given for the millions of snapshot ops without building
// a string per op: the command's name and where the key lies among the bytes appended
// after Begin.
struct OpLabel {
  const char* command = nullptr;  // a string with static lifetime ("RESTORE")
  size_t key_offset = 0;          // offset of the key in the buffer Begin returned
  size_t key_size = 0;
};

class SnapshotLanes {
 public:
  SnapshotLanes(net::Uri target, LaneOptions options);
  // A cluster: options.lanes lanes per primary in `nodes`; a key goes to a lane of the
  // primary owning its hash slot (`slot_owner`: 16384 indices into `nodes`, -1 for a slot
  // nobody owns, whose keys go to the first primary and come back redirected).
  SnapshotLanes(std::vector<net::Uri> nodes, std::vector<int> slot_owner, LaneOptions options);
  ~SnapshotLanes();  // stops the lanes (Drain first to wait for outstanding writes)

  // Connects every lane. Errors name the target and the reason.
  Result<void> Start();
  size_t LaneFor(int db, ByteView key) const;
  Result<void> Submit(size_t lane, WriteOp op);
  // A keyless write every server must get (FUNCTION LOAD): one copy to a lane of each
  // primary (to lane 0 of a standalone target).
  Result<void> SubmitToEveryNode(const WriteOp& op);
  // Submit without an intermediate buffer: append exactly one op's RESP bytes (producing
  // `reply_count` replies) to *Begin(lane, size_hint), then call End. Begin never fails;
  // End returns the lanes' failure, if any. The op is named by `description` or `label`.
  Bytes* Begin(size_t lane, size_t size_hint);
  Result<void> End(size_t lane, int db, uint32_t reply_count, std::string description);
  Result<void> End(size_t lane, int db, uint32_t reply_count, const OpLabel& label);
  Result<void> Drain();
  // Stops the lanes without waiting for outstanding ops.
  void Stop();

  uint64_t ops_done() const { return ops_done_.load(std::memory_order_relaxed); }
  uint64_t bytes_done() const { return bytes_done_.load(std::memory_order_relaxed); }

 private:
  struct OpInfo {
    size_t end = 0;  // end of the op's bytes in its chunk
    int db = 0;
    uint32_t reply_count = 1;
    OpLabel label;  // command == nullptr: described by `descriptions`, or "a write"
  };
  struct Chunk {
    Bytes bytes;
    std::vector<OpInfo> ops;
    // The ops that came with a description (most do not: they are described from their
    // label when needed), by index in `ops`.
    std::vector<std::pair<size_t, std::string>> descriptions;
    void Clear() {
      bytes.clear();
      ops.clear();
      descriptions.clear();
    }
  };
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;       // producer → lane: work or stop
    std::condition_variable drained;  // lane → producer: budget freed / idle
    std::deque<Chunk> queue;
    std::vector<Chunk> spare;  // answered chunks, reused by the producer
    size_t pending_bytes = 0;  // queued + in flight
    bool stop = false;
    std::unique_ptr<net::Client> client;
    std::string endpoint;  // the server this lane writes to
    std::thread thread;
    Chunk open;  // producer only: the chunk being filled
  };
  struct Batch;
  Result<void> EndOp(Lane& lane, OpInfo op);
  Result<void> HandOver(Lane& lane);
  void RunLane(Lane& lane);
  Result<void> WriteBatch(Lane& lane, Batch& batch, int* current_db);
  Result<void> ReadReplies(Lane& lane, const Batch& batch);
  void Fail(Error error);
  std::optional<Error> failure() const;

  net::Uri target_;
  std::vector<net::Uri> nodes_;  // a cluster's primaries; empty for one server
  std::vector<int> slot_owner_;  // a cluster's slot → index in nodes_
  LaneOptions options_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  mutable std::mutex failure_mu_;
  std::optional<Error> failure_;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> ops_done_{0};
  std::atomic<uint64_t> bytes_done_{0};
};

}  // namespace kf::target
