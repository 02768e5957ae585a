// Stream-phase classification and key extraction for filters.
#include "sync/stream_command.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "common/bytes.h"
#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

bool ParseInt(std::string_view text, long long* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::string LowerName(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

StreamAction ClassifyStreamCommand(const resp::Command& cmd) {
  if (cmd.empty()) return StreamAction::kConsume;
  if (cmd.ArgEquals(0, "ping") || cmd.ArgEquals(0, "replconf")) return StreamAction::kConsume;
  if (cmd.ArgEquals(0, "publish") || cmd.ArgEquals(0, "spublish")) return StreamAction::kDrop;
  if (cmd.ArgEquals(0, "select")) return StreamAction::kSelect;
  return StreamAction::kForward;
}

std::vector<size_t> DbArgumentPositions(const resp::Command& cmd) {
  std::vector<size_t> positions;
  if (cmd.ArgEquals(0, "move") && cmd.argc() == 3) positions.push_back(2);
  if (cmd.ArgEquals(0, "swapdb") && cmd.argc() == 3) positions = {1, 2};
  if (cmd.ArgEquals(0, "copy")) {
    for (size_t i = 3; i + 1 < cmd.argc(); ++i) {
      if (cmd.ArgEquals(i, "db")) positions.push_back(i + 1);
    }
  }
  return positions;
}

std::vector<std::string_view> StreamGroupKeys(const resp::Command& cmd) {
  std::vector<std::string_view> keys;
  if ((cmd.ArgEquals(0, "xclaim") || cmd.ArgEquals(0, "xautoclaim")) && cmd.argc() >= 2) {
    keys.push_back(cmd.arg_view(1));
  } else if (cmd.ArgEquals(0, "xgroup") && cmd.argc() >= 3) {
    keys.push_back(cmd.arg_view(2));
  } else if (cmd.ArgEquals(0, "xreadgroup")) {
    // XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k1 .. kN id1 .. idN
    for (size_t i = 1; i < cmd.argc(); ++i) {
      if (!cmd.ArgEquals(i, "streams")) continue;
      const size_t rest = cmd.argc() - i - 1;
      for (size_t k = 0; k < rest / 2; ++k) keys.push_back(cmd.arg_view(i + 1 + k));
      break;
    }
  }
  return keys;
}

std::optional<AbsoluteExpiry> AbsoluteExpiryOf(const resp::Command& cmd) {
  auto number = [&](size_t i, int64_t scale) -> std::optional<int64_t> {
    if (i >= cmd.argc()) return std::nullopt;
    auto v = cmd.arg_view(i);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    if (n > INT64_MAX / scale || n < INT64_MIN / scale) return std::nullopt;
    return n * scale;
  };
  auto at = [&](std::optional<int64_t> ms) -> std::optional<AbsoluteExpiry> {
    if (!ms || cmd.argc() < 2) return std::nullopt;
    return AbsoluteExpiry{cmd.arg_view(1), *ms};
  };
  if (cmd.ArgEquals(0, "pexpireat")) return at(number(2, 1));
  if (cmd.ArgEquals(0, "expireat")) return at(number(2, 1000));
  if (cmd.ArgEquals(0, "set") || cmd.ArgEquals(0, "getex")) {
    for (size_t i = cmd.ArgEquals(0, "set") ? 3 : 2; i + 1 < cmd.argc(); ++i) {
      if (cmd.ArgEquals(i, "pxat")) return at(number(i + 1, 1));
      if (cmd.ArgEquals(i, "exat")) return at(number(i + 1, 1000));
    }
    return std::nullopt;
  }
  if (cmd.ArgEquals(0, "restore") && cmd.argc() >= 4) {
    for (size_t i = 4; i < cmd.argc(); ++i) {
      if (cmd.ArgEquals(i, "absttl")) {
        auto ms = number(2, 1);
        if (ms && *ms > 0) return at(ms);
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

CommandTable CommandTable::FromCommandReply(const resp::Reply& reply) {
  CommandTable table;
  for (const auto& entry : reply.children()) {
    if (entry.size() < 6 || !entry[0].is_string()) continue;
    KeySpec spec;
    spec.first = static_cast<int>(entry[3].integer());
    spec.last = static_cast<int>(entry[4].integer());
    spec.step = static_cast<int>(entry[5].integer());
    for (const auto& flag : entry[2].children()) {
      if (flag.str() == "movablekeys") spec.movable = true;
    }
    table.specs_[LowerName(entry[0].str())] = spec;
  }
  return table;
}

CommandTable CommandTable::BuiltIn() {
  CommandTable table;
  auto add = [&](std::initializer_list<const char*> names, KeySpec spec) {
    for (const char* n : names) table.specs_[n] = spec;
  };
  // One key at position 1.
  add({"set",
       "setex",
       "psetex",
       "setnx",
       "append",
       "incr",
       "decr",
       "incrby",
       "decrby",
       "incrbyfloat",
       "getset",
       "getdel",
       "getex",
       "setrange",
       "setbit",
       "bitfield",
       "lpush",
       "rpush",
       "lpushx",
       "rpushx",
       "lpop",
       "rpop",
       "lset",
       "linsert",
       "lrem",
       "ltrim",
       "sadd",
       "srem",
       "spop",
       "zadd",
       "zrem",
       "zincrby",
       "zremrangebyscore",
       "zremrangebyrank",
       "zremrangebylex",
       "zpopmin",
       "zpopmax",
       "hset",
       "hsetnx",
       "hmset",
       "hdel",
       "hincrby",
       "hincrbyfloat",
       "xadd",
       "xdel",
       "xtrim",
       "xsetid",
       "xack",
       "xclaim",
       "xautoclaim",
       "expire",
       "pexpire",
       "expireat",
       "pexpireat",
       "persist",
       "restore",
       "pfadd",
       "geoadd",
       "georadius_ro",
       "georadiusbymember_ro",
       "move",
       "hexpire",
       "hpexpire",
       "hexpireat",
       "hpexpireat",
       "hpersist"},
      {1, 1, 1, false});
  // Every argument after the name is a key.
  add({"del", "unlink", "touch", "exists", "mget", "pfmerge", "pfcount", "sunionstore",
       "sinterstore", "sdiffstore"},
      {1, -1, 1, false});
  add({"mset", "msetnx"}, {1, -1, 2, false});
  add({"blpop", "brpop", "bzpopmin", "bzpopmax"}, {1, -2, 1, false});  // ... timeout
  add({"bitop"}, {2, -1, 1, false});                                   // op dest key ...
  add({"rename", "renamenx", "copy", "lmove", "rpoplpush", "smove", "blmove", "brpoplpush",
       "zrangestore", "geosearchstore", "lcs"},
      {1, 2, 1, false});
  // Found by parsing (CommandTable::Keys), whatever the spec says.
  add({"zunionstore", "zinterstore", "zdiffstore", "sort", "sort_ro", "georadius",
       "georadiusbymember"},
      {1, 1, 1, true});
  add({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "zunion", "zinter", "zdiff",
       "zintercard", "sintercard", "lmpop", "zmpop", "blmpop", "bzmpop", "xread", "xreadgroup",
       "migrate", "xgroup"},
      {0, 0, 0, true});
  add({"multi", "exec", "discard", "flushdb", "flushall", "function", "swapdb", "script"},
      {0, 0, 0, false});
  return table;
}

namespace {

using KeyList = std::vector<std::string_view>;

Result<KeyList> KeysError(std::string_view name, const std::string& why) {
  return MakeError(SyncErrc::kKeysUnknown,
                   "cannot tell the keys of " + Printable(name) + ": " + why);
}

// `numkeys` at argument `count_at`, the keys right after it; `leading` keys (a destination)
// come before the count. A count that is not a number, negative, or larger than the
// arguments left is an error: the command is malformed, and no key is guessed.
Result<KeyList> CountedKeys(const resp::Command& cmd, std::string_view name, size_t count_at,
                            size_t leading) {
  KeyList keys;
  if (cmd.argc() <= count_at) return KeysError(name, "it has no numkeys argument");
  long long numkeys = 0;
  const size_t first = count_at + 1;
  if (!ParseInt(cmd.arg_view(count_at), &numkeys) || numkeys < 0 ||
      static_cast<unsigned long long>(numkeys) > cmd.argc() - first) {
    return KeysError(name, "its numkeys argument (" + Printable(cmd.arg_view(count_at)) +
                               ") is not a count of the " + std::to_string(cmd.argc() - first) +
                               " arguments that follow it");
  }
  for (size_t i = 1; i <= leading; ++i) keys.push_back(cmd.arg_view(i));
  for (size_t i = 0; i < static_cast<size_t>(numkeys); ++i) keys.push_back(cmd.arg_view(first + i));
  return keys;
}

// SORT / SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
// [STORE destination]: option arguments are skipped (a pattern or a number named "store"
// is not the STORE option), and the last STORE wins, as the server applies it.
KeyList SortKeys(const resp::Command& cmd) {
  KeyList keys;
  if (cmd.argc() < 2) return keys;
  keys.push_back(cmd.arg_view(1));
  std::optional<std::string_view> store;
  for (size_t i = 2; i < cmd.argc(); ++i) {
    if (cmd.ArgEquals(i, "limit")) {
      i += 2;
    } else if (cmd.ArgEquals(i, "by") || cmd.ArgEquals(i, "get")) {
      i += 1;
    } else if (cmd.ArgEquals(i, "store") && i + 1 < cmd.argc()) {
      store = cmd.arg_view(++i);
    }
  }
  if (store) keys.push_back(*store);
  return keys;
}

// XREAD [COUNT n] [BLOCK ms] STREAMS k1 .. kN id1 .. idN, XREADGROUP GROUP g c [COUNT n]
// [BLOCK ms] [NOACK] STREAMS ...: the options are read in order up to STREAMS, so a group,
// consumer or count named "streams" is not taken for the keyword.
Result<KeyList> StreamReadKeys(const resp::Command& cmd, std::string_view name) {
  for (size_t i = 1; i < cmd.argc(); ++i) {
    if (cmd.ArgEquals(i, "count") || cmd.ArgEquals(i, "block")) {
      ++i;
    } else if (cmd.ArgEquals(i, "group")) {
      i += 2;
    } else if (cmd.ArgEquals(i, "noack")) {
      continue;
    } else if (cmd.ArgEquals(i, "streams")) {
      const size_t rest = cmd.argc() - i - 1;
      if (rest == 0 || rest % 2 != 0) {
        return KeysError(name, "STREAMS is not followed by as many ids as keys");
      }
      KeyList keys;
      for (size_t k = 0; k < rest / 2; ++k) keys.push_back(cmd.arg_view(i + 1 + k));
      return keys;
    } else {
      break;
    }
  }
  return KeysError(name, "it has no STREAMS argument after its options");
}

// GEORADIUS key lon lat radius unit [...] / GEORADIUSBYMEMBER key member radius unit [...]:
// the key, and the destination of the last STORE or STOREDIST.
KeyList GeoRadiusKeys(const resp::Command& cmd, size_t options_at) {
  KeyList keys;
  if (cmd.argc() < 2) return keys;
  keys.push_back(cmd.arg_view(1));
  std::optional<std::string_view> store;
  for (size_t i = options_at; i + 1 < cmd.argc(); ++i) {
    if (cmd.ArgEquals(i, "store") || cmd.ArgEquals(i, "storedist")) store = cmd.arg_view(++i);
  }
  if (store) keys.push_back(*store);
  return keys;
}

// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
// [KEYS k1 .. kN].
KeyList MigrateKeys(const resp::Command& cmd) {
  KeyList keys;
  for (size_t i = 6; i < cmd.argc(); ++i) {
    if (cmd.ArgEquals(i, "auth")) {
      i += 1;
    } else if (cmd.ArgEquals(i, "auth2")) {
      i += 2;
    } else if (cmd.ArgEquals(i, "keys")) {
      for (size_t k = i + 1; k < cmd.argc(); ++k) keys.push_back(cmd.arg_view(k));
      return keys;
    }
  }
  if (cmd.argc() > 3 && !cmd.arg_view(3).empty()) keys.push_back(cmd.arg_view(3));
  return keys;
}

// The keys of the commands whose key positions depend on their arguments ("movablekeys"
// in COMMAND), and of XGROUP, whose subcommands take the key at position 2 while COMMAND
// on Redis 7 lists the container without keys. nullopt: `name` is not one of them.
std::optional<Result<KeyList>> ParsedKeys(const resp::Command& cmd, const std::string& name) {
  // dest numkeys key ...
  if (name == "zunionstore" || name == "zinterstore" || name == "zdiffstore") {
    return CountedKeys(cmd, name, 2, 1);
  }
  // numkeys key ...
  if (name == "zunion" || name == "zinter" || name == "zdiff" || name == "zintercard" ||
      name == "sintercard" || name == "lmpop" || name == "zmpop") {
    return CountedKeys(cmd, name, 1, 0);
  }
  // timeout numkeys key ... / script numkeys key ... arg ...
  if (name == "blmpop" || name == "bzmpop" || name == "eval" || name == "evalsha" ||
      name == "eval_ro" || name == "evalsha_ro" || name == "fcall" || name == "fcall_ro") {
    return CountedKeys(cmd, name, 2, 0);
  }
  if (name == "sort" || name == "sort_ro") return Result<KeyList>(SortKeys(cmd));
  if (name == "xread" || name == "xreadgroup") return StreamReadKeys(cmd, name);
  if (name == "georadius") return Result<KeyList>(GeoRadiusKeys(cmd, 6));
  if (name == "georadiusbymember") return Result<KeyList>(GeoRadiusKeys(cmd, 5));
  if (name == "migrate") return Result<KeyList>(MigrateKeys(cmd));
  if (name == "xgroup") {
    KeyList keys;
    if (cmd.argc() >= 3 && !cmd.ArgEquals(1, "help")) keys.push_back(cmd.arg_view(2));
    return Result<KeyList>(keys);
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<std::string_view>> CommandTable::Keys(const resp::Command& cmd) const {
  std::vector<std::string_view> keys;
  if (cmd.empty()) return keys;
  std::string name = LowerName(cmd.arg_view(0));
  if (auto parsed = ParsedKeys(cmd, name)) return std::move(*parsed);
  auto it = specs_.find(name);
  if (it == specs_.end()) {
    return KeysError(name, "the source's command table does not know it");
  }
  const KeySpec& spec = it->second;
  if (spec.movable) {
    return KeysError(name,
                     "its key positions depend on its arguments (movable keys), and "
                     "keyferry does not parse this command");
  }
  if (spec.first <= 0) return keys;
  int argc = static_cast<int>(cmd.argc());
  if (argc <= spec.first) return KeysError(name, "it has no argument at its key position");
  int last = spec.last < 0 ? argc + spec.last : spec.last;
  int step = spec.step > 0 ? spec.step : 1;
  for (int i = spec.first; i <= last && i < argc; i += step) keys.push_back(cmd.arg_view(i));
  return keys;
}

}  // namespace kf::sync
