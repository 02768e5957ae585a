// kf_tcp_proxy: the test harness' loopback TcpProxy (tests/harness/tcp_proxy.h) as a
// program, so scripts (bench/soak.sh) can put it between keyferry and a server and cut or
// stall the link from outside with signals.
//
//   kf_tcp_proxy --target-port P [--port-file F] [--stall-ms N]
//
// Listens on a free 127.0.0.1 port and forwards every connection to 127.0.0.1:P. Prints
// "kf_tcp_proxy: listening on 127.0.0.1:<port> -> 127.0.0.1:<P>" on stdout and, with
// --port-file, writes the port (one line) to F atomically (a temp file renamed), so a
// script can wait for the file. Then, until SIGTERM or SIGINT:
//   SIGUSR1  closes every open connection at once (both sides see EOF/reset); new
//            connections are accepted as before;
//   SIGUSR2  stalls every connection for N ms (--stall-ms, default 3000): nothing is
//            forwarded, the connections stay open.
// Each event is printed with a Unix-ms timestamp; on exit a summary line
// "kf_tcp_proxy: cuts=.. stalls=.. connections=.. server_bytes=..". The signal handlers
// only set flags (async-signal-safe); the main loop polls them every 10 ms.
// Exit codes: 0 stopped by a signal, 2 usage or runtime error.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "harness/tcp_proxy.h"

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_cuts_requested = 0;
volatile sig_atomic_t g_stalls_requested = 0;

void OnStop(int) { g_stop = 1; }
void OnCut(int) { g_cuts_requested = g_cuts_requested + 1; }
void OnStall(int) { g_stalls_requested = g_stalls_requested + 1; }

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "kf_tcp_proxy: %s\n"
               "usage: kf_tcp_proxy --target-port P [--port-file F] [--stall-ms N]\n"
               "  SIGUSR1 cuts every connection, SIGUSR2 stalls them for N ms (default "
               "3000), SIGTERM/SIGINT stop the proxy\n",
               problem.c_str());
  return 2;
}

bool ParsePositive(const std::string& text, long max, long* out) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v <= 0 || v > max) return false;
  *out = v;
  return true;
}

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Writes "<port>\n" to path via a temp file and rename, so a reader never sees half a line.
bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fprintf(f, "%d\n", port) > 0;
  ok = std::fclose(f) == 0 && ok;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

void Install(int signo, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(signo, &sa, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  long target_port = 0;
  long stall_ms = 3000;
  std::string port_file;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(flag + " needs a value");
    std::string value = argv[i + 1];
    if (flag == "--target-port") {
      if (!ParsePositive(value, 65535, &target_port)) return Usage("bad --target-port " + value);
    } else if (flag == "--port-file") {
      port_file = value;
    } else if (flag == "--stall-ms") {
      if (!ParsePositive(value, 3600000, &stall_ms)) return Usage("bad --stall-ms " + value);
    } else {
      return Usage("unknown option " + flag);
    }
  }
  if (target_port == 0) return Usage("--target-port is required");

  // Handlers first: a signal that arrives right after the port is announced must not
  // kill the proxy with the default action.
  Install(SIGTERM, OnStop);
  Install(SIGINT, OnStop);
  Install(SIGUSR1, OnCut);
  Install(SIGUSR2, OnStall);
  signal(SIGPIPE, SIG_IGN);

  kf::test::TcpProxy proxy(static_cast<int>(target_port));
  if (proxy.port() <= 0) {
    std::fprintf(stderr, "kf_tcp_proxy: could not listen on a 127.0.0.1 port\n");
    return 2;
  }
  std::printf("kf_tcp_proxy: listening on 127.0.0.1:%d -> 127.0.0.1:%ld\n", proxy.port(),
              target_port);
  std::fflush(stdout);
  if (!port_file.empty() && !WritePortFile(port_file, proxy.port())) {
    std::fprintf(stderr, "kf_tcp_proxy: cannot write the port file %s\n", port_file.c_str());
    return 2;
  }

  using Clock = std::chrono::steady_clock;
  sig_atomic_t cuts_seen = 0;
  sig_atomic_t stalls_seen = 0;
  bool stalled = false;
  Clock::time_point stall_end{};
  while (g_stop == 0) {
    sig_atomic_t cuts = g_cuts_requested;
    if (cuts != cuts_seen) {
      cuts_seen = cuts;
      proxy.CutAll();
      std::printf("%lld cut (cut %d, %d connections accepted so far)\n", NowMs(),
                  static_cast<int>(cuts), proxy.connections_accepted());
      std::fflush(stdout);
    }
    sig_atomic_t stalls = g_stalls_requested;
    if (stalls != stalls_seen) {
      stalls_seen = stalls;
      stalled = true;
      stall_end = Clock::now() + std::chrono::milliseconds(stall_ms);
      proxy.SetStalled(true);
      std::printf("%lld stall for %ld ms (stall %d)\n", NowMs(), stall_ms,
                  static_cast<int>(stalls));
      std::fflush(stdout);
    }
    if (stalled && Clock::now() >= stall_end) {
      stalled = false;
      proxy.SetStalled(false);
      std::printf("%lld stall over\n", NowMs());
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf("kf_tcp_proxy: cuts=%d stalls=%d connections=%d server_bytes=%llu\n",
              static_cast<int>(cuts_seen), static_cast<int>(stalls_seen),
              proxy.connections_accepted(),
              static_cast<unsigned long long>(proxy.server_bytes_forwarded()));
  return 0;
}
