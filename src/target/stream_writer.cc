// StreamWriter: ordered, pipelined application of replication-stream commands.
#include "target/stream_writer.h"

#include "target/target_errc.h"

namespace kf::target {

Result<void> StreamWriter::Connect(const net::Uri& target, const net::ClientOptions& options) {
  endpoint_ = target.Endpoint();
  return client_.Connect(target, options);
}

Result<void> StreamWriter::Apply(const std::vector<StreamOp>& batch) {
  segments_.clear();
  for (const auto& op : batch) {
    if (!op.command.empty()) segments_.push_back(ByteView(op.command));
  }
  if (!segments_.empty()) {
    auto sent = client_.SendRaw(segments_);
    if (!sent) {
      return MakeError(TargetErrc::kLinkFailed, "writing the replication stream to the target " +
                                                    endpoint_ +
                                                    " failed: " + sent.error().ToString());
    }
  }
  for (const auto& op : batch) {
    for (uint32_t r = 0; r < op.reply_count; ++r) {
      auto reply = client_.ReadReply();
      if (!reply) {
        return MakeError(TargetErrc::kLinkFailed, "reading the target's reply to " +
                                                      op.description + " from " + endpoint_ +
                                                      " failed: " + reply.error().ToString());
      }
      auto ok = CheckReply(*reply, op.description, endpoint_);
      if (!ok) return ok;
    }
    if (op.reply_count > 0) ++commands_applied_;
    if (op.end_offset >= 0) applied_offset_ = op.end_offset;
  }
  return {};
}

}  // namespace kf::target
