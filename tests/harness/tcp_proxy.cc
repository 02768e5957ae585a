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

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "harness/server_process.h"

namespace kf::test {
namespace {

constexpr size_t kBufferCap = 4 << 20;  // per direction per connection

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

// Appends up to `limit` bytes read from `fd` to `out`. Returns bytes read, 0 on EOF, -1 on
// an error, and -2 when nothing is available right now.
ssize_t ReadInto(int fd, std::string& out, size_t limit) {
  char buf[65536];
  size_t want = limit < sizeof buf ? limit : sizeof buf;
  ssize_t n = ::recv(fd, buf, want, 0);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -2 : -1;
  out.append(buf, static_cast<size_t>(n));
  return n;
}

// Writes as much of `pending` to `fd` as the socket takes now and drops it from `pending`.
// Returns bytes written, or -1 on an error.
ssize_t WriteFrom(int fd, std::string& pending) {
  ssize_t w = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
  if (w < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
  pending.erase(0, static_cast<size_t>(w));
  return w;
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
    int64_t cut_at = cut_after_;
    if (cut_at >= 0) {
      uint64_t left =
          static_cast<uint64_t>(cut_at) > server_bytes_read_ ? cut_at - server_bytes_read_ : 0;
      if (left < server_budget) server_budget = left;
    }
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& p : pairs) {
      short client_events = 0;
      short server_events = 0;
      if (forwarding) {
        if (!p.client_eof && p.to_server.size() < kBufferCap) client_events |= POLLIN;
        if (!p.to_client.empty()) client_events |= POLLOUT;
        if (!p.server_eof && server_budget > 0 && p.to_client.size() < kBufferCap) {
          server_events |= POLLIN;
        }
        if (!p.to_server.empty()) server_events |= POLLOUT;
      }
      fds.push_back({p.client_fd, client_events, 0});
      fds.push_back({p.server_fd, server_events, 0});
    }
    ::poll(fds.data(), fds.size(), 5);
    // While stalled a hung-up peer keeps poll() returning at once; do not spin on it.
    if (!forwarding) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fds[0].revents & POLLIN) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int one = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int server = refuse_new_ ? -1 : ConnectLoopback(target_port_);
        if (server < 0) {
          ::close(client);
        } else {
          SetNonBlocking(client);
          SetNonBlocking(server);
          Pair pair;
          pair.client_fd = client;
          pair.server_fd = server;
          pairs.push_back(std::move(pair));
          ++accepted_;
        }
      }
    }
    for (size_t i = 0; i < pairs.size() && 2 + 2 * i < fds.size(); ++i) {
      Pair& p = pairs[i];
      const pollfd& cfd = fds[1 + 2 * i];
      const pollfd& sfd = fds[2 + 2 * i];
      bool dead = ((cfd.revents | sfd.revents) & POLLERR) != 0;
      if (!dead && (cfd.events & POLLIN) && (cfd.revents & (POLLIN | POLLHUP))) {
        ssize_t n = ReadInto(p.client_fd, p.to_server, kBufferCap - p.to_server.size());
        if (n == 0) p.client_eof = true;
        if (n == -1) dead = true;
      }
      if (!dead && (sfd.events & POLLIN) && (sfd.revents & (POLLIN | POLLHUP))) {
        ssize_t n = ReadInto(p.server_fd, p.to_client, server_budget);
        if (n == 0) p.server_eof = true;
        if (n == -1) dead = true;
        if (n > 0) {
          server_bytes_read_ += static_cast<uint64_t>(n);
          window_bytes += static_cast<uint64_t>(n);
          server_budget -= std::min(server_budget, static_cast<size_t>(n));
        }
      }
      if (!dead && (cfd.revents & POLLOUT)) {
        ssize_t w = WriteFrom(p.client_fd, p.to_client);
        if (w < 0) dead = true;
        if (w > 0) server_bytes_ += static_cast<uint64_t>(w);
      }
      if (!dead && (sfd.revents & POLLOUT)) {
        if (WriteFrom(p.server_fd, p.to_server) < 0) dead = true;
      }
      // A side that closed is closed on the other once what it sent has been delivered.
      if ((p.client_eof && p.to_server.empty()) || (p.server_eof && p.to_client.empty())) {
        dead = true;
      }
      if (dead) ClosePair(p);
    }
    std::erase_if(pairs, [](const Pair& p) { return p.client_fd < 0; });
    if (cut_at >= 0 && server_bytes_ >= static_cast<uint64_t>(cut_at)) {
      cut_after_ = -1;
      cut_requested_ = true;
    }
  }
  for (auto& p : pairs) ClosePair(p);
}

}  // namespace kf::test
