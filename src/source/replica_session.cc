// ReplicaSession: one source node's replication link, decoded, with its ACKs and timeouts.
#include "source/replica_session.h"

#include <utility>

#include "net/errc.h"

namespace kf::source {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadBufferBytes = 256 * 1024;

Unexpected LinkLost(std::string what) {
  return MakeError(ReplicationErrc::kLinkLost, std::move(what));
}

}  // namespace

// Answers GETACK before handing the request on, and remembers whether an error came from
// the caller's handlers (passed on unchanged) or from the decoder itself (named with the
// source).
class ReplicaSession::AckAnswering : public ReplicationEvents {
 public:
  AckAnswering(ReplicaSession* session, ReplicationEvents* inner)
      : session_(session), inner_(inner) {}

  Result<void> OnSnapshotStart(std::optional<uint64_t> announced_size) override {
    return Note(inner_->OnSnapshotStart(announced_size));
  }
  Result<void> OnSnapshotBytes(ByteView rdb) override { return Note(inner_->OnSnapshotBytes(rdb)); }
  Result<void> OnSnapshotEnd(uint64_t payload_bytes) override {
    return Note(inner_->OnSnapshotEnd(payload_bytes));
  }
  Result<void> OnCommand(const resp::Command& cmd, int64_t end_offset) override {
    return Note(inner_->OnCommand(cmd, end_offset));
  }
  Result<void> OnAckRequest(int64_t end_offset) override {
    // The primary waits for this answer (WAIT, failover): it goes at once, with what the
    // target has applied — never merely what was received.
    auto acked = session_->link_.SendAck(session_->applied_);
    if (!acked) return LinkLost("answering GETACK failed");
    return Note(inner_->OnAckRequest(end_offset));
  }

  bool handler_failed() const { return handler_failed_; }

 private:
  Result<void> Note(Result<void> handled) {
    if (!handled) handler_failed_ = true;
    return handled;
  }

  ReplicaSession* session_;
  ReplicationEvents* inner_;
  bool handler_failed_ = false;
};

ReplicaSession::ReplicaSession(ReplicaSessionOptions options)
    : options_(std::move(options)), buffer_(kReadBufferBytes) {
  auto now = Clock::now();
  last_data_ = last_ack_ = awaiting_since_ = last_start_ack_ = now;
}

Result<PsyncReply> ReplicaSession::Open(const net::Uri& source, const std::string& replid,
                                        int64_t next_offset) {
  Close();
  endpoint_ = source.Endpoint();
  auto reply = link_.Open(source, options_.link, replid, next_offset);
  if (!reply) return reply;
  idle_clock_running_ = false;
  if (reply->kind == PsyncReply::Kind::kFullResync) {
    replid_ = reply->replid;
    applied_ = -1;  // nothing of this snapshot is applied yet: no ACK until SnapshotApplied
    decoder_.StartSnapshot(reply->offset);
  } else {
    replid_ = reply->replid.empty() ? replid : reply->replid;
    applied_ = next_offset - 1;
    decoder_.StartStream(next_offset - 1);
  }
  return reply;
}

Result<void> ReplicaSession::SendAck() {
  last_ack_ = Clock::now();
  if (!link_.open() || applied_ < 0) return {};
  auto acked = link_.SendAck(applied_);
  if (!acked) return LinkLost("sending REPLCONF ACK failed: " + acked.error().ToString());
  return {};
}

Result<void> ReplicaSession::SnapshotApplied(int64_t offset) {
  applied_ = offset;
  awaiting_stream_ = true;
  awaiting_since_ = last_start_ack_ = Clock::now();
  return SendAck();
}

Result<void> ReplicaSession::SendDueAcks() {
  auto now = Clock::now();
  if (now - last_ack_ >= kAckInterval) {
    auto acked = SendAck();
    if (!acked) return acked;
  }
  // The burst after a full sync (see the header): until the first stream byte, at most
  // kStartAckFor.
  if (awaiting_stream_ && now - awaiting_since_ > kStartAckFor) awaiting_stream_ = false;
  if (awaiting_stream_ && link_.open() && applied_ >= 0 &&
      now - last_start_ack_ >= kStartAckInterval) {
    last_start_ack_ = now;
    auto acked = link_.SendAck(applied_);
    if (!acked) return LinkLost("sending REPLCONF ACK failed: " + acked.error().ToString());
  }
  return {};
}

Result<bool> ReplicaSession::Next(ReplicationEvents& events, std::chrono::milliseconds wait) {
  const bool snapshot = decoder_.in_snapshot();
  if (!idle_clock_running_) {
    idle_clock_running_ = true;
    last_data_ = Clock::now();
  }
  if (!snapshot) {
    auto acked = SendDueAcks();
    if (!acked) return MakeError(std::move(acked).error());
  }
  if (buffer_pos_ == buffer_end_) {
    auto n = link_.Read(buffer_, wait);
    if (!n) {
      if (n.error().code == make_error_code(net::NetErrc::kTimeout)) {
        if (Clock::now() - last_data_ > options_.link_timeout) {
          return LinkLost("the source sent nothing for " +
                          std::to_string(options_.link_timeout.count() / 1000) + " s" +
                          (snapshot ? " during the snapshot" : ""));
        }
        return false;
      }
      if (snapshot) {
        return LinkLost("the link dropped during the snapshot: " + n.error().ToString());
      }
      return LinkLost("the replication link dropped: " + n.error().ToString());
    }
    buffer_pos_ = 0;
    buffer_end_ = *n;
  }
  if (!snapshot) awaiting_stream_ = false;  // the stream flows: the burst is over
  last_data_ = Clock::now();
  AckAnswering answering(this, &events);
  ByteView data(buffer_.data() + buffer_pos_, buffer_end_ - buffer_pos_);
  auto consumed = decoder_.Feed(data, answering);
  if (!consumed) {
    Error e = std::move(consumed).error();
    if (!answering.handler_failed() && e.code == make_error_code(ReplicationErrc::kProtocol)) {
      e.message = "the replication stream from " + endpoint_ + " is malformed: " + e.message;
    }
    return MakeError(std::move(e));
  }
  buffer_pos_ += *consumed;
  if (snapshot && !decoder_.in_snapshot()) {
    // The stream's idle clock starts when the caller first asks for it, after it has
    // applied the snapshot.
    idle_clock_running_ = false;
  }
  return true;
}

void ReplicaSession::Close() {
  link_.Close();
  buffer_pos_ = buffer_end_ = 0;
}

}  // namespace kf::source
