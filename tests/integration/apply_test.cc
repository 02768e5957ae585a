// keyferry apply end to end against real servers: the whole story with a recording
// writer, SIGKILL in every phase and resume, SIGKILL while the cutover hook runs (the point
// of no return), rollback on a failure before CUTOVER, the lock, rollback refused after
// CUTOVER, and doctor's findings.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "control/journal.h"
#include "control/phase.h"
#include "harness/dataset.h"
#include "harness/journal_value.h"
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
  std::string Phase() const { return Get("phase"); }
  std::string Get(const std::string& key) const { return JournalValue(state_dir(), key); }
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
  EXPECT_NE(events.find("keys written last or still differing live"), std::string::npos) << events;
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
  // What the migration set on the target for itself is gone, even when the process that set
  // it was killed: no applied-offset marker, and expired events back to the default (off).
  net::Client target;
  ASSERT_TRUE(target.Connect(UriOf(target_uri)));
  auto marker = target.Call({"EXISTS", "keyferry:applied-offset"});
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->integer(), 0);
  auto flags = target.Call({"CONFIG", "GET", "notify-keyspace-events"});
  ASSERT_TRUE(flags && flags->size() == 2);
  EXPECT_EQ((*flags)[1].str(), "");
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
  EXPECT_NE(apply.Stderr().find("keys still differ; not cutting over"), std::string::npos)
      << apply.Stderr();
  EXPECT_NE(apply.Stderr().find(newest), std::string::npos) << apply.Stderr();
  EXPECT_EQ(source->Call({"SET", "after-rollback", "1"}), "OK");
  EXPECT_EQ(spec.HookOutput(), "") << "the cutover hook must not have run";
}

// An application's hottest keys: two balances moved between in MULTI/EXEC, a counter,
// and a stream read by a consumer group (XREADGROUP, XACK) — all written about every
// millisecond, so a live compare never sees them equal. Records what was delivered.
class HotWriter {
 public:
  static constexpr int64_t kTotal = 1000000;
  explicit HotWriter(net::Uri uri) : uri_(std::move(uri)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~HotWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t loops() const { return loops_.load(); }
  // Entries handed to the group by XREADGROUP calls whose reply came back.
  uint64_t delivered() const { return delivered_.load(); }

 private:
  void Run() {
    net::Client c;
    net::ClientOptions co;
    co.io_timeout = milliseconds(15000);
    if (!c.Connect(uri_, co)) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    for (uint64_t i = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
      const std::string amount = std::to_string(1 + i % 7);
      const bool ab = i % 2 == 0;
      auto tx = c.CallPipelined({{"MULTI"},
                                 {"DECRBY", ab ? "hot:acct:a" : "hot:acct:b", amount},
                                 {"INCRBY", ab ? "hot:acct:b" : "hot:acct:a", amount},
                                 {"EXEC"},
                                 {"INCR", "hot:counter"},
                                 {"XADD", "hot:events", "*", "n", std::to_string(i)}});
      if (!tx) return;  // the source went away (decommissioned): stop
      if (i % 4 == 0) {
        auto read = c.Call(
            {"XREADGROUP", "GROUP", "workers", "w1", "COUNT", "3", "STREAMS", "hot:events", ">"});
        if (!read) return;
        if (read->is_aggregate() && read->size() == 1 && (*read)[0].size() == 2) {
          const auto& entries = (*read)[0][1];
          delivered_ += entries.size();
          // Acknowledge all but every third entry: the pending list keeps some.
          for (size_t e = 0; e < entries.size(); ++e) {
            if ((delivered_ + e) % 3 == 0) continue;
            auto ack = c.Call({"XACK", "hot:events", "workers", entries[e][0].str()});
            if (!ack) return;
          }
        }
      }
      ++loops_;
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  net::Uri uri_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> loops_{0};
  std::atomic<uint64_t> delivered_{0};
  std::thread thread_;
};

void SeedHotKeys(ServerProcess& source) {
  ASSERT_EQ(source.Call({"MSET", "hot:acct:a", std::to_string(HotWriter::kTotal / 2), "hot:acct:b",
                         std::to_string(HotWriter::kTotal / 2)}),
            "OK");
  ASSERT_EQ(source.Call({"XGROUP", "CREATE", "hot:events", "workers", "$", "MKSTREAM"}), "OK");
}

// Issue #9 §1-2: keys written every millisecond and a consumer group read by XREADGROUP
// (propagated as XCLAIM ... LASTID, without entries-read) migrate: the live verify's
// leftovers are compared again inside the pause, and entries-read is repaired from the
// source there. Before: apply rolled back in CATCH_UP ("value differs, rounds 1-2").
TEST(ApplyTest, HotKeysAndConsumerGroupsMigrateWhileWritten) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedHotKeys(*source);
  ASSERT_FALSE(HasFatalFailure());
  SpecDir spec(*source, "shutdown", "  verify_rounds: 1\n");
  HotWriter writer(UriOf(source->uri()));
  for (int i = 0; i < 200 && writer.delivered() < 30; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  writer.Stop();
  EXPECT_EQ(spec.Phase(), "DONE");
  EXPECT_GT(writer.loops(), 200u);
  std::string target_uri = spec.HookOutput();
  ASSERT_FALSE(target_uri.empty()) << "the cutover hook did not run";
  net::Client target;
  ASSERT_TRUE(target.Connect(UriOf(target_uri)));
  auto a = target.Call({"GET", "hot:acct:a"});
  auto b = target.Call({"GET", "hot:acct:b"});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(std::stoll(a->str()) + std::stoll(b->str()), HotWriter::kTotal);
  // The source is gone; the writer's own record says what the group read: every entry
  // delivered by an XREADGROUP whose reply came back (a call held by the pause never ran,
  // Redis was shut down with it waiting). Nothing was deleted or trimmed, so lag is
  // XLEN - entries-read.
  auto groups = target.Call({"XINFO", "GROUPS", "hot:events"});
  ASSERT_TRUE(groups && groups->is_aggregate() && groups->size() == 1) << groups->ToString();
  auto field = [&](std::string_view name) -> const resp::Reply* {  // RESP2: a flat array
    const resp::Reply& g = (*groups)[0];
    for (size_t i = 0; i + 1 < g.size(); i += 2) {
      if (g[i].str() == name) return &g[i + 1];
    }
    return nullptr;
  };
  const resp::Reply* entries_read = field("entries-read");
  const resp::Reply* lag = field("lag");
  ASSERT_TRUE(entries_read && lag);
  ASSERT_EQ(entries_read->type(), resp::ReplyType::kInteger) << groups->ToString();
  EXPECT_EQ(static_cast<uint64_t>(entries_read->integer()), writer.delivered());
  auto xlen = target.Call({"XLEN", "hot:events"});
  ASSERT_TRUE(xlen);
  ASSERT_EQ(lag->type(), resp::ReplyType::kInteger) << groups->ToString();
  EXPECT_EQ(lag->integer(), xlen->integer() - entries_read->integer());
  std::string events = spec.Events();
  EXPECT_NE(events.find("consumer groups on"), std::string::npos) << events;
}

// Issue #9 §2: every command that changes a consumer group, done on the source while the
// live sync runs (after the snapshot), arrives exact: the canonical content (PEL with
// delivery times and counts, consumers, last id, entries-read) and XINFO GROUPS (lag
// included) equal on both ends after cutover. Before: apply rolled back in CATCH_UP.
TEST(ApplyTest, EveryConsumerGroupCommandArrivesExact) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  const std::vector<std::string> streams = {"s:read",   "s:noack",    "s:autoclaim", "s:claim",
                                            "s:ack",    "s:setid",    "s:consumers", "s:destroy",
                                            "s:xsetid", "s:trim-del", "s:create"};
  for (const auto& s : streams) {
    for (int i = 1; i <= 8; ++i) {
      ASSERT_EQ(source->Call({"XADD", s, std::to_string(i) + "-1", "f", std::to_string(i)}),
                std::to_string(i) + "-1");
    }
    ASSERT_EQ(source->Call({"XGROUP", "CREATE", s, "g", "0"}), "OK");
    // Something delivered and pending before the copy, so the snapshot carries a PEL.
    source->Call({"XREADGROUP", "GROUP", "g", "c0", "COUNT", "2", "STREAMS", s, ">"});
  }
  SpecDir spec(*source, "keep", "  verify_rounds: 1\n");
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:2000", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  bool reached = false;
  for (int i = 0; i < 1500 && !reached; ++i) {
    reached = spec.Phase() == "CATCH_UP";
    if (!reached) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(reached) << apply.Stderr();
  // After the snapshot: each command on its own stream.
  const std::vector<std::vector<std::string>> ops = {
      {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "STREAMS", "s:read", ">"},
      {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "NOACK", "STREAMS", "s:noack", ">"},
      {"XAUTOCLAIM", "s:autoclaim", "g", "c2", "0", "0", "COUNT", "1"},
      {"XCLAIM", "s:claim", "g", "c3", "0", "2-1"},
      {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "4", "STREAMS", "s:ack", ">"},
      {"XACK", "s:ack", "g", "3-1", "4-1"},
      {"XGROUP", "SETID", "s:setid", "g", "5-1"},
      {"XGROUP", "CREATECONSUMER", "s:consumers", "g", "c9"},
      {"XGROUP", "DELCONSUMER", "s:consumers", "g", "c0"},
      {"XGROUP", "DESTROY", "s:destroy", "g"},
      {"XSETID", "s:xsetid", "100-1", "ENTRIESADDED", "20", "MAXDELETEDID", "50-1"},
      {"XDEL", "s:trim-del", "6-1"},
      {"XTRIM", "s:trim-del", "MAXLEN", "5"},
      {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "STREAMS", "s:trim-del", ">"},
      {"XGROUP", "CREATE", "s:create", "g2", "3-1"},
      {"XREADGROUP", "GROUP", "g2", "c1", "COUNT", "2", "STREAMS", "s:create", ">"},
      {"XADD", "s:read", "9-1", "f", "9"},
      {"XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s:read", ">"},
  };
  for (const auto& op : ops) {
    std::string reply = source->Call(op);
    ASSERT_EQ(reply.rfind("ERR", 0), std::string::npos) << op[0] << " " << op[1] << ": " << reply;
  }
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  std::string target_uri = spec.HookOutput();
  ASSERT_FALSE(target_uri.empty());
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target_uri));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  // Consumer counts, pending counts, last ids, entries-read and lag, group by group.
  net::Client src, dst;
  ASSERT_TRUE(src.Connect(UriOf(source->uri())));
  ASSERT_TRUE(dst.Connect(UriOf(target_uri)));
  for (const auto& s : streams) {
    auto a = src.Call({"XINFO", "GROUPS", s});
    auto b = dst.Call({"XINFO", "GROUPS", s});
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(*a == *b) << s << "\n  source: " << a->ToString(2000)
                          << "\n  target: " << b->ToString(2000);
  }
}

// A hot key corrupted on the target while the application writes it differs in every
// live round (like lag would), is carried into the pause, and is caught there: rolled
// back before CUTOVER, the key named, the hook never run.
TEST(ApplyTest, HotKeyCorruptedOnTargetIsCaughtInsideThePause) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedHotKeys(*source);
  ASSERT_FALSE(HasFatalFailure());
  SpecDir spec(*source, "shutdown", "  verify_rounds: 1\n");
  HotWriter writer(UriOf(source->uri()));
  std::this_thread::sleep_for(milliseconds(300));
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:1500", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  bool reached = false;
  for (int i = 0; i < 1500 && !reached; ++i) {
    reached = spec.Phase() == "CATCH_UP";
    if (!reached) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(reached) << apply.Stderr();
  net::Client target;
  ASSERT_TRUE(target.Connect(UriOf("redis://127.0.0.1:" + spec.Get("target.port"))));
  // INCR keeps arriving from the source, so the counter stays 1000 off, never equal.
  auto tampered = target.Call({"INCRBY", "hot:counter", "1000"});
  ASSERT_TRUE(tampered && tampered->type() == resp::ReplyType::kInteger);
  EXPECT_EQ(apply.Wait(seconds(120)), 1) << apply.Stderr();
  writer.Stop();
  EXPECT_EQ(spec.Phase(), "ROLLED_BACK");
  EXPECT_NE(apply.Stderr().find("keys still differ; not cutting over"), std::string::npos)
      << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("hot:counter"), std::string::npos) << apply.Stderr();
  std::string events = spec.Events();
  EXPECT_NE(events.find("compared again inside the write pause"), std::string::npos) << events;
  EXPECT_EQ(source->Call({"SET", "after-rollback", "1"}), "OK");
  EXPECT_EQ(spec.HookOutput(), "") << "the cutover hook must not have run";
}

// Keys that expire every few hundred milliseconds and are written until just before they
// expire (APPEND, INCR, SETRANGE, LPUSH): such a write can reach the target just after the
// key expired there, and then recreates it without its TTL; the source's DEL fixes that
// only if it comes, and inside the pause (and after cutover) it does not. Written right up
// to the pause, the migration must still end exact: after cutover no key may outlive its
// TTL on the target, except the few the source itself recreated (a write that ran there
// just after the expiry, which the writer sees from the reply).
class ExpiringWriter {
 public:
  explicit ExpiringWriter(net::Uri uri) : uri_(std::move(uri)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ExpiringWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t created() const { return created_.load(); }
  uint64_t near_expiry_writes() const { return near_.load(); }
  // Keys the source recreated (the write ran after the key had expired there).
  std::set<std::string> recreated() {
    std::lock_guard lock(mu_);
    return recreated_;
  }

 private:
  struct Live {
    std::string key;
    int kind;  // 0 append, 1 incr, 2 setrange, 3 lpush
    std::chrono::steady_clock::time_point expires;
  };
  void Run() {
    using SteadyClock = std::chrono::steady_clock;
    net::Client c;
    net::ClientOptions co;
    co.io_timeout = milliseconds(15000);
    if (!c.Connect(uri_, co)) return;
    auto deadline = SteadyClock::now() + std::chrono::minutes(3);
    const char* kinds[] = {"append", "incr", "setrange", "lpush"};
    std::deque<Live> live;
    for (uint64_t i = 0; !stop_ && SteadyClock::now() < deadline; ++i) {
      std::vector<std::vector<std::string>> cmds;
      std::vector<const Live*> written;
      const auto now = SteadyClock::now();
      // Two new keys a round, expiring in 150-400 ms.
      for (int n = 0; n < 2; ++n) {
        const int kind = static_cast<int>((2 * i + n) % 4);
        const int ttl = 150 + static_cast<int>((i * 37 + n * 101) % 250);
        Live k{std::string("exp:") + kinds[kind] + ":" + std::to_string(2 * i + n), kind,
               now + milliseconds(ttl)};
        if (kind == 3) {
          cmds.push_back({"RPUSH", k.key, "a", "b"});
          cmds.push_back({"PEXPIRE", k.key, std::to_string(ttl)});
        } else {
          cmds.push_back({"SET", k.key, kind == 1 ? "100" : "vvvvvv", "PX", std::to_string(ttl)});
        }
        live.push_back(std::move(k));
      }
      std::sort(live.begin(), live.end(),
                [](const Live& a, const Live& b) { return a.expires < b.expires; });
      while (!live.empty() && live.front().expires <= now + milliseconds(1)) live.pop_front();
      const size_t fixed = cmds.size();
      // Every key that expires within the next 30 ms (but not within 1 ms) is written.
      for (const Live& k : live) {
        if (k.expires > now + milliseconds(30)) break;
        switch (k.kind) {
          case 0:
            cmds.push_back({"APPEND", k.key, "x"});
            break;
          case 1:
            cmds.push_back({"INCR", k.key});
            break;
          case 2:
            cmds.push_back({"SETRANGE", k.key, "3", "y"});
            break;
          default:
            cmds.push_back({"LPUSH", k.key, "1"});
            break;
        }
        written.push_back(&k);
      }
      auto replies = c.CallPipelined(cmds);
      if (!replies) return;  // the source went away
      for (size_t w = 0; w < written.size(); ++w) {
        const resp::Reply& r = (*replies)[fixed + w];
        // On a key the source had to recreate: APPEND gives 1, INCR 1, SETRANGE 4, LPUSH 1.
        const int64_t fresh[] = {1, 1, 4, 1};
        if (r.type() == resp::ReplyType::kInteger && r.integer() == fresh[written[w]->kind]) {
          std::lock_guard lock(mu_);
          recreated_.insert(written[w]->key);
        }
      }
      near_ += written.size();
      created_ += 2;
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  net::Uri uri_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> created_{0};
  std::atomic<uint64_t> near_{0};
  std::mutex mu_;
  std::set<std::string> recreated_;
  std::thread thread_;
};

TEST(ApplyTest, KeysExpiringUnderWritesStayExact) {
  for (int run = 0; run < 2; ++run) {
    SCOPED_TRACE("run " + std::to_string(run + 1));
    auto source = StartSource();
    ASSERT_TRUE(source);
    SpecDir spec(*source, "shutdown", "  verify_rounds: 1\n");
    ExpiringWriter writer(UriOf(source->uri()));
    std::this_thread::sleep_for(milliseconds(500));
    Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
    ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
    writer.Stop();
    EXPECT_EQ(spec.Phase(), "DONE");
    EXPECT_GT(writer.created(), 500u);
    EXPECT_GT(writer.near_expiry_writes(), 500u);
    std::string target_uri = spec.HookOutput();
    ASSERT_FALSE(target_uri.empty());
    // Every key the writer made had a TTL of at most 400 ms, and nothing writes to the
    // target: after a second, only keys the source itself recreated may be left.
    std::this_thread::sleep_for(milliseconds(1000));
    net::Client target;
    ASSERT_TRUE(target.Connect(UriOf(target_uri)));
    auto left = target.Call({"KEYS", "exp:*"});
    ASSERT_TRUE(left);
    const auto recreated = writer.recreated();
    std::string names;
    for (const auto& k : left->children()) {
      if (!recreated.count(k.str())) names += " " + k.str();
    }
    EXPECT_EQ(names, "") << "keys that outlived their TTL on the target (" << recreated.size()
                         << " recreated by the source itself)";
    std::string events = spec.Events();
    const size_t at = events.find("reconciled ");
    std::cout << "run " << run + 1 << ": "
              << (at == std::string::npos ? std::string("no key to reconcile in the pause")
                                          : events.substr(at, events.find('\n', at) - at))
              << "\n";
  }
}

// Issue #10: the provisioned target dies between two runs of apply (apply killed in
// CATCH_UP, then its valkey-server killed): the rerun starts a new one and copies
// everything again — it never resumes into an empty server — and ends equal.
TEST(ApplyTest, ProvisionedTargetGoneBetweenRunsIsReplacedAndCopiedAgain) {
  auto source = StartSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  SpecDir spec(*source, "keep");
  {
    Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:60000", KeyferryBinary(), "apply",
                      "-f", spec.path(), "--auto-approve"});
    for (int i = 0; i < 1500 && spec.Phase() != "CATCH_UP"; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_EQ(spec.Phase(), "CATCH_UP") << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
  }
  const std::string first_pid = spec.Get("target.pid");
  ASSERT_FALSE(first_pid.empty());
  ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(first_pid)), SIGKILL), 0);
  std::this_thread::sleep_for(milliseconds(200));
  source->Call({"SET", "written-between-runs", "1"});
  Subprocess again({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(again.Wait(seconds(120)), 0) << again.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  EXPECT_NE(spec.Get("target.pid"), first_pid);
  EXPECT_NE(again.Stderr().find("provisioning a new one and starting the copy over"),
            std::string::npos)
      << again.Stderr();
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "2");
  std::string target_uri = spec.HookOutput();
  ASSERT_FALSE(target_uri.empty());
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target_uri));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
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
    EXPECT_NE(doctor.Stdout().find("source.mode: scan"), std::string::npos) << doctor.Stdout();
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

// Progress off a terminal (docs/progress.md): apply's phase lines, no control characters;
// with --quiet only the result.
TEST(ApplyTest, PhaseLinesOnAPipeAndQuietPrintsOnlyTheResult) {
  for (bool quiet : {false, true}) {
    SCOPED_TRACE(quiet ? "--quiet" : "plain");
    auto source = StartSource();
    ASSERT_TRUE(source);
    SeedEveryType(UriOf(source->uri()));
    ASSERT_FALSE(HasFatalFailure());
    SpecDir spec(*source, "keep");
    std::vector<std::string> argv = {KeyferryBinary(), "apply", "-f", spec.path(),
                                     "--auto-approve"};
    if (quiet) argv.push_back("--quiet");
    Subprocess apply(argv);
    ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
    EXPECT_EQ(spec.Phase(), "DONE");
    const std::string err = apply.Stderr();
    EXPECT_EQ(err.find('\r'), std::string::npos) << err;
    EXPECT_EQ(err.find('\033'), std::string::npos) << err;
    if (quiet) {
      EXPECT_EQ(err, "keyferry apply: DONE\n");
    } else {
      for (const char* phase : {"PREFLIGHT: ", "FULL_SYNC: ", "CATCH_UP: ", "VERIFY: "}) {
        EXPECT_NE(("\n" + err).find(std::string("\nkeyferry apply: ") + phase), std::string::npos)
            << phase << "\n"
            << err;
      }
      EXPECT_TRUE(err.ends_with("keyferry apply: DONE\n")) << err;
    }
    EXPECT_EQ(apply.Stdout(), "");
  }
}

}  // namespace
}  // namespace kf::test
