// keyferry apply end to end against real servers: the whole story with a recording
// writer, SIGKILL in every phase and resume, SIGKILL while the cutover hook runs (the point
// of no return), rollback on a failure before CUTOVER, the lock, rollback refused after
// CUTOVER, and doctor's findings.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "control/journal.h"
#include "control/phase.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"
#include "net/uri.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A spec in its own temp dir; removes what the migration provisioned at the end.
class SpecDir {
 public:
  // `hook_prefix` runs before the hook's "echo {uri} > <file>" (e.g. "sleep 3; ").
  SpecDir(const ServerProcess& source, const std::string& after_cutover,
          const std::string& extra = "", const std::string& hook_prefix = "") {
    dir_ = MakeTempDir("kf-apply-");
    path_ = dir_ + "/cache.yaml";
    hook_out_ = dir_ + "/cutover.txt";
    std::ofstream(path_) << "name: demo-cache\n"
                            "source:\n"
                            "  uri: redis://127.0.0.1:"
                         << source.port()
                         << "\n"
                            "target:\n"
                            "  engine: valkey\n"
                            "  version: \"8.0\"\n"
                            "  provider: local\n"
                            "migration:\n"
                            "  max_pause_ms: 5000\n"
                         << extra
                         << "cutover:\n"
                            "  hook: \""
                         << hook_prefix << "echo {uri} > " << hook_out_
                         << "\"\n"
                            "after_cutover:\n"
                            "  source: "
                         << after_cutover << "\n";
  }
  ~SpecDir() {
    // Stop a valkey-server the migration left running (the test's cleanup, by pid).
    auto journal = control::Journal::Open(state_dir(), false);
    if (journal) {
      auto pid = (*journal)->Get("target.pid");
      if (pid && *pid) ::kill(static_cast<pid_t>(std::stol(**pid)), SIGKILL);
    }
    RemoveTree(dir_);
  }
  const std::string& path() const { return path_; }
  std::string state_dir() const { return dir_ + "/keyferry-state/demo-cache"; }
  void RemoveHookOutput() const { std::remove(hook_out_.c_str()); }
  std::string HookOutput() const {
    std::ifstream in(hook_out_);
    std::string line;
    std::getline(in, line);
    return line;
  }
  std::string Phase() const {
    auto journal = control::Journal::Open(state_dir(), false);
    if (!journal) return "";
    auto phase = (*journal)->Get("phase");
    return phase && *phase ? **phase : "";
  }
  std::string Get(const std::string& key) const {
    auto journal = control::Journal::Open(state_dir(), false);
    if (!journal) return "";
    auto v = (*journal)->Get(key);
    return v && *v ? **v : "";
  }
  std::string Events() const {
    Subprocess events({KeyferryBinary(), "events", "-f", path_});
    events.Wait(seconds(20));
    return events.Stdout();
  }

 private:
  std::string dir_;
  std::string path_;
  std::string hook_out_;
};

// Writes unique values to many keys and records every write the source acknowledged.
class RecordingWriter {
 public:
  explicit RecordingWriter(net::Uri uri) : uri_(std::move(uri)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~RecordingWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<std::string, std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  uint64_t count() const { return count_.load(); }

 private:
  void Run() {
    net::Client client;
    net::ClientOptions co;
    co.io_timeout = milliseconds(15000);
    if (!client.Connect(uri_, co)) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    for (uint64_t seq = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++seq) {
      std::string key = "rec:" + std::to_string(seq % 1000);
      std::string value = std::to_string(seq);
      auto reply = client.Call({"SET", key, value});
      if (!reply) return;  // the source went away (decommissioned): stop
      if (reply->IsOk()) {
        std::lock_guard lock(mu_);
        acked_[key] = value;
        ++count_;
      }
      if (seq % 5 == 0) std::this_thread::sleep_for(milliseconds(1));  // ~4-5k writes/s
    }
  }
  net::Uri uri_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> count_{0};
  std::mutex mu_;
  std::map<std::string, std::string> acked_;
  std::thread thread_;
};

std::unique_ptr<ServerProcess> StartSource() {
  return ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
}

TEST(ApplyTest, WholeStoryKeepsEveryAcknowledgedWrite) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  SpecDir spec(*source, "shutdown");
  RecordingWriter writer(UriOf(source->uri()));
  std::this_thread::sleep_for(milliseconds(300));
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  writer.Stop();
  EXPECT_EQ(spec.Phase(), "DONE");
  EXPECT_GT(writer.count(), 100u);
  // The source was shut down.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = source->HasExited();
    if (!gone) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the source should be shut down";
  // Every acknowledged write is in Valkey.
  std::string target_uri = spec.HookOutput();
  ASSERT_FALSE(target_uri.empty()) << "the cutover hook did not run";
  net::Client target;
  ASSERT_TRUE(target.Connect(UriOf(target_uri)));
  auto acked = writer.acked();
  size_t missing = 0;
  for (const auto& [key, value] : acked) {
    auto reply = target.Call({"GET", key});
    ASSERT_TRUE(reply);
    if (reply->str() != value) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " keys";
  std::string events = spec.Events();
  EXPECT_NE(events.find("writes were paused for"), std::string::npos) << events;
  EXPECT_NE(events.find("keys written last are equal on both ends"), std::string::npos) << events;
}

class ApplyKillTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ApplyKillTest, ResumesAfterSigkill) {
  const std::string phase = GetParam();
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  SpecDir spec(*source, "keep");
  {
    // Hold the migration in `phase` long enough to kill it there.
    Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=" + phase + ":3000", KeyferryBinary(),
                      "apply", "-f", spec.path(), "--auto-approve"});
    bool reached = false;
    for (int i = 0; i < 600 && !reached; ++i) {
      reached = spec.Phase() == phase;
      if (!reached) std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(reached) << "never reached " << phase << "\n" << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
  }
  Subprocess again({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(again.Wait(seconds(120)), 0) << again.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  std::string target_uri = spec.HookOutput();
  ASSERT_FALSE(target_uri.empty());
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target_uri));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

INSTANTIATE_TEST_SUITE_P(EveryPhase, ApplyKillTest,
                         ::testing::Values("PREFLIGHT", "PROVISION", "FULL_SYNC", "CATCH_UP",
                                           "PAUSE_WRITES", "DRAIN", "VERIFY", "CUTOVER",
                                           "DECOMMISSION"));

// Issue #10 item 3: CUTOVER is the point of no return from the moment the hook starts. apply
// is SIGKILLed while the hook sleeps; the orphaned hook finishes (the application moves to
// Valkey) and the application writes there. abort must refuse; apply run again must not
// roll back, re-verify or unpause the source: it runs the hook again and reaches DONE with
// the provisioned Valkey and the application's write kept, and the source shut down.
TEST(ApplyTest, KilledDuringTheCutoverHookGoesForwardNeverBack) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  const std::string hook_marker = MakeTempDir("kf-hook-") + "/started";
  SpecDir spec(*source, "shutdown", "", "touch " + hook_marker + "; sleep 3; ");
  {
    Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
    bool hook_started = false;
    for (int i = 0; i < 3000 && !hook_started; ++i) {
      hook_started = std::ifstream(hook_marker).good();
      if (!hook_started) std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(hook_started) << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
    EXPECT_EQ(spec.Phase(), "CUTOVER");
    EXPECT_NE(spec.Get("cutover.started"), "") << "the point of no return was not journaled";
  }
  RemoveTree(hook_marker.substr(0, hook_marker.rfind('/')));
  // The orphaned hook finishes by itself: the application now points at Valkey...
  std::string target_uri;
  for (int i = 0; i < 500 && target_uri.empty(); ++i) {
    target_uri = spec.HookOutput();
    if (target_uri.empty()) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_FALSE(target_uri.empty()) << "the orphaned hook did not finish";
  // ...and writes there.
  net::Client app;
  ASSERT_TRUE(app.Connect(UriOf(target_uri)));
  auto written = app.Call({"SET", "written-after-cutover", "by-the-application"});
  ASSERT_TRUE(written && written->IsOk());
  std::string target_pid = spec.Get("target.pid");
  ASSERT_FALSE(target_pid.empty());

  // abort and rollback refuse, and change nothing.
  for (const char* verb : {"abort", "rollback"}) {
    Subprocess refused({KeyferryBinary(), verb, "-f", spec.path()});
    EXPECT_EQ(refused.Wait(seconds(30)), 1) << verb << ": " << refused.Stderr();
    EXPECT_NE(refused.Stderr().find("the cutover hook has started"), std::string::npos)
        << refused.Stderr();
  }
  EXPECT_EQ(::kill(static_cast<pid_t>(std::stol(target_pid)), 0), 0) << "Valkey was removed";

  // apply again: forward to DONE.
  spec.RemoveHookOutput();
  Subprocess again({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(again.Wait(seconds(120)), 0) << again.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  EXPECT_EQ(spec.Get("target.pid"), target_pid) << "the provisioned Valkey was replaced";
  EXPECT_EQ(spec.HookOutput(), target_uri) << "the hook did not run again";
  auto kept = app.Call({"GET", "written-after-cutover"});
  ASSERT_TRUE(kept) << "the Valkey target went away";
  EXPECT_EQ(kept->str(), "by-the-application");
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = source->HasExited();
    if (!gone) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the source was not decommissioned (shut down)";
  std::string events = spec.Events();
  EXPECT_EQ(events.find("rolling back"), std::string::npos) << events;
  EXPECT_EQ(events.find("source writes resumed"), std::string::npos) << events;
  EXPECT_EQ(events.find("re-establishing the live sync"), std::string::npos) << events;
  EXPECT_NE(events.find("a previous apply started the cutover hook"), std::string::npos) << events;
}

TEST(ApplyTest, TargetKilledDuringFullSyncRollsBack) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  SpecDir spec(*source, "shutdown");
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=FULL_SYNC:2000", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  bool reached = false;
  for (int i = 0; i < 600 && !reached; ++i) {
    reached = spec.Phase() == "FULL_SYNC";
    if (!reached) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(reached) << apply.Stderr();
  std::string pid = spec.Get("target.pid");
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL), 0);
  EXPECT_EQ(apply.Wait(seconds(60)), 1) << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "ROLLED_BACK");
  // Nothing left running, source writable, and an event that says why.
  EXPECT_EQ(spec.Get("target.pid"), "");
  EXPECT_EQ(source->Call({"SET", "after-rollback", "1"}), "OK");
  std::string events = spec.Events();
  EXPECT_NE(events.find("rolling back"), std::string::npos) << events;
}

// A key written last that differs on the target inside the pause (changed behind
// keyferry's back while VERIFY is held) stops the migration before CUTOVER: rolled back,
// the source writable, the difference named. The hold (1.5 s) stays well inside the
// spec's 5 s pause, so the source offset cannot move and only the key check can fail.
TEST(ApplyTest, DifferenceFoundInsideThePauseRollsBack) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SpecDir spec(*source, "shutdown");
  RecordingWriter writer(UriOf(source->uri()));
  std::this_thread::sleep_for(milliseconds(300));
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=VERIFY:1500", KeyferryBinary(), "apply", "-f",
                    spec.path(), "--auto-approve"});
  bool reached = false;
  for (int i = 0; i < 1500 && !reached; ++i) {
    reached = spec.Phase() == "VERIFY";
    if (!reached) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(reached) << apply.Stderr();
  // The writer is held by the pause; its last acknowledged write is the newest key the
  // stream carried, so it is in the checked set.
  std::string newest;
  uint64_t newest_seq = 0;
  for (const auto& [key, value] : writer.acked()) {
    if (std::stoull(value) >= newest_seq) {
      newest_seq = std::stoull(value);
      newest = key;
    }
  }
  ASSERT_FALSE(newest.empty());
  net::Client target;
  ASSERT_TRUE(target.Connect(UriOf("redis://127.0.0.1:" + spec.Get("target.port"))));
  auto tampered = target.Call({"SET", newest, "changed-behind-keyferry"});
  ASSERT_TRUE(tampered && tampered->IsOk());
  EXPECT_EQ(apply.Wait(seconds(60)), 1) << apply.Stderr();
  writer.Stop();
  EXPECT_EQ(spec.Phase(), "ROLLED_BACK");
  EXPECT_NE(apply.Stderr().find("keys written last still differ"), std::string::npos)
      << apply.Stderr();
  EXPECT_NE(apply.Stderr().find(newest), std::string::npos) << apply.Stderr();
  EXPECT_EQ(source->Call({"SET", "after-rollback", "1"}), "OK");
  EXPECT_EQ(spec.HookOutput(), "") << "the cutover hook must not have run";
}

TEST(ApplyTest, SecondApplyIsRefusedAndRollbackAfterCutoverIsRefused) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  SpecDir spec(*source, "keep");
  {
    Subprocess first({"env", "KEYFERRY_TEST_HOLD_PHASE=PREFLIGHT:3000", KeyferryBinary(), "apply",
                      "-f", spec.path(), "--auto-approve"});
    for (int i = 0; i < 300 && spec.Phase() != "PREFLIGHT"; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    Subprocess second({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
    EXPECT_EQ(second.Wait(seconds(20)), 1);
    EXPECT_NE(second.Stderr().find("another keyferry apply"), std::string::npos) << second.Stderr();
    ASSERT_EQ(first.Wait(seconds(120)), 0) << first.Stderr();
  }
  Subprocess rollback({KeyferryBinary(), "rollback", "-f", spec.path()});
  EXPECT_EQ(rollback.Wait(seconds(20)), 1);
  EXPECT_NE(rollback.Stderr().find("refuses to roll back after CUTOVER"), std::string::npos)
      << rollback.Stderr();
}

TEST(DoctorTest, NamesMissingPermissionsBusySourceAndVanishedTarget) {
  auto source = ServerProcess::Start(
      ServerKind::kRedis,
      {.config = {{"repl-diskless-sync-delay", "0"}, {"rdb-key-save-delay", "200000"}}});
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  source->Call({"ACL", "SETUSER", "limited", "on", ">pw", "~*", "+@all", "-psync", "-replconf"});
  // 1. Missing permissions.
  {
    std::string dir = MakeTempDir("kf-doctor-");
    std::ofstream(dir + "/spec.yaml")
        << "name: limited\nsource:\n  uri: redis://127.0.0.1:" << source->port()
        << "\n  user: limited\n  password_env: KF_TEST_PW\n"
           "target:\n  provider: local\n";
    Subprocess doctor(
        {"env", "KF_TEST_PW=pw", KeyferryBinary(), "doctor", "-f", dir + "/spec.yaml"});
    EXPECT_EQ(doctor.Wait(seconds(30)), 1);
    EXPECT_NE(doctor.Stdout().find("+psync"), std::string::npos) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("+replconf"), std::string::npos) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("scan source"), std::string::npos) << doctor.Stdout();
    Subprocess apply({"env", "KF_TEST_PW=pw", KeyferryBinary(), "apply", "-f", dir + "/spec.yaml",
                      "--auto-approve"});
    EXPECT_EQ(apply.Wait(seconds(30)), 1);
    EXPECT_NE(apply.Stderr().find("+psync"), std::string::npos) << apply.Stderr();
    RemoveTree(dir);
  }
  SpecDir spec(*source, "keep");
  // 2. A source busy with BGSAVE (slowed by rdb-key-save-delay).
  {
    EXPECT_EQ(source->Call({"BGSAVE"}), "Background saving started");
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
    EXPECT_EQ(doctor.Wait(seconds(30)), 1);
    EXPECT_NE(doctor.Stdout().find("background save"), std::string::npos) << doctor.Stdout();
    source->Call({"CONFIG", "SET", "rdb-key-save-delay", "0"});
    for (int i = 0; i < 300 && source->InfoField("persistence", "rdb_bgsave_in_progress") != "0";
         ++i) {
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  // 3. A provisioned target killed behind keyferry's back.
  {
    Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:60000", KeyferryBinary(), "apply",
                      "-f", spec.path(), "--auto-approve"});
    for (int i = 0; i < 600 && spec.Phase() != "CATCH_UP"; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_EQ(spec.Phase(), "CATCH_UP") << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
    std::string pid = spec.Get("target.pid");
    ASSERT_FALSE(pid.empty());
    ::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL);
    std::this_thread::sleep_for(milliseconds(200));
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path(), "--json"});
    EXPECT_EQ(doctor.Wait(seconds(30)), 1);
    EXPECT_NE(doctor.Stdout().find("is gone"), std::string::npos)
        << doctor.Stdout() << doctor.Stderr();
  }
}

// Doctor sees a write pause on either end (a PUBLISH probe, as no INFO field shows it),
// and a fixed target port that something else holds; PROVISION refuses that port too.
TEST(DoctorTest, FindsPausedWritesAndATakenPort) {
  auto source = ServerProcess::Start(ServerKind::kRedis);
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  std::string dir = MakeTempDir("kf-doctor-");
  std::ofstream(dir + "/external.yaml")
      << "name: paused\nsource:\n  uri: redis://127.0.0.1:" << source->port()
      << "\ntarget:\n  provider: external\n  external:\n    uri: redis://127.0.0.1:"
      << target->port() << "\nafter_cutover:\n  source: keep\n";
  {
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", dir + "/external.yaml"});
    EXPECT_EQ(doctor.Wait(seconds(30)), 0) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("[ok] source.writes: writes are not paused"), std::string::npos)
        << doctor.Stdout();
    EXPECT_EQ(doctor.Stdout().find("target.writes"), std::string::npos) << doctor.Stdout();
  }
  {
    ASSERT_EQ(source->Call({"CLIENT", "PAUSE", "10000", "WRITE"}), "OK");
    ASSERT_EQ(target->Call({"CLIENT", "PAUSE", "10000", "WRITE"}), "OK");
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", dir + "/external.yaml"});
    EXPECT_EQ(doctor.Wait(seconds(30)), 1) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("[warn] source.writes: writes on the source are paused"),
              std::string::npos)
        << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("[FAIL] target.writes: writes on the target are paused"),
              std::string::npos)
        << doctor.Stdout();
    source->Call({"CLIENT", "UNPAUSE"});
    target->Call({"CLIENT", "UNPAUSE"});
  }
  // A local target on a port the Valkey above already listens on.
  std::ofstream(dir + "/taken.yaml")
      << "name: taken\nsource:\n  uri: redis://127.0.0.1:" << source->port()
      << "\ntarget:\n  provider: local\n  local:\n    port: " << target->port()
      << "\nstate_dir: " << dir << "/state\nafter_cutover:\n  source: keep\n";
  {
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", dir + "/taken.yaml"});
    EXPECT_EQ(doctor.Wait(seconds(30)), 1) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("[FAIL] target.port: port " + std::to_string(target->port()) +
                                   " on 127.0.0.1 is already in use"),
              std::string::npos)
        << doctor.Stdout();
    Subprocess apply({KeyferryBinary(), "apply", "-f", dir + "/taken.yaml", "--auto-approve"});
    EXPECT_NE(apply.Wait(seconds(60)), 0);
    EXPECT_NE(apply.Stderr().find("is already in use by another process"), std::string::npos)
        << apply.Stderr();
    EXPECT_EQ(target->Call({"PING"}), "PONG");  // the server on that port is untouched
  }
  RemoveTree(dir);
}

}  // namespace
}  // namespace kf::test
