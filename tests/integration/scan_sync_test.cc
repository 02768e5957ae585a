// keyferry sync --source-mode scan (issue #12 §2): a source that refuses PSYNC, SYNC and
// CONFIG (renamed, as a managed service does; the harness cannot pass the empty name on a
// command line, so they are renamed to names nobody knows) with notify-keyspace-events set
// in its configuration.
//  1. replica mode is refused there, and its message points at scan mode;
//  2. `--once` copies every type, TTLs, stream groups and the function library, equal;
//  3. live: writers of every type (INCR, RPUSH/LPOP, ZINCRBY, XADD, MULTI, keys with 250 ms
//     TTLs, DEL) and a hot key written every millisecond run during and after the copy; once
//     they stop, the target converges to the source (compared key by key), and the stop
//     ends the sync with exit 0;
//  4. the notification connection is killed (CLIENT KILL TYPE pubsub) while keys are
//     deleted and changed: the sync says it re-scans, and the target converges, deletions
//     included;
//  6. a 3-primary Redis Cluster source: one scan per primary; every type equal after
//     --once; live INCR/RPUSH on every shard exact, with one primary's subscription cut
//     while keys of its slots are deleted (its re-scan must not delete other shards' keys);
//  5. missing notification classes: named, with what to set, when CONFIG is refused; set by
//     keyferry and set back afterwards when CONFIG is allowed.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness/cluster_counter_writer.h"
#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/cluster_slots.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A source as a managed service shows it: no replication commands, no CONFIG.
std::unique_ptr<ServerProcess> StartManagedLikeSource(const std::string& notify = "KEA") {
  ServerOptions o;
  o.config = {{"rename-command", "PSYNC kf-test-hidden-psync"},
              {"rename-command", "SYNC kf-test-hidden-sync"},
              {"rename-command", "CONFIG kf-test-hidden-config"}};
  if (!notify.empty()) o.config.push_back({"notify-keyspace-events", notify});
  return ServerProcess::Start(ServerKind::kRedis, o);
}

std::vector<std::string> ScanArgs(const ServerProcess& source, const ServerProcess& target,
                                  std::vector<std::string> more = {}) {
  std::vector<std::string> args = {KeyferryBinary(), "--log-level", "info",     "sync",
                                   "--source",       source.uri(),  "--target", target.uri(),
                                   "--source-mode",  "scan"};
  for (auto& m : more) args.push_back(std::move(m));
  return args;
}

// Waits (at most `limit`) until the two ends hold the same data; the last differences.
std::vector<std::string> WaitConverged(const ServerProcess& source, const ServerProcess& target,
                                       milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<std::string> diffs;
  do {
    diffs = CanonicalDiff(UriOf(source.uri()), UriOf(target.uri()));
    if (diffs.empty()) return diffs;
    std::this_thread::sleep_for(milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  return diffs;
}

TEST(ScanSyncTest, ASourceRefusingPsyncIsCopiedWithScanModeOnce) {
  auto source = StartManagedLikeSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);

  Subprocess replica(
      {KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(), "--once"});
  EXPECT_EQ(replica.Wait(seconds(60)), 2) << replica.Stderr();
  EXPECT_NE(replica.Stderr().find("--source-mode scan"), std::string::npos) << replica.Stderr();

  Subprocess scan(ScanArgs(*source, *target, {"--once", "--flush-target"}));
  ASSERT_EQ(scan.Wait(seconds(60)), 0) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("probing its keyspace notifications"), std::string::npos)
      << scan.Stderr();
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(source->Call({"KEYS", "keyferry:*"}), "") << "the probe's keys must be gone";
}

TEST(ScanSyncTest, LiveWritesOfEveryTypeConvergeAndStopEndsWell) {
  auto source = StartManagedLikeSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()), {.scale = 4});
  ASSERT_FALSE(HasFatalFailure());
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);

  Writer writer(UriOf(source->uri()));
  std::atomic<bool> hot_stop{false};
  std::atomic<int> hot_writes{0};
  std::thread hot([&] {  // one key written every millisecond
    auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (!hot_stop && std::chrono::steady_clock::now() < deadline) {
      source->Call({"INCR", "hot:counter"});
      ++hot_writes;
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  Subprocess scan(ScanArgs(*source, *target));
  std::this_thread::sleep_for(milliseconds(3000));
  ASSERT_TRUE(scan.running()) << scan.Stderr();
  writer.Stop();
  hot_stop = true;
  hot.join();
  EXPECT_EQ(writer.error(), "");
  EXPECT_GT(writer.writes(), 100u);
  EXPECT_GT(hot_writes.load(), 100);

  auto diffs = WaitConverged(*source, *target, milliseconds(20000));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(target->Call({"GET", "hot:counter"}), source->Call({"GET", "hot:counter"}));
  scan.Signal(SIGTERM);
  EXPECT_EQ(scan.Wait(seconds(30)), 0) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("notified keys copied again"), std::string::npos) << scan.Stderr();
}

TEST(ScanSyncTest, ACutNotificationConnectionIsFollowedByARescan) {
  auto source = StartManagedLikeSource();
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  for (int i = 0; i < 200; ++i) source->Call({"SET", "gap:" + std::to_string(i), "before"});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  Subprocess scan(ScanArgs(*source, *target));
  ASSERT_TRUE(WaitConverged(*source, *target, milliseconds(20000)).empty()) << scan.Stderr();

  // Cut the subscription, then change and delete keys while it may be down.
  source->Call({"CLIENT", "KILL", "TYPE", "pubsub"});
  for (int i = 0; i < 200; ++i) {
    if (i % 2 == 0) {
      source->Call({"DEL", "gap:" + std::to_string(i)});
    } else {
      source->Call({"SET", "gap:" + std::to_string(i), "after"});
    }
  }
  auto diffs = WaitConverged(*source, *target, milliseconds(20000));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(target->Call({"EXISTS", "gap:0"}), "0");
  EXPECT_EQ(target->Call({"GET", "gap:1"}), "after");
  scan.Signal(SIGTERM);
  EXPECT_EQ(scan.Wait(seconds(30)), 0) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("keyspace notifications were lost"), std::string::npos)
      << scan.Stderr();
}

// FLUSHDB, FLUSHALL and SWAPDB send no keyspace notification (checked on Redis 7.0): scan
// mode sees them in INFO commandstats and copies everything again, deleting what the source
// no longer has. A FUNCTION LOAD, which it cannot follow, ends the run with exit 2.
TEST(ScanSyncTest, FlushdbAndSwapdbAreFollowedAndAFunctionChangeStopsTheRun) {
  auto source = StartManagedLikeSource();
  ASSERT_TRUE(source);
  for (int i = 0; i < 300; ++i) source->Call({"SET", "flush:" + std::to_string(i), "v"});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  Subprocess scan(ScanArgs(*source, *target));
  ASSERT_TRUE(WaitConverged(*source, *target, milliseconds(20000)).empty()) << scan.Stderr();

  source->Call({"FLUSHDB"});
  source->Call({"SET", "after-flush", "1"});
  auto diffs = WaitConverged(*source, *target, milliseconds(20000));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(target->Call({"EXISTS", "flush:0"}), "0");

  // db 0 moves to db 5 and the empty db 5 to db 0.
  source->Call({"SWAPDB", "0", "5"});
  diffs = WaitConverged(*source, *target, milliseconds(20000));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(target->Call({"EXISTS", "after-flush"}), "0");
  EXPECT_NE(scan.Stderr().find("ran FLUSHDB, FLUSHALL or SWAPDB"), std::string::npos)
      << scan.Stderr();

  source->Call({"FUNCTION", "LOAD",
                "#!lua name=latecomer\nredis.register_function('late', function() return 1 end)"});
  EXPECT_EQ(scan.Wait(seconds(30)), 2) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("function libraries of the source"), std::string::npos)
      << scan.Stderr();
}

// Without INFO commandstats a FLUSHDB would go unseen and the target keep keys the source
// dropped: scan mode refuses such a source before writing anything (it used to warn and go on).
TEST(ScanSyncTest, ASourceRefusingInfoCommandstatsIsRefusedBeforeAnyWrite) {
  auto source = StartManagedLikeSource();
  ASSERT_TRUE(source);
  ASSERT_EQ(source->Call({"ACL", "SETUSER", "scanner", "on", ">pw", "~*", "&*", "+@all", "-info",
                          "+info|server", "+info|keyspace"}),
            "OK");
  source->Call({"SET", "k", "v"});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  const std::string as_scanner = "redis://scanner:pw@127.0.0.1:" + std::to_string(source->port());
  Subprocess scan({KeyferryBinary(), "sync", "--source", as_scanner, "--target", target->uri(),
                   "--source-mode", "scan", "--once"});
  EXPECT_EQ(scan.Wait(seconds(60)), 2) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("refuses INFO commandstats"), std::string::npos) << scan.Stderr();
  EXPECT_EQ(target->Call({"DBSIZE"}), "0") << "nothing may be written";
}

TEST(ScanSyncTest, MissingNotificationClassesAreNamedOrSetAndSetBack) {
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  {
    // CONFIG refused and notifications off: the error names the classes and the fix.
    auto source = StartManagedLikeSource("");
    ASSERT_TRUE(source);
    source->Call({"SET", "k", "v"});
    Subprocess scan(ScanArgs(*source, *target, {"--once"}));
    EXPECT_EQ(scan.Wait(seconds(60)), 2) << scan.Stderr();
    EXPECT_NE(scan.Stderr().find("lacks the classes \"K"), std::string::npos) << scan.Stderr();
    EXPECT_NE(scan.Stderr().find("parameter group"), std::string::npos) << scan.Stderr();
    EXPECT_EQ(target->Call({"DBSIZE"}), "0") << "nothing is copied without notifications";
    EXPECT_EQ(source->Call({"KEYS", "keyferry:*"}), "");
  }
  {
    // Only some classes, CONFIG refused: exactly the missing ones are named.
    auto source = StartManagedLikeSource("K$g");
    ASSERT_TRUE(source);
    Subprocess scan(ScanArgs(*source, *target, {"--once"}));
    EXPECT_EQ(scan.Wait(seconds(60)), 2) << scan.Stderr();
    EXPECT_NE(scan.Stderr().find("lacks the classes \"lshztx\""), std::string::npos)
        << scan.Stderr();
  }
  {
    // CONFIG allowed: keyferry adds the classes and sets the old value back at the end.
    auto source = ServerProcess::Start(ServerKind::kRedis);
    ASSERT_TRUE(source);
    source->Call({"SET", "k", "v"});
    Subprocess scan(ScanArgs(*source, *target, {"--once", "--flush-target"}));
    EXPECT_EQ(scan.Wait(seconds(60)), 0) << scan.Stderr();
    EXPECT_EQ(target->Call({"GET", "k"}), "v");
    EXPECT_EQ(source->Call({"CONFIG", "GET", "notify-keyspace-events"}),
              "notify-keyspace-events\n");
  }
}

TEST(ScanSyncTest, AClusterSourceIsScannedOnEveryPrimary) {
  auto source = ClusterProcess::Start(
      ServerKind::kRedis, {.primaries = 3, .config = {{"notify-keyspace-events", "KEA"}}});
  ASSERT_TRUE(source);
  SeedEveryTypeForCompare(*source);
  ASSERT_FALSE(HasFatalFailure());
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  const std::vector<net::Uri> target_nodes = {UriOf(target->uri())};

  std::vector<std::string> once = {KeyferryBinary(), "--log-level", "info",     "sync",
                                   "--source",       source->uri(), "--target", target->uri(),
                                   "--source-mode",  "scan",        "--once"};
  Subprocess first(once);
  ASSERT_EQ(first.Wait(seconds(60)), 0) << first.Stderr();
  EXPECT_NE(first.Stderr().find("scan mode from a cluster source: 3 primaries"), std::string::npos)
      << first.Stderr();
  auto diffs = CanonicalDiff(source->PrimaryUris(), target_nodes);
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);

  // Live: counters on every shard, and one primary's subscription cut while keys of its
  // slots are deleted.
  ServerProcess* cut = source->OwnerOfSlot(0);
  std::vector<std::string> doomed;  // keys of the cut primary's slots, deleted in the gap
  for (int i = 0; i < 200 && doomed.size() < 20; ++i) {
    const std::string key = "gone:{" + std::to_string(i) + "}";
    if (source->OwnerOfSlot(net::KeySlot(key)) != cut) continue;
    cut->Call({"SET", key, "x"});
    doomed.push_back(key);
  }
  ASSERT_EQ(doomed.size(), 20u);
  std::vector<std::string> live(once.begin(), once.end() - 1);
  live.push_back("--flush-target");
  Subprocess scan(live);
  ClusterCounterWriter writer(source.get());
  std::this_thread::sleep_for(milliseconds(1500));
  ASSERT_TRUE(scan.running()) << scan.Stderr();
  ASSERT_EQ(target->Call({"EXISTS", doomed.front()}), "1");
  cut->Call({"CLIENT", "KILL", "TYPE", "pubsub"});
  for (const auto& key : doomed) cut->Call({"DEL", key});
  std::this_thread::sleep_for(milliseconds(1500));
  writer.Stop();
  EXPECT_EQ(writer.error(), "");
  EXPECT_GT(writer.rounds(), 10u);
  auto deadline = std::chrono::steady_clock::now() + seconds(20);
  do {
    diffs = CanonicalDiff(source->PrimaryUris(), target_nodes);
    if (diffs.empty()) break;
    std::this_thread::sleep_for(milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  ExpectCountersExact(*target, writer.acked());
  EXPECT_EQ(target->Call({"EXISTS", doomed.back()}), "0");
  scan.Signal(SIGTERM);
  EXPECT_EQ(scan.Wait(seconds(30)), 0) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("keyspace notifications were lost"), std::string::npos)
      << scan.Stderr();
}

// A target that starts evicting while a scan sync follows: the run must end with exit 2
// naming the evictions, never 0. (The follower looks once a second and once more when the
// run ends; this test does not place the eviction inside the last second, so it passes
// with either look alone.)
TEST(ScanSyncTest, EvictionsDuringTheRunFailIt) {
  auto source = StartManagedLikeSource();
  ASSERT_TRUE(source);
  for (int i = 0; i < 50; ++i) source->Call({"SET", "k" + std::to_string(i), "v"});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  Subprocess scan(ScanArgs(*source, *target));
  ASSERT_TRUE(WaitConverged(*source, *target, milliseconds(20000)).empty()) << scan.Stderr();
  // Now the target evicts as soon as anything arrives.
  const std::string used = target->InfoField("memory", "used_memory");
  ASSERT_EQ(target->Call({"CONFIG", "SET", "maxmemory-policy", "allkeys-random"}), "OK");
  ASSERT_EQ(target->Call({"CONFIG", "SET", "maxmemory", used}), "OK");
  const std::string big(256 * 1024, 'x');
  for (int i = 0; i < 8; ++i) source->Call({"SET", "big" + std::to_string(i), big});
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (target->InfoField("stats", "evicted_keys") == "0" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_NE(target->InfoField("stats", "evicted_keys"), "0");
  scan.Signal(SIGTERM);
  EXPECT_EQ(scan.Wait(seconds(30)), 2) << scan.Stderr();
  EXPECT_NE(scan.Stderr().find("evicted"), std::string::npos) << scan.Stderr();
}

}  // namespace
}  // namespace kf::test
