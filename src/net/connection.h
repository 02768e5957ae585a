// Connection: one TCP connection with deadlines on every operation, built on asio.
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
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace kf::net {

class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (trying every resolved address) and sets TCP_NODELAY.
  Result<void> Connect(const std::string& host, int port, std::chrono::milliseconds timeout);

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
  // "host:port" of the peer as given to Connect ("[v6]:port" for IPv6).
  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  size_t low_water_ = 1;  // SO_RCVLOWAT as set on the socket
};

}  // namespace kf::net
