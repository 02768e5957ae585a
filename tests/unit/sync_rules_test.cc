// Sync rules: glob filters, db maps, checkpoints, stream-phase classification and keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "resp/command.h"
#include "sync/checkpoint.h"
#include "sync/key_filter.h"
#include "sync/recent_keys.h"
#include "sync/stream_command.h"
#include "sync/sync_errc.h"
#include "sync/touched_keys.h"
#include "target/applied_marker.h"

namespace kf::sync {
namespace {

TEST(GlobMatchTest, RedisSemantics) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("user:*", "user:42"));
  EXPECT_FALSE(GlobMatch("user:*", "session:42"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_FALSE(GlobMatch("h?llo", "hllo"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(GlobMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-c]llo", "hbllo"));
  EXPECT_FALSE(GlobMatch("h[a-c]llo", "hdllo"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(GlobMatch("*a*b*c*", "xxaxxcxxbxx"));
  EXPECT_TRUE(GlobMatch(std::string_view("k\0*", 3), std::string_view("k\0zz", 4)));
  // Many stars against a long non-matching text stays fast (no exponential backtracking).
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(KeyFilterTest, MatchThenExclude) {
  KeyFilter all;
  EXPECT_TRUE(all.AcceptsAll());
  EXPECT_TRUE(all.Accepts("anything"));
  KeyFilter filter({"user:*", "cart:*"}, {"user:tmp:*"});
  EXPECT_FALSE(filter.AcceptsAll());
  EXPECT_TRUE(filter.Accepts("user:1"));
  EXPECT_TRUE(filter.Accepts("cart:9"));
  EXPECT_FALSE(filter.Accepts("user:tmp:1"));
  EXPECT_FALSE(filter.Accepts("other"));
}

TEST(DbMapTest, ParsesAndRejects) {
  auto map = DbMap::Parse({"0:1", "3:5"});
  ASSERT_TRUE(map);
  EXPECT_EQ(map->Map(0), 1);
  EXPECT_EQ(map->Map(3), 5);
  EXPECT_EQ(map->Map(7), 7);
  for (std::string bad : {"0", "a:1", "0:-1", "1:2:3", ":1", "0:1x"}) {
    auto r = DbMap::Parse({bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, make_error_code(SyncErrc::kBadOption));
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
  }
  EXPECT_FALSE(DbMap::Parse({"0:1", "0:2"}));
  auto merged = DbMap::Parse({"0:5", "1:5"});  // two entries into one target db
  ASSERT_FALSE(merged);
  EXPECT_NE(merged.error().message.find("both into db 5"), std::string::npos)
      << merged.error().message;
}

TEST(DbLandingTest, RefusesTwoSourceDbsInOneTargetDb) {
  auto shift = DbMap::Parse({"0:1"});  // source db 1 is unmapped, so it lands in 1 too
  ASSERT_TRUE(shift);
  DbLanding landing(&*shift);
  auto land = [](DbLanding& l, int db) {
    auto r = l.Land(db);
    return r ? *r : -1;
  };
  EXPECT_EQ(land(landing, 0), 1);
  EXPECT_EQ(land(landing, 0), 1);  // the same source db again is fine
  EXPECT_EQ(land(landing, 2), 2);
  auto clash = landing.Land(1);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, make_error_code(SyncErrc::kBadOption));
  EXPECT_NE(clash.error().message.find("source dbs 0 and 1 would both land in target db 1"),
            std::string::npos)
      << clash.error().message;

  auto swap = DbMap::Parse({"0:1", "1:0"});
  ASSERT_TRUE(swap);
  DbLanding swapped(&*swap);
  EXPECT_EQ(land(swapped, 1), 0);
  EXPECT_EQ(land(swapped, 0), 1);
}

TEST(RecentKeysTest, KeepsTheLastDistinctKeysPerDb) {
  RecentKeys recent;
  recent.Add({{0, "a"}});
  EXPECT_EQ(recent.size(), 0u) << "capacity 0 keeps nothing";
  recent.set_capacity(3);
  recent.Add({{0, "a"}, {0, "b"}, {3, "a"}});  // db 3's "a" is another key
  EXPECT_EQ(recent.size(), 3u);
  recent.Add({{0, "a"}});  // written again: now the newest, nothing dropped
  EXPECT_EQ(recent.size(), 3u);
  recent.Add({{0, "c"}});  // over capacity: the oldest ("b") goes
  using Keys = std::vector<std::string>;
  auto by_db = recent.ByDb();
  ASSERT_EQ(by_db.size(), 2u);
  EXPECT_EQ(by_db[0], Keys({"a", "c"}));
  EXPECT_EQ(by_db[3], Keys({"a"}));
  recent.set_capacity(1);  // shrinking drops the oldest
  by_db = recent.ByDb();
  ASSERT_EQ(by_db.size(), 1u);
  EXPECT_EQ(by_db[0], Keys({"c"}));
}

TEST(CheckpointTest, SaveLoadAndRejectGarbage) {
  char dir_template[] = "/tmp/kf-checkpoint-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::string path = std::string(dir_template) + "/cp.json";
  auto missing = LoadCheckpoint(path);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(SaveCheckpoint(path, {"0123456789abcdef0123456789abcdef", "abc123", 4242, 0}));
  auto loaded = LoadCheckpoint(path);
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ((*loaded)->replid, "abc123");
  EXPECT_EQ((*loaded)->offset, 4242);
  EXPECT_GT((*loaded)->updated_ms, 0);
  std::ofstream(path) << "{\"replid\": 5}";
  auto garbage = LoadCheckpoint(path);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, make_error_code(SyncErrc::kCheckpoint));
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

TEST(StreamCommandTest, Classification) {
  using resp::Command;
  EXPECT_EQ(ClassifyStreamCommand(Command::FromArgs({"PING"})), StreamAction::kConsume);
  EXPECT_EQ(ClassifyStreamCommand(Command::FromArgs({"REPLCONF", "GETACK", "*"})),
            StreamAction::kConsume);
  EXPECT_EQ(ClassifyStreamCommand(Command::FromArgs({"publish", "ch", "m"})), StreamAction::kDrop);
  EXPECT_EQ(ClassifyStreamCommand(Command::FromArgs({"SELECT", "3"})), StreamAction::kSelect);
  for (auto name : {"SET", "MULTI", "EXEC", "FUNCTION", "FLUSHALL", "DEL", "UNLINK", "XADD"}) {
    EXPECT_EQ(ClassifyStreamCommand(Command::FromArgs({name, "k"})), StreamAction::kForward);
  }
}

TEST(StreamCommandTest, DatabaseArguments) {
  using resp::Command;
  using Positions = std::vector<size_t>;
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"MOVE", "k", "3"})), Positions({2}));
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"move", "k"})), Positions());
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"SWAPDB", "0", "1"})), Positions({1, 2}));
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"COPY", "a", "b", "DB", "4", "REPLACE"})),
            Positions({4}));
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"COPY", "a", "b", "REPLACE"})), Positions());
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"COPY", "db", "b"})), Positions());
  EXPECT_EQ(DbArgumentPositions(Command::FromArgs({"SET", "db", "3"})), Positions());
}

TEST(StreamCommandTest, BuiltInKeys) {
  using resp::Command;
  auto table = CommandTable::BuiltIn();
  auto keys = [&](std::vector<std::string> args) {
    Command cmd = Command::FromArgs(args);  // Keys() returns views into cmd
    auto r = table.Keys(cmd);
    std::vector<std::string> out;
    if (r) {
      for (auto k : *r) out.emplace_back(k);
    } else {
      out.push_back("ERROR");
    }
    return out;
  };
  EXPECT_EQ(keys({"SET", "a", "1"}), std::vector<std::string>({"a"}));
  EXPECT_EQ(keys({"DEL", "a", "b", "c"}), std::vector<std::string>({"a", "b", "c"}));
  EXPECT_EQ(keys({"MSET", "a", "1", "b", "2"}), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(keys({"RENAME", "a", "b"}), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(keys({"ZUNIONSTORE", "d", "2", "x", "y", "WEIGHTS", "1", "2"}),
            std::vector<std::string>({"d", "x", "y"}));
  EXPECT_EQ(keys({"ZUNIONSTORE", "d", "9", "x"}), std::vector<std::string>({"ERROR"}));
  EXPECT_EQ(keys({"MULTI"}), std::vector<std::string>());
  EXPECT_EQ(keys({"NOSUCHCOMMAND", "x"}), std::vector<std::string>({"ERROR"}));
}

TEST(StreamCommandTest, StreamGroupKeys) {
  using resp::Command;
  auto keys = [](std::vector<std::string> args) {
    Command cmd = Command::FromArgs(args);
    std::vector<std::string> out;
    for (auto k : StreamGroupKeys(cmd)) out.emplace_back(k);
    return out;
  };
  using Keys = std::vector<std::string>;
  // The forms a primary propagates for XREADGROUP / XCLAIM / XAUTOCLAIM / NOACK reads.
  EXPECT_EQ(keys({"XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "1", "RETRYCOUNT", "1", "FORCE",
                  "JUSTID", "LASTID", "1-1"}),
            Keys({"s"}));
  EXPECT_EQ(keys({"xautoclaim", "s2", "g", "c", "0", "0"}), Keys({"s2"}));
  EXPECT_EQ(keys({"XGROUP", "SETID", "s3", "g", "2-1", "ENTRIESREAD", "2"}), Keys({"s3"}));
  EXPECT_EQ(keys({"XGROUP", "CREATE", "s4", "g", "$"}), Keys({"s4"}));
  EXPECT_EQ(
      keys({"XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "NOACK", "STREAMS", "a", "b", ">", ">"}),
      Keys({"a", "b"}));
  // Nothing for commands that leave entries-read alone (or are malformed).
  EXPECT_EQ(keys({"XADD", "s", "*", "f", "v"}), Keys());
  EXPECT_EQ(keys({"XACK", "s", "g", "1-1"}), Keys());
  EXPECT_EQ(keys({"SET", "xclaim", "v"}), Keys());
  EXPECT_EQ(keys({"XGROUP", "HELP"}), Keys());
  EXPECT_EQ(keys({"XCLAIM"}), Keys());
}

TEST(StreamCommandTest, AbsoluteExpiryOf) {
  using resp::Command;
  auto expiry = [](std::vector<std::string> args) -> std::string {
    Command cmd = Command::FromArgs(args);
    auto e = AbsoluteExpiryOf(cmd);
    return e ? std::string(e->key) + "@" + std::to_string(e->at_ms) : "none";
  };
  // The forms Redis 7.0 propagates (measured with a replica link: SET ... PX/EX/SETEX/
  // PSETEX become PXAT, EXPIRE/PEXPIRE/GETEX become PEXPIREAT).
  EXPECT_EQ(expiry({"SET", "a", "v", "PXAT", "1795775575837"}), "a@1795775575837");
  EXPECT_EQ(expiry({"set", "a", "v", "exat", "100"}), "a@100000");
  EXPECT_EQ(expiry({"PEXPIREAT", "e", "1795775674875"}), "e@1795775674875");
  EXPECT_EQ(expiry({"EXPIREAT", "e", "7"}), "e@7000");
  EXPECT_EQ(expiry({"GETEX", "g", "PXAT", "5"}), "g@5");
  EXPECT_EQ(expiry({"RESTORE", "r", "1795775674875", "payload", "REPLACE", "ABSTTL"}),
            "r@1795775674875");
  // No absolute expiry: nothing.
  EXPECT_EQ(expiry({"SET", "a", "v"}), "none");
  EXPECT_EQ(expiry({"SET", "a", "v", "KEEPTTL"}), "none");
  EXPECT_EQ(expiry({"SET", "pxat", "pxat"}), "none");  // key and value named like options
  EXPECT_EQ(expiry({"RESTORE", "r", "0", "payload", "ABSTTL"}), "none");
  EXPECT_EQ(expiry({"RESTORE", "r", "100", "payload"}), "none");  // relative TTL
  EXPECT_EQ(expiry({"PEXPIRE", "e", "100"}), "none");
  EXPECT_EQ(expiry({"PEXPIREAT", "e", "soon"}), "none");
  EXPECT_EQ(expiry({"EXPIREAT", "e", "99999999999999999"}), "none");  // overflows in ms
  EXPECT_EQ(expiry({"PEXPIREAT"}), "none");
}

TEST(TouchedKeysTest, KeepsUpToTheCapacityAndSaysWhenFull) {
  TouchedKeys keys;
  keys.Add({{0, "a"}});
  EXPECT_EQ(keys.size(), 0u);  // capacity 0 keeps nothing
  EXPECT_FALSE(keys.overflowed());
  keys.set_capacity(2);
  keys.Add({{0, "a"}, {1, "a"}, {0, "a"}});
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_FALSE(keys.overflowed());
  keys.Add({{0, "a"}});  // already there: no overflow
  EXPECT_FALSE(keys.overflowed());
  keys.Add({{2, "b"}});
  EXPECT_TRUE(keys.overflowed());
  auto by_db = keys.ByDb();
  ASSERT_EQ(by_db.size(), 2u);
  EXPECT_EQ(by_db[0], std::vector<std::string>({"a"}));
  EXPECT_EQ(by_db[1], std::vector<std::string>({"a"}));
}

TEST(AppliedMarkerTest, RoundTripsAndRefusesAnythingElse) {
  using target::AppliedMarker;
  using target::MarkerState;
  const std::string id = target::NewMigrationId();
  ASSERT_EQ(id.size(), 32u);
  EXPECT_NE(id, target::NewMigrationId());
  const std::string replid(40, 'a');
  for (auto state : {MarkerState::kSnapshot, MarkerState::kStream}) {
    AppliedMarker m{id, state, replid, 123456789012, 7};
    auto back = target::ParseMarker(target::EncodeMarker(m));
    ASSERT_TRUE(back.has_value()) << target::EncodeMarker(m);
    EXPECT_EQ(*back, m);
  }
  AppliedMarker fresh{id, MarkerState::kSnapshot, replid, -1, 0};
  EXPECT_TRUE(target::ParseMarker(target::EncodeMarker(fresh)).has_value());
  const std::string good = target::EncodeMarker({id, MarkerState::kStream, replid, 5, 0});
  EXPECT_EQ(good, "keyferry-marker 1 " + id + " stream " + replid + " 5 0");
  for (const std::string& bad : {std::string(""), std::string("hello"), good + " ", good.substr(1),
                                 "keyferry-marker 2 " + id + " stream " + replid + " 5 0",
                                 "keyferry-marker 1 " + id.substr(1) + " stream " + replid + " 5 0",
                                 "keyferry-marker 1 " + id + " done " + replid + " 5 0",
                                 "keyferry-marker 1 " + id + " stream " + replid + "a 5 0",
                                 "keyferry-marker 1 " + id + " stream " + replid + " -2 0",
                                 "keyferry-marker 1 " + id + " stream " + replid + " 5 -1",
                                 "keyferry-marker 1 " + id + " stream " + replid + " 5x 0",
                                 "keyferry-marker 1 " + id + " stream " + replid + " 5 0 extra"}) {
    EXPECT_FALSE(target::ParseMarker(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace kf::sync
