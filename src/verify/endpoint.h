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
//
// An end may be any node of a Redis/Valkey Cluster (INFO server says cluster mode): the
// endpoint then reads the cluster's shards (net::ReadClusterTopology), opens a connection
// to every primary that serves slots, and answers as if the whole cluster were one server
// with db 0 only:
//  - a command with a key goes to the primary serving the key's slot (the key is the
//    second word, the third for MEMORY USAGE and XINFO); replies come back in the order
//    the commands were sent, whichever primaries answered them;
//  - SCAN walks the primaries one after the other; its cursor is "<primary>.<cursor>"
//    between primaries and "0" at the end, so the caller's loop is unchanged;
//  - DBSIZE and INFO keyspace add up every primary's counts; FUNCTION LIST is asked of
//    every primary and must be the same on all of them (an error reply says which differ);
//  - SELECT of a db other than 0 is an error.
// A cluster whose slots are not all served, or with a slot migration in progress, is
// refused at Connect (reads would be redirected); a MOVED or ASK reply met later (slots
// moved during the compare) ends the compare with an error, never with "equal".
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
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

  // Connects, logs in and probes the server (PING, version, PEXPIRETIME support); for a
  // cluster node, connects to every primary too (see above).
  Result<void> Connect();
  // Whether this end is a cluster, and its primaries (after Connect).
  bool cluster() const { return !nodes_.empty(); }
  size_t primary_count() const { return nodes_.size(); }

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
  Result<void> ConnectCluster();

  // Cluster mode: one primary, and where a sent command's reply is to be read.
  struct Node {
    net::Uri uri;
    net::Client client;
  };
  enum class RouteKind { kNode, kScan, kSum, kKeyspace, kSame };
  struct Route {
    RouteKind kind = RouteKind::kNode;
    size_t node = 0;  // kNode, kScan: the primary that got the command
  };
  Result<void> SendCluster(const std::vector<Command>& commands, std::string_view what);
  Result<resp::Reply> ReceiveCluster(const Route& route, std::string_view what);
  Result<resp::Reply> ReadFrom(size_t node, std::string_view what);

  std::string role_;
  net::Uri uri_;
  net::ClientOptions client_options_;
  net::Client client_;
  RateLimiter limiter_;
  int db_ = -1;
  std::string server_;
  bool has_pexpiretime_ = true;
  uint64_t commands_sent_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;  // empty: a standalone server
  std::vector<uint16_t> slot_node_;           // slot → index in nodes_
  std::deque<Route> routes_;                  // of commands sent, replies not yet read
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
