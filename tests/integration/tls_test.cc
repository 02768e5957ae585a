// TLS against real servers: Redis 7.0 and Valkey 8.0 started with a tls-port and
// certificates the test makes with openssl (harness/test_pki.h). The client over TLS
// (binary-safe values, a big pipeline, RESP3), every refusal with its text (unknown CA,
// expired, name mismatch, client certificate required or refused, a plaintext port), the
// server-name override, the CA directory, the insecure switch, and the deadline model
// (a read timeout leaves a TLS connection usable; a handshake that never answers times
// out within the connect deadline). Then the commands over TLS: sync Redis -> Valkey with
// mutual TLS and a replica link killed on the source (CLIENT KILL TYPE replica) that
// resumes with PSYNC; verify with its refusals and the insecure warning; doctor and apply
// from a TLS source into a local Valkey that keyferry starts with TLS; sync and verify into
// a Valkey Cluster reached only through the TLS port of one node (tls-cluster yes), and
// from a Redis Cluster source reached the same way (one replica link per shard, over TLS);
// apply into a local Valkey Cluster keyferry starts with TLS only (killed and resumed, then
// DONE; an aborted one removes every node).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/journal.h"
#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "harness/test_pki.h"
#include "net/client.h"
#include "net/errc.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class TlsTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    pki_ = TestPki::Create();
    ASSERT_TRUE(pki_);
  }
  // A server with `pair` as its certificate; client certificates checked against the CA
  // when auth_clients is "yes".
  std::unique_ptr<ServerProcess> Start(const CertPair& pair, std::string auth_clients = "no") {
    ServerOptions options;
    options.tls = ServerTls{pair.cert, pair.key, pki_->ca_cert(), std::move(auth_clients)};
    return ServerProcess::Start(GetParam(), std::move(options));
  }
  net::Uri TlsUri(const ServerProcess& s) {
    auto uri = net::Uri::Parse(s.tls_uri());
    EXPECT_TRUE(uri.has_value());
    net::Uri out = uri ? *uri : net::Uri{};
    out.tls.ca_cert = pki_->ca_cert();
    out.tls.origin = "--source-tls";
    return out;
  }
  // Connects and runs PING; the error text, or "" when it worked.
  static std::string ConnectError(const net::Uri& uri, net::NetErrc expected) {
    net::Client client;
    auto connected = client.Connect(uri);
    if (connected) {
      auto ping = client.Call({"PING"});
      if (ping && ping->str() == "PONG") {
        ADD_FAILURE() << "connecting to " << uri.ToString() << " worked; expected a refusal";
        return "";
      }
      if (ping) return "PING answered " + ping->ToString();
      EXPECT_EQ(ping.error().code, make_error_code(expected)) << ping.error().message;
      return ping.error().message;
    }
    EXPECT_EQ(connected.error().code, make_error_code(expected)) << connected.error().message;
    return connected.error().message;
  }
  static void ExpectPing(const net::Uri& uri) {
    net::Client client;
    auto connected = client.Connect(uri);
    ASSERT_TRUE(connected.has_value()) << connected.error().message;
    auto ping = client.Call({"PING"});
    ASSERT_TRUE(ping.has_value()) << ping.error().message;
    EXPECT_EQ(ping->str(), "PONG");
  }

  std::unique_ptr<TestPki> pki_;
};

TEST_P(TlsTest, ClientWorksOverTls) {
  auto s = Start(pki_->server());
  ASSERT_TRUE(s);
  net::Client c;
  net::ClientOptions options;
  options.resp3 = true;
  options.client_name = "kf-tls-test";
  auto ok = c.Connect(TlsUri(*s), options);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;

  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 991) big[i] = static_cast<char>(i % 256);
  auto set = c.Call({"SET", "big", big});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  auto get = c.Call({"GET", "big"});
  ASSERT_TRUE(get.has_value()) << get.error().message;
  EXPECT_EQ(get->str(), big);

  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 10000; ++i) {
    commands.push_back({"SET", "k" + std::to_string(i), std::to_string(i)});
  }
  auto replies = c.CallPipelined(commands);
  ASSERT_TRUE(replies.has_value()) << replies.error().message;
  ASSERT_EQ(replies->size(), 10000u);
  EXPECT_TRUE(replies->back().IsOk());
  // The server saw it all, and saw it over TLS (its plaintext port answers the harness).
  EXPECT_EQ(s->Call({"DBSIZE"}), "10001");
  EXPECT_EQ(s->Call({"GET", "k9999"}), "9999");
  EXPECT_THAT(s->Call({"CLIENT", "LIST"}), HasSubstr("name=kf-tls-test"));
}

TEST_P(TlsTest, UnknownCaIsRefusedAndInsecureSkipsTheCheck) {
  auto s = Start(pki_->other_server());
  ASSERT_TRUE(s);
  net::Uri uri = TlsUri(*s);
  std::string m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("TLS handshake with 127.0.0.1:" + std::to_string(s->tls_port())));
  EXPECT_THAT(m, HasSubstr("is not signed by a CA keyferry trusts"));
  EXPECT_THAT(m, HasSubstr("CN=unrelated test CA"));
  EXPECT_THAT(m, HasSubstr("the CA in " + pki_->ca_cert() + " (--source-tls-ca-cert)"));

  // The right CA makes it pass; so does a hashed CA directory.
  uri.tls.ca_cert = pki_->other_ca_cert();
  ExpectPing(uri);
  auto good = Start(pki_->server());
  ASSERT_TRUE(good);
  net::Uri by_dir = TlsUri(*good);
  by_dir.tls.ca_cert.clear();
  by_dir.tls.ca_dir = pki_->ca_dir();
  ExpectPing(by_dir);

  // Insecure: no check at all, the connection is still encrypted.
  net::Uri insecure = TlsUri(*s);
  insecure.tls.insecure = true;
  ExpectPing(insecure);
}

TEST_P(TlsTest, ExpiredCertificateIsRefused) {
  auto s = Start(pki_->expired_server());
  ASSERT_TRUE(s);
  std::string m = ConnectError(TlsUri(*s), net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("(CN=keyferry expired server) expired on "));
  EXPECT_THAT(m, HasSubstr("(expired certificate)"));
}

TEST_P(TlsTest, NameMismatchIsRefusedAndServerNameOverrides) {
  auto s = Start(pki_->wrong_name_server());
  ASSERT_TRUE(s);
  net::Uri uri = TlsUri(*s);
  std::string m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("is for elsewhere.example, not for 127.0.0.1 (name mismatch)"));
  EXPECT_THAT(m, HasSubstr("--source-tls-server-name"));
  uri.tls.server_name = "elsewhere.example";
  ExpectPing(uri);
  uri.tls.server_name = "other.example";
  m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("not for other.example (name mismatch)"));
  // A host name is checked as a name: the server's certificate holds localhost.
  auto good = Start(pki_->server());
  ASSERT_TRUE(good);
  net::Uri by_name = TlsUri(*good);
  by_name.host = "localhost";
  ExpectPing(by_name);
}

TEST_P(TlsTest, MutualTlsNeedsAClientCertificateTheServerTrusts) {
  auto s = Start(pki_->server(), "yes");
  ASSERT_TRUE(s);
  net::Uri uri = TlsUri(*s);
  std::string m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("client certificate required"));
  EXPECT_THAT(m, HasSubstr("--source-tls-cert FILE and --source-tls-key FILE"));

  uri.tls.cert = pki_->other_client().cert;
  uri.tls.key = pki_->other_client().key;
  m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("the server refused keyferry's client certificate " +
                           pki_->other_client().cert));

  uri.tls.cert = pki_->client().cert;
  uri.tls.key = pki_->client().key;
  ExpectPing(uri);

  // A key that is not the certificate's, and a missing file, are named before connecting.
  uri.tls.key = pki_->other_client().key;
  m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("does not belong to the client certificate"));
  uri.tls.key = pki_->dir() + "/missing.key";
  m = ConnectError(uri, net::NetErrc::kTlsFailed);
  EXPECT_THAT(m, HasSubstr("cannot use the private key " + pki_->dir() + "/missing.key"));
  EXPECT_THAT(m, HasSubstr("(--source-tls-key)"));
}

// A plaintext port waits for a command line and never answers a TLS hello: the handshake
// times out within the connect deadline, and the text says what the port may be.
TEST_P(TlsTest, PlaintextPortIsToldApart) {
  auto s = Start(pki_->server());
  ASSERT_TRUE(s);
  net::Uri uri = TlsUri(*s);
  uri.port = s->port();  // the plaintext port
  net::ClientOptions options;
  options.connect_timeout = milliseconds(1000);
  net::Client client;
  auto start = Clock::now();
  auto connected = client.Connect(uri, options);
  ASSERT_FALSE(connected.has_value());
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
  EXPECT_EQ(connected.error().code, make_error_code(net::NetErrc::kTimeout));
  EXPECT_THAT(connected.error().message, HasSubstr("TLS handshake with 127.0.0.1:"));
  EXPECT_THAT(connected.error().message, HasSubstr("this port may not speak TLS"));
  EXPECT_THAT(connected.error().message, HasSubstr("use redis://"));
}

TEST_P(TlsTest, ReadTimeoutKeepsTheTlsConnectionUsable) {
  auto s = Start(pki_->server());
  ASSERT_TRUE(s);
  net::Uri uri = TlsUri(*s);
  net::Connection conn;
  auto ok = conn.Connect(uri.host, uri.port, milliseconds(5000), uri.tls);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  ASSERT_TRUE(conn.is_tls());
  // BLPOP on a missing key answers after its 0.5 s timeout.
  std::string blpop = "*3\r\n$5\r\nBLPOP\r\n$7\r\nmissing\r\n$3\r\n0.5\r\n";
  ASSERT_TRUE(conn.WriteAll(AsBytes(blpop), milliseconds(2000)).has_value());
  uint8_t buf[64];
  auto early = conn.ReadSome(buf, milliseconds(100));
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code, make_error_code(net::NetErrc::kTimeout));
  EXPECT_TRUE(conn.is_open());
  auto later = conn.ReadSome(buf, milliseconds(5000));
  ASSERT_TRUE(later.has_value()) << later.error().message;
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *later), "*-1\r\n");
}

INSTANTIATE_TEST_SUITE_P(Servers, TlsTest,
                         ::testing::Values(ServerKind::kRedis, ServerKind::kValkey),
                         [](const auto& info) {
                           return info.param == ServerKind::kRedis ? "Redis" : "Valkey";
                         });

// A listener that accepts TCP (the kernel's backlog) but never speaks: the handshake must
// end within the connect deadline, as a timeout that names the TLS handshake.
TEST(TlsDeadlineTest, SilentServerTimesOutInTheHandshake) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  net::TlsOptions tls;
  tls.enabled = true;
  net::Connection conn;
  auto start = Clock::now();
  auto r = conn.Connect("127.0.0.1", ntohs(addr.sin_port), milliseconds(300), tls);
  auto took = Clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, make_error_code(net::NetErrc::kTimeout));
  EXPECT_THAT(r.error().message, HasSubstr("TLS handshake with 127.0.0.1:"));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_FALSE(conn.is_open());
}

// ---------------------------------------------------------------------------------------
// The commands over TLS (the keyferry binary).

class TlsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = TestPki::Create();
    ASSERT_TRUE(pki_);
  }
  std::unique_ptr<ServerProcess> Start(
      ServerKind kind, std::string auth_clients,
      std::vector<std::pair<std::string, std::string>> config = {}) {
    ServerOptions options;
    options.config = std::move(config);
    options.tls = ServerTls{pki_->server().cert, pki_->server().key, pki_->ca_cert(),
                            std::move(auth_clients)};
    return ServerProcess::Start(kind, std::move(options));
  }
  // --<end>-tls-ca-cert and, with `client`, the client certificate and key.
  std::vector<std::string> Flags(const std::string& end, bool client) const {
    std::vector<std::string> f = {"--" + end + "-tls-ca-cert", pki_->ca_cert()};
    if (client) {
      f.insert(f.end(), {"--" + end + "-tls-cert", pki_->client().cert, "--" + end + "-tls-key",
                         pki_->client().key});
    }
    return f;
  }
  static std::vector<std::string> Cat(std::vector<std::string> a,
                                      const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  std::unique_ptr<TestPki> pki_;
};

TEST_F(TlsCommandTest, SyncOverMutualTlsResumesAfterTheReplicaIsKilled) {
  auto source = Start(ServerKind::kRedis, "yes",
                      {{"repl-diskless-sync-delay", "0"}, {"repl-backlog-size", "64mb"}});
  auto target = Start(ServerKind::kValkey, "no");
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  Subprocess sync(Cat(
      Cat({KeyferryBinary(), "sync", "--source", source->tls_uri(), "--target", target->tls_uri()},
          Flags("source", true)),
      Flags("target", false)));
  ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 60000)) << sync.Stderr();
  // Cut the link on the source's side: the source drops its replica client, over TLS.
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(source->Call({"CLIENT", "KILL", "TYPE", "replica"}), "1");
    for (int i = 0; i < 200; ++i) {
      source->Call({"SET", "after-cut-" + std::to_string(round) + "-" + std::to_string(i),
                    std::to_string(i)});
    }
    ASSERT_TRUE(WaitForReplicaCaughtUp(UriOf(source->uri()), 60000)) << sync.Stderr();
  }
  sync.Signal(SIGTERM);
  ASSERT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  EXPECT_EQ(source->InfoField("stats", "sync_full"), "1");
  EXPECT_GE(std::stoi(source->InfoField("stats", "sync_partial_ok")), 2) << sync.Stderr();
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_EQ(target->Call({"GET", "after-cut-1-199"}), "199");
}

TEST_F(TlsCommandTest, SyncAndVerifyRefuseWhatTheyCannotTrust) {
  auto source = Start(ServerKind::kRedis, "yes");
  auto target = Start(ServerKind::kValkey, "no");
  ASSERT_TRUE(source && target);
  // No client certificate for a server that requires one.
  Subprocess no_cert(Cat(Cat({KeyferryBinary(), "sync", "--once", "--source", source->tls_uri(),
                              "--target", target->tls_uri()},
                             Flags("source", false)),
                         Flags("target", false)));
  EXPECT_EQ(no_cert.Wait(seconds(60)), 2);
  EXPECT_THAT(no_cert.Stderr(), HasSubstr("client certificate required"));
  EXPECT_THAT(no_cert.Stderr(), HasSubstr("--source-tls-cert FILE and --source-tls-key FILE"));
  // The wrong CA for the target.
  Subprocess wrong_ca(Cat({KeyferryBinary(), "verify", "--source", source->tls_uri(), "--target",
                           target->tls_uri(), "--target-tls-ca-cert", pki_->other_ca_cert()},
                          Flags("source", true)));
  EXPECT_EQ(wrong_ca.Wait(seconds(60)), 2);
  EXPECT_THAT(wrong_ca.Stderr(), HasSubstr("(unknown CA)"));
  EXPECT_THAT(wrong_ca.Stderr(), HasSubstr("--target-tls-ca-cert"));
  // TLS flags for a plaintext URI; a certificate without its key; insecure with a CA.
  Subprocess plain({KeyferryBinary(), "verify", "--source", source->uri(), "--target",
                    target->tls_uri(), "--source-tls-ca-cert", pki_->ca_cert()});
  EXPECT_EQ(plain.Wait(seconds(30)), 2);
  EXPECT_THAT(plain.Stderr(), HasSubstr("--source-tls-* flags are given but --source"));
  EXPECT_THAT(plain.Stderr(), HasSubstr("write rediss://"));
  Subprocess half({KeyferryBinary(), "sync", "--source", source->tls_uri(), "--target",
                   target->tls_uri(), "--source-tls-cert", pki_->client().cert});
  EXPECT_EQ(half.Wait(seconds(30)), 2);
  EXPECT_THAT(half.Stderr(), HasSubstr("is given without --source-tls-key"));
  Subprocess both({KeyferryBinary(), "verify", "--source", source->tls_uri(), "--target",
                   target->tls_uri(), "--target-tls-insecure", "--target-tls-ca-cert",
                   pki_->ca_cert()});
  EXPECT_EQ(both.Wait(seconds(30)), 2);
  EXPECT_THAT(both.Stderr(), HasSubstr("--target-tls-insecure skips the certificate check"));
}

TEST_F(TlsCommandTest, VerifyOverTlsAndTheInsecureSwitchIsLoud) {
  auto source = Start(ServerKind::kRedis, "yes");
  auto target = Start(ServerKind::kValkey, "no");
  ASSERT_TRUE(source && target);
  for (auto* s : {source.get(), target.get()}) {
    s->Call({"SET", "a", "1"});
    s->Call({"HSET", "h", "f", "v"});
  }
  Subprocess equal(Cat(Cat({KeyferryBinary(), "verify", "--source", source->tls_uri(), "--target",
                            target->tls_uri()},
                           Flags("source", true)),
                       Flags("target", false)));
  EXPECT_EQ(equal.Wait(seconds(60)), 0) << equal.Stderr();
  EXPECT_THAT(equal.Stdout(), Not(HasSubstr("INSECURE")));
  target->Call({"SET", "a", "2"});
  Subprocess insecure(Cat({KeyferryBinary(), "verify", "--json", "--source", source->tls_uri(),
                           "--target", target->tls_uri(), "--target-tls-insecure"},
                          Flags("source", true)));
  EXPECT_EQ(insecure.Wait(seconds(60)), 1) << insecure.Stderr();
  EXPECT_THAT(insecure.Stderr(), HasSubstr("WARNING: TLS to the target 127.0.0.1:" +
                                           std::to_string(target->tls_port()) + " is INSECURE"));
  EXPECT_THAT(insecure.Stdout(), HasSubstr("\"warnings\""));
  EXPECT_THAT(insecure.Stdout(), HasSubstr("--target-tls-insecure"));
}

// A spec in a temp dir: a TLS source and a local Valkey target that keyferry starts with
// TLS (target.local.tls), relative certificate paths (copied next to the spec).
TEST_F(TlsCommandTest, DoctorAndApplyFromATlsSourceIntoALocalTlsTarget) {
  auto source = Start(ServerKind::kRedis, "yes", {{"repl-diskless-sync-delay", "0"}});
  ASSERT_TRUE(source);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  std::string dir = MakeTempDir("kf-tls-apply-");
  ASSERT_FALSE(dir.empty());
  std::filesystem::create_directories(dir + "/certs");
  for (const std::string& f : {pki_->ca_cert(), pki_->client().cert, pki_->client().key,
                               pki_->server().cert, pki_->server().key}) {
    std::filesystem::copy_file(f, dir + "/certs/" + std::filesystem::path(f).filename().string());
  }
  const std::string spec = dir + "/cache.yaml";
  const std::string hook_out = dir + "/cutover.txt";
  std::ofstream(spec) << "name: tls-cache\n"
                         "source:\n"
                         "  uri: rediss://127.0.0.1:"
                      << source->tls_port()
                      << "\n"
                         "  tls: {ca_cert: certs/ca.pem, cert: certs/client.pem, key: "
                         "certs/client.key}\n"
                         "target:\n"
                         "  version: \"8.0\"\n"
                         "  provider: local\n"
                         "  local:\n"
                         "    tls: {ca_cert: certs/ca.pem, cert: certs/server.pem, key: "
                         "certs/server.key}\n"
                         "cutover:\n"
                         "  hook: \"echo {uri} > "
                      << hook_out
                      << "\"\n"
                         "after_cutover:\n"
                         "  source: keep\n";
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec});
  EXPECT_EQ(doctor.Wait(seconds(60)), 0) << doctor.Stdout() << doctor.Stderr();
  EXPECT_THAT(
      doctor.Stdout(),
      HasSubstr("connected to 127.0.0.1:" + std::to_string(source->tls_port()) + " over TLS"));

  Subprocess apply({KeyferryBinary(), "apply", "-f", spec, "--auto-approve"});
  int rc = apply.Wait(seconds(180));
  std::ifstream in(hook_out);
  std::string target_text;
  std::getline(in, target_text);
  // Stop the provisioned server whatever happened (its pid is in its dir).
  auto stop_target = [&] {
    std::ifstream pid_in(dir + "/keyferry-state/tls-cache/target/valkey.pid");
    long pid = -1;
    if (pid_in >> pid && pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
  };
  if (rc != 0) stop_target();
  ASSERT_EQ(rc, 0) << apply.Stderr();
  EXPECT_TRUE(target_text.starts_with("rediss://127.0.0.1:")) << target_text;
  net::Uri target = UriOf(target_text);
  target.tls.ca_cert = pki_->ca_cert();
  target.tls.cert = pki_->server().cert;
  target.tls.key = pki_->server().key;
  // The target speaks TLS only: its port refuses a plaintext client.
  net::Uri plaintext = target;
  plaintext.tls = {};
  net::Client plain_client;
  auto plain = plain_client.Connect(plaintext);
  if (plain) {
    auto ping = plain_client.Call({"PING"});
    EXPECT_FALSE(ping.has_value() && ping->str() == "PONG");
  }
  auto diffs = CanonicalDiff(UriOf(source->uri()), target);
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  stop_target();
  RemoveTree(dir);
}

// The local TLS target bound to every address: keyferry reaches it over loopback, and the
// name it checks is 127.0.0.1 (which the server certificate holds), also while it starts
// the server and checks it (ConnectLocal).
TEST_F(TlsCommandTest, ApplyIntoALocalTlsTargetOnAWildcardBind) {
  auto source =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
  ASSERT_TRUE(source);
  source->Call({"SET", "k", "v"});
  source->Call({"HSET", "h", "f", "v"});
  std::string dir = MakeTempDir("kf-tls-apply-");
  ASSERT_FALSE(dir.empty());
  const std::string spec = dir + "/cache.yaml";
  const std::string hook_out = dir + "/cutover.txt";
  std::ofstream(spec) << "name: tls-wild\n"
                         "source: {uri: 'redis://127.0.0.1:"
                      << source->port()
                      << "'}\n"
                         "target:\n"
                         "  provider: local\n"
                         "  local:\n"
                         "    bind: 0.0.0.0\n"
                         "    extra_config: {protected-mode: \"no\"}\n"
                         "    tls: {ca_cert: "
                      << pki_->ca_cert() << ", cert: " << pki_->server().cert
                      << ", key: " << pki_->server().key
                      << "}\n"
                         "cutover: {hook: \"echo {uri} > "
                      << hook_out
                      << "\"}\n"
                         "after_cutover: {source: keep}\n";
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec, "--auto-approve"});
  const int rc = apply.Wait(seconds(180));
  std::ifstream pid_in(dir + "/keyferry-state/tls-wild/target/valkey.pid");
  long pid = -1;
  pid_in >> pid;
  std::ifstream in(hook_out);
  std::string target_text;
  std::getline(in, target_text);
  EXPECT_EQ(rc, 0) << apply.Stderr();
  EXPECT_TRUE(target_text.starts_with("rediss://127.0.0.1:")) << target_text;
  if (rc == 0 && !target_text.empty()) {
    net::Uri target = UriOf(target_text);
    target.tls.ca_cert = pki_->ca_cert();
    target.tls.cert = pki_->server().cert;
    target.tls.key = pki_->server().key;
    auto diffs = CanonicalDiff(UriOf(source->uri()), target);
    EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  }
  if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
  RemoveTree(dir);
}

// A local TLS target whose certificate does not hold the name keyferry connects to: PROVISION
// stops at once (not after its 15 s start timeout) and says why, naming the spec field.
TEST_F(TlsCommandTest, LocalTlsTargetWithTheWrongNameStopsProvisionAtOnce) {
  auto source =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
  ASSERT_TRUE(source);
  std::string dir = MakeTempDir("kf-tls-apply-");
  ASSERT_FALSE(dir.empty());
  const std::string spec = dir + "/cache.yaml";
  std::ofstream(spec) << "name: tls-wrong\n"
                         "source: {uri: 'redis://127.0.0.1:"
                      << source->port()
                      << "'}\n"
                         "target:\n"
                         "  provider: local\n"
                         "  local: {tls: {ca_cert: "
                      << pki_->ca_cert() << ", cert: " << pki_->wrong_name_server().cert
                      << ", key: " << pki_->wrong_name_server().key
                      << "}}\n"
                         "after_cutover: {source: keep}\n";
  auto start = Clock::now();
  Subprocess apply({KeyferryBinary(), "apply", "-f", spec, "--auto-approve"});
  const int rc = apply.Wait(seconds(120));
  EXPECT_LT(Clock::now() - start, seconds(12));
  EXPECT_NE(rc, 0);
  EXPECT_THAT(apply.Stderr(), HasSubstr("is for elsewhere.example, not for 127.0.0.1 (name "
                                        "mismatch)"));
  EXPECT_THAT(apply.Stderr(), HasSubstr("target.local.tls.server_name"));
  // Rolled back: the server keyferry started is gone.
  std::ifstream pid_in(dir + "/keyferry-state/tls-wrong/target/valkey.pid");
  long pid = -1;
  if (pid_in >> pid && pid > 0) {
    // Gone, or a zombie waiting for whoever adopted the daemon to reap it.
    auto running = [pid] {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) return false;
      size_t close = line.rfind(')');
      return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
    };
    for (int i = 0; i < 100 && running(); ++i) std::this_thread::sleep_for(milliseconds(20));
    EXPECT_FALSE(running()) << "valkey-server " << pid << " still runs";
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  RemoveTree(dir);
}

// The nodes of a local cluster keyferry provisioned, from its journal (target.nodes): pid,
// port (the TLS port) and dir of each.
struct JournaledNode {
  pid_t pid = -1;
  int port = 0;
  std::string dir;
};
std::vector<JournaledNode> JournaledNodes(const std::string& state_dir) {
  std::vector<JournaledNode> out;
  auto journal = control::Journal::Open(state_dir, false);
  if (!journal) return out;
  auto text = (*journal)->Get("target.nodes");
  if (!text || !*text) return out;
  auto nodes = nlohmann::json::parse(**text, nullptr, false);
  if (!nodes.is_array()) return out;
  for (const auto& n : nodes) {
    out.push_back({static_cast<pid_t>(n.value("pid", -1)), n.value("port", 0),
                   n.value("dir", std::string())});
  }
  return out;
}

std::string JournalPhase(const std::string& state_dir) {
  auto journal = control::Journal::Open(state_dir, false);
  if (!journal) return "";
  auto phase = (*journal)->Get("phase");
  return phase && *phase ? **phase : "";
}

bool Gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// A local 3-shard Valkey Cluster target keyferry starts with TLS only (target.local.tls with
// topology: cluster), mutual TLS (Valkey's default tls-auth-clients yes), from a standalone
// Redis holding every type. The first apply is killed (SIGKILL) in CATCH_UP; the second one
// reuses the cluster (checked over TLS) and runs to DONE. Then: the hook's {uri} is
// rediss:// and {nodes} names every primary's TLS port; every node refuses plaintext on its
// port, answers over TLS and runs with port 0, tls-cluster and tls-replication yes; the
// content equals the source's, and keyferry verify over TLS says EQUAL. A second migration
// aborted in CATCH_UP stops every node it started and removes their dirs. Before this the
// spec refused target.local.tls with topology: cluster (apply exited 2 at the spec).
TEST_F(TlsCommandTest, ApplyIntoALocalClusterTargetOverTls) {
  auto source = ServerProcess::Start(
      ServerKind::kRedis,
      {.config = {{"repl-diskless-sync-delay", "0"}, {"repl-backlog-size", "64mb"}}});
  ASSERT_TRUE(source);
  {
    net::Client seed;
    ASSERT_TRUE(seed.Connect(UriOf(source->uri())));
    auto commands = EveryTypeCommandsForCompare();
    auto replies = seed.CallPipelined(commands);
    ASSERT_TRUE(replies);
    ExpectNoErrorReplies(*replies, commands);
  }
  std::string dir = MakeTempDir("kf-tls-cluster-");
  ASSERT_FALSE(dir.empty());
  auto write_spec = [&](const std::string& name) {
    const std::string path = dir + "/" + name + ".yaml";
    std::ofstream(path) << "name: " << name
                        << "\n"
                           "source: {uri: 'redis://127.0.0.1:"
                        << source->port()
                        << "'}\n"
                           "target:\n"
                           "  version: \"8.0\"\n"
                           "  topology: cluster\n"
                           "  provider: local\n"
                           "  local:\n"
                           "    shards: 3\n"
                           "    tls: {ca_cert: "
                        << pki_->ca_cert() << ", cert: " << pki_->server().cert
                        << ", key: " << pki_->server().key
                        << "}\n"
                           "cutover: {hook: \"echo {uri} {nodes} > "
                        << dir << "/" << name
                        << ".hook\"}\n"
                           "after_cutover: {source: keep}\n";
    return path;
  };
  const std::string spec = write_spec("tls-cluster");
  const std::string state = dir + "/keyferry-state/tls-cluster";
  std::vector<pid_t> started;
  auto kill_started = [&] {
    for (const auto& n : JournaledNodes(state)) ::kill(n.pid, SIGKILL);
    for (const auto& n : JournaledNodes(dir + "/keyferry-state/tls-aborted")) {
      ::kill(n.pid, SIGKILL);
    }
  };

  // The first apply, killed in CATCH_UP.
  {
    Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:60000", KeyferryBinary(), "apply",
                      "-f", spec, "--auto-approve"});
    auto deadline = Clock::now() + seconds(120);
    while (JournalPhase(state) != "CATCH_UP" && apply.running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (JournalPhase(state) != "CATCH_UP") kill_started();
    ASSERT_EQ(JournalPhase(state), "CATCH_UP") << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(30));
  }
  const auto before = JournaledNodes(state);
  ASSERT_EQ(before.size(), 3u);
  Subprocess apply(
      {KeyferryBinary(), "--log-level", "info", "apply", "-f", spec, "--auto-approve"});
  const int rc = apply.Wait(seconds(180));
  const auto nodes = JournaledNodes(state);
  if (rc != 0) kill_started();
  ASSERT_EQ(rc, 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(JournalPhase(state), "DONE");
  ASSERT_EQ(nodes.size(), 3u);
  for (size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(nodes[i].pid, before[i].pid) << "the resumed apply must reuse the TLS cluster";
  }
  EXPECT_THAT(apply.Stdout() + apply.Stderr(), HasSubstr("reusing the local Valkey Cluster"));

  // The hook saw the TLS endpoint and every primary's TLS port.
  std::ifstream hook_in(dir + "/tls-cluster.hook");
  std::string hook_uri, hook_nodes;
  hook_in >> hook_uri >> hook_nodes;
  EXPECT_TRUE(hook_uri.starts_with("rediss://127.0.0.1:")) << hook_uri;
  std::vector<net::Uri> primaries;
  for (const auto& n : nodes) {
    EXPECT_THAT(hook_nodes, HasSubstr("127.0.0.1:" + std::to_string(n.port))) << hook_nodes;
    net::Uri tls = UriOf("rediss://127.0.0.1:" + std::to_string(n.port));
    tls.tls.ca_cert = pki_->ca_cert();
    tls.tls.cert = pki_->client().cert;
    tls.tls.key = pki_->client().key;
    primaries.push_back(tls);
    // TLS only: the port does not answer a plaintext PING; over TLS it does.
    net::Uri plaintext = tls;
    plaintext.tls = {};
    net::ClientOptions quick;
    quick.io_timeout = milliseconds(1000);
    net::Client plain_client;
    if (plain_client.Connect(plaintext, quick)) {
      auto ping = plain_client.Call({"PING"});
      EXPECT_FALSE(ping.has_value() && ping->str() == "PONG") << "plaintext on " << n.port;
    }
    net::Client c;
    ASSERT_TRUE(c.Connect(tls)) << n.port;
    auto config = c.Call({"CONFIG", "GET", "*"});
    ASSERT_TRUE(config && !config->is_error());
    std::map<std::string, std::string> values;
    for (size_t k = 0; k + 1 < config->size(); k += 2) {
      values[(*config)[k].str()] = (*config)[k + 1].str();
    }
    EXPECT_EQ(values["port"], "0") << n.port;
    EXPECT_EQ(values["tls-port"], std::to_string(n.port));
    EXPECT_EQ(values["tls-cluster"], "yes") << n.port;
    EXPECT_EQ(values["tls-replication"], "yes") << n.port;
    EXPECT_EQ(values["tls-auth-clients"], "yes") << n.port;
    EXPECT_GT(c.Call({"DBSIZE"})->integer(), 0) << "every shard holds keys: " << n.port;
  }
  auto diffs = CanonicalDiff({UriOf(source->uri())}, primaries);
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  Subprocess verify(
      Cat({KeyferryBinary(), "verify", "--source", source->uri(), "--target", hook_uri},
          Flags("target", true)));
  EXPECT_EQ(verify.Wait(seconds(120)), 0) << verify.Stdout() << verify.Stderr();
  EXPECT_THAT(verify.Stdout(), HasSubstr("result: EQUAL"));

  // A second migration, aborted in CATCH_UP: every node it started is stopped and removed.
  const std::string aborted = write_spec("tls-aborted");
  const std::string aborted_state = dir + "/keyferry-state/tls-aborted";
  {
    Subprocess held({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:60000", KeyferryBinary(), "apply",
                     "-f", aborted, "--auto-approve"});
    auto deadline = Clock::now() + seconds(120);
    while (JournalPhase(aborted_state) != "CATCH_UP" && held.running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    const auto held_nodes = JournaledNodes(aborted_state);
    if (JournalPhase(aborted_state) != "CATCH_UP") kill_started();
    ASSERT_EQ(JournalPhase(aborted_state), "CATCH_UP") << held.Stderr();
    ASSERT_EQ(held_nodes.size(), 3u);
    Subprocess abort({KeyferryBinary(), "abort", "-f", aborted});
    EXPECT_EQ(abort.Wait(seconds(60)), 0) << abort.Stdout() << abort.Stderr();
    held.Wait(seconds(60));
    EXPECT_EQ(JournalPhase(aborted_state), "ABORTED") << held.Stderr();
    for (const auto& n : held_nodes) {
      auto until = Clock::now() + seconds(15);
      while (!Gone(n.pid) && Clock::now() < until) std::this_thread::sleep_for(milliseconds(50));
      EXPECT_TRUE(Gone(n.pid)) << "node pid " << n.pid << " still runs";
      EXPECT_FALSE(std::filesystem::exists(n.dir)) << n.dir;
      ::kill(n.pid, SIGKILL);
    }
  }
  kill_started();
  RemoveTree(dir);
}

// A Valkey Cluster with tls-cluster yes, given to keyferry as one node's TLS port: the
// other primaries are found and written on their TLS ports (net::NodeUri of a TLS seed).
TEST_F(TlsCommandTest, SyncAndVerifyIntoAClusterOverTls) {
  auto source = StartSeededForCompare(ServerKind::kRedis);
  ASSERT_TRUE(source);
  ClusterOptions options;
  options.primaries = 3;
  options.tls = ServerTls{pki_->server().cert, pki_->server().key, pki_->ca_cert(), "no"};
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, options);
  ASSERT_TRUE(cluster);
  ASSERT_FALSE(HasFailure());
  const std::string seed = cluster->node(0).tls_uri();
  Subprocess sync(
      Cat({KeyferryBinary(), "sync", "--once", "--source", source->uri(), "--target", seed},
          Flags("target", false)));
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
  EXPECT_EQ(JoinDiffs(CanonicalDiff({UriOf(source->uri())}, cluster->PrimaryUris())), "");
  for (ServerProcess* p : cluster->Primaries()) {
    EXPECT_GT(std::stoull(p->Call({"DBSIZE"})), 0u) << p->uri();
  }
  Subprocess verify(Cat({KeyferryBinary(), "verify", "--source", source->uri(), "--target", seed},
                        Flags("target", false)));
  EXPECT_EQ(verify.Wait(seconds(120)), 0) << verify.Stdout() << verify.Stderr();
  EXPECT_THAT(verify.Stdout(), HasSubstr("result: EQUAL"));
}

// A Redis Cluster source with tls-cluster yes and mutual TLS, given as one node's TLS port:
// keyferry opens a replica link to every primary on its TLS port.
TEST_F(TlsCommandTest, SyncFromAClusterSourceOverTls) {
  ClusterOptions options;
  options.primaries = 3;
  options.tls = ServerTls{pki_->server().cert, pki_->server().key, pki_->ca_cert(), "yes"};
  auto cluster = ClusterProcess::Start(ServerKind::kRedis, options);
  ASSERT_TRUE(cluster);
  SeedEveryTypeForCompare(*cluster);
  ASSERT_FALSE(HasFatalFailure());
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  Subprocess sync(Cat({KeyferryBinary(), "sync", "--once", "--source",
                       cluster->Primaries().back()->tls_uri(), "--target", target->uri()},
                      Flags("source", true)));
  ASSERT_EQ(sync.Wait(seconds(120)), 0) << sync.Stderr();
  auto diffs = CanonicalDiff(cluster->PrimaryUris(), {UriOf(target->uri())});
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  for (ServerProcess* p : cluster->Primaries()) {
    EXPECT_EQ(p->InfoField("stats", "sync_full"), "1") << p->uri();
  }
}

// keyferry restore into a target that demands a client certificate, verified after.
TEST_F(TlsCommandTest, RestoreIntoAMutualTlsTarget) {
  auto target = Start(ServerKind::kValkey, "yes");
  ASSERT_TRUE(target);
  Subprocess refused({KeyferryBinary(), "restore",
                      std::string(KF_FIXTURES_DIR) + "/rdb/valkey-8.0-base.rdb", "--target",
                      target->tls_uri(), "--target-tls-ca-cert", pki_->ca_cert()});
  EXPECT_EQ(refused.Wait(seconds(60)), 2) << refused.Stderr();
  EXPECT_NE(refused.Stderr().find("client certificate"), std::string::npos) << refused.Stderr();
  Subprocess restore(
      Cat({KeyferryBinary(), "restore", std::string(KF_FIXTURES_DIR) + "/rdb/valkey-8.0-base.rdb",
           "--target", target->tls_uri()},
          Flags("target", true)));
  ASSERT_EQ(restore.Wait(seconds(60)), 0) << restore.Stderr();
  EXPECT_NE(restore.Stderr().find("verified: the target holds exactly the file's"),
            std::string::npos)
      << restore.Stderr();
}

// Scan mode over TLS: the reads and the notification subscription both go over TLS.
TEST_F(TlsCommandTest, ScanModeSyncFromATlsSource) {
  auto source = Start(ServerKind::kRedis, "yes", {{"notify-keyspace-events", "KEA"}});
  auto target = Start(ServerKind::kValkey, "no");
  ASSERT_TRUE(source && target);
  SeedEveryType(UriOf(source->uri()));
  ASSERT_FALSE(HasFatalFailure());
  Subprocess scan(Cat(Cat({KeyferryBinary(), "sync", "--source", source->tls_uri(), "--target",
                           target->tls_uri(), "--source-mode", "scan", "--once"},
                          Flags("source", true)),
                      Flags("target", false)));
  ASSERT_EQ(scan.Wait(seconds(60)), 0) << scan.Stderr();
  auto diffs = CanonicalDiff(UriOf(source->uri()), UriOf(target->uri()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
}

}  // namespace
}  // namespace kf::test
