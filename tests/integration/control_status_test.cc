// keyferry status / events run as a separate process against a journal this test writes (as
// the apply will): the "no migration" message, text and JSON output, the apply-running line
// while this process holds the apply lock, --watch and --follow ending at a terminal phase or
// on a signal, and a bad spec.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "control/journal.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"

namespace kf::test {
namespace {

using control::Event;
using control::EventKind;
using control::Journal;
using control::Phase;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

class ControlStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("kf-status-");
    spec_path_ = dir_ + "/cache.yaml";
    std::ofstream(spec_path_) << "name: sessions-cache\n"
                                 "state_dir: ./state\n"
                                 "source: {uri: redis://127.0.0.1:6379}\n"
                                 "target: {provider: local}\n";
    state_dir_ = dir_ + "/state";
  }
  void TearDown() override {
    journal_.reset();
    RemoveTree(dir_);
  }

  Journal& journal() {
    if (!journal_) {
      auto j = Journal::Open(state_dir_, Journal::Mode::kCreate);
      EXPECT_TRUE(j) << j.error().message;
      journal_ = std::move(*j);
    }
    return *journal_;
  }

  void SetPhase(Phase phase, std::string_view status, int64_t started_ms) {
    ASSERT_TRUE(journal().Set(control::kKeyPhase, control::PhaseName(phase)));
    ASSERT_TRUE(journal().Set(control::kKeyPhaseStatus, status));
    ASSERT_TRUE(journal().Set(control::kKeyPhaseStartedMs, std::to_string(started_ms)));
  }

  int64_t AddEvent(Phase phase, EventKind kind, std::string message, std::string data = "{}") {
    Event e;
    e.phase = phase;
    e.kind = kind;
    e.message = std::move(message);
    e.data_json = std::move(data);
    auto id = journal().AppendEvent(e);
    EXPECT_TRUE(id) << id.error().message;
    return id ? *id : -1;
  }

  // Runs keyferry to completion (bounded) and returns its exit code.
  int Run(std::vector<std::string> args, std::string* out, std::string* err = nullptr) {
    args.insert(args.begin(), KeyferryBinary());
    Subprocess p(args);
    int rc = p.Wait(30s);
    *out = p.Stdout();
    if (err) *err = p.Stderr();
    return rc;
  }

  std::string dir_, spec_path_, state_dir_;
  std::unique_ptr<Journal> journal_;
};

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

TEST_F(ControlStatusTest, NoJournalSaysNoMigrationHasRun) {
  std::string out, err;
  EXPECT_EQ(Run({"status", "-f", spec_path_}, &out, &err), 1);
  EXPECT_EQ(err, "no migration has run for sessions-cache (state dir " + state_dir_ +
                     "); run keyferry apply -f " + spec_path_ + "\n");
  EXPECT_EQ(Run({"events", "--state-dir", state_dir_}, &out, &err), 1);
  EXPECT_EQ(err, "no migration has run for state (state dir " + state_dir_ +
                     "); run keyferry apply -f SPEC\n");
  // Looking did not create anything.
  EXPECT_FALSE(Journal::Exists(state_dir_));
}

TEST_F(ControlStatusTest, StatusShowsPhaseProgressAndLastEvent) {
  int64_t started = UnixMillis() - 83000;
  SetPhase(Phase::kCatchUp, "running", started);
  ASSERT_TRUE(journal().Set(control::kKeySpecName, "sessions-cache"));
  ASSERT_TRUE(
      journal().Set(control::kKeyProgress, R"({"keys":1000,"bytes":2048,"lag":17,"pause_ms":0})"));
  AddEvent(Phase::kFullSync, EventKind::kFinish, "snapshot applied", R"({"keys":1000})");
  AddEvent(Phase::kCatchUp, EventKind::kStart, "applying the replication stream");

  std::string out, err;
  ASSERT_EQ(Run({"status", "-f", spec_path_}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("sessions-cache  (state dir " + state_dir_ + ")"));
  EXPECT_THAT(out, HasSubstr("phase       CATCH_UP  running  since "));
  EXPECT_THAT(out, HasSubstr(" ago)"));
  EXPECT_THAT(out, HasSubstr("progress    keys 1000  bytes 2048  lag 17  pause_ms 0"));
  EXPECT_THAT(out, HasSubstr("CATCH_UP      start     applying the replication stream"));
  // Nobody holds the apply lock: the operator is told how to go on.
  EXPECT_THAT(out, HasSubstr("apply       not running: the migration stopped in CATCH_UP; run "
                             "keyferry apply again"));

  ASSERT_EQ(Run({"status", "--state-dir", state_dir_, "--json"}, &out, &err), 0) << err;
  auto lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 1u);
  const auto& j = lines[0];
  EXPECT_EQ(j["name"], "sessions-cache");  // from the journal, not the directory name
  EXPECT_EQ(j["state_dir"], state_dir_);
  EXPECT_EQ(j["phase"], "CATCH_UP");
  EXPECT_EQ(j["phase_status"], "running");
  EXPECT_EQ(j["phase_started_ms"], started);
  EXPECT_EQ(j["apply_running"], false);
  EXPECT_EQ(j["terminal"], false);
  EXPECT_EQ(j["progress"]["lag"], 17);
  EXPECT_EQ(j["progress"]["keys"], 1000);
  EXPECT_EQ(j["last_event"]["message"], "applying the replication stream");
  EXPECT_EQ(j["last_event"]["phase"], "CATCH_UP");
  EXPECT_EQ(j["last_event"]["kind"], "start");
}

TEST_F(ControlStatusTest, StatusNamesTheRunningApply) {
  SetPhase(Phase::kFullSync, "running", UnixMillis());
  ASSERT_TRUE(journal().AcquireApplyLock());  // as a running apply would
  std::string out, err;
  ASSERT_EQ(Run({"status", "-f", spec_path_}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("apply       running (pid " + std::to_string(::getpid()) + ")"));
  EXPECT_THAT(out, HasSubstr("last event  none"));
  ASSERT_EQ(Run({"status", "-f", spec_path_, "--json"}, &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["apply_running"], true);
  EXPECT_EQ(j["apply_pid"], ::getpid());
  // status only peeked: the lock is still ours, and a second apply is still refused.
  EXPECT_TRUE(journal().holds_apply_lock());
  EXPECT_EQ(Journal::ApplyLockHolder(state_dir_), ::getpid());
}

TEST_F(ControlStatusTest, EventsAsTableAndJsonLines) {
  AddEvent(Phase::kPreflight, EventKind::kStart, "checking source and target");
  int64_t second =
      AddEvent(Phase::kPreflight, EventKind::kFinish, "all checks passed", R"({"keys":12})");
  AddEvent(Phase::kProvision, EventKind::kWarn, "port 6390 busy, using 6391");
  std::string out, err;
  ASSERT_EQ(Run({"events", "-f", spec_path_}, &out, &err), 0) << err;
  std::vector<std::string> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u) << out;
  EXPECT_THAT(rows[0], HasSubstr("TIME"));
  EXPECT_THAT(rows[0], HasSubstr("PHASE"));
  EXPECT_THAT(rows[1], HasSubstr("PREFLIGHT     start     checking source and target"));
  EXPECT_THAT(rows[2], HasSubstr("PREFLIGHT     finish    all checks passed  {\"keys\":12}"));
  EXPECT_THAT(rows[3], HasSubstr("PROVISION     warn      port 6390 busy, using 6391"));

  ASSERT_EQ(Run({"events", "-f", spec_path_, "--json"}, &out, &err), 0) << err;
  auto lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1]["phase"], "PREFLIGHT");
  EXPECT_EQ(lines[1]["kind"], "finish");
  EXPECT_EQ(lines[1]["data"]["keys"], 12);
  EXPECT_EQ(lines[1]["id"], second);
  EXPECT_TRUE(lines[1]["time"].get<std::string>().ends_with("Z"));
  EXPECT_LT(lines[0]["id"], lines[1]["id"]);

  ASSERT_EQ(
      Run({"events", "-f", spec_path_, "--json", "--after", std::to_string(second)}, &out, &err),
      0);
  lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["kind"], "warn");
}

TEST_F(ControlStatusTest, WatchEndsAtATerminalPhase) {
  SetPhase(Phase::kVerify, "running", UnixMillis());
  Subprocess watch({KeyferryBinary(), "status", "-f", spec_path_, "--watch", "--json"});
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(watch.running());
  SetPhase(Phase::kDone, "done", UnixMillis());
  EXPECT_EQ(watch.Wait(10s), 0) << watch.Stderr();
  auto lines = JsonLines(watch.Stdout());
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front()["phase"], "VERIFY");
  EXPECT_EQ(lines.back()["phase"], "DONE");
  EXPECT_EQ(lines.back()["terminal"], true);

  // A migration that ended badly: --watch exits 1.
  SetPhase(Phase::kRolledBack, "done", UnixMillis());
  std::string out;
  EXPECT_EQ(Run({"status", "-f", spec_path_, "--watch"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("phase       ROLLED_BACK"));
}

TEST_F(ControlStatusTest, WatchAndFollowStopOnSignals) {
  SetPhase(Phase::kFullSync, "running", UnixMillis());
  AddEvent(Phase::kFullSync, EventKind::kStart, "full sync");
  Subprocess watch({KeyferryBinary(), "status", "-f", spec_path_, "--watch"});
  Subprocess follow({KeyferryBinary(), "events", "-f", spec_path_, "--follow"});
  std::this_thread::sleep_for(1200ms);
  EXPECT_TRUE(watch.running());
  EXPECT_TRUE(follow.running());
  watch.Signal(SIGINT);
  follow.Signal(SIGTERM);
  EXPECT_EQ(watch.Wait(5s), 0);
  EXPECT_EQ(follow.Wait(5s), 0);
  EXPECT_THAT(watch.Stdout(), HasSubstr("FULL_SYNC"));
  EXPECT_THAT(follow.Stdout(), HasSubstr("full sync"));
}

TEST_F(ControlStatusTest, FollowPrintsNewEventsUntilTheEnd) {
  SetPhase(Phase::kCutover, "running", UnixMillis());
  AddEvent(Phase::kCutover, EventKind::kStart, "running the cutover hook");
  Subprocess follow({KeyferryBinary(), "events", "-f", spec_path_, "--follow", "--json"});
  std::this_thread::sleep_for(800ms);
  AddEvent(Phase::kCutover, EventKind::kFinish, "hook exited 0", R"({"pause_ms":41})");
  std::this_thread::sleep_for(800ms);
  EXPECT_TRUE(follow.running());
  ASSERT_TRUE(journal().Transaction([&]() -> Result<void> {
    AddEvent(Phase::kDone, EventKind::kFinish, "migration done");
    return journal().Set(control::kKeyPhase, "DONE");
  }));
  EXPECT_EQ(follow.Wait(10s), 0) << follow.Stderr();
  auto lines = JsonLines(follow.Stdout());
  ASSERT_EQ(lines.size(), 3u) << follow.Stdout();
  EXPECT_EQ(lines[0]["message"], "running the cutover hook");
  EXPECT_EQ(lines[1]["data"]["pause_ms"], 41);
  EXPECT_EQ(lines[2]["message"], "migration done");
}

TEST_F(ControlStatusTest, BadSpecIsAUsageError) {
  std::ofstream(spec_path_) << "name: sessions-cache\nsource: {uri: redis://h:1}\n"
                               "target:\n  provder: local\n";
  std::string out, err;
  EXPECT_EQ(Run({"status", "-f", spec_path_}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr(spec_path_ + ":4:3: unknown key \"provder\" under target; did you "
                                          "mean \"provider\"?"));
  EXPECT_THAT(err, Not(HasSubstr("no migration")));
  EXPECT_EQ(Run({"status"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("give the spec (-f SPEC) or the state dir (--state-dir DIR)"));
}

}  // namespace
}  // namespace kf::test
