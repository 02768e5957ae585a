// TLS flags: see tls_flags.h.
#include "cli/tls_flags.h"

#include "net/errc.h"

namespace kf::cli {

void AddTlsFlags(CLI::App* sub, const std::string& end, TlsFlags* flags) {
  const std::string p = "--" + end + "-tls-";
  const std::string group = "TLS of the " + end + " (with a rediss:// URI)";
  sub->add_option(p + "ca-cert", flags->ca_cert,
                  "PEM file of the CA(s) that sign the " + end +
                      "'s certificate (default: the system's CA store)")
      ->group(group);
  sub->add_option(p + "ca-dir", flags->ca_dir,
                  "directory of CA certificates, hashed with `openssl rehash`")
      ->group(group);
  sub->add_option(p + "cert", flags->cert, "client certificate (PEM) for mutual TLS")->group(group);
  sub->add_option(p + "key", flags->key, "private key (PEM) of the client certificate")
      ->group(group);
  sub->add_option(
         p + "server-name", flags->server_name,
         "name the " + end + "'s certificate must hold, sent as SNI (default: the URI's host)")
      ->group(group);
  sub->add_flag(p + "insecure", flags->insecure,
                "do NOT verify the " + end + "'s certificate (encrypted, but not authenticated)")
      ->group(group);
}

Result<void> ApplyTlsFlags(const TlsFlags& flags, const std::string& end, net::Uri* uri) {
  net::TlsOptions& tls = uri->tls;
  tls.origin = "--" + end + "-tls";
  tls.ca_cert = flags.ca_cert;
  tls.ca_dir = flags.ca_dir;
  tls.cert = flags.cert;
  tls.key = flags.key;
  tls.server_name = flags.server_name;
  tls.insecure = flags.insecure;
  if (!tls.enabled && tls.AnySet()) {
    return MakeError(net::NetErrc::kBadUri,
                     "--" + end + "-tls-* flags are given but --" + end + " " + uri->ToString() +
                         " is plaintext (redis://); write rediss:// to connect with TLS, or drop "
                         "the TLS flags");
  }
  if (tls.insecure && (!tls.ca_cert.empty() || !tls.ca_dir.empty())) {
    return MakeError(
        net::NetErrc::kBadUri,
        tls.OptionName("insecure") + " skips the certificate check, so " +
            (tls.ca_cert.empty() ? tls.OptionName("ca_dir") : tls.OptionName("ca_cert")) +
            " would not be used; give one or the other");
  }
  return tls.Check();
}

std::string InsecureWarning(const net::Uri& uri, const std::string& end) {
  if (!uri.tls.enabled || !uri.tls.insecure) return "";
  return "WARNING: TLS to the " + end + " " + uri.Endpoint() +
         " is INSECURE: its certificate is not verified (" + uri.tls.OptionName("insecure") +
         "), so nothing proves keyferry talks to the server you meant; give the CA with " +
         uri.tls.OptionName("ca_cert") + " instead";
}

}  // namespace kf::cli
