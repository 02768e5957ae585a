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

UnnotifiedWriteCalls ParseUnnotifiedWriteCalls(std::string_view commandstats) {
  constexpr std::string_view kWholeDb[] = {"flushdb", "flushall", "swapdb"};
  constexpr std::string_view kFunctions[] = {"function|load", "function|delete", "function|flush",
                                             "function|restore"};
  UnnotifiedWriteCalls calls;
  size_t at = 0;
  while (at < commandstats.size()) {
    size_t end = commandstats.find('\n', at);
    if (end == std::string_view::npos) end = commandstats.size();
    std::string_view line = commandstats.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    constexpr std::string_view kPrefix = "cmdstat_";
    if (!line.starts_with(kPrefix)) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(kPrefix.size(), colon - kPrefix.size());
    constexpr std::string_view kCalls = "calls=";
    const size_t c = line.find(kCalls, colon);
    if (c == std::string_view::npos) continue;
    uint64_t n = 0;
    const char* first = line.data() + c + kCalls.size();
    if (std::from_chars(first, line.data() + line.size(), n).ec != std::errc()) continue;
    for (std::string_view w : kWholeDb) {
      if (name == w) calls.whole_db += n;
    }
    for (std::string_view f : kFunctions) {
      if (name == f) calls.functions += n;
    }
  }
  return calls;
}

}  // namespace kf::sync
