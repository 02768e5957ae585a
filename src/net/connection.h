// Connection: one TCP connection, plaintext or TLS, with deadlines on every operation,
// built on asio (TLS: asio's SSL stream over the TCP socket, OpenSSL underneath).
//
// Each Connection owns its own asio::io_context and runs it only inside its calls: an
// operation starts an async op and runs the context until the op completes or its
// deadline passes, then cancels it. So calls block the calling thread with a bound on
// time, and there are no background threads. One Connection is used by one thread at a
// time; different Connections may be used from different threads concurrently.
//
// Errors are NetErrc codes with messages that name host:port and say what to do, e.g.
// "could not connect to 127.0.0.1:6390: connection refused; check that the server is
// running and the host and port are right". A peer that closes gives kClosedByPeer.
// After a write timeout or any I/O error the connection is closed (its state is unknown);
// after a read timeout it stays open (no byte was lost) and the caller decides.
// Host names are resolved before the connect deadline starts counting (getaddrinfo has no
// cancellation); numeric addresses skip resolution.
//
// TLS (tls.enabled): Connect runs the TLS handshake under the same deadline as the TCP
// connect, and verifies the server's certificate unless tls.insecure (TlsOptions). Failures
// give NetErrc::kTlsFailed with a text that says which check failed (unknown CA, expired,
// name mismatch, client certificate required, ...) and which option fixes it
// (tls_messages.h). A server that refuses the client certificate after a TLS 1.3 handshake
// shows it at the first read, with the same kind of text and kTlsFailed. Reads, writes and
// timeouts behave as in plaintext, except that ReadSome's `wait_for` is ignored (the
// low-water mark counts encrypted bytes in the kernel, not the bytes a reply takes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "common/bytes.h"
#include "common/result.h"
#include "net/tls_options.h"

namespace kf::net {

class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (trying every resolved address), sets TCP_NODELAY and, when tls.enabled, runs
  // the TLS handshake; all of it within `timeout`.
  Result<void> Connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                       const TlsOptions& tls = {});

  // Writes every byte of every segment (a gather write), or fails.
  Result<void> WriteAll(std::span<const ByteView> segments, std::chrono::milliseconds timeout);
  Result<void> WriteAll(ByteView data, std::chrono::milliseconds timeout);

  // Reads at least one byte into `buffer` (which must not be empty) and returns the count.
  // kTimeout when nothing arrived in time; kClosedByPeer on EOF or reset.
  //
  // `wait_for` > 1 says that many bytes are certainly coming (e.g. the replies owed to
  // pipelined commands): when nothing is buffered, the read sleeps until that many bytes
  // are there (SO_RCVLOWAT, capped at 64 KiB), or at most kLowWaterPatience, after which
  // it takes what came. So a caller is woken once for a batch of replies, not once per
  // packet the server writes — which also spares the server the wake-up it does for each.
  // Bytes already buffered in the kernel are returned at once, whatever `wait_for`.
  Result<size_t> ReadSome(std::span<uint8_t> buffer, std::chrono::milliseconds timeout,
                          size_t wait_for = 1);
  static constexpr std::chrono::milliseconds kLowWaterPatience{100};

  void Close();
  bool is_open() const;
  bool is_tls() const;
  // "host:port" of the peer as given to Connect ("[v6]:port" for IPv6).
  const std::string& endpoint() const { return endpoint_; }

 private:
  // The TLS handshake after the TCP connect, within the connect's deadline.
  Result<void> StartTls(const std::string& host, const TlsOptions& tls,
                        std::chrono::steady_clock::time_point deadline,
                        std::chrono::milliseconds timeout);
  // The error for a failed TLS operation (`doing`: "while reading", ...).
  Error TlsIoError(const std::error_code& ec, bool during_handshake, std::string_view doing) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  size_t low_water_ = 1;  // SO_RCVLOWAT as set on the socket
};

}  // namespace kf::net
