// StreamWriter: ordered, pipelined, transactional application of replication-stream
// commands, with the applied-offset marker set in the same transaction.
#include "target/stream_writer.h"

#include <deque>

#include "resp/encoder.h"
#include "target/target_errc.h"

namespace kf::target {

Result<void> StreamWriter::Connect(const net::Uri& target, const net::ClientOptions& options) {
  endpoint_ = target.Endpoint();
  connection_db_ = 0;
  return client_.Connect(target, options);
}

Result<void> StreamWriter::Apply(const std::vector<StreamOp>& batch) {
  if (batch.empty()) return {};
  if (batch.back().end_offset < 0) {
    return MakeError(TargetErrc::kRejected,
                     "internal error: a stream batch ended inside a source transaction");
  }
  int64_t end = -1;
  int db_after = source_db_;
  bool writes = false;
  for (const auto& op : batch) {
    if (op.end_offset >= 0) {
      end = op.end_offset;
      db_after = op.source_db_after;
    }
    writes = writes || !op.command.empty();
  }
  if (!writes) {  // PINGs and REPLCONFs only: nothing on the target changes
    applied_offset_ = end;
    source_db_ = db_after;
    return {};
  }
  if (marker_id_.empty() || replid_.empty()) {
    return MakeError(TargetErrc::kRejected,
                     "internal error: the stream writer has no marker identity");
  }
  // Commands keyferry adds around the batch; a deque keeps their bytes in place.
  std::deque<Bytes> extra;
  std::vector<std::string> descriptions;  // one per queued command, in order
  segments_.clear();
  auto add_extra = [&](std::vector<std::string> args, std::string description) {
    std::vector<ByteView> views;
    for (const auto& a : args) views.push_back(AsBytes(a));
    extra.push_back(resp::EncodeCommand(views));
    segments_.push_back(ByteView(extra.back()));
    if (!description.empty()) descriptions.push_back(std::move(description));
  };
  add_extra({"MULTI"}, "");
  int db = connection_db_;
  uint64_t commands = 0;
  for (const auto& op : batch) {
    if (op.command.empty()) continue;
    if (op.target_db != db) {
      add_extra({"SELECT", std::to_string(op.target_db)}, "SELECT " + std::to_string(op.target_db));
      db = op.target_db;
    }
    segments_.push_back(ByteView(op.command));
    descriptions.push_back(op.description);
    ++commands;
  }
  if (db != 0) add_extra({"SELECT", "0"}, "SELECT 0 (for keyferry's marker)");
  AppliedMarker marker{marker_id_, MarkerState::kStream, replid_, end, db_after};
  add_extra({"SET", marker_key_, EncodeMarker(marker)},
            "SET " + marker_key_ + " (keyferry's applied-offset marker)");
  add_extra({"EXEC"}, "");

  auto link_failed = [&](const std::string& what, const Error& e) {
    client_.Close();
    return MakeError(TargetErrc::kLinkFailed,
                     what + " on the target " + endpoint_ + " failed: " + e.ToString() +
                         " (whether the last batch applied is known from the target's marker)");
  };
  if (auto sent = client_.SendRaw(segments_); !sent) {
    return link_failed("writing the replication stream", sent.error());
  }
  auto multi = client_.ReadReply();
  if (!multi) return link_failed("reading the reply to MULTI", multi.error());
  if (!multi->IsOk()) {
    auto r = CheckReply(*multi, "MULTI", endpoint_);
    if (!r) return r;
    return MakeError(TargetErrc::kRejected, "the target answered MULTI with " + multi->str());
  }
  std::optional<Error> queue_error;
  for (const auto& description : descriptions) {
    auto queued = client_.ReadReply();
    if (!queued) return link_failed("reading the reply to " + description, queued.error());
    if (queued->is_error() && !queue_error) {
      auto r = CheckReply(*queued, description, endpoint_);
      queue_error = r ? Error{make_error_code(TargetErrc::kRejected), queued->str()} : r.error();
    }
  }
  auto exec = client_.ReadReply();
  if (!exec) return link_failed("reading the reply to EXEC", exec.error());
  if (queue_error || exec->is_error()) {
    // EXECABORT: nothing of the batch was applied, the marker did not move.
    if (queue_error) {
      return MakeError(queue_error->code, queue_error->message +
                                              " (the target discarded the whole batch of " +
                                              std::to_string(commands) + " commands)");
    }
    return MakeError(TargetErrc::kRejected,
                     "the target " + endpoint_ + " refused the batch: " + exec->str());
  }
  // EXEC ran: every command and the marker applied, whatever the individual replies.
  applied_offset_ = end;
  source_db_ = db_after;
  connection_db_ = 0;
  commands_applied_ += commands;
  if (exec->size() != descriptions.size()) {
    return MakeError(TargetErrc::kRejected, "the target answered EXEC with " +
                                                std::to_string(exec->size()) + " replies for " +
                                                std::to_string(descriptions.size()) + " commands");
  }
  for (size_t i = 0; i < descriptions.size(); ++i) {
    auto ok = CheckReply((*exec)[i], descriptions[i], endpoint_);
    if (!ok) return ok;
  }
  return {};
}

}  // namespace kf::target
