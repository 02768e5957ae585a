// keyferry sync of values above --big-key-threshold (issue #10): a big string stored raw,
// a big string stored LZF-compressed and a big list go from Redis 7.0 to Valkey 8.0 in
// bounded pieces. Each copy must be byte-identical with its expiry, and keyferry's peak
// RSS must grow by less than half the value over a run that skips the value (so holding
// the value whole even once cannot pass). A link cut mid-value starts the snapshot over;
// a keyferry killed mid-value leaves a target it refuses to call done; a target that runs
// out of memory mid-value stops the run with the key named.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "harness/tcp_proxy.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kThreshold[] = "1048576";
constexpr size_t kMiB = size_t{1} << 20;

int64_t ExpiryInOneHour() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() + 3600000;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// Text the source stores LZF-compressed (rdbcompression is on by default).
std::string Text(size_t n) {
  std::string s;
  s.reserve(n + 100);
  for (int i = 0; s.size() < n; ++i) {
    s += "line " + std::to_string(i % 5000) + ": keyferry copies big values in pieces\n";
  }
  s.resize(n);
  return s;
}

// Writes `value` at `key` with APPENDs of 1 MiB, then PEXPIREAT.
void LoadString(const ServerProcess& server, const std::string& key, const std::string& value,
                int64_t expire_ms) {
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(server.uri())).has_value());
  for (size_t at = 0; at < value.size(); at += kMiB) {
    auto r = client.Call({"APPEND", key, value.substr(at, kMiB)});
    ASSERT_TRUE(r && !r->is_error()) << "APPEND " << key;
  }
  auto r = client.Call({"PEXPIREAT", key, std::to_string(expire_ms)});
  ASSERT_TRUE(r && !r->is_error());
}

// A list of `count` 32-byte elements ("element:" and a zero-padded number).
void LoadList(const ServerProcess& server, const std::string& key, size_t count,
              int64_t expire_ms) {
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(server.uri())).has_value());
  char element[40];
  for (size_t done = 0; done < count; done += 1000) {
    std::vector<std::string> args = {"RPUSH", key};
    for (size_t j = done; j < std::min(count, done + 1000); ++j) {
      std::snprintf(element, sizeof element, "element:%024zu", j);
      args.emplace_back(element);
    }
    auto r = client.Call(args);
    ASSERT_TRUE(r && !r->is_error()) << "RPUSH " << key;
  }
  auto r = client.Call({"PEXPIREAT", key, std::to_string(expire_ms)});
  ASSERT_TRUE(r && !r->is_error());
}

// The numbers of keyferry's "snapshot applied" log line.
struct SnapshotLine {
  long keys = -1, chunked = -1, bytes = -1;
};
SnapshotLine ParseSnapshotLine(const std::string& log) {
  static const std::regex re(
      R"(snapshot applied: (\d+) keys \((\d+) chunked, \d+ skipped\), \d+ functions, (\d+) bytes)");
  SnapshotLine out;
  std::smatch m;
  if (std::regex_search(log, m, re)) {
    out.keys = std::stol(m[1]);
    out.chunked = std::stol(m[2]);
    out.bytes = std::stol(m[3]);
  }
  return out;
}

// Compares one string key on both ends in GETRANGE windows of 1 MiB, with its length and
// expiry; "" when equal.
std::string CompareStringWindows(const ServerProcess& a, const ServerProcess& b,
                                 const std::string& key) {
  std::string len = a.Call({"STRLEN", key});
  if (len != b.Call({"STRLEN", key})) return "STRLEN differs: " + len;
  if (a.Call({"PEXPIRETIME", key}) != b.Call({"PEXPIRETIME", key})) return "expiry differs";
  const size_t n = std::stoul(len);
  for (size_t at = 0; at < n; at += kMiB) {
    std::vector<std::string> cmd = {"GETRANGE", key, std::to_string(at),
                                    std::to_string(std::min(n, at + kMiB) - 1)};
    if (a.Call(cmd) != b.Call(cmd))
      return "bytes differ in the window at offset " + std::to_string(at);
  }
  return "";
}

class BigValueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ =
        ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
    target_ = ServerProcess::Start(ServerKind::kValkey);
    ASSERT_TRUE(source_ && target_);
    expire_ms_ = ExpiryInOneHour();
  }

  // Runs `keyferry sync` (continuous) with `extra` arguments until it has applied the
  // snapshot (its progress JSON says phase "stream": past the barrier) and the target has
  // applied the source's offset, reads keyferry's peak RSS, stops it (SIGTERM, exit 0).
  // Returns the peak in KiB and keeps the log in *log.
  long SyncAndPeakRssKb(const std::vector<std::string>& extra, std::string* log,
                        const std::string& source_uri = "") {
    std::vector<std::string> argv = {KeyferryBinary(),
                                     "--log-level",
                                     "info",
                                     "sync",
                                     "--json-progress",
                                     "--source",
                                     source_uri.empty() ? source_->uri() : source_uri,
                                     "--target",
                                     target_->uri()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Subprocess sync(argv);
    bool streaming = false;
    for (int i = 0; i < 1200 && !streaming && sync.running(); ++i) {
      streaming = sync.Stdout().find("\"phase\":\"stream\"") != std::string::npos;
      if (!streaming) std::this_thread::sleep_for(milliseconds(100));
    }
    bool caught_up = streaming && WaitForReplicaCaughtUp(UriOf(source_->uri()), 60000);
    long peak = sync.PeakRssKb();
    sync.Signal(SIGTERM);
    int rc = sync.Wait(seconds(30));
    *log = sync.Stderr();
    EXPECT_TRUE(streaming) << *log;
    EXPECT_TRUE(caught_up) << *log;
    EXPECT_EQ(rc, 0) << *log;
    EXPECT_GT(peak, 0);
    return peak;
  }

  // Copies the source (holding one big value of `value_bytes`) twice: once skipping it
  // (--match), for keyferry's baseline, then with the low threshold. Checks that it went
  // as chunked commands, that both ends are equal, and that the peak RSS grew by less
  // than half the value. Returns the log of the second run.
  std::string CopyAndCheck(size_t value_bytes) {
    std::string base_log, log;
    long base = SyncAndPeakRssKb({"--match", "not-this-key"}, &base_log);
    EXPECT_EQ(target_->Call({"DBSIZE"}), "0") << base_log;
    long peak = SyncAndPeakRssKb({"--big-key-threshold", kThreshold}, &log);
    SnapshotLine line = ParseSnapshotLine(log);
    EXPECT_EQ(line.keys, 1) << log;
    EXPECT_EQ(line.chunked, 1) << log;
    auto diffs = CanonicalDiff(UriOf(source_->uri()), UriOf(target_->uri()));
    EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
    long grown_kb = peak - base;
    std::printf(
        "  peak RSS: %ld KiB skipping the value, %ld KiB copying it (+%ld KiB for a "
        "%zu KiB value)\n",
        base, peak, grown_kb, value_bytes / 1024);
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's quarantine keeps freed memory resident: RSS says nothing here
    // (the sanitized build checks the copy's memory safety; the normal build its RSS).
    (void)grown_kb;
#else
    EXPECT_LT(grown_kb, static_cast<long>(value_bytes / 2 / 1024))
        << "keyferry's peak RSS grew by " << grown_kb << " KiB copying a value of "
        << value_bytes / 1024 << " KiB";
#endif
    return log;
  }

  std::unique_ptr<ServerProcess> source_;
  std::unique_ptr<ServerProcess> target_;
  int64_t expire_ms_ = 0;
};

TEST_F(BigValueTest, RawStringGoesInPiecesWithFlatMemory) {
  const std::string value = RandomBytes(32 * kMiB, 1);  // random: saved raw, not LZF
  LoadString(*source_, "big:raw", value, expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  std::string log = CopyAndCheck(value.size());
  EXPECT_GT(ParseSnapshotLine(log).bytes, static_cast<long>(value.size())) << "not stored raw";
  EXPECT_EQ(CompareStringWindows(*source_, *target_, "big:raw"), "");
}

TEST_F(BigValueTest, LzfStringIsDecompressedAsItStreams) {
  const std::string value = Text(32 * kMiB);
  LoadString(*source_, "big:text", value, expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  std::string log = CopyAndCheck(value.size());
  // The RDB carried it LZF-compressed: far fewer bytes than the value.
  long rdb_bytes = ParseSnapshotLine(log).bytes;
  EXPECT_GT(rdb_bytes, 0) << log;
  EXPECT_LT(rdb_bytes, static_cast<long>(value.size() / 4)) << "not stored LZF-compressed";
  EXPECT_EQ(CompareStringWindows(*source_, *target_, "big:text"), "");
}

TEST_F(BigValueTest, ListGoesInChunksWithFlatMemory) {
  const size_t count = 1000000;  // 32 MB of elements, a quicklist of listpacks
  LoadList(*source_, "big:list", count, expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  CopyAndCheck(count * 32);
  EXPECT_EQ(target_->Call({"LLEN", "big:list"}), std::to_string(count));
  EXPECT_EQ(target_->Call({"LINDEX", "big:list", "-1"}), "element:000000000000000000999999");
}

TEST_F(BigValueTest, EveryTypeAboveATinyThresholdIsCopiedEqual) {
  // Every value of every type and encoding above 1 KiB goes as chunked commands (strings as
  // SETRANGE pieces, LZF-compressed ones decompressed on the way) and reads back equal.
  SeedEveryType(UriOf(source_->uri()));
  ASSERT_FALSE(HasFatalFailure());
  LoadString(*source_, "big:text", Text(3 * kMiB), expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync({KeyferryBinary(), "--log-level", "info", "sync", "--once", "--source",
                   source_->uri(), "--target", target_->uri(), "--big-key-threshold", "1024"});
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
  SnapshotLine line = ParseSnapshotLine(sync.Stderr());
  EXPECT_GE(line.chunked, 8) << sync.Stderr();
  std::printf("  %ld of %ld keys went as chunked commands\n", line.chunked, line.keys);
  auto diffs = CanonicalDiff(UriOf(source_->uri()), UriOf(target_->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

TEST_F(BigValueTest, LinkCutMidValueStartsTheSnapshotOver) {
  const std::string value = RandomBytes(24 * kMiB, 2);
  LoadString(*source_, "big:cut", value, expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source_->port());
  proxy.CutAfterServerBytes(value.size() / 2);  // once, mid-value
  std::string log;
  SyncAndPeakRssKb({"--big-key-threshold", kThreshold}, &log,
                   "redis://127.0.0.1:" + std::to_string(proxy.port()));
  EXPECT_NE(log.find("starting over"), std::string::npos) << log;
  EXPECT_NE(log.find("emptying the target before the new full sync"), std::string::npos) << log;
  EXPECT_EQ(source_->InfoField("stats", "sync_full"), "2");
  auto diffs = CanonicalDiff(UriOf(source_->uri()), UriOf(target_->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(CompareStringWindows(*source_, *target_, "big:cut"), "");
}

TEST_F(BigValueTest, KilledMidValueLeavesATargetThatIsNotTakenAsDone) {
  const std::string value = RandomBytes(16 * kMiB, 3);
  LoadString(*source_, "big:kill", value, expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source_->port());
  proxy.SetServerRateLimit(4 * kMiB);  // about 4 s for the value
  {
    Subprocess sync({KeyferryBinary(), "sync", "--once", "--source",
                     "redis://127.0.0.1:" + std::to_string(proxy.port()), "--target",
                     target_->uri(), "--big-key-threshold", kThreshold});
    // The key exists on the target from the first SETRANGE on (at its whole length).
    bool started = false;
    for (int i = 0; i < 600 && !started; ++i) {
      started = target_->Call({"EXISTS", "big:kill"}) == "1";
      if (!started) std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(started) << sync.Stderr();
    sync.Signal(SIGKILL);
    EXPECT_EQ(sync.Wait(seconds(10)), 128 + SIGKILL);
  }
  // A half value sits on the target...
  EXPECT_NE(CompareStringWindows(*source_, *target_, "big:kill"), "");
  // ... and the next run does not take the target for a finished copy.
  proxy.SetServerRateLimit(0);
  Subprocess again({KeyferryBinary(), "sync", "--once", "--source", source_->uri(), "--target",
                    target_->uri(), "--big-key-threshold", kThreshold});
  EXPECT_EQ(again.Wait(seconds(60)), 2) << again.Stderr();
  EXPECT_NE(again.Stderr().find("--flush-target"), std::string::npos) << again.Stderr();
  Subprocess redo({KeyferryBinary(), "sync", "--once", "--flush-target", "--source", source_->uri(),
                   "--target", target_->uri(), "--big-key-threshold", kThreshold});
  ASSERT_EQ(redo.Wait(seconds(120)), 0) << redo.Stderr();
  EXPECT_EQ(CompareStringWindows(*source_, *target_, "big:kill"), "");
}

TEST_F(BigValueTest, TargetOutOfMemoryMidValueStopsTheRunNamingTheKey) {
  auto small = ServerProcess::Start(ServerKind::kValkey, {.config = {{"maxmemory", "8mb"}}});
  ASSERT_TRUE(small);
  const std::string value = RandomBytes(16 * kMiB, 4);
  LoadString(*source_, "big:oom", value, expire_ms_);
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync({KeyferryBinary(), "sync", "--once", "--source", source_->uri(), "--target",
                   small->uri(), "--big-key-threshold", kThreshold});
  EXPECT_EQ(sync.Wait(seconds(60)), 2) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("out of memory"), std::string::npos) << sync.Stderr();
  EXPECT_NE(sync.Stderr().find("big:oom"), std::string::npos) << sync.Stderr();
}

}  // namespace
}  // namespace kf::test
