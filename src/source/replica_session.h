// ReplicaSession: keyferry as a replica of one source node — the replica protocol, behind
// which the caller sees only decoded events and the offsets it must know.
//
// It owns the ReplicaLink (handshake and byte pipe) and a ReplicationDecoder, and does what
// the protocol asks of a replica (DESIGN.md §4), each with its contract:
//   Open        handshake and PSYNC <replid> <next> (or PSYNC ? -1): +FULLRESYNC makes the
//               decoder expect a snapshot, +CONTINUE the stream at next; -LOADING etc. are
//               retried inside ReplicaLink.
//   Next        one read of the link (or the bytes left after a snapshot's end), decoded, its
//               events delivered; a timeout or a drop comes back as kLinkLost with the
//               words an operator reads ("the source sent nothing for 60 s during the
//               snapshot", "the replication link dropped: ...").
//   GETACK      answered at once with the applied offset, inside Next, before the request
//               is passed on (the caller still sees it: its bytes move the offset).
//   ACK         REPLCONF ACK <applied> once a second in the stream (checked at each Next),
//               and, after a full sync, every 20 ms for up to 2 s until the first stream
//               byte: a diskless primary holds the stream until an ACK that follows the
//               reaping of its RDB child, and the one ACK right after the snapshot can beat
//               that. Never during a snapshot (nothing is applied then).
// The session knows nothing of the target: the caller says what is applied (set_applied,
// SnapshotApplied) and keeps its own resume point (target marker, checkpoint file); the
// session only carries it to PSYNC. Not thread-safe: one caller drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "net/uri.h"
#include "source/psync_protocol.h"
#include "source/replica_link.h"
#include "source/replication_decoder.h"

namespace kf::source {

struct ReplicaSessionOptions {
  ReplicaLinkOptions link;
  // The link counts as dead when the source sends nothing for this long (a primary PINGs
  // every repl-ping-replica-period, 10 s by default). The clock starts at the first Next of
  // a snapshot and of a stream, so time the caller spends between them (applying the
  // snapshot) does not count.
  std::chrono::milliseconds link_timeout{60000};
};

// How often ACKs go in the stream, and in the burst after a full sync (see the top).
inline constexpr std::chrono::milliseconds kAckInterval{1000};
inline constexpr std::chrono::milliseconds kStartAckInterval{20};
inline constexpr std::chrono::milliseconds kStartAckFor{2000};

class ReplicaSession {
 public:
  explicit ReplicaSession(ReplicaSessionOptions options);

  // Connects to `source` and asks to continue `replid` at `next_offset` (the first byte not
  // yet applied); replid empty or next_offset < 0 asks for a full sync. After +FULLRESYNC,
  // replid() is the new id, applied() is -1 until SnapshotApplied, and Next delivers the
  // snapshot, then the stream from the FULLRESYNC offset. After +CONTINUE, replid() is the
  // id the primary named (or the one asked for) and the stream starts at next_offset.
  // Errors: those of ReplicaLink::Open (kLinkLost, kHandshakeRefused, kRetryLater, ...).
  Result<PsyncReply> Open(const net::Uri& source, const std::string& replid, int64_t next_offset);

  // Sends the ACKs that are due (stream only), then waits up to `wait` for bytes, decodes
  // them and delivers their events to `events` (with GETACK answered first). true: bytes
  // were decoded; false: nothing came within `wait`. Errors: kLinkLost when the link
  // dropped, an ACK could not be sent, or nothing came for link_timeout; the decoder's
  // kMalformedPayload / kProtocol (naming the source); a handler's error unchanged.
  // During a snapshot, Next returns right after the snapshot's end (the stream bytes that
  // came with it wait for the next call).
  Result<bool> Next(ReplicationEvents& events, std::chrono::milliseconds wait);

  // The offset the target has applied: what ACK and GETACK answers carry.
  void set_applied(int64_t offset) { applied_ = offset; }
  // After a full sync: the snapshot is applied at `offset`. ACKs it at once and starts the
  // burst of ACKs that lasts until the first stream byte (at most kStartAckFor).
  Result<void> SnapshotApplied(int64_t offset);
  // ACKs applied() now (nothing when the link is closed or nothing is applied yet).
  Result<void> SendAck();
  void Close();

  bool open() const { return link_.open(); }
  bool in_snapshot() const { return decoder_.in_snapshot(); }
  int64_t applied() const { return applied_; }
  // The offset of the last byte received and decoded (during a snapshot: its offset).
  int64_t received() const { return decoder_.offset(); }
  // The replication id of the open link (see Open).
  const std::string& replid() const { return replid_; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  class AckAnswering;
  Result<void> SendDueAcks();

  ReplicaSessionOptions options_;
  ReplicaLink link_;
  ReplicationDecoder decoder_;
  std::string endpoint_;
  std::string replid_;
  int64_t applied_ = -1;
  std::vector<uint8_t> buffer_;
  size_t buffer_pos_ = 0;  // [buffer_pos_, buffer_end_): read, not yet decoded
  size_t buffer_end_ = 0;
  bool idle_clock_running_ = false;
  std::chrono::steady_clock::time_point last_data_;
  std::chrono::steady_clock::time_point last_ack_;
  bool awaiting_stream_ = false;  // the post-full-sync ACK burst is on
  std::chrono::steady_clock::time_point awaiting_since_;
  std::chrono::steady_clock::time_point last_start_ack_;
};

}  // namespace kf::source
