// ReplicationDecoder: the bytes a primary sends after its PSYNC answer, decoded without IO.
//
// After +FULLRESYNC the primary sends the snapshot (framed as psync_protocol.h says), then
// the command stream; after +CONTINUE only the command stream. The decoder turns those
// bytes, in whatever pieces they arrive, into events delivered in stream order to a
// ReplicationEvents:
//   OnSnapshotStart(size)   the snapshot's header was read ($<len>: its size; $EOF: nullopt);
//   OnSnapshotBytes(rdb)    RDB bytes, in order, never a byte of the framing or EOF mark;
//   OnSnapshotEnd(bytes)    the RDB is complete;
//   OnCommand(cmd, end)     one stream command and the replication offset it ends at;
//   OnAckRequest(end)       a REPLCONF GETACK: the primary wants an ACK now.
// A GETACK is reported as an ack request, not as a command: answering it is the replica
// session's job (replica_session.h), not the data path's. Its bytes still count in the
// replication offset (a primary counts every byte it sends: PINGs, GETACKs and empty
// lines move the offset like writes do), so `end` is reported for it too.
//
// Offsets: `end` is the offset of the stream once the command is applied, the number ACK
// carries and PSYNC continues after (PSYNC <replid> <end + 1>). The stream after a
// snapshot starts at the FULLRESYNC offset; after CONTINUE, at the offset asked minus one.
//
// Wraps SnapshotFramer and resp::CommandParser and holds nothing else: memory is what those
// two hold (a partial header or command, at most the 40 bytes of a possible EOF mark),
// never a whole snapshot or a batch of commands.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/result.h"
#include "resp/command.h"
#include "resp/command_parser.h"
#include "source/psync_protocol.h"

namespace kf::source {

// Receives what the decoder found. A handler that returns an error stops the decoder: Feed
// returns that error unchanged, and the decoder is failed from then on. The defaults of the
// snapshot and stream handlers refuse the event (kProtocol), so a consumer that only
// expects one phase overrides only that phase's handlers.
class ReplicationEvents {
 public:
  virtual ~ReplicationEvents() = default;
  virtual Result<void> OnSnapshotStart(std::optional<uint64_t> announced_size);
  // `rdb` is valid only during the call.
  virtual Result<void> OnSnapshotBytes(ByteView rdb);
  virtual Result<void> OnSnapshotEnd(uint64_t payload_bytes);
  // `cmd` is valid only during the call. Empty commands (argc() == 0: a bare "\n") are
  // handed on too, so that an offset counted from them stays exact.
  virtual Result<void> OnCommand(const resp::Command& cmd, int64_t end_offset);
  virtual Result<void> OnAckRequest(int64_t end_offset);
};

// True for REPLCONF GETACK (any case), the one command a replica must answer itself.
bool IsAckRequest(const resp::Command& cmd);

class ReplicationDecoder {
 public:
  enum class Phase { kIdle, kSnapshot, kStream, kFailed };

  // After +FULLRESYNC <replid> <offset>: a snapshot comes first, then the stream from
  // `offset`. After +CONTINUE: the stream, its first byte the one after `offset` (the offset
  // the replica asked for minus one). Either resets everything the decoder held.
  void StartSnapshot(int64_t offset);
  void StartStream(int64_t offset);

  // Decodes a prefix of `data` and delivers its events; returns the bytes consumed. It
  // consumes all of `data` (what it cannot complete yet is kept in the parsers: "need
  // more" is simply a step without an event) except when the snapshot ends inside it: then
  // it stops right after the snapshot's last byte, so that the caller can finish the
  // snapshot before the first stream command is handed over; feed the rest again.
  // Errors: kMalformedPayload (the snapshot's framing), kProtocol (the command stream is not
  // RESP; the message is the parser's, saying where and what), or a handler's error. Any
  // error leaves the decoder failed: later Feeds fail too, until a Start*.
  Result<size_t> Feed(ByteView data, ReplicationEvents& events);

  Phase phase() const { return phase_; }
  bool in_snapshot() const { return phase_ == Phase::kSnapshot; }
  // The replication offset of the last stream byte decoded (during the snapshot: the
  // FULLRESYNC offset, which the snapshot corresponds to).
  int64_t offset() const { return offset_; }

 private:
  Result<size_t> FeedSnapshot(ByteView data, ReplicationEvents& events);
  Result<size_t> FeedStream(ByteView data, ReplicationEvents& events);
  Unexpected Fail(Error error);

  Phase phase_ = Phase::kIdle;
  SnapshotFramer framer_;
  bool start_reported_ = false;
  resp::CommandParser parser_;
  int64_t offset_ = -1;
};

}  // namespace kf::source
