// TLS error texts: see tls_messages.h. Each message says where (host:port), what the check
// found, and the option that fixes it.
#include "net/tls_messages.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace kf::net {
namespace {

std::string Trusted(const TlsOptions& tls) {
  if (!tls.ca_cert.empty() && !tls.ca_dir.empty()) {
    return "the CAs in " + tls.ca_cert + " (" + tls.OptionName("ca_cert") + ") and " + tls.ca_dir +
           " (" + tls.OptionName("ca_dir") + ")";
  }
  if (!tls.ca_cert.empty())
    return "the CA in " + tls.ca_cert + " (" + tls.OptionName("ca_cert") + ")";
  if (!tls.ca_dir.empty())
    return "the CAs in " + tls.ca_dir + " (" + tls.OptionName("ca_dir") + ")";
  return "the system's CA store (no " + tls.OptionName("ca_cert") + " given)";
}

std::string Which(const CertificateFacts& cert) {
  std::string what = cert.depth == 0 ? "the server's certificate"
                                     : "a CA certificate in the server's chain (depth " +
                                           std::to_string(cert.depth) + ")";
  if (!cert.subject.empty()) what += " (" + cert.subject + ")";
  return what;
}

std::string Names(const CertificateFacts& cert) {
  if (cert.names.empty()) return "no subjectAltName";
  std::string out;
  for (const auto& n : cert.names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

std::string VerifyFailureMessage(const std::string& endpoint, const TlsOptions& tls,
                                 const std::string& checked_name, long x509_error,
                                 const CertificateFacts& cert) {
  const std::string head = "TLS handshake with " + endpoint + " failed: ";
  switch (x509_error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return head + Which(cert) + ", issued by " +
             (cert.issuer.empty() ? "an unnamed CA" : cert.issuer) +
             ", is not signed by a CA keyferry trusts: it trusts " + Trusted(tls) +
             " (unknown CA). Give the CA certificate that signed the server's certificate with " +
             tls.OptionName("ca_cert") + " FILE (or a hashed directory with " +
             tls.OptionName("ca_dir") + " DIR); " + tls.OptionName("insecure") +
             " skips this check, but then nothing proves the server is the one you meant";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return head + Which(cert) + " expired on " + cert.not_after +
             " (expired certificate). The server needs a renewed certificate (tls-cert-file); "
             "if it is not expired, check this machine's clock";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return head + Which(cert) + " is not valid before " + cert.not_before +
             " (certificate not yet valid); check the clocks of this machine and of the server";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return head + Which(cert) + " is for " + Names(cert) + ", not for " + checked_name +
             " (name mismatch). Connect with a name the certificate holds, or set " +
             tls.OptionName("server_name") + " to one of them";
    case X509_V_ERR_CERT_REVOKED:
      return head + Which(cert) + " is revoked; the server needs a new certificate";
    case X509_V_ERR_INVALID_PURPOSE:
      return head + Which(cert) +
             " is not valid for a TLS server (its extendedKeyUsage lacks serverAuth); the "
             "server needs a server certificate";
    default:
      return head + "the check of " + Which(cert) +
             " failed: " + X509_verify_cert_error_string(x509_error) + " (OpenSSL verify error " +
             std::to_string(x509_error) + "); check the server's certificate and " +
             tls.OptionName("ca_cert");
  }
}

bool IsClientCertificateRefusal(int ssl_reason) {
  switch (ssl_reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return true;
    default:
      return false;
  }
}

std::string TlsErrorMessage(const std::string& endpoint, const TlsOptions& tls, int ssl_reason,
                            const std::string& openssl_text, bool during_handshake) {
  const std::string head =
      std::string(during_handshake ? "TLS handshake with " : "TLS connection to ") + endpoint +
      " failed: ";
  const std::string client_cert =
      tls.cert.empty() ? std::string() : "keyferry's client certificate " + tls.cert;
  switch (ssl_reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNKNOWN_PROTOCOL:
      return head + "the server did not answer in TLS (" + openssl_text +
             "); this port may be its plaintext port: use redis:// for it, or the port of its "
             "tls-port";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      if (tls.cert.empty()) {
        return head +
               "the server requires a client certificate (client certificate required: "
               "mutual TLS, tls-auth-clients yes); give one signed by a CA the server "
               "trusts (its tls-ca-cert-file) with " +
               tls.OptionName("cert") + " FILE and " + tls.OptionName("key") + " FILE";
      }
      return head + "the server asked for a client certificate and did not accept " + client_cert +
             "; give one signed by a CA in the server's tls-ca-cert-file";
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      if (tls.cert.empty()) {
        return head + "the server refused the connection (" + openssl_text +
               "); it may require a client certificate: give one with " + tls.OptionName("cert") +
               " FILE and " + tls.OptionName("key") + " FILE";
      }
      return head + "the server refused " + client_cert + " (" + openssl_text +
             "): it is not signed by a CA the server trusts (its tls-ca-cert-file); give "
             "a client certificate that CA signed with " +
             tls.OptionName("cert") + " and " + tls.OptionName("key");
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return head + "the server refused " +
             (client_cert.empty() ? std::string("the client certificate") : client_cert) +
             " as expired; renew it (" + tls.OptionName("cert") + ")";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return head + "the server refused " +
             (client_cert.empty() ? std::string("the client certificate") : client_cert) +
             " as revoked; use a new one (" + tls.OptionName("cert") + ")";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return head + "the server ended the handshake (" + openssl_text + "); " +
             (tls.cert.empty() ? "it may require a client certificate (" + tls.OptionName("cert") +
                                     " and " + tls.OptionName("key") +
                                     "), or share no TLS version or cipher with keyferry (TLS "
                                     "1.2 or 1.3)"
                               : "it may not accept " + client_cert +
                                     ", or share no TLS version or cipher with keyferry (TLS "
                                     "1.2 or 1.3)") +
             "; the server's log says which";
    default:
      return head + openssl_text + "; check the server's TLS settings (tls-port, tls-cert-file, " +
             "tls-auth-clients) and " + tls.OptionName("ca_cert") + ", " + tls.OptionName("cert") +
             ", " + tls.OptionName("key");
  }
}

}  // namespace kf::net
