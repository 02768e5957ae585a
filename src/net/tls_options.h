// TlsOptions: how keyferry speaks TLS to one server (rediss://), and the names the options
// go by where the operator set them, so that an error can say which option to change.
//
// A Uri carries its TlsOptions (Uri::tls): every layer that passes a Uri on (the replica
// link, writers, verify, doctor, cluster node URIs made from a seed) passes TLS on with it,
// and only net::Connection acts on it. `enabled` is set by the rediss:// scheme; the other
// fields come from --source-tls-* / --target-tls-* flags or a spec's `tls:` block.
//
// Defaults (docs/tls.md): the server's certificate is verified against ca_cert and/or
// ca_dir, or the system store when neither is given; the name checked, and sent as SNI, is
// server_name or else the URI's host (an IP address is checked against the certificate's
// IP SANs and sent without SNI). `insecure` skips verification of the server certificate
// (not the encryption) — every report then says so.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace kf::net {

struct TlsOptions {
  bool enabled = false;     // rediss://
  std::string ca_cert;      // PEM file of trusted CAs
  std::string ca_dir;       // directory of trusted CAs, hashed (`openssl rehash DIR`)
  std::string cert;         // client certificate (PEM chain) for mutual TLS
  std::string key;          // its private key (PEM, unencrypted)
  std::string server_name;  // name to verify and send as SNI; empty: the URI's host
  bool insecure = false;    // do not verify the server's certificate
  // Where these options were set, for messages: "--source-tls" (flags: --source-tls-ca-cert)
  // or "source.tls" (a spec: source.tls.ca_cert). Empty: generic names (tls ca_cert).
  std::string origin;

  // The option `field` ("ca_cert", "server_name", ...) as the operator writes it where these
  // options came from: "--source-tls-ca-cert", "source.tls.ca_cert" or "tls ca_cert".
  std::string OptionName(std::string_view field) const;
  // Whether any option besides `enabled` and `origin` is set.
  bool AnySet() const;
  // Refuses a client certificate without its key (or a key without a certificate), naming
  // the options. Does not touch the files (Connection reports unreadable ones).
  Result<void> Check() const;
  // One line for reports: "TLS, verified against ca.pem", "TLS, INSECURE: ...", or "plaintext".
  std::string Describe() const;

  bool operator==(const TlsOptions&) const = default;
};

}  // namespace kf::net
