// A migration's /metrics (observe/migration_metrics.h): the error kinds of journal events,
// the verify and pause numbers folded from events, the copy's numbers from the journaled
// progress JSON, and MigrationMetricsSource over a real journal (in a temp dir) and live
// SyncStats: phase gauges, shard labels, counters that never go down across a new engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "control/journal.h"
#include "control/phase.h"
#include "observe/migration_metrics.h"
#include "sync/sync_engine.h"

namespace kf::observe {
namespace {

using control::Event;
using control::EventKind;
using control::Phase;

Event MakeEvent(int64_t id, Phase phase, EventKind kind, std::string data = "{}") {
  Event e;
  e.id = id;
  e.phase = phase;
  e.kind = kind;
  e.message = "m";
  e.data_json = std::move(data);
  return e;
}

TEST(ObserveMigrationMetrics, ErrorKinds) {
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kCatchUp, EventKind::kRollback)), "rollback");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kCatchUp, EventKind::kFail,
                                R"({"differing_keys":3,"source_keys_checked":10})")),
            "verify_mismatch");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kVerify, EventKind::kFail,
                                R"({"differences":1,"keys_compared":10})")),
            "verify_mismatch");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kCutover, EventKind::kFail, R"({"exit_code":1,"ms":5})")),
            "cutover_hook");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kFullSync, EventKind::kFail)), "phase_failed");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kFullSync, EventKind::kFail, "")), "phase_failed");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kFullSync, EventKind::kWarn)), "");
  EXPECT_EQ(ErrorKind(MakeEvent(1, Phase::kCutover, EventKind::kFinish, R"({"pause_ms":9})")), "");
}

TEST(ObserveMigrationMetrics, FoldsPauseVerifyAndErrors) {
  JournalEventTotals t;
  FoldEvent(MakeEvent(3, Phase::kCatchUp, EventKind::kInfo,
                      R"({"equal":true,"differing_keys":0,"source_keys_checked":100})"),
            &t);
  EXPECT_EQ(t.last_id, 3);
  EXPECT_EQ(t.verify_keys_checked, 100u);
  EXPECT_EQ(t.verify_differences, 0u);
  EXPECT_FALSE(t.write_pause_seconds);
  // The check inside the pause that passed; a reconcile event with "keys" is not a verify.
  FoldEvent(MakeEvent(4, Phase::kVerify, EventKind::kInfo, R"({"keys":7,"deleted":1,"ms":3})"), &t);
  EXPECT_EQ(t.verify_keys_checked, 100u);
  FoldEvent(MakeEvent(5, Phase::kVerify, EventKind::kInfo, R"({"keys":5,"carried":2,"ms":3})"), &t);
  EXPECT_EQ(t.verify_keys_checked, 105u);
  EXPECT_EQ(t.verify_differences, 0u);
  FoldEvent(MakeEvent(6, Phase::kCutover, EventKind::kFinish,
                      R"({"pause_ms":1234,"target":"127.0.0.1:1"})"),
            &t);
  ASSERT_TRUE(t.write_pause_seconds);
  EXPECT_DOUBLE_EQ(*t.write_pause_seconds, 1.234);
  // A file source's comparison that found differences, then the generic failure, a rollback.
  FoldEvent(MakeEvent(7, Phase::kVerify, EventKind::kFail,
                      R"({"keys_compared":40,"differences":2,"keys_equal":38})"),
            &t);
  FoldEvent(MakeEvent(8, Phase::kVerify, EventKind::kFail), &t);
  FoldEvent(MakeEvent(9, Phase::kVerify, EventKind::kRollback), &t);
  EXPECT_EQ(t.verify_keys_checked, 145u);
  EXPECT_EQ(t.verify_differences, 2u);
  EXPECT_EQ(t.errors, (std::map<std::string, uint64_t>{
                          {"phase_failed", 1}, {"rollback", 1}, {"verify_mismatch", 1}}));
  EXPECT_EQ(t.last_id, 9);
}

TEST(ObserveMigrationMetrics, ReadsTheJournaledProgress) {
  sync::SyncStats stats;
  stats.phase = static_cast<int>(sync::SyncPhase::kSnapshot);
  stats.keys_written = 10;
  stats.snapshot_bytes = 250;
  stats.snapshot_total_bytes = 1000;
  stats.commands_applied = 3;
  stats.source_offset = 500;
  stats.applied_offset = 400;
  stats.lag_ms = 1500;
  stats.full_syncs = 1;
  stats.link_drops = 2;
  auto m = ShardFromProgress(nlohmann::json::parse(stats.ToJson()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->keys_copied, 10u);
  EXPECT_EQ(m->bytes_copied, 250u);
  EXPECT_DOUBLE_EQ(m->snapshot_progress, 0.25);
  EXPECT_EQ(m->commands_applied, 3u);
  EXPECT_EQ(m->lag_bytes, 100);
  EXPECT_DOUBLE_EQ(m->lag_seconds, 1.5);
  EXPECT_EQ(m->full_syncs, 1u);
  EXPECT_EQ(m->reconnects, 2u);
  stats.snapshot_total_bytes = 0;  // a diskless snapshot: size unknown
  EXPECT_TRUE(
      std::isnan(ShardFromProgress(nlohmann::json::parse(stats.ToJson()))->snapshot_progress));
  stats.phase = static_cast<int>(sync::SyncPhase::kStream);
  EXPECT_EQ(ShardFromProgress(nlohmann::json::parse(stats.ToJson()))->snapshot_progress, 1);
  EXPECT_FALSE(ShardFromProgress(nlohmann::json("not an object")));
}

class TempJournal {
 public:
  TempJournal() {
    std::string pattern = ::testing::TempDir() + "kf-mmetrics-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    dir_ = pattern;
    auto j = control::Journal::Open(dir_, true);
    EXPECT_TRUE(j) << j.error().message;
    if (j) journal_ = std::move(*j);
  }
  ~TempJournal() {
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }
  control::Journal* get() { return journal_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<control::Journal> journal_;
};

const ShardMetrics* FindShard(const MetricsSnapshot& m, const std::string& name) {
  for (const auto& s : m.shards) {
    if (s.shard == name) return &s;
  }
  return nullptr;
}

TEST(ObserveMigrationMetrics, SourceServesJournalThenLiveEnginesMonotonically) {
  TempJournal journal;
  ASSERT_NE(journal.get(), nullptr);
  MigrationMetricsSource source(journal.get());
  auto empty = source.Snapshot();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(empty->phase, "");
  EXPECT_TRUE(empty->shards.empty());
  EXPECT_EQ(empty->phases.size(), 13u);

  ASSERT_TRUE(journal.get()->Set(control::kKeyPhase, "FULL_SYNC"));
  ASSERT_TRUE(journal.get()->Set(control::kKeyPhaseStartedMs, "1700000000500"));
  sync::SyncStats journaled;
  journaled.phase = static_cast<int>(sync::SyncPhase::kStream);
  journaled.keys_written = 100;
  journaled.commands_applied = 40;
  ASSERT_TRUE(journal.get()->Set(control::kKeyProgress, journaled.ToJson()));
  auto a = source.Snapshot();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->phase, "FULL_SYNC");
  ASSERT_TRUE(a->phase_started_seconds);
  EXPECT_DOUBLE_EQ(*a->phase_started_seconds, 1700000000.5);
  ASSERT_EQ(a->shards.size(), 1u);
  EXPECT_EQ(a->shards[0].shard, "");
  EXPECT_EQ(a->shards[0].keys_copied, 100u);

  // The apply's engine restarted (its progress counts from 0 again): no counter goes down.
  journaled.keys_written = 30;
  journaled.commands_applied = 5;
  ASSERT_TRUE(journal.get()->Set(control::kKeyProgress, journaled.ToJson()));
  auto b = source.Snapshot();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->shards[0].keys_copied, 130u);
  EXPECT_EQ(b->shards[0].commands_applied, 45u);

  // Live engines of a cluster source: one labeled series each, the journal's progress unused.
  sync::SyncStats s0, s8192;
  s0.keys_written = 7;
  s8192.keys_written = 9;
  s8192.full_syncs = 1;
  source.SetEngines({{"s0", &s0}, {"s8192", &s8192}});
  auto c = source.Snapshot();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->shards.size(), 2u);
  ASSERT_NE(FindShard(*c, "s0"), nullptr);
  EXPECT_EQ(FindShard(*c, "s0")->keys_copied, 7u);
  EXPECT_EQ(FindShard(*c, "s8192")->keys_copied, 9u);
  EXPECT_EQ(FindShard(*c, "s8192")->full_syncs, 1u);
  s0.keys_written = 20;
  source.SetEngines({});  // they go away: their last numbers stay
  s0.keys_written = 0;    // (not read any more)
  auto d = source.Snapshot();
  ASSERT_TRUE(d);
  ASSERT_EQ(d->shards.size(), 2u);
  EXPECT_EQ(FindShard(*d, "s0")->keys_copied, 20u);

  // A new engine for s0 counts from zero: all of it adds, even above the last raw number.
  sync::SyncStats again;
  again.keys_written = 25;
  source.SetEngines({{"s0", &again}});
  auto e = source.Snapshot();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->shards.size(), 1u);
  EXPECT_EQ(e->shards[0].keys_copied, 45u);

  // Events: the pause, a verify, a failure and a rollback.
  Event pause = MakeEvent(0, Phase::kCutover, EventKind::kFinish, R"({"pause_ms":250})");
  ASSERT_TRUE(journal.get()->AppendEvent(pause));
  ASSERT_TRUE(journal.get()->AppendEvent(
      MakeEvent(0, Phase::kVerify, EventKind::kInfo, R"({"keys":12,"carried":0,"ms":1})")));
  ASSERT_TRUE(journal.get()->AppendEvent(MakeEvent(0, Phase::kDrain, EventKind::kFail)));
  ASSERT_TRUE(journal.get()->AppendEvent(MakeEvent(0, Phase::kDrain, EventKind::kRollback)));
  auto f = source.Snapshot();
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->write_pause_seconds);
  EXPECT_DOUBLE_EQ(*f->write_pause_seconds, 0.25);
  EXPECT_EQ(f->verify_keys_checked, 12u);
  EXPECT_EQ(f->verify_differences, 0u);
  EXPECT_EQ(f->errors["phase_failed"], 1u);
  EXPECT_EQ(f->errors["rollback"], 1u);
  // Read once: a second scrape does not count the same events again.
  ASSERT_TRUE(journal.get()->AppendEvent(MakeEvent(0, Phase::kDrain, EventKind::kFail)));
  auto g = source.Snapshot();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->errors["phase_failed"], 2u);
  EXPECT_EQ(g->errors["rollback"], 1u);
  EXPECT_EQ(g->verify_keys_checked, 12u);

  // The text names the phase gauge and the shard label.
  std::string text = WritePrometheusText(KeyferryFamilies(*g));
  EXPECT_THAT(text, ::testing::HasSubstr("keyferry_phase{phase=\"FULL_SYNC\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("keyferry_phase{phase=\"DONE\"} 0\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("keyferry_keys_copied_total{shard=\"s0\"} 45\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("keyferry_errors_total{kind=\"rollback\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("keyferry_write_pause_seconds 0.25\n"));
}

}  // namespace
}  // namespace kf::observe
