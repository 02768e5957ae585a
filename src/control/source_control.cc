// SourceControl: CLIENT PAUSE/UNPAUSE, offsets and SHUTDOWN on the source.
#include "control/source_control.h"

#include <charconv>

#include "control/control_errc.h"
#include "net/client.h"
#include "net/errc.h"
#include "net/server_info.h"

namespace kf::control {
namespace {

Result<resp::Reply> CallOnce(const net::Uri& uri, std::initializer_list<std::string_view> args) {
  net::Client client;
  net::ClientOptions co;
  co.connect_timeout = std::chrono::milliseconds(3000);
  co.io_timeout = std::chrono::milliseconds(5000);
  co.client_name = "keyferry-control";
  KF_RETURN_IF_ERROR(client.Connect(uri, co));
  return client.Call(args);
}

}  // namespace

Result<void> SourceControl::PauseWrites(std::chrono::milliseconds max_pause) {
  auto reply = CallOnce(source_, {"CLIENT", "PAUSE", std::to_string(max_pause.count()), "WRITE"});
  if (!reply) return MakeError(reply.error());
  if (reply->is_error()) {
    return MakeError(ControlErrc::kPhaseFailed, "the source " + source_.Endpoint() +
                                                    " refused CLIENT PAUSE WRITE: \"" +
                                                    reply->str() +
                                                    "\"; the source user needs +client|pause (ACL "
                                                    "SETUSER <user> +client|pause) and Redis 6.2+");
  }
  return {};
}

Result<void> SourceControl::Unpause() {
  auto reply = CallOnce(source_, {"CLIENT", "UNPAUSE"});
  if (!reply) return MakeError(reply.error());
  if (reply->is_error()) {
    return MakeError(
        ControlErrc::kPhaseFailed,
        "the source " + source_.Endpoint() + " refused CLIENT UNPAUSE: \"" + reply->str() + "\"");
  }
  return {};
}

Result<std::string> SourceControl::Info(const std::string& section) {
  auto reply = CallOnce(source_, {"INFO", section});
  if (!reply) return MakeError(reply.error());
  if (reply->is_error()) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "INFO " + section + " refused by " + source_.Endpoint() + ": " + reply->str());
  }
  return reply->str();
}

Result<int64_t> SourceControl::ReplicationOffset() {
  auto info = Info("replication");
  if (!info) return MakeError(info.error());
  std::string v = net::InfoField(*info, "master_repl_offset");
  int64_t offset = -1;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), offset);
  if (ec != std::errc()) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "the source " + source_.Endpoint() + " reports no master_repl_offset");
  }
  return offset;
}

Result<void> SourceControl::Shutdown() {
  auto reply = CallOnce(source_, {"SHUTDOWN"});
  if (!reply) {
    // The connection closing is what a successful SHUTDOWN looks like; so is an already
    // stopped source.
    const auto& code = reply.error().code;
    if (code == make_error_code(net::NetErrc::kClosedByPeer) ||
        code == make_error_code(net::NetErrc::kConnectRefused)) {
      return {};
    }
    return MakeError(reply.error());
  }
  if (reply->is_error()) {
    return MakeError(ControlErrc::kPhaseFailed,
                     "the source " + source_.Endpoint() + " refused SHUTDOWN: \"" + reply->str() +
                         "\"; stop it by hand (the migration itself is complete)");
  }
  return {};
}

}  // namespace kf::control
