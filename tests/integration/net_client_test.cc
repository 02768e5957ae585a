// Integration tests of net::Client and net::Connection against real servers: Redis 7.0
// and Valkey 8.0, each test run on both. Binary-safe values, a 10,000-command pipeline,
// AUTH (right and wrong), refused connects, read timeouts against a paused server,
// RESP3 HELLO, SELECT, peer close, concurrent clients, handing over a connection, and
// reads that wait for the replies a pipeline owes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness/server_process.h"
#include "net/client.h"
#include "net/errc.h"

namespace kf::net {
namespace {

using kf::test::ServerKind;
using kf::test::ServerProcess;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class NetClientTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  std::unique_ptr<ServerProcess> Start(kf::test::ServerOptions options = {}) {
    return ServerProcess::Start(GetParam(), std::move(options));
  }
  static Uri UriOf(const ServerProcess& s, std::string_view suffix = "") {
    auto u = Uri::Parse(s.uri() + std::string(suffix));
    EXPECT_TRUE(u.has_value());
    return u ? *u : Uri{};
  }
};

TEST_P(NetClientTest, SetGetIsBinarySafe) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client c;
  auto ok = c.Connect(UriOf(*s));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;

  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string crlf = "line1\r\nline2\r\n\0tail";
  crlf.push_back('\0');
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>(i % 256);
  std::string binary_key = std::string("k\0\r\n", 4);

  for (const std::string& value : {all, crlf, big, std::string()}) {
    auto set = c.Call({"SET", binary_key, value});
    ASSERT_TRUE(set.has_value()) << set.error().message;
    EXPECT_TRUE(set->IsOk()) << set->ToString();
    auto get = c.Call({"GET", binary_key});
    ASSERT_TRUE(get.has_value()) << get.error().message;
    ASSERT_EQ(get->type(), resp::ReplyType::kBulkString);
    EXPECT_TRUE(get->str() == value) << "value of " << value.size() << " bytes changed";
  }
  // Cross-check with the harness' independent client.
  EXPECT_EQ(s->Call({"STRLEN", binary_key}), "0");
  auto missing = c.Call({"GET", "no-such-key"});
  ASSERT_TRUE(missing.has_value());
  EXPECT_TRUE(missing->is_null());
}

TEST_P(NetClientTest, TenThousandPipelinedCommands) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client c;
  ASSERT_TRUE(c.Connect(UriOf(*s)).has_value());
  std::vector<std::vector<std::string>> commands;
  constexpr int kN = 10000;
  for (int i = 0; i < kN; ++i) {
    switch (i % 4) {
      case 0:
        commands.push_back({"SET", "key:" + std::to_string(i), "value:" + std::to_string(i)});
        break;
      case 1:
        commands.push_back({"GET", "key:" + std::to_string(i - 1)});
        break;
      case 2:
        commands.push_back({"INCR", "counter"});
        break;
      case 3:
        commands.push_back({"LPUSH", "list", std::to_string(i)});
        break;
    }
  }
  auto replies = c.CallPipelined(commands);
  ASSERT_TRUE(replies.has_value()) << replies.error().message;
  ASSERT_EQ(replies->size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) {
    const resp::Reply& r = (*replies)[i];
    switch (i % 4) {
      case 0:
        ASSERT_TRUE(r.IsOk()) << i << ": " << r.ToString();
        break;
      case 1:
        ASSERT_EQ(r.str(), "value:" + std::to_string(i - 1)) << i;
        break;
      case 2:
        ASSERT_EQ(r.integer(), i / 4 + 1) << i;
        break;
      case 3:
        ASSERT_EQ(r.integer(), i / 4 + 1) << i;
        break;
    }
  }
  EXPECT_EQ(s->Call({"DBSIZE"}), std::to_string(kN / 4 + 2));
}

// ReadReply(replies_after): reads wait for the bytes the owed replies take; a pipeline of
// 5,000 INCRs read that way gets every reply right, and a hint that promises more than
// comes (here 1,000 replies for one PING) only delays the read by at most
// Connection::kLowWaterPatience, far below the I/O timeout.
TEST_P(NetClientTest, OwedRepliesArriveRightAndAWrongHintOnlyWaitsBriefly) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client c;
  ClientOptions options;
  options.io_timeout = milliseconds(5000);
  ASSERT_TRUE(c.Connect(UriOf(*s), options).has_value());
  constexpr size_t kN = 5000;
  resp::CommandEncoder enc;
  for (size_t i = 0; i < kN; ++i) enc.Add({"INCR", "owed"});
  ASSERT_TRUE(c.Send(enc).has_value());
  for (size_t i = 0; i < kN; ++i) {
    auto r = c.ReadReply(kN - 1 - i);
    ASSERT_TRUE(r.has_value()) << i << ": " << r.error().message;
    ASSERT_EQ(r->integer(), static_cast<int64_t>(i + 1)) << i;
  }
  ASSERT_TRUE(c.Send({"PING"}).has_value());
  auto start = Clock::now();
  auto pong = c.ReadReply(1000);
  auto waited = Clock::now() - start;
  ASSERT_TRUE(pong.has_value()) << pong.error().message;
  EXPECT_EQ(pong->str(), "PONG");
  EXPECT_LT(waited, Connection::kLowWaterPatience + milliseconds(1000));
  // The connection is still good, and a read without a hint does not wait.
  start = Clock::now();
  auto after = c.Call({"GET", "owed"});
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->str(), std::to_string(kN));
  EXPECT_LT(Clock::now() - start, Connection::kLowWaterPatience);
}

TEST_P(NetClientTest, ErrorRepliesAreRepliesNotFailures) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client c;
  ASSERT_TRUE(c.Connect(UriOf(*s)).has_value());
  auto r = c.Call({"NO-SUCH-COMMAND", "x"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->is_error());
  EXPECT_TRUE(r->str().starts_with("ERR unknown command")) << r->str();
  ASSERT_TRUE(c.Call({"SET", "s", "1"}).has_value());
  auto wrongtype = c.Call({"LPUSH", "s", "x"});
  ASSERT_TRUE(wrongtype.has_value());
  EXPECT_TRUE(wrongtype->str().starts_with("WRONGTYPE")) << wrongtype->str();
  // The connection is still usable.
  auto ping = c.Call({"PING"});
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->str(), "PONG");
}

TEST_P(NetClientTest, AuthSucceedsAndWrongPasswordIsClear) {
  auto s = Start({.config = {{"requirepass", "pw"}}});
  ASSERT_TRUE(s);
  Client good;
  auto ok = good.Connect(UriOf(*s));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  auto ping = good.Call({"PING"});
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->str(), "PONG");

  Uri wrong = UriOf(*s);
  wrong.password = "not-the-password";
  Client bad;
  auto failed = bad.Connect(wrong);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, make_error_code(NetErrc::kAuthFailed));
  const std::string& msg = failed.error().message;
  EXPECT_NE(msg.find("authentication to " + wrong.Endpoint()), std::string::npos) << msg;
  EXPECT_NE(msg.find("WRONGPASS"), std::string::npos) << msg;
  EXPECT_NE(msg.find("check the user and password"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not-the-password"), std::string::npos) << "password leaked: " << msg;
  EXPECT_FALSE(bad.connected());

  // With an ACL user name as well.
  ASSERT_TRUE(good.Call({"ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "+@all"}).has_value());
  Client alice;
  Uri alice_uri = UriOf(*s);
  alice_uri.user = "alice";
  alice_uri.password = "alicepw";
  ASSERT_TRUE(alice.Connect(alice_uri).has_value());
  auto who = alice.Call({"ACL", "WHOAMI"});
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->str(), "alice");

  // Without a password, commands get a NOAUTH error reply (not a Result error).
  Uri none = UriOf(*s);
  none.has_password = false;
  Client anon;
  ASSERT_TRUE(anon.Connect(none).has_value());
  auto refused = anon.Call({"GET", "k"});
  ASSERT_TRUE(refused.has_value());
  EXPECT_TRUE(refused->is_error());
  EXPECT_TRUE(refused->str().starts_with("NOAUTH")) << refused->str();
}

TEST_P(NetClientTest, Resp3HelloReturnsAMap) {
  auto s = Start({.config = {{"requirepass", "pw"}}});
  ASSERT_TRUE(s);
  Client c;
  ClientOptions options;
  options.resp3 = true;
  options.client_name = "keyferry-test";
  auto ok = c.Connect(UriOf(*s), options);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  const resp::Reply& hello = c.hello();
  ASSERT_EQ(hello.type(), resp::ReplyType::kMap) << hello.ToString();
  ASSERT_NE(hello.Find("proto"), nullptr);
  EXPECT_EQ(hello.Find("proto")->integer(), 3);
  ASSERT_NE(hello.Find("server"), nullptr);
  EXPECT_EQ(hello.Find("server")->str(), GetParam() == ServerKind::kRedis ? "redis" : "valkey");
  auto name = c.Call({"CLIENT", "GETNAME"});
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->str(), "keyferry-test");
  // RESP3 types come through: HGETALL is a map, a missing key is _.
  ASSERT_TRUE(c.Call({"HSET", "h", "f1", "v1", "f2", "v2"}).has_value());
  auto h = c.Call({"HGETALL", "h"});
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(h->type(), resp::ReplyType::kMap);
  EXPECT_EQ(h->map_size(), 2u);
  ASSERT_NE(h->Find("f2"), nullptr);
  EXPECT_EQ(h->Find("f2")->str(), "v2");
  auto nil = c.Call({"GET", "missing"});
  ASSERT_TRUE(nil.has_value());
  EXPECT_TRUE(nil->is_null());

  Uri wrong = UriOf(*s);
  wrong.password = "bad";
  Client bad;
  auto failed = bad.Connect(wrong, options);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, make_error_code(NetErrc::kAuthFailed)) << failed.error().message;
}

TEST_P(NetClientTest, SelectsTheDatabaseOfTheUri) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client db3;
  ASSERT_TRUE(db3.Connect(UriOf(*s, "/3")).has_value());
  ASSERT_TRUE(db3.Call({"SET", "only-in-3", "x"}).has_value());
  auto info = db3.Call({"CLIENT", "INFO"});
  ASSERT_TRUE(info.has_value());
  EXPECT_NE(info->str().find(" db=3 "), std::string::npos) << info->str();
  Client db0;
  ASSERT_TRUE(db0.Connect(UriOf(*s)).has_value());
  auto get = db0.Call({"GET", "only-in-3"});
  ASSERT_TRUE(get.has_value());
  EXPECT_TRUE(get->is_null());

  Client bad;
  auto failed = bad.Connect(UriOf(*s, "/99"));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, make_error_code(NetErrc::kServerError));
  EXPECT_NE(failed.error().message.find("SELECT 99"), std::string::npos) << failed.error().message;
}

TEST_P(NetClientTest, ReadTimeoutAgainstAPausedServer) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client pauser;
  ASSERT_TRUE(pauser.Connect(UriOf(*s)).has_value());
  auto paused = pauser.Call({"CLIENT", "PAUSE", "1500", "ALL"});
  ASSERT_TRUE(paused.has_value());
  ASSERT_TRUE(paused->IsOk()) << paused->ToString();

  Client c;
  ClientOptions options;
  options.io_timeout = milliseconds(300);
  ASSERT_TRUE(c.Connect(UriOf(*s), options).has_value());  // connect is not paused
  auto start = Clock::now();
  auto r = c.Call({"PING"});
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, make_error_code(NetErrc::kTimeout)) << r.error().message;
  EXPECT_NE(r.error().message.find("no reply from " + s->host() + ":" + std::to_string(s->port())),
            std::string::npos)
      << r.error().message;
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(1400));
  EXPECT_FALSE(c.connected());  // closed: the late reply must not be read as another's

  // After the pause, a new connection works.
  std::this_thread::sleep_for(milliseconds(1400));
  ASSERT_TRUE(c.Connect(UriOf(*s), options).has_value());
  auto ping = c.Call({"PING"});
  ASSERT_TRUE(ping.has_value()) << ping.error().message;
  EXPECT_EQ(ping->str(), "PONG");
}

TEST_P(NetClientTest, ServerClosingTheConnectionIsDistinct) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client victim;
  ASSERT_TRUE(victim.Connect(UriOf(*s)).has_value());
  auto id = victim.Call({"CLIENT", "ID"});
  ASSERT_TRUE(id.has_value());
  Client killer;
  ASSERT_TRUE(killer.Connect(UriOf(*s)).has_value());
  auto killed = killer.Call({"CLIENT", "KILL", "ID", std::to_string(id->integer())});
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->integer(), 1);
  auto r = victim.Call({"PING"});
  ASSERT_FALSE(r.has_value());
  // The write may still succeed into the socket buffer; the read then sees EOF.
  EXPECT_EQ(r.error().code, make_error_code(NetErrc::kClosedByPeer)) << r.error().message;
  EXPECT_NE(r.error().message.find("closed by the server"), std::string::npos);
  auto again = victim.Call({"PING"});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, make_error_code(NetErrc::kNotConnected));
}

TEST_P(NetClientTest, ConcurrentClientsOnThreads) {
  auto s = Start();
  ASSERT_TRUE(s);
  Uri uri = UriOf(*s);
  constexpr int kThreads = 4, kIncrements = 500;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c;
      if (!c.Connect(uri)) {
        failures[t] = kIncrements;
        return;
      }
      for (int i = 0; i < kIncrements; ++i) {
        auto r = c.Call({"INCR", "shared"});
        if (!r || r->type() != resp::ReplyType::kInteger) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_EQ(s->Call({"GET", "shared"}), std::to_string(kThreads * kIncrements));
}

TEST_P(NetClientTest, ReleaseHandsOverConnectionAndUnparsedBytes) {
  auto s = Start();
  ASSERT_TRUE(s);
  Client c;
  ASSERT_TRUE(c.Connect(UriOf(*s)).has_value());
  resp::CommandEncoder enc;
  enc.Add({"PING"});
  enc.Add({"ECHO", "second"});
  ASSERT_TRUE(c.Send(enc).has_value());
  std::this_thread::sleep_for(milliseconds(200));  // both replies arrive before the read
  auto first = c.ReadReply();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->str(), "PONG");
  auto released = c.Release();
  ASSERT_TRUE(released.has_value()) << released.error().message;
  EXPECT_FALSE(c.connected());
  std::string buffered(released->buffered.begin(), released->buffered.end());
  EXPECT_EQ(buffered, "$6\r\nsecond\r\n");
  // The connection keeps working in its new owner's hands.
  Connection& conn = *released->connection;
  ASSERT_TRUE(conn.WriteAll(AsBytes("*1\r\n$4\r\nPING\r\n"), milliseconds(1000)).has_value());
  uint8_t buf[64];
  auto n = conn.ReadSome(buf, milliseconds(1000));
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "+PONG\r\n");
}

INSTANTIATE_TEST_SUITE_P(Engines, NetClientTest,
                         ::testing::Values(ServerKind::kRedis, ServerKind::kValkey),
                         [](const auto& info) {
                           return info.param == ServerKind::kRedis ? std::string("Redis")
                                                                   : std::string("Valkey");
                         });

// Not server-specific: nothing listens on the port.
TEST(NetConnectionTest, ClosedPortFailsFastAndClearly) {
  int port = kf::test::FreeLoopbackPort();
  Connection conn;
  auto start = Clock::now();
  auto r = conn.Connect("127.0.0.1", port, milliseconds(2000));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, make_error_code(NetErrc::kConnectRefused));
  EXPECT_EQ(r.error().message, "could not connect to 127.0.0.1:" + std::to_string(port) +
                                   ": connection refused; check that the server is running and "
                                   "the host and port are right");
  EXPECT_LT(took, milliseconds(500));

  Client c;
  auto uri = Uri::Parse("redis://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(uri.has_value());
  auto cr = c.Connect(*uri);
  ASSERT_FALSE(cr.has_value());
  EXPECT_EQ(cr.error().code, make_error_code(NetErrc::kConnectRefused));
  auto call = c.Call({"PING"});
  ASSERT_FALSE(call.has_value());
  EXPECT_EQ(call.error().code, make_error_code(NetErrc::kNotConnected));
}

TEST(NetConnectionTest, ConnectTimeoutWhenTheListenerNeverAnswers) {
  // A listener whose accept queue is full: Linux drops further SYNs, so a connect hangs
  // until its deadline (an unroutable address cannot be relied on in every sandbox).
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 8; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(milliseconds(100));

  Connection conn;
  auto start = Clock::now();
  auto r = conn.Connect("127.0.0.1", port, milliseconds(300));
  auto took = Clock::now() - start;
  for (int fd : fillers) ::close(fd);
  ::close(listener);
  ASSERT_FALSE(r.has_value()) << "connect to a full accept queue succeeded";
  EXPECT_EQ(r.error().code, make_error_code(NetErrc::kTimeout)) << r.error().message;
  EXPECT_NE(r.error().message.find("could not connect to 127.0.0.1:" + std::to_string(port) +
                                   ": no answer within 300 ms"),
            std::string::npos)
      << r.error().message;
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_FALSE(conn.is_open());
}

TEST(NetConnectionTest, UnknownHostNameIsAResolveError) {
  Connection conn;
  auto r = conn.Connect("no-such-host.invalid", 6379, milliseconds(1000));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, make_error_code(NetErrc::kResolveFailed)) << r.error().message;
  EXPECT_NE(r.error().message.find("no-such-host.invalid"), std::string::npos);
}

}  // namespace
}  // namespace kf::net
