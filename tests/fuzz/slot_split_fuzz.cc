// libFuzzer target for PlanBySlot (src/sync/slot_split.h). The input is a command: the
// first byte picks its name from a list of the commands with interesting key layouts (or,
// past the list, the first argument is taken as the name), the rest is the arguments,
// separated by '\n'. Whatever PlanBySlot decides must keep its promises:
// - an error has a sync code and a sentence;
// - kSingleSlot and kEveryPrimary send the command unchanged; every key of a single-slot
//   command hashes to its slot; an every-primary piece has slot -1 and no key;
// - kSplit has two or more pieces with distinct slots; every key of a piece hashes to the
//   piece's slot; each piece holds, in their original order, exactly the original keys of
//   its slot, so the pieces together hold exactly the original keys; values travel with
//   their keys (no argument is lost or made up).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/cluster_slots.h"
#include "resp/command.h"
#include "sync/slot_split.h"
#include "sync/stream_command.h"
#include "sync/sync_errc.h"

namespace {

using kf::sync::CommandTable;
using kf::sync::SlotPlanKind;

const char* const kNames[] = {"MSET",        "MSETNX",      "DEL",         "UNLINK",
                              "TOUCH",       "EXISTS",      "MGET",        "SET",
                              "RENAME",      "SMOVE",       "SUNIONSTORE", "ZUNIONSTORE",
                              "ZINTERSTORE", "EVAL",        "EVALSHA",     "FCALL",
                              "SORT",        "SORT_RO",     "XREAD",       "XREADGROUP",
                              "GEORADIUS",   "BITOP",       "LMPOP",       "BLMPOP",
                              "MIGRATE",     "XGROUP",      "FUNCTION",    "SCRIPT",
                              "FLUSHALL",    "SWAPDB",      "BLPOP",       "GEORADIUSBYMEMBER",
                              "SINTERCARD",  "ZRANGESTORE", "MULTI",       "PFMERGE"};
constexpr size_t kNameCount = sizeof(kNames) / sizeof(kNames[0]);

std::vector<std::string> KeysOf(const CommandTable& table, const std::vector<std::string>& args) {
  kf::resp::Command cmd = kf::resp::Command::FromArgs(args);
  auto keys = table.Keys(cmd);
  if (!keys) std::abort();  // a planned command's keys (or a piece's) must be known
  return std::vector<std::string>(keys->begin(), keys->end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const CommandTable table = CommandTable::BuiltIn();
  std::vector<std::string> args;
  if (data[0] < kNameCount) args.emplace_back(kNames[data[0]]);
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!rest.empty() || args.empty()) {
    size_t start = 0;
    while (true) {
      size_t end = rest.find('\n', start);
      args.emplace_back(rest.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  }
  if (args.size() > 512) return 0;

  kf::resp::Command cmd = kf::resp::Command::FromArgs(args);
  auto plan = kf::sync::PlanBySlot(cmd, table);
  if (!plan) {
    if (plan.error().code.category() != kf::sync::SyncCategory()) std::abort();
    if (!plan.error().code || plan.error().message.empty()) std::abort();
    return 0;
  }
  const auto& pieces = plan->pieces;
  if (pieces.empty()) std::abort();
  for (const auto& piece : pieces) {
    if (piece.args.empty()) std::abort();
    if (piece.slot < -1 || piece.slot >= kf::net::kClusterSlotCount) std::abort();
  }
  switch (plan->kind) {
    case SlotPlanKind::kEveryPrimary:
      if (pieces.size() != 1 || pieces[0].slot != -1 || pieces[0].args != args) std::abort();
      if (!KeysOf(table, args).empty()) std::abort();
      return 0;
    case SlotPlanKind::kSingleSlot: {
      if (pieces.size() != 1 || pieces[0].slot < 0 || pieces[0].args != args) std::abort();
      auto keys = KeysOf(table, args);
      if (keys.empty()) std::abort();
      for (const auto& k : keys) {
        if (kf::net::KeySlot(k) != pieces[0].slot) std::abort();
      }
      return 0;
    }
    case SlotPlanKind::kSplit:
      break;
  }
  if (pieces.size() < 2) std::abort();
  const auto original_keys = KeysOf(table, args);
  size_t keys_in_pieces = 0;
  size_t args_in_pieces = 0;
  for (size_t p = 0; p < pieces.size(); ++p) {
    for (size_t q = 0; q < p; ++q) {
      if (pieces[q].slot == pieces[p].slot) std::abort();  // one piece per slot
    }
    // The original keys of this slot, in their order: exactly the piece's keys.
    std::vector<std::string> expected;
    for (const auto& k : original_keys) {
      if (kf::net::KeySlot(k) == pieces[p].slot) expected.push_back(k);
    }
    auto keys = KeysOf(table, pieces[p].args);
    if (keys != expected || keys.empty()) std::abort();
    // Splittable commands are keys, or key-value pairs, after the name: each piece's
    // arguments are the original groups of its slot, in order (values stay with keys).
    const size_t width = (args.size() - 1) / original_keys.size();
    if (width * original_keys.size() != args.size() - 1) std::abort();
    std::vector<std::string> groups;
    for (size_t i = 1; i < args.size(); i += width) {
      if (kf::net::KeySlot(args[i]) != pieces[p].slot) continue;
      groups.insert(groups.end(), args.begin() + static_cast<std::ptrdiff_t>(i),
                    args.begin() + static_cast<std::ptrdiff_t>(i + width));
    }
    if (std::vector<std::string>(pieces[p].args.begin() + 1, pieces[p].args.end()) != groups) {
      std::abort();
    }
    keys_in_pieces += keys.size();
    args_in_pieces += pieces[p].args.size() - 1;
    // MSETNX pieces are MSET; every other command keeps its name as sent.
    const bool msetnx = cmd.ArgEquals(0, "msetnx");
    if (msetnx ? pieces[p].args[0] != "MSET" : pieces[p].args[0] != args[0]) std::abort();
  }
  if (keys_in_pieces != original_keys.size()) std::abort();
  if (args_in_pieces != args.size() - 1) std::abort();
  return 0;
}
