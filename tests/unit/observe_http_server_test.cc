// observe::HttpServer: address parsing, the loopback rule, the token check (pure functions),
// then the server itself on 127.0.0.1 (a free port): routes, 404/405, the refusal of a
// non-loopback address without a token, and 401 without the token when one is set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <string>

#include "observe/http_server.h"

namespace kf::observe {
namespace {

using ::testing::HasSubstr;

ListenOptions Options(std::string address, std::string token = "",
                      std::string hint = "--listen-token-env NAME") {
  ListenOptions options;
  options.address = std::move(address);
  options.token = std::move(token);
  options.token_hint = std::move(hint);
  return options;
}

TEST(ObserveHttpServer, ParsesListenAddresses) {
  auto v4 = ParseListenAddress("127.0.0.1:9121");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9121);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad : {"", "9121", ":9121", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536",
                          "::1:9121", "[]:1", "[::1:9121", "127.0.0.1:-1"}) {
    EXPECT_FALSE(ParseListenAddress(bad)) << bad;
  }
}

TEST(ObserveHttpServer, LoopbackHosts) {
  for (const char* host :
       {"127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "localhost", "LocalHost"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "",
                           "127.0.0.1.example.com", "::ffff:127.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(ObserveHttpServer, TokenCheck) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));

  EXPECT_TRUE(RequestAuthorized("", "", std::nullopt));  // no token: open
  EXPECT_TRUE(RequestAuthorized("t0k", "Bearer t0k", std::nullopt));
  EXPECT_TRUE(RequestAuthorized("t0k", "bearer  t0k ", std::nullopt));
  EXPECT_TRUE(RequestAuthorized("t0k", "", std::string("t0k")));
  EXPECT_TRUE(RequestAuthorized("t0k", "Bearer wrong", std::string("t0k")));
  EXPECT_FALSE(RequestAuthorized("t0k", "", std::nullopt));
  EXPECT_FALSE(RequestAuthorized("t0k", "Bearer t0", std::nullopt));
  EXPECT_FALSE(RequestAuthorized("t0k", "Basic t0k", std::nullopt));
  EXPECT_FALSE(RequestAuthorized("t0k", "t0k", std::nullopt));
  EXPECT_FALSE(RequestAuthorized("t0k", "Bearer ", std::string("")));
}

TEST(ObserveHttpServer, ServesRoutesPerRequest) {
  std::atomic<int> counter{0};
  HttpServer server;
  server.Handle("/count", "application/json",
                [&](const HttpRequest&) { return "{\"n\":" + std::to_string(++counter) + "}"; });
  server.Handle("/echo", [](const HttpRequest& req) {
    auto id = req.Query("id");
    if (!id) return HttpResponse{400, "text/plain", "give ?id=\n"};
    return HttpResponse{200, "text/plain", "id " + *id};
  });
  ASSERT_TRUE(server.Listen(Options("127.0.0.1:0")));
  ASSERT_GT(server.port(), 0);
  httplib::Client client("127.0.0.1", server.port());
  auto first = client.Get("/count");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "{\"n\":1}");
  EXPECT_EQ(first->get_header_value("Content-Type"), "application/json");
  auto second = client.Get("/count");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "{\"n\":2}");  // evaluated per request

  auto echo = client.Get("/echo?id=a%20b");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->body, "id a b");
  auto bad = client.Get("/echo");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);

  auto missing = client.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("the paths are /count, /echo"));
  auto post = client.Post("/count", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(counter.load(), 2);
  server.Stop();
  server.Stop();  // idempotent
}

TEST(ObserveHttpServer, TokenIsEnforcedOnEveryRoute) {
  HttpServer server;
  server.Handle("/status", "application/json", [](const HttpRequest&) { return "{}"; });
  ASSERT_TRUE(server.Listen(Options("127.0.0.1:0", "s3cr3t")));
  httplib::Client client("127.0.0.1", server.port());
  for (const char* path : {"/status", "/nothing"}) {
    auto denied = client.Get(path);
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401) << path;
    EXPECT_EQ(denied->get_header_value("WWW-Authenticate"), "Bearer realm=\"keyferry\"");
    EXPECT_THAT(denied->body, HasSubstr("Authorization: Bearer <token>"));
  }
  auto wrong = client.Get("/status", {{"Authorization", "Bearer s3cr3"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto header = client.Get("/status", {{"Authorization", "Bearer s3cr3t"}});
  ASSERT_TRUE(header);
  EXPECT_EQ(header->status, 200);
  EXPECT_EQ(header->body, "{}");
  auto query = client.Get("/status?token=s3cr3t");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200);
}

TEST(ObserveHttpServer, RefusesANetworkAddressWithoutAToken) {
  HttpServer server;
  server.Handle("/status", "application/json", [](const HttpRequest&) { return "{}"; });
  auto refused = server.Listen(Options("0.0.0.0:0", "", "--listen-token-env X"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, std::make_error_code(std::errc::permission_denied));
  EXPECT_THAT(refused.error().message, HasSubstr("refusing to serve status and metrics on "
                                                 "0.0.0.0:0 without a token"));
  EXPECT_THAT(refused.error().message, HasSubstr("--listen-token-env X"));
  auto malformed = server.Listen(Options("localhost"));
  ASSERT_FALSE(malformed);
  EXPECT_THAT(malformed.error().message, HasSubstr("is not HOST:PORT"));
}

TEST(ObserveHttpServer, ReportsATakenPort) {
  HttpServer first;
  ASSERT_TRUE(first.Listen(Options("127.0.0.1:0")));
  HttpServer second;
  auto taken = second.Listen(Options("127.0.0.1:" + std::to_string(first.port())));
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, std::make_error_code(std::errc::address_in_use));
  EXPECT_THAT(taken.error().message, HasSubstr("pick another"));
}

}  // namespace
}  // namespace kf::observe
