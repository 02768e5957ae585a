// Tests of net::Uri: the accepted forms, defaults, percent-decoding, IPv6 literals,
// masking, and a clear error for every malformed URI.
#include <gtest/gtest.h>

#include "net/errc.h"
#include "net/uri.h"

namespace kf::net {
namespace {

Uri MustParse(std::string_view text) {
  auto u = Uri::Parse(text);
  EXPECT_TRUE(u.has_value()) << text << ": " << (u ? "" : u.error().message);
  return u ? *u : Uri{};
}

std::string ErrorOf(std::string_view text, NetErrc expected = NetErrc::kBadUri) {
  auto u = Uri::Parse(text);
  EXPECT_FALSE(u.has_value()) << text << " should not parse";
  if (u) return "";
  EXPECT_EQ(u.error().code, make_error_code(expected)) << u.error().message;
  return u.error().message;
}

TEST(NetUriTest, HostAndDefaults) {
  Uri u = MustParse("redis://localhost");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.db, 0);
  EXPECT_FALSE(u.has_password);
  EXPECT_TRUE(u.user.empty());

  u = MustParse("redis://127.0.0.1:6390");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 6390);
  EXPECT_EQ(u.Endpoint(), "127.0.0.1:6390");

  u = MustParse("redis://cache.example.com:7000/3");
  EXPECT_EQ(u.host, "cache.example.com");
  EXPECT_EQ(u.port, 7000);
  EXPECT_EQ(u.db, 3);

  EXPECT_EQ(MustParse("redis://h/").db, 0);
  EXPECT_EQ(MustParse("REDIS://h:1").port, 1);
  EXPECT_EQ(MustParse("redis://h:65535").port, 65535);
}

TEST(NetUriTest, Credentials) {
  Uri u = MustParse("redis://:secret@127.0.0.1:6379");
  EXPECT_TRUE(u.has_password);
  EXPECT_EQ(u.password, "secret");
  EXPECT_TRUE(u.user.empty());

  u = MustParse("redis://alice:s3cret@host:1234/2");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.port, 1234);
  EXPECT_EQ(u.db, 2);

  // Percent-decoding, and reserved characters in the password.
  u = MustParse("redis://us%65r:p%40ss%3Aw%2Ford%25@host");
  EXPECT_EQ(u.user, "user");
  EXPECT_EQ(u.password, "p@ss:w/ord%");
  // A raw '@' in the password: the last '@' ends the userinfo.
  u = MustParse("redis://:a@b@host:1");
  EXPECT_EQ(u.password, "a@b");
  EXPECT_EQ(u.host, "host");
  // Empty password is still a password.
  u = MustParse("redis://:@host");
  EXPECT_TRUE(u.has_password);
  EXPECT_EQ(u.password, "");
}

TEST(NetUriTest, Ipv6Literals) {
  Uri u = MustParse("redis://[::1]:6380");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.Endpoint(), "[::1]:6380");
  u = MustParse("redis://:pw@[fe80::1:2]/5");
  EXPECT_EQ(u.host, "fe80::1:2");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.db, 5);
}

TEST(NetUriTest, PrintingMasksThePassword) {
  Uri u = MustParse("redis://alice:p%40ss@[::1]:6380/2");
  EXPECT_EQ(u.ToString(), "redis://alice:***@[::1]:6380/2");
  EXPECT_EQ(u.ToString(/*mask_password=*/false), "redis://alice:p%40ss@[::1]:6380/2");
  EXPECT_EQ(MustParse("redis://:pw@h:1").ToString(), "redis://:***@h:1");
  EXPECT_EQ(MustParse("redis://h").ToString(), "redis://h:6379");
  // Round trip of the unmasked form.
  Uri again = MustParse(u.ToString(false));
  EXPECT_EQ(again, u);
}

TEST(NetUriTest, RedissMeansTls) {
  Uri u = MustParse("rediss://alice:pw@cache.internal:6380/2");
  EXPECT_TRUE(u.tls.enabled);
  EXPECT_EQ(u.host, "cache.internal");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 2);
  EXPECT_EQ(u.ToString(), "rediss://alice:***@cache.internal:6380/2");
  EXPECT_EQ(MustParse(u.ToString(false)), u);
  EXPECT_TRUE(MustParse("REDISS://h").tls.enabled);
  EXPECT_EQ(MustParse("rediss://h").port, 6379);
  EXPECT_FALSE(MustParse("redis://h").tls.enabled);
  EXPECT_EQ(MustParse("redis://h").ToString(), "redis://h:6379");
  // Only the scheme says TLS: the other options come from flags or a spec.
  EXPECT_FALSE(MustParse("rediss://h").tls.AnySet());
}

TEST(NetUriTest, BadUrisNameTheProblem) {
  EXPECT_NE(ErrorOf("localhost:6379").find("missing the redis:// scheme"), std::string::npos);
  EXPECT_NE(ErrorOf("http://h").find("unknown scheme \"http\""), std::string::npos);
  EXPECT_NE(ErrorOf("redis://").find("missing host"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://:6379").find("missing host"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h:").find("empty port"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h:abc").find("port \"abc\""), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h:0").find("1 to 65535"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h:65536").find("1 to 65535"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h:99999999999999").find("1 to 65535"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h/x").find("database \"x\""), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h/-1").find("database"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h/1/2").find("database"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://::1:6379").find("brackets"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://[::1").find("closing ']'"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://[::1]6379").find("':port'"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://[]:1").find("empty IPv6"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://:p%4@h").find("percent-escape in the password"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://:p%zz@h").find("percent-escape"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://u%g1:p@h").find("user name"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://alice@h").find("without a password"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://h?timeout=1").find("query"), std::string::npos);
  EXPECT_NE(ErrorOf("redis://bad host").find("invalid character"), std::string::npos);
  // A URI holding a password is not echoed back in the error.
  std::string msg = ErrorOf("redis://:topsecret@h:xx");
  EXPECT_EQ(msg.find("topsecret"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected redis[s]://"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kf::net
