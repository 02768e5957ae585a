// LocalProvider: daemonized valkey-server processes owned by a migration.
#include "control/local_provider.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "control/control_errc.h"
#include "net/client.h"
#include "net/errc.h"

namespace kf::control {
namespace {

using std::chrono::milliseconds;

std::string Tail(const std::string& path, size_t max_bytes = 2000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
  return text;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  // A zombie child of ours still "exists"; reap it if it is one.
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // A daemonized server is re-parented; where nothing reaps orphans (a container's init),
  // a killed one lingers as a zombie: state 'Z' in /proc/<pid>/stat counts as gone.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') {
      return false;
    }
  }
  return true;
}

pid_t ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  long pid = -1;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// A client connected to a local server (authenticating when it has a password). A wildcard
// bind is reached over loopback, as Spec::TargetUri does, so that with TLS the name checked
// is the same everywhere (127.0.0.1 or ::1 unless tls.server_name says otherwise).
Result<void> ConnectLocal(const LocalServer& server, net::Client& client,
                          milliseconds connect_timeout, milliseconds io_timeout) {
  net::Uri uri;
  uri.host = server.bind == "0.0.0.0" ? "127.0.0.1" : server.bind == "::" ? "::1" : server.bind;
  uri.port = server.port;
  if (!server.password.empty()) {
    uri.password = server.password;
    uri.has_password = true;
  }
  uri.tls = server.tls;
  net::ClientOptions options;
  options.connect_timeout = connect_timeout;
  options.io_timeout = io_timeout;
  return client.Connect(uri, options);
}

}  // namespace

namespace {

// Binds `port` (0: any) on `bind`, or 127.0.0.1 when `bind` is not an IPv4 address; the
// bound port, or -1 when it cannot be bound.
int BindProbe(const std::string& bind, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as servers bind
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) {
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  int bound = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      bound = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return bound;
}

}  // namespace

int PickFreePort(const std::string& bind) { return BindProbe(bind, 0); }

bool PortFree(const std::string& bind, int port) {
  return port > 0 && port < 65536 && BindProbe(bind, port) == port;
}

Result<LocalServer> StartLocalServer(const LocalServerConfig& config,
                                     std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::create_directories(config.dir, ec);
  if (ec) {
    return MakeError(ControlErrc::kProvisionFailed,
                     "cannot create the target's dir " + config.dir + ": " + ec.message());
  }
  LocalServer server;
  server.bind = config.bind;
  server.dir = config.dir;
  server.password = config.password;
  server.tls = config.tls;
  if (config.port > 0 && !PortFree(config.bind, config.port)) {
    return MakeError(ControlErrc::kProvisionFailed,
                     "port " + std::to_string(config.port) + " on " + config.bind +
                         " is already in use by another process; set target.local.port to "
                         "a free port, or to 0 to let keyferry pick one");
  }
  server.port = config.port > 0 ? config.port : PickFreePort(config.bind);
  std::string pidfile = config.dir + "/valkey.pid";
  std::string logfile = config.dir + "/valkey.log";
  std::filesystem::remove(pidfile, ec);
  // With TLS the chosen port is the TLS port and nothing listens in plaintext.
  std::vector<std::string> args = {config.binary,
                                   "--port",
                                   config.tls.enabled ? "0" : std::to_string(server.port),
                                   "--bind",
                                   config.bind,
                                   "--dir",
                                   config.dir,
                                   "--logfile",
                                   logfile,
                                   "--pidfile",
                                   pidfile,
                                   "--daemonize",
                                   "yes",
                                   "--protected-mode",
                                   "no"};
  if (config.tls.enabled) {
    args.insert(args.end(), {"--tls-port", std::to_string(server.port), "--tls-cert-file",
                             config.tls.cert, "--tls-key-file", config.tls.key});
    if (!config.tls.ca_cert.empty())
      args.insert(args.end(), {"--tls-ca-cert-file", config.tls.ca_cert});
    if (!config.tls.ca_dir.empty())
      args.insert(args.end(), {"--tls-ca-cert-dir", config.tls.ca_dir});
  }
  if (config.persistence == "aof") {
    args.insert(args.end(), {"--appendonly", "yes", "--save", ""});
  } else if (config.persistence == "rdb") {
    args.insert(args.end(), {"--appendonly", "no"});
  } else {
    args.insert(args.end(), {"--appendonly", "no", "--save", ""});
  }
  if (!config.maxmemory.empty()) args.insert(args.end(), {"--maxmemory", config.maxmemory});
  // A target that evicts would silently drop keys the migration copied (docs/sync.md).
  args.insert(args.end(), {"--maxmemory-policy", "noeviction"});
  if (!config.password.empty()) args.insert(args.end(), {"--requirepass", config.password});
  for (const auto& [name, value] : config.extra_config) {
    args.push_back("--" + name);
    args.push_back(value);
  }
  pid_t child = ::fork();
  if (child < 0) {
    return MakeError(ControlErrc::kProvisionFailed,
                     std::string("fork failed: ") + std::strerror(errno));
  }
  if (child == 0) {
    ::signal(SIGPIPE, SIG_DFL);  // apply ignores SIGPIPE; the server starts with the default
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);  // the daemonizing parent exits at once
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError(ControlErrc::kProvisionFailed,
                     "could not start " + config.binary + " (exit status " +
                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                         "); is valkey-server installed? Its log:\n" + Tail(logfile));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;  // what the last try said, instead of a bare timeout
  while (std::chrono::steady_clock::now() < deadline) {
    if (server.pid <= 0) server.pid = ReadPidFile(pidfile);
    net::Client client;
    if (server.pid > 0) {
      auto connected = ConnectLocal(server, client, milliseconds(500), milliseconds(1000));
      if (connected) {
        auto pong = client.Call({"PING"});
        if (pong && pong->str() == "PONG") return server;
        if (!pong) last_error = pong.error().ToString();
      } else if (connected.error().code == make_error_code(net::NetErrc::kTlsFailed)) {
        // The server is up and a TLS check failed (certificate name, CA, key): waiting
        // does not change that.
        if (server.pid > 0) ::kill(server.pid, SIGKILL);
        return MakeError(ControlErrc::kProvisionFailed,
                         config.binary + " started on " + config.bind + ":" +
                             std::to_string(server.port) +
                             " but keyferry cannot connect: " + connected.error().ToString() +
                             "; fix target.local.tls as that says (the certificate must hold "
                             "the name keyferry connects to, 127.0.0.1 for a wildcard bind, "
                             "unless target.local.tls.server_name names another)");
      } else {
        last_error = connected.error().ToString();
      }
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  if (server.pid > 0) ::kill(server.pid, SIGKILL);
  return MakeError(ControlErrc::kProvisionFailed,
                   config.binary + " on " + config.bind + ":" + std::to_string(server.port) +
                       " did not answer within " + std::to_string(timeout.count()) +
                       " ms (port taken?)" +
                       (last_error.empty() ? "" : "; the last try: " + last_error) +
                       ". Its log:\n" + Tail(logfile));
}

ServerHealth CheckLocalServer(const LocalServer& server) {
  ServerHealth health;
  if (!ProcessAlive(server.pid)) {
    health.problem = "the provisioned valkey-server (pid " + std::to_string(server.pid) +
                     ", port " + std::to_string(server.port) + ") is gone";
    return health;
  }
  net::Client client;
  if (!ConnectLocal(server, client, milliseconds(1000), milliseconds(2000)).has_value()) {
    health.problem = "the provisioned valkey-server (pid " + std::to_string(server.pid) +
                     ") does not answer on port " + std::to_string(server.port);
    return health;
  }
  auto info = client.Call({"INFO", "server"});
  if (!info || info->is_error() || info->str().find("valkey_version") == std::string::npos) {
    health.problem = "port " + std::to_string(server.port) +
                     " answers, but not as a Valkey server: something else uses it";
    return health;
  }
  std::string pid_line = "process_id:" + std::to_string(server.pid);
  if (info->str().find(pid_line) == std::string::npos) {
    health.problem = "port " + std::to_string(server.port) +
                     " is served by another valkey-server than the one keyferry started (pid " +
                     std::to_string(server.pid) + ")";
    return health;
  }
  health.alive = true;
  return health;
}

Result<void> RemoveLocalServer(const LocalServer& server) {
  if (ProcessAlive(server.pid)) {
    net::Client client;
    if (ConnectLocal(server, client, milliseconds(500), milliseconds(2000)).has_value()) {
      auto r = client.Call({"SHUTDOWN", "NOSAVE"});
      (void)r;
    }
    for (int i = 0; i < 100 && ProcessAlive(server.pid); ++i) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    if (ProcessAlive(server.pid)) ::kill(server.pid, SIGTERM);
    for (int i = 0; i < 100 && ProcessAlive(server.pid); ++i) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    if (ProcessAlive(server.pid)) ::kill(server.pid, SIGKILL);
  }
  std::error_code ec;
  if (!server.dir.empty()) std::filesystem::remove_all(server.dir, ec);
  return {};
}

}  // namespace kf::control
