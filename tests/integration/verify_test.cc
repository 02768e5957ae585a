// keyferry verify against real servers: Redis 7.0 (source) and Valkey 8.0 (target) seeded
// with every type, then one difference of each kind injected on the target at a time,
// compared both through DUMP payloads and through windowed reads; identical data is equal;
// a live sync with a writer converges over re-check rounds; bad inputs (unreachable end,
// wrong password, keys expiring mid-compare, a type changing between rounds, a server
// restarting mid-compare) give clear outcomes and never a false "equal".
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"
#include "net/uri.h"
#include "verify/verifier.h"
#include "verify/verify_errc.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using verify::DiffKind;
using verify::VerifyOptions;
using verify::VerifyReport;
using Cmd = std::vector<std::string>;

constexpr int64_t kFarFuture = 4102444800000LL;  // as in dataset.cc

// Runs commands in database `db` of `uri`; fails the test on errors.
void RunOn(const std::string& uri, int db, const std::vector<Cmd>& commands) {
  net::Client client;
  auto target = UriOf(uri);
  target.db = db;
  auto connected = client.Connect(target);
  ASSERT_TRUE(connected) << connected.error().ToString();
  for (size_t at = 0; at < commands.size(); at += 1000) {
    std::vector<Cmd> chunk(
        commands.begin() + static_cast<long>(at),
        commands.begin() + static_cast<long>(std::min(at + 1000, commands.size())));
    auto replies = client.CallPipelined(chunk);
    ASSERT_TRUE(replies) << replies.error().ToString();
    for (size_t i = 0; i < chunk.size(); ++i) {
      ASSERT_FALSE((*replies)[i].is_error()) << chunk[i][0] << ": " << (*replies)[i].str();
    }
  }
}

std::string Describe(const VerifyReport& r) { return verify::ReportToText(r); }

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No diskless-sync delay: the tests that run keyferry sync need not wait 5 s for it.
    source_ =
        ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
    target_ = ServerProcess::Start(ServerKind::kValkey);
    ASSERT_TRUE(source_ && target_);
  }

  // Seeds both ends with the same data. SeedEveryType sets one relative expiry
  // (str:float, PEXPIRE); its absolute time is copied from the source so both match.
  void SeedBoth(const SeedOptions& options = {}) {
    SeedEveryType(UriOf(source_->uri()), options);
    ASSERT_FALSE(HasFatalFailure());
    SeedEveryType(UriOf(target_->uri()), options);
    ASSERT_FALSE(HasFatalFailure());
    for (int db : {0, 3, 15}) {
      std::string key = options.prefix + "db" + std::to_string(db) + ":str:float";
      net::Client client;
      auto src = UriOf(source_->uri());
      src.db = db;
      ASSERT_TRUE(client.Connect(src));
      auto when = client.Call({"PEXPIRETIME", key});
      ASSERT_TRUE(when && when->type() == resp::ReplyType::kInteger);
      RunOn(target_->uri(), db, {{"PEXPIREAT", key, std::to_string(when->integer())}});
    }
  }

  Result<VerifyReport> Verify(VerifyOptions options = {},
                              const verify::ProgressCallback& progress = {},
                              const std::atomic<bool>* stop = nullptr) {
    return verify::Verify(UriOf(source_->uri()), UriOf(target_->uri()), options, progress, stop);
  }

  std::unique_ptr<ServerProcess> source_;
  std::unique_ptr<ServerProcess> target_;
};

// --- identical data ---

TEST_F(VerifyTest, IdenticalDataIsEqualThroughDumpsAndWindows) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  auto dumps = Verify();
  ASSERT_TRUE(dumps) << dumps.error().ToString();
  EXPECT_TRUE(dumps->equal) << Describe(*dumps);
  EXPECT_EQ(dumps->source_dbs, (std::vector<int>{0, 3, 15}));
  EXPECT_EQ(dumps->big_keys_windowed, 0u);
  EXPECT_GE(dumps->source_keys_checked, 75u);  // 25 keys in each of 3 dbs
  EXPECT_EQ(dumps->source_keys_checked, dumps->target_keys_scanned);

  // Every value in windows: zset scores are printed differently by the two engines
  // (Redis "9.9999999999999995e-08", Valkey "1e-7") and must still compare equal.
  VerifyOptions windows;
  windows.big_value_bytes = 0;
  windows.window_elements = 7;  // many windows per value, odd size
  windows.window_bytes = 1000;
  auto windowed = Verify(windows);
  ASSERT_TRUE(windowed) << windowed.error().ToString();
  EXPECT_TRUE(windowed->equal) << Describe(*windowed);
  EXPECT_EQ(windowed->big_keys_windowed, windowed->source_keys_checked);

  VerifyOptions keys;
  keys.mode = verify::VerifyMode::kKeys;
  auto keys_only = Verify(keys);
  ASSERT_TRUE(keys_only) << keys_only.error().ToString();
  EXPECT_TRUE(keys_only->equal) << Describe(*keys_only);
}

TEST_F(VerifyTest, EmptyEndsAreEqualWithANote) {
  auto report = Verify();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal);
  EXPECT_TRUE(report->source_dbs.empty());
  ASSERT_EQ(report->notes.size(), 1u);
  EXPECT_EQ(report->notes[0], "both ends are empty: nothing to compare");
}

TEST_F(VerifyTest, SampleModeChecksAFraction) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  auto all = Verify();
  ASSERT_TRUE(all);
  VerifyOptions sample;
  ASSERT_TRUE(verify::ParseMode("sample:0.3", &sample));
  sample.sample_seed = 42;
  auto some = Verify(sample);
  ASSERT_TRUE(some) << some.error().ToString();
  EXPECT_TRUE(some->equal) << Describe(*some);
  EXPECT_EQ(some->mode, "sample:0.3");
  EXPECT_GT(some->source_keys_checked, all->source_keys_checked / 10);
  EXPECT_LT(some->source_keys_checked, all->source_keys_checked * 6 / 10);
}

// --- one injected difference at a time ---

struct Injection {
  const char* name;
  int db;  // where the commands run on the target
  std::vector<Cmd> commands;
  DiffKind kind;
  std::string key;            // the key (or library) that must be reported
  std::string dump_detail;    // expected detail (substring) when compared through DUMP
  std::string window_detail;  // ... when compared in windows
};

std::string OneUlpAbove(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", std::nextafter(v, HUGE_VAL));
  return buf;
}

std::vector<Injection> Injections() {
  const std::string far = std::to_string(kFarFuture);
  return {
      {"MissingKey",
       0,
       {{"DEL", "db0:str:int"}},
       DiffKind::kMissing,
       "db0:str:int",
       "a string on the source only",
       "a string on the source only"},
      {"ExtraKey",
       3,
       {{"SET", "db3:extra", "x"}},
       DiffKind::kExtra,
       "db3:extra",
       "a string on the target only",
       "a string on the target only"},
      {"TypeChanged",
       15,
       {{"DEL", "db15:set:small"}, {"RPUSH", "db15:set:small", "a"}},
       DiffKind::kType,
       "db15:set:small",
       "set vs list",
       "set vs list"},
      {"ListElementChanged",
       0,
       {{"LSET", "db0:list:big", "2500", "changed"}},
       DiffKind::kValue,
       "db0:list:big",
       "element 2500: \"element-2500\" vs \"changed\"",
       "element 2500: \"element-2500\" vs \"changed\""},
      {"ZsetScoreOneUlp",
       3,
       {{"ZADD", "db3:zset:big", OneUlpAbove(5.125), "m5"}},
       DiffKind::kValue,
       "db3:zset:big",
       "member \"m5\": score 5.125 vs 5.1250000000000009",
       "member \"m5\": score 5.125 vs 5.1250000000000009"},
      {"HashFieldRemoved",
       15,
       {{"HDEL", "db15:hash:big", "field-7"}},
       DiffKind::kValue,
       "db15:hash:big",
       "field \"field-7\" missing on target",
       "fields 1500 vs 1499"},
      {"SetMemberRemoved",
       0,
       {{"SREM", "db0:set:big", "member-5"}},
       DiffKind::kValue,
       "db0:set:big",
       "member \"member-5\" missing on target",
       "members 2000 vs 1999"},
      {"StringByteChanged",
       0,
       {{"SETRANGE", "db0:str:lzf", "5", "b"}},
       DiffKind::kValue,
       "db0:str:lzf",
       "bytes differ from offset 5",
       "bytes differ from offset 5"},
      {"TtlChangedByOneMs",
       0,
       {{"PEXPIREAT", "db0:str:int", std::to_string(kFarFuture + 124)}},
       DiffKind::kTtl,
       "db0:str:int",
       "expiry " + std::to_string(kFarFuture + 123) + " vs " + std::to_string(kFarFuture + 124) +
           " (1 ms)",
       "expiry " + std::to_string(kFarFuture + 123) + " vs " + std::to_string(kFarFuture + 124)},
      {"ExpiryRemoved",
       3,
       {{"PERSIST", "db3:hash:small"}},
       DiffKind::kTtl,
       "db3:hash:small",
       "expiry " + std::to_string(kFarFuture + 7) + " vs none",
       "expiry " + std::to_string(kFarFuture + 7) + " vs none"},
      {"StreamGroupLastDeliveredId",
       0,
       {{"XGROUP", "SETID", "db0:stream", "g2", "1700000000000-11"}},
       DiffKind::kValue,
       "db0:stream",
       "group \"g2\": last delivered id 1700000000000-10 vs 1700000000000-11",
       "group \"g2\": last delivered id 1700000000000-10 vs 1700000000000-11"},
      {"PendingEntryAcked",
       0,
       {{"XACK", "db0:stream", "g1", "1700000000000-3"}},
       DiffKind::kValue,
       "db0:stream",
       "group \"g1\": pending entry 1700000000000-3 missing on target",
       "group \"g1\": pending entry 1700000000000-3 missing on target"},
      {"FunctionLibraryMissing",
       0,
       {{"FUNCTION", "DELETE", "kflib"}},
       DiffKind::kFunction,
       "kflib",
       "library missing on target",
       "library missing on target"},
  };
}

class VerifyInjectionTest : public VerifyTest,
                            public ::testing::WithParamInterface<std::tuple<size_t, bool>> {};

TEST_P(VerifyInjectionTest, FindsTheDifferenceOnTheRightKey) {
  const auto [index, windowed] = GetParam();
  const Injection inj = Injections()[index];
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  RunOn(target_->uri(), inj.db, inj.commands);
  ASSERT_FALSE(HasFatalFailure());

  VerifyOptions options;
  if (windowed) {
    options.big_value_bytes = 0;  // every value in windows, small windows so paging matters
    options.window_elements = 3;
    options.window_bytes = 4096;
  }
  auto report = Verify(options);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->equal);
  EXPECT_EQ(report->differing_keys, 1u) << Describe(*report);
  for (size_t k = 0; k < verify::kDiffKindCount; ++k) {
    EXPECT_EQ(report->counts[k], static_cast<size_t>(inj.kind) == k ? 1u : 0u)
        << verify::DiffKindName(static_cast<DiffKind>(k)) << "\n"
        << Describe(*report);
  }
  ASSERT_EQ(report->examples.size(), 1u) << Describe(*report);
  const auto& d = report->examples[0];
  EXPECT_EQ(d.key, inj.key);
  if (inj.kind == DiffKind::kFunction) {
    EXPECT_TRUE(d.is_function);
  } else {
    EXPECT_EQ(d.source_db, inj.db);
    EXPECT_EQ(d.target_db, inj.db);
  }
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues[0].kind, inj.kind);
  const std::string& expected = windowed ? inj.window_detail : inj.dump_detail;
  EXPECT_NE(d.issues[0].detail.find(expected), std::string::npos)
      << "detail: " << d.issues[0].detail << "\nexpected: " << expected;
}

INSTANTIATE_TEST_SUITE_P(EveryKind, VerifyInjectionTest,
                         ::testing::Combine(::testing::Range<size_t>(0, Injections().size()),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(Injections()[std::get<0>(info.param)].name) +
                                  (std::get<1>(info.param) ? "_Windowed" : "_Dump");
                         });

// --- options ---

TEST_F(VerifyTest, TtlToleranceAndFiltersAndKeysMode) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  RunOn(target_->uri(), 0,
        {{"PEXPIREAT", "db0:str:int", std::to_string(kFarFuture + 124)},
         {"LSET", "db0:list:big", "3", "changed"}});
  RunOn(target_->uri(), 3, {{"SET", "db3:extra", "x"}});
  ASSERT_FALSE(HasFatalFailure());

  VerifyOptions options;
  options.ttl_tolerance_ms = 1;
  options.exclude = {"*extra*", "db0:list:*"};
  auto report = Verify(options);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal) << Describe(*report);

  // keys mode reads no values: the list change is invisible, the TTL change is not.
  VerifyOptions keys;
  keys.mode = verify::VerifyMode::kKeys;
  keys.match = {"db0:*"};
  report = Verify(keys);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->differing_keys, 1u) << Describe(*report);
  EXPECT_EQ(report->counts[static_cast<size_t>(DiffKind::kTtl)], 1u);

  // --db limits the compare to the given databases.
  VerifyOptions db3;
  db3.dbs = {3};
  db3.compare_functions = false;
  report = Verify(db3);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->source_dbs, std::vector<int>{3});
  EXPECT_EQ(report->differing_keys, 1u) << Describe(*report);
  EXPECT_EQ(report->counts[static_cast<size_t>(DiffKind::kExtra)], 1u);
}

TEST_F(VerifyTest, DbMapComparesMappedDatabases) {
  RunOn(source_->uri(), 0, {{"SET", "a", "1"}, {"RPUSH", "l", "x", "y"}});
  RunOn(target_->uri(), 5, {{"SET", "a", "1"}, {"RPUSH", "l", "x", "y"}});
  ASSERT_FALSE(HasFatalFailure());
  auto plain = Verify();
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_FALSE(plain->equal);
  EXPECT_EQ(plain->counts[static_cast<size_t>(DiffKind::kMissing)], 2u) << Describe(*plain);
  EXPECT_EQ(plain->counts[static_cast<size_t>(DiffKind::kExtra)], 2u) << Describe(*plain);
  VerifyOptions mapped;
  mapped.db_map = {"0:5"};
  auto report = Verify(mapped);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal) << Describe(*report);
}

// only_keys compares just the named keys (no scans): a difference elsewhere is not seen,
// one in a named key is, and a named key absent on both ends counts as equal.
TEST_F(VerifyTest, OnlyNamedKeysAreCompared) {
  RunOn(source_->uri(), 0, {{"SET", "named", "1"}, {"SET", "other", "1"}});
  RunOn(source_->uri(), 2, {{"HSET", "h", "f", "1"}});
  RunOn(target_->uri(), 0, {{"SET", "named", "1"}, {"SET", "other", "CHANGED"}});
  RunOn(target_->uri(), 2, {{"HSET", "h", "f", "1"}});
  ASSERT_FALSE(HasFatalFailure());
  VerifyOptions options;
  options.only_keys = {{0, {"named", "gone-on-both"}}, {2, {"h"}}};
  auto report = Verify(options);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal) << Describe(*report);
  ASSERT_FALSE(report->rounds.empty());
  EXPECT_EQ(report->rounds[0].keys_checked, 3u);

  RunOn(target_->uri(), 2, {{"HSET", "h", "f", "2"}});
  ASSERT_FALSE(HasFatalFailure());
  auto changed = Verify(options);
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_FALSE(changed->equal);
  EXPECT_EQ(changed->counts[static_cast<size_t>(DiffKind::kValue)], 1u) << Describe(*changed);
  ASSERT_EQ(changed->examples.size(), 1u) << Describe(*changed);
  EXPECT_EQ(changed->examples[0].key, "h");
  EXPECT_EQ(changed->examples[0].source_db, 2);
}

TEST_F(VerifyTest, DifferencesBeyondTheTrackingLimitAreCounted) {
  std::vector<Cmd> set;
  for (int i = 0; i < 20; ++i) set.push_back({"SET", "k" + std::to_string(i), "v"});
  RunOn(source_->uri(), 0, set);
  ASSERT_FALSE(HasFatalFailure());
  VerifyOptions options;
  options.max_tracked_keys = 5;
  options.max_examples = 3;
  auto report = Verify(options);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->equal);
  EXPECT_EQ(report->differing_keys, 20u);
  EXPECT_EQ(report->untracked_keys, 15u);
  EXPECT_EQ(report->counts[static_cast<size_t>(DiffKind::kMissing)], 20u);
  EXPECT_EQ(report->examples.size(), 3u);
  ASSERT_FALSE(report->notes.empty());
  EXPECT_NE(report->notes[0].find("--max-tracked-keys"), std::string::npos);
}

TEST_F(VerifyTest, RateLimitSlowsTheCompareDown) {
  std::vector<Cmd> set;
  for (int i = 0; i < 600; ++i) set.push_back({"SET", "k" + std::to_string(i), "v"});
  RunOn(source_->uri(), 0, set);
  RunOn(target_->uri(), 0, set);
  ASSERT_FALSE(HasFatalFailure());
  // Per key about 3 probe commands + DUMP on each end: ~2400 commands per end, at 4000/s.
  VerifyOptions options;
  options.max_ops = 4000;
  options.scan_batch = 100;
  options.compare_functions = false;
  auto start = std::chrono::steady_clock::now();
  auto report = Verify(options);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal) << Describe(*report);
  EXPECT_GE(took, milliseconds(350));
}

// --- rounds ---

TEST_F(VerifyTest, TypeChangingBetweenRoundsIsReadAgain) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  RunOn(target_->uri(), 0, {{"DEL", "db0:str:int"}, {"RPUSH", "db0:str:int", "1"}});
  ASSERT_FALSE(HasFatalFailure());
  VerifyOptions options;
  options.rounds = 3;
  options.interval = milliseconds(50);
  int waits = 0;
  int last_round_seen = 0;
  auto progress = [&](const verify::VerifyProgress& p) {
    if (p.phase != "waiting" || p.round == last_round_seen) return;
    last_round_seen = p.round;
    ++waits;
    // Before round 2 the key becomes a hash on the target; before round 3 a zset.
    if (p.round == 2)
      RunOn(target_->uri(), 0, {{"DEL", "db0:str:int"}, {"HSET", "db0:str:int", "f", "v"}});
    if (p.round == 3)
      RunOn(target_->uri(), 0, {{"DEL", "db0:str:int"}, {"ZADD", "db0:str:int", "1", "m"}});
  };
  auto report = Verify(options, progress);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(waits, 3);
  ASSERT_EQ(report->rounds.size(), 4u);
  ASSERT_EQ(report->examples.size(), 1u) << Describe(*report);
  const auto& d = report->examples[0];
  EXPECT_EQ(d.key, "db0:str:int");
  EXPECT_EQ(d.first_round, 1);
  EXPECT_EQ(d.last_round, 4);
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues[0].kind, DiffKind::kType);
  EXPECT_EQ(d.issues[0].detail, "string vs zset");
}

TEST_F(VerifyTest, RoundsDropKeysThatConverge) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  RunOn(target_->uri(), 0, {{"DEL", "db0:str:int"}, {"LSET", "db0:list:big", "0", "x"}});
  ASSERT_FALSE(HasFatalFailure());
  VerifyOptions options;
  options.rounds = 5;
  options.interval = milliseconds(20);
  bool repaired = false;
  auto progress = [&](const verify::VerifyProgress& p) {
    if (p.phase == "waiting" && p.round == 3 && !repaired) {
      repaired = true;  // the list converges before round 3; the missing key never does
      RunOn(target_->uri(), 0, {{"LSET", "db0:list:big", "0", "element-0"}});
    }
  };
  auto report = Verify(options, progress);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->equal);
  ASSERT_EQ(report->rounds.size(), 6u);
  EXPECT_EQ(report->rounds[0].differing_keys, 2u);
  EXPECT_EQ(report->rounds[1].differing_keys, 2u);
  EXPECT_EQ(report->rounds[2].differing_keys, 1u);
  EXPECT_EQ(report->rounds[5].differing_keys, 1u);
  ASSERT_EQ(report->examples.size(), 1u);
  EXPECT_EQ(report->examples[0].key, "db0:str:int");
  EXPECT_EQ(report->examples[0].last_round, 6);
}

TEST_F(VerifyTest, RoundsConvergeUnderALiveSyncOnceTheWriterStops) {
  SeedEveryType(UriOf(source_->uri()));
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", source_->uri(), "--target", target_->uri()});
  bool online = false;
  for (int i = 0; i < 300 && !online; ++i) {
    online = source_->InfoField("replication", "slave0").find("state=online") != std::string::npos;
    if (!online) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(online) << sync.Stderr();
  auto writer = std::make_unique<Writer>(UriOf(source_->uri()));
  std::this_thread::sleep_for(milliseconds(500));

  VerifyOptions options;
  options.rounds = 30;
  options.interval = milliseconds(300);
  options.scan_batch = 100;
  uint64_t writes_during_round1 = 0;
  auto progress = [&](const verify::VerifyProgress& p) {
    // The writer runs through the whole first pass and stops when round 2 is due.
    if (p.phase == "waiting" && writer) {
      writer->Stop();
      writes_during_round1 = writer->writes();
      EXPECT_EQ(writer->error(), "");
      writer.reset();
    }
  };
  auto report = Verify(options, progress);
  if (writer) writer->Stop();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal) << Describe(*report);
  EXPECT_GT(writes_during_round1, 0u);
  ASSERT_GE(report->rounds.size(), 2u) << Describe(*report);
  EXPECT_GT(report->rounds[0].differing_keys, 0u)
      << "the writer ran through round 1, yet nothing was in flight: " << Describe(*report);
  EXPECT_EQ(report->rounds.back().differing_keys, 0u);
  std::fprintf(stderr, "[ live sync ] round 1 found %llu keys in flight; equal after round %d\n",
               static_cast<unsigned long long>(report->rounds[0].differing_keys),
               report->rounds.back().round);
  sync.Signal(SIGTERM);
  EXPECT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
}

// --- bad input ---

TEST_F(VerifyTest, KeysExpiringDuringTheCompareAreNotDifferences) {
  // 3000 keys with identical absolute expiries 0.3..1.3 s ahead on both ends, read slowly
  // (rate limit, small batches), so many expire between SCAN, TYPE and DUMP.
  const int64_t now =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::vector<Cmd> commands;
  for (int i = 0; i < 3000; ++i) {
    std::string key = "exp:" + std::to_string(i);
    commands.push_back({"SET", key, std::string(i % 7 == 0 ? 3000 : 10, 'v')});
    commands.push_back({"PEXPIREAT", key, std::to_string(now + 300 + (i * 7919) % 1000)});
  }
  RunOn(source_->uri(), 0, commands);
  RunOn(target_->uri(), 0, commands);
  ASSERT_FALSE(HasFatalFailure());
  VerifyOptions options;
  options.scan_batch = 50;
  options.max_ops = 15000;
  options.compare_functions = false;
  auto report = Verify(options);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equal) << Describe(*report);
  EXPECT_GT(report->keys_vanished, 0u) << Describe(*report);
}

TEST_F(VerifyTest, DumpOrMemoryRefusedByAclFallsBackToWindows) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  RunOn(source_->uri(), 0,
        {{"ACL", "SETUSER", "nodump", "on", ">pw", "~*", "&*", "+@all", "-dump"},
         {"ACL", "SETUSER", "nomemory", "on", ">pw", "~*", "&*", "+@all", "-memory"}});
  RunOn(target_->uri(), 15, {{"LSET", "db15:list:big", "7", "changed"}});
  ASSERT_FALSE(HasFatalFailure());
  const std::string endpoint = "127.0.0.1:" + std::to_string(source_->port());
  for (const char* user : {"nodump", "nomemory"}) {
    auto report = verify::Verify(UriOf("redis://" + std::string(user) + ":pw@" + endpoint),
                                 UriOf(target_->uri()), {});
    ASSERT_TRUE(report) << user << ": " << report.error().ToString();
    EXPECT_EQ(report->differing_keys, 1u) << user << "\n" << Describe(*report);
    ASSERT_EQ(report->examples.size(), 1u) << user;
    EXPECT_EQ(report->examples[0].key, "db15:list:big");
    EXPECT_EQ(report->examples[0].issues[0].detail, "element 7: \"element-7\" vs \"changed\"");
    EXPECT_GT(report->big_keys_windowed, 50u) << user;
    ASSERT_FALSE(report->notes.empty()) << user;
    EXPECT_NE(report->notes[0].find(std::string(user) == "nodump" ? "refused DUMP"
                                                                  : "refused MEMORY USAGE"),
              std::string::npos)
        << report->notes[0];
  }
}

TEST_F(VerifyTest, UnreachableEndIsAnErrorNamingIt) {
  VerifyOptions options;
  options.connect_timeout = milliseconds(2000);
  auto report =
      verify::Verify(UriOf(source_->uri()),
                     UriOf("redis://127.0.0.1:" + std::to_string(FreeLoopbackPort())), options);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, verify::VerifyErrc::kUnreachable);
  EXPECT_NE(report.error().message.find("--target"), std::string::npos) << report.error().message;
}

TEST(VerifyAuthTest, WrongOrMissingPasswordIsAnErrorNamingIt) {
  auto source = ServerProcess::Start(ServerKind::kRedis, {.config = {{"requirepass", "secret"}}});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  std::string endpoint = "127.0.0.1:" + std::to_string(source->port());
  auto wrong = verify::Verify(UriOf("redis://:nope@" + endpoint), UriOf(target->uri()), {});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, verify::VerifyErrc::kUnreachable);
  EXPECT_NE(wrong.error().message.find("refused the login"), std::string::npos)
      << wrong.error().message;
  EXPECT_EQ(wrong.error().message.find("nope"), std::string::npos) << "password leaked";
  auto missing = verify::Verify(UriOf("redis://" + endpoint), UriOf(target->uri()), {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("needs a password"), std::string::npos)
      << missing.error().message;
  auto right = verify::Verify(UriOf(source->uri()), UriOf(target->uri()), {});
  ASSERT_TRUE(right) << right.error().ToString();
  EXPECT_TRUE(right->equal);
}

TEST_F(VerifyTest, ServerRestartingMidCompareIsAnErrorNotEqual) {
  SeedOptions seed;
  seed.scale = 4;
  SeedBoth(seed);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<Cmd> many;
  for (int i = 0; i < 5000; ++i) many.push_back({"SET", "many:" + std::to_string(i), "v"});
  RunOn(source_->uri(), 0, many);
  RunOn(target_->uri(), 0, many);
  ASSERT_FALSE(HasFatalFailure());
  VerifyOptions options;
  options.max_ops = 5000;  // slow enough to be mid-compare when the target restarts
  options.scan_batch = 100;
  bool restarted = false;
  auto progress = [&](const verify::VerifyProgress& p) {
    if (!restarted && p.keys_checked >= 500) {
      restarted = true;
      target_->Kill();
      EXPECT_TRUE(target_->Restart());
    }
  };
  auto report = Verify(options, progress);
  EXPECT_TRUE(restarted);
  ASSERT_FALSE(report) << "a compare cut by a restart must not produce a report:\n"
                       << Describe(*report);
  EXPECT_EQ(report.error().code, verify::VerifyErrc::kConnectionLost) << report.error().message;
  EXPECT_NE(report.error().message.find("the target"), std::string::npos) << report.error().message;
  EXPECT_NE(report.error().message.find("run verify again"), std::string::npos);
}

TEST_F(VerifyTest, StopFlagEndsWithAnError) {
  SeedBoth();
  ASSERT_FALSE(HasFatalFailure());
  std::atomic<bool> stop{false};
  auto report = Verify(
      {}, [&](const verify::VerifyProgress&) { stop = true; }, &stop);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, verify::VerifyErrc::kStopped);
}

// --- the CLI ---

TEST_F(VerifyTest, CliAfterSyncOnceIsEqualThenReportsADifferenceAsJson) {
  SeedEveryType(UriOf(source_->uri()));
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", source_->uri(), "--target", target_->uri(), "--once"});
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();

  Subprocess equal(
      {KeyferryBinary(), "verify", "--source", source_->uri(), "--target", target_->uri()});
  ASSERT_EQ(equal.Wait(seconds(60)), 0) << equal.Stdout() << equal.Stderr();
  EXPECT_NE(equal.Stdout().find("result: EQUAL"), std::string::npos) << equal.Stdout();
  EXPECT_NE(equal.Stdout().find("keys/s"), std::string::npos) << equal.Stdout();

  RunOn(target_->uri(), 3, {{"HDEL", "db3:hash:big", "field-9"}});
  ASSERT_FALSE(HasFatalFailure());
  Subprocess differs({KeyferryBinary(), "verify", "--source", source_->uri(), "--target",
                      target_->uri(), "--json", "--rounds", "1", "--interval", "100ms"});
  ASSERT_EQ(differs.Wait(seconds(60)), 1) << differs.Stdout() << differs.Stderr();
  auto j = nlohmann::json::parse(differs.Stdout());
  EXPECT_EQ(j["result"], "different");
  EXPECT_EQ(j["counts"]["value"], 1);
  EXPECT_EQ(j["differing_keys"], 1);
  ASSERT_EQ(j["examples"].size(), 1u);
  EXPECT_EQ(j["examples"][0]["db"], 3);
  EXPECT_EQ(j["examples"][0]["key"], "db3:hash:big");
  EXPECT_EQ(j["examples"][0]["last_round"], 2);
  EXPECT_EQ(j["rounds"].size(), 2u);

  Subprocess human(
      {KeyferryBinary(), "verify", "--source", source_->uri(), "--target", target_->uri()});
  ASSERT_EQ(human.Wait(seconds(60)), 1);
  EXPECT_NE(human.Stdout().find("value differs              1"), std::string::npos)
      << human.Stdout();
  EXPECT_NE(human.Stdout().find("[value] db3 db3:hash:big: field \"field-9\" missing on target"),
            std::string::npos)
      << human.Stdout();
}

TEST_F(VerifyTest, CliErrorsExitTwo) {
  std::string nowhere = "redis://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  Subprocess unreachable(
      {KeyferryBinary(), "verify", "--source", source_->uri(), "--target", nowhere, "--json"});
  ASSERT_EQ(unreachable.Wait(seconds(30)), 2);
  EXPECT_NE(unreachable.Stderr().find("--target"), std::string::npos) << unreachable.Stderr();
  auto j = nlohmann::json::parse(unreachable.Stdout());
  EXPECT_EQ(j["result"], "error");

  Subprocess bad_mode({KeyferryBinary(), "verify", "--source", source_->uri(), "--target",
                       target_->uri(), "--mode", "sample:2"});
  ASSERT_EQ(bad_mode.Wait(seconds(30)), 2);
  EXPECT_NE(bad_mode.Stderr().find("sample rate"), std::string::npos) << bad_mode.Stderr();

  Subprocess bad_interval({KeyferryBinary(), "verify", "--source", source_->uri(), "--target",
                           target_->uri(), "--interval", "soon"});
  ASSERT_EQ(bad_interval.Wait(seconds(30)), 2);
  EXPECT_NE(bad_interval.Stderr().find("--interval"), std::string::npos) << bad_interval.Stderr();
}

}  // namespace
}  // namespace kf::test
