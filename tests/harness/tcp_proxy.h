// A loopback TCP proxy for fault tests: it sits between keyferry and a server and can cut,
// stall or slow the link on command, or cut it automatically after N bytes have flowed
// from the server (to cut mid-RDB or mid-stream at a chosen point).
//
// One background thread accepts and forwards with poll() over non-blocking sockets, each
// direction of each connection through its own bounded buffer, so a reader that falls
// behind slows only its own connection (a slow replica link never holds up another
// client of the same proxy). Every control call is thread-safe and takes effect within a
// few milliseconds.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kf::test {

class TcpProxy {
 public:
  // Listens on a free 127.0.0.1 port and forwards each accepted connection to
  // 127.0.0.1:target_port.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return listen_port_; }

  // Closes every open connection now (both sides see a reset/EOF). New connections are
  // still accepted.
  void CutAll();
  // Once `bytes` more bytes have been forwarded from the server side, cut every
  // connection (one-shot).
  void CutAfterServerBytes(uint64_t bytes);
  // While stalled, nothing is forwarded in either direction (connections stay open).
  void SetStalled(bool stalled);
  // Forwards at most this many bytes per second from the server side (0 = unlimited).
  void SetServerRateLimit(uint64_t bytes_per_second);
  // While refusing, new connections are accepted and closed at once.
  void SetRefuseNew(bool refuse);

  uint64_t server_bytes_forwarded() const { return server_bytes_.load(); }
  int connections_accepted() const { return accepted_.load(); }

 private:
  struct Pair {
    int client_fd = -1;
    int server_fd = -1;
    std::string to_server;    // read from the client, not yet written to the server
    std::string to_client;    // read from the server, not yet written to the client
    bool client_eof = false;  // the client closed: flush to_server, then close
    bool server_eof = false;  // the server closed: flush to_client, then close
  };
  void Run();
  void ClosePair(Pair& p);

  int target_port_;
  int listen_fd_ = -1;
  int listen_port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<bool> refuse_new_{false};
  std::atomic<bool> cut_requested_{false};
  std::atomic<uint64_t> rate_limit_{0};
  std::atomic<int64_t> cut_after_{-1};
  std::atomic<uint64_t> server_bytes_{0};  // written to clients
  uint64_t server_bytes_read_ = 0;         // read from the server (proxy thread only)
  std::atomic<int> accepted_{0};
};

}  // namespace kf::test
