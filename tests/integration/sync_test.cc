// keyferry sync against real servers: Redis 7.0 → Valkey 8.0 with every type, several dbs,
// millisecond TTLs and a function library while a writer runs; resume after cuts through
// a loopback proxy; clear errors for bad endpoints.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "harness/tcp_proxy.h"
#include "net/client.h"
#include "net/uri.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::unique_ptr<ServerProcess> StartSource() {
  return ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"},
                                                              {"repl-backlog-size", "64mb"}}});
}

// GET http://127.0.0.1:<port><path> with a raw socket; the whole response, or "".
std::string HttpGet(int port, const std::string& path) {
  int fd = ConnectLoopback(port, seconds(10));
  if (fd < 0) return "";
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

// For a continuous sync after a link cut: waits until the target has applied all of the
// source's offset, stops the sync with SIGTERM (exit 0), and checks that the source served
// one full sync and at least one CONTINUE and that both ends hold the same data.
void ExpectCaughtUpStoppedAndResumedByContinue(const ServerProcess& source,
                                               const ServerProcess& target, Subprocess& sync,
                                               int catch_up_ms) {
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source.uri()), catch_up_ms)) << sync.Stderr();
  sync.Signal(SIGTERM);
  ASSERT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  EXPECT_EQ(source.InfoField("stats", "sync_full"), "1");
  EXPECT_GE(std::stoi(source.InfoField("stats", "sync_partial_ok")), 1);
  auto diffs = CanonicalDiff(UriOf(source.uri()), UriOf(target.uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

TEST(SyncTest, OnceCopiesEveryTypeWhileAWriterRuns) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  std::string dir = MakeTempDir("kf-sync-");
  std::string checkpoint = dir + "/cp.json";
  {
    Writer writer(UriOf(source->uri()));
    std::this_thread::sleep_for(milliseconds(200));
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                     "--once", "--checkpoint", checkpoint});
    int rc = sync.Wait(seconds(120));
    ASSERT_EQ(rc, 0) << sync.Stderr();
    writer.Stop();
    std::this_thread::sleep_for(milliseconds(400));  // the writer's 250 ms keys expire
    EXPECT_GT(writer.writes(), 0u);
    EXPECT_EQ(writer.error(), "");
  }
  // The writer's last writes came after --once finished; a second --once continues from
  // the checkpoint (no second full sync) and catches up.
  Subprocess again({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                    "--once", "--checkpoint", checkpoint});
  ASSERT_EQ(again.Wait(seconds(60)), 0) << again.Stderr();
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "1");
  EXPECT_EQ(source->InfoField("stats", "sync_partial_ok"), "1");
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  RemoveTree(dir);
}

TEST(SyncTest, ContinuousModeStopsCleanlyOnSigterm) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  int status_port = FreeLoopbackPort();
  Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                   "--status-addr", "127.0.0.1:" + std::to_string(status_port)});
  {
    Writer writer(UriOf(source->uri()));
    std::this_thread::sleep_for(seconds(3));
    // /status serves the live numbers as JSON while the sync runs.
    std::string status = HttpGet(status_port, "/status");
    EXPECT_NE(status.find("200 OK"), std::string::npos) << status;
    EXPECT_NE(status.find("\"phase\":\"stream\""), std::string::npos) << status;
    EXPECT_NE(status.find("\"applied_offset\""), std::string::npos) << status;
    writer.Stop();
    std::this_thread::sleep_for(milliseconds(400));  // the writer's 250 ms keys expire
    EXPECT_EQ(writer.error(), "");
  }
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 30000)) << sync.Stderr();
  sync.Signal(SIGTERM);
  ASSERT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

TEST(SyncTest, LinkCutMidStreamContinuesWithoutSecondFullSync) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source->port());
  std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  Subprocess sync({KeyferryBinary(), "sync", "--source", via_proxy, "--target", target->uri()});
  {
    Writer writer(UriOf(source->uri()));
    bool online = false;
    for (int i = 0; i < 300 && !online; ++i) {
      online = source->InfoField("replication", "slave0").find("state=online") != std::string::npos;
      if (!online) std::this_thread::sleep_for(milliseconds(100));
    }
    ASSERT_TRUE(online) << sync.Stderr() << source->Call({"INFO", "replication"});
    std::this_thread::sleep_for(milliseconds(500));
    proxy.CutAll();
    std::this_thread::sleep_for(seconds(2));
    writer.Stop();
    std::this_thread::sleep_for(milliseconds(400));  // the writer's 250 ms keys expire
  }
  ExpectCaughtUpStoppedAndResumedByContinue(*source, *target, sync, 30000);
}

// The target stalls (CLIENT PAUSE) while the writer runs, so megabytes of stream wait
// unapplied when the link is cut; the resume replays them from the source's backlog
// through the same proxy that carries keyferry's other source connections.
TEST(SyncTest, LinkCutWithMegabytesUnappliedReplaysTheBacklog) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  source->Call({"SET", "before", "1"});
  TcpProxy proxy(source->port());
  std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  Subprocess sync({KeyferryBinary(), "sync", "--source", via_proxy, "--target", target->uri()});
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 30000)) << sync.Stderr();
  int64_t offset_at_cut = 0;
  {
    ASSERT_EQ(target->Call({"CLIENT", "PAUSE", "30000", "WRITE"}), "OK");
    Writer writer(UriOf(source->uri()));
    // Until 2 MB of stream wait unapplied (bounded: a slow build writes less per second).
    for (int i = 0; i < 300 && offset_at_cut < (2 << 20); ++i) {
      std::this_thread::sleep_for(milliseconds(50));
      offset_at_cut = std::stoll(source->InfoField("replication", "master_repl_offset"));
    }
    proxy.CutAll();
    std::this_thread::sleep_for(milliseconds(500));
    ASSERT_EQ(target->Call({"CLIENT", "UNPAUSE"}), "OK");
    std::this_thread::sleep_for(milliseconds(1000));
    writer.Stop();
    std::this_thread::sleep_for(milliseconds(400));  // the writer's 250 ms keys expire
    EXPECT_EQ(writer.error(), "");
  }
  EXPECT_GT(offset_at_cut, 1 << 20) << "the writer should have queued over 1 MB of stream";
  EXPECT_GE(proxy.connections_accepted(), 2);
  ExpectCaughtUpStoppedAndResumedByContinue(*source, *target, sync, 60000);
}

TEST(SyncTest, LinkCutMidSnapshotStartsOverAndEndsCorrect) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()), {.scale = 20});
  ASSERT_FALSE(HasFatalFailure());
  TcpProxy proxy(source->port());
  proxy.CutAfterServerBytes(300 * 1024);  // inside the snapshot (it is several MB)
  std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", via_proxy, "--target", target->uri(), "--once"});
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "2");
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

TEST(SyncTest, StalledLinkIsDetectedAndResumed) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  source->Call({"SET", "before", "1"});
  TcpProxy proxy(source->port());
  std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  Subprocess sync({KeyferryBinary(), "sync", "--source", via_proxy, "--target", target->uri(),
                   "--link-timeout", "2"});
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 30000)) << sync.Stderr();
  proxy.SetStalled(true);
  source->Call({"SET", "during", "2"});
  std::this_thread::sleep_for(seconds(4));  // past the 2 s link timeout
  proxy.SetStalled(false);
  source->Call({"SET", "after", "3"});
  bool arrived = false;
  for (int i = 0; i < 300 && !arrived; ++i) {
    arrived = target->Call({"GET", "after"}) == "3";
    if (!arrived) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(arrived) << sync.Stderr();
  EXPECT_EQ(target->Call({"GET", "during"}), "2");
  sync.Signal(SIGTERM);
  ASSERT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  EXPECT_GE(proxy.connections_accepted(), 2);
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "1");
}

// "key=value" lines, sorted, for the string keys of one db (GET on each of KEYS *).
std::string StringsInDb(const std::string& uri, int db) {
  net::Client client;
  if (!client.Connect(UriOf(uri + "/" + std::to_string(db)))) return "<cannot connect>";
  auto keys = client.Call({"KEYS", "*"});
  if (!keys || keys->is_error()) return "<KEYS failed>";
  std::vector<std::string> lines;
  for (const auto& key : keys->children()) {
    auto type = client.Call({"TYPE", key.str()});
    std::string value = type && type->str() == "string" ? client.Call({"GET", key.str()})->str()
                                                        : (type ? type->str() : "?");
    lines.push_back(key.str() + "=" + value);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// --db-map and --match on the snapshot and on the stream, including the commands that
// name a database themselves (MOVE, COPY ... DB, SWAPDB).
TEST(SyncTest, DbMapAndMatchApplyToSnapshotAndStream) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  const std::string src = source->uri();
  auto in_db = [&](int db, std::vector<std::string> args) {
    net::Client client;
    ASSERT_TRUE(client.Connect(UriOf(src + "/" + std::to_string(db))));
    auto r = client.Call(args);
    ASSERT_TRUE(r && !r->is_error()) << args[0];
  };
  in_db(0, {"MSET", "keep:a", "a0", "skip:a", "x", "keep:h", "h0"});
  in_db(2, {"MSET", "keep:b", "b2", "skip:b", "x"});
  Subprocess sync({KeyferryBinary(), "sync", "--source", src, "--target", target->uri(), "--db-map",
                   "0:4", "--db-map", "2:6", "--match", "keep:*"});
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(src), 30000)) << sync.Stderr();
  EXPECT_EQ(StringsInDb(target->uri(), 4), "keep:a=a0\nkeep:h=h0\n");
  EXPECT_EQ(StringsInDb(target->uri(), 6), "keep:b=b2\n");
  in_db(0, {"SET", "keep:c", "c0"});
  in_db(0, {"SET", "skip:c", "x"});
  in_db(0, {"MOVE", "keep:a", "2"});                   // db 0 → 2, so target 4 → 6
  in_db(0, {"COPY", "keep:h", "keep:h2", "DB", "2"});  // a copy into db 2, so target 6
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(src), 30000)) << sync.Stderr();
  EXPECT_EQ(StringsInDb(target->uri(), 4), "keep:c=c0\nkeep:h=h0\n");
  EXPECT_EQ(StringsInDb(target->uri(), 6), "keep:a=a0\nkeep:b=b2\nkeep:h2=h0\n");
  in_db(0, {"SWAPDB", "0", "2"});  // swaps target dbs 4 and 6
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(src), 30000)) << sync.Stderr();
  sync.Signal(SIGTERM);
  ASSERT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  EXPECT_EQ(StringsInDb(target->uri(), 6), "keep:c=c0\nkeep:h=h0\n");
  EXPECT_EQ(StringsInDb(target->uri(), 4), "keep:a=a0\nkeep:b=b2\nkeep:h2=h0\n");
  EXPECT_EQ(StringsInDb(target->uri(), 0), "");
  EXPECT_EQ(StringsInDb(target->uri(), 2), "");

  // A command touching kept and filtered keys at once cannot be split: the sync stops
  // and says which filter to widen.
  Subprocess mixed({KeyferryBinary(), "sync", "--source", src, "--target", target->uri(),
                    "--db-map", "0:4", "--db-map", "2:6", "--match", "keep:*"});
  (void)target->Call({"FLUSHALL"});
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(src), 30000)) << mixed.Stderr();
  in_db(0, {"MSET", "keep:m", "1", "skip:m", "1"});
  EXPECT_EQ(mixed.Wait(seconds(30)), 2);
  EXPECT_NE(mixed.Stderr().find("--match/--exclude"), std::string::npos) << mixed.Stderr();
}

// "--db-map 0:1" while source db 1 has keys too would merge two dbs: refused, and nothing
// of db 1 reaches the target.
TEST(SyncTest, DbMapThatWouldMergeTwoDbsIsRefused) {
  auto source = StartSource();
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(source->uri() + "/1")));
  ASSERT_TRUE(client.Call({"SET", "in:db1", "1"}));
  source->Call({"SET", "in:db0", "0"});
  Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                   "--db-map", "0:1", "--once"});
  EXPECT_EQ(sync.Wait(seconds(60)), 2);
  EXPECT_NE(sync.Stderr().find("source dbs 0 and 1 would both land in target db 1"),
            std::string::npos)
      << sync.Stderr();
  EXPECT_EQ(sync.Stdout().find("done"), std::string::npos) << sync.Stdout();
}

TEST(SyncTest, BadEndpointsGiveClearErrors) {
  auto source = ServerProcess::Start(ServerKind::kRedis, {.config = {{"requirepass", "pw"}}});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  int closed_port = FreeLoopbackPort();
  {
    Subprocess sync({KeyferryBinary(), "sync", "--source",
                     "redis://:wrong@127.0.0.1:" + std::to_string(source->port()), "--target",
                     target->uri(), "--once"});
    EXPECT_EQ(sync.Wait(seconds(30)), 2);
    EXPECT_NE(sync.Stderr().find("password"), std::string::npos) << sync.Stderr();
  }
  {
    Subprocess sync({KeyferryBinary(), "sync", "--source",
                     "redis://127.0.0.1:" + std::to_string(closed_port), "--target", target->uri(),
                     "--once"});
    EXPECT_EQ(sync.Wait(seconds(30)), 2);
    EXPECT_NE(sync.Stderr().find("connection refused"), std::string::npos) << sync.Stderr();
  }
  {
    // A user without +psync: the message names the permission.
    source->Call({"ACL", "SETUSER", "nopsync", "on", ">pw2", "~*", "+@all", "-psync", "-sync"});
    Subprocess sync({KeyferryBinary(), "sync", "--source",
                     "redis://nopsync:pw2@127.0.0.1:" + std::to_string(source->port()), "--target",
                     target->uri(), "--once"});
    EXPECT_EQ(sync.Wait(seconds(30)), 2);
    EXPECT_NE(sync.Stderr().find("+psync"), std::string::npos) << sync.Stderr();
  }
  {
    target->Call({"SET", "someone-elses", "key"});
    Subprocess sync(
        {KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(), "--once"});
    EXPECT_EQ(sync.Wait(seconds(30)), 2);
    EXPECT_NE(sync.Stderr().find("--flush-target"), std::string::npos) << sync.Stderr();
  }
}

TEST(SyncTest, TargetOutOfMemoryStopsWithAClearError) {
  auto source = StartSource();
  auto target = ServerProcess::Start(
      ServerKind::kValkey, {.config = {{"maxmemory", "2mb"}, {"maxmemory-policy", "noeviction"}}});
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()), {.scale = 10});
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync(
      {KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(), "--once"});
  EXPECT_EQ(sync.Wait(seconds(60)), 2);
  EXPECT_NE(sync.Stderr().find("out of memory"), std::string::npos) << sync.Stderr();
  EXPECT_EQ(sync.Stderr().find("done in"), std::string::npos) << "must not report success";
}

// A snapshot write the target refuses stops the run (exit 2) with a message that names the
// command, the key and its db, for each kind of op the snapshot writes with a label rather
// than a description: a RESTORE, an RPUSH of a big list, a SETRANGE of a big string (the
// target's ACL refuses those three commands).
TEST(SyncTest, RefusedSnapshotWriteNamesItsCommandAndKey) {
  struct Case {
    std::vector<std::vector<std::string>> seed;
    std::string named;
  };
  std::vector<std::string> rpush = {"RPUSH", "big:list"};
  for (int i = 0; i < 20000; ++i) rpush.push_back("element-" + std::to_string(i));
  std::string big_string(3u << 20, '\0');  // incompressible, over the 1 MiB pieces
  uint32_t x = 1;
  for (char& ch : big_string) ch = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
  const std::vector<Case> cases = {
      {{{"SET", "restored:key", "value", "PX", "600000"}}, "RESTORE restored:key (db 0)"},
      {{rpush, {"MOVE", "big:list", "3"}}, "RPUSH big:list (db 3)"},
      {{{"SET", "big:string", big_string}}, "SETRANGE big:string (db 0)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.named);
    auto source = StartSource();
    auto target = ServerProcess::Start(ServerKind::kValkey);
    ASSERT_TRUE(source && target);
    for (const auto& command : c.seed) {
      std::string reply = source->Call(command);
      ASSERT_FALSE(reply.starts_with("-")) << command[0] << ": " << reply;
    }
    ASSERT_EQ(target->Call({"ACL", "SETUSER", "default", "-restore", "-rpush", "-setrange"}), "OK");
    Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                     "--once", "--big-key-threshold", "65536"});
    EXPECT_EQ(sync.Wait(seconds(60)), 2) << sync.Stderr();
    EXPECT_NE(sync.Stderr().find(c.named), std::string::npos) << sync.Stderr();
    EXPECT_NE(sync.Stderr().find("NOPERM"), std::string::npos) << sync.Stderr();
  }
}

}  // namespace
}  // namespace kf::test
