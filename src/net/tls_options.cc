// TlsOptions: option names for messages, the cert/key pairing check, the report line.
#include "net/tls_options.h"

#include "net/errc.h"

namespace kf::net {

std::string TlsOptions::OptionName(std::string_view field) const {
  if (origin.empty()) return "tls " + std::string(field);
  if (origin.starts_with("--")) {
    std::string flag = origin + "-" + std::string(field);
    for (char& c : flag) {
      if (c == '_') c = '-';
    }
    return flag;
  }
  return origin + "." + std::string(field);
}

bool TlsOptions::AnySet() const {
  return !ca_cert.empty() || !ca_dir.empty() || !cert.empty() || !key.empty() ||
         !server_name.empty() || insecure;
}

Result<void> TlsOptions::Check() const {
  if (!cert.empty() && key.empty()) {
    return MakeError(NetErrc::kTlsFailed, OptionName("cert") + " " + cert + " is given without " +
                                              OptionName("key") +
                                              ": a client certificate needs its private key; "
                                              "give both, or neither");
  }
  if (cert.empty() && !key.empty()) {
    return MakeError(NetErrc::kTlsFailed, OptionName("key") + " " + key + " is given without " +
                                              OptionName("cert") +
                                              ": a private key needs its client certificate; "
                                              "give both, or neither");
  }
  return {};
}

std::string TlsOptions::Describe() const {
  if (!enabled) return "plaintext";
  std::string out = "TLS";
  if (insecure) {
    out += ", INSECURE: the server's certificate is NOT verified (" + OptionName("insecure") +
           "); anyone between keyferry and the server can read and change the data";
  } else if (!ca_cert.empty() || !ca_dir.empty()) {
    out += ", server certificate verified against ";
    out += !ca_cert.empty() ? ca_cert : "";
    out += !ca_cert.empty() && !ca_dir.empty() ? " and " : "";
    out += !ca_dir.empty() ? ca_dir : "";
  } else {
    out += ", server certificate verified against the system's CA store";
  }
  if (!server_name.empty()) out += ", name " + server_name;
  if (!cert.empty()) out += ", client certificate " + cert;
  return out;
}

}  // namespace kf::net
