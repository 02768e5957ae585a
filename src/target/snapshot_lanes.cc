// SnapshotLanes: per-lane threads that write batches pipelined and check every reply.
#include "target/snapshot_lanes.h"

#include <string>

#include "resp/encoder.h"
#include "target/target_errc.h"

namespace kf::target {
namespace {

// FNV-1a over db and key: cheap, and stable across runs.
uint64_t HashKey(int db, ByteView key) {
  uint64_t h = 1469598103934665603ULL ^ static_cast<uint64_t>(db);
  for (uint8_t b : key) {
    h ^= b;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

SnapshotLanes::SnapshotLanes(net::Uri target, LaneOptions options)
    : target_(std::move(target)), options_(std::move(options)) {
  if (options_.lanes < 1) options_.lanes = 1;
}

SnapshotLanes::~SnapshotLanes() { Stop(); }

Result<void> SnapshotLanes::Start() {
  for (int i = 0; i < options_.lanes; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->client = std::make_unique<net::Client>();
    auto connected = lane->client->Connect(target_, options_.client);
    if (!connected) {
      Stop();
      return MakeError(connected.error());
    }
    lanes_.push_back(std::move(lane));
  }
  for (auto& lane : lanes_) {
    Lane* l = lane.get();
    l->thread = std::thread([this, l] { RunLane(*l); });
  }
  return {};
}

size_t SnapshotLanes::LaneFor(int db, ByteView key) const {
  return HashKey(db, key) % lanes_.size();
}

std::optional<Error> SnapshotLanes::failure() const {
  std::lock_guard lock(failure_mu_);
  return failure_;
}

void SnapshotLanes::Fail(Error error) {
  {
    std::lock_guard lock(failure_mu_);
    if (!failure_) failure_ = std::move(error);
  }
  failed_ = true;
  for (auto& lane : lanes_) {
    std::lock_guard lock(lane->mu);
    lane->stop = true;
    lane->cv.notify_all();
    lane->drained.notify_all();
  }
}

Result<void> SnapshotLanes::Submit(size_t lane_index, WriteOp op) {
  Lane& lane = *lanes_[lane_index];
  size_t size = op.command.size();
  std::unique_lock lock(lane.mu);
  // Wait for room; an op bigger than the budget is let through when the lane is empty.
  lane.drained.wait(lock, [&] {
    return failed_.load() || lane.pending_bytes == 0 ||
           lane.pending_bytes + size <= options_.budget_bytes_per_lane;
  });
  if (failed_) {
    lock.unlock();
    return MakeError(*failure());
  }
  lane.pending_bytes += size;
  lane.queue.push_back(std::move(op));
  lane.cv.notify_one();
  return {};
}

Result<void> SnapshotLanes::Drain() {
  for (auto& lane : lanes_) {
    std::unique_lock lock(lane->mu);
    lane->drained.wait(
        lock, [&] { return failed_.load() || (lane->queue.empty() && lane->in_flight_ops == 0); });
  }
  if (failed_) return MakeError(*failure());
  return {};
}

void SnapshotLanes::Stop() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard lock(lane->mu);
      lane->stop = true;
    }
    lane->cv.notify_all();
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
  lanes_.clear();
}

void SnapshotLanes::RunLane(Lane& lane) {
  int current_db = target_.db;
  std::vector<WriteOp> batch;
  std::vector<ByteView> segments;
  std::vector<Bytes> selects;
  const std::string endpoint = target_.Endpoint();
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(lane.mu);
      lane.cv.wait(lock, [&] { return lane.stop || !lane.queue.empty(); });
      if (lane.stop) return;
      size_t bytes = 0;
      while (!lane.queue.empty() && batch.size() < options_.max_batch_ops &&
             (batch.empty() ||
              bytes + lane.queue.front().command.size() <= options_.max_batch_bytes)) {
        bytes += lane.queue.front().command.size();
        batch.push_back(std::move(lane.queue.front()));
        lane.queue.pop_front();
      }
      lane.in_flight_ops = batch.size();
    }
    // One gather write for the whole batch, with SELECTs where the db changes.
    segments.clear();
    selects.clear();
    selects.reserve(batch.size());
    std::vector<int> select_before(batch.size(), -1);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].db != current_db) {
        current_db = batch[i].db;
        selects.push_back(resp::EncodeCommand({"SELECT", std::to_string(current_db)}));
        segments.push_back(ByteView(selects.back()));
        select_before[i] = current_db;
      }
      segments.push_back(ByteView(batch[i].command));
    }
    auto sent = lane.client->SendRaw(segments);
    if (!sent) {
      Fail(Error{make_error_code(TargetErrc::kLinkFailed),
                 "writing to the target " + endpoint + " failed: " + sent.error().ToString()});
      return;
    }
    size_t batch_bytes = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (select_before[i] >= 0) {
        auto reply = lane.client->ReadReply();
        if (!reply || reply->is_error()) {
          Fail(Error{make_error_code(TargetErrc::kRejected),
                     "the target " + endpoint + " refused SELECT " +
                         std::to_string(select_before[i]) + ": " +
                         (reply ? reply->str() : reply.error().ToString()) +
                         "; check that the target has that many databases (databases config)"});
          return;
        }
      }
      for (uint32_t r = 0; r < batch[i].reply_count; ++r) {
        auto reply = lane.client->ReadReply();
        if (!reply) {
          Fail(Error{make_error_code(TargetErrc::kLinkFailed),
                     "reading the target's reply to " + batch[i].description + " from " + endpoint +
                         " failed: " + reply.error().ToString()});
          return;
        }
        auto ok = CheckReply(*reply, batch[i].description, endpoint);
        if (!ok) {
          Fail(std::move(ok).error());
          return;
        }
      }
      batch_bytes += batch[i].command.size();
    }
    ops_done_.fetch_add(batch.size(), std::memory_order_relaxed);
    bytes_done_.fetch_add(batch_bytes, std::memory_order_relaxed);
    {
      std::lock_guard lock(lane.mu);
      lane.pending_bytes -= batch_bytes;
      lane.in_flight_ops = 0;
    }
    lane.drained.notify_all();
  }
}

}  // namespace kf::target
