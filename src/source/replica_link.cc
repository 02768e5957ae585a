// ReplicaLink: the replica handshake, PSYNC, and the byte pipe that follows.
#include "source/replica_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "net/errc.h"
#include "resp/encoder.h"

namespace kf::source {
namespace {

// Explains a refused handshake step in words an operator can act on.
Error Refused(const std::string& endpoint, const std::string& step, const std::string& answer) {
  std::string hint;
  if (answer.find("NOPERM") != std::string::npos) {
    hint =
        " The source user lacks a permission: grant it with ACL SETUSER <user> +psync "
        "+replconf +ping (or use an admin user).";
  } else if (answer.find("unknown command") != std::string::npos ||
             answer.find("not allowed") != std::string::npos) {
    hint =
        " This source does not allow replication (managed services such as ElastiCache "
        "disable SYNC/PSYNC); run keyferry sync with --source-mode scan, which copies with "
        "SCAN and DUMP and follows keyspace notifications (docs/scan.md).";
  }
  return Error{make_error_code(ReplicationErrc::kHandshakeRefused),
               "the source " + endpoint + " refused " + step + ": \"" + answer + "\"." + hint};
}

}  // namespace

Result<PsyncReply> ReplicaLink::Open(const net::Uri& source, const ReplicaLinkOptions& options,
                                     const std::string& replid, int64_t next_offset) {
  auto deadline = std::chrono::steady_clock::now() + options.retry_for;
  std::chrono::milliseconds backoff{100};
  for (;;) {
    auto reply = TryOpen(source, options, replid, next_offset);
    if (reply || reply.error().code != make_error_code(ReplicationErrc::kRetryLater) ||
        std::chrono::steady_clock::now() + backoff > deadline) {
      return reply;
    }
    spdlog::info("{}; retrying in {} ms", reply.error().message, backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

Result<PsyncReply> ReplicaLink::TryOpen(const net::Uri& source, const ReplicaLinkOptions& options,
                                        const std::string& replid, int64_t next_offset) {
  Close();
  endpoint_ = source.Endpoint();
  io_timeout_ = options.client.io_timeout;
  net::Uri uri = source;
  uri.db = 0;  // replication carries every db; SELECT on the link would be meaningless
  net::Client client;
  auto connected = client.Connect(uri, options.client);
  if (!connected) return MakeError(connected.error());

  std::string port = std::to_string(options.announce_port);
  auto r1 = client.Call({"REPLCONF", "listening-port", port});
  if (!r1) return MakeError(r1.error());
  if (r1->is_error()) return MakeError(Refused(endpoint_, "REPLCONF listening-port", r1->str()));
  auto r2 = client.Call({"REPLCONF", "capa", "eof", "capa", "psync2"});
  if (!r2) return MakeError(r2.error());
  if (r2->is_error()) return MakeError(Refused(endpoint_, "REPLCONF capa", r2->str()));

  std::string id = replid.empty() || next_offset < 0 ? "?" : replid;
  std::string offset = id == "?" ? "-1" : std::to_string(next_offset);
  auto sent = client.Send({"PSYNC", id, offset});
  if (!sent) return MakeError(sent.error());
  auto released = client.Release();
  if (!released) return MakeError(released.error());
  connection_ = std::move(released->connection);
  pending_ = std::move(released->buffered);
  pending_pos_ = 0;

  // The PSYNC answer: keepalive newlines, then one status line.
  PsyncReplyParser parser;
  auto answer_deadline = std::chrono::steady_clock::now() + options.client.io_timeout * 6;
  for (;;) {
    if (pending_pos_ < pending_.size()) {
      auto step = parser.Parse(ByteView(pending_).subspan(pending_pos_));
      if (!step) {
        Close();
        if (step.error().code == make_error_code(ReplicationErrc::kPrimaryError)) {
          return MakeError(Refused(endpoint_, "PSYNC", step.error().message));
        }
        return MakeError(std::move(step).error());
      }
      pending_pos_ += step->consumed;
      if (step->complete) return parser.reply();
    }
    if (std::chrono::steady_clock::now() > answer_deadline) {
      Close();
      return MakeError(ReplicationErrc::kLinkLost,
                       "the source " + endpoint_ + " did not answer PSYNC in time");
    }
    uint8_t chunk[4096];
    auto n = connection_->ReadSome(chunk, std::chrono::milliseconds(1000));
    if (!n) {
      if (n.error().code == make_error_code(net::NetErrc::kTimeout)) continue;
      Close();
      return MakeError(
          ReplicationErrc::kLinkLost,
          "the source " + endpoint_ + " closed the link during PSYNC: " + n.error().ToString());
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(pending_pos_));
    pending_pos_ = 0;
    pending_.insert(pending_.end(), chunk, chunk + *n);
  }
}

Result<size_t> ReplicaLink::Read(std::span<uint8_t> buffer, std::chrono::milliseconds timeout) {
  if (pending_pos_ < pending_.size()) {
    size_t n = std::min(buffer.size(), pending_.size() - pending_pos_);
    std::memcpy(buffer.data(), pending_.data() + pending_pos_, n);
    pending_pos_ += n;
    return n;
  }
  if (!connection_) {
    return MakeError(ReplicationErrc::kLinkLost, "the replication link is closed");
  }
  return connection_->ReadSome(buffer, timeout);
}

Result<void> ReplicaLink::SendAck(int64_t offset) {
  if (!connection_) {
    return MakeError(ReplicationErrc::kLinkLost, "the replication link is closed");
  }
  Bytes ack = resp::EncodeCommand({"REPLCONF", "ACK", std::to_string(offset)});
  return connection_->WriteAll(ByteView(ack), io_timeout_);
}

void ReplicaLink::Close() {
  if (connection_) connection_->Close();
  connection_.reset();
  pending_.clear();
  pending_pos_ = 0;
}

}  // namespace kf::source
