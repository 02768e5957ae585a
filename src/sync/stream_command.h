// What the stream phase does with each command of a primary's replication stream.
//
// Rules (DESIGN.md §3): PING and REPLCONF are consumed (the replica link answers GETACK),
// PUBLISH/SPUBLISH are dropped (messages are not data), SELECT is tracked (and mapped with
// --db-map), everything else is forwarded in order: MULTI/EXEC as they come (so a
// transaction stays atomic on the target), FUNCTION LOAD/DELETE/FLUSH/RESTORE,
// FLUSHDB/FLUSHALL, and the DEL/UNLINK a primary sends for expired or evicted keys.
//
// With --match/--exclude, the keys of a forwarded command are found from the source's
// own command table (COMMAND reply: first key, last key, step), loaded once per sync; a
// command whose keys are all filtered out is dropped, and one that mixes kept and dropped
// keys cannot be split safely and is reported as an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "resp/command.h"
#include "resp/reply.h"

namespace kf::sync {

enum class StreamAction {
  kConsume,  // PING, REPLCONF: nothing reaches the target
  kDrop,     // PUBLISH, SPUBLISH, or all keys filtered out
  kSelect,   // SELECT <db>: changes the db the next commands apply to
  kForward,  // send to the target in order
};

// Key positions of one command, as the server's COMMAND reply gives them.
struct KeySpec {
  int first = 0;  // 0: the command takes no key
  int last = 0;   // negative: counted from the end (-1 = last argument)
  int step = 1;
  bool movable = false;  // keys found by parsing (e.g. ZUNIONSTORE numkeys)
};

class CommandTable {
 public:
  // From a COMMAND (or COMMAND INFO) reply: an array of [name, arity, flags, first, last,
  // step, ...]. Subcommand containers are kept by their top-level name.
  static CommandTable FromCommandReply(const resp::Reply& reply);
  // Built-in positions for the common write commands, used when COMMAND is not allowed.
  static CommandTable BuiltIn();

  // The key arguments of `cmd`. Errors name the command when keys cannot be found.
  Result<std::vector<std::string_view>> Keys(const resp::Command& cmd) const;
  size_t size() const { return specs_.size(); }

 private:
  std::unordered_map<std::string, KeySpec> specs_;  // lower-case name → spec
};

// Lower-case copy of an ASCII command name.
std::string LowerName(std::string_view name);

// Classifies one command (without filters).
StreamAction ClassifyStreamCommand(const resp::Command& cmd);

// Positions of the arguments of `cmd` that name a database (MOVE key db, COPY src dst
// DB db, SWAPDB db1 db2), which --db-map must rewrite like SELECT. Empty for every other
// command.
std::vector<size_t> DbArgumentPositions(const resp::Command& cmd);

// The stream key of a command that can change a consumer group's last-delivered id or
// entries-read (XCLAIM, XAUTOCLAIM, XGROUP <sub> <key> ..., XREADGROUP ... STREAMS <key>),
// or an empty view for every other command. Primaries propagate XREADGROUP as
// `XCLAIM ... LASTID <id>`, which moves the group's last id on a replica but not its
// entries-read: `apply` repairs those groups from the source inside the write pause.
std::vector<std::string_view> StreamGroupKeys(const resp::Command& cmd);

// The key and absolute expiry (Unix ms) a command gives, in the forms primaries propagate
// (relative TTLs are rewritten to absolute ones): SET ... PXAT|EXAT t, PEXPIREAT|EXPIREAT
// key t, GETEX key PXAT|EXAT t, RESTORE key t payload ... ABSTTL. Empty for every other
// command, or when the time does not parse. A key whose expiry is already past when the
// target applies such a command is deleted there without an `expired` event
// (target_expiries.h).
struct AbsoluteExpiry {
  std::string_view key;
  int64_t at_ms = 0;
};
std::optional<AbsoluteExpiry> AbsoluteExpiryOf(const resp::Command& cmd);

}  // namespace kf::sync
