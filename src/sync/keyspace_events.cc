// Keyspace notifications for scan mode (keyspace_events.h).
#include "sync/keyspace_events.h"

#include <charconv>

namespace kf::sync {
namespace {

constexpr std::string_view kAllKeyClasses = "g$lshzxetd";  // what 'A' stands for

bool HasClass(std::string_view flags, char c) {
  if (flags.find(c) != std::string_view::npos) return true;
  return c != 'K' && c != 'E' && flags.find('A') != std::string_view::npos &&
         kAllKeyClasses.find(c) != std::string_view::npos;
}

}  // namespace

std::string MissingNotifyClasses(std::string_view flags) {
  std::string missing;
  for (char c : kScanNotifyClasses) {
    if (!HasClass(flags, c)) missing.push_back(c);
  }
  return missing;
}

std::string WithNotifyClasses(std::string_view flags) {
  return std::string(flags) + MissingNotifyClasses(flags);
}

std::optional<KeyspaceEvent> ParseKeyspaceEvent(const resp::Reply& reply) {
  if (!reply.is_aggregate() || reply.size() != 4) return std::nullopt;
  if (reply[0].str() != "pmessage") return std::nullopt;
  std::string_view channel = reply[2].str();
  constexpr std::string_view kPrefix = "__keyspace@";
  if (channel.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  channel.remove_prefix(kPrefix.size());
  const size_t end = channel.find("__:");
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  int db = -1;
  auto [ptr, ec] = std::from_chars(channel.data(), channel.data() + end, db);
  if (ec != std::errc() || ptr != channel.data() + end || db < 0) return std::nullopt;
  KeyspaceEvent e;
  e.db = db;
  e.key = std::string(channel.substr(end + 3));
  e.event = reply[3].str();
  return e;
}

}  // namespace kf::sync
