// Every fixture RDB file (../shared/fixtures/rdb/, RDB 9 to 12 of Redis and Valkey) read by
// the RDB reader into a SnapshotSink whose lanes write a real Valkey 8.0, as a full sync
// does: source bytes passed through with the footer rebuilt for RDB 11 (RESTORE), plain
// strings gathered into MSETs, values Valkey 8 cannot load as they are re-encoded (the
// field-TTL hashes of redis-7.4-hfe, with --on-unsupported drop-field-ttl). Each key read
// back from Valkey (DUMP, PEXPIRETIME) must print as the fixture's .jsonl line, and each
// db must hold exactly the file's keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "../unit/rdb_test_util.h"
#include "harness/server_process.h"
#include "net/client.h"
#include "net/uri.h"
#include "rdb/canonical.h"
#include "rdb/reader.h"
#include "sync/key_filter.h"
#include "sync/snapshot_sink.h"
#include "target/snapshot_lanes.h"

namespace kf::sync {
namespace {

using rdb::testing::FixturePath;
using rdb::testing::FixtureStems;
using rdb::testing::ReadFileBytes;
using rdb::testing::SplitLines;

struct FileKey {
  uint64_t db = 0;
  std::string key;
  int64_t expire_ms = -1;
  rdb::Value value;
};

// The keys of a fixture in the order of its .jsonl (db, key bytes).
class CollectingSink : public rdb::RdbSink {
 public:
  void OnValue(const rdb::KeyInfo& k, rdb::Value& part, bool last) override {
    rdb::AppendValuePart(&current_, std::move(part));
    if (!last) return;
    keys.push_back(FileKey{k.db, ToString(k.key), k.expire_ms, std::move(current_)});
    current_ = rdb::Value{};
  }
  std::vector<FileKey> keys;

 private:
  rdb::Value current_;
};

class SnapshotSinkFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    server_ = test::ServerProcess::Start(test::ServerKind::kValkey).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static test::ServerProcess* server_;
};

test::ServerProcess* SnapshotSinkFixtureTest::server_ = nullptr;

TEST_P(SnapshotSinkFixtureTest, EveryKeyLandsInValkey80AsTheFixtureLine) {
  ASSERT_NE(server_, nullptr);
  ASSERT_EQ(server_->InfoField("server", "valkey_version").rfind("8.0.", 0), 0u);
  server_->Call({"FLUSHALL"});
  server_->Call({"FUNCTION", "FLUSH"});
  const std::string& stem = GetParam();
  const std::string file = ReadFileBytes(FixturePath(stem, ".rdb"));
  ASSERT_FALSE(file.empty()) << stem;
  auto uri = net::Uri::Parse(server_->uri());
  ASSERT_TRUE(uri.has_value());

  // The snapshot, as a full sync writes it.
  target::SnapshotLanes lanes(*uri, target::LaneOptions{});
  auto started = lanes.Start();
  ASSERT_TRUE(started.has_value()) << started.error().ToString();
  KeyFilter filter;
  auto map = DbMap::Parse({});
  ASSERT_TRUE(map.has_value());
  DbLanding landing(&*map);
  SnapshotSinkOptions options;
  options.target_rdb_version = 11;
  options.on_unsupported = OnUnsupported::kDropFieldTtl;
  SnapshotSink sink(&lanes, &filter, &landing, options);
  {
    rdb::RdbReader reader(&sink);
    auto fed = rdb::testing::FeedWhole(reader, file);
    ASSERT_TRUE(fed.has_value()) << fed.error().ToString();
  }
  ASSERT_FALSE(sink.error().has_value()) << sink.error()->ToString();
  sink.Flush();
  auto drained = lanes.Drain();
  ASSERT_TRUE(drained.has_value()) << drained.error().ToString();
  lanes.Stop();

  // The file's keys, and what Valkey holds for each.
  CollectingSink expected;
  rdb::RdbReader reader(&expected);
  ASSERT_TRUE(rdb::testing::FeedWhole(reader, file).has_value());
  std::sort(expected.keys.begin(), expected.keys.end(), [](const FileKey& a, const FileKey& b) {
    return a.db != b.db ? a.db < b.db : a.key < b.key;
  });
  const std::vector<std::string> lines = SplitLines(ReadFileBytes(FixturePath(stem, ".jsonl")));
  ASSERT_GT(expected.keys.size(), 1000u);
  ASSERT_GE(lines.size(), expected.keys.size());
  EXPECT_EQ(sink.keys_written(), expected.keys.size());

  net::Client client;
  ASSERT_TRUE(client.Connect(*uri).has_value());
  std::map<uint64_t, int64_t> per_db;
  uint64_t selected = 0;
  size_t field_ttl_hashes = 0;
  for (size_t i = 0; i < expected.keys.size(); ++i) {
    FileKey& k = expected.keys[i];
    SCOPED_TRACE(stem + " line " + std::to_string(i + 1) + " key " + Printable(k.key, 60));
    ++per_db[k.db];
    if (k.db != selected) {
      auto r = client.Call(std::vector<std::string>{"SELECT", std::to_string(k.db)});
      ASSERT_TRUE(r.has_value() && r->IsOk());
      selected = k.db;
    }
    auto replies = client.CallPipelined({{"DUMP", k.key}, {"PEXPIRETIME", k.key}});
    ASSERT_TRUE(replies.has_value()) << replies.error().ToString();
    ASSERT_EQ((*replies)[0].type(), resp::ReplyType::kBulkString) << "the key is missing";
    auto back = rdb::DecodeDumpPayload((*replies)[0].bytes());
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    const int64_t expire_back = (*replies)[1].integer();
    std::string want = lines[i];
    bool dropped_ttls = false;
    for (auto& f : k.value.hash) {
      dropped_ttls = dropped_ttls || f.expire_ms != -1;
      f.expire_ms = -1;
    }
    if (dropped_ttls) {
      // drop-field-ttl: the hash as the file holds it, without its field TTLs.
      ++field_ttl_hashes;
      want = rdb::CanonicalKeyLine(k.db, AsBytes(k.key), k.expire_ms, k.value);
    }
    if (k.value.type == rdb::ValueType::kStream && !k.value.stream.has_v2_metadata) {
      // An RDB 9 stream: Valkey derives what RDB 9 lacks; the fixture line has none of it.
      back->stream.has_v2_metadata = false;
      back->stream.first_id = k.value.stream.first_id;
      back->stream.max_deleted_id = k.value.stream.max_deleted_id;
      back->stream.entries_added = k.value.stream.entries_added;
      for (auto& g : back->stream.groups) g.entries_read = -1;
    }
    EXPECT_EQ(rdb::CanonicalKeyLine(k.db, AsBytes(k.key), expire_back, *back), want);
  }
  EXPECT_EQ(field_ttl_hashes, stem == "redis-7.4-hfe" ? 2u : 0u);
  for (const auto& [db, n] : per_db) {
    ASSERT_TRUE(client.Call(std::vector<std::string>{"SELECT", std::to_string(db)}).has_value());
    auto size = client.Call(std::vector<std::string>{"DBSIZE"});
    ASSERT_TRUE(size.has_value());
    EXPECT_EQ(size->integer(), n) << "db " << db;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SnapshotSinkFixtureTest, ::testing::ValuesIn(FixtureStems()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace kf::sync
