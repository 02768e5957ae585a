// Endpoint: one end of a verify (the source or the target) — a client connection with the
// end's name for messages, its current database, a rate limit, and what the server can do.
//
// Every failure is turned into an error that names the end ("the target 127.0.0.1:6380"),
// what was being done, and what to do next. An I/O failure in the middle of a compare is
// VerifyErrc::kConnectionLost: the compare stops there with no result (a half-read end
// must never look equal); the caller runs verify again once the server is back.
//
// Send/Receive are the two halves of a pipelined exchange, so that both ends can work on
// their share of a batch at the same time (RunBoth).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "net/client.h"
#include "net/uri.h"
#include "resp/reply.h"
#include "verify/rate_limiter.h"
#include "verify/verify_options.h"

namespace kf::verify {

using Command = std::vector<std::string>;

class Endpoint {
 public:
  // role: "source" or "target".
  Endpoint(std::string role, net::Uri uri, const VerifyOptions& options);

  // Connects, logs in and probes the server (PING, version, PEXPIRETIME support).
  Result<void> Connect();

  const std::string& role() const { return role_; }
  // "the source 127.0.0.1:6379" — for messages.
  std::string Describe() const;
  // The server's product and version, e.g. "redis 7.0.15", "valkey 8.0.1".
  const std::string& server() const { return server_; }
  // False before Redis 7.0: expiries come from PTTL (relative, so they jitter).
  bool has_pexpiretime() const { return has_pexpiretime_; }
  uint64_t commands_sent() const { return commands_sent_; }

  // SELECT db unless it is already selected.
  Result<void> Select(int db);

  // Pipelined halves: Send writes all commands (after the rate limit allows them),
  // Receive reads `n` replies. `what` names the step for messages ("TYPE of 1000 keys").
  Result<void> Send(const std::vector<Command>& commands, std::string_view what);
  Result<std::vector<resp::Reply>> Receive(size_t n, std::string_view what);
  Result<std::vector<resp::Reply>> Run(const std::vector<Command>& commands, std::string_view what);
  Result<resp::Reply> Call(const Command& command, std::string_view what);

  // An error for an error reply the compare cannot go past (LOADING, NOPERM, ...).
  Error ReplyError(const resp::Reply& reply, std::string_view command, std::string_view key) const;
  // An error for a reply of the wrong shape.
  Error ShapeError(const resp::Reply& reply, std::string_view command, std::string_view key) const;

 private:
  Error Lost(const Error& io, std::string_view what);

  std::string role_;
  net::Uri uri_;
  net::ClientOptions client_options_;
  net::Client client_;
  RateLimiter limiter_;
  int db_ = -1;
  std::string server_;
  bool has_pexpiretime_ = true;
  uint64_t commands_sent_ = 0;
};

// Sends `a_commands` to `a` and `b_commands` to `b`, then reads both replies: the two
// servers work at the same time. Either list may be empty.
Result<std::pair<std::vector<resp::Reply>, std::vector<resp::Reply>>> RunBoth(
    Endpoint& a, const std::vector<Command>& a_commands, Endpoint& b,
    const std::vector<Command>& b_commands, std::string_view what);

// Helpers for the reply shapes of INFO-like commands: the value of field `name` in a
// RESP2 flat array of name/value pairs or a RESP3 map; nullptr when absent.
const resp::Reply* FieldOf(const resp::Reply& reply, std::string_view name);

// True for error replies that mean the key changed under the read (WRONGTYPE, or a stream
// command's "no such key"): not a server failure, a key to re-check.
bool IsKeyChangedError(const resp::Reply& reply);

}  // namespace kf::verify
