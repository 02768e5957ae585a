// PlanBySlot (src/sync/slot_split.h) and the CommandTable key finding it stands on. Every
// rule runs against both tables sync can have: BuiltIn() and the table built from the
// COMMAND reply of a real redis-server 7.0.15 (tests/data/command/). Slots are checked
// against net::KeySlot, whose values the cluster-slots tests hold from CLUSTER KEYSLOT.
#include "sync/slot_split.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "net/cluster_slots.h"
#include "resp/reply_parser.h"
#include "sync/stream_command.h"
#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

using Args = std::vector<std::string>;

CommandTable Redis70Table() {
  std::ifstream in(std::string(KF_TEST_DATA_DIR) + "/command/redis70_command_resp2.bin",
                   std::ios::binary);
  EXPECT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  resp::ReplyParser parser;
  auto out = parser.Feed(AsBytes(std::string_view(bytes)));
  EXPECT_TRUE(out.complete());
  EXPECT_EQ(out.consumed, bytes.size());
  return CommandTable::FromCommandReply(parser.TakeReply());
}

struct NamedTable {
  std::string name;
  CommandTable table;
};

const std::vector<NamedTable>& Tables() {
  static const std::vector<NamedTable> tables = {{"built-in", CommandTable::BuiltIn()},
                                                 {"redis 7.0 COMMAND", Redis70Table()}};
  return tables;
}

Result<SlotPlan> Plan(const CommandTable& table, const Args& args) {
  resp::Command cmd = resp::Command::FromArgs(args);
  return PlanBySlot(cmd, table);
}

// Keys() as owned strings, or {"ERROR"}.
Args KeysOf(const CommandTable& table, const Args& args) {
  resp::Command cmd = resp::Command::FromArgs(args);
  auto keys = table.Keys(cmd);
  if (!keys) return {"ERROR"};
  return Args(keys->begin(), keys->end());
}

int Slot(const std::string& key) { return net::KeySlot(key); }

// "kind slot:args | slot:args" for compact comparisons; the error's code name otherwise.
std::string Render(const Result<SlotPlan>& plan) {
  if (!plan) return "error " + plan.error().code.message();
  std::string out;
  switch (plan->kind) {
    case SlotPlanKind::kSingleSlot:
      out = "single";
      break;
    case SlotPlanKind::kSplit:
      out = "split";
      break;
    case SlotPlanKind::kEveryPrimary:
      out = "every";
      break;
  }
  for (size_t i = 0; i < plan->pieces.size(); ++i) {
    out += i == 0 ? " " : " | ";
    out += std::to_string(plan->pieces[i].slot) + ":";
    for (const auto& a : plan->pieces[i].args) out += " " + a;
  }
  return out;
}

std::string Single(const std::string& key, const std::string& args) {
  return "single " + std::to_string(Slot(key)) + ": " + args;
}

TEST(SlotSplitTest, TheTestKeysLieInDistinctSlots) {
  // The tests rely on these slots being pairwise different (values from CLUSTER KEYSLOT).
  EXPECT_EQ(Slot("a"), 15495);
  EXPECT_EQ(Slot("b"), 3300);
  EXPECT_EQ(Slot("c"), 7365);
  EXPECT_EQ(Slot("{a}x"), Slot("a"));
  EXPECT_EQ(Tables()[1].table.size(), 240u);  // redis 7.0.15 has 240 top-level commands
}

TEST(SlotSplitTest, OneSlotIsSentUnchanged) {
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Render(Plan(table, {"SET", "a", "1"})), Single("a", "SET a 1"));
    EXPECT_EQ(Render(Plan(table, {"set", "b", "v", "PXAT", "1795791013124"})),
              Single("b", "set b v PXAT 1795791013124"));
    // Hash tags put different keys in one slot: multi-key commands pass unchanged.
    EXPECT_EQ(Render(Plan(table, {"RENAME", "{u1}.a", "{u1}.b"})),
              Single("u1", "RENAME {u1}.a {u1}.b"));
    EXPECT_EQ(Render(Plan(table, {"SUNIONSTORE", "{t}d", "{t}x", "{t}y"})),
              Single("t", "SUNIONSTORE {t}d {t}x {t}y"));
    EXPECT_EQ(
        Render(Plan(table, {"ZUNIONSTORE", "{t}d", "2", "{t}x", "{t}y", "WEIGHTS", "1", "2"})),
        Single("t", "ZUNIONSTORE {t}d 2 {t}x {t}y WEIGHTS 1 2"));
    EXPECT_EQ(Render(Plan(table, {"BITOP", "OR", "{t}d", "{t}x"})),
              Single("t", "BITOP OR {t}d {t}x"));
    // MSETNX in one slot stays MSETNX (the brief's "unchanged"); MSET too.
    EXPECT_EQ(Render(Plan(table, {"MSETNX", "{u}a", "1", "{u}b", "2"})),
              Single("u", "MSETNX {u}a 1 {u}b 2"));
    EXPECT_EQ(Render(Plan(table, {"MSET", "a", "1", "{a}x", "2"})), Single("a", "MSET a 1 {a}x 2"));
    EXPECT_EQ(Render(Plan(table, {"DEL", "a", "a"})), Single("a", "DEL a a"));
    // Single-key forms a primary propagates in place of others (measured on 7.0.15).
    EXPECT_EQ(Render(Plan(table, {"XCLAIM", "st", "grp", "c1", "0", "1-1", "TIME", "1",
                                  "RETRYCOUNT", "1", "FORCE", "JUSTID", "LASTID", "1-1"})),
              Single("st", "XCLAIM st grp c1 0 1-1 TIME 1 RETRYCOUNT 1 FORCE JUSTID LASTID 1-1"));
    EXPECT_EQ(Render(Plan(table, {"XGROUP", "CREATE", "st", "grp", "0"})),
              Single("st", "XGROUP CREATE st grp 0"));
  }
}

TEST(SlotSplitTest, SplitsWhatGivesTheSameResultPerSlot) {
  const std::string sa = std::to_string(Slot("a"));
  const std::string sb = std::to_string(Slot("b"));
  const std::string sc = std::to_string(Slot("c"));
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    // Slots in order of first appearance, keys (with values) in their original order.
    EXPECT_EQ(
        Render(Plan(table, {"MSET", "b", "1", "a", "2", "{a}x", "3", "c", "4", "b", "5"})),
        "split " + sb + ": MSET b 1 b 5 | " + sa + ": MSET a 2 {a}x 3 | " + sc + ": MSET c 4");
    // MSETNX reached the stream only because it set every key: MSET per slot.
    EXPECT_EQ(Render(Plan(table, {"MSETNX", "a", "1", "b", "2"})),
              "split " + sa + ": MSET a 1 | " + sb + ": MSET b 2");
    // The name is kept as the source spelled it.
    EXPECT_EQ(Render(Plan(table, {"del", "a", "b", "{a}y"})),
              "split " + sa + ": del a {a}y | " + sb + ": del b");
    EXPECT_EQ(Render(Plan(table, {"UNLINK", "c", "a", "c"})),
              "split " + sc + ": UNLINK c c | " + sa + ": UNLINK a");
    EXPECT_EQ(Render(Plan(table, {"TOUCH", "a", "b"})),
              "split " + sa + ": TOUCH a | " + sb + ": TOUCH b");
    EXPECT_EQ(Render(Plan(table, {"EXISTS", "a", "b"})),
              "split " + sa + ": EXISTS a | " + sb + ": EXISTS b");
    EXPECT_EQ(Render(Plan(table, {"MGET", "b", "a"})),
              "split " + sb + ": MGET b | " + sa + ": MGET a");
  }
}

TEST(SlotSplitTest, RefusesOtherCrossSlotCommands) {
  const std::vector<Args> refused = {
      {"RENAME", "a", "b"},
      {"RENAMENX", "a", "b"},
      {"SMOVE", "a", "b", "m"},
      {"LMOVE", "a", "b", "LEFT", "RIGHT"},
      {"RPOPLPUSH", "a", "b"},
      {"BLMOVE", "a", "b", "LEFT", "RIGHT", "0"},
      {"BRPOPLPUSH", "a", "b", "0"},
      {"SUNIONSTORE", "a", "b", "c"},
      {"SINTERSTORE", "a", "b"},
      {"SDIFFSTORE", "a", "b"},
      {"ZUNIONSTORE", "a", "2", "b", "c", "AGGREGATE", "MAX"},
      {"ZINTERSTORE", "a", "1", "b"},
      {"ZDIFFSTORE", "a", "1", "b"},
      {"ZRANGESTORE", "a", "b", "0", "-1"},
      {"COPY", "a", "b", "REPLACE"},
      {"BITOP", "AND", "a", "b", "c"},
      {"PFMERGE", "a", "b"},
      {"GEORADIUS", "a", "15", "37", "200", "km", "STORE", "b"},
      {"GEORADIUSBYMEMBER", "a", "m", "200", "km", "STOREDIST", "b"},
      {"GEOSEARCHSTORE", "a", "b", "FROMMEMBER", "m", "BYRADIUS", "1", "km"},
      {"SORT", "a", "STORE", "b"},
      {"SORT", "a", "LIMIT", "0", "5", "BY", "nosort", "GET", "#", "STORE", "b"},
      {"EVAL", "return 1", "2", "a", "b", "x"},
      {"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff831", "2", "a", "b"},
      {"FCALL", "f", "2", "a", "b"},
      {"LMPOP", "2", "a", "b", "LEFT"},
      {"BLPOP", "a", "b", "0"},
      {"PFCOUNT", "a", "b"},
  };
  for (const auto& [name, table] : Tables()) {
    for (const auto& args : refused) {
      SCOPED_TRACE(name + ": " + args[0]);
      auto plan = Plan(table, args);
      ASSERT_FALSE(plan) << Render(plan);
      EXPECT_EQ(plan.error().code, make_error_code(SyncErrc::kCrossSlot));
      const std::string& m = plan.error().message;
      // Names the command, its first keys with their slots, and what to do.
      EXPECT_NE(m.find(args[0]), std::string::npos) << m;
      EXPECT_NE(m.find("a (slot 15495)"), std::string::npos) << m;
      EXPECT_NE(m.find("b (slot 3300)"), std::string::npos) << m;
      EXPECT_NE(m.find("hash tag"), std::string::npos) << m;
      EXPECT_NE(m.find("standalone target"), std::string::npos) << m;
    }
  }
}

TEST(SlotSplitTest, RefusalNamesThreeKeysAndCountsTheRest) {
  auto plan = Plan(CommandTable::BuiltIn(), {"SUNIONSTORE", "a", "b", "c", "d", "e"});
  ASSERT_FALSE(plan);
  const std::string& m = plan.error().message;
  EXPECT_NE(m.find("SUNIONSTORE on keys in several hash slots: a (slot 15495), b (slot 3300), "
                   "c (slot 7365) and 2 more keys."),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find(" d "), std::string::npos) << m;
}

TEST(SlotSplitTest, ScriptsArePlannedByTheirDeclaredKeys) {
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Render(Plan(table,
                          {"EVAL", "redis.call('set',KEYS[1],ARGV[1])", "2", "{t}a", "{t}b", "v"})),
              Single("t", "EVAL redis.call('set',KEYS[1],ARGV[1]) 2 {t}a {t}b v"));
    // Arguments after the keys are not keys, whatever their slot.
    EXPECT_EQ(Render(Plan(table, {"EVALSHA", "sha", "1", "a", "b", "c"})),
              Single("a", "EVALSHA sha 1 a b c"));
    EXPECT_EQ(Render(Plan(table, {"FCALL", "f", "1", "fk", "x"})), Single("fk", "FCALL f 1 fk x"));
    // No declared key: the script may write anything, so no primary can be chosen.
    auto none = Plan(table, {"EVAL", "redis.call('incr','k2')", "0"});
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, make_error_code(SyncErrc::kNotRoutable));
    EXPECT_NE(none.error().message.find("numkeys 0"), std::string::npos);
    EXPECT_NE(none.error().message.find("EVAL"), std::string::npos);
  }
}

TEST(SlotSplitTest, NumkeysLiesAreErrorsNotCrashes) {
  const std::vector<Args> lies = {
      {"EVAL", "s", "3", "a", "b"},
      {"EVAL", "s", "-1", "a"},
      {"EVAL", "s", "one", "a"},
      {"EVAL", "s", "99999999999999999999", "a"},
      {"EVAL", "s", "18446744073709551615", "a"},
      {"EVAL", "s"},
      {"FCALL", "f", "2", "a"},
      {"ZUNIONSTORE", "d", "9", "x"},
      {"ZUNIONSTORE", "d"},
      {"ZINTERSTORE", "d", "2"},
      {"ZDIFFSTORE", "d", "1 ", "x"},
      {"LMPOP", "5", "a", "LEFT"},
      {"BLMPOP", "0", "4", "a", "b", "LEFT"},
      {"BZMPOP", "0"},
      {"SINTERCARD", "3", "a", "b"},
      {"XREAD", "COUNT", "1", "STREAMS", "a", "b", "0"},
      {"XREAD", "COUNT", "1"},
      {"XREADGROUP", "GROUP", "g", "c", "STREAMS"},
  };
  for (const auto& [name, table] : Tables()) {
    for (const auto& args : lies) {
      SCOPED_TRACE(name + ": " + resp::Command::FromArgs(args).ToString());
      auto plan = Plan(table, args);
      ASSERT_FALSE(plan) << Render(plan);
      EXPECT_EQ(plan.error().code, make_error_code(SyncErrc::kKeysUnknown));
      EXPECT_NE(plan.error().message.find("cannot route the source's " + args[0]),
                std::string::npos)
          << plan.error().message;
      EXPECT_NE(plan.error().message.find("standalone target"), std::string::npos);
    }
  }
}

TEST(SlotSplitTest, EmptyAndMalformedCommands) {
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    for (const Args& args : std::vector<Args>{{},
                                              {"MSET"},
                                              {"MSET", "a"},
                                              {"MSETNX", "a", "1", "b"},
                                              {"DEL"},
                                              {"UNLINK"},
                                              {"SET"},
                                              {"RENAME"},
                                              {"NOSUCHCOMMAND", "a"},
                                              {"XREADGROUP", "GROUP", "streams", "c", "x"}}) {
      auto plan = Plan(table, args);
      ASSERT_FALSE(plan) << Render(plan);
      EXPECT_EQ(plan.error().code, make_error_code(SyncErrc::kKeysUnknown)) << Render(plan);
      EXPECT_FALSE(plan.error().message.empty());
    }
  }
  auto empty = Plan(CommandTable::BuiltIn(), {});
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("empty command"), std::string::npos);
  auto pair = Plan(CommandTable::BuiltIn(), {"MSETNX", "a", "1", "b"});
  ASSERT_FALSE(pair);
  EXPECT_NE(pair.error().message.find("malformed MSETNX (a key without its value)"),
            std::string::npos)
      << pair.error().message;
  auto unknown = Plan(CommandTable::BuiltIn(), {"NOSUCHCOMMAND", "a"});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("NOSUCHCOMMAND"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("does not know it"), std::string::npos);
}

TEST(SlotSplitTest, KeylessCommands) {
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    // The ones that change every node go to every primary, unchanged.
    for (const Args& args : std::vector<Args>{{"FLUSHALL"},
                                              {"flushdb", "ASYNC"},
                                              {"FUNCTION", "LOAD",
                                               "#!lua name=lib\nredis.register_function('f', "
                                               "function(k, a) return 1 end)"},
                                              {"FUNCTION", "DELETE", "lib"},
                                              {"function", "flush"},
                                              {"FUNCTION", "RESTORE", "payload", "REPLACE"},
                                              {"SCRIPT", "LOAD", "return 1"},
                                              {"SCRIPT", "FLUSH"}}) {
      auto plan = Plan(table, args);
      ASSERT_TRUE(plan) << plan.error().message;
      EXPECT_EQ(plan->kind, SlotPlanKind::kEveryPrimary);
      ASSERT_EQ(plan->pieces.size(), 1u);
      EXPECT_EQ(plan->pieces[0].slot, -1);
      EXPECT_EQ(plan->pieces[0].args, args);
    }
    // No keyless command goes to "any one primary": the rest are refused.
    for (const Args& args : std::vector<Args>{{"SWAPDB", "0", "1"},
                                              {"FUNCTION", "KILL"},
                                              {"SCRIPT", "KILL"},
                                              {"MULTI"},
                                              {"EXEC"},
                                              {"SELECT", "1"},
                                              {"PING"},
                                              {"REPLCONF", "GETACK", "*"},
                                              {"PUBLISH", "ch", "m"}}) {
      auto plan = Plan(table, args);
      ASSERT_FALSE(plan) << Render(plan);
      EXPECT_EQ(plan.error().code, make_error_code(SyncErrc::kNotRoutable)) << args[0];
      EXPECT_NE(plan.error().message.find(args[0]), std::string::npos) << plan.error().message;
    }
  }
  auto swap = Plan(CommandTable::BuiltIn(), {"SWAPDB", "0", "1"});
  ASSERT_FALSE(swap);
  EXPECT_NE(swap.error().message.find("only database 0"), std::string::npos);
}

TEST(SlotSplitTest, SortPatternsMustStayInTheSortedKeysSlot) {
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    // Patterns under the key's tag, BY without '*' (no lookup), GET #: one slot.
    EXPECT_EQ(Render(Plan(table, {"SORT", "{u}ids", "BY", "{u}w_*", "GET", "{u}n_*", "GET", "#",
                                  "STORE", "{u}out"})),
              Single("u", "SORT {u}ids BY {u}w_* GET {u}n_* GET # STORE {u}out"));
    EXPECT_EQ(Render(Plan(table, {"SORT", "a", "BY", "nosort", "STORE", "{a}o"})),
              Single("a", "SORT a BY nosort STORE {a}o"));
    // A pattern named "store" is a pattern, not the STORE option.
    EXPECT_EQ(Render(Plan(table, {"SORT", "a", "BY", "store", "LIMIT", "0", "1"})),
              Single("a", "SORT a BY store LIMIT 0 1"));
    for (const Args& args : std::vector<Args>{{"SORT", "{u}ids", "BY", "w_*", "STORE", "{u}out"},
                                              {"SORT", "{u}ids", "GET", "{v}n_*"},
                                              {"SORT", "{u}ids", "GET", "fixed"},
                                              {"SORT", "{u}ids", "BY", "*{u}"},
                                              {"SORT_RO", "{u}ids", "GET", "n_*"}}) {
      auto plan = Plan(table, args);
      ASSERT_FALSE(plan) << Render(plan);
      EXPECT_EQ(plan.error().code, make_error_code(SyncErrc::kCrossSlot));
      EXPECT_NE(plan.error().message.find("pattern " + args[3]), std::string::npos)
          << plan.error().message;
      EXPECT_NE(plan.error().message.find("{u}ids (slot " + std::to_string(Slot("u")) + ")"),
                std::string::npos)
          << plan.error().message;
    }
  }
}

TEST(SlotSplitTest, EngineHandledCommandsSayTheyAreADefect) {
  auto plan = Plan(CommandTable::BuiltIn(), {"MULTI"});
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("keyferry defect"), std::string::npos);
}

// CommandTable::Keys for the movable-key commands, with both tables.
TEST(CommandTableKeysTest, MovableKeys) {
  for (const auto& [name, table] : Tables()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(KeysOf(table, {"EVAL", "s", "2", "k1", "k2", "arg"}), Args({"k1", "k2"}));
    EXPECT_EQ(KeysOf(table, {"EVAL", "s", "0", "arg"}), Args());
    EXPECT_EQ(KeysOf(table, {"evalsha_ro", "sha", "1", "k"}), Args({"k"}));
    EXPECT_EQ(KeysOf(table, {"FCALL", "f", "1", "k", "a"}), Args({"k"}));
    EXPECT_EQ(KeysOf(table, {"FCALL_RO", "f", "0"}), Args());
    EXPECT_EQ(KeysOf(table, {"ZUNIONSTORE", "d", "2", "x", "y", "WEIGHTS", "1", "2"}),
              Args({"d", "x", "y"}));
    EXPECT_EQ(KeysOf(table, {"ZDIFF", "2", "x", "y", "WITHSCORES"}), Args({"x", "y"}));
    EXPECT_EQ(KeysOf(table, {"SINTERCARD", "2", "x", "y", "LIMIT", "1"}), Args({"x", "y"}));
    EXPECT_EQ(KeysOf(table, {"LMPOP", "2", "x", "y", "LEFT", "COUNT", "2"}), Args({"x", "y"}));
    EXPECT_EQ(KeysOf(table, {"BZMPOP", "0.5", "1", "z", "MIN"}), Args({"z"}));
    EXPECT_EQ(KeysOf(table, {"SORT", "k", "LIMIT", "0", "10", "GET", "store", "STORE", "d1",
                             "STORE", "d2"}),
              Args({"k", "d2"}));
    EXPECT_EQ(KeysOf(table, {"SORT", "k", "STORE"}), Args({"k"}));
    EXPECT_EQ(KeysOf(table, {"XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s1", "s2", "0", "$"}),
              Args({"s1", "s2"}));
    // A group, consumer or count named "streams" is not the keyword.
    EXPECT_EQ(
        KeysOf(table, {"XREADGROUP", "GROUP", "streams", "streams", "NOACK", "STREAMS", "k", ">"}),
        Args({"k"}));
    EXPECT_EQ(KeysOf(table,
                     {"GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d1", "STOREDIST", "d2"}),
              Args({"g", "d2"}));
    EXPECT_EQ(KeysOf(table, {"GEORADIUSBYMEMBER", "g", "m", "1", "km", "WITHDIST"}), Args({"g"}));
    EXPECT_EQ(
        KeysOf(table, {"MIGRATE", "h", "1", "", "0", "10", "AUTH", "keys", "KEYS", "k1", "k2"}),
        Args({"k1", "k2"}));
    EXPECT_EQ(KeysOf(table, {"MIGRATE", "h", "1", "k", "0", "10", "REPLACE"}), Args({"k"}));
    EXPECT_EQ(KeysOf(table, {"XGROUP", "SETID", "s", "g", "0"}), Args({"s"}));
    EXPECT_EQ(KeysOf(table, {"XGROUP", "HELP"}), Args());
    // Fixed positions.
    EXPECT_EQ(KeysOf(table, {"PFMERGE", "d", "x", "y"}), Args({"d", "x", "y"}));
    EXPECT_EQ(KeysOf(table, {"BITOP", "AND", "d", "x", "y"}), Args({"d", "x", "y"}));
    EXPECT_EQ(KeysOf(table, {"BLPOP", "x", "y", "0"}), Args({"x", "y"}));
    EXPECT_EQ(KeysOf(table, {"GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m"}), Args({"d", "s"}));
    EXPECT_EQ(KeysOf(table, {"SET"}), Args({"ERROR"}));
  }
}

}  // namespace
}  // namespace kf::sync
