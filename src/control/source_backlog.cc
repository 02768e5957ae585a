// The source's backlog between two offsets, read through a short replica link.
#include "control/source_backlog.h"

#include <algorithm>
#include <span>

#include "control/control_errc.h"
#include "resp/command_parser.h"
#include "source/replica_link.h"

namespace kf::control {

Result<BacklogWrites> ReadBacklogSince(const net::Uri& source, const std::string& replid,
                                       int64_t from, int64_t to) {
  BacklogWrites result;
  if (to <= from) return result;
  source::ReplicaLink link;
  source::ReplicaLinkOptions options;
  options.client.client_name = "keyferry-backlog";
  options.client.connect_timeout = std::chrono::milliseconds(3000);
  options.client.io_timeout = std::chrono::milliseconds(5000);
  options.retry_for = std::chrono::milliseconds(3000);
  auto reply = link.Open(source, options, replid, from + 1);
  if (!reply) return MakeError(std::move(reply).error());
  if (reply->kind != source::PsyncReply::Kind::kContinue) {
    link.Close();
    return MakeError(ControlErrc::kPhaseFailed,
                     "the source no longer holds its replication stream from offset " +
                         std::to_string(from + 1) + " (it offered a full sync instead)");
  }
  resp::CommandParser parser;
  std::vector<uint8_t> buffer(64 * 1024);
  int64_t left = to - from;
  while (left > 0) {
    auto n = link.Read(std::span<uint8_t>(buffer.data(), buffer.size()),
                       std::chrono::milliseconds(5000));
    if (!n) {
      link.Close();
      return MakeError(std::move(n).error());
    }
    size_t usable = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(*n), left));
    left -= static_cast<int64_t>(usable);
    ByteView data(buffer.data(), usable);
    while (!data.empty()) {
      auto step = parser.Feed(data);
      if (step.malformed()) {
        link.Close();
        return MakeError(
            ControlErrc::kPhaseFailed,
            "the source's replication stream could not be parsed: " + step.error.ToString());
      }
      data = data.subspan(step.consumed);
      if (!step.complete()) break;
      const resp::Command& cmd = parser.command();
      bool bookkeeping = cmd.empty() || cmd.ArgEquals(0, "ping") || cmd.ArgEquals(0, "replconf") ||
                         cmd.ArgEquals(0, "select") || cmd.ArgEquals(0, "multi") ||
                         cmd.ArgEquals(0, "exec");
      if (!bookkeeping) {
        ++result.writes;
        if (result.examples.size() < 5) result.examples.push_back(cmd.ToString(40));
      }
    }
  }
  link.Close();
  return result;
}

}  // namespace kf::control
