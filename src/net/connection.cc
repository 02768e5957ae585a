// Connection: see connection.h. Every operation follows one pattern: start an async op
// whose handler records (error, bytes) and a done flag, run the private io_context one
// handler at a time until done or the deadline, and on the deadline cancel the socket and
// run until the (now aborted) handler has run, so no handler outlives the call.
#include "net/connection.h"

#include <algorithm>
#include <asio.hpp>
#include <vector>

#include "net/errc.h"

namespace kf::net {

using Clock = std::chrono::steady_clock;

struct Connection::Impl {
  asio::io_context io;
  asio::ip::tcp::socket socket{io};

  struct OpState {
    bool done = false;
    asio::error_code ec;
    size_t bytes = 0;
  };

  // Runs until op->done or the deadline. Returns true when the deadline cut it short (the
  // op was cancelled); the handler has run either way.
  bool Run(OpState* op, Clock::time_point deadline) {
    io.restart();
    while (!op->done) {
      if (io.run_one_until(deadline) == 0) break;
    }
    if (op->done) return false;
    asio::error_code ignored;
    socket.cancel(ignored);
    io.restart();
    while (!op->done) {
      if (io.run_one() == 0) break;
    }
    return op->ec == asio::error::operation_aborted;
  }
};

namespace {

bool IsPeerClosed(const asio::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Connection::Connection() : impl_(std::make_unique<Impl>()) {}
Connection::~Connection() = default;

bool Connection::is_open() const { return impl_->socket.is_open(); }

void Connection::Close() {
  low_water_ = 1;  // a new socket starts without the option
  asio::error_code ignored;
  impl_->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
}

Result<void> Connection::Connect(const std::string& host, int port,
                                 std::chrono::milliseconds timeout) {
  Close();
  endpoint_ = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                  : host + ":" + std::to_string(port);
  std::vector<asio::ip::tcp::endpoint> endpoints;
  asio::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoints.emplace_back(address, static_cast<uint16_t>(port));
  } else {
    asio::ip::tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return MakeError(NetErrc::kResolveFailed,
                       "could not resolve host \"" + host + "\" (for " + endpoint_ +
                           "): " + (ec ? ec.message() : "no addresses") +
                           "; check the host name in the URI and the DNS set-up");
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  Impl::OpState op;
  asio::async_connect(impl_->socket, endpoints,
                      [&op](const asio::error_code& e, const asio::ip::tcp::endpoint&) {
                        op.ec = e;
                        op.done = true;
                      });
  bool timed_out = impl_->Run(&op, Clock::now() + timeout);
  if (timed_out) {
    Close();
    return MakeError(NetErrc::kTimeout, "could not connect to " + endpoint_ +
                                            ": no answer within " + Ms(timeout) +
                                            "; check that the host is reachable (firewall, "
                                            "routing) or raise the connect timeout");
  }
  if (op.ec) {
    Close();
    if (op.ec == asio::error::connection_refused) {
      return MakeError(NetErrc::kConnectRefused,
                       "could not connect to " + endpoint_ +
                           ": connection refused; check that the server is running and the "
                           "host and port are right");
    }
    return MakeError(NetErrc::kConnectFailed, "could not connect to " + endpoint_ + ": " +
                                                  op.ec.message() +
                                                  "; check the host, port and network");
  }
  asio::error_code ignored;
  impl_->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  impl_->socket.set_option(asio::socket_base::keep_alive(true), ignored);
  return {};
}

Result<void> Connection::WriteAll(ByteView data, std::chrono::milliseconds timeout) {
  ByteView one[1] = {data};
  return WriteAll(std::span<const ByteView>(one), timeout);
}

Result<void> Connection::WriteAll(std::span<const ByteView> segments,
                                  std::chrono::milliseconds timeout) {
  if (!is_open()) {
    return MakeError(NetErrc::kNotConnected, "cannot write to " +
                                                 (endpoint_.empty() ? "a server" : endpoint_) +
                                                 ": the connection is not open; reconnect");
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(segments.size());
  size_t total = 0;
  for (ByteView s : segments) {
    if (s.empty()) continue;
    buffers.emplace_back(s.data(), s.size());
    total += s.size();
  }
  if (total == 0) return {};
  Impl::OpState op;
  asio::async_write(impl_->socket, buffers, [&op](const asio::error_code& e, size_t n) {
    op.ec = e;
    op.bytes = n;
    op.done = true;
  });
  bool timed_out = impl_->Run(&op, Clock::now() + timeout);
  if (timed_out) {
    Close();
    return MakeError(NetErrc::kTimeout,
                     "writing to " + endpoint_ + " timed out after " + Ms(timeout) + " (" +
                         std::to_string(op.bytes) + " of " + std::to_string(total) +
                         " bytes sent); the server is not reading — check that it is alive "
                         "and not paused; the connection was closed");
  }
  if (op.ec) {
    Close();
    if (IsPeerClosed(op.ec)) {
      return MakeError(NetErrc::kClosedByPeer,
                       "connection to " + endpoint_ + " was closed by the server while writing (" +
                           op.ec.message() + "); check the server log, then reconnect");
    }
    return MakeError(NetErrc::kIoError,
                     "writing to " + endpoint_ + " failed: " + op.ec.message() + "; reconnect");
  }
  return {};
}

Result<size_t> Connection::ReadSome(std::span<uint8_t> buffer, std::chrono::milliseconds timeout,
                                    size_t wait_for) {
  if (!is_open()) {
    return MakeError(NetErrc::kNotConnected, "cannot read from " +
                                                 (endpoint_.empty() ? "a server" : endpoint_) +
                                                 ": the connection is not open; reconnect");
  }
  const auto deadline = Clock::now() + timeout;
  // A low-water mark only shapes when a sleeping read wakes up: a non-blocking read (asio
  // tries one first) returns whatever is buffered, so no byte waits for the mark.
  constexpr size_t kMaxLowWater = 64 * 1024;
  size_t low_water = std::clamp<size_t>(wait_for, 1, kMaxLowWater);
  Impl::OpState op;
  auto start_read = [&] {
    if (low_water != low_water_) {
      asio::error_code ignored;  // without the option, reads just wake up sooner
      impl_->socket.set_option(
          asio::socket_base::receive_low_watermark(static_cast<int>(low_water)), ignored);
      low_water_ = low_water;
    }
    op = Impl::OpState{};
    impl_->socket.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                  [&op](const asio::error_code& e, size_t n) {
                                    op.ec = e;
                                    op.bytes = n;
                                    op.done = true;
                                  });
  };
  start_read();
  bool timed_out = false;
  if (low_water > 1) {
    // Not more than kLowWaterPatience with the mark: a slow server's replies still come
    // back in time, a little later.
    timed_out = impl_->Run(&op, std::min(deadline, Clock::now() + kLowWaterPatience));
    if (timed_out && Clock::now() < deadline) {
      low_water = 1;
      start_read();
      timed_out = impl_->Run(&op, deadline);
    }
  } else {
    timed_out = impl_->Run(&op, deadline);
  }
  if (timed_out) {
    return MakeError(NetErrc::kTimeout, "no reply from " + endpoint_ + " within " + Ms(timeout) +
                                            "; the server may be busy, paused or blocked — "
                                            "check it, or raise the I/O timeout");
  }
  if (op.ec) {
    Close();
    if (IsPeerClosed(op.ec)) {
      return MakeError(NetErrc::kClosedByPeer,
                       "connection to " + endpoint_ + " was closed by the server (" +
                           op.ec.message() +
                           "); it may have restarted, hit a limit or killed the client — check "
                           "its log, then reconnect");
    }
    return MakeError(NetErrc::kIoError,
                     "reading from " + endpoint_ + " failed: " + op.ec.message() + "; reconnect");
  }
  return op.bytes;
}

}  // namespace kf::net
