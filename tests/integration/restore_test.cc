// keyferry restore (issue #12 §3, "Backup files"): an RDB backup loaded into Valkey 8.0 by
// the CLI, compared with what the file holds.
//  1. every shared fixture (Redis 6.2 to 8.0 and Valkey 8.0/8.1 files, RDB 9 to 12): the
//     target read back key by key (DUMP decoded, PEXPIRETIME) prints exactly the fixture's
//     canonical .jsonl, the library is loaded, and the summary counts every key;
//  2. a truncated file (cut in the header, in a value, before the EOF record) and a file
//     with a flipped byte: exit 2, the message says truncated / checksum, and the target is
//     left as it was — empty, no marker;
//  3. standard input (`cat FILE | keyferry restore -`), then a second restore into the
//     now full target: refused, nothing changed;
//  4. a cluster target: a file saved by a Redis 7.0 holding every type is restored into a
//     3-primary Valkey cluster and compares equal with that Redis; a file with several
//     dbs is refused there, naming --db-map, and the cluster is left empty.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../unit/rdb_test_util.h"
#include "common/clock.h"
#include "harness/cluster_process.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"
#include "rdb/canonical.h"
#include "rdb/reader.h"
#include "resp/reply.h"
#include "source/rdb_file_input.h"
#include "verify/rdb_file_compare.h"

namespace kf::test {
namespace {

using rdb::testing::FixturePath;
using rdb::testing::FixtureStems;
using rdb::testing::ReadFileBytes;
using rdb::testing::SplitLines;
using std::chrono::seconds;

// Every key of every db of `server`, as canonical .jsonl lines in (db, key) order. An RDB 9
// file's streams lack the v2 fields; Valkey derives them on RESTORE as on load, and the
// fixture lines leave them out, so `rdb9_streams` prints them without.
std::vector<std::string> ReadBackLines(const ServerProcess& server, bool rdb9_streams) {
  net::Client client;
  EXPECT_TRUE(client.Connect(UriOf(server.uri())).has_value());
  std::map<std::pair<int, std::string>, std::string> lines;
  for (int db = 0; db < 16; ++db) {
    EXPECT_TRUE(client.Call({"SELECT", std::to_string(db)}).has_value());
    std::string cursor = "0";
    do {
      auto page = client.Call({"SCAN", cursor, "COUNT", "500"});
      EXPECT_TRUE(page.has_value() && page->size() == 2);
      if (!page || page->size() != 2) return {};
      cursor = (*page)[0].str();
      for (const auto& k : (*page)[1].children()) {
        const std::string key = k.str();
        auto replies = client.CallPipelined(
            std::vector<std::vector<std::string>>{{"DUMP", key}, {"PEXPIRETIME", key}});
        EXPECT_TRUE(replies.has_value());
        if (!replies) return {};
        auto value = rdb::DecodeDumpPayload((*replies)[0].bytes());
        EXPECT_TRUE(value.has_value()) << key;
        if (!value) continue;
        if (rdb9_streams && value->type == rdb::ValueType::kStream) {
          value->stream.has_v2_metadata = false;
        }
        lines[{db, key}] = rdb::CanonicalKeyLine(db, AsBytes(key), (*replies)[1].integer(), *value);
      }
    } while (cursor != "0");
  }
  std::vector<std::string> out;
  for (auto& [k, line] : lines) out.push_back(std::move(line));
  return out;
}

std::vector<std::string> RestoreArgs(const std::string& file, const ServerProcess& target,
                                     std::vector<std::string> more = {}) {
  std::vector<std::string> args = {KeyferryBinary(), "restore", file, "--target", target.uri()};
  for (auto& m : more) args.push_back(std::move(m));
  return args;
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

uint64_t KeysOn(const ServerProcess& server) {
  uint64_t keys = 0;
  for (int db = 0; db < 16; ++db) {
    net::Client client;
    if (!client.Connect(UriOf(server.uri()))) return ~uint64_t{0};
    auto selected = client.Call({"SELECT", std::to_string(db)});
    auto size = client.Call({"DBSIZE"});
    if (!selected || !size) return ~uint64_t{0};
    keys += static_cast<uint64_t>(size->integer());
  }
  return keys;
}

class RestoreFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { server_ = ServerProcess::Start(ServerKind::kValkey).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};
ServerProcess* RestoreFixtureTest::server_ = nullptr;

TEST_P(RestoreFixtureTest, EveryKeyOfTheFileIsOnValkeyAsTheFixtureSays) {
  ASSERT_NE(server_, nullptr);
  ASSERT_EQ(server_->InfoField("server", "valkey_version").rfind("8.0.", 0), 0u);
  const std::string stem = GetParam();
  // The .jsonl holds one line per key and one per function library (no "key" field).
  std::vector<std::string> want, libraries;
  for (auto& line : SplitLines(ReadFileBytes(FixturePath(stem, ".jsonl")))) {
    if (line.find("\"key\":") != std::string::npos) {
      want.push_back(std::move(line));
    } else {
      auto library = nlohmann::json::parse(line);
      libraries.push_back(library.at("function_library").get<std::string>());
    }
  }
  ASSERT_GT(want.size(), 1000u);
  std::vector<std::string> more = {"--flush-target", "--json"};
  if (stem == "redis-7.4-hfe") {
    // Valkey 8 cannot hold field TTLs: the two such hashes load without them.
    more.insert(more.end(), {"--on-unsupported", "drop-field-ttl"});
    size_t stripped = 0;
    for (auto& line : want) {
      const size_t from = line.find(",\"field_expire_ms\":{");
      if (from == std::string::npos) continue;
      line.erase(from, line.find('}', from) + 1 - from);
      ++stripped;
    }
    EXPECT_EQ(stripped, 2u);
  }
  Subprocess restore(RestoreArgs(FixturePath(stem, ".rdb"), *server_, more));
  ASSERT_EQ(restore.Wait(seconds(120)), 0) << restore.Stderr();
  EXPECT_NE(restore.Stdout().find("\"keys_written\":" + std::to_string(want.size())),
            std::string::npos)
      << restore.Stdout();
  EXPECT_NE(restore.Stdout().find("\"checksum_checked\":true"), std::string::npos)
      << restore.Stdout();
  // The restore's own proof: the file read again, compared key by key.
  EXPECT_NE(restore.Stdout().find("\"verify_equal\":true"), std::string::npos) << restore.Stdout();

  const std::vector<std::string> got = ReadBackLines(*server_, stem == "redis-6.2-base");
  ASSERT_EQ(got.size(), want.size());
  size_t differing = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    if (++differing <= 3) {
      ADD_FAILURE() << stem << " line " << i + 1 << "\n  got:  " << got[i].substr(0, 300)
                    << "\n  want: " << want[i].substr(0, 300);
    }
  }
  EXPECT_EQ(differing, 0u);
  // The fixture's function libraries, and no other (a library of the previous file would
  // survive a FLUSHALL: --flush-target must delete libraries too).
  const std::string listed = server_->Call({"FUNCTION", "LIST"});
  for (const auto& name : libraries) EXPECT_NE(listed.find(name), std::string::npos) << listed;
  EXPECT_EQ(listed.empty(), libraries.empty()) << listed;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RestoreFixtureTest, ::testing::ValuesIn(FixtureStems()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(RestoreTest, TruncatedOrCorruptFilesFailAndLeaveTheTargetEmpty) {
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  const std::string dir = MakeTempDir("kf-restore-bad");
  const std::string whole = ReadFileBytes(FixturePath("valkey-8.0-base", ".rdb"));
  ASSERT_GT(whole.size(), 300000u);
  struct Case {
    std::string name;
    std::string bytes;
    std::string says;
  };
  std::string flipped = whole;
  flipped[whole.size() / 2] = static_cast<char>(flipped[whole.size() / 2] ^ 0x5a);
  const std::vector<Case> cases = {
      {"header", whole.substr(0, 5), "ended before its end-of-file record"},
      {"mid-value", whole.substr(0, whole.size() / 2), "ended before its end-of-file record"},
      {"no-eof", whole.substr(0, whole.size() - 9), "ended before its end-of-file record"},
      {"flipped", flipped, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + "/" + c.name + ".rdb";
    WriteFileBytes(path, c.bytes);
    Subprocess restore(RestoreArgs(path, *target));
    EXPECT_EQ(restore.Wait(seconds(60)), 2) << restore.Stderr();
    const std::string err = restore.Stderr();
    if (!c.says.empty()) {
      EXPECT_NE(err.find(c.says), std::string::npos) << err;
    }
    // A flipped byte inside a value may decode as another value: the CRC64 at the end is
    // what catches it, unless the byte broke the structure first.
    if (c.name == "flipped") {
      EXPECT_TRUE(err.find("checksum") != std::string::npos ||
                  err.find("not a readable RDB") != std::string::npos)
          << err;
    }
    EXPECT_NE(err.find("emptied again"), std::string::npos) << err;
    EXPECT_EQ(KeysOn(*target), 0u) << "the target must be left as it was (empty)";
    EXPECT_EQ(target->Call({"FUNCTION", "LIST"}), "");
  }
  RemoveTree(dir);
}

TEST(RestoreTest, StandardInputLoadsAndAFullTargetIsRefusedUnchanged) {
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  const std::string file = FixturePath("redis-7.2-base", ".rdb");
  size_t lines = 0;  // keys: the .jsonl lines less the one of the function library
  for (const auto& line : SplitLines(ReadFileBytes(FixturePath("redis-7.2-base", ".jsonl")))) {
    if (line.find("\"key\":") != std::string::npos) ++lines;
  }
  Subprocess piped(
      {"/bin/sh", "-c",
       "cat '" + file + "' | '" + KeyferryBinary() + "' restore - --target " + target->uri()});
  ASSERT_EQ(piped.Wait(seconds(60)), 0) << piped.Stderr();
  EXPECT_NE(piped.Stderr().find("standard input (RDB 11"), std::string::npos) << piped.Stderr();
  EXPECT_EQ(KeysOn(*target), lines);

  target->Call({"SET", "written-after", "1"});
  Subprocess again(RestoreArgs(file, *target));
  EXPECT_EQ(again.Wait(seconds(60)), 2) << again.Stderr();
  EXPECT_NE(again.Stderr().find("already holds " + std::to_string(lines + 1) + " keys"),
            std::string::npos)
      << again.Stderr();
  EXPECT_NE(again.Stderr().find("--flush-target"), std::string::npos) << again.Stderr();
  EXPECT_EQ(KeysOn(*target), lines + 1) << "a refused restore must not write";
  EXPECT_EQ(target->Call({"GET", "written-after"}), "1");
}

TEST(RestoreTest, IntoAValkeyClusterEqualsTheServerThatSavedTheFile) {
  auto redis = ServerProcess::Start(ServerKind::kRedis);
  ASSERT_TRUE(redis);
  for (const auto& command : EveryTypeCommandsForCompare()) {
    redis->Call(command);
  }
  ASSERT_EQ(redis->Call({"SAVE"}), "OK");
  const std::string file = redis->dir() + "/dump.rdb";
  auto cluster = ClusterProcess::Start(ServerKind::kValkey, {.primaries = 3});
  ASSERT_TRUE(cluster);

  Subprocess restore({KeyferryBinary(), "restore", file, "--target", cluster->uri()});
  ASSERT_EQ(restore.Wait(seconds(60)), 0) << restore.Stderr();
  auto diffs = CanonicalDiff({UriOf(redis->uri())}, cluster->PrimaryUris());
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  size_t keys = 0;
  for (ServerProcess* p : cluster->Primaries()) {
    EXPECT_GT(std::stoul(p->Call({"DBSIZE"})), 0u) << "every shard holds part of the keys";
    keys += std::stoul(p->Call({"DBSIZE"}));
  }
  EXPECT_EQ(std::to_string(keys), redis->Call({"DBSIZE"}));

  // A file with keys in dbs 0, 3 and 15 cannot land in a cluster's one db.
  Subprocess many({KeyferryBinary(), "restore", FixturePath("redis-7.0-base", ".rdb"), "--target",
                   cluster->uri(), "--flush-target"});
  EXPECT_EQ(many.Wait(seconds(60)), 2) << many.Stderr();
  EXPECT_NE(many.Stderr().find("--db-map"), std::string::npos) << many.Stderr();
  for (ServerProcess* p : cluster->Primaries()) EXPECT_EQ(p->Call({"DBSIZE"}), "0");
}

// The comparison restore runs afterwards (verify/rdb_file_compare.h) finds each kind of
// change made to the target behind the file's back; equal before.
// A file of session-like keys whose expiries fall while the comparison runs: a key that
// expires between its read from the file and its DUMP, or between its DUMP and the final
// key count, is no difference (before the fix the count alone made every run differ).
TEST(RestoreTest, KeysExpiringDuringTheComparisonAreNoDifference) {
  auto redis = ServerProcess::Start(ServerKind::kRedis,
                                    {.config = {{"enable-debug-command", "yes"}, {"save", ""}}});
  ASSERT_TRUE(redis);
  ASSERT_EQ(redis->Call({"DEBUG", "POPULATE", "30000", "session", "32"}), "OK");
  // Expiries spread over 1.5 s to 5.5 s from now, one every ~0.13 ms; 1000 keys stay.
  ASSERT_EQ(redis->Call({"EVAL",
                         "local t = tonumber(ARGV[1]) "
                         "for i = 0, 28999 do "
                         "redis.call('PEXPIREAT', 'session:' .. i, t + 1500 + (i % 4000)) end "
                         "return 'OK'",
                         "0", std::to_string(UnixMillis())}),
            "OK");
  ASSERT_EQ(redis->Call({"SAVE"}), "OK");
  const std::string file = redis->dir() + "/dump.rdb";
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  Subprocess restore(RestoreArgs(file, *target, {"--no-verify"}));
  ASSERT_EQ(restore.Wait(seconds(60)), 0) << restore.Stderr();

  uint64_t expired_while_compared = 0;
  int runs = 0;
  const int64_t until = UnixMillis() + 6000;
  while (UnixMillis() < until && runs < 40) {
    auto input = source::RdbFileInput::Open(file);
    ASSERT_TRUE(input.has_value());
    auto report = verify::CompareRdbFileWithTarget(*input, UriOf(target->uri()), {});
    ASSERT_TRUE(report.has_value()) << report.error().ToString();
    EXPECT_TRUE(report->equal()) << "run " << runs << ": " << report->target_keys << " keys on "
                                 << "the target, " << report->expected_keys << " expected, "
                                 << report->expired_before_count << " expired before the count; "
                                 << ::testing::PrintToString(report->examples);
    expired_while_compared += report->expired_before_count;
    ++runs;
  }
  EXPECT_GT(expired_while_compared, 0u) << "no expiry fell inside a comparison: nothing tested";
  EXPECT_GE(runs, 3);
}

TEST(RestoreTest, TheComparisonWithTheFileFindsEveryChangeToTheTarget) {
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  const std::string file = FixturePath("valkey-8.0-base", ".rdb");
  Subprocess restore(RestoreArgs(file, *target, {"--no-verify"}));
  ASSERT_EQ(restore.Wait(seconds(60)), 0) << restore.Stderr();
  EXPECT_NE(restore.Stderr().find("not verified (--no-verify)"), std::string::npos);
  auto compare = [&] {
    auto input = source::RdbFileInput::Open(file);
    EXPECT_TRUE(input.has_value());
    auto report = verify::CompareRdbFileWithTarget(*input, UriOf(target->uri()), {});
    EXPECT_TRUE(report.has_value()) << (report ? "" : report.error().ToString());
    return report ? *report : verify::RdbFileCompareReport{};
  };
  verify::RdbFileCompareReport before = compare();
  EXPECT_TRUE(before.equal()) << ::testing::PrintToString(before.examples);
  EXPECT_GT(before.keys_equal, 1000u);

  // Three keys of db 0 without expiry: one string changed, one deleted, one given a TTL;
  // one key added; the library flushed.
  std::vector<std::string> strings, others;
  for (const auto& line : SplitLines(ReadFileBytes(FixturePath("valkey-8.0-base", ".jsonl")))) {
    if (line.find("\"key\":") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line);
    if (j["db"] != 0 || j["expire_ms"] != -1) continue;
    std::string hex = j["key"], key;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      key.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    (j["type"] == "string" ? strings : others).push_back(key);
  }
  ASSERT_GE(strings.size(), 1u);
  ASSERT_GE(others.size(), 2u);
  ASSERT_EQ(target->Call({"SET", strings[0], "changed"}), "OK");
  ASSERT_EQ(target->Call({"DEL", others[0]}), "1");
  ASSERT_EQ(target->Call({"PEXPIREAT", others[1], "4102444800000"}), "1");
  ASSERT_EQ(target->Call({"SET", "not-in-the-file", "x"}), "OK");
  ASSERT_EQ(target->Call({"FUNCTION", "FLUSH"}), "OK");

  verify::RdbFileCompareReport after = compare();
  EXPECT_FALSE(after.equal());
  EXPECT_EQ(after.differences, 3u) << ::testing::PrintToString(after.examples);
  EXPECT_FALSE(after.functions_equal);
  EXPECT_EQ(after.target_keys, after.expected_keys) << "one deleted, one added";
  const std::string all = ::testing::PrintToString(after.examples);
  EXPECT_NE(all.find("value differs"), std::string::npos) << all;
  EXPECT_NE(all.find("missing on the target"), std::string::npos) << all;
  EXPECT_NE(all.find("expiry differs"), std::string::npos) << all;
}

}  // namespace
}  // namespace kf::test
