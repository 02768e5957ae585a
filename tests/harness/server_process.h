// Real-server test harness: starts redis-server or valkey-server as a child process on a
// free loopback port, in its own temporary directory, and stops it by PID.
//
// Every integration test uses it; there are no mocks of servers. A ServerProcess stops its
// server in its destructor (so also when a test fails), and the child is also killed by
// the kernel if the test process dies (PR_SET_PDEATHSIG), so no server outlives a run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kf::test {

enum class ServerKind { kRedis, kValkey };

const char* ServerBinary(ServerKind kind);  // "redis-server" / "valkey-server"

// TLS for a test server: it listens on a TLS port of its own besides its plaintext port
// (which the harness keeps using for set-up and checks, ServerProcess::Call).
struct ServerTls {
  std::string cert;                 // tls-cert-file
  std::string key;                  // tls-key-file
  std::string ca_cert;              // tls-ca-cert-file (checks client certificates)
  std::string auth_clients = "no";  // tls-auth-clients: yes (mutual TLS), no, optional
};

struct ServerOptions {
  // Extra config directives, e.g. {"requirepass", "secret"}, {"maxmemory", "10mb"}.
  // Given as command-line arguments `--name value`; a value may hold spaces (several words).
  std::vector<std::pair<std::string, std::string>> config;
  std::chrono::milliseconds start_timeout{10000};
  // Cluster mode: cluster-enabled yes, cluster-config-file nodes.conf in the server's dir
  // and a cluster bus port of its own, free, chosen with the client port (the default bus
  // port, client port + 10000, may be taken or above 65535). Kept across Restart().
  bool cluster = false;
  // When set: also --tls-port (free, chosen with the client port) and these files.
  std::optional<ServerTls> tls{};
};

class ServerProcess {
 public:
  // Starts a server and waits until it answers PING (or the start timeout passes). Fails
  // the current test (gtest ASSERT-style fatal failure via the returned nullptr and an
  // ADD_FAILURE with the server's log) when it cannot start.
  static std::unique_ptr<ServerProcess> Start(ServerKind kind, ServerOptions options = {});

  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  ServerKind kind() const { return kind_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // The cluster bus port (options.cluster), else 0.
  int cluster_port() const { return cluster_port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  // "redis://127.0.0.1:<port>" (with the password from `requirepass` when one was set).
  std::string uri() const;
  // The TLS port (options.tls), else 0; and "rediss://127.0.0.1:<tls port>" (with the
  // password as in uri()).
  int tls_port() const { return tls_port_; }
  std::string tls_uri() const;
  std::string log_path() const { return dir_ + "/server.log"; }
  std::string ReadLog() const;

  // Sends SIGTERM, waits up to `grace` for exit, then SIGKILL. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // SIGKILL now (a crash, for fault tests).
  void Kill();
  bool running() const { return pid_ > 0; }
  // True once the server process has exited by itself (e.g. after SHUTDOWN); reaps it.
  bool HasExited();

  // Restarts on the same port and dir with the same options (e.g. after Kill()).
  bool Restart();

  // A minimal blocking RESP client for test set-up and checks, independent of keyferry's
  // own client (so tests of that client do not test it with itself). Sends one command
  // and returns the reply rendered as text: bulk/simple strings as is, integers as digits,
  // nil as "(nil)", errors as "ERR ..." with the leading '-', arrays as their elements
  // joined by '\n'. Aborts the test on connection failure.
  std::string Call(const std::vector<std::string>& args) const;
  // The value of one field of INFO (e.g. "sync_full" from section "stats"), or "".
  std::string InfoField(const std::string& section, const std::string& field) const;

 private:
  ServerProcess(ServerKind kind, ServerOptions options);
  bool Launch();

  ServerKind kind_;
  ServerOptions options_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  int cluster_port_ = 0;
  int tls_port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
  std::string password_;
};

// A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY and, when timeout > 0,
// send/receive timeouts; -1 when nothing listens.
int ConnectLoopback(int port, std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

// A free TCP port on 127.0.0.1 (bound and released; a small race is possible, so Start
// retries with a new port when the server fails to bind).
int FreeLoopbackPort();

// A fresh temporary directory under $TMPDIR (or /tmp), removed by the caller.
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

}  // namespace kf::test
