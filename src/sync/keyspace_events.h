// Keyspace notifications, as scan mode uses them (docs/scan.md): which classes of
// `notify-keyspace-events` it needs, and what one notification says. Pure: no IO.
//
// Scan mode subscribes to `__keyspace@*__:*` on the source. A change to key K in db N
// arrives as the push ["pmessage", pattern, "__keyspace@N__:K", event]. Every event
// (set, del, expired, evicted, hset, xadd, ...) means the same thing to scan mode: read K
// again and copy it (or delete it on the target when it is gone), so only the key and db
// matter; the event name is kept for logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "resp/reply.h"

namespace kf::sync {

// The classes scan mode needs: K (keyspace channel) and every class of key changes:
// g (generic: del, expire, rename...), $ (string), l (list), s (set), h (hash), z (zset),
// x (expired), e (evicted), t (stream). 'A' stands for g$lshzxet (and d).
inline constexpr std::string_view kScanNotifyClasses = "Kg$lshzxet";

// The classes of kScanNotifyClasses that `flags` (a notify-keyspace-events value) lacks,
// in that order; empty when it has them all.
std::string MissingNotifyClasses(std::string_view flags);
// `flags` with the missing classes added (the value to CONFIG SET).
std::string WithNotifyClasses(std::string_view flags);

struct KeyspaceEvent {
  int db = 0;
  std::string key;
  std::string event;
};

// The event of a keyspace pmessage (RESP2 array or RESP3 push); nullopt for any other
// reply (a subscribe confirmation, a pong, a keyevent message).
std::optional<KeyspaceEvent> ParseKeyspaceEvent(const resp::Reply& reply);

// Writes that send no keyspace notification, counted from INFO commandstats (calls of each
// command since the server started or since CONFIG RESETSTAT): FLUSHDB, FLUSHALL and SWAPDB
// change or drop whole databases; FUNCTION LOAD/DELETE/FLUSH/RESTORE change the libraries.
// Scan mode compares two readings to learn that one ran (docs/scan.md).
struct UnnotifiedWriteCalls {
  uint64_t whole_db = 0;   // flushdb + flushall + swapdb
  uint64_t functions = 0;  // function|load, function|delete, function|flush, function|restore
  bool operator==(const UnnotifiedWriteCalls&) const = default;
};
// Reads the `cmdstat_<name>:calls=N,...` lines of an INFO commandstats answer; a command
// that never ran has no line (0). Lines it does not know are ignored.
UnnotifiedWriteCalls ParseUnnotifiedWriteCalls(std::string_view commandstats);

}  // namespace kf::sync
