// PlanBySlot: a stream command → pieces per cluster hash slot, or a refusal that says why.
#include "sync/slot_split.h"

#include <algorithm>
#include <string_view>

#include "common/bytes.h"
#include "net/cluster_slots.h"
#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

constexpr size_t kKeysNamed = 3;  // a refusal names this many keys, then counts the rest

const char* const kWhatToDo =
    "Put the keys one command uses under one hash tag in the application (e.g. {user42}:cart "
    "and {user42}:order share a slot), or migrate to a standalone target";

// How a splittable command lays out its arguments after the name.
enum class SplitLayout {
  kNone,           // not splittable: cross-slot means refusal
  kKeys,           // key key ...          (DEL, UNLINK, TOUCH, EXISTS, MGET)
  kKeyValuePairs,  // key value key value  (MSET, MSETNX)
};

SplitLayout SplitLayoutOf(const std::string& name) {
  if (name == "del" || name == "unlink" || name == "touch" || name == "exists" || name == "mget") {
    return SplitLayout::kKeys;
  }
  if (name == "mset" || name == "msetnx") return SplitLayout::kKeyValuePairs;
  return SplitLayout::kNone;
}

// Commands the stream engine consumes, drops, tracks or regroups itself (stream_command.h):
// they never reach PlanBySlot on the engine's path.
bool IsEngineHandled(const std::string& name) {
  return name == "ping" || name == "replconf" || name == "select" || name == "multi" ||
         name == "exec" || name == "discard" || name == "publish" || name == "spublish";
}

// Keyless commands that change every node's state and so go to every primary.
bool IsEveryPrimary(const resp::Command& cmd, const std::string& name) {
  if (name == "flushall" || name == "flushdb") return true;
  if (cmd.argc() < 2) return false;
  if (name == "function") {
    return cmd.ArgEquals(1, "load") || cmd.ArgEquals(1, "delete") || cmd.ArgEquals(1, "flush") ||
           cmd.ArgEquals(1, "restore");
  }
  if (name == "script") return cmd.ArgEquals(1, "load") || cmd.ArgEquals(1, "flush");
  return false;
}

bool IsScript(const std::string& name) {
  return name == "eval" || name == "evalsha" || name == "eval_ro" || name == "evalsha_ro" ||
         name == "fcall" || name == "fcall_ro";
}

std::string Upper(std::string_view name) {
  std::string out = Printable(name, 32);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// "a (slot 15495), b (slot 3300), c (slot 7365) and 4 more keys".
std::string NameKeys(const std::vector<std::string_view>& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size() && i < kKeysNamed; ++i) {
    if (i > 0) out += ", ";
    out += Printable(keys[i]) + " (slot " + std::to_string(net::KeySlot(keys[i])) + ")";
  }
  if (keys.size() > kKeysNamed) {
    out += " and " + std::to_string(keys.size() - kKeysNamed) + " more keys";
  }
  return out;
}

Unexpected Malformed(const std::string& name, const std::string& why) {
  return MakeError(SyncErrc::kKeysUnknown,
                   "the source sent a malformed " + Upper(name) + " (" + why +
                       "), so its keys and their slots cannot be told; a primary never "
                       "propagates such a command: check that the source is a Redis primary");
}

// The keys at the positions of `layout` (argument 1 on, every key or every other one).
std::vector<size_t> KeyPositions(const resp::Command& cmd, SplitLayout layout) {
  std::vector<size_t> positions;
  const size_t step = layout == SplitLayout::kKeyValuePairs ? 2 : 1;
  for (size_t i = 1; i < cmd.argc(); i += step) positions.push_back(i);
  return positions;
}

// Cuts a splittable command into one piece per slot, slots in order of first appearance,
// each piece holding its keys (and their values) in their original order.
SlotPlan Split(const resp::Command& cmd, const std::string& name, SplitLayout layout) {
  const size_t width = layout == SplitLayout::kKeyValuePairs ? 2 : 1;
  SlotPlan plan;
  for (size_t pos : KeyPositions(cmd, layout)) {
    const int slot = net::KeySlot(cmd.arg_view(pos));
    auto piece = std::find_if(plan.pieces.begin(), plan.pieces.end(),
                              [&](const SlotCommand& p) { return p.slot == slot; });
    if (piece == plan.pieces.end()) {
      // MSETNX was propagated because it set every key: MSET per slot sets the same.
      std::string head = name == "msetnx" ? "MSET" : std::string(cmd.arg_view(0));
      plan.pieces.push_back(SlotCommand{slot, {std::move(head)}});
      piece = plan.pieces.end() - 1;
    }
    for (size_t k = 0; k < width; ++k) piece->args.emplace_back(cmd.arg_view(pos + k));
  }
  plan.kind = plan.pieces.size() == 1 ? SlotPlanKind::kSingleSlot : SlotPlanKind::kSplit;
  if (plan.kind == SlotPlanKind::kSingleSlot) {
    plan.pieces[0].args.assign(1, std::string(cmd.arg_view(0)));  // unchanged, as given
    for (size_t i = 1; i < cmd.argc(); ++i) plan.pieces[0].args.emplace_back(cmd.arg_view(i));
  }
  return plan;
}

SlotPlan Whole(const resp::Command& cmd, int slot, SlotPlanKind kind) {
  SlotCommand piece{slot, {}};
  piece.args.reserve(cmd.argc());
  for (size_t i = 0; i < cmd.argc(); ++i) piece.args.emplace_back(cmd.arg_view(i));
  SlotPlan plan;
  plan.kind = kind;
  plan.pieces.push_back(std::move(piece));
  return plan;
}

// A cluster runs SORT with a BY pattern that has '*' (one that looks keys up) or a GET
// pattern other than "#" only when the pattern's keys lie in the sorted key's slot.
Result<SlotPlan> CheckSortPatterns(const resp::Command& cmd, int slot) {
  for (size_t i = 2; i + 1 < cmd.argc(); ++i) {
    if (cmd.ArgEquals(i, "limit")) {
      i += 2;
      continue;
    }
    const bool by = cmd.ArgEquals(i, "by");
    const bool get = cmd.ArgEquals(i, "get");
    if (!by && !get) {
      if (cmd.ArgEquals(i, "store")) ++i;
      continue;
    }
    std::string_view pattern = cmd.arg_view(++i);
    const bool looks_up = by ? pattern.find('*') != std::string_view::npos : pattern != "#";
    if (looks_up && net::PatternSlot(pattern) != slot) {
      return MakeError(SyncErrc::kCrossSlot,
                       "the source ran SORT of " + Printable(cmd.arg_view(1)) + " (slot " +
                           std::to_string(slot) + ") with " + (by ? "BY" : "GET") + " pattern " +
                           Printable(pattern) +
                           ", whose keys may lie in other slots; a cluster target refuses it. " +
                           "Give the pattern the sorted key's hash tag in the application "
                           "(e.g. SORT {user42}:ids BY {user42}:weight_*), or migrate to a "
                           "standalone target");
    }
  }
  return Whole(cmd, slot, SlotPlanKind::kSingleSlot);
}

}  // namespace

Result<SlotPlan> PlanBySlot(const resp::Command& cmd, const CommandTable& table) {
  if (cmd.empty()) {
    return MakeError(SyncErrc::kKeysUnknown,
                     "the source sent an empty command (no arguments), which has no keys to "
                     "route; a primary never propagates one: check that the source is a Redis "
                     "primary");
  }
  const std::string name = LowerName(cmd.arg_view(0));
  if (IsEngineHandled(name)) {
    return MakeError(SyncErrc::kNotRoutable,
                     Upper(name) +
                         " belongs to the stream engine (consumed, dropped, tracked or "
                         "regrouped per slot) and has no slot of its own; reaching the slot "
                         "planner is a keyferry defect: report it with this message");
  }
  if (IsEveryPrimary(cmd, name)) return Whole(cmd, -1, SlotPlanKind::kEveryPrimary);

  if (SplitLayout layout = SplitLayoutOf(name); layout != SplitLayout::kNone) {
    if (cmd.argc() < 2) return Malformed(name, "no key");
    if (layout == SplitLayout::kKeyValuePairs && cmd.argc() % 2 == 0) {
      return Malformed(name, "a key without its value");
    }
    return Split(cmd, name, layout);
  }

  auto keys = table.Keys(cmd);
  if (!keys) {
    return MakeError(SyncErrc::kKeysUnknown,
                     "cannot route the source's " + Upper(name) +
                         " to a cluster target: " + keys.error().message +
                         ". A cluster needs every command's keys to find its primary: "
                         "migrate to a standalone target, or stop the application from "
                         "sending this command");
  }
  if (keys->empty()) {
    if (name == "swapdb") {
      return MakeError(SyncErrc::kNotRoutable,
                       "the source ran " + cmd.ToString() +
                           ", and a cluster target has only database 0, so databases cannot "
                           "be swapped there; migrate to a standalone target, or stop the "
                           "application from using SWAPDB during the migration");
    }
    if (IsScript(name)) {
      return MakeError(SyncErrc::kNotRoutable,
                       "the source propagated " + Upper(name) +
                           " as a script with no declared key (numkeys 0), which may write "
                           "any key, so its primary cannot be told; declare the keys the "
                           "script writes in the application (numkeys), or migrate to a "
                           "standalone target");
    }
    return MakeError(SyncErrc::kNotRoutable,
                     "the source propagated " + Upper(name) +
                         ", which has no key: keyferry cannot tell whether a cluster needs it "
                         "on one primary or on all of them; migrate to a standalone target, or "
                         "stop the application from sending it during the migration");
  }

  const int slot = net::KeySlot(keys->front());
  for (auto key : *keys) {
    if (net::KeySlot(key) != slot) {
      return MakeError(SyncErrc::kCrossSlot,
                       "the source ran " + Upper(name) +
                           " on keys in several hash slots: " + NameKeys(*keys) +
                           ". A cluster target refuses it (CROSSSLOT), and it cannot be cut "
                           "per slot without changing its result. " +
                           kWhatToDo);
    }
  }
  if (name == "sort" || name == "sort_ro") return CheckSortPatterns(cmd, slot);
  return Whole(cmd, slot, SlotPlanKind::kSingleSlot);
}

}  // namespace kf::sync
