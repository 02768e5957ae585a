// source::ReplicaSession against a real Redis 7.0 primary: a full sync (disk-based and
// diskless) decoded to its end, the first ACK seen by the primary, stream commands with
// offsets that match master_repl_offset, a GETACK (from WAIT) answered at once with the
// applied offset, the link timeout during the snapshot and in the stream, CONTINUE after a
// timeout, and a killed link.
#include "source/replica_session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/dataset.h"
#include "harness/server_process.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Records the session's events; the stream commands as "SET a 1 @<end offset>".
class Recorder : public source::ReplicationEvents {
 public:
  std::optional<uint64_t> announced;
  bool started = false;
  std::string rdb;
  bool ended = false;
  std::vector<std::string> commands;
  std::vector<int64_t> ack_requests;

  Result<void> OnSnapshotStart(std::optional<uint64_t> size) override {
    started = true;
    announced = size;
    return {};
  }
  Result<void> OnSnapshotBytes(ByteView bytes) override {
    rdb.append(AsStringView(bytes));
    return {};
  }
  Result<void> OnSnapshotEnd(uint64_t) override {
    ended = true;
    return {};
  }
  Result<void> OnCommand(const resp::Command& cmd, int64_t end) override {
    commands.push_back(cmd.ToString() + " @" + std::to_string(end));
    return {};
  }
  Result<void> OnAckRequest(int64_t end) override {
    ack_requests.push_back(end);
    return {};
  }
};

int64_t MasterOffset(const ServerProcess& server) {
  return std::stoll(server.InfoField("replication", "master_repl_offset"));
}

// The offset the primary last heard in an ACK from its one replica (slave0 "offset=N"),
// or -1 while it lists none.
int64_t AckedOffset(const ServerProcess& server) {
  std::string slave = server.InfoField("replication", "slave0");
  auto at = slave.find("offset=");
  if (at == std::string::npos) return -1;
  return std::stoll(slave.substr(at + 7));
}

// Calls Next until `done` holds, a deadline passes or Next fails; with `apply`, applies
// everything at once (set_applied(received())) as a target that keeps up would.
Result<void> DriveUntil(source::ReplicaSession& session, Recorder& recorder,
                        const std::function<bool()>& done, milliseconds deadline,
                        bool apply = true) {
  auto until = Clock::now() + deadline;
  while (!done() && Clock::now() < until) {
    auto got = session.Next(recorder, milliseconds(50));
    if (!got) return MakeError(got.error());
    if (apply && !session.in_snapshot() && recorder.ended) {
      session.set_applied(session.received());
    }
  }
  if (!done()) return MakeError(source::ReplicationErrc::kLinkLost, "test deadline passed");
  return {};
}

source::ReplicaSessionOptions Options(milliseconds link_timeout) {
  source::ReplicaSessionOptions o;
  o.link.client.client_name = "keyferry-session-test";
  o.link_timeout = link_timeout;
  return o;
}

void FullSyncThenStream(bool diskless) {
  auto primary = ServerProcess::Start(ServerKind::kRedis,
                                      {.config = {{"repl-diskless-sync", diskless ? "yes" : "no"},
                                                  {"repl-diskless-sync-delay", "0"},
                                                  {"repl-ping-replica-period", "60"}}});
  ASSERT_TRUE(primary);
  for (int i = 0; i < 100; ++i) primary->Call({"SET", "key:" + std::to_string(i), "value"});

  source::ReplicaSession session(Options(milliseconds(20000)));
  auto reply = session.Open(UriOf(primary->uri()), "", -1);
  ASSERT_TRUE(reply) << reply.error().ToString();
  ASSERT_EQ(reply->kind, source::PsyncReply::Kind::kFullResync);
  EXPECT_EQ(session.replid(), reply->replid);
  EXPECT_EQ(session.applied(), -1);
  Recorder recorder;
  auto snap = DriveUntil(
      session, recorder, [&] { return recorder.ended; }, milliseconds(20000));
  ASSERT_TRUE(snap) << snap.error().ToString();
  EXPECT_TRUE(recorder.started);
  EXPECT_EQ(recorder.announced.has_value(), !diskless);
  if (!diskless) {
    EXPECT_EQ(*recorder.announced, recorder.rdb.size());
  }
  EXPECT_TRUE(recorder.rdb.starts_with("REDIS0010")) << Printable(recorder.rdb.substr(0, 16));
  EXPECT_EQ(session.received(), reply->offset);

  // The first ACK goes when the caller says the snapshot is applied; the primary lists it.
  ASSERT_TRUE(session.SnapshotApplied(reply->offset));
  auto until = Clock::now() + milliseconds(5000);
  while (AckedOffset(*primary) != reply->offset && Clock::now() < until) {
    ASSERT_TRUE(session.Next(recorder, milliseconds(20)));
  }
  EXPECT_EQ(AckedOffset(*primary), reply->offset) << primary->InfoField("replication", "slave0");

  primary->Call({"SET", "a", "1"});
  primary->Call({"INCR", "counter"});
  const int64_t written = MasterOffset(*primary);
  auto streamed = DriveUntil(
      session, recorder, [&] { return session.received() >= written; }, milliseconds(10000));
  ASSERT_TRUE(streamed) << streamed.error().ToString();
  EXPECT_EQ(session.received(), written) << "the offsets count every byte the primary sent";
  ASSERT_GE(recorder.commands.size(), 2u);
  EXPECT_TRUE(recorder.commands[recorder.commands.size() - 2].starts_with("SET a 1 @"));
  EXPECT_EQ(recorder.commands.back(), "INCR counter @" + std::to_string(written));

  // WAIT makes the primary send REPLCONF GETACK. A client writes, the session receives the
  // write but does not apply it yet; right before the WAIT, an ACK of the offset before the
  // write goes, then the write counts as applied without any ACK saying so. The next
  // periodic ACK is a second away, after the WAIT's 800 ms: only the answer to GETACK (with
  // the applied offset) can satisfy it.
  std::promise<void> go;
  auto waited = std::async(std::launch::async, [&, ready = go.get_future()]() -> int64_t {
    net::Client client;
    if (!client.Connect(UriOf(primary->uri()))) return -2;
    auto set = client.Call({"SET", "waited", "1"});
    if (!set || set->is_error()) return -3;
    if (ready.wait_for(std::chrono::seconds(20)) != std::future_status::ready) return -5;
    auto wait = client.Call({"WAIT", "1", "800"});
    if (!wait || wait->is_error()) return -4;
    return wait->integer();
  });
  auto received_write = DriveUntil(
      session, recorder, [&] { return recorder.commands.back().starts_with("SET waited 1 @"); },
      milliseconds(10000),
      /*apply=*/false);
  ASSERT_TRUE(received_write) << received_write.error().ToString();
  ASSERT_TRUE(session.SendAck());
  session.set_applied(session.received());
  go.set_value();
  auto answered = DriveUntil(
      session, recorder,
      [&] { return waited.wait_for(milliseconds(0)) == std::future_status::ready; },
      milliseconds(10000));
  ASSERT_TRUE(answered) << answered.error().ToString();
  EXPECT_EQ(waited.get(), 1) << "WAIT saw no replica reach its offset in 800 ms";
  ASSERT_EQ(recorder.ack_requests.size(), 1u);
  EXPECT_FALSE(recorder.commands.back().starts_with("REPLCONF"))
      << "GETACK is not handed on as a command";
  EXPECT_EQ(recorder.ack_requests[0], MasterOffset(*primary))
      << "GETACK's bytes count in the offset";
}

TEST(ReplicaSessionTest, DiskFullSyncThenStreamAcksAndGetack) { FullSyncThenStream(false); }
TEST(ReplicaSessionTest, DisklessFullSyncThenStreamAcksAndGetack) { FullSyncThenStream(true); }

TEST(ReplicaSessionTest, SilenceTimesOutThenContinueThenAKilledLinkDrops) {
  auto primary = ServerProcess::Start(
      ServerKind::kRedis,
      {.config = {{"repl-diskless-sync-delay", "0"}, {"repl-ping-replica-period", "60"}}});
  ASSERT_TRUE(primary);
  primary->Call({"SET", "a", "1"});
  source::ReplicaSession session(Options(milliseconds(1500)));
  auto reply = session.Open(UriOf(primary->uri()), "", -1);
  ASSERT_TRUE(reply) << reply.error().ToString();
  Recorder recorder;
  ASSERT_TRUE(DriveUntil(
      session, recorder, [&] { return recorder.ended; }, milliseconds(20000)));
  ASSERT_TRUE(session.SnapshotApplied(reply->offset));

  // Nothing to send (no writes, no PING for 60 s): the stream times out after 1.5 s.
  auto start = Clock::now();
  Result<bool> got = true;
  while (got && Clock::now() - start < milliseconds(10000)) {
    got = session.Next(recorder, milliseconds(50));
  }
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, make_error_code(source::ReplicationErrc::kLinkLost));
  EXPECT_EQ(got.error().message, "the source sent nothing for 1 s");
  EXPECT_GE(Clock::now() - start, milliseconds(1500));

  // Continue where the applied offset stands: no second full sync.
  primary->Call({"SET", "b", "2"});
  const int64_t written = MasterOffset(*primary);
  auto again = session.Open(UriOf(primary->uri()), session.replid(), reply->offset + 1);
  ASSERT_TRUE(again) << again.error().ToString();
  ASSERT_EQ(again->kind, source::PsyncReply::Kind::kContinue);
  EXPECT_EQ(session.replid(), reply->replid);
  EXPECT_EQ(session.applied(), reply->offset);
  ASSERT_TRUE(DriveUntil(
      session, recorder, [&] { return session.received() >= written; }, milliseconds(10000)));
  EXPECT_EQ(recorder.commands.back(), "SET b 2 @" + std::to_string(written));
  EXPECT_EQ(primary->InfoField("stats", "sync_full"), "1");
  EXPECT_EQ(primary->InfoField("stats", "sync_partial_ok"), "1");

  // The primary drops the replica: the next read says the link dropped.
  primary->Call({"CLIENT", "KILL", "TYPE", "replica"});
  start = Clock::now();
  got = true;
  while (got && Clock::now() - start < milliseconds(5000)) {
    got = session.Next(recorder, milliseconds(50));
  }
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, make_error_code(source::ReplicationErrc::kLinkLost));
  EXPECT_TRUE(got.error().message.starts_with("the replication link dropped: "))
      << got.error().message;
}

TEST(ReplicaSessionTest, ASnapshotThatStallsTimesOutDuringTheSnapshot) {
  // A diskless snapshot whose RDB child sleeps 3 s per key: the header and the first bytes
  // come, then nothing for longer than the link timeout.
  auto primary =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync", "yes"},
                                                           {"repl-diskless-sync-delay", "0"},
                                                           {"rdb-key-save-delay", "3000000"}}});
  ASSERT_TRUE(primary);
  for (int i = 0; i < 5; ++i) primary->Call({"SET", "key:" + std::to_string(i), "value"});
  source::ReplicaSession session(Options(milliseconds(1000)));
  auto reply = session.Open(UriOf(primary->uri()), "", -1);
  ASSERT_TRUE(reply) << reply.error().ToString();
  Recorder recorder;
  auto start = Clock::now();
  Result<bool> got = true;
  while (got && Clock::now() - start < milliseconds(15000)) {
    got = session.Next(recorder, milliseconds(100));
  }
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, make_error_code(source::ReplicationErrc::kLinkLost));
  EXPECT_EQ(got.error().message, "the source sent nothing for 1 s during the snapshot");
  EXPECT_TRUE(session.in_snapshot());
  EXPECT_FALSE(recorder.ended);
  session.Close();
  primary->Call({"CONFIG", "SET", "rdb-key-save-delay", "0"});
}

}  // namespace
}  // namespace kf::test
