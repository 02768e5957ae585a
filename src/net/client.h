// Client: a small request/response client for Redis and Valkey over one Connection.
//
// Connect(uri, options) opens the connection and runs the handshake:
//   - RESP2 (default): AUTH [user] password when the URI has a password, CLIENT SETNAME
//     when a name is given, SELECT db when db != 0;
//   - RESP3 (options.resp3): HELLO 3 [AUTH user password] [SETNAME name], then SELECT.
// A refused AUTH gives NetErrc::kAuthFailed with the server's words; other handshake
// error replies give kServerError.
//
// Call(args) sends one command and returns its reply. An error reply from the server is a
// Reply of error type (reply.is_error()), NOT a Result error: Result errors are for I/O,
// timeouts and protocol failures. CallPipelined sends N commands in one write, then reads N
// replies. Send/ReadReply are the streaming halves. Under RESP3, push messages (>) that
// arrive while Call/CallPipelined wait are skipped; ReadReply returns them.
//
// After an I/O error, a protocol error or a read timeout, the client closes its
// connection (a reply could still be in flight and would be matched to the wrong
// command); Connect again to go on.
//
// Release() hands the Connection over (the replica link takes it after its handshake)
// together with bytes already read from the socket but not yet parsed.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "net/connection.h"
#include "net/uri.h"
#include "resp/encoder.h"
#include "resp/reply.h"
#include "resp/reply_parser.h"

namespace kf::net {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};  // per reply / per write
  bool resp3 = false;
  std::string client_name;  // CLIENT SETNAME / HELLO SETNAME when not empty
  resp::Limits limits;
};

// What Release() returns: the open connection and the unparsed bytes that followed the
// last reply (feed them to the next parser before reading from the socket).
struct ReleasedConnection {
  std::unique_ptr<Connection> connection;
  Bytes buffered;
};

class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<void> Connect(const Uri& uri, const ClientOptions& options = {});
  bool connected() const { return conn_ != nullptr && conn_->is_open(); }
  void Close();

  Result<resp::Reply> Call(std::initializer_list<std::string_view> args);
  Result<resp::Reply> Call(const std::vector<std::string>& args);
  Result<resp::Reply> Call(std::span<const ByteView> args);

  Result<std::vector<resp::Reply>> CallPipelined(
      const std::vector<std::vector<std::string>>& commands);

  // Streaming: write commands (already encoded, possibly many) / read the next reply.
  Result<void> Send(const resp::CommandEncoder& commands);
  Result<void> Send(std::initializer_list<std::string_view> args);
  // Writes bytes that are already RESP-encoded commands (e.g. built ahead by a producer
  // thread); the caller reads one reply per command it encoded.
  Result<void> SendRaw(std::span<const ByteView> encoded);
  // `replies_after`: how many more replies the caller is owed after this one (commands it
  // pipelined). When the socket has to be read, the read waits for the bytes those
  // replies take at the least (3 each, "+\r\n") instead of waking for every packet
  // (Connection::ReadSome's wait_for).
  Result<resp::Reply> ReadReply(size_t replies_after = 0);

  // Hands over the connection. Fails (and keeps it) when a reply is partially parsed.
  Result<ReleasedConnection> Release();

  const Uri& uri() const { return uri_; }
  const ClientOptions& options() const { return options_; }
  // The HELLO reply of a RESP3 handshake (server, version, proto, ...), else null.
  const resp::Reply& hello() const { return hello_; }
  // Number of RESP3 push messages skipped by Call/CallPipelined.
  uint64_t skipped_pushes() const { return skipped_pushes_; }

 private:
  Result<resp::Reply> ReadNonPush();
  Result<void> Handshake();
  Unexpected Broken(Error e);

  Uri uri_;
  ClientOptions options_;
  std::unique_ptr<Connection> conn_;
  resp::ReplyParser parser_;
  Bytes rbuf_;       // kReadChunk bytes once used, of which rlen_ hold data
  size_t rlen_ = 0;  // (kept sized: no zero-filling of 64 KiB per read)
  size_t rpos_ = 0;
  resp::Reply hello_;
  uint64_t skipped_pushes_ = 0;
};

}  // namespace kf::net
