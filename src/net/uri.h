// Uri: where a Redis/Valkey server is and how to log in to it.
//
// Form: redis[s]://[user[:password]@]host[:port][/db]; rediss:// means TLS (tls.enabled; the
// other TlsOptions come from flags or a spec, never from the URI). The host may be a name, an
// IPv4 address or a bracketed IPv6 literal ([::1]). The user and password are percent-decoded
// (so a password may hold '@', ':' or '/' as %40, %3A, %2F). Defaults: port 6379, db 0, no
// user (the "default" user), no password. "redis://:pw@host" gives a password only. Query
// parameters are refused. Every refusal names the problem and the offending text.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "net/tls_options.h"

namespace kf::net {

struct Uri {
  std::string host;  // without brackets
  int port = 6379;
  std::string user;      // empty: no user (AUTH with the password only)
  std::string password;  // meaningful when has_password
  bool has_password = false;
  int db = 0;
  TlsOptions tls;  // tls.enabled for rediss://

  static Result<Uri> Parse(std::string_view text);

  // "host:port", or "[v6]:port" for IPv6 literals.
  std::string Endpoint() const;
  // The URI (redis:// or rediss://) with the password replaced by "***" (safe for logs), or in
  // clear when mask_password is false. User and password are percent-encoded as needed.
  std::string ToString(bool mask_password = true) const;

  bool operator==(const Uri&) const = default;
};

}  // namespace kf::net
