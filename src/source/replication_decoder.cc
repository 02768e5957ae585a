// ReplicationDecoder: snapshot framing, then the command stream, with offsets counted.
#include "source/replication_decoder.h"

#include <string>
#include <utility>

namespace kf::source {
namespace {

Unexpected NotExpected(const char* what) {
  return MakeError(ReplicationErrc::kProtocol,
                   std::string("the primary sent ") + what + ", which this reader does not expect");
}

}  // namespace

Result<void> ReplicationEvents::OnSnapshotStart(std::optional<uint64_t>) {
  return NotExpected("a snapshot");
}
Result<void> ReplicationEvents::OnSnapshotBytes(ByteView) { return NotExpected("snapshot bytes"); }
Result<void> ReplicationEvents::OnSnapshotEnd(uint64_t) { return NotExpected("a snapshot's end"); }
Result<void> ReplicationEvents::OnCommand(const resp::Command&, int64_t) {
  return NotExpected("a stream command");
}
Result<void> ReplicationEvents::OnAckRequest(int64_t) { return NotExpected("REPLCONF GETACK"); }

bool IsAckRequest(const resp::Command& cmd) {
  return cmd.argc() >= 2 && cmd.ArgEquals(0, "replconf") && cmd.ArgEquals(1, "getack");
}

void ReplicationDecoder::StartSnapshot(int64_t offset) {
  phase_ = Phase::kSnapshot;
  framer_ = SnapshotFramer();
  start_reported_ = false;
  parser_.Reset();
  offset_ = offset;
}

void ReplicationDecoder::StartStream(int64_t offset) {
  phase_ = Phase::kStream;
  framer_ = SnapshotFramer();
  start_reported_ = false;
  parser_.Reset();
  offset_ = offset;
}

Unexpected ReplicationDecoder::Fail(Error error) {
  phase_ = Phase::kFailed;
  return MakeError(std::move(error));
}

Result<size_t> ReplicationDecoder::Feed(ByteView data, ReplicationEvents& events) {
  switch (phase_) {
    case Phase::kSnapshot:
      return FeedSnapshot(data, events);
    case Phase::kStream:
      return FeedStream(data, events);
    case Phase::kIdle:
      return MakeError(ReplicationErrc::kProtocol,
                       "replication bytes arrived before a PSYNC answer said what they are");
    case Phase::kFailed:
      break;
  }
  return MakeError(ReplicationErrc::kProtocol,
                   "the replication stream already failed; reconnect to read it again");
}

Result<size_t> ReplicationDecoder::FeedSnapshot(ByteView data, ReplicationEvents& events) {
  size_t consumed = 0;
  std::optional<Error> handler_error;
  // The header is reported before the first payload byte: inside the framer's callback
  // when payload follows the header in the same step, else right after the step.
  auto report_start = [&]() -> Result<void> {
    if (start_reported_) return {};
    start_reported_ = true;
    return events.OnSnapshotStart(framer_.announced_size());
  };
  while (consumed < data.size()) {
    auto step = framer_.Parse(data.subspan(consumed), [&](ByteView payload) {
      // The framer cannot be stopped mid-step: after a handler's error the rest of the
      // step's payload is dropped and the error returned once the step is over.
      if (handler_error) return;
      auto started = report_start();
      if (!started) {
        handler_error = std::move(started).error();
        return;
      }
      auto fed = events.OnSnapshotBytes(payload);
      if (!fed) handler_error = std::move(fed).error();
    });
    if (!step) return Fail(std::move(step).error());
    if (handler_error) return Fail(std::move(*handler_error));
    consumed += step->consumed;
    if (framer_.header_done()) {
      auto started = report_start();
      if (!started) return Fail(std::move(started).error());
    }
    if (step->complete) {
      // What follows is the stream; the caller gets it on its next Feed, once it has
      // finished with the snapshot.
      phase_ = Phase::kStream;
      parser_.Reset();
      auto ended = events.OnSnapshotEnd(framer_.payload_bytes());
      if (!ended) return Fail(std::move(ended).error());
      return consumed;
    }
    if (step->consumed == 0) break;  // the framer takes every byte it is given; never spin
  }
  return consumed;
}

Result<size_t> ReplicationDecoder::FeedStream(ByteView data, ReplicationEvents& events) {
  size_t consumed = 0;
  while (consumed < data.size()) {
    auto out = parser_.Feed(data.subspan(consumed));
    consumed += out.consumed;
    if (out.malformed()) {
      return Fail(Error{make_error_code(ReplicationErrc::kProtocol), out.error.message});
    }
    if (!out.complete()) break;  // need more: every byte given is held by the parser
    const resp::Command& cmd = parser_.command();
    offset_ += static_cast<int64_t>(cmd.wire_size());
    auto handled =
        IsAckRequest(cmd) ? events.OnAckRequest(offset_) : events.OnCommand(cmd, offset_);
    if (!handled) return Fail(std::move(handled).error());
  }
  return consumed;
}

}  // namespace kf::source
