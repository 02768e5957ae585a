// SnapshotLanes: producer-side chunks handed to per-lane threads that write batches
// pipelined (two in flight) and check every reply.
#include "target/snapshot_lanes.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "net/cluster_slots.h"
#include "resp/encoder.h"
#include "target/target_errc.h"

namespace kf::target {
namespace {

// Batches a lane keeps written but not yet answered.
constexpr size_t kBatchesInFlight = 2;
// Answered chunks a lane keeps for reuse (bigger ones are freed).
constexpr size_t kSpareChunks = 8;

// A hash of db and key, eight bytes per step (a multiply-xorshift mix): cheap for the
// millions of keys of a snapshot, and stable across runs.
uint64_t HashKey(int db, ByteView key) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  auto mix = [](uint64_t h, uint64_t w) {
    h = (h ^ w) * kMul;
    return h ^ (h >> 32);
  };
  uint64_t h = mix(static_cast<uint64_t>(db) + 1, key.size());
  const uint8_t* p = key.data();
  size_t n = key.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h, w);
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; ++i) tail |= static_cast<uint64_t>(p[i]) << (8 * i);
  return mix(h, tail);
}

// "<command> <key> (db N)" for an op submitted with a label (the same words SnapshotSink
// uses in its descriptions: RESTORE user:1 (db 0)); "a write (db N)" for one without.
std::string DescribeOp(const Bytes& chunk, const OpLabel& label, int db) {
  std::string text = "a write";
  if (label.command != nullptr) {
    text = label.command;
    if (label.key_offset <= chunk.size() && label.key_size <= chunk.size() - label.key_offset) {
      text += " " + Printable(ByteView(chunk).subspan(label.key_offset, label.key_size), 80);
    }
  }
  return text + " (db " + std::to_string(db) + ")";
}

}  // namespace

// Chunks taken from the queue and written with one gather write.
struct SnapshotLanes::Batch {
  std::vector<Chunk> chunks;
  size_t bytes = 0;
  std::vector<int> select_before;  // per op, flattened: the db SELECTed before it, or -1
  std::vector<Bytes> selects;
  std::vector<ByteView> segments;
};

SnapshotLanes::SnapshotLanes(net::Uri target, LaneOptions options)
    : target_(std::move(target)), options_(std::move(options)) {
  if (options_.lanes < 1) options_.lanes = 1;
  if (options_.chunk_bytes < 1) options_.chunk_bytes = 1;
  if (options_.chunk_ops < 1) options_.chunk_ops = 1;
}

SnapshotLanes::SnapshotLanes(std::vector<net::Uri> nodes, std::vector<int> slot_owner,
                             LaneOptions options)
    : SnapshotLanes(nodes.empty() ? net::Uri{} : nodes.front(), std::move(options)) {
  nodes_ = std::move(nodes);
  slot_owner_ = std::move(slot_owner);
}

SnapshotLanes::~SnapshotLanes() { Stop(); }

Result<void> SnapshotLanes::Start() {
  size_t servers = nodes_.empty() ? 1 : nodes_.size();
  for (size_t i = 0; i < servers * static_cast<size_t>(options_.lanes); ++i) {
    const net::Uri& uri =
        nodes_.empty() ? target_ : nodes_[i / static_cast<size_t>(options_.lanes)];
    auto lane = std::make_unique<Lane>();
    lane->endpoint = uri.Endpoint();
    lane->client = std::make_unique<net::Client>();
    auto connected = lane->client->Connect(uri, options_.client);
    if (!connected) {
      Stop();
      return MakeError(connected.error());
    }
    lane->open.bytes.reserve(options_.chunk_bytes + options_.chunk_bytes / 4);
    lanes_.push_back(std::move(lane));
  }
  for (auto& lane : lanes_) {
    Lane* l = lane.get();
    l->thread = std::thread([this, l] { RunLane(*l); });
  }
  return {};
}

size_t SnapshotLanes::LaneFor(int db, ByteView key) const {
  // The high 32 bits scaled to the lane count: no division per key.
  if (nodes_.empty()) return static_cast<size_t>(((HashKey(db, key) >> 32) * lanes_.size()) >> 32);
  int owner = slot_owner_[static_cast<size_t>(net::KeySlot(AsStringView(key)))];
  size_t per_node = static_cast<size_t>(options_.lanes);
  size_t within = static_cast<size_t>(((HashKey(db, key) >> 32) * per_node) >> 32);
  return static_cast<size_t>(owner < 0 ? 0 : owner) * per_node + within;
}

Result<void> SnapshotLanes::SubmitToEveryNode(const WriteOp& op) {
  size_t servers = nodes_.empty() ? 1 : nodes_.size();
  for (size_t i = 0; i < servers; ++i) {
    KF_RETURN_IF_ERROR(Submit(i * static_cast<size_t>(options_.lanes), op));
  }
  return {};
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

Bytes* SnapshotLanes::Begin(size_t lane_index, size_t size_hint) {
  Bytes& bytes = lanes_[lane_index]->open.bytes;
  if (bytes.capacity() - bytes.size() < size_hint) {
    bytes.reserve(std::max(bytes.size() + size_hint, bytes.capacity() * 2));
  }
  return &bytes;
}

Result<void> SnapshotLanes::End(size_t lane_index, int db, uint32_t reply_count,
                                std::string description) {
  if (failed_.load(std::memory_order_relaxed)) return MakeError(*failure());
  Lane& lane = *lanes_[lane_index];
  if (!description.empty()) {
    lane.open.descriptions.emplace_back(lane.open.ops.size(), std::move(description));
  }
  return EndOp(lane, OpInfo{lane.open.bytes.size(), db, reply_count, OpLabel{}});
}

Result<void> SnapshotLanes::End(size_t lane_index, int db, uint32_t reply_count,
                                const OpLabel& label) {
  if (failed_.load(std::memory_order_relaxed)) return MakeError(*failure());
  Lane& lane = *lanes_[lane_index];
  return EndOp(lane, OpInfo{lane.open.bytes.size(), db, reply_count, label});
}

Result<void> SnapshotLanes::EndOp(Lane& lane, OpInfo op) {
  lane.open.ops.push_back(op);
  if (lane.open.bytes.size() >= options_.chunk_bytes ||
      lane.open.ops.size() >= options_.chunk_ops) {
    return HandOver(lane);
  }
  return {};
}

Result<void> SnapshotLanes::Submit(size_t lane_index, WriteOp op) {
  Bytes* out = Begin(lane_index, op.command.size());
  out->insert(out->end(), op.command.begin(), op.command.end());
  return End(lane_index, op.db, op.reply_count, std::move(op.description));
}

Result<void> SnapshotLanes::HandOver(Lane& lane) {
  if (lane.open.ops.empty()) return {};
  size_t size = lane.open.bytes.size();
  std::unique_lock lock(lane.mu);
  // Wait for room; a chunk bigger than the budget is let through when the lane is empty.
  lane.drained.wait(lock, [&] {
    return failed_.load() || lane.pending_bytes == 0 ||
           lane.pending_bytes + size <= options_.budget_bytes_per_lane;
  });
  if (failed_) {
    lock.unlock();
    return MakeError(*failure());
  }
  lane.pending_bytes += size;
  lane.queue.push_back(std::move(lane.open));
  if (!lane.spare.empty()) {
    lane.open = std::move(lane.spare.back());
    lane.spare.pop_back();
  } else {
    lane.open = Chunk{};
    lane.open.bytes.reserve(options_.chunk_bytes + options_.chunk_bytes / 4);
  }
  lock.unlock();
  lane.cv.notify_one();
  return {};
}

Result<void> SnapshotLanes::Drain() {
  for (auto& lane : lanes_) {
    auto handed = HandOver(*lane);
    if (!handed) return handed;
  }
  for (auto& lane : lanes_) {
    std::unique_lock lock(lane->mu);
    lane->drained.wait(
        lock, [&] { return failed_.load() || (lane->queue.empty() && lane->pending_bytes == 0); });
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

// One gather write for the whole batch, with SELECTs where the db changes.
Result<void> SnapshotLanes::WriteBatch(Lane& lane, Batch& batch, int* current_db) {
  size_t op_count = 0;
  size_t db_changes = 0;
  int db = *current_db;
  for (const auto& chunk : batch.chunks) {
    op_count += chunk.ops.size();
    for (const auto& op : chunk.ops) {
      if (op.db != db) {
        ++db_changes;
        db = op.db;
      }
    }
  }
  batch.select_before.assign(op_count, -1);
  batch.selects.clear();
  batch.selects.reserve(db_changes);  // no reallocation: segments point into it
  batch.segments.clear();
  size_t k = 0;
  for (const auto& chunk : batch.chunks) {
    size_t from = 0;  // first byte of the chunk not yet in a segment
    size_t start = 0;
    for (const auto& op : chunk.ops) {
      if (op.db != *current_db) {
        if (start > from)
          batch.segments.push_back(ByteView(chunk.bytes).subspan(from, start - from));
        from = start;
        *current_db = op.db;
        batch.selects.push_back(resp::EncodeCommand({"SELECT", std::to_string(op.db)}));
        batch.segments.push_back(ByteView(batch.selects.back()));
        batch.select_before[k] = op.db;
      }
      start = op.end;
      ++k;
    }
    if (chunk.bytes.size() > from) {
      batch.segments.push_back(ByteView(chunk.bytes).subspan(from));
    }
  }
  auto sent = lane.client->SendRaw(batch.segments);
  if (!sent) {
    return MakeError(TargetErrc::kLinkFailed, "writing to the target " + lane.endpoint +
                                                  " failed: " + sent.error().ToString());
  }
  return {};
}

Result<void> SnapshotLanes::ReadReplies(Lane& lane, const Batch& batch) {
  size_t k = 0;
  size_t ops = 0;
  // Replies still owed for this batch after the one being read: the client's reads wait
  // for them together instead of waking for each packet of replies.
  size_t owed = 0;
  for (const auto& chunk : batch.chunks) {
    for (const auto& op : chunk.ops) owed += op.reply_count;
  }
  for (int db : batch.select_before) owed += db >= 0 ? 1 : 0;
  for (const auto& chunk : batch.chunks) {
    auto next_description = chunk.descriptions.begin();
    for (size_t i = 0; i < chunk.ops.size(); ++i) {
      const OpInfo& op = chunk.ops[i];
      const std::string* description = nullptr;
      if (next_description != chunk.descriptions.end() && next_description->first == i) {
        description = &next_description->second;
        ++next_description;
      }
      if (batch.select_before[k] >= 0) {
        auto reply = lane.client->ReadReply(--owed);
        if (!reply || reply->is_error()) {
          return MakeError(TargetErrc::kRejected,
                           "the target " + lane.endpoint + " refused SELECT " +
                               std::to_string(batch.select_before[k]) + ": " +
                               (reply ? reply->str() : reply.error().ToString()) +
                               "; check that the target has that many databases (databases "
                               "config)");
        }
      }
      auto describe = [&] {
        return description != nullptr ? *description : DescribeOp(chunk.bytes, op.label, op.db);
      };
      for (uint32_t r = 0; r < op.reply_count; ++r) {
        auto reply = lane.client->ReadReply(--owed);
        if (!reply) {
          return MakeError(TargetErrc::kLinkFailed, "reading the target's reply to " + describe() +
                                                        " from " + lane.endpoint +
                                                        " failed: " + reply.error().ToString());
        }
        if (reply->is_error() || reply->type() == resp::ReplyType::kArray) {
          auto ok = CheckReply(*reply, describe(), lane.endpoint);
          if (!ok) return ok;
        }
      }
      ++k;
    }
    ops += chunk.ops.size();
  }
  ops_done_.fetch_add(ops, std::memory_order_relaxed);
  bytes_done_.fetch_add(batch.bytes, std::memory_order_relaxed);
  return {};
}

void SnapshotLanes::RunLane(Lane& lane) {
  int current_db = target_.db;
  std::deque<Batch> in_flight;
  for (;;) {
    Batch next;
    bool have_next = false;
    {
      std::unique_lock lock(lane.mu);
      if (in_flight.empty()) {
        lane.cv.wait(lock, [&] { return lane.stop || !lane.queue.empty(); });
      }
      if (lane.stop) return;
      if (in_flight.size() < kBatchesInFlight && !lane.queue.empty()) {
        size_t ops = 0;
        while (!lane.queue.empty()) {
          const Chunk& front = lane.queue.front();
          if (!next.chunks.empty() && (next.bytes + front.bytes.size() > options_.max_batch_bytes ||
                                       ops + front.ops.size() > options_.max_batch_ops)) {
            break;
          }
          next.bytes += front.bytes.size();
          ops += front.ops.size();
          next.chunks.push_back(std::move(lane.queue.front()));
          lane.queue.pop_front();
        }
        have_next = true;
      }
    }
    if (have_next) {
      auto written = WriteBatch(lane, next, &current_db);
      if (!written) {
        Fail(std::move(written).error());
        return;
      }
      in_flight.push_back(std::move(next));
      if (in_flight.size() < kBatchesInFlight) continue;
    }
    Batch& done = in_flight.front();
    auto answered = ReadReplies(lane, done);
    if (!answered) {
      Fail(std::move(answered).error());
      return;
    }
    {
      std::lock_guard lock(lane.mu);
      lane.pending_bytes -= done.bytes;
      for (auto& chunk : done.chunks) {
        if (lane.spare.size() < kSpareChunks &&
            chunk.bytes.capacity() <= 2 * options_.chunk_bytes) {
          chunk.Clear();
          lane.spare.push_back(std::move(chunk));
        }
      }
    }
    in_flight.pop_front();
    lane.drained.notify_all();
  }
}

}  // namespace kf::target
