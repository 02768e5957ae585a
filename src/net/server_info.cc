// INFO text fields, server identity and the engine-version → RDB-version table.
#include "net/server_info.h"

#include <charconv>

namespace kf::net {
namespace {

void ParseMajorMinor(std::string_view version, int* major, int* minor) {
  *major = *minor = 0;
  auto dot = version.find('.');
  std::from_chars(version.data(), version.data() + version.size(), *major);
  if (dot != std::string_view::npos) {
    std::from_chars(version.data() + dot + 1, version.data() + version.size(), *minor);
  }
}

}  // namespace

std::string InfoField(std::string_view info, std::string_view field) {
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > field.size() && line.substr(0, field.size()) == field &&
        line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
    pos = end + 1;
  }
  return "";
}

int ServerRdbVersion(std::string_view info_server) {
  int major = 0, minor = 0;
  std::string valkey = InfoField(info_server, "valkey_version");
  if (!valkey.empty()) {
    ParseMajorMinor(valkey, &major, &minor);
    return major >= 9 ? 80 : 11;
  }
  ParseMajorMinor(InfoField(info_server, "redis_version"), &major, &minor);
  if (major < 7) return 9;
  if (major == 7 && minor == 0) return 10;
  if (major == 7 && minor == 2) return 11;
  if (major == 7 || (major == 8 && minor <= 4)) return 12;
  if (major == 8 && minor <= 6) return 13;
  return 14;
}

ServerIdentity ParseServerIdentity(std::string_view info_server) {
  ServerIdentity id;
  std::string valkey = InfoField(info_server, "valkey_version");
  bool is_valkey = !valkey.empty() || InfoField(info_server, "server_name") == "valkey";
  id.engine = is_valkey ? "valkey" : "redis";
  id.version = !valkey.empty() ? valkey : InfoField(info_server, "redis_version");
  id.run_id = InfoField(info_server, "run_id");
  id.mode = InfoField(info_server, "server_mode");
  if (id.mode.empty()) id.mode = InfoField(info_server, "redis_mode");
  return id;
}

bool SameServer(const ServerIdentity& a, const ServerIdentity& b) {
  return !a.run_id.empty() && a.run_id == b.run_id;
}

uint64_t KeyspaceKeyCount(std::string_view keyspace_info) {
  uint64_t total = 0;
  size_t at = 0;
  while (at < keyspace_info.size()) {
    size_t end = keyspace_info.find('\n', at);
    if (end == std::string_view::npos) end = keyspace_info.size();
    std::string_view line = keyspace_info.substr(at, end - at);
    at = end + 1;
    auto pos = line.find("keys=");
    if (!line.starts_with("db") || pos == std::string_view::npos) continue;
    uint64_t n = 0;
    std::from_chars(line.data() + pos + 5, line.data() + line.size(), n);
    total += n;
  }
  return total;
}

}  // namespace kf::net
