// ReplicaLink: keyferry's side of a replication link to a Redis/Valkey primary.
//
// Open() connects and runs the replica handshake (DESIGN.md §4), each step with its
// contract:
//   AUTH (inside net::Client::Connect when the URI has a password) — a refusal is final;
//   REPLCONF listening-port <port>      — informational for the primary's INFO;
//   REPLCONF capa eof capa psync2        — we accept diskless payloads and PSYNC2 ids;
//   PSYNC <replid> <offset> | PSYNC ? -1 — the answer is parsed by PsyncReplyParser.
// -LOADING / -NOMASTERLINK / -MASTERDOWN answers are retried with backoff (0.1 s doubling
// to 5 s) until `retry_for` runs out; a refused REPLCONF/PSYNC (ACL, managed service) is
// kHandshakeRefused with a message naming the missing permission or scan mode.
//
// After Open() the link is a byte pipe: Read() returns what the primary sends (first the
// bytes that arrived together with the PSYNC answer), SendAck() writes REPLCONF ACK.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "net/client.h"
#include "net/connection.h"
#include "net/uri.h"
#include "source/psync_protocol.h"

namespace kf::source {

struct ReplicaLinkOptions {
  net::ClientOptions client;
  int announce_port = 0;  // REPLCONF listening-port; 0 = the local port is not announced
  std::chrono::milliseconds retry_for{60000};
};

class ReplicaLink {
 public:
  // replid empty or offset < 0: ask for a full sync (PSYNC ? -1); otherwise ask to
  // continue at `next_offset` (the first byte not yet applied).
  Result<PsyncReply> Open(const net::Uri& source, const ReplicaLinkOptions& options,
                          const std::string& replid, int64_t next_offset);
  // Reads at least one byte (kTimeout from net when nothing came in time).
  Result<size_t> Read(std::span<uint8_t> buffer, std::chrono::milliseconds timeout);
  Result<void> SendAck(int64_t offset);
  void Close();
  bool open() const { return connection_ != nullptr && connection_->is_open(); }
  const std::string& endpoint() const { return endpoint_; }

 private:
  Result<PsyncReply> TryOpen(const net::Uri& source, const ReplicaLinkOptions& options,
                             const std::string& replid, int64_t next_offset);

  std::unique_ptr<net::Connection> connection_;
  Bytes pending_;  // bytes received with the PSYNC answer, returned first by Read()
  size_t pending_pos_ = 0;
  std::string endpoint_;
  std::chrono::milliseconds io_timeout_{10000};
};

}  // namespace kf::source
