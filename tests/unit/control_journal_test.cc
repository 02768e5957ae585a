// Journal: state round trip, event order and paging, transactions, refusals (missing, read-only,
// foreign or newer files), the apply lock across processes (exclusive; released when the holder
// is SIGKILLed), durability of committed writes across SIGKILL, and a reader in another
// process while a writer commits. Phase names live here too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/clock.h"
#include "control/control_errc.h"
#include "control/journal.h"
#include "control/phase.h"

namespace kf::control {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "kf-journal-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Journal> OpenOrDie(const std::string& dir, Journal::Mode mode) {
  auto j = Journal::Open(dir, mode);
  if (!j) {
    ADD_FAILURE() << j.error().message;
    return nullptr;
  }
  return std::move(*j);
}

// Runs fn in a forked child; the child's exit code is fn's return value.
pid_t ForkChild(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) _exit(fn());
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// ---------------------------------------------------------------------------------------
// Phases

TEST(ControlPhase, NamesRoundTripAndOrder) {
  const Phase all[] = {Phase::kPreflight, Phase::kProvision,   Phase::kFullSync,
                       Phase::kCatchUp,   Phase::kPauseWrites, Phase::kDrain,
                       Phase::kVerify,    Phase::kCutover,     Phase::kDecommission,
                       Phase::kDone,      Phase::kFailed,      Phase::kRolledBack,
                       Phase::kAborted};
  for (Phase p : all) {
    EXPECT_EQ(ParsePhase(PhaseName(p)), p) << PhaseName(p);
  }
  EXPECT_EQ(PhaseName(Phase::kFullSync), "FULL_SYNC");
  EXPECT_EQ(PhaseName(Phase::kPauseWrites), "PAUSE_WRITES");
  EXPECT_EQ(PhaseName(Phase::kRolledBack), "ROLLED_BACK");
  EXPECT_EQ(ParsePhase("full_sync"), std::nullopt);
  EXPECT_EQ(ParsePhase(""), std::nullopt);

  // The forward chain PREFLIGHT → ... → DONE.
  Phase p = Phase::kPreflight;
  std::vector<Phase> chain = {p};
  while (auto next = NextPhase(p)) {
    p = *next;
    chain.push_back(p);
  }
  EXPECT_EQ(chain, std::vector<Phase>(kForwardPhases.begin(), kForwardPhases.end()));
  EXPECT_EQ(chain.back(), Phase::kDone);
  EXPECT_EQ(NextPhase(Phase::kFailed), std::nullopt);

  for (Phase t : {Phase::kDone, Phase::kFailed, Phase::kRolledBack, Phase::kAborted}) {
    EXPECT_TRUE(IsTerminal(t));
    EXPECT_FALSE(IsBeforeCutover(t));
  }
  EXPECT_FALSE(IsTerminal(Phase::kCutover));
  EXPECT_TRUE(IsBeforeCutover(Phase::kVerify));
  EXPECT_FALSE(IsBeforeCutover(Phase::kCutover));
  EXPECT_FALSE(IsBeforeCutover(Phase::kDecommission));

  for (PhaseStatus s : {PhaseStatus::kRunning, PhaseStatus::kDone, PhaseStatus::kFailed,
                        PhaseStatus::kRollingBack}) {
    EXPECT_EQ(ParsePhaseStatus(PhaseStatusName(s)), s);
  }
  EXPECT_EQ(PhaseStatusName(PhaseStatus::kRollingBack), "rolling-back");
  for (EventKind k : {EventKind::kStart, EventKind::kFinish, EventKind::kFail, EventKind::kInfo,
                      EventKind::kWarn, EventKind::kRollback}) {
    EXPECT_EQ(ParseEventKind(EventKindName(k)), k);
  }
  EXPECT_EQ(ParseEventKind("begin"), std::nullopt);
}

// ---------------------------------------------------------------------------------------
// State and events

TEST(ControlJournal, StateRoundTrip) {
  TempDir dir;
  std::string state_dir = dir.sub("a/b");  // created by kCreate
  EXPECT_FALSE(Journal::Exists(state_dir));
  {
    auto j = OpenOrDie(state_dir, Journal::Mode::kCreate);
    ASSERT_TRUE(j);
    EXPECT_TRUE(Journal::Exists(state_dir));
    EXPECT_EQ(j->state_dir(), state_dir);
    auto missing = j->Get("phase");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->has_value());
    ASSERT_TRUE(j->Set(kKeyPhase, "FULL_SYNC"));
    ASSERT_TRUE(j->Set("empty", ""));
    ASSERT_TRUE(j->Set("binary", std::string("a\0b\xff", 4)));
    ASSERT_TRUE(j->Set(kKeyPhase, "CATCH_UP"));  // overwrite
    ASSERT_TRUE(j->Set("gone", "x"));
    ASSERT_TRUE(j->Erase("gone"));
    ASSERT_TRUE(j->Erase("never-set"));
  }
  // A new process view (a new connection) reads what was committed.
  auto j = OpenOrDie(state_dir, Journal::Mode::kReadOnly);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->Get(kKeyPhase).value(), "CATCH_UP");
  EXPECT_EQ(j->Get("empty").value(), "");
  EXPECT_EQ(j->Get("binary").value(), std::string("a\0b\xff", 4));
  EXPECT_FALSE(j->Get("gone").value().has_value());
  auto all = j->GetAll();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at("phase"), "CATCH_UP");
}

TEST(ControlJournal, EventsKeepOrderAndPage) {
  TempDir dir;
  auto j = OpenOrDie(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(j);
  auto none = j->LastEvent();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  int64_t before = UnixMillis();
  std::vector<int64_t> ids;
  for (int i = 0; i < 25; ++i) {
    Event e;
    e.phase = i < 10 ? Phase::kFullSync : Phase::kCatchUp;
    e.kind = i == 0 ? EventKind::kStart : EventKind::kInfo;
    e.message = "step " + std::to_string(i);
    e.data_json = i == 3 ? "" : "{\"keys\":" + std::to_string(i * 10) + "}";
    auto id = j->AppendEvent(e);
    ASSERT_TRUE(id) << id.error().message;
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  Event fixed_time;
  fixed_time.time_ms = 1700000000123;
  fixed_time.kind = EventKind::kWarn;
  fixed_time.message = "given time";
  ASSERT_TRUE(j->AppendEvent(fixed_time));

  auto first = j->ListEvents(0, 10);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 10u);
  EXPECT_EQ((*first)[0].id, ids[0]);
  EXPECT_EQ((*first)[0].kind, EventKind::kStart);
  EXPECT_EQ((*first)[0].phase, Phase::kFullSync);
  EXPECT_EQ((*first)[0].message, "step 0");
  EXPECT_EQ((*first)[0].data_json, "{\"keys\":0}");
  EXPECT_EQ((*first)[3].data_json, "{}");
  EXPECT_GE((*first)[0].time_ms, before);
  EXPECT_LE((*first)[0].time_ms, UnixMillis());
  auto rest = j->ListEvents(first->back().id, 1000);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 16u);
  EXPECT_EQ((*rest)[0].message, "step 10");
  EXPECT_EQ((*rest)[0].phase, Phase::kCatchUp);
  for (size_t i = 1; i < rest->size(); ++i) {
    EXPECT_GT((*rest)[i].id, (*rest)[i - 1].id);
  }
  auto last = j->LastEvent();
  ASSERT_TRUE(last && last->has_value());
  EXPECT_EQ((*last)->message, "given time");
  EXPECT_EQ((*last)->time_ms, 1700000000123);
  EXPECT_EQ((*last)->kind, EventKind::kWarn);
  EXPECT_TRUE(j->ListEvents((*last)->id, 10)->empty());

  auto json = (*first)[1].ToJson();
  EXPECT_EQ(json["phase"], "FULL_SYNC");
  EXPECT_EQ(json["kind"], "info");
  EXPECT_EQ(json["message"], "step 1");
  EXPECT_EQ(json["data"]["keys"], 10);
  EXPECT_EQ(json["id"], ids[1]);
}

TEST(ControlJournal, BadEventDataWritesNothing) {
  TempDir dir;
  auto j = OpenOrDie(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(j);
  Event e;
  e.message = "broken";
  e.data_json = "{keys: 1";
  auto r = j->AppendEvent(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(ControlErrc::kJournalCorrupt));
  EXPECT_TRUE(j->ListEvents()->empty());
}

TEST(ControlJournal, EventsAreNeverDeletedOrChanged) {
  TempDir dir;
  {
    auto j = OpenOrDie(dir.path(), Journal::Mode::kCreate);
    ASSERT_TRUE(j);
    Event e;
    e.message = "kept";
    ASSERT_TRUE(j->AppendEvent(e));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Journal::DbPath(dir.path()).c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM events", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_THAT(sqlite3_errmsg(db), HasSubstr("never deleted"));
  EXPECT_NE(sqlite3_exec(db, "UPDATE events SET message = 'x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto j = OpenOrDie(dir.path(), Journal::Mode::kReadOnly);
  ASSERT_TRUE(j);
  auto events = j->ListEvents();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "kept");
}

TEST(ControlJournal, TransactionsCommitTogetherOrNotAtAll) {
  TempDir dir;
  auto j = OpenOrDie(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(j);
  auto ok = j->Transaction([&]() -> Result<void> {
    KF_RETURN_IF_ERROR(j->Set(kKeyPhase, "VERIFY"));
    KF_RETURN_IF_ERROR(j->Set(kKeyPhaseStatus, "running"));
    Event e;
    e.phase = Phase::kVerify;
    e.kind = EventKind::kStart;
    e.message = "verify starts";
    auto id = j->AppendEvent(e);
    if (!id) return MakeError(std::move(id).error());
    // A nested transaction joins the outer one.
    return j->Transaction([&]() -> Result<void> { return j->Set("nested", "1"); });
  });
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(j->Get(kKeyPhase).value(), "VERIFY");
  EXPECT_EQ(j->Get("nested").value(), "1");
  EXPECT_EQ(j->ListEvents()->size(), 1u);

  auto failed = j->Transaction([&]() -> Result<void> {
    KF_RETURN_IF_ERROR(j->Set(kKeyPhase, "CUTOVER"));
    Event e;
    e.message = "never seen";
    if (!j->AppendEvent(e)) return MakeError(ControlErrc::kPhaseFailed, "append failed");
    return MakeError(ControlErrc::kHookFailed, "the hook failed");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, make_error_code(ControlErrc::kHookFailed));
  EXPECT_EQ(j->Get(kKeyPhase).value(), "VERIFY");
  EXPECT_EQ(j->ListEvents()->size(), 1u);
  // The journal works normally afterwards.
  ASSERT_TRUE(j->Set(kKeyPhase, "CUTOVER"));
  EXPECT_EQ(j->Get(kKeyPhase).value(), "CUTOVER");
}

// ---------------------------------------------------------------------------------------
// Opening

TEST(ControlJournal, MissingJournalIsReported) {
  TempDir dir;
  for (auto mode : {Journal::Mode::kReadOnly, Journal::Mode::kReadWrite}) {
    auto j = Journal::Open(dir.path(), mode);
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, make_error_code(ControlErrc::kJournalMissing));
    EXPECT_THAT(j.error().message, HasSubstr("no journal in " + dir.path()));
  }
  auto j = Journal::Open(dir.sub("nope"), false);  // bool overload: read-only
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, make_error_code(ControlErrc::kJournalMissing));
  EXPECT_FALSE(std::filesystem::exists(dir.sub("nope")));  // nothing created
  auto created = Journal::Open(dir.sub("yes"), true);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_FALSE((*created)->read_only());
}

TEST(ControlJournal, ReadOnlyRefusesWrites) {
  TempDir dir;
  { ASSERT_TRUE(OpenOrDie(dir.path(), Journal::Mode::kCreate)); }
  auto j = OpenOrDie(dir.path(), Journal::Mode::kReadOnly);
  ASSERT_TRUE(j);
  EXPECT_TRUE(j->read_only());
  auto set = j->Set("k", "v");
  ASSERT_FALSE(set);
  EXPECT_THAT(set.error().message, HasSubstr("open read-only"));
  EXPECT_FALSE(j->AppendEvent(Event{}));
  EXPECT_FALSE(j->AcquireApplyLock());
  EXPECT_FALSE(j->Transaction([] { return Result<void>(); }));
  auto rw = OpenOrDie(dir.path(), Journal::Mode::kReadWrite);
  ASSERT_TRUE(rw);
  EXPECT_TRUE(rw->Set("k", "v"));
  EXPECT_EQ(j->Get("k").value(), "v");
}

TEST(ControlJournal, ForeignAndNewerFilesAreRefused) {
  TempDir dir;
  std::string path = Journal::DbPath(dir.path());
  // Another application's SQLite file.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  for (auto mode : {Journal::Mode::kReadOnly, Journal::Mode::kCreate}) {
    auto j = Journal::Open(dir.path(), mode);
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, make_error_code(ControlErrc::kJournalCorrupt));
    EXPECT_THAT(j.error().message, HasSubstr("not a keyferry journal"));
  }
  std::filesystem::remove(path);

  // A journal from a newer keyferry.
  { ASSERT_TRUE(OpenOrDie(dir.path(), Journal::Mode::kCreate)); }
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto newer = Journal::Open(dir.path(), Journal::Mode::kReadOnly);
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code, make_error_code(ControlErrc::kJournalCorrupt));
  EXPECT_THAT(newer.error().message, HasSubstr("written by a newer keyferry (schema 99"));

  // Not SQLite at all.
  std::filesystem::remove(path);
  std::ofstream(path) << std::string(4096, 'x');
  auto garbage = Journal::Open(dir.path(), Journal::Mode::kReadOnly);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, make_error_code(ControlErrc::kJournalCorrupt));
}

TEST(ControlJournal, ReadOnlyOpenAfterTheWriterClosed) {
  TempDir dir;
  {
    auto w = OpenOrDie(dir.path(), Journal::Mode::kCreate);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->Set(kKeyPhase, "DONE"));
  }
  // The last writer's close checkpoints and removes the -wal/-shm files; a reader still opens.
  auto r = OpenOrDie(dir.path(), Journal::Mode::kReadOnly);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Get(kKeyPhase).value(), "DONE");
}

// ---------------------------------------------------------------------------------------
// The apply lock

TEST(ControlJournal, ApplyLockIsExclusiveAcrossProcesses) {
  TempDir dir;
  auto j = OpenOrDie(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(j);
  EXPECT_EQ(Journal::ApplyLockHolder(dir.path()), std::nullopt);
  ASSERT_TRUE(j->AcquireApplyLock());
  ASSERT_TRUE(j->AcquireApplyLock());  // idempotent for the holder
  EXPECT_TRUE(j->holds_apply_lock());
  EXPECT_EQ(Journal::ApplyLockHolder(dir.path()), ::getpid());

  const std::string expected = "another keyferry apply (pid " + std::to_string(::getpid()) +
                               ") is running on " + dir.path() +
                               "; wait for it or stop it with keyferry abort";
  pid_t child = ForkChild([&] {
    auto other = Journal::Open(dir.path(), Journal::Mode::kCreate);
    if (!other) return 10;
    auto r = (*other)->AcquireApplyLock();
    if (r) return 11;
    if (r.error().code != make_error_code(ControlErrc::kLocked)) return 12;
    if (r.error().message != expected) return 13;
    return 0;
  });
  EXPECT_EQ(WaitExit(child), 0) << "the child expected: " << expected;

  // A second Journal object in this process is refused too (flock is per open file).
  auto same_process = OpenOrDie(dir.path(), Journal::Mode::kReadWrite);
  ASSERT_TRUE(same_process);
  auto refused = same_process->AcquireApplyLock();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, expected);

  j->ReleaseApplyLock();
  EXPECT_FALSE(j->holds_apply_lock());
  EXPECT_EQ(Journal::ApplyLockHolder(dir.path()), std::nullopt);
  child = ForkChild([&] {
    auto other = Journal::Open(dir.path(), Journal::Mode::kCreate);
    if (!other) return 10;
    return (*other)->AcquireApplyLock() ? 0 : 11;
  });
  EXPECT_EQ(WaitExit(child), 0);
}

TEST(ControlJournal, ApplyLockIsReleasedWhenTheHolderIsKilled) {
  TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ForkChild([&] {
    ::close(ready[0]);
    auto j = Journal::Open(dir.path(), Journal::Mode::kCreate);
    if (!j || !(*j)->AcquireApplyLock()) return 10;
    char c = 'L';
    if (::write(ready[1], &c, 1) != 1) return 11;
    for (;;) ::pause();  // holds the lock until killed
  });
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);

  EXPECT_EQ(Journal::ApplyLockHolder(dir.path()), child);
  auto j = OpenOrDie(dir.path(), Journal::Mode::kReadWrite);
  ASSERT_TRUE(j);
  auto refused = j->AcquireApplyLock();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              HasSubstr("another keyferry apply (pid " + std::to_string(child) + ") is running"));

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  EXPECT_EQ(WaitExit(child), 128 + SIGKILL);
  EXPECT_EQ(Journal::ApplyLockHolder(dir.path()), std::nullopt);
  auto taken = j->AcquireApplyLock();
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(Journal::ApplyLockHolder(dir.path()), ::getpid());
}

// ---------------------------------------------------------------------------------------
// Durability and concurrency

TEST(ControlJournal, CommittedWritesSurviveSigkill) {
  TempDir dir;
  pid_t child = ForkChild([&] {
    auto j = Journal::Open(dir.path(), Journal::Mode::kCreate);
    if (!j) return 10;
    Journal& journal = **j;
    if (!journal.AcquireApplyLock()) return 11;
    if (!journal.Set(kKeyPhase, "FULL_SYNC")) return 12;
    Event e;
    e.phase = Phase::kFullSync;
    e.kind = EventKind::kStart;
    e.message = "full sync starts";
    e.data_json = R"({"bytes":123})";
    if (!journal.AppendEvent(e)) return 13;
    auto t = journal.Transaction([&]() -> Result<void> {
      KF_RETURN_IF_ERROR(journal.Set("repl_id", "8f3c"));
      return journal.Set("repl_offset", "4242");
    });
    if (!t) return 14;
    ::raise(SIGKILL);  // no close, no checkpoint, no destructor
    return 15;
  });
  ASSERT_EQ(WaitExit(child), 128 + SIGKILL);

  auto reader = OpenOrDie(dir.path(), Journal::Mode::kReadOnly);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->Get(kKeyPhase).value(), "FULL_SYNC");
  EXPECT_EQ(reader->Get("repl_id").value(), "8f3c");
  EXPECT_EQ(reader->Get("repl_offset").value(), "4242");
  auto events = reader->ListEvents();
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "full sync starts");
  EXPECT_EQ((*events)[0].data_json, R"({"bytes":123})");
  // The next apply opens it for writing, takes the lock the dead one held, and continues.
  auto writer = OpenOrDie(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->AcquireApplyLock());
  ASSERT_TRUE(writer->Set(kKeyPhase, "CATCH_UP"));
  EXPECT_EQ(reader->Get(kKeyPhase).value(), "CATCH_UP");
}

TEST(ControlJournal, ReaderInAnotherProcessWhileWriting) {
  TempDir dir;
  constexpr int kWrites = 200;
  pid_t child = ForkChild([&] {
    auto j = Journal::Open(dir.path(), Journal::Mode::kCreate);
    if (!j) return 10;
    Journal& journal = **j;
    if (!journal.AcquireApplyLock()) return 11;
    for (int i = 0; i < kWrites; ++i) {
      auto t = journal.Transaction([&]() -> Result<void> {
        Event e;
        e.phase = Phase::kCatchUp;
        e.message = "write " + std::to_string(i);
        auto id = journal.AppendEvent(e);
        if (!id) return MakeError(std::move(id).error());
        return journal.Set("counter", std::to_string(i));
      });
      if (!t) return 12;
    }
    return 0;
  });

  // Open as soon as the writer has created the journal.
  std::unique_ptr<Journal> reader;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!reader && std::chrono::steady_clock::now() < deadline) {
    auto j = Journal::Open(dir.path(), Journal::Mode::kReadOnly);
    if (j) {
      reader = std::move(*j);
    } else {
      ASSERT_EQ(j.error().code, make_error_code(ControlErrc::kJournalMissing)) << j.error().message;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ASSERT_TRUE(reader);
  int reads = 0;
  size_t last_count = 0;
  bool child_done = false;
  int child_exit = -1;
  while (!child_done) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      child_done = true;
      child_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    // Counter first, events second: the events read sees at least every committed write.
    auto counter = reader->Get("counter");
    ASSERT_TRUE(counter) << counter.error().message;
    auto events = reader->ListEvents(0, 100000);
    ASSERT_TRUE(events) << events.error().message;
    if (counter->has_value()) {
      EXPECT_GE(events->size(), static_cast<size_t>(std::stoi(**counter) + 1));
    }
    EXPECT_GE(events->size(), last_count);
    last_count = events->size();
    for (size_t i = 0; i < events->size(); ++i) {
      ASSERT_EQ((*events)[i].message, "write " + std::to_string(i));
      if (i > 0) {
        ASSERT_GT((*events)[i].id, (*events)[i - 1].id);
      }
    }
    ++reads;
  }
  EXPECT_EQ(child_exit, 0);
  EXPECT_EQ(reader->Get("counter").value(), std::to_string(kWrites - 1));
  EXPECT_EQ(reader->ListEvents(0, 100000)->size(), static_cast<size_t>(kWrites));
  EXPECT_GT(reads, 1);
}

}  // namespace
}  // namespace kf::control
