// Tests of the test harness itself: real servers start, answer, and stop by PID; the
// proxy forwards and cuts.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "harness/server_process.h"
#include "harness/tcp_proxy.h"

namespace kf::test {
namespace {

TEST(HarnessTest, StartsBothEnginesAndStopsByPid) {
  auto redis = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(redis);
  auto valkey = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(valkey);
  EXPECT_NE(redis->port(), valkey->port());
  EXPECT_EQ(redis->Call({"SET", "k", std::string("a\r\nb\0c", 6)}), "OK");
  EXPECT_EQ(redis->Call({"GET", "k"}), std::string("a\r\nb\0c", 6));
  EXPECT_EQ(redis->InfoField("server", "redis_version").substr(0, 2), "7.");
  EXPECT_EQ(valkey->InfoField("server", "valkey_version").substr(0, 2), "8.");
  pid_t pid = redis->pid();
  redis->Stop();
  EXPECT_FALSE(redis->running());
  EXPECT_NE(::kill(pid, 0), 0) << "server process still alive after Stop()";
}

TEST(HarnessTest, PasswordAndRestart) {
  auto server = ServerProcess::Start(ServerKind::kValkey, {.config = {{"requirepass", "pw"}}});
  ASSERT_TRUE(server);
  EXPECT_EQ(server->Call({"PING"}), "PONG");
  EXPECT_NE(server->uri().find(":pw@"), std::string::npos);
  server->Kill();
  ASSERT_TRUE(server->Restart());
  EXPECT_EQ(server->Call({"PING"}), "PONG");
}

TEST(HarnessTest, ProxyForwardsAndCuts) {
  // No diskless-sync delay (Redis waits 5 s by default for more replicas to join).
  auto server =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
  ASSERT_TRUE(server);
  TcpProxy proxy(server->port());
  // Drive the proxy with a real replica link: Valkey replicating Redis through it.
  auto replica = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(replica);
  server->Call({"SET", "x", "1"});
  replica->Call({"REPLICAOF", "127.0.0.1", std::to_string(proxy.port())});
  std::string status;
  for (int i = 0; i < 800 && status != "up"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    status = replica->InfoField("replication", "master_link_status");
  }
  ASSERT_EQ(status, "up");
  EXPECT_EQ(replica->Call({"GET", "x"}), "1");
  EXPECT_GT(proxy.server_bytes_forwarded(), 0u);
  proxy.CutAll();
  // The replica notices the cut, reconnects through the proxy and catches up again.
  server->Call({"SET", "x", "2"});
  std::string value;
  for (int i = 0; i < 400 && value != "2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    value = replica->Call({"GET", "x"});
  }
  EXPECT_EQ(value, "2");
  EXPECT_GE(proxy.connections_accepted(), 2);
}

}  // namespace
}  // namespace kf::test
