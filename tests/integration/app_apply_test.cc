// The application workload (tests/tools/app_workload.h, kf_app_workload) against real
// servers. Its checker passes on the server the workload ran against, connections killed
// and the endpoint file rewritten mid-run included; it fails, naming each damaged key, job
// and stream entry, once the data is changed behind the application's back; and
// `keyferry apply` under the application, with the cutover hook rewriting the file the
// application reads its endpoint from, keeps everything the application was told.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "control/journal.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The endpoint file and the record directory of one application run, in a temp dir.
class AppDir {
 public:
  explicit AppDir(const std::string& uri) : dir_(MakeTempDir("kf-app-")) { SetEndpoint(uri); }
  ~AppDir() { RemoveTree(dir_); }
  AppDir(const AppDir&) = delete;
  AppDir& operator=(const AppDir&) = delete;

  const std::string& dir() const { return dir_; }
  std::string endpoint_file() const { return dir_ + "/endpoint.txt"; }
  void SetEndpoint(const std::string& uri) const { std::ofstream(endpoint_file()) << uri << "\n"; }
  std::string Endpoint() const {
    std::ifstream in(endpoint_file());
    std::string line;
    std::getline(in, line);
    return line;
  }

  std::unique_ptr<Subprocess> StartRun(int max_seconds) const {
    return std::make_unique<Subprocess>(std::vector<std::string>{
        KF_APP_WORKLOAD, "run", "--endpoint-file", endpoint_file(), "--record", dir_ + "/record",
        "--seconds", std::to_string(max_seconds)});
  }
  // Runs the check; its exit code, its output in *out.
  int Check(std::string* out) const {
    Subprocess check({KF_APP_WORKLOAD, "check", "--endpoint-file", endpoint_file(), "--record",
                      dir_ + "/record"});
    int rc = check.Wait(seconds(60));
    *out = check.Stdout() + check.Stderr();
    return rc;
  }

 private:
  std::string dir_;
};

// The number after "<name>=" on the first line starting with `prefix`; -1 when absent.
double Field(const std::string& output, const std::string& prefix, const std::string& name) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix)) continue;
    size_t at = line.find(" " + name + "=");
    if (at == std::string::npos) return -1;
    return std::strtod(line.c_str() + at + name.size() + 2, nullptr);
  }
  return -1;
}

const char* const kThreads[] = {"sessions", "counters",  "leaderboard", "jobs",
                                "stream",   "transfers", "lua"};

TEST(AppWorkloadTest, CheckPassesOnItsServerAcrossDroppedConnectionsAndAMovedEndpoint) {
  auto redis = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(redis);
  AppDir app(redis->uri());
  auto run = app.StartRun(5);
  // Drop every connection of the application (the harness's own is skipped)...
  std::this_thread::sleep_for(milliseconds(1500));
  std::string killed = redis->Call({"CLIENT", "KILL", "TYPE", "normal"});
  EXPECT_GE(std::atoi(killed.c_str()), 7) << killed;
  // ...then name the same server differently in the endpoint file: every thread moves.
  std::this_thread::sleep_for(milliseconds(1500));
  app.SetEndpoint(redis->uri() + "/0");
  ASSERT_EQ(run->Wait(seconds(40)), 0) << run->Stdout() << run->Stderr();
  const std::string out = run->Stdout();
  for (const char* thread : kThreads) {
    EXPECT_GE(Field(out, std::string("thread ") + thread + " ", "reconnects"), 2) << out;
  }
  EXPECT_GT(Field(out, "app_workload ", "answered"), 5000) << out;
  std::string check;
  EXPECT_EQ(app.Check(&check), 0) << check;
  EXPECT_NE(check.find("app_check passed=8 failed=0"), std::string::npos) << check;
}

TEST(AppWorkloadTest, CheckFailsAndNamesWhatWasDamaged) {
  auto redis = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(redis);
  AppDir app(redis->uri());
  auto run = app.StartRun(3);
  ASSERT_EQ(run->Wait(seconds(30)), 0) << run->Stdout() << run->Stderr();
  std::string check;
  ASSERT_EQ(app.Check(&check), 0) << check;

  // One change behind the application's back for each check.
  ASSERT_EQ(redis->Call({"DEL", "app:ctr:3"}), "1");
  ASSERT_NE(redis->Call({"ZINCRBY", "app:lb", "0.25", "m7"}), "");
  std::string lost_job = redis->Call({"RPOP", "app:jobs"});
  ASSERT_TRUE(lost_job.starts_with("job:")) << lost_job;
  std::string pending = redis->Call({"XPENDING", "app:events", "g", "-", "+", "1"});
  std::string pending_id = pending.substr(0, pending.find('\n'));
  ASSERT_NE(pending_id.find('-'), std::string::npos) << pending;
  ASSERT_EQ(redis->Call({"XACK", "app:events", "g", pending_id}), "1");
  ASSERT_EQ(redis->Call({"INCRBY", "app:acct:a", "5"}).empty(), false);
  ASSERT_NE(redis->Call({"HINCRBY", "app:h", "f4", "-1"}), "");
  // A session with a long TTL gets a token the application never wrote.
  std::string session;
  for (int n = 0; n < 500 && session.empty(); ++n) {
    std::string key = "app:sess:" + std::to_string(n);
    if (std::atoll(redis->Call({"PTTL", key}).c_str()) > 20000) session = key;
  }
  ASSERT_FALSE(session.empty());
  ASSERT_EQ(redis->Call({"SET", session, "forged", "KEEPTTL"}), "OK");
  ASSERT_EQ(redis->Call({"SET", "app:stray", "x"}), "OK");

  ASSERT_EQ(app.Check(&check), 1) << check;
  EXPECT_NE(check.find("app_check passed=0 failed=8"), std::string::npos) << check;
  for (const char* name :
       {"sessions", "counters", "leaderboard", "jobs", "stream", "transfers", "lua", "keys"}) {
    EXPECT_NE(check.find(std::string("check ") + name + ": FAIL"), std::string::npos)
        << name << "\n"
        << check;
  }
  EXPECT_NE(check.find("app:ctr:3: missing"), std::string::npos) << check;
  EXPECT_NE(check.find("app:lb m7:"), std::string::npos) << check;
  EXPECT_NE(check.find(lost_job + ": pushed (acknowledged), never taken"), std::string::npos)
      << check;
  EXPECT_NE(check.find(pending_id + ": delivered and never acknowledged, but not pending"),
            std::string::npos)
      << check;
  EXPECT_NE(check.find("app:acct:a + app:acct:b = 2000005"), std::string::npos) << check;
  EXPECT_NE(check.find("app:h f4:"), std::string::npos) << check;
  EXPECT_NE(check.find(session + ": holds token forged never written"), std::string::npos) << check;
  EXPECT_NE(check.find("app:stray: the workload never wrote this key"), std::string::npos) << check;
}

// The whole migration under the application: the hook rewrites the endpoint file, Redis is
// shut down, the application follows to Valkey and writes there a few seconds more; then
// Valkey must hold exactly what the application was told.
// `source_extra`: more lines of the spec's source section.
void ApplyUnderTheApplication(ServerOptions redis_options, const std::string& source_extra) {
  auto redis = ServerProcess::Start(ServerKind::kRedis, redis_options);
  ASSERT_TRUE(redis);
  AppDir app(redis->uri());
  const std::string spec = app.dir() + "/cache.yaml";
  const std::string state_dir = app.dir() + "/state";
  std::ofstream(spec) << "name: app-cache\n"
                         "state_dir: "
                      << state_dir
                      << "\n"
                         "source:\n"
                         "  uri: redis://127.0.0.1:"
                      << redis->port() << "\n"
                      << source_extra
                      << "target:\n"
                         "  engine: valkey\n"
                         "  version: \"8.0\"\n"
                         "  provider: local\n"
                         "migration:\n"
                         "  max_pause_ms: 5000\n"
                         "cutover:\n"
                         "  hook: \"echo {uri} > "
                      << app.endpoint_file()
                      << "\"\n"
                         "after_cutover:\n"
                         "  source: shutdown\n";
  // Stops the Valkey server the migration provisioned, whatever happens below.
  struct StopTarget {
    std::string state_dir;
    ~StopTarget() {
      auto journal = control::Journal::Open(state_dir, false);
      if (!journal) return;
      auto pid = (*journal)->Get("target.pid");
      if (pid && *pid) ::kill(static_cast<pid_t>(std::stol(**pid)), SIGKILL);
    }
  } stop_target{state_dir};

  auto run = app.StartRun(120);
  std::this_thread::sleep_for(milliseconds(1000));
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec, "--auto-approve"});
  int apply_rc = apply.Wait(seconds(50));
  std::string phase;
  if (auto journal = control::Journal::Open(state_dir, false); journal) {
    auto p = (*journal)->Get("phase");
    if (p && *p) phase = **p;
  }
  ASSERT_EQ(apply_rc, 0) << "phase " << phase << "\n" << apply.Stderr();
  EXPECT_EQ(phase, "DONE");
  const std::string valkey = app.Endpoint();
  ASSERT_NE(valkey, redis->uri()) << "the cutover hook did not rewrite the endpoint file";

  // The application goes on writing to Valkey, then stops.
  std::this_thread::sleep_for(milliseconds(3000));
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(seconds(30)), 0) << run->Stdout() << run->Stderr();
  const std::string out = run->Stdout();
  EXPECT_GE(Field(out, "app_workload ", "reconnects"), 1) << out;
  for (const char* thread : kThreads) {
    EXPECT_GE(Field(out, std::string("thread ") + thread + " ", "reconnects"), 1)
        << thread << " never moved to Valkey\n"
        << out;
  }
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = redis->HasExited();
    if (!gone) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the source should be shut down";

  std::string check;
  EXPECT_EQ(app.Check(&check), 0) << check;
  Subprocess events({KeyferryBinary(), "events", "-f", spec});
  events.Wait(seconds(20));
  // The numbers the closing note of the task asks for.
  std::cout << out << check;
  std::string journal = events.Stdout();
  size_t paused = journal.find("writes were paused for");
  if (paused != std::string::npos) {
    std::cout << journal.substr(paused, journal.find('\n', paused) - paused) << "\n";
  }
}

TEST(AppApplyTest, ApplyUnderTheApplicationKeepsEverythingItWasTold) {
  ApplyUnderTheApplication({.config = {{"repl-diskless-sync-delay", "0"}}}, "");
}

// The same migration from a source that refuses PSYNC, SYNC and CONFIG (renamed, as a
// managed service does) with notify-keyspace-events set in its configuration: source.mode
// scan copies it with SCAN + DUMP and follows its keyspace notifications; inside the pause
// a fence on the notification channel makes sure every acknowledged write is copied
// (docs/scan.md). The application's check must pass as in replica mode.
TEST(AppApplyTest, ScanModeApplyUnderTheApplicationKeepsEverythingItWasTold) {
  ApplyUnderTheApplication({.config = {{"rename-command", "PSYNC kf-test-hidden-psync"},
                                       {"rename-command", "SYNC kf-test-hidden-sync"},
                                       {"rename-command", "CONFIG kf-test-hidden-config"},
                                       {"notify-keyspace-events", "KEA"}}},
                           "  mode: scan\n");
}

}  // namespace
}  // namespace kf::test
