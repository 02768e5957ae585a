// Operator mistakes (issue #9 §4) against real servers: each test reproduces one mistake
// that cost data or time before, and checks that keyferry now refuses it before anything
// is written, or survives it, with a message that says what to do.
//
//  1. the same server as source and target (spelled 127.0.0.1 and localhost, or reached
//     through a proxy);
//  2. abort / rollback after apply was SIGKILLed;
//  3. a local valkey_server that is Redis, a version the spec does not ask for, an
//     external target that is Redis;
//  4. a cutover hook relative to the spec, with apply run from another directory;
//  5. an external target holding keys (doctor), maxmemory too small (PREFLIGHT);
//  6. sync --checkpoint in a directory that does not exist;
//  7. apply without a terminal and without --auto-approve; the confirmation question
//     (status while it waits, "no", and an abort while it waits);
//  8. messages: a wrong password, ACL advice, unknown versions, plan after DONE, plan with
//     an unreachable source, /db in a sync URI, apply with its output closed, and
//     events --follow before the journal exists.
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

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

std::unique_ptr<ServerProcess> StartSource(
    std::vector<std::pair<std::string, std::string>> more = {}) {
  ServerOptions options;
  options.config = {{"repl-diskless-sync-delay", "0"}};
  for (auto& c : more) options.config.push_back(std::move(c));
  return ServerProcess::Start(ServerKind::kRedis, options);
}

// A spec file in a temp dir of its own (removed at the end, with any valkey-server the
// migration left running, stopped by its journaled pid).
class Spec {
 public:
  // `target` is the whole target section; `rest` anything after it.
  Spec(int source_port, const std::string& target, const std::string& rest = "",
       const std::string& source_extra = "") {
    dir_ = MakeTempDir("kf-mistake-");
    path_ = dir_ + "/cache.yaml";
    std::ofstream(path_) << "name: mistake\nsource:\n  uri: redis://127.0.0.1:" << source_port
                         << "\n"
                         << source_extra << "target:\n"
                         << target << rest;
  }
  static std::string Local(const std::string& extra = "") { return "  provider: local\n" + extra; }
  ~Spec() {
    auto pid = Get("target.pid");
    if (!pid.empty()) ::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL);
    RemoveTree(dir_);
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }
  std::string state_dir() const { return dir_ + "/keyferry-state/mistake"; }
  std::string Get(const std::string& key) const {
    auto journal = control::Journal::Open(state_dir(), control::Journal::Mode::kReadOnly);
    if (!journal) return "";
    auto v = (*journal)->Get(key);
    return v && *v ? **v : "";
  }
  std::string Phase() const { return Get("phase"); }
  std::string Events() const {
    Subprocess events({KeyferryBinary(), "events", "-f", path_});
    events.Wait(seconds(20));
    return events.Stdout();
  }

 private:
  std::string dir_;
  std::string path_;
};

// keyferry with stdin from /dev/null (never a terminal, whoever runs the tests).
std::vector<std::string> NoTty(std::vector<std::string> args) {
  std::string command = "exec";
  for (const auto& a : args) command += " '" + a + "'";
  command += " < /dev/null";
  return {"/bin/sh", "-c", command};
}

bool WaitFor(const std::function<bool()>& condition, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return condition();
}

bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// --- 1. The same server as source and target ----------------------------------------------

TEST(OperatorMistakesTest, SameServerUnderTwoSpellingsIsRefusedBeforeAnyWrite) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  const std::string keys_before = source->Call({"DBSIZE"});
  const std::string a = "redis://127.0.0.1:" + std::to_string(source->port());
  const std::string b = "redis://localhost:" + std::to_string(source->port());

  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", a, "--target", b, "--flush-target", "--once"});
  EXPECT_EQ(sync.Wait(seconds(60)), 2) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("are the same server"), std::string::npos) << sync.Stderr();
  EXPECT_EQ(source->Call({"DBSIZE"}), keys_before) << "the source lost keys";

  Subprocess verify({KeyferryBinary(), "verify", "--source", a, "--target", b});
  EXPECT_EQ(verify.Wait(seconds(60)), 2) << verify.Stdout() << verify.Stderr();
  EXPECT_NE(verify.Stderr().find("are the same server"), std::string::npos) << verify.Stderr();

  // An external target that reaches the source through another address (a proxy, a load
  // balancer, a DNS alias: the spec's own endpoint check cannot see it): doctor FAILs it,
  // plan exits 2, apply refuses in PREFLIGHT (before PROVISION), and the source keeps
  // every key.
  TcpProxy alias(source->port());
  Spec spec(source->port(),
            "  provider: external\n  external:\n    uri: redis://127.0.0.1:" +
                std::to_string(alias.port()) + "\n",
            "after_cutover:\n  source: keep\n");
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("[FAIL] target.identity"), std::string::npos) << doctor.Stdout();
  Subprocess plan({KeyferryBinary(), "plan", "-f", spec.path()});
  EXPECT_EQ(plan.Wait(seconds(60)), 2) << plan.Stdout() << plan.Stderr();
  EXPECT_NE(plan.Stderr().find("are the same server"), std::string::npos) << plan.Stderr();
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  EXPECT_EQ(apply.Wait(seconds(60)), 1) << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("target.identity"), std::string::npos) << apply.Stderr();
  EXPECT_EQ(spec.Events().find("PROVISION"), std::string::npos) << spec.Events();
  EXPECT_EQ(source->Call({"DBSIZE"}), keys_before);
}

// --- 2. abort after a crash ---------------------------------------------------------------

TEST(OperatorMistakesTest, AbortRollsBackAnApplyThatWasKilled) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n");
  {
    Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:60000", KeyferryBinary(), "apply",
                      "-f", spec.path(), "--auto-approve"});
    ASSERT_TRUE(WaitFor([&] { return spec.Phase() == "CATCH_UP"; }, seconds(60))) << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
  }
  std::string pid = spec.Get("target.pid");
  ASSERT_FALSE(pid.empty());
  ASSERT_FALSE(ProcessGone(static_cast<pid_t>(std::stol(pid))));
  ASSERT_TRUE(std::filesystem::exists(spec.state_dir() + "/sync-checkpoint.json") ||
              !spec.Get("target.written").empty());

  Subprocess abort({KeyferryBinary(), "abort", "-f", spec.path()});
  EXPECT_EQ(abort.Wait(seconds(60)), 0) << abort.Stderr();
  EXPECT_EQ(spec.Phase(), "ABORTED") << abort.Stderr();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(static_cast<pid_t>(std::stol(pid))); }, seconds(10)))
      << "the provisioned valkey-server (pid " << pid << ") still runs";
  EXPECT_FALSE(std::filesystem::exists(spec.state_dir() + "/sync-checkpoint.json"));
  EXPECT_FALSE(std::filesystem::exists(spec.state_dir() + "/target"));
  EXPECT_EQ(source->Call({"SET", "after-abort", "1"}), "OK");
  // Nothing left to roll back: a second abort says so and succeeds.
  Subprocess again({KeyferryBinary(), "rollback", "-f", spec.path()});
  EXPECT_EQ(again.Wait(seconds(30)), 0) << again.Stderr();
}

// --- 3. Wrong engine or version -----------------------------------------------------------

TEST(OperatorMistakesTest, TargetThatIsNotTheValkeyTheSpecAsksForIsRefused) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  struct Case {
    std::string target;
    std::string expected;
  };
  auto redis_target = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(redis_target);
  std::vector<Case> cases = {
      {"  version: \"8.0\"\n  provider: local\n  local:\n    valkey_server: "
       "/usr/bin/redis-server\n",
       "is Redis 7.0"},
      {"  version: \"9.0\"\n  provider: local\n", "target.version asks for 9.0"},
      {"  provider: external\n  external:\n    uri: redis://127.0.0.1:" +
           std::to_string(redis_target->port()) + "\n",
       "is Redis 7.0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    Spec spec(source->port(), c.target, "after_cutover:\n  source: keep\n");
    Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
    EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find("[FAIL] target.engine"), std::string::npos) << doctor.Stdout();
    EXPECT_NE(doctor.Stdout().find(c.expected), std::string::npos) << doctor.Stdout();
    Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
    EXPECT_EQ(apply.Wait(seconds(120)), 1) << apply.Stderr();
    EXPECT_NE(apply.Stderr().find(c.expected), std::string::npos) << apply.Stderr();
    EXPECT_NE(spec.Phase(), "DONE");
    std::string events = spec.Events();
    EXPECT_EQ(events.find("PROVISION"), std::string::npos) << "refused after PREFLIGHT:\n"
                                                           << events;
  }
  EXPECT_EQ(redis_target->Call({"DBSIZE"}), "0");
}

// --- 4. The cutover hook's working directory ----------------------------------------------

TEST(OperatorMistakesTest, HookRelativeToTheSpecRunsFromAnotherDirectory) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  Spec spec(source->port(), Spec::Local(),
            "cutover:\n  hook: ./switch.sh {uri}\nafter_cutover:\n  source: keep\n");
  const std::string script = spec.dir() + "/switch.sh";
  std::ofstream(script) << "#!/bin/sh\necho \"$1\" > switched.txt\n";

  // Not executable yet: plan and doctor say so, before any copy.
  Subprocess plan({KeyferryBinary(), "plan", "-f", spec.path()});
  EXPECT_EQ(plan.Wait(seconds(60)), 1) << plan.Stdout();
  EXPECT_NE(plan.Stdout().find("is not executable"), std::string::npos) << plan.Stdout();
  ::chmod(script.c_str(), 0755);
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 0) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("[ok] cutover.hook: the hook runs " + script), std::string::npos)
      << doctor.Stdout();

  // The test runs in another directory than the spec's: the hook still finds ./switch.sh.
  ASSERT_NE(std::filesystem::current_path().string() + "/", spec.dir() + "/");
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  std::ifstream out(spec.dir() + "/switched.txt");
  std::string uri;
  std::getline(out, uri);
  EXPECT_EQ(uri, "redis://127.0.0.1:" + spec.Get("target.port"));

  // A hook whose program does not exist: doctor and plan name it, apply refuses in
  // PREFLIGHT instead of failing inside the write pause.
  Spec missing(source->port(), Spec::Local(),
               "cutover:\n  hook: ./missing.sh {uri}\nafter_cutover:\n  source: keep\n");
  Subprocess doctor2({KeyferryBinary(), "doctor", "-f", missing.path()});
  EXPECT_EQ(doctor2.Wait(seconds(60)), 1) << doctor2.Stdout();
  EXPECT_NE(doctor2.Stdout().find("[FAIL] cutover.hook: the hook's program ./missing.sh does "
                                  "not exist"),
            std::string::npos)
      << doctor2.Stdout();
  Subprocess plan2({KeyferryBinary(), "plan", "-f", missing.path()});
  EXPECT_EQ(plan2.Wait(seconds(60)), 1) << plan2.Stdout();
  EXPECT_NE(plan2.Stdout().find("./missing.sh does not exist"), std::string::npos)
      << plan2.Stdout();
  Subprocess apply2({KeyferryBinary(), "apply", "-f", missing.path(), "--auto-approve"});
  EXPECT_EQ(apply2.Wait(seconds(60)), 1) << apply2.Stderr();
  EXPECT_EQ(missing.Events().find("PROVISION"), std::string::npos) << missing.Events();
}

// --- 5. External target with keys (doctor); maxmemory (PREFLIGHT) -------------------------

TEST(OperatorMistakesTest, DoctorFailsANonEmptyExternalTarget) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  target->Call({"SET", "someone-elses", "data"});
  Spec spec(source->port(),
            "  provider: external\n  external:\n    uri: redis://127.0.0.1:" +
                std::to_string(target->port()) + "\n",
            "after_cutover:\n  source: keep\n");
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("[FAIL] target.empty: the external target holds 1 keys"),
            std::string::npos)
      << doctor.Stdout();
  EXPECT_EQ(doctor.Stdout().find("nothing blocks the migration"), std::string::npos);
  EXPECT_EQ(target->Call({"GET", "someone-elses"}), "data");
}

TEST(OperatorMistakesTest, PreflightRefusesAMaxmemoryThatCannotHoldTheSource) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  // About 4 MB of values: more than 1.2x fits in a 2 MB maxmemory.
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(source->uri())));
  std::string value(4000, 'x');
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(client.Call({"SET", "big:" + std::to_string(i), value}));
  }
  Spec spec(source->port(), Spec::Local("  local:\n    maxmemory: 2mb\n"),
            "after_cutover:\n  source: keep\n");
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  EXPECT_EQ(apply.Wait(seconds(120)), 1) << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("target.memory"), std::string::npos) << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("raise target.local.maxmemory"), std::string::npos)
      << apply.Stderr();
  std::string events = spec.Events();
  EXPECT_EQ(events.find("PROVISION"), std::string::npos) << "refused in PREFLIGHT:\n" << events;
}

// --- 6. sync --checkpoint in a directory that does not exist ------------------------------

TEST(OperatorMistakesTest, SyncChecksTheCheckpointPathBeforeCopying) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                   "--once", "--checkpoint", "/nonexistent/dir/cp.json"});
  EXPECT_EQ(sync.Wait(seconds(60)), 2) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("the directory /nonexistent/dir does not exist"), std::string::npos)
      << sync.Stderr();
  EXPECT_EQ(target->Call({"DBSIZE"}), "0") << "nothing may be copied before the check";
}

// --- 7. Confirmation -----------------------------------------------------------------------

TEST(OperatorMistakesTest, ApplyWithoutTerminalOrAutoApproveRefusesAtTheStart) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n");
  auto started = std::chrono::steady_clock::now();
  Subprocess apply(NoTty({KeyferryBinary(), "apply", "-f", spec.path()}));
  EXPECT_EQ(apply.Wait(seconds(60)), 2) << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("pass --auto-approve"), std::string::npos) << apply.Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  EXPECT_FALSE(control::Journal::Exists(spec.state_dir())) << spec.Events();
}

// Runs keyferry on a pseudo-terminal (its stdin is a terminal, as for an operator).
class OnTerminal {
 public:
  explicit OnTerminal(std::vector<std::string> argv) {
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      _exit(127);
    }
    reader_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mu_);
        output_.append(buf, static_cast<size_t>(n));
      }
    });
  }
  ~OnTerminal() {
    if (exit_code_ < 0 && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
    if (reader_.joinable()) reader_.join();
  }
  void Type(const std::string& text) {
    ssize_t n = ::write(master_, text.data(), text.size());
    (void)n;
  }
  void Signal(int signo) { ::kill(pid_, signo); }
  int Wait(milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (exit_code_ < 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else {
        std::this_thread::sleep_for(milliseconds(20));
      }
    }
    return exit_code_;
  }
  std::string Output() {
    std::lock_guard lock(mu_);
    return output_;
  }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  int exit_code_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::string output_;
};

// A few hundred SETs a second on 100 keys (an application that keeps writing), until stopped.
class TickWriter {
 public:
  explicit TickWriter(const std::string& uri) : uri_(UriOf(uri)) {
    thread_ = std::thread([this] {
      net::Client client;
      if (!client.Connect(uri_)) return;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
      for (uint64_t i = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
        if (!client.Call({"SET", "tick:" + std::to_string(i % 100), std::to_string(i)})) return;
        std::this_thread::sleep_for(milliseconds(5));
      }
    });
  }
  ~TickWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  net::Uri uri_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(OperatorMistakesTest, StatusWhileAwaitingConfirmationThenDeclineAndAbort) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  TickWriter writer(source->uri());
  for (const char* answer : {"n\n", "SIGTERM"}) {
    SCOPED_TRACE(answer);
    Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n");
    OnTerminal apply({KeyferryBinary(), "apply", "-f", spec.path()});
    ASSERT_TRUE(
        WaitFor([&] { return spec.Get("phase_status") == "awaiting-confirmation"; }, seconds(60)))
        << apply.Output();
    Subprocess status({KeyferryBinary(), "status", "-f", spec.path()});
    ASSERT_EQ(status.Wait(seconds(20)), 0);
    EXPECT_NE(status.Stdout().find("CATCH_UP  awaiting confirmation"), std::string::npos)
        << status.Stdout();
    // The live sync goes on while the operator thinks, and status shows it.
    auto progress = [&] {
      auto j = nlohmann::json::parse(spec.Get("progress"), nullptr, false);
      return j.is_object() && j.contains("applied_offset") ? j["applied_offset"].get<int64_t>()
                                                           : int64_t{-1};
    };
    int64_t first = progress();
    EXPECT_TRUE(WaitFor([&] { return progress() > first; }, seconds(10)))
        << "progress froze at applied_offset " << first;
    if (std::string(answer) == "SIGTERM") {
      apply.Signal(SIGTERM);
    } else {
      apply.Type(answer);
    }
    EXPECT_EQ(apply.Wait(seconds(60)), 1) << apply.Output();
    EXPECT_EQ(spec.Phase(), "ABORTED");
    std::string events = spec.Events();
    if (std::string(answer) == "SIGTERM") {
      EXPECT_NE(events.find("aborted by the operator while awaiting the confirmation"),
                std::string::npos)
          << events;
      EXPECT_EQ(events.find("declined"), std::string::npos) << events;
    } else {
      EXPECT_NE(events.find("the operator declined"), std::string::npos) << events;
      EXPECT_EQ(events.find("aborted"), std::string::npos) << events;
    }
    EXPECT_EQ(spec.Get("target.pid"), "") << "rolled back";
  }
  writer.Stop();
}

// --- 8. Messages ----------------------------------------------------------------------------

TEST(OperatorMistakesTest, WrongPasswordNamesTheVariableAndAclAdviceNamesThePermission) {
  auto source = StartSource({{"requirepass", "right"}});
  ASSERT_TRUE(source);
  Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n",
            "  password_env: KF_TEST_SOURCE_PW\n");
  Subprocess doctor(
      {"env", "KF_TEST_SOURCE_PW=wrong", KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("the password in the environment variable KF_TEST_SOURCE_PW"),
            std::string::npos)
      << doctor.Stdout();
  EXPECT_EQ(doctor.Stdout().find("in the URI"), std::string::npos) << doctor.Stdout();
  Subprocess apply({"env", "KF_TEST_SOURCE_PW=wrong", KeyferryBinary(), "apply", "-f", spec.path(),
                    "--auto-approve"});
  EXPECT_EQ(apply.Wait(seconds(60)), 1) << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("KF_TEST_SOURCE_PW"), std::string::npos) << apply.Stderr();

  // A user that may not pause writes: the advice names +client|pause exactly.
  source->Call({"ACL", "SETUSER", "nopause", "on", ">pw", "~*", "&*", "+@all", "-client"});
  Spec limited(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n",
               "  user: nopause\n  password_env: KF_TEST_SOURCE_PW\n");
  Subprocess apply2({"env", "KF_TEST_SOURCE_PW=pw", KeyferryBinary(), "apply", "-f", limited.path(),
                     "--auto-approve"});
  EXPECT_EQ(apply2.Wait(seconds(60)), 1) << apply2.Stderr();
  EXPECT_NE(apply2.Stderr().find("ACL SETUSER nopause +client|pause"), std::string::npos)
      << apply2.Stderr();
}

TEST(OperatorMistakesTest, UnknownVersionsAndUnreachableSourceInDoctorAndPlan) {
  int closed_port = FreeLoopbackPort();
  Spec spec(closed_port, Spec::Local(), "after_cutover:\n  source: keep\n");
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  EXPECT_EQ(doctor.Wait(seconds(60)), 1) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("[ok] compatibility: source Redis unknown → Valkey 8.0"),
            std::string::npos)
      << doctor.Stdout();
  EXPECT_EQ(doctor.Stdout().find(" ?"), std::string::npos) << doctor.Stdout();
  Subprocess plan({KeyferryBinary(), "plan", "-f", spec.path()});
  EXPECT_EQ(plan.Wait(seconds(60)), 2) << plan.Stdout();
  EXPECT_NE(plan.Stderr().find("cannot read the source"), std::string::npos) << plan.Stderr();
}

TEST(OperatorMistakesTest, PlanAfterDoneSaysTheMigrationIsDone) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: shutdown\n");
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  Subprocess plan({KeyferryBinary(), "plan", "-f", spec.path()});
  EXPECT_EQ(plan.Wait(seconds(60)), 0) << plan.Stdout() << plan.Stderr();
  EXPECT_NE(plan.Stdout().find("The migration \"mistake\" is done: it cut over to 127.0.0.1:" +
                               spec.Get("target.port")),
            std::string::npos)
      << plan.Stdout();
  EXPECT_EQ(plan.Stdout().find("+ provision"), std::string::npos) << plan.Stdout();
}

TEST(OperatorMistakesTest, SyncRefusesADatabaseInAUri) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  source->Call({"SET", "k", "v"});
  for (const auto& [from, to] : {std::pair{source->uri() + "/1", target->uri()},
                                 std::pair{source->uri(), target->uri() + "/2"},
                                 std::pair{source->uri() + "/0", target->uri()}}) {
    Subprocess sync({KeyferryBinary(), "sync", "--source", from, "--target", to, "--once"});
    EXPECT_EQ(sync.Wait(seconds(60)), 2) << sync.Stderr();
    EXPECT_NE(sync.Stderr().find("use --db-map SRC:DST"), std::string::npos) << sync.Stderr();
  }
  EXPECT_EQ(target->Call({"DBSIZE"}), "0");
}

TEST(OperatorMistakesTest, ApplySurvivesItsOutputBeingClosed) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n");
  // head exits after the first bytes; every later write of apply hits a closed pipe.
  Subprocess pipeline({"/bin/sh", "-c",
                       "'" + KeyferryBinary() + "' apply -f '" + spec.path() +
                           "' --auto-approve 2>&1 | head -c 10; wait"});
  EXPECT_EQ(pipeline.Wait(seconds(120)), 0) << pipeline.Stderr();
  EXPECT_TRUE(WaitFor([&] { return spec.Phase() == "DONE"; }, seconds(60)))
      << "apply died with its output: phase " << spec.Phase() << "\n"
      << spec.Events();
}

TEST(OperatorMistakesTest, EventsFollowWaitsForTheJournal) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  Spec spec(source->port(), Spec::Local(), "after_cutover:\n  source: keep\n");
  Subprocess follow({KeyferryBinary(), "events", "-f", spec.path(), "--follow"});
  std::this_thread::sleep_for(milliseconds(1000));
  ASSERT_TRUE(follow.running()) << "events --follow gave up: " << follow.Stderr();
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  EXPECT_EQ(follow.Wait(seconds(30)), 0) << follow.Stderr();
  EXPECT_NE(follow.Stdout().find("migration complete"), std::string::npos) << follow.Stdout();
  EXPECT_NE(follow.Stdout().find("PREFLIGHT"), std::string::npos) << follow.Stdout();
}

}  // namespace
}  // namespace kf::test
