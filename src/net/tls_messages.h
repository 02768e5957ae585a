// TLS error texts: what failed in a TLS handshake or certificate check, in words an
// operator can act on, with the option to change (TlsOptions::OptionName).
//
// Pure functions over the facts Connection gathers (the OpenSSL verify result and the
// certificate it concerned, or the reason code of an OpenSSL error / a TLS alert), so the
// texts are tested without sockets. The texts are listed in docs/tls.md.
#pragma once

#include <string>
#include <vector>

#include "net/tls_options.h"

namespace kf::net {

// The certificate a verification failed on (depth 0 is the server's own).
struct CertificateFacts {
  std::string subject;             // "CN=valkey.internal,O=..." (RFC 2253), may be empty
  std::string issuer;              // same form
  std::string not_before;          // "2026-01-31 12:00:00 UTC"
  std::string not_after;           // same form
  std::vector<std::string> names;  // subjectAltName DNS names and IP addresses
  int depth = 0;
};

// The certificate check failed with OpenSSL verify result `x509_error` (X509_V_ERR_*).
// `checked_name` is the name (or IP address) the certificate had to hold.
std::string VerifyFailureMessage(const std::string& endpoint, const TlsOptions& tls,
                                 const std::string& checked_name, long x509_error,
                                 const CertificateFacts& cert);

// A TLS error that is not a failed check of the server's certificate: `ssl_reason` is
// ERR_GET_REASON of the OpenSSL error (SSL_R_*, including alerts the server sent, e.g.
// "certificate required"), `openssl_text` its text. `during_handshake` says whether it
// happened in the handshake or later on the connection (with TLS 1.3 a server refuses a
// client certificate after the client's handshake is done, at the first read).
std::string TlsErrorMessage(const std::string& endpoint, const TlsOptions& tls, int ssl_reason,
                            const std::string& openssl_text, bool during_handshake);

// Whether an SSL_R_* reason is the server refusing or asking for a client certificate (such
// an error is final: a retry fails the same way).
bool IsClientCertificateRefusal(int ssl_reason);

}  // namespace kf::net
