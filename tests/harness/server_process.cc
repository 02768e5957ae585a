// Starting and stopping real redis-server / valkey-server processes for tests.
//
// Servers run in the foreground as children of the test process, bound to 127.0.0.1 on a
// free port, with no persistence unless the test asks, in a temp dir that is removed when
// the ServerProcess is destroyed. The minimal RESP client here is deliberately separate
// from keyferry's own client so that client can be tested against it.
#include "harness/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Reads one RESP2 reply from fd (blocking, with the socket's timeout) and renders it.
class ReplyReader {
 public:
  explicit ReplyReader(int fd) : fd_(fd) {}

  bool ReadReply(std::string* out) {
    std::string line;
    if (!ReadLine(&line) || line.empty()) return false;
    char type = line[0];
    std::string rest = line.substr(1);
    switch (type) {
      case '+':
      case ':':
        *out = rest;
        return true;
      case '-':
        *out = line;
        return true;
      case '$': {
        long len = std::strtol(rest.c_str(), nullptr, 10);
        if (len < 0) {
          *out = "(nil)";
          return true;
        }
        std::string data;
        if (!ReadExact(static_cast<size_t>(len) + 2, &data)) return false;
        data.resize(static_cast<size_t>(len));
        *out = data;
        return true;
      }
      case '*': {
        long n = std::strtol(rest.c_str(), nullptr, 10);
        if (n < 0) {
          *out = "(nil)";
          return true;
        }
        std::string joined;
        for (long i = 0; i < n; ++i) {
          std::string element;
          if (!ReadReply(&element)) return false;
          if (i > 0) joined += '\n';
          joined += element;
        }
        *out = joined;
        return true;
      }
      default:
        *out = "unexpected reply: " + line;
        return true;
    }
  }

 private:
  bool Fill() {
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  bool ReadLine(std::string* line) {
    for (;;) {
      size_t pos = buffer_.find("\r\n", offset_);
      if (pos != std::string::npos) {
        *line = buffer_.substr(offset_, pos - offset_);
        offset_ = pos + 2;
        return true;
      }
      if (!Fill()) return false;
    }
  }
  bool ReadExact(size_t n, std::string* data) {
    while (buffer_.size() - offset_ < n) {
      if (!Fill()) return false;
    }
    *data = buffer_.substr(offset_, n);
    offset_ += n;
    return true;
  }

  int fd_;
  std::string buffer_;
  size_t offset_ = 0;
};

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int ConnectLoopback(int port, milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  if (timeout.count() > 0) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

const char* ServerBinary(ServerKind kind) {
  return kind == ServerKind::kRedis ? "redis-server" : "valkey-server";
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return "";
  return std::string(buf.data());
}

void RemoveTree(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

ServerProcess::ServerProcess(ServerKind kind, ServerOptions options)
    : kind_(kind), options_(std::move(options)) {
  for (const auto& [name, value] : options_.config) {
    if (name == "requirepass") password_ = value;
  }
}

std::unique_ptr<ServerProcess> ServerProcess::Start(ServerKind kind, ServerOptions options) {
  std::unique_ptr<ServerProcess> server(new ServerProcess(kind, std::move(options)));
  server->dir_ = MakeTempDir(std::string("kf-") + ServerBinary(kind) + "-");
  if (server->dir_.empty()) {
    ADD_FAILURE() << "could not create a temp dir for " << ServerBinary(kind);
    return nullptr;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    server->port_ = FreeLoopbackPort();
    if (server->options_.cluster) {
      do {
        server->cluster_port_ = FreeLoopbackPort();
      } while (server->cluster_port_ == server->port_);
    }
    if (server->options_.tls) {
      do {
        server->tls_port_ = FreeLoopbackPort();
      } while (server->tls_port_ == server->port_ || server->tls_port_ == server->cluster_port_);
    }
    if (server->Launch()) return server;
  }
  ADD_FAILURE() << "could not start " << ServerBinary(kind) << "; its log:\n" << server->ReadLog();
  return nullptr;
}

bool ServerProcess::Launch() {
  std::vector<std::string> args = {ServerBinary(kind_),
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--logfile",
                                   log_path(),
                                   "--daemonize",
                                   "no",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--protected-mode",
                                   "no"};
  if (options_.cluster) {
    args.insert(args.end(), {"--cluster-enabled", "yes", "--cluster-port",
                             std::to_string(cluster_port_), "--cluster-config-file", "nodes.conf"});
  }
  if (options_.tls) {
    args.insert(args.end(),
                {"--tls-port", std::to_string(tls_port_), "--tls-cert-file", options_.tls->cert,
                 "--tls-key-file", options_.tls->key, "--tls-ca-cert-file", options_.tls->ca_cert,
                 "--tls-auth-clients", options_.tls->auth_clients});
  }
  for (const auto& [name, value] : options_.config) {
    args.push_back("--" + name);
    std::istringstream words(value);
    std::string word;
    bool any = false;
    while (words >> word) {
      args.push_back(word);
      any = true;
    }
    if (!any) args.push_back("");
  }
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  auto deadline = steady_clock::now() + options_.start_timeout;
  while (steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: e.g. port taken
      pid_ = -1;
      return false;
    }
    int fd = ConnectLoopback(port_, milliseconds(1000));
    if (fd >= 0) {
      std::string cmd;
      if (!password_.empty()) cmd += EncodeCommand({"AUTH", password_});
      cmd += EncodeCommand({"PING"});
      bool up = false;
      if (SendAll(fd, cmd)) {
        ReplyReader reader(fd);
        std::string reply;
        if (!password_.empty()) reader.ReadReply(&reply);
        up = reader.ReadReply(&reply) && reply == "PONG";
      }
      ::close(fd);
      if (up) return true;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  Kill();
  return false;
}

ServerProcess::~ServerProcess() {
  Stop();
  RemoveTree(dir_);
}

std::string ServerProcess::uri() const {
  std::string auth = password_.empty() ? "" : ":" + password_ + "@";
  return "redis://" + auth + host_ + ":" + std::to_string(port_);
}

std::string ServerProcess::tls_uri() const {
  std::string auth = password_.empty() ? "" : ":" + password_ + "@";
  return "rediss://" + auth + host_ + ":" + std::to_string(tls_port_);
}

std::string ServerProcess::ReadLog() const {
  std::ifstream in(log_path());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ServerProcess::Stop(milliseconds grace) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = steady_clock::now() + grace;
  while (steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  Kill();
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool ServerProcess::HasExited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

bool ServerProcess::Restart() {
  Stop();
  return Launch();
}

std::string ServerProcess::Call(const std::vector<std::string>& args) const {
  int fd = ConnectLoopback(port_, milliseconds(30000));
  if (fd < 0) {
    ADD_FAILURE() << "harness: cannot connect to " << ServerBinary(kind_) << " on port " << port_;
    return "";
  }
  std::string cmd;
  if (!password_.empty()) cmd += EncodeCommand({"AUTH", password_});
  cmd += EncodeCommand(args);
  std::string reply;
  if (SendAll(fd, cmd)) {
    ReplyReader reader(fd);
    if (!password_.empty()) reader.ReadReply(&reply);
    if (!reader.ReadReply(&reply)) {
      ADD_FAILURE() << "harness: no reply from port " << port_ << " to " << args[0];
      reply.clear();
    }
  }
  ::close(fd);
  return reply;
}

std::string ServerProcess::InfoField(const std::string& section, const std::string& field) const {
  std::string info = Call({"INFO", section});
  std::istringstream lines(info);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

}  // namespace kf::test
