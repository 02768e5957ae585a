// TcpProxy: poll()-based forwarding between accepted clients and the target server, with
// cut / stall / rate-limit controls for fault tests.
#include "harness/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "harness/server_process.h"

namespace kf::test {
namespace {

// Forwards up to `limit` bytes from `from` to `to` (blocking write). Returns bytes moved,
// 0 on EOF, -1 on error.
ssize_t Forward(int from, int to, size_t limit) {
  char buf[65536];
  size_t want = limit < sizeof buf ? limit : sizeof buf;
  ssize_t n = ::recv(from, buf, want, 0);
  if (n <= 0) return n == 0 ? 0 : -1;
  size_t sent = 0;
  while (sent < static_cast<size_t>(n)) {
    ssize_t w = ::send(to, buf + sent, static_cast<size_t>(n) - sent, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    sent += static_cast<size_t>(w);
  }
  return n;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  listen_port_ = ntohs(addr.sin_port);
  ::listen(listen_fd_, 16);
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void TcpProxy::CutAll() { cut_requested_ = true; }
void TcpProxy::CutAfterServerBytes(uint64_t bytes) {
  cut_after_ = static_cast<int64_t>(server_bytes_.load() + bytes);
}
void TcpProxy::SetStalled(bool stalled) { stalled_ = stalled; }
void TcpProxy::SetServerRateLimit(uint64_t bytes_per_second) { rate_limit_ = bytes_per_second; }
void TcpProxy::SetRefuseNew(bool refuse) { refuse_new_ = refuse; }

void TcpProxy::ClosePair(Pair& p) {
  if (p.client_fd >= 0) {
    ::shutdown(p.client_fd, SHUT_RDWR);
    ::close(p.client_fd);
  }
  if (p.server_fd >= 0) {
    ::shutdown(p.server_fd, SHUT_RDWR);
    ::close(p.server_fd);
  }
  p.client_fd = p.server_fd = -1;
}

void TcpProxy::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Pair> pairs;
  auto window_start = Clock::now();
  uint64_t window_bytes = 0;
  while (!stop_) {
    if (cut_requested_.exchange(false)) {
      for (auto& p : pairs) ClosePair(p);
      pairs.clear();
    }
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    bool forwarding = !stalled_;
    uint64_t rate = rate_limit_;
    auto now = Clock::now();
    if (now - window_start >= std::chrono::milliseconds(100)) {
      window_start = now;
      window_bytes = 0;
    }
    size_t server_budget = 1 << 20;
    if (rate > 0) {
      uint64_t per_window = rate / 10 > 0 ? rate / 10 : 1;
      server_budget = window_bytes >= per_window ? 0 : per_window - window_bytes;
    }
    for (auto& p : pairs) {
      short client_events = forwarding ? POLLIN : 0;
      short server_events = (forwarding && server_budget > 0) ? POLLIN : 0;
      fds.push_back({p.client_fd, client_events, 0});
      fds.push_back({p.server_fd, server_events, 0});
    }
    ::poll(fds.data(), fds.size(), 5);
    if (fds[0].revents & POLLIN) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int one = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int server = refuse_new_ ? -1 : ConnectLoopback(target_port_);
        if (server < 0) {
          ::close(client);
        } else {
          pairs.push_back({client, server});
          ++accepted_;
        }
      }
    }
    for (size_t i = 0; i < pairs.size() && 1 + 2 * i + 1 < fds.size(); ++i) {
      Pair& p = pairs[i];
      const pollfd& cfd = fds[1 + 2 * i];
      const pollfd& sfd = fds[2 + 2 * i];
      bool dead = false;
      if (cfd.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (Forward(p.client_fd, p.server_fd, 1 << 20) <= 0) dead = true;
      }
      if (!dead && (sfd.revents & (POLLIN | POLLHUP | POLLERR))) {
        size_t limit = server_budget;
        int64_t cut_at = cut_after_;
        if (cut_at >= 0) {
          uint64_t done = server_bytes_;
          uint64_t left = static_cast<uint64_t>(cut_at) > done ? cut_at - done : 0;
          if (left < limit) limit = left;
        }
        if (limit > 0) {
          ssize_t n = Forward(p.server_fd, p.client_fd, limit);
          if (n <= 0) {
            dead = true;
          } else {
            server_bytes_ += static_cast<uint64_t>(n);
            window_bytes += static_cast<uint64_t>(n);
          }
        }
        if (cut_at >= 0 && server_bytes_ >= static_cast<uint64_t>(cut_at)) {
          cut_after_ = -1;
          cut_requested_ = true;
        }
      }
      if (dead) ClosePair(p);
    }
    std::erase_if(pairs, [](const Pair& p) { return p.client_fd < 0; });
  }
  for (auto& p : pairs) ClosePair(p);
}

}  // namespace kf::test
