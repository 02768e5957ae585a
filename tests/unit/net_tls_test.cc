// Tests of the TLS options and error texts without sockets: option names as the operator
// wrote them (flags or spec), the cert/key pairing check, the report line, and the text
// for each kind of failed check (unknown CA, expired, name mismatch, client certificate
// required, plaintext port). The same texts are checked against real servers in
// tests/integration/tls_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "net/errc.h"
#include "net/tls_messages.h"
#include "net/tls_options.h"

namespace kf::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TlsOptions FromFlags(std::string end) {
  TlsOptions tls;
  tls.enabled = true;
  tls.origin = "--" + end + "-tls";
  return tls;
}

TEST(NetTlsTest, OptionNamesFollowWhereTheOptionsCameFrom) {
  EXPECT_EQ(FromFlags("source").OptionName("ca_cert"), "--source-tls-ca-cert");
  EXPECT_EQ(FromFlags("target").OptionName("server_name"), "--target-tls-server-name");
  TlsOptions spec;
  spec.origin = "target.external.tls";
  EXPECT_EQ(spec.OptionName("ca_cert"), "target.external.tls.ca_cert");
  EXPECT_EQ(TlsOptions{}.OptionName("insecure"), "tls insecure");
}

TEST(NetTlsTest, CertificateAndKeyGoTogether) {
  TlsOptions tls = FromFlags("source");
  EXPECT_TRUE(tls.Check().has_value());
  tls.cert = "client.pem";
  auto r = tls.Check();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, make_error_code(NetErrc::kTlsFailed));
  EXPECT_THAT(r.error().message,
              HasSubstr("--source-tls-cert client.pem is given without --source-tls-key"));
  tls.key = "client.key";
  EXPECT_TRUE(tls.Check().has_value());
  tls.cert.clear();
  ASSERT_FALSE(tls.Check().has_value());
  EXPECT_THAT(tls.Check().error().message, HasSubstr("--source-tls-key client.key is given"));
}

TEST(NetTlsTest, DescribeSaysInsecureLoudly) {
  TlsOptions tls = FromFlags("source");
  EXPECT_EQ(TlsOptions{}.Describe(), "plaintext");
  EXPECT_THAT(tls.Describe(), HasSubstr("system's CA store"));
  tls.ca_cert = "/etc/ca.pem";
  EXPECT_THAT(tls.Describe(), HasSubstr("verified against /etc/ca.pem"));
  tls.insecure = true;
  EXPECT_THAT(tls.Describe(), HasSubstr("INSECURE"));
  EXPECT_THAT(tls.Describe(), HasSubstr("NOT verified (--source-tls-insecure)"));
  EXPECT_THAT(tls.Describe(), Not(HasSubstr("verified against")));
}

TEST(NetTlsTest, VerifyFailuresSayWhichCheckAndWhatToDo) {
  TlsOptions tls = FromFlags("source");
  tls.ca_cert = "ca.pem";
  CertificateFacts cert;
  cert.subject = "CN=redis.internal";
  cert.issuer = "CN=Other CA";
  cert.not_after = "2020-01-01 00:00:00 UTC";
  cert.names = {"redis.internal", "10.0.0.5"};

  std::string m = VerifyFailureMessage("127.0.0.1:6380", tls, "127.0.0.1",
                                       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, cert);
  EXPECT_THAT(m, HasSubstr("TLS handshake with 127.0.0.1:6380 failed"));
  EXPECT_THAT(m, HasSubstr("issued by CN=Other CA, is not signed by a CA keyferry trusts"));
  EXPECT_THAT(m, HasSubstr("the CA in ca.pem (--source-tls-ca-cert)"));
  EXPECT_THAT(m, HasSubstr("(unknown CA)"));
  EXPECT_EQ(m, VerifyFailureMessage("127.0.0.1:6380", tls, "127.0.0.1",
                                    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, cert));

  m = VerifyFailureMessage("h:1", tls, "h", X509_V_ERR_CERT_HAS_EXPIRED, cert);
  EXPECT_THAT(m, HasSubstr("(CN=redis.internal) expired on 2020-01-01 00:00:00 UTC"));
  EXPECT_THAT(m, HasSubstr("renewed certificate"));

  m = VerifyFailureMessage("127.0.0.1:1", tls, "127.0.0.1", X509_V_ERR_IP_ADDRESS_MISMATCH, cert);
  EXPECT_THAT(m, HasSubstr("is for redis.internal, 10.0.0.5, not for 127.0.0.1 (name mismatch)"));
  EXPECT_THAT(m, HasSubstr("set --source-tls-server-name"));

  TlsOptions system = FromFlags("target");
  m = VerifyFailureMessage("h:1", system, "h", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, cert);
  EXPECT_THAT(m, HasSubstr("the system's CA store (no --target-tls-ca-cert given)"));
}

TEST(NetTlsTest, ServerRefusalsNameTheClientCertificate) {
  TlsOptions tls = FromFlags("source");
  std::string m = TlsErrorMessage("h:1", tls, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED,
                                  "tlsv13 alert certificate required", false);
  EXPECT_THAT(m, HasSubstr("TLS connection to h:1 failed"));
  EXPECT_THAT(m, HasSubstr("client certificate required"));
  EXPECT_THAT(m, HasSubstr("--source-tls-cert FILE and --source-tls-key FILE"));
  EXPECT_TRUE(IsClientCertificateRefusal(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED));

  tls.cert = "client.pem";
  tls.key = "client.key";
  m = TlsErrorMessage("h:1", tls, SSL_R_TLSV1_ALERT_UNKNOWN_CA, "tlsv1 alert unknown ca", true);
  EXPECT_THAT(m, HasSubstr("TLS handshake with h:1 failed: the server refused keyferry's client "
                           "certificate client.pem"));
  EXPECT_THAT(m, HasSubstr("not signed by a CA the server trusts"));

  m = TlsErrorMessage("h:1", tls, SSL_R_WRONG_VERSION_NUMBER, "wrong version number", true);
  EXPECT_THAT(m, HasSubstr("did not answer in TLS"));
  EXPECT_THAT(m, HasSubstr("use redis://"));
  EXPECT_FALSE(IsClientCertificateRefusal(SSL_R_WRONG_VERSION_NUMBER));
}

}  // namespace
}  // namespace kf::net
