// LocalProvider: the `local` target provider. keyferry starts and owns valkey-server
// processes under the migration's state dir, so a migration can provision its own target.
//
// The server is started daemonized (it must outlive a crashed or killed `keyferry apply`,
// which resumes and finds it again), bound to the spec's address and port, with its own
// dir, log file and pid file under <state_dir>/target/ (with TLS: on a TLS port only, see
// LocalServerConfig::tls). Start() waits until it answers
// PING. Alive() tells whether the recorded pid still runs and the port still answers as a
// Valkey server (not something else that took the port). Remove() stops it (SHUTDOWN
// NOSAVE, then SIGTERM/SIGKILL by pid) and deletes its dir.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>

#include "common/result.h"
#include "net/tls_options.h"

namespace kf::control {

struct LocalServerConfig {
  std::string binary = "valkey-server";
  std::string bind = "127.0.0.1";
  int port = 0;                      // 0: pick a free port
  std::string maxmemory;             // "" = unlimited
  std::string persistence = "none";  // none | rdb | aof
  std::map<std::string, std::string> extra_config;
  std::string dir;       // working dir (created)
  std::string password;  // requirepass; "" = none
  // tls.enabled: the server listens on TLS only (--port 0, --tls-port <port>) with
  // tls.cert/key as its certificate and tls.ca_cert/ca_dir as the CAs for clients.
  net::TlsOptions tls;
};

struct LocalServer {
  pid_t pid = -1;
  int port = 0;
  std::string bind;
  std::string dir;
  std::string password;  // what keyferry authenticates with ("" = none)
  net::TlsOptions tls;   // how keyferry connects (the server's own pair as client certificate)
};

// Starts a server and waits until it answers (or `timeout`). Errors name the binary, the
// port and the tail of the server's log.
Result<LocalServer> StartLocalServer(const LocalServerConfig& config,
                                     std::chrono::milliseconds timeout);

// Whether `server.pid` runs and `server.port` answers PING with a Valkey INFO; the text
// says what is wrong otherwise ("pid 123 is gone", "port 6390 answers but is not ...").
struct ServerHealth {
  bool alive = false;
  std::string problem;
};
ServerHealth CheckLocalServer(const LocalServer& server);

// Stops the server (SHUTDOWN NOSAVE, then signals by pid) and removes its dir.
Result<void> RemoveLocalServer(const LocalServer& server);

// A free TCP port on `bind` (bound then released).
int PickFreePort(const std::string& bind);

// Whether `port` on `bind` can be bound right now (nothing else listens there).
bool PortFree(const std::string& bind, int port);

}  // namespace kf::control
