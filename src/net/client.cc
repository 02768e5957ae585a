// Client: see client.h.
#include "net/client.h"

#include "net/errc.h"

namespace kf::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 64 * 1024;

bool IsAuthError(const resp::Reply& r) {
  std::string_view s = r.str();
  return s.starts_with("WRONGPASS") || s.starts_with("ERR invalid password") ||
         s.starts_with("ERR invalid username") || s.starts_with("NOPERM") ||
         s.find("AUTH") != std::string_view::npos || s.starts_with("ERR Client sent AUTH");
}

}  // namespace

Client::Client() : conn_(nullptr) {}
Client::~Client() = default;

void Client::Close() {
  if (conn_) conn_->Close();
  conn_.reset();
  parser_.Reset();
  rlen_ = 0;
  rpos_ = 0;
}

Unexpected Client::Broken(Error e) {
  Close();
  return MakeError(std::move(e));
}

Result<void> Client::Connect(const Uri& uri, const ClientOptions& options) {
  Close();
  uri_ = uri;
  options_ = options;
  hello_ = resp::Reply();
  parser_ = resp::ReplyParser(options.limits);
  conn_ = std::make_unique<Connection>();
  auto connected = conn_->Connect(uri.host, uri.port, options.connect_timeout, uri.tls);
  if (!connected) return Broken(std::move(connected).error());
  auto hs = Handshake();
  if (!hs) return Broken(std::move(hs).error());
  return {};
}

Result<void> Client::Handshake() {
  const std::string ep = conn_->endpoint();
  const std::string user = uri_.user.empty() ? "default" : uri_.user;
  auto auth_failed = [&](const resp::Reply& r) {
    return MakeError(NetErrc::kAuthFailed, "authentication to " + ep + " as user \"" + user +
                                               "\" failed: " + Printable(r.str(), 200) +
                                               "; check the user and password in the URI " +
                                               uri_.ToString());
  };
  if (options_.resp3) {
    std::vector<std::string> hello = {"HELLO", "3"};
    if (uri_.has_password) {
      hello.insert(hello.end(), {"AUTH", user, uri_.password});
    }
    if (!options_.client_name.empty()) hello.insert(hello.end(), {"SETNAME", options_.client_name});
    auto r = Call(hello);
    if (!r) return MakeError(std::move(r).error());
    if (r->is_error()) {
      if (r->str().starts_with("NOPROTO") || r->str().starts_with("ERR unknown command")) {
        return MakeError(NetErrc::kServerError,
                         "server at " + ep + " does not speak RESP3 (HELLO 3 answered " +
                             r->ToString() + "); connect without RESP3 or upgrade it to 6.0+");
      }
      if (uri_.has_password && IsAuthError(*r)) return auth_failed(*r);
      return MakeError(NetErrc::kServerError,
                       "HELLO 3 to " + ep + " failed: " + r->ToString() + "; check the server");
    }
    hello_ = std::move(*r);
  } else {
    if (uri_.has_password) {
      auto r = uri_.user.empty() ? Call({"AUTH", uri_.password})
                                 : Call({"AUTH", uri_.user, uri_.password});
      if (!r) return MakeError(std::move(r).error());
      if (r->is_error()) return auth_failed(*r);
    }
    if (!options_.client_name.empty()) {
      auto r = Call({"CLIENT", "SETNAME", options_.client_name});
      if (!r) return MakeError(std::move(r).error());
      if (r->is_error()) {
        return MakeError(NetErrc::kServerError,
                         "CLIENT SETNAME " + options_.client_name + " on " + ep +
                             " failed: " + r->ToString() +
                             "; use a client name without spaces or check ACL permissions");
      }
    }
  }
  if (uri_.db != 0) {
    auto r = Call({"SELECT", std::to_string(uri_.db)});
    if (!r) return MakeError(std::move(r).error());
    if (r->is_error()) {
      return MakeError(NetErrc::kServerError,
                       "SELECT " + std::to_string(uri_.db) + " on " + ep +
                           " failed: " + r->ToString() +
                           "; check the database number in the URI (cluster mode has only db 0)");
    }
  }
  return {};
}

Result<void> Client::Send(const resp::CommandEncoder& commands) {
  return SendRaw(commands.segments());
}

Result<void> Client::SendRaw(std::span<const ByteView> encoded) {
  if (!connected()) {
    return MakeError(NetErrc::kNotConnected,
                     "not connected to " + uri_.Endpoint() + "; call Connect first");
  }
  auto w = conn_->WriteAll(encoded, options_.io_timeout);
  if (!w) return Broken(std::move(w).error());
  return {};
}

Result<void> Client::Send(std::initializer_list<std::string_view> args) {
  resp::CommandEncoder enc;
  enc.Add(args);
  return Send(enc);
}

Result<resp::Reply> Client::ReadReply(size_t replies_after) {
  if (!connected()) {
    return MakeError(NetErrc::kNotConnected,
                     "not connected to " + uri_.Endpoint() + "; call Connect first");
  }
  const auto deadline = Clock::now() + options_.io_timeout;
  for (;;) {
    if (rpos_ < rlen_) {
      resp::ParseOutcome out = parser_.Feed(ByteView(rbuf_).subspan(rpos_, rlen_ - rpos_));
      rpos_ += out.consumed;
      if (out.complete()) return parser_.TakeReply();
      if (out.malformed()) {
        return Broken(Error{make_error_code(NetErrc::kProtocolError),
                            "bad reply from " + conn_->endpoint() + ": " + out.error.message +
                                " (is this a Redis/Valkey server?)"});
      }
    }
    // Everything buffered was consumed: read more. At least one byte of this reply is
    // still to come, and at least 3 of each reply after it.
    if (rbuf_.size() < kReadChunk) rbuf_.resize(kReadChunk);
    rpos_ = 0;
    rlen_ = 0;
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) remaining = std::chrono::milliseconds(0);
    size_t wait_for = replies_after > kReadChunk ? kReadChunk : 1 + 3 * replies_after;
    auto n = conn_->ReadSome(rbuf_, remaining, wait_for);
    if (!n) return Broken(std::move(n).error());
    rlen_ = *n;
  }
}

Result<resp::Reply> Client::ReadNonPush() {
  for (;;) {
    auto r = ReadReply();
    if (!r || r->type() != resp::ReplyType::kPush) return r;
    ++skipped_pushes_;
  }
}

Result<resp::Reply> Client::Call(std::span<const ByteView> args) {
  resp::CommandEncoder enc;
  enc.Add(args);
  KF_RETURN_IF_ERROR(Send(enc));
  return ReadNonPush();
}

Result<resp::Reply> Client::Call(std::initializer_list<std::string_view> args) {
  resp::CommandEncoder enc;
  enc.Add(args);
  KF_RETURN_IF_ERROR(Send(enc));
  return ReadNonPush();
}

Result<resp::Reply> Client::Call(const std::vector<std::string>& args) {
  resp::CommandEncoder enc;
  enc.Add(args);
  KF_RETURN_IF_ERROR(Send(enc));
  return ReadNonPush();
}

Result<std::vector<resp::Reply>> Client::CallPipelined(
    const std::vector<std::vector<std::string>>& commands) {
  resp::CommandEncoder enc;
  for (const auto& c : commands) enc.Add(c);
  KF_RETURN_IF_ERROR(Send(enc));
  std::vector<resp::Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    auto r = ReadNonPush();
    if (!r) {
      Error e = std::move(r).error();
      e.message += " (after " + std::to_string(i) + " of " + std::to_string(commands.size()) +
                   " pipelined replies)";
      return MakeError(std::move(e));
    }
    replies.push_back(std::move(*r));
  }
  return replies;
}

Result<ReleasedConnection> Client::Release() {
  if (!connected()) {
    return MakeError(NetErrc::kNotConnected,
                     "cannot release the connection to " + uri_.Endpoint() + ": not connected");
  }
  if (!parser_.idle()) {
    return MakeError(NetErrc::kProtocolError,
                     "cannot release the connection to " + conn_->endpoint() +
                         " in the middle of a reply; read the pending reply first");
  }
  ReleasedConnection out;
  out.buffered.assign(rbuf_.begin() + static_cast<std::ptrdiff_t>(rpos_),
                      rbuf_.begin() + static_cast<std::ptrdiff_t>(rlen_));
  out.connection = std::move(conn_);
  rlen_ = 0;
  rpos_ = 0;
  parser_.Reset();
  return out;
}

}  // namespace kf::net
