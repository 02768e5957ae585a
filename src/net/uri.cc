// Uri parsing and printing: see uri.h.
#include "net/uri.h"

#include <cctype>
#include <cstdint>

#include "common/bytes.h"
#include "net/errc.h"

namespace kf::net {
namespace {

constexpr std::string_view kForm = "expected redis[s]://[user[:password]@]host[:port][/db]";

Unexpected Bad(std::string_view text, std::string problem) {
  // The URI may hold a password: quote it only when there is no '@' in it.
  std::string shown =
      text.find('@') == std::string_view::npos ? " in \"" + Printable(text, 200) + "\"" : "";
  return MakeError(NetErrc::kBadUri,
                   "bad server URI" + shown + ": " + problem + " (" + std::string(kForm) + ")");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[u >> 4]);
      out.push_back(kDigits[u & 0xf]);
    }
  }
  return out;
}

bool ParseDecimal(std::string_view s, int64_t max, int64_t* out) {
  if (s.empty() || s.size() > 10) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<Uri> Uri::Parse(std::string_view text) {
  Uri uri;
  std::string_view rest;
  if (StartsWithNoCase(text, "rediss://")) {
    rest = text.substr(9);
    uri.tls.enabled = true;
  } else if (StartsWithNoCase(text, "redis://")) {
    rest = text.substr(8);
  } else {
    size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) return Bad(text, "missing the redis:// scheme");
    return Bad(text, "unknown scheme \"" + Printable(text.substr(0, scheme_end)) + "\"");
  }
  if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos) {
    return Bad(text, "query parameters and fragments are not supported");
  }

  // Authority ends at the first '/' after the userinfo. The password may hold a literal
  // '/', so find the userinfo first: the last '@' before the end.
  size_t at = rest.rfind('@');
  std::string_view userinfo;
  if (at != std::string_view::npos) {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  if (at != std::string_view::npos) {
    size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    if (!PercentDecode(user, &uri.user)) {
      return Bad(text, "bad percent-escape in the user name (use %XX with two hex digits)");
    }
    if (colon != std::string_view::npos) {
      if (!PercentDecode(userinfo.substr(colon + 1), &uri.password)) {
        return Bad(text, "bad percent-escape in the password (use %XX with two hex digits)");
      }
      uri.has_password = true;
    } else if (!uri.user.empty()) {
      return Bad(text, "user \"" + Printable(uri.user) +
                           "\" given without a password; write user:password@");
    }
  }

  std::string_view port_text;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Bad(text, "IPv6 address lacks its closing ']'");
    uri.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Bad(text, "expected ':port' after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return Bad(text, "empty port after ':'");
    }
    if (uri.host.empty()) return Bad(text, "empty IPv6 address in brackets");
  } else {
    size_t colon = hostport.find(':');
    if (colon != std::string_view::npos &&
        hostport.find(':', colon + 1) != std::string_view::npos) {
      return Bad(text, "an IPv6 address must be written in brackets, like [::1]:6379");
    }
    uri.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) return Bad(text, "empty port after ':'");
    }
  }
  if (uri.host.empty()) return Bad(text, "missing host");
  for (char c : uri.host) {
    if (c == ' ' || c == '@' || c == '/' || static_cast<unsigned char>(c) < 0x20) {
      return Bad(text, "invalid character in host \"" + Printable(uri.host) + "\"");
    }
  }
  if (!port_text.empty()) {
    int64_t port = 0;
    if (!ParseDecimal(port_text, 65535, &port) || port == 0) {
      return Bad(text, "port \"" + Printable(port_text) + "\" is not a number from 1 to 65535");
    }
    uri.port = static_cast<int>(port);
  }
  if (!path.empty()) {
    int64_t db = 0;
    if (!ParseDecimal(path, INT32_MAX, &db)) {
      return Bad(text, "database \"" + Printable(path) + "\" is not a non-negative number");
    }
    uri.db = static_cast<int>(db);
  }
  return uri;
}

std::string Uri::Endpoint() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string Uri::ToString(bool mask_password) const {
  std::string out = tls.enabled ? "rediss://" : "redis://";
  if (has_password) {
    out += PercentEncode(user);
    out += ':';
    out += mask_password ? "***" : PercentEncode(password);
    out += '@';
  }
  out += Endpoint();
  if (db != 0) out += "/" + std::to_string(db);
  return out;
}

}  // namespace kf::net
