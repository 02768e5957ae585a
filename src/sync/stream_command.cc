// Stream-phase classification and key extraction for filters.
#include "sync/stream_command.h"

#include <algorithm>
#include <charconv>

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
       "xgroup",
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
       "pfmerge",
       "geoadd",
       "move",
       "hexpire",
       "hpexpire",
       "hexpireat",
       "hpexpireat",
       "hpersist"},
      {1, 1, 1, false});
  add({"del", "unlink", "touch", "mset", "msetnx"}, {1, -1, 1, false});
  table.specs_["mset"] = {1, -1, 2, false};
  table.specs_["msetnx"] = {1, -1, 2, false};
  add({"rename", "renamenx", "copy", "lmove", "rpoplpush", "smove"}, {1, 2, 1, false});
  add({"zunionstore", "zinterstore", "zdiffstore", "sort"}, {1, 1, 1, true});
  add({"multi", "exec", "discard", "flushdb", "flushall", "function", "swapdb", "eval", "evalsha",
       "fcall", "script"},
      {0, 0, 0, false});
  add({"sunionstore", "sinterstore", "sdiffstore"}, {1, -1, 1, false});
  return table;
}

Result<std::vector<std::string_view>> CommandTable::Keys(const resp::Command& cmd) const {
  std::vector<std::string_view> keys;
  if (cmd.empty()) return keys;
  std::string name = LowerName(cmd.arg_view(0));
  auto it = specs_.find(name);
  if (it == specs_.end()) {
    return MakeError(SyncErrc::kFilterSplit,
                     "cannot tell the keys of " + name +
                         " in the replication stream, so --match/--exclude cannot be applied; "
                         "run without key filters");
  }
  const KeySpec& spec = it->second;
  int argc = static_cast<int>(cmd.argc());
  if (spec.movable) {
    // dest numkeys key [key ...] (ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE)
    if (name == "zunionstore" || name == "zinterstore" || name == "zdiffstore") {
      long long numkeys = 0;
      if (argc < 3 || !ParseInt(cmd.arg_view(2), &numkeys) || numkeys < 0 || numkeys > argc - 3) {
        return MakeError(SyncErrc::kFilterSplit, "malformed " + name + " in the stream");
      }
      keys.push_back(cmd.arg_view(1));
      for (int i = 0; i < numkeys; ++i) keys.push_back(cmd.arg_view(3 + i));
      return keys;
    }
    if (name == "sort") {
      keys.push_back(cmd.arg_view(1));
      for (int i = 2; i + 1 < argc; ++i) {
        if (cmd.ArgEquals(i, "store")) keys.push_back(cmd.arg_view(i + 1));
      }
      return keys;
    }
    return MakeError(SyncErrc::kFilterSplit,
                     "cannot tell the keys of " + name +
                         " (movable keys) in the replication stream, so --match/--exclude "
                         "cannot be applied; run without key filters");
  }
  if (spec.first <= 0) return keys;
  int last = spec.last < 0 ? argc + spec.last : spec.last;
  int step = spec.step > 0 ? spec.step : 1;
  for (int i = spec.first; i <= last && i < argc; i += step) keys.push_back(cmd.arg_view(i));
  return keys;
}

}  // namespace kf::sync
