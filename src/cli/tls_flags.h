// The TLS flags of every subcommand that takes --source / --target (sync, verify):
// --source-tls-ca-cert FILE, --source-tls-ca-dir DIR, --source-tls-cert FILE,
// --source-tls-key FILE, --source-tls-server-name NAME, --source-tls-insecure, and the same
// with --target-. They fill the Uri's TlsOptions; the layers below pass it on.
//
// Refused (exit 2, docs/tls.md): a TLS flag for an end whose URI is redis:// (plaintext: the
// flag would do nothing, and a silent plaintext link is what the operator meant to avoid),
// a client certificate without its key or a key without its certificate, and --*-tls-insecure
// together with a CA flag (the CA would not be used).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/result.h"
#include "net/uri.h"

namespace kf::cli {

struct TlsFlags {
  std::string ca_cert;
  std::string ca_dir;
  std::string cert;
  std::string key;
  std::string server_name;
  bool insecure = false;
};

// Adds --<end>-tls-* to `sub` (end: "source" or "target"), stored in `flags`.
void AddTlsFlags(CLI::App* sub, const std::string& end, TlsFlags* flags);

// Puts `flags` into uri->tls (with origin "--<end>-tls"), or says why they cannot apply.
Result<void> ApplyTlsFlags(const TlsFlags& flags, const std::string& end, net::Uri* uri);

// The loud line each subcommand prints on stderr, and puts in its report, when an end skips
// certificate verification; "" otherwise. `end` names the end ("source", "target").
std::string InsecureWarning(const net::Uri& uri, const std::string& end);

}  // namespace kf::cli
