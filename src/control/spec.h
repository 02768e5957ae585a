// Spec: the migration an operator asks for, read from a YAML file (docs/spec.md documents
// every field, examples/ holds complete files).
//
// ParseSpec/LoadSpec check everything that can be checked without touching a server:
// unknown keys (with a "did you mean" suggestion), duplicate keys, wrong types, bad values
// and impossible combinations. Every problem is reported as
//   <file>:<line>:<column>: <what is wrong>; <what to do>
// and all problems of a file are reported at once, one per line, in the Error's message
// (code: ControlErrc::kSpecSyntax, kSpecInvalid or kSpecUnsupported, the first problem's).
//
// Passwords never appear in a spec: URIs with a password are refused, and password_env names
// an environment variable that SourceUri()/TargetUri() read at the moment they are called. So
// a Spec (and its ToJson/Fingerprint, which the journal keeps) holds no secret.
//
// Relative paths (state_dir, local.valkey_server when it contains a '/') are resolved against
// the directory of the spec file, so `keyferry apply -f dir/cache.yaml` works from anywhere;
// the Spec holds them absolute and lexically normalised.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/uri.h"
#include "sync/snapshot_sink.h"  // sync::OnUnsupported

namespace kf::control {

enum class Topology { kStandalone, kCluster };
enum class ProviderKind { kLocal, kExternal };
enum class Persistence { kNone, kRdb, kAof };
enum class WritePause { kAtCutover, kReadOnly };
enum class VerifyMode { kFull, kKeys, kSample };
enum class SourceAfterCutover { kShutdown, kKeep };

// How the live sync reads the source (docs/scan.md): as a replica (PSYNC), or by SCAN +
// DUMP and keyspace notifications for a source that refuses PSYNC.
enum class SourceMode { kReplica, kScan };

struct SourceSpec {
  // source.rdb_file: an RDB backup as the source of an offline migration (docs/restore.md,
  // "A file as the source of apply"); absolute. Set: every other source field is empty.
  std::string rdb_file;
  std::string uri;           // redis[s]://host[:port], as written (no password, no db)
  std::string user;          // ACL user; empty: the default user
  std::string password_env;  // environment variable holding the password; empty: none
  SourceMode mode = SourceMode::kReplica;
  bool is_file() const { return !rdb_file.empty(); }
  // source.tls (docs/tls.md): enabled for rediss://; paths absolute; origin "source.tls".
  net::TlsOptions tls;
};

// provider: local — keyferry starts valkey-server itself and owns it.
struct LocalProviderSpec {
  int port = 0;                    // 0: pick a free port at PROVISION
  std::string bind = "127.0.0.1";  // address valkey-server binds and keyferry connects to
  uint64_t maxmemory = 0;          // bytes; 0: no limit
  Persistence persistence = Persistence::kNone;
  std::string valkey_server = "valkey-server";  // a PATH name, or an absolute path
  std::string password_env;                     // sets requirepass from this variable; empty: none
  // Passed to valkey-server as --name value, in key order. Never holds a key keyferry sets
  // itself (port, bind, dir, maxmemory, save, appendonly, requirepass, daemonize, ...).
  std::map<std::string, std::string> extra_config;
  // topology: cluster only: shards (primaries) and replicas of each, started as
  // shards * (1 + replicas_per_shard) cluster-enabled valkey-server processes.
  int shards = 3;              // 1..16
  int replicas_per_shard = 0;  // 0..2
  // target.local.tls: enabled when given. The server listens on TLS only (tls-port, port 0)
  // with cert/key as its certificate and ca_cert/ca_dir as the CAs it trusts for clients;
  // keyferry connects with the same options (verifying the server against ca_cert/ca_dir,
  // presenting cert/key as its client certificate). Standalone only.
  net::TlsOptions tls;
};

// provider: external — an empty server the operator already runs.
struct ExternalProviderSpec {
  std::string uri;  // redis[s]://host[:port], no password, no db
  std::string user;
  std::string password_env;
  net::TlsOptions tls;  // target.external.tls, as source.tls
};

struct TargetSpec {
  std::string engine = "valkey";  // only valkey for now
  std::string version;            // "8.0": what the operator expects; checked at PREFLIGHT
  Topology topology = Topology::kStandalone;
  ProviderKind provider = ProviderKind::kLocal;
  LocalProviderSpec local;        // meaningful when provider == kLocal
  ExternalProviderSpec external;  // meaningful when provider == kExternal
};

struct MigrationSpec {
  WritePause write_pause = WritePause::kAtCutover;
  // Timeout of each CLIENT PAUSE keyferry sends: if keyferry dies while the source is
  // paused, the source resumes by itself after this long.
  int64_t max_pause_ms = 5000;
  uint64_t catch_up_max_lag_bytes = uint64_t{1} << 20;  // CATCH_UP ends below this lag
  VerifyMode verify = VerifyMode::kFull;
  double verify_sample_rate = 1.0;  // meaningful for kSample: 0 < rate <= 1
  int verify_rounds = 3;            // re-check rounds for keys that differ
  // Inside the write pause, after DRAIN: the last this many distinct keys the stream wrote
  // are compared on both ends (0: offsets only).
  int pause_verify_keys = 1000;
  // Keys that still differ after the live verify's re-check rounds (keys written while
  // they were compared, like counters changed every millisecond) are compared again inside
  // the pause, at a consistent point, up to this many; more than this rolls back before
  // writes are paused (0: any difference left after the live rounds rolls back).
  int pause_recheck_keys = 10000;
  sync::OnUnsupported on_unsupported = sync::OnUnsupported::kFail;
  uint64_t big_key_threshold = uint64_t{64} << 20;  // bytes
  int writers = 2;                                  // target connections for the snapshot
};

struct CutoverSpec {
  // Shell command run at CUTOVER with {host} {port} {uri} replaced by the target's endpoint
  // ({uri} never holds a password). Empty: no hook.
  std::string hook;
  int hook_timeout_s = 60;
};

struct AfterCutoverSpec {
  SourceAfterCutover source = SourceAfterCutover::kShutdown;
};

// observe: where apply serves /status and /metrics (docs/observe.md). Not part of the
// fingerprint: moving the listen address or the token of a running migration is allowed.
struct ObserveSpec {
  std::string listen;     // "HOST:PORT"; empty: apply serves nothing (unless --listen)
  std::string token_env;  // environment variable holding the access token; empty: none
};

struct Spec {
  std::string origin;  // the spec file as given (for messages)
  // The absolute directory of the spec file: the base of its relative paths and the working
  // directory of the cutover hook. Not part of ToJson/Fingerprint (like origin).
  std::string spec_dir;
  std::string name;       // [a-z0-9-]+, starts with a letter or digit, at most 63 chars
  std::string state_dir;  // absolute; default <spec dir>/keyferry-state/<name>
  SourceSpec source;
  TargetSpec target;
  MigrationSpec migration;
  CutoverSpec cutover;
  AfterCutoverSpec after_cutover;
  ObserveSpec observe;

  // The source URI with the user, the password from source.password_env and source.tls.
  // ControlErrc::kEnvMissing when password_env is set but the variable is unset or empty.
  Result<net::Uri> SourceUri() const;
  // Where keyferry reaches the target, with its TLS options (target.local.tls or
  // target.external.tls). local: redis[s]://<bind>:<local_port> (a wildcard bind
  // such as 0.0.0.0 or :: is reached over loopback), with the password from
  // local.password_env; local_port is the port PROVISION chose (local.port unless that is
  // 0). external: the external URI with user and password; local_port is ignored.
  Result<net::Uri> TargetUri(int local_port) const;
  // The hook with {host} {port} {uri} replaced (uri without password) and {nodes} by
  // `nodes` (every primary's host:port, comma-separated; the target's host:port when
  // empty). Empty if no hook.
  std::string HookCommand(const net::Uri& target, const std::string& nodes = "") const;

  // Every field after defaults and normalisation (no secrets), keys sorted. Stable: the same
  // meaning gives the same JSON whatever the YAML's order, quoting or comments.
  nlohmann::json ToJson() const;
  // Hex SHA-256 of ToJson() without "origin" and "observe": apply stores it in the journal
  // to detect a spec that changed under a running migration. Any other field's change
  // changes it.
  std::string Fingerprint() const;
};

// Reads and parses a spec file. ControlErrc::kSpecUnreadable if it cannot be read.
Result<Spec> LoadSpec(const std::string& path);
// Parses YAML text. origin_name is the file name used in messages and the base for relative
// paths (its directory; the current directory when it has none).
Result<Spec> ParseSpec(std::string_view yaml_text, const std::string& origin_name);

// Dotted paths of the fields that differ between two Spec::ToJson() values (e.g.
// "migration.verify"), sorted; for "the spec changed under a running migration" messages.
std::vector<std::string> ChangedFields(const nlohmann::json& before, const nlohmann::json& after);

// Parses a size: a plain number of bytes or a number with a unit, case-insensitive, as
// valkey.conf reads it: b, k=1000, kb=1024, m=1000^2, mb=1024^2, g=1000^3, gb=1024^3.
// nullopt for anything else or on overflow.
std::optional<uint64_t> ParseByteSize(std::string_view text);

std::string_view ProviderName(ProviderKind p);                  // "local", "external"
std::string_view PersistenceName(Persistence p);                // "none", "rdb", "aof"
std::string_view WritePauseName(WritePause w);                  // "at-cutover", "read-only"
std::string_view SourceAfterCutoverName(SourceAfterCutover s);  // "shutdown", "keep"
std::string_view OnUnsupportedName(sync::OnUnsupported o);      // "fail", "skip", ...
// "full", "keys" or "sample:<rate>" with the rate printed as given by std::to_chars.
std::string VerifyName(VerifyMode mode, double sample_rate);

}  // namespace kf::control
