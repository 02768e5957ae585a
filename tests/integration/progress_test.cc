// Terminal progress of keyferry sync, apply, verify and restore run as subprocesses
// (docs/progress.md): on a pipe, one plain line every 5 s without \r or escapes, then the
// result; with --quiet only the result; on a pseudo-terminal, the bar drawn in place with
// the log lines printed meanwhile whole on lines of their own.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/journal.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "harness/tcp_proxy.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// `n` strings of `value_bytes` pseudo-random bytes in db 0 (LZF cannot shrink them, so the
// RDB is as big as the values), with MSET batches.
void SeedStrings(const std::string& uri, int n, size_t value_bytes) {
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(uri)));
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < n;) {
    std::vector<std::string> mset = {"MSET"};
    for (int j = 0; j < 500 && i < n; ++j, ++i) {
      std::string value(value_bytes, '\0');
      for (char& c : value) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
      }
      mset.push_back("key:" + std::to_string(i));
      mset.push_back(std::move(value));
    }
    auto reply = client.Call(mset);
    ASSERT_TRUE(reply && !reply->is_error());
  }
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool HasTerminalControl(const std::string& text) {
  return text.find('\r') != std::string::npos || text.find('\033') != std::string::npos;
}

std::unique_ptr<ServerProcess> StartSource() {
  return ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
}

// A source of 20,000 keys of 120 bytes (an RDB of about 2.8 MB) behind a proxy that
// forwards 400 KB/s: the snapshot lasts about 7 s, long enough for a plain line.
constexpr int kKeys = 20000;
constexpr uint64_t kProxyRate = 400 * 1000;

TEST(ProgressTest, SyncOnAPipePrintsPlainLinesAndQuietOnlyTheResult) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedStrings(source->uri(), kKeys, 120);
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source->port());
  proxy.SetServerRateLimit(kProxyRate);
  const std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());

  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", via_proxy, "--target", target->uri(), "--once"});
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
  const std::string err = sync.Stderr();
  EXPECT_FALSE(HasTerminalControl(err)) << err;
  std::vector<std::string> lines = Lines(err);
  ASSERT_FALSE(lines.empty());
  // At least one progress line of the snapshot: keys against the source's count (~).
  int snapshot_lines = 0;
  for (const auto& line : lines) {
    if (!line.starts_with("keyferry sync: snapshot ")) continue;
    ++snapshot_lines;
    EXPECT_NE(line.find("%  "), std::string::npos) << line;
    EXPECT_NE(line.find("/~20k keys"), std::string::npos) << line;
    EXPECT_EQ(line.find('['), std::string::npos) << line;  // no bar in a plain line
  }
  EXPECT_GE(snapshot_lines, 1) << err;
  EXPECT_TRUE(lines.back().starts_with("keyferry sync: done in ")) << err;
  EXPECT_EQ(sync.Stdout(), "");

  // --quiet: the summary only, into a target emptied first.
  Subprocess quiet({KeyferryBinary(), "sync", "--source", via_proxy, "--target", target->uri(),
                    "--once", "--flush-target", "--quiet"});
  ASSERT_EQ(quiet.Wait(seconds(120)), 0) << quiet.Stderr();
  lines = Lines(quiet.Stderr());
  ASSERT_EQ(lines.size(), 1u) << quiet.Stderr();
  EXPECT_TRUE(lines[0].starts_with("keyferry sync: done in ")) << lines[0];
  EXPECT_NE(lines[0].find("20000 keys"), std::string::npos) << lines[0];
  EXPECT_EQ(quiet.Stdout(), "");
  // --quiet does not silence errors.
  Subprocess failing({KeyferryBinary(), "sync", "--source", via_proxy, "--target",
                      "redis://127.0.0.1:" + std::to_string(FreeLoopbackPort()), "--once",
                      "--quiet"});
  EXPECT_EQ(failing.Wait(seconds(60)), 2);
  EXPECT_NE(failing.Stderr().find("keyferry sync failed: "), std::string::npos) << failing.Stderr();
}

TEST(ProgressTest, VerifyAndRestoreOnAPipeAndQuiet) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedStrings(source->uri(), 6000, 64);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(source->Call({"SAVE"}), "OK");
  const std::string file = source->dir() + "/dump.rdb";

  // restore --quiet: its summary line only.
  Subprocess restore({KeyferryBinary(), "restore", file, "--target", target->uri(), "--quiet"});
  ASSERT_EQ(restore.Wait(seconds(120)), 0) << restore.Stderr();
  std::vector<std::string> lines = Lines(restore.Stderr());
  ASSERT_EQ(lines.size(), 1u) << restore.Stderr();
  EXPECT_TRUE(lines[0].starts_with("keyferry restore: done in ")) << lines[0];
  EXPECT_EQ(restore.Stdout(), "");

  // verify on a pipe, slowed by --max-ops to last over 5 s: plain lines with the key count
  // read from the source's DBSIZE, then the report on stdout.
  Subprocess verify({KeyferryBinary(), "verify", "--source", source->uri(), "--target",
                     target->uri(), "--max-ops", "4000", "--batch", "200"});
  ASSERT_EQ(verify.Wait(seconds(120)), 0) << verify.Stderr();
  const std::string err = verify.Stderr();
  EXPECT_FALSE(HasTerminalControl(err)) << err;
  int progress_lines = 0;
  for (const auto& line : Lines(err)) {
    ASSERT_TRUE(line.starts_with("keyferry verify: verify ")) << line;
    EXPECT_NE(line.find("/~6.0k keys"), std::string::npos) << line;
    EXPECT_NE(line.find("differing 0"), std::string::npos) << line;
    ++progress_lines;
  }
  EXPECT_GE(progress_lines, 1) << err;
  EXPECT_NE(verify.Stdout().find("result: EQUAL"), std::string::npos) << verify.Stdout();

  // verify --quiet: the report and nothing on stderr.
  Subprocess quiet({KeyferryBinary(), "verify", "--source", source->uri(), "--target",
                    target->uri(), "--max-ops", "4000", "--batch", "200", "--quiet"});
  ASSERT_EQ(quiet.Wait(seconds(120)), 0) << quiet.Stderr();
  EXPECT_EQ(quiet.Stderr(), "");
  EXPECT_NE(quiet.Stdout().find("result: EQUAL"), std::string::npos) << quiet.Stdout();
}

// Interprets what a program wrote to a terminal: \r, \n, ESC[K (erase to the end of the
// line), colours (skipped). Lines are kept logical (a long log line a terminal would wrap
// stays one line here); the bar's width is checked on the raw output.
struct Screen {
  Screen() : lines(1) {}
  void Write(const std::string& bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c == '\r') {
        col = 0;
      } else if (c == '\n') {
        lines.emplace_back();
        col = 0;
      } else if (c == '\033' && i + 1 < bytes.size() && bytes[i + 1] == '[') {
        size_t end = i + 2;
        while (end < bytes.size() &&
               (std::isdigit(static_cast<unsigned char>(bytes[end])) || bytes[end] == ';')) {
          ++end;
        }
        if (end < bytes.size() && bytes[end] == 'K') {
          lines.back().resize(std::min(lines.back().size(), col));
        } else if (end >= bytes.size() || bytes[end] != 'm') {
          ++unknown_escapes;
        }
        i = end;
      } else {
        if (lines.back().size() <= col) lines.back().resize(col + 1, ' ');
        lines.back()[col++] = c;
      }
    }
  }
  size_t col = 0;
  int unknown_escapes = 0;
  std::vector<std::string> lines;
};

// Runs argv on a pseudo-terminal of `cols` columns; returns everything it wrote (bounded
// in time: the child is killed after `limit`) and its exit code in *code.
std::string RunOnTerminal(const std::vector<std::string>& argv, int cols, seconds limit,
                          int* code) {
  winsize ws{};
  ws.ws_row = 40;
  ws.ws_col = static_cast<unsigned short>(cols);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (pid < 0) {
    ADD_FAILURE() << "forkpty failed";
    return "";
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child and its terminal are gone
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 100 && done == 0; ++i) {  // its terminal closed: it exits at once
    done = ::waitpid(pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(milliseconds(50));
  }
  if (done == 0) {
    ADD_FAILURE() << "still running after the limit; killed";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::close(master);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

TEST(ProgressTest, SyncOnATerminalDrawsTheBarAndKeepsLogLinesWhole) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedStrings(source->uri(), kKeys, 120);
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source->port());
  proxy.SetServerRateLimit(kProxyRate);
  const std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  constexpr int kCols = 100;
  int code = -1;
  // --log-level info: the engine logs while the bar is shown ("snapshot applied: ...").
  std::string out = RunOnTerminal({KeyferryBinary(), "--log-level", "info", "sync", "--source",
                                   via_proxy, "--target", target->uri(), "--once"},
                                  kCols, seconds(120), &code);
  ASSERT_EQ(code, 0) << out;
  // The bar was drawn in place.
  EXPECT_NE(out.find("\r\033[Ksnapshot ["), std::string::npos) << out;
  // Every drawing of the bar is shorter than the terminal (a wrapped bar could not be
  // cleared with \r) and shows the source's key count as an estimate.
  int bars = 0;
  for (size_t at = out.find("\r\033[Ksnapshot ["); at != std::string::npos;
       at = out.find("\r\033[Ksnapshot [", at + 1)) {
    const size_t from = at + 4;
    const size_t end = out.find_first_of("\r\n", from);
    const std::string bar = out.substr(from, end == std::string::npos ? end : end - from);
    EXPECT_LT(bar.size(), static_cast<size_t>(kCols)) << bar;
    EXPECT_NE(bar.find("/~20k keys"), std::string::npos) << bar;
    ++bars;
  }
  EXPECT_GE(bars, 4) << out;  // four a second for about 7 s
  Screen screen;
  screen.Write(out);
  EXPECT_EQ(screen.unknown_escapes, 0);
  // What is left on the screen: whole log lines (a time stamp first, no bar glued to them),
  // the summary last; no bar left over.
  int log_lines = 0;
  bool summary = false;
  for (const auto& line : screen.lines) {
    if (line.empty()) continue;
    EXPECT_EQ(line.find("snapshot ["), std::string::npos) << line;
    EXPECT_EQ(line.find("streaming  lag"), std::string::npos) << line;
    if (line.starts_with("keyferry sync: done in ")) {
      summary = true;
      continue;
    }
    EXPECT_FALSE(summary) << "after the summary: " << line;
    // 2026-01-02T03:04:05.678 info ...
    ASSERT_GE(line.size(), 24u) << line;
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(line[0])) && line[10] == 'T') << line;
    if (line.find("snapshot applied: ") != std::string::npos) ++log_lines;
  }
  EXPECT_TRUE(summary) << out;
  EXPECT_EQ(log_lines, 1) << out;
}

TEST(ProgressTest, ApplyOnATerminalShowsTheBarsUnderThePhaseLines) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedStrings(source->uri(), kKeys, 120);
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source->port());
  proxy.SetServerRateLimit(kProxyRate);  // a 7 s snapshot, and as long a verify
  const std::string dir = MakeTempDir("kf-progress-apply-");
  const std::string spec = dir + "/cache.yaml";
  std::ofstream(spec) << "name: progress-cache\n"
                         "source:\n"
                         "  uri: redis://127.0.0.1:"
                      << proxy.port()
                      << "\n"
                         "target:\n"
                         "  engine: valkey\n"
                         "  version: \"8.0\"\n"
                         "  provider: local\n"
                         "migration:\n"
                         "  max_pause_ms: 5000\n"
                         "cutover:\n"
                         "  hook: \"true\"\n"
                         "after_cutover:\n"
                         "  source: keep\n";
  int code = -1;
  std::string out = RunOnTerminal({KeyferryBinary(), "apply", "-f", spec, "--auto-approve"}, 100,
                                  seconds(180), &code);
  // The valkey-server the migration started, stopped by its pid.
  if (auto journal = control::Journal::Open(dir + "/keyferry-state/progress-cache", false)) {
    auto pid = (*journal)->Get("target.pid");
    if (pid && *pid) ::kill(static_cast<pid_t>(std::stol(**pid)), SIGKILL);
  }
  RemoveTree(dir);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\r\033[Ksnapshot ["), std::string::npos) << out;
  EXPECT_NE(out.find("\r\033[Kverify ["), std::string::npos) << out;
  Screen screen;
  screen.Write(out);
  EXPECT_EQ(screen.unknown_escapes, 0);
  // Left on the screen: the phase lines, whole, and DONE last; no bar.
  std::vector<std::string> lines;
  for (const auto& line : screen.lines) {
    if (!line.empty()) lines.push_back(line);
  }
  ASSERT_FALSE(lines.empty()) << out;
  EXPECT_EQ(lines.back(), "keyferry apply: DONE") << out;
  bool full_sync_line = false;
  for (const auto& line : lines) {
    EXPECT_TRUE(line.starts_with("keyferry apply: ")) << line;
    EXPECT_EQ(line.find(" ["), std::string::npos) << line;
    full_sync_line = full_sync_line || line.starts_with("keyferry apply: FULL_SYNC: ");
  }
  EXPECT_TRUE(full_sync_line) << out;
}

}  // namespace
}  // namespace kf::test
