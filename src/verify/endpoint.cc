// One end of a verify: connection, messages, rate limit (see endpoint.h).
#include "verify/endpoint.h"

#include "common/bytes.h"
#include "net/errc.h"
#include "resp/encoder.h"
#include "verify/verify_errc.h"

namespace kf::verify {
namespace {

std::string InfoLine(const std::string& info, std::string_view field) {
  std::string needle = std::string(field) + ":";
  size_t pos = 0;
  while ((pos = info.find(needle, pos)) != std::string::npos) {
    if (pos == 0 || info[pos - 1] == '\n') {
      size_t start = pos + needle.size();
      size_t end = info.find_first_of("\r\n", start);
      return info.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    pos += needle.size();
  }
  return "";
}

}  // namespace

Endpoint::Endpoint(std::string role, net::Uri uri, const VerifyOptions& options)
    : role_(std::move(role)), uri_(std::move(uri)), limiter_(options.max_ops) {
  client_options_.connect_timeout = options.connect_timeout;
  client_options_.io_timeout = options.io_timeout;
  client_options_.client_name = "keyferry-verify";
}

std::string Endpoint::Describe() const { return "the " + role_ + " " + uri_.Endpoint(); }

Result<void> Endpoint::Connect() {
  auto connected = client_.Connect(uri_, client_options_);
  if (!connected) {
    const auto& e = connected.error();
    // The net layer's messages already say what to check; name the end in front.
    std::string what = "--" + role_ + ": " + e.ToString();
    if (e.code == net::NetErrc::kAuthFailed) {
      what = "--" + role_ + ": " + Describe() + " refused the login: " + e.ToString();
    } else if (e.message.find("NOAUTH") != std::string::npos) {
      what = "--" + role_ + ": " + Describe() +
             " needs a password; give it in the URI: redis://[user]:PASSWORD@host:port";
    }
    return MakeError(VerifyErrc::kUnreachable, what);
  }
  db_ = uri_.db;
  // A server that needs a password lets the connection open and refuses the first command.
  auto ping = client_.Call({"PING"});
  if (!ping)
    return MakeError(VerifyErrc::kUnreachable,
                     "cannot talk to " + Describe() + ": " + ping.error().ToString());
  if (ping->is_error()) {
    std::string words = ping->str();
    if (words.starts_with("NOAUTH")) {
      return MakeError(VerifyErrc::kUnreachable,
                       Describe() + " needs a password (" + words +
                           "); give it in the URI: redis://[user]:PASSWORD@host:port");
    }
    return MakeError(VerifyErrc::kUnreachable,
                     Describe() + " refused PING: " + words + "; the compare cannot start");
  }
  auto info = client_.Call({"INFO", "server"});
  if (info && info->is_string() && !info->is_error()) {
    std::string product = InfoLine(info->str(), "server_name");
    std::string version = InfoLine(info->str(), "valkey_version");
    if (version.empty()) version = InfoLine(info->str(), "redis_version");
    if (product.empty()) product = "redis";
    server_ = product + " " + version;
  }
  // PEXPIRETIME arrived in Redis 7.0; before it, absolute expiries come from PTTL.
  auto probe = client_.Call({"PEXPIRETIME", "keyferry:verify:probe"});
  if (!probe)
    return MakeError(VerifyErrc::kUnreachable,
                     "cannot talk to " + Describe() + ": " + probe.error().ToString());
  has_pexpiretime_ = !probe->is_error();
  return {};
}

Result<void> Endpoint::Select(int db) {
  if (db == db_) return {};
  auto reply = Call({"SELECT", std::to_string(db)}, "SELECT " + std::to_string(db));
  if (!reply) return MakeError(std::move(reply).error());
  if (reply->is_error()) {
    return MakeError(VerifyErrc::kServerError,
                     Describe() + " refused SELECT " + std::to_string(db) + ": " + reply->str() +
                         "; check --db / --db-map (the server has fewer databases?)");
  }
  db_ = db;
  return {};
}

Error Endpoint::Lost(const Error& io, std::string_view what) {
  db_ = -1;
  return Error{make_error_code(VerifyErrc::kConnectionLost),
               "lost the connection to " + Describe() + " during " + std::string(what) + ": " +
                   io.ToString() +
                   ". The compare is incomplete, so there is no result; check that the server "
                   "is up (was it restarted?) and run verify again"};
}

Result<void> Endpoint::Send(const std::vector<Command>& commands, std::string_view what) {
  if (commands.empty()) return {};
  limiter_.Acquire(commands.size());
  resp::CommandEncoder encoder;
  for (const auto& c : commands) encoder.Add(c);
  auto sent = client_.Send(encoder);
  if (!sent) return MakeError(Lost(sent.error(), what));
  commands_sent_ += commands.size();
  return {};
}

Result<std::vector<resp::Reply>> Endpoint::Receive(size_t n, std::string_view what) {
  std::vector<resp::Reply> replies;
  replies.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto reply = client_.ReadReply();
    if (!reply) return MakeError(Lost(reply.error(), what));
    replies.push_back(std::move(*reply));
  }
  return replies;
}

Result<std::vector<resp::Reply>> Endpoint::Run(const std::vector<Command>& commands,
                                               std::string_view what) {
  KF_RETURN_IF_ERROR(Send(commands, what));
  return Receive(commands.size(), what);
}

Result<resp::Reply> Endpoint::Call(const Command& command, std::string_view what) {
  auto replies = Run({command}, what);
  if (!replies) return MakeError(std::move(replies).error());
  return std::move((*replies)[0]);
}

Error Endpoint::ReplyError(const resp::Reply& reply, std::string_view command,
                           std::string_view key) const {
  std::string words = reply.str();
  std::string next = "the compare is incomplete; fix the cause and run verify again";
  if (words.starts_with("LOADING")) {
    next =
        "the server is loading its data (just restarted?); run verify again once it serves "
        "reads";
  } else if (words.starts_with("NOPERM")) {
    next = "the user in --" + role_ + " lacks the permission; grant it (read commands, " +
           "SCAN, DUMP, MEMORY USAGE, FUNCTION LIST) or use another user";
  }
  return Error{make_error_code(VerifyErrc::kServerError),
               Describe() + " answered " + std::string(command) +
                   (key.empty() ? "" : " of key \"" + Printable(key, 80) + "\"") +
                   " with: " + words + "; " + next};
}

Error Endpoint::ShapeError(const resp::Reply& reply, std::string_view command,
                           std::string_view key) const {
  return Error{make_error_code(VerifyErrc::kUnexpectedReply),
               Describe() + " answered " + std::string(command) +
                   (key.empty() ? "" : " of key \"" + Printable(key, 80) + "\"") +
                   " with an unexpected reply: " + reply.ToString(120) +
                   "; the compare is incomplete (is this a Redis-compatible server?)"};
}

Result<std::pair<std::vector<resp::Reply>, std::vector<resp::Reply>>> RunBoth(
    Endpoint& a, const std::vector<Command>& a_commands, Endpoint& b,
    const std::vector<Command>& b_commands, std::string_view what) {
  KF_RETURN_IF_ERROR(a.Send(a_commands, what));
  KF_RETURN_IF_ERROR(b.Send(b_commands, what));
  auto ra = a.Receive(a_commands.size(), what);
  if (!ra) return MakeError(std::move(ra).error());
  auto rb = b.Receive(b_commands.size(), what);
  if (!rb) return MakeError(std::move(rb).error());
  return std::make_pair(std::move(*ra), std::move(*rb));
}

const resp::Reply* FieldOf(const resp::Reply& reply, std::string_view name) {
  if (reply.type() == resp::ReplyType::kMap) return reply.Find(name);
  if (reply.type() != resp::ReplyType::kArray) return nullptr;
  for (size_t i = 0; i + 1 < reply.size(); i += 2) {
    if (reply[i].is_string() && reply[i].str() == name) return &reply[i + 1];
  }
  return nullptr;
}

bool IsKeyChangedError(const resp::Reply& reply) {
  if (!reply.is_error()) return false;
  const std::string& words = reply.str();
  return words.starts_with("WRONGTYPE") || words.find("no such key") != std::string::npos;
}

}  // namespace kf::verify
