// Spec parsing and validation: see spec.h and docs/spec.md.
//
// yaml-cpp builds the node tree (and throws on syntax errors; that is caught here: the spec is
// configuration, parsed once at start-up). The walk below then reads each section with the
// keys it allows, collecting every problem with the mark (line/column) of the node at fault,
// so an operator fixes a file in one pass instead of one error per run.
#include "control/spec.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <sstream>

#include "control/control_errc.h"

namespace kf::control {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxSpecBytes = 1 << 20;
constexpr uint64_t kMaxBulkBytes = uint64_t{512} << 20;  // Valkey's default proto-max-bulk-len

// The keys each section allows. Order is the documented order (used in "known keys" hints).
constexpr std::string_view kTopKeys[] = {"name",      "state_dir", "source",        "target",
                                         "migration", "cutover",   "after_cutover", "observe"};
constexpr std::string_view kSourceKeys[] = {"uri",  "user", "password_env",
                                            "mode", "tls",  "rdb_file"};
constexpr std::string_view kTargetKeys[] = {"engine",   "version", "topology",
                                            "provider", "local",   "external"};
constexpr std::string_view kLocalKeys[] = {
    "port",         "bind",         "maxmemory", "persistence",        "valkey_server",
    "password_env", "extra_config", "shards",    "replicas_per_shard", "tls"};
constexpr std::string_view kExternalKeys[] = {"uri", "user", "password_env", "tls"};
constexpr std::string_view kTlsKeys[] = {"ca_cert", "ca_dir",      "cert",
                                         "key",     "server_name", "insecure"};
constexpr std::string_view kMigrationKeys[] = {"write_pause",
                                               "max_pause_ms",
                                               "catch_up_max_lag_bytes",
                                               "verify",
                                               "verify_rounds",
                                               "pause_verify_keys",
                                               "pause_recheck_keys",
                                               "on_unsupported",
                                               "big_key_threshold",
                                               "writers"};
constexpr std::string_view kCutoverKeys[] = {"hook", "hook_timeout_s"};
constexpr std::string_view kAfterCutoverKeys[] = {"source"};
constexpr std::string_view kObserveKeys[] = {"listen", "token_env"};

struct SectionKeys {
  std::string_view path;
  std::span<const std::string_view> keys;
};

constexpr SectionKeys kSections[] = {
    {"", kTopKeys},
    {"source", kSourceKeys},
    {"target", kTargetKeys},
    {"target.local", kLocalKeys},
    {"target.external", kExternalKeys},
    {"source.tls", kTlsKeys},
    {"target.local.tls", kTlsKeys},
    {"target.external.tls", kTlsKeys},
    {"migration", kMigrationKeys},
    {"cutover", kCutoverKeys},
    {"after_cutover", kAfterCutoverKeys},
    {"observe", kObserveKeys},
};

// valkey-server options keyferry sets itself (or that would break what it relies on), with
// where the spec says it instead.
struct ReservedOption {
  std::string_view name;
  std::string_view instead;
};

constexpr ReservedOption kReservedOptions[] = {
    {"port", "set target.local.port instead"},
    {"bind", "set target.local.bind instead"},
    {"maxmemory", "set target.local.maxmemory instead"},
    {"save", "set target.local.persistence instead"},
    {"appendonly", "set target.local.persistence instead"},
    {"requirepass", "set target.local.password_env instead"},
    {"dir", "keyferry keeps the server's files under the state dir"},
    {"dbfilename", "keyferry keeps the server's files under the state dir"},
    {"appendfilename", "keyferry keeps the server's files under the state dir"},
    {"appenddirname", "keyferry keeps the server's files under the state dir"},
    {"pidfile", "keyferry keeps the server's files under the state dir"},
    {"logfile", "keyferry keeps the server's files under the state dir"},
    {"daemonize", "keyferry runs the server as its own child and tracks its pid"},
    {"include", "list the options themselves in extra_config"},
    {"replicaof", "the target must be a primary"},
    {"slaveof", "the target must be a primary"},
    {"cluster-enabled", "set target.topology: cluster instead"},
    {"cluster-config-file", "keyferry keeps the server's files under the state dir"},
    {"cluster-port", "keyferry picks each cluster node's bus port"},
    {"tls-port", "set target.local.tls: keyferry then serves TLS on target.local.port"},
    {"tls-cert-file", "set target.local.tls.cert instead"},
    {"tls-key-file", "set target.local.tls.key instead"},
    {"tls-ca-cert-file", "set target.local.tls.ca_cert instead"},
    {"tls-ca-cert-dir", "set target.local.tls.ca_dir instead"},
    {"maxmemory-policy",
     "keyferry runs the target with noeviction: an evicting target would silently lose keys "
     "the migration copied (set it after cutover if you want one)"},
};

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Edit distance counting a swap of two neighbours as one edit (optimal string alignment):
// "rbd" is one typo away from "rdb", "hots" from "host".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// Lower case, '-' as '_': "Max-Pause-MS" and "max_pause_ms" are the same mistake away.
std::string Folded(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '-') c = '_';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The closest candidate within a small edit distance, or empty.
std::string_view Closest(std::string_view word, std::span<const std::string_view> candidates) {
  if (word.size() > 64) return {};  // no key is that long; keeps the distance table small
  std::string folded = Folded(word);
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view c : candidates) {
    size_t d = EditDistance(folded, Folded(c));
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, word.size() / 3));
  if (best_distance <= limit) return best;
  return {};
}

std::string JoinKeys(std::span<const std::string_view> keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::string JoinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// Host names and IP literals only: the host is substituted into the cutover hook's shell
// command, so nothing a shell would interpret may pass.
bool IsSafeHost(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_' || c == '%';
    if (!ok) return false;
  }
  return true;
}

bool IsEnvName(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  if (s[0] >= '0' && s[0] <= '9') return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "?";
  return std::string(buf, end);
}

struct Field {
  YAML::Node key;
  YAML::Node value;
};
using Fields = std::map<std::string, Field, std::less<>>;

// The walk over one spec document. Problems are collected, not returned one by one.
class SpecParser {
 public:
  SpecParser(std::string origin, fs::path base_dir)
      : origin_(std::move(origin)), base_dir_(std::move(base_dir)) {}

  Result<Spec> Parse(std::string_view text);

 private:
  struct Problem {
    ControlErrc code;
    std::string text;
  };

  void Report(const YAML::Mark& mark, ControlErrc code, const std::string& what,
              const std::string& hint) {
    std::string where = origin_;
    if (!mark.is_null()) {
      where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    problems_.push_back({code, where + ": " + what + (hint.empty() ? "" : "; " + hint)});
  }
  void Invalid(const YAML::Mark& mark, const std::string& what, const std::string& hint) {
    Report(mark, ControlErrc::kSpecInvalid, what, hint);
  }

  static YAML::Mark MarkOf(const Field& f) {
    YAML::Mark m = f.value.Mark();
    return m.is_null() ? f.key.Mark() : m;
  }

  std::optional<Fields> Section(const YAML::Node& node, const YAML::Mark& where,
                                std::string_view path, std::span<const std::string_view> keys);
  std::string UnknownKeyHint(std::string_view key, std::string_view path,
                             std::span<const std::string_view> keys);
  const Field* Required(const Fields& fields, const YAML::Mark& section_mark, std::string_view path,
                        std::string_view key, std::string_view example);

  std::optional<std::string> String(const Fields& fields, std::string_view path,
                                    std::string_view key);
  std::optional<int64_t> Int(const Fields& fields, std::string_view path, std::string_view key,
                             int64_t min, int64_t max, std::string_view unit);
  std::optional<uint64_t> Size(const Fields& fields, std::string_view path, std::string_view key,
                               uint64_t min, uint64_t max);
  std::optional<std::string_view> Enum(const Fields& fields, std::string_view path,
                                       std::string_view key,
                                       std::span<const std::string_view> values);
  std::optional<net::Uri> ServerUri(const Fields& fields, std::string_view path);
  std::optional<std::string> EnvName(const Fields& fields, std::string_view path);
  std::optional<std::string> User(const Fields& fields, std::string_view path);
  // <path>.tls: the TLS options (paths resolved against the spec's directory), or nullopt
  // when absent or wrong (reported). `for_local_server`: the files are the server's own.
  std::optional<net::TlsOptions> Tls(const Fields& fields, std::string_view path,
                                     bool for_local_server);
  // A source.uri / target.external.uri and its tls block agree: a block needs rediss://.
  void TlsMatchesUri(const Fields& fields, std::string_view path, const net::Uri& uri,
                     net::TlsOptions* tls);

  void ParseSource(const Fields& top, const YAML::Mark& top_mark, Spec* spec);
  void ParseTarget(const Fields& top, const YAML::Mark& top_mark, Spec* spec,
                   const std::optional<net::Uri>& source);
  void ParseLocal(const Field& field, Spec* spec, const std::optional<net::Uri>& source);
  void ParseExternal(const Field& field, Spec* spec, const std::optional<net::Uri>& source);
  void ParseMigration(const Fields& top, Spec* spec);
  void ParseCutover(const Fields& top, Spec* spec);
  void ParseAfterCutover(const Fields& top, Spec* spec);
  void ParseObserve(const Fields& top, Spec* spec);

  std::string origin_;
  fs::path base_dir_;
  std::vector<Problem> problems_;
};

std::optional<Fields> SpecParser::Section(const YAML::Node& node, const YAML::Mark& where,
                                          std::string_view path,
                                          std::span<const std::string_view> keys) {
  std::string name = path.empty() ? "the spec" : std::string(path);
  if (!node.IsMap()) {
    if (node.IsNull()) {
      Invalid(where, name + " is empty", "give it as a mapping of keys (" + JoinKeys(keys) + ")");
    } else {
      Invalid(node.Mark().is_null() ? where : node.Mark(),
              name + " must be a mapping of keys, not a " +
                  (node.IsSequence() ? std::string("list") : std::string("single value")),
              "write it as key: value lines (" + JoinKeys(keys) + ")");
    }
    return std::nullopt;
  }
  Fields fields;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: it-> returns a temporary proxy
    if (!key.IsScalar()) {
      Invalid(key.Mark(),
              "a key under " + (path.empty() ? std::string("the top level") : name) +
                  " is not a plain word",
              "keys are names like " + std::string(keys[0]));
      continue;
    }
    const std::string& k = key.Scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      Invalid(key.Mark(),
              "unknown key " + Quote(k) + " " +
                  (path.empty() ? std::string("at the top level") : "under " + name),
              UnknownKeyHint(k, path, keys));
      continue;
    }
    if (fields.contains(k)) {
      YAML::Mark first = fields[k].key.Mark();
      Invalid(
          key.Mark(), "duplicate key " + Quote(k) + " under " + name,
          "it is already given at line " + std::to_string(first.line + 1) + "; keep one of them");
      continue;
    }
    fields.emplace(k, Field{key, it->second});
  }
  return fields;
}

std::string SpecParser::UnknownKeyHint(std::string_view key, std::string_view path,
                                       std::span<const std::string_view> keys) {
  std::string folded = Folded(key);
  if (folded == "password" || folded == "pass" || folded == "requirepass" || folded == "auth") {
    return "passwords never go in the spec: put it in an environment variable and name that "
           "variable with password_env";
  }
  std::string_view near = Closest(key, keys);
  if (!near.empty()) return "did you mean " + Quote(near) + "?";
  // A key of another section: prefer a section nested in this one ("uri" under target
  // belongs under target.external, not source).
  std::string prefix = path.empty() ? "" : std::string(path) + ".";
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& section : kSections) {
      if (section.path == path) continue;
      bool nested = !prefix.empty() && section.path.starts_with(prefix);
      if ((pass == 0) != nested) continue;
      for (std::string_view k : section.keys) {
        if (k == key) {
          return Quote(key) + " belongs under " +
                 (section.path.empty() ? std::string("the top level") : std::string(section.path));
        }
      }
    }
  }
  return "known keys " +
         (path.empty() ? std::string("at the top level") : "under " + std::string(path)) + ": " +
         JoinKeys(keys);
}

const Field* SpecParser::Required(const Fields& fields, const YAML::Mark& section_mark,
                                  std::string_view path, std::string_view key,
                                  std::string_view example) {
  auto it = fields.find(key);
  if (it != fields.end() && !it->second.value.IsNull()) return &it->second;
  std::string full = JoinPath(path, key);
  YAML::Mark mark = it != fields.end() ? it->second.key.Mark() : section_mark;
  Invalid(mark, full + " is missing",
          "add " + std::string(key) + ": " + std::string(example) +
              (path.empty() ? std::string(" at the top level") : " under " + std::string(path)));
  return nullptr;
}

std::optional<std::string> SpecParser::String(const Fields& fields, std::string_view path,
                                              std::string_view key) {
  auto it = fields.find(key);
  if (it == fields.end() || it->second.value.IsNull()) return std::nullopt;
  const YAML::Node& v = it->second.value;
  if (!v.IsScalar()) {
    Invalid(MarkOf(it->second),
            JoinPath(path, key) + " must be a single value, not a " +
                (v.IsMap() ? std::string("mapping") : std::string("list")),
            "write it as " + std::string(key) + ": <value>");
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<int64_t> SpecParser::Int(const Fields& fields, std::string_view path,
                                       std::string_view key, int64_t min, int64_t max,
                                       std::string_view unit) {
  auto it = fields.find(key);
  auto text = String(fields, path, key);
  if (!text) return std::nullopt;
  auto v = ParseInt(*text);
  std::string range = "from " + std::to_string(min) + " to " + std::to_string(max) +
                      (unit.empty() ? "" : " (" + std::string(unit) + ")");
  if (!v) {
    Invalid(MarkOf(it->second),
            JoinPath(path, key) + " must be a whole number, not " + Quote(*text),
            "use a number " + range);
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    Invalid(MarkOf(it->second), JoinPath(path, key) + " is " + *text + ", out of range",
            "use a number " + range);
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> SpecParser::Size(const Fields& fields, std::string_view path,
                                         std::string_view key, uint64_t min, uint64_t max) {
  auto it = fields.find(key);
  auto text = String(fields, path, key);
  if (!text) return std::nullopt;
  auto v = ParseByteSize(*text);
  if (!v) {
    Invalid(MarkOf(it->second), JoinPath(path, key) + " is " + Quote(*text) + ", not a size",
            "write a number of bytes or a number with a unit: b, k, kb, m, mb, g, gb (like "
            "256mb)");
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    Invalid(MarkOf(it->second), JoinPath(path, key) + " is " + *text + ", out of range",
            "use a size from " + std::to_string(min) + " to " + std::to_string(max) + " bytes");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string_view> SpecParser::Enum(const Fields& fields, std::string_view path,
                                                 std::string_view key,
                                                 std::span<const std::string_view> values) {
  auto it = fields.find(key);
  auto text = String(fields, path, key);
  if (!text) return std::nullopt;
  for (std::string_view v : values) {
    if (v == *text) return v;
  }
  std::string hint = "use one of: " + JoinKeys(values);
  std::string_view near = Closest(*text, values);
  if (!near.empty()) hint = "did you mean " + Quote(near) + "? (" + hint + ")";
  Invalid(MarkOf(it->second), JoinPath(path, key) + " is " + Quote(*text), hint);
  return std::nullopt;
}

// source.uri / target.external.uri: redis://host[:port], never a password, user or db.
std::optional<net::Uri> SpecParser::ServerUri(const Fields& fields, std::string_view path) {
  auto it = fields.find("uri");
  auto text = String(fields, path, "uri");
  if (!text) return std::nullopt;
  YAML::Mark mark = MarkOf(it->second);
  std::string where = JoinPath(path, "uri");
  // Checked before parsing so that no message ever repeats the password.
  size_t at = text->rfind('@');
  if (at != std::string::npos) {
    size_t scheme = text->find("://");
    size_t start = scheme == std::string::npos ? 0 : scheme + 3;
    std::string_view userinfo = std::string_view(*text).substr(start, at - start);
    if (userinfo.find(':') != std::string_view::npos) {
      Invalid(mark, where + " holds a password",
              "passwords never go in the spec: remove it from the URI, put it in an environment "
              "variable and set " +
                  JoinPath(path, "password_env") + " to that variable's name");
    } else {
      Invalid(mark, where + " holds a user name",
              "write redis://host:port and set " + JoinPath(path, "user") + ": " +
                  std::string(userinfo) + " instead");
    }
    return std::nullopt;
  }
  auto uri = net::Uri::Parse(*text);
  if (!uri) {
    Invalid(mark, where + ": " + uri.error().ToString(), "write it as redis://host:port");
    return std::nullopt;
  }
  if (uri->db != 0) {
    Invalid(mark, where + " names database " + std::to_string(uri->db),
            "keyferry moves every database of a server; remove the /" + std::to_string(uri->db) +
                " from the URI");
    return std::nullopt;
  }
  if (!IsSafeHost(uri->host)) {
    Invalid(mark, where + " has host " + Quote(uri->host) + ", which is not a host name or IP",
            "use a host name or an IP address");
    return std::nullopt;
  }
  return *uri;
}

std::optional<std::string> SpecParser::EnvName(const Fields& fields, std::string_view path) {
  auto it = fields.find("password_env");
  auto text = String(fields, path, "password_env");
  if (!text) return std::nullopt;
  if (!IsEnvName(*text)) {
    // Not quoted back: an operator who misread the field may have written the password here.
    Invalid(MarkOf(it->second),
            JoinPath(path, "password_env") + " is not an environment variable name",
            "it names the variable that holds the password (letters, digits and _, like "
            "REDIS_PASSWORD), never the password itself");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> SpecParser::User(const Fields& fields, std::string_view path) {
  auto it = fields.find("user");
  auto text = String(fields, path, "user");
  if (!text) return std::nullopt;
  bool ok = !text->empty() && text->size() <= 256;
  for (char c : *text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) ok = false;
  }
  if (!ok) {
    Invalid(MarkOf(it->second), JoinPath(path, "user") + " is " + Quote(*text),
            "an ACL user name is one word without spaces");
    return std::nullopt;
  }
  return text;
}

std::optional<net::TlsOptions> SpecParser::Tls(const Fields& fields, std::string_view path,
                                               bool for_local_server) {
  auto it = fields.find("tls");
  if (it == fields.end() || it->second.value.IsNull()) return std::nullopt;
  const std::string p = JoinPath(path, "tls");
  auto tls_fields = Section(it->second.value, it->second.key.Mark(), p, kTlsKeys);
  if (!tls_fields) return std::nullopt;
  net::TlsOptions tls;
  tls.enabled = true;
  tls.origin = p;
  const size_t problems_before = problems_.size();
  for (auto [key, into] : {std::pair{"ca_cert", &tls.ca_cert},
                           {"ca_dir", &tls.ca_dir},
                           {"cert", &tls.cert},
                           {"key", &tls.key}}) {
    auto text = String(*tls_fields, p, key);
    if (!text) continue;
    if (text->empty() || text->starts_with("~")) {
      Invalid(MarkOf(tls_fields->at(key)), JoinPath(p, key) + " is " + Quote(*text),
              "give a file path (absolute, or relative to the spec file; ~ is not expanded)");
      continue;
    }
    *into = (base_dir_ / *text).lexically_normal().string();
  }
  if (auto name = String(*tls_fields, p, "server_name")) {
    if (!IsSafeHost(*name)) {
      Invalid(MarkOf(tls_fields->at("server_name")),
              JoinPath(p, "server_name") + " is " + Quote(*name),
              "give the host name the server's certificate holds, like cache.internal");
    } else {
      tls.server_name = *name;
    }
  }
  if (auto insecure = String(*tls_fields, p, "insecure")) {
    if (*insecure == "true" || *insecure == "false") {
      tls.insecure = *insecure == "true";
    } else {
      Invalid(MarkOf(tls_fields->at("insecure")),
              JoinPath(p, "insecure") + " is " + Quote(*insecure),
              "write true or false (true skips the check of the server's certificate)");
    }
  }
  const YAML::Mark mark = it->second.key.Mark();
  if (tls.insecure && (!tls.ca_cert.empty() || !tls.ca_dir.empty())) {
    Invalid(mark, p + ".insecure is true and a CA is given",
            "insecure skips the certificate check, so the CA would not be used: remove one");
  }
  if (for_local_server) {
    if (tls.cert.empty() || tls.key.empty()) {
      Invalid(mark, p + " needs cert and key",
              "they are the certificate and key the Valkey server serves (tls-cert-file, "
              "tls-key-file); keyferry presents the same pair as its client certificate");
    }
    if (tls.ca_cert.empty() && tls.ca_dir.empty()) {
      Invalid(mark, p + " needs ca_cert or ca_dir",
              "Valkey needs the CA its clients' certificates are checked against "
              "(tls-ca-cert-file); keyferry checks the server's certificate against it too");
    }
  } else if (auto paired = tls.Check(); !paired) {
    Invalid(mark, paired.error().message, "");
  }
  if (problems_.size() != problems_before) return std::nullopt;
  return tls;
}

void SpecParser::TlsMatchesUri(const Fields& fields, std::string_view path, const net::Uri& uri,
                               net::TlsOptions* tls) {
  auto given = Tls(fields, path, /*for_local_server=*/false);
  if (given && !uri.tls.enabled) {
    Invalid(fields.at("tls").key.Mark(),
            JoinPath(path, "tls") + " is given but " + JoinPath(path, "uri") + " " +
                uri.ToString() + " is plaintext",
            "write rediss:// to connect with TLS, or remove the tls section");
    return;
  }
  if (given) {
    *tls = *given;
  } else if (uri.tls.enabled) {
    tls->enabled = true;  // rediss:// alone: verified against the system's CA store
    tls->origin = JoinPath(path, "tls");
  }
}

void SpecParser::ParseSource(const Fields& top, const YAML::Mark& top_mark, Spec* spec) {
  const Field* f = Required(top, top_mark, "", "source", "{uri: redis://host:port}");
  if (!f) return;
  auto fields = Section(f->value, f->key.Mark(), "source", kSourceKeys);
  if (!fields) return;
  if (fields->contains("rdb_file")) {
    // An offline migration from a backup file: nothing else describes a file.
    for (std::string_view key : {"uri", "user", "password_env", "mode", "tls"}) {
      if (auto other = fields->find(key); other != fields->end()) {
        Invalid(other->second.key.Mark(),
                "source." + std::string(key) + " is given with source.rdb_file",
                "a source is either a server (uri, user, password_env, mode, tls) or a backup "
                "file (rdb_file); remove one of them");
      }
    }
    auto path = String(*fields, "source", "rdb_file");
    if (path && (path->empty() || path->starts_with("~") || *path == "-")) {
      Invalid(MarkOf(fields->at("rdb_file")), "source.rdb_file is " + Quote(*path),
              "give the RDB file's path (absolute, or relative to the spec file; ~ is not "
              "expanded, and standard input cannot be read twice, which VERIFY needs)");
    } else if (path) {
      spec->source.rdb_file = (base_dir_ / *path).lexically_normal().string();
    }
    return;
  }
  if (Required(*fields, f->key.Mark(), "source", "uri", "redis://host:port")) {
    if (auto uri = ServerUri(*fields, "source")) {
      spec->source.uri = uri->ToString(false);
      TlsMatchesUri(*fields, "source", *uri, &spec->source.tls);
    }
  }
  if (auto user = User(*fields, "source")) spec->source.user = *user;
  if (auto env = EnvName(*fields, "source")) spec->source.password_env = *env;
  constexpr std::string_view kModes[] = {"replica", "scan"};
  if (auto mode = Enum(*fields, "source", "mode", kModes)) {
    spec->source.mode = *mode == "scan" ? SourceMode::kScan : SourceMode::kReplica;
  }
}

void SpecParser::ParseTarget(const Fields& top, const YAML::Mark& top_mark, Spec* spec,
                             const std::optional<net::Uri>& source) {
  const Field* f = Required(top, top_mark, "", "target", "{provider: local}");
  if (!f) return;
  auto fields = Section(f->value, f->key.Mark(), "target", kTargetKeys);
  if (!fields) return;
  TargetSpec& t = spec->target;

  if (auto engine = String(*fields, "target", "engine")) {
    if (*engine != "valkey") {
      Report(MarkOf(fields->at("engine")), ControlErrc::kSpecUnsupported,
             "target.engine " + Quote(*engine) + " is not supported",
             "keyferry moves Redis to Valkey: use engine: valkey");
    }
  }
  if (auto version = String(*fields, "target", "version")) {
    // major.minor or major.minor.patch, Valkey's numbering starting at 7.2.
    std::vector<int> parts;
    bool ok = true;
    std::string_view rest = *version;
    for (;;) {
      size_t dot = rest.find('.');
      std::string_view part = rest.substr(0, dot);
      bool digits =
          !part.empty() && part.size() <= 4 &&
          std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || parts.size() == 3) {
        ok = false;
        break;
      }
      parts.push_back(static_cast<int>(*ParseInt(part)));
      if (dot == std::string_view::npos) break;
      rest = rest.substr(dot + 1);
    }
    YAML::Mark mark = MarkOf(fields->at("version"));
    if (!ok || parts.size() < 2) {
      Invalid(mark, "target.version " + Quote(*version) + " is not a version number",
              "write it as major.minor in quotes, like \"8.0\"");
    } else if (parts[0] < 7 || (parts[0] == 7 && parts[1] < 2)) {
      Invalid(mark, "target.version " + *version + " predates Valkey",
              "Valkey versions start at 7.2; use the version you will run, like \"8.0\"");
    } else {
      t.version = *version;
    }
  }
  constexpr std::string_view kTopologies[] = {"standalone", "cluster"};
  if (auto topology = Enum(*fields, "target", "topology", kTopologies)) {
    if (*topology == "cluster") t.topology = Topology::kCluster;
  }
  constexpr std::string_view kProviders[] = {"local", "external"};
  std::optional<std::string_view> provider;
  if (Required(*fields, f->key.Mark(), "target", "provider", "local")) {
    provider = Enum(*fields, "target", "provider", kProviders);
  }
  auto local = fields->find("local");
  auto external = fields->find("external");
  if (provider == "local") {
    t.provider = ProviderKind::kLocal;
    if (external != fields->end()) {
      Invalid(external->second.key.Mark(), "target.external is given but provider is local",
              "remove the external section, or set provider: external to use a server you run");
    }
    if (local != fields->end()) {
      ParseLocal(local->second, spec, source);
    }
  } else if (provider == "external") {
    t.provider = ProviderKind::kExternal;
    if (local != fields->end()) {
      Invalid(local->second.key.Mark(), "target.local is given but provider is external",
              "remove the local section, or set provider: local to let keyferry start "
              "valkey-server");
    }
    if (external == fields->end()) {
      Invalid(fields->at("provider").key.Mark(),
              "provider is external but target.external is missing",
              "add external: {uri: redis://host:port} under target");
    } else {
      ParseExternal(external->second, spec, source);
    }
  }
}

void SpecParser::ParseLocal(const Field& field, Spec* spec, const std::optional<net::Uri>& source) {
  if (field.value.IsNull()) return;  // "local:" with nothing: all defaults
  auto fields = Section(field.value, field.key.Mark(), "target.local", kLocalKeys);
  if (!fields) return;
  LocalProviderSpec& l = spec->target.local;
  constexpr std::string_view p = "target.local";
  if (auto port = Int(*fields, p, "port", 0, 65535, "0 picks a free port")) {
    l.port = static_cast<int>(*port);
    if (l.port != 0 && source && IsLoopbackHost(source->host) && source->port == l.port) {
      Invalid(MarkOf(fields->at("port")),
              "target.local.port " + std::to_string(l.port) +
                  " is the port of the source on this machine",
              "choose another port, or 0 to let keyferry pick a free one");
    }
  }
  if (auto bind = String(*fields, p, "bind")) {
    if (!IsSafeHost(*bind)) {
      Invalid(MarkOf(fields->at("bind")), "target.local.bind is " + Quote(*bind),
              "give one IP address (like 127.0.0.1 or 0.0.0.0) or host name");
    } else {
      l.bind = *bind;
    }
  }
  if (auto maxmemory = Size(*fields, p, "maxmemory", 0, uint64_t{1} << 50)) {
    if (*maxmemory != 0 && *maxmemory < (uint64_t{1} << 20)) {
      Invalid(MarkOf(fields->at("maxmemory")),
              "target.local.maxmemory " + fields->at("maxmemory").value.Scalar() +
                  " is below 1mb, too small for a server",
              "give the memory the dataset needs plus headroom (like 256mb), or 0 for no limit");
    } else {
      l.maxmemory = *maxmemory;
    }
  }
  constexpr std::string_view kPersistence[] = {"none", "rdb", "aof"};
  if (auto persistence = Enum(*fields, p, "persistence", kPersistence)) {
    l.persistence = *persistence == "rdb"   ? Persistence::kRdb
                    : *persistence == "aof" ? Persistence::kAof
                                            : Persistence::kNone;
  }
  if (auto binary = String(*fields, p, "valkey_server")) {
    if (binary->empty()) {
      Invalid(MarkOf(fields->at("valkey_server")), "target.local.valkey_server is empty",
              "name the valkey-server program (on PATH) or give its path");
    } else if (binary->find('/') != std::string::npos) {
      l.valkey_server = (base_dir_ / *binary).lexically_normal().string();
    } else {
      l.valkey_server = *binary;
    }
  }
  if (auto env = EnvName(*fields, p)) l.password_env = *env;
  const bool cluster = spec->target.topology == Topology::kCluster;
  // With topology: cluster every node serves TLS only, the bus and replication included
  // (LocalClusterProvider).
  if (auto tls = Tls(*fields, p, /*for_local_server=*/true)) l.tls = *tls;
  for (std::string_view key :
       {std::string_view("shards"), std::string_view("replicas_per_shard")}) {
    if (!cluster && fields->contains(std::string(key))) {
      Invalid(fields->at(std::string(key)).key.Mark(),
              "target.local." + std::string(key) + " is given but target.topology is standalone",
              "set topology: cluster under target to start a Valkey Cluster, or remove " +
                  std::string(key));
    }
  }
  if (cluster) {
    if (auto shards = Int(*fields, p, "shards", 1, 16, "primaries, each with its share of slots")) {
      l.shards = static_cast<int>(*shards);
    }
    if (auto replicas = Int(*fields, p, "replicas_per_shard", 0, 2, "replicas of each primary")) {
      l.replicas_per_shard = static_cast<int>(*replicas);
    }
    if (l.port != 0) {
      Invalid(MarkOf(fields->at("port")),
              "target.local.port " + std::to_string(l.port) +
                  " is fixed, but a cluster target has one port per node",
              "remove port (or set 0): keyferry picks a free port for every node and the "
              "journal keeps them");
    }
  }
  auto extra = fields->find("extra_config");
  if (extra != fields->end() && !extra->second.value.IsNull()) {
    const YAML::Node& map = extra->second.value;
    if (!map.IsMap()) {
      Invalid(MarkOf(extra->second), "target.local.extra_config must be a mapping",
              "write valkey-server options as name: value lines (like maxmemory-policy: "
              "allkeys-lru)");
    } else {
      for (auto it = map.begin(); it != map.end(); ++it) {
        const YAML::Node key = it->first;  // copies: it-> returns a temporary proxy
        const YAML::Node value = it->second;
        if (!key.IsScalar() || key.Scalar().empty()) {
          Invalid(key.Mark(), "a key of target.local.extra_config is not an option name",
                  "write valkey-server options as name: value lines");
          continue;
        }
        std::string name = key.Scalar();
        bool name_ok = true;
        for (char c : name) {
          if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) name_ok = false;
        }
        if (!name_ok) {
          Invalid(key.Mark(), "extra_config option " + Quote(name) + " is not an option name",
                  "valkey-server options are lower case words joined by '-', like "
                  "maxmemory-policy");
          continue;
        }
        auto reserved = std::find_if(std::begin(kReservedOptions), std::end(kReservedOptions),
                                     [&](const ReservedOption& r) { return r.name == name; });
        if (reserved != std::end(kReservedOptions)) {
          Invalid(key.Mark(), "extra_config sets " + Quote(name) + ", which keyferry controls",
                  std::string(reserved->instead));
          continue;
        }
        if (l.extra_config.contains(name)) {
          Invalid(key.Mark(), "duplicate key " + Quote(name) + " under target.local.extra_config",
                  "keep one of them");
          continue;
        }
        if (!value.IsScalar()) {
          Invalid(value.Mark().is_null() ? key.Mark() : value.Mark(),
                  "extra_config option " + Quote(name) + " has no single value",
                  "write it as " + name + ": <value>");
          continue;
        }
        l.extra_config[name] = value.Scalar();
      }
    }
  }
  // Valkey's protected mode refuses clients from other hosts while the default user has no
  // password: a non-loopback bind without a password would leave the application unable to
  // connect after cutover.
  auto protected_mode = l.extra_config.find("protected-mode");
  bool protected_off = protected_mode != l.extra_config.end() && protected_mode->second == "no";
  if (!IsLoopbackHost(l.bind) && l.password_env.empty() && !protected_off) {
    YAML::Mark mark = fields->contains("bind") ? MarkOf(fields->at("bind")) : field.key.Mark();
    Invalid(mark,
            "target.local.bind " + l.bind +
                " accepts other hosts, but without a password Valkey's protected mode refuses "
                "them",
            "set target.local.password_env (recommended), or add protected-mode: \"no\" to "
            "extra_config on a trusted network");
  }
}

void SpecParser::ParseExternal(const Field& field, Spec* spec,
                               const std::optional<net::Uri>& source) {
  auto fields = Section(field.value, field.key.Mark(), "target.external", kExternalKeys);
  if (!fields) return;
  ExternalProviderSpec& e = spec->target.external;
  if (Required(*fields, field.key.Mark(), "target.external", "uri", "redis://host:port")) {
    if (auto uri = ServerUri(*fields, "target.external")) {
      bool same_host = source && (uri->host == source->host ||
                                  (IsLoopbackHost(uri->host) && IsLoopbackHost(source->host)));
      if (same_host && uri->port == source->port) {
        Invalid(MarkOf(fields->at("uri")),
                "target.external.uri " + uri->Endpoint() + " is the source itself",
                "point it at the empty Valkey server that will replace the source");
      } else {
        e.uri = uri->ToString(false);
        TlsMatchesUri(*fields, "target.external", *uri, &e.tls);
      }
    }
  }
  if (auto user = User(*fields, "target.external")) e.user = *user;
  if (auto env = EnvName(*fields, "target.external")) e.password_env = *env;
}

void SpecParser::ParseMigration(const Fields& top, Spec* spec) {
  auto f = top.find("migration");
  if (f == top.end() || f->second.value.IsNull()) return;
  auto fields = Section(f->second.value, f->second.key.Mark(), "migration", kMigrationKeys);
  if (!fields) return;
  MigrationSpec& m = spec->migration;
  constexpr std::string_view p = "migration";
  constexpr std::string_view kPauses[] = {"at-cutover", "read-only"};
  if (auto pause = Enum(*fields, p, "write_pause", kPauses)) {
    m.write_pause = *pause == "read-only" ? WritePause::kReadOnly : WritePause::kAtCutover;
  }
  if (auto ms = Int(*fields, p, "max_pause_ms", 100, 600000, "milliseconds")) m.max_pause_ms = *ms;
  if (auto lag = Size(*fields, p, "catch_up_max_lag_bytes", 0, uint64_t{1} << 40)) {
    m.catch_up_max_lag_bytes = *lag;
  }
  if (auto verify = String(*fields, p, "verify")) {
    YAML::Mark mark = MarkOf(fields->at("verify"));
    if (*verify == "full") {
      m.verify = VerifyMode::kFull;
    } else if (*verify == "keys") {
      m.verify = VerifyMode::kKeys;
    } else if (verify->starts_with("sample:")) {
      std::string_view rate_text = std::string_view(*verify).substr(7);
      double rate = 0;
      auto [end, ec] = std::from_chars(rate_text.data(), rate_text.data() + rate_text.size(), rate);
      if (rate_text.empty() || ec != std::errc() || end != rate_text.data() + rate_text.size() ||
          !(rate > 0 && rate <= 1)) {
        Invalid(mark, "migration.verify " + Quote(*verify) + " has a bad sample rate",
                "the rate is a fraction of the keys, above 0 and at most 1, like sample:0.1");
      } else {
        m.verify = VerifyMode::kSample;
        m.verify_sample_rate = rate;
      }
    } else {
      constexpr std::string_view kModes[] = {"full", "keys", "sample"};
      std::string_view near = Closest(*verify, kModes);
      Invalid(mark, "migration.verify is " + Quote(*verify),
              (near.empty() ? std::string() : "did you mean " + Quote(near) + "? ") +
                  "use full, keys or sample:RATE (like sample:0.1)");
    }
  }
  if (auto rounds = Int(*fields, p, "verify_rounds", 1, 100, "")) {
    m.verify_rounds = static_cast<int>(*rounds);
  }
  if (auto keys = Int(*fields, p, "pause_verify_keys", 0, 100000, "keys")) {
    m.pause_verify_keys = static_cast<int>(*keys);
  }
  if (auto keys = Int(*fields, p, "pause_recheck_keys", 0, 1000000, "keys")) {
    m.pause_recheck_keys = static_cast<int>(*keys);
  }
  constexpr std::string_view kOnUnsupported[] = {"fail", "skip", "drop-field-ttl"};
  if (auto on = Enum(*fields, p, "on_unsupported", kOnUnsupported)) {
    m.on_unsupported = *on == "skip"             ? sync::OnUnsupported::kSkip
                       : *on == "drop-field-ttl" ? sync::OnUnsupported::kDropFieldTtl
                                                 : sync::OnUnsupported::kFail;
  }
  if (fields->contains("big_key_threshold")) {
    const Field& bk = fields->at("big_key_threshold");
    if (auto size =
            Size(*fields, p, "big_key_threshold", 1024, std::numeric_limits<uint64_t>::max())) {
      if (*size > kMaxBulkBytes) {
        Invalid(MarkOf(bk), "migration.big_key_threshold " + bk.value.Scalar() + " is above 512mb",
                "a single RESTORE above the target's proto-max-bulk-len (512mb) is refused; "
                "use at most 512mb so bigger values are sent in chunks");
      } else {
        m.big_key_threshold = *size;
      }
    }
  }
  if (auto writers = Int(*fields, p, "writers", 1, 64, "target connections")) {
    m.writers = static_cast<int>(*writers);
  }
  if (m.write_pause == WritePause::kReadOnly && fields->contains("catch_up_max_lag_bytes")) {
    Invalid(fields->at("catch_up_max_lag_bytes").key.Mark(),
            "migration.catch_up_max_lag_bytes is set but write_pause is read-only",
            "with read-only the source takes no writes, so there is no lag to bound; remove "
            "catch_up_max_lag_bytes or use write_pause: at-cutover");
  }
}

void SpecParser::ParseCutover(const Fields& top, Spec* spec) {
  auto f = top.find("cutover");
  if (f == top.end() || f->second.value.IsNull()) return;
  auto fields = Section(f->second.value, f->second.key.Mark(), "cutover", kCutoverKeys);
  if (!fields) return;
  if (auto hook = String(*fields, "cutover", "hook")) {
    // Placeholders are {host}, {port}, {uri}, {nodes}; any other {word} is a typo that would
    // reach the shell verbatim at the worst moment.
    constexpr std::string_view kPlaceholders[] = {"host", "port", "uri", "nodes"};
    bool ok = true;
    for (size_t open = hook->find('{'); open != std::string::npos;
         open = hook->find('{', open + 1)) {
      size_t close = hook->find('}', open);
      if (close == std::string::npos) break;
      std::string_view word = std::string_view(*hook).substr(open + 1, close - open - 1);
      bool is_word =
          !word.empty() && word.size() <= 32 && std::all_of(word.begin(), word.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
          });
      if (!is_word) continue;  // shell syntax such as ${VAR} or {a,b}
      if (open > 0 && (*hook)[open - 1] == '$') continue;
      if (std::find(std::begin(kPlaceholders), std::end(kPlaceholders), word) ==
          std::end(kPlaceholders)) {
        std::string_view near = Closest(word, kPlaceholders);
        Invalid(MarkOf(fields->at("hook")),
                "cutover.hook uses the unknown placeholder {" + std::string(word) + "}",
                (near.empty() ? std::string() : "did you mean {" + std::string(near) + "}? ") +
                    "the placeholders are {host}, {port}, {uri} and {nodes}");
        ok = false;
      }
    }
    if (ok) spec->cutover.hook = *hook;
  }
  if (auto timeout = Int(*fields, "cutover", "hook_timeout_s", 1, 86400, "seconds")) {
    spec->cutover.hook_timeout_s = static_cast<int>(*timeout);
  }
}

void SpecParser::ParseAfterCutover(const Fields& top, Spec* spec) {
  auto f = top.find("after_cutover");
  if (f == top.end() || f->second.value.IsNull()) return;
  auto fields = Section(f->second.value, f->second.key.Mark(), "after_cutover", kAfterCutoverKeys);
  if (!fields) return;
  constexpr std::string_view kSourceActions[] = {"shutdown", "keep"};
  if (auto action = Enum(*fields, "after_cutover", "source", kSourceActions)) {
    spec->after_cutover.source =
        *action == "keep" ? SourceAfterCutover::kKeep : SourceAfterCutover::kShutdown;
  }
}

void SpecParser::ParseObserve(const Fields& top, Spec* spec) {
  auto f = top.find("observe");
  if (f == top.end() || f->second.value.IsNull()) return;
  auto fields = Section(f->second.value, f->second.key.Mark(), "observe", kObserveKeys);
  if (!fields) return;
  if (auto listen = String(*fields, "observe", "listen")) {
    // HOST:PORT, an IPv6 host in brackets; whether the host needs a token is decided when
    // the server starts (observe/http_server.h), where the token's variable is read.
    size_t colon = listen->rfind(':');
    int port = -1;
    if (colon != std::string::npos && colon > 0) {
      const char* end = listen->data() + listen->size();
      auto [p, ec] = std::from_chars(listen->data() + colon + 1, end, port);
      if (ec != std::errc() || p != end) port = -1;
    }
    std::string_view host = colon == std::string::npos ? std::string_view()
                                                       : std::string_view(*listen).substr(0, colon);
    bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (port < 0 || port > 65535 || host.empty() ||
        (!bracketed && host.find(':') != std::string_view::npos)) {
      Invalid(MarkOf(fields->at("listen")),
              "observe.listen " + Quote(*listen) + " is not HOST:PORT",
              "write it like 127.0.0.1:9121 (or [::1]:9121; a non-loopback host such as "
              "0.0.0.0:9121 also needs observe.token_env)");
    } else {
      spec->observe.listen = *listen;
    }
  }
  if (auto name = String(*fields, "observe", "token_env")) {
    if (!IsEnvName(*name)) {
      Invalid(MarkOf(fields->at("token_env")),
              "observe.token_env is not an environment variable name",
              "it names the variable that holds the token (letters, digits and _, like "
              "KEYFERRY_TOKEN), never the token itself");
    } else {
      spec->observe.token_env = *name;
    }
  }
}

Result<Spec> SpecParser::Parse(std::string_view text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    Report(e.mark, ControlErrc::kSpecSyntax, "not valid YAML: " + e.msg,
           "check the indentation and quoting around this place");
  }
  if (problems_.empty()) {
    if (docs.empty() || docs[0].IsNull()) {
      Invalid(YAML::Mark::null_mark(), "the spec is empty",
              "start from examples/cache.yaml (name, source and target are required)");
    } else if (docs.size() > 1) {
      Invalid(docs[1].Mark(), "the file holds more than one YAML document",
              "one spec per file: remove the second '---' document");
    }
  }
  Spec spec;
  spec.origin = origin_;
  spec.spec_dir = base_dir_.string();
  if (problems_.empty()) {
    const YAML::Node& root = docs[0];
    YAML::Mark top_mark = root.Mark();
    if (auto top = Section(root, top_mark, "", kTopKeys)) {
      if (Required(*top, top_mark, "", "name", "my-cache")) {
        auto name = String(*top, "", "name");
        if (name) {
          bool ok = !name->empty() && name->size() <= 63 && (*name)[0] != '-';
          for (char c : *name) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
          }
          if (!ok) {
            Invalid(MarkOf(top->at("name")), "name " + Quote(*name) + " is not allowed",
                    "use lower case letters, digits and '-' (at most 63, not starting with "
                    "'-'), like orders-cache");
          } else {
            spec.name = *name;
          }
        }
      }
      std::optional<std::string> state_dir = String(*top, "", "state_dir");
      if (state_dir) {
        if (state_dir->empty()) {
          Invalid(MarkOf(top->at("state_dir")), "state_dir is empty",
                  "remove it for the default ./keyferry-state/<name>, or give a directory");
          state_dir.reset();
        } else if (state_dir->starts_with("~")) {
          Invalid(MarkOf(top->at("state_dir")), "state_dir starts with '~', which is not expanded",
                  "write the full path, or a path relative to the spec file");
          state_dir.reset();
        }
      }
      if (state_dir) {
        spec.state_dir = (base_dir_ / *state_dir).lexically_normal().string();
      } else if (!spec.name.empty()) {
        spec.state_dir = (base_dir_ / "keyferry-state" / spec.name).lexically_normal().string();
      }
      ParseSource(*top, top_mark, &spec);
      std::optional<net::Uri> source;
      if (!spec.source.uri.empty()) source = net::Uri::Parse(spec.source.uri).value();
      ParseTarget(*top, top_mark, &spec, source);
      ParseMigration(*top, &spec);
      ParseCutover(*top, &spec);
      ParseAfterCutover(*top, &spec);
      ParseObserve(*top, &spec);
    }
  }
  if (problems_.empty()) return spec;
  std::string message;
  for (const auto& p : problems_) {
    if (!message.empty()) message += "\n";
    message += p.text;
  }
  return MakeError(problems_.front().code, message);
}

const char* EnvValue(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// Adds user and password (from the environment) to a URI parsed from the spec.
Result<net::Uri> WithCredentials(net::Uri uri, const std::string& user,
                                 const std::string& password_env, std::string_view field) {
  uri.user = user;
  if (!password_env.empty()) {
    const char* password = EnvValue(password_env);
    if (password == nullptr) {
      return MakeError(ControlErrc::kEnvMissing,
                       std::string(field) + " names the environment variable " + password_env +
                           ", which is not set (or empty); export " + password_env +
                           " with the password before running keyferry");
    }
    uri.password = password;
    uri.has_password = true;
  }
  return uri;
}

void Sha256Hex(std::string_view data, std::string* out) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  out->clear();
  for (unsigned int i = 0; i < length; ++i) {
    out->push_back(kHex[digest[i] >> 4]);
    out->push_back(kHex[digest[i] & 0xf]);
  }
}

void Diff(const nlohmann::json& a, const nlohmann::json& b, const std::string& path,
          std::vector<std::string>* out) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (!b.contains(it.key())) {
        out->push_back(p);
      } else {
        Diff(it.value(), b.at(it.key()), p, out);
      }
    }
    for (auto it = b.begin(); it != b.end(); ++it) {
      if (!a.contains(it.key())) out->push_back(path.empty() ? it.key() : path + "." + it.key());
    }
    return;
  }
  if (a != b) out->push_back(path);
}

}  // namespace

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 20) return std::nullopt;
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits) return std::nullopt;
  std::string unit = Folded(text.substr(digits));
  uint64_t multiplier = 0;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "k") {
    multiplier = 1000;
  } else if (unit == "kb") {
    multiplier = 1024;
  } else if (unit == "m") {
    multiplier = 1000 * 1000;
  } else if (unit == "mb") {
    multiplier = 1024 * 1024;
  } else if (unit == "g") {
    multiplier = 1000 * 1000 * 1000;
  } else if (unit == "gb") {
    multiplier = uint64_t{1024} * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (number > std::numeric_limits<uint64_t>::max() / multiplier) return std::nullopt;
  return number * multiplier;
}

std::string_view ProviderName(ProviderKind p) {
  return p == ProviderKind::kLocal ? "local" : "external";
}

std::string_view PersistenceName(Persistence p) {
  switch (p) {
    case Persistence::kNone:
      return "none";
    case Persistence::kRdb:
      return "rdb";
    case Persistence::kAof:
      return "aof";
  }
  return "none";
}

std::string_view WritePauseName(WritePause w) {
  return w == WritePause::kReadOnly ? "read-only" : "at-cutover";
}

std::string_view SourceAfterCutoverName(SourceAfterCutover s) {
  return s == SourceAfterCutover::kKeep ? "keep" : "shutdown";
}

std::string_view OnUnsupportedName(sync::OnUnsupported o) {
  switch (o) {
    case sync::OnUnsupported::kFail:
      return "fail";
    case sync::OnUnsupported::kSkip:
      return "skip";
    case sync::OnUnsupported::kDropFieldTtl:
      return "drop-field-ttl";
  }
  return "fail";
}

std::string VerifyName(VerifyMode mode, double sample_rate) {
  switch (mode) {
    case VerifyMode::kFull:
      return "full";
    case VerifyMode::kKeys:
      return "keys";
    case VerifyMode::kSample:
      return "sample:" + FormatDouble(sample_rate);
  }
  return "full";
}

Result<Spec> ParseSpec(std::string_view yaml_text, const std::string& origin_name) {
  std::error_code ec;
  fs::path base = fs::path(origin_name).parent_path();
  if (base.empty()) base = ".";
  fs::path absolute = fs::absolute(base, ec);
  if (ec) {
    return MakeError(ControlErrc::kSpecUnreadable, "cannot resolve the directory of " +
                                                       origin_name + ": " + ec.message() +
                                                       "; run keyferry from an existing directory");
  }
  SpecParser parser(origin_name, absolute.lexically_normal());
  return parser.Parse(yaml_text);
}

Result<Spec> LoadSpec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ControlErrc::kSpecUnreadable, "cannot read the spec " + path + ": " +
                                                       std::strerror(errno) +
                                                       "; check the path given with -f");
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxSpecBytes) {
      return MakeError(ControlErrc::kSpecUnreadable,
                       "the spec " + path +
                           " is larger than 1 MiB; a spec is a short YAML "
                           "file: check that -f names the right file");
    }
  }
  if (in.bad()) {
    return MakeError(ControlErrc::kSpecUnreadable,
                     "error reading the spec " + path + "; check the file and the disk");
  }
  return ParseSpec(text, path);
}

Result<net::Uri> Spec::SourceUri() const {
  if (source.is_file()) {
    return MakeError(ControlErrc::kSpecInvalid,
                     "the source is the file " + source.rdb_file + ", not a server");
  }
  auto uri = net::Uri::Parse(source.uri);
  if (!uri) return MakeError(std::move(uri).error());
  uri->tls = source.tls;
  return WithCredentials(*uri, source.user, source.password_env, "source.password_env");
}

Result<net::Uri> Spec::TargetUri(int local_port) const {
  if (target.provider == ProviderKind::kExternal) {
    auto uri = net::Uri::Parse(target.external.uri);
    if (!uri) return MakeError(std::move(uri).error());
    uri->tls = target.external.tls;
    return WithCredentials(*uri, target.external.user, target.external.password_env,
                           "target.external.password_env");
  }
  net::Uri uri;
  const std::string& bind = target.local.bind;
  uri.host = bind == "0.0.0.0" ? "127.0.0.1" : bind == "::" ? "::1" : bind;
  uri.port = local_port;
  uri.tls = target.local.tls;
  return WithCredentials(uri, "", target.local.password_env, "target.local.password_env");
}

std::string Spec::HookCommand(const net::Uri& target_uri, const std::string& nodes) const {
  if (cutover.hook.empty()) return {};
  net::Uri shown = target_uri;
  shown.has_password = false;
  shown.password.clear();
  std::string uri_text = shown.ToString(false);
  std::string port_text = std::to_string(target_uri.port);
  std::string nodes_text = nodes.empty() ? target_uri.Endpoint() : nodes;
  std::string out;
  const std::string& hook = cutover.hook;
  for (size_t i = 0; i < hook.size();) {
    auto replace = [&](std::string_view placeholder, const std::string& with) {
      if (hook.compare(i, placeholder.size(), placeholder) != 0) return false;
      out += with;
      i += placeholder.size();
      return true;
    };
    if (hook[i] == '{' && (i == 0 || hook[i - 1] != '$') &&
        (replace("{host}", target_uri.host) || replace("{port}", port_text) ||
         replace("{uri}", uri_text) || replace("{nodes}", nodes_text))) {
      continue;
    }
    out += hook[i++];
  }
  return out;
}

nlohmann::json Spec::ToJson() const {
  nlohmann::json j;
  j["origin"] = origin;
  j["name"] = name;
  j["state_dir"] = state_dir;
  j["source"] = {{"uri", source.uri}, {"user", source.user}, {"password_env", source.password_env}};
  if (source.is_file()) j["source"] = {{"rdb_file", source.rdb_file}};
  // Only when set: a migration journaled before `mode` existed keeps its fingerprint.
  if (source.mode == SourceMode::kScan) j["source"]["mode"] = "scan";
  // TLS blocks only when TLS is on, so a plaintext spec's fingerprint stays what it was.
  auto tls_json = [](const net::TlsOptions& tls) {
    return nlohmann::json{
        {"ca_cert", tls.ca_cert}, {"ca_dir", tls.ca_dir},           {"cert", tls.cert},
        {"key", tls.key},         {"server_name", tls.server_name}, {"insecure", tls.insecure}};
  };
  if (source.tls.enabled) j["source"]["tls"] = tls_json(source.tls);
  nlohmann::json t = {
      {"engine", target.engine},
      {"version", target.version},
      {"topology", target.topology == Topology::kCluster ? "cluster" : "standalone"},
      {"provider", ProviderName(target.provider)}};
  if (target.provider == ProviderKind::kLocal) {
    const LocalProviderSpec& l = target.local;
    t["local"] = {{"port", l.port},
                  {"bind", l.bind},
                  {"maxmemory", l.maxmemory},
                  {"persistence", PersistenceName(l.persistence)},
                  {"valkey_server", l.valkey_server},
                  {"password_env", l.password_env},
                  {"extra_config", l.extra_config}};
    // Only for a cluster, so a standalone spec's fingerprint stays what it was.
    if (target.topology == Topology::kCluster) {
      t["local"]["shards"] = l.shards;
      t["local"]["replicas_per_shard"] = l.replicas_per_shard;
    }
    if (l.tls.enabled) t["local"]["tls"] = tls_json(l.tls);
  } else {
    const ExternalProviderSpec& e = target.external;
    t["external"] = {{"uri", e.uri}, {"user", e.user}, {"password_env", e.password_env}};
    if (e.tls.enabled) t["external"]["tls"] = tls_json(e.tls);
  }
  j["target"] = std::move(t);
  const MigrationSpec& m = migration;
  j["migration"] = {{"write_pause", WritePauseName(m.write_pause)},
                    {"max_pause_ms", m.max_pause_ms},
                    {"catch_up_max_lag_bytes", m.catch_up_max_lag_bytes},
                    {"verify", VerifyName(m.verify, m.verify_sample_rate)},
                    {"verify_rounds", m.verify_rounds},
                    {"pause_verify_keys", m.pause_verify_keys},
                    {"pause_recheck_keys", m.pause_recheck_keys},
                    {"on_unsupported", OnUnsupportedName(m.on_unsupported)},
                    {"big_key_threshold", m.big_key_threshold},
                    {"writers", m.writers}};
  j["cutover"] = {{"hook", cutover.hook}, {"hook_timeout_s", cutover.hook_timeout_s}};
  j["after_cutover"] = {{"source", SourceAfterCutoverName(after_cutover.source)}};
  j["observe"] = {{"listen", observe.listen}, {"token_env", observe.token_env}};
  return j;
}

std::string Spec::Fingerprint() const {
  nlohmann::json j = ToJson();
  j.erase("origin");
  j.erase("observe");  // where the numbers are served may change under a running migration
  std::string hex;
  Sha256Hex(j.dump(), &hex);
  return hex;
}

std::vector<std::string> ChangedFields(const nlohmann::json& before, const nlohmann::json& after) {
  std::vector<std::string> out;
  Diff(before, after, "", &out);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kf::control
