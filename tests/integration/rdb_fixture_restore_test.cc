// Round trip of every fixture key through a real Valkey 8.0 (issue #3, "Done when"):
// for every key of every file in ../shared/fixtures/rdb/, the value the reader decodes is
// encoded by EncodeDumpPayload for RDB 11 and sent with RESTORE ... ABSTTL REPLACE; Valkey
// must accept it, and the key read back (DUMP decoded by DecodeDumpPayload, PEXPIRETIME)
// must print as the fixture's .jsonl line in the canonical form, and as the file's own
// value in the full form (every PEL entry, delivery / seen / active times, first_id).
//
// Exceptions, each checked rather than skipped:
//   - hashes with field TTLs (redis-7.4-hfe): Valkey 8 cannot hold them; the encoder must
//     refuse them with kFieldTtlNotRepresentable, and with drop_field_ttls they must load
//     as the fixture line without its "field_expire_ms";
//   - streams of the Redis 6.2 file (RDB 9) have no entries_added / max_deleted_id /
//     first_id / entries_read; Valkey derives them on RESTORE the way it does when loading
//     an RDB 9 file, which is checked, and they are then left out of the comparison, as the
//     fixture line leaves them out;
//   - a key whose expiry is already in the past would be dropped by RESTORE ABSTTL: it must
//     answer OK and leave no key (the fixtures' expiries are all in 2100, so the test also
//     reports how many such keys there were).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "../unit/rdb_test_util.h"
#include "harness/server_process.h"
#include "net/client.h"
#include "net/uri.h"
#include "rdb/canonical.h"
#include "rdb/encoder.h"
#include "rdb/reader.h"

namespace kf::rdb {
namespace {

using test::ServerKind;
using test::ServerProcess;
using testing::FeedWhole;
using testing::FixturePath;
using testing::FixtureStems;
using testing::ReadFileBytes;
using testing::SplitLines;

// One key of a fixture file, as the reader decodes it.
struct FileKey {
  uint64_t db = 0;
  std::string key;
  int64_t expire_ms = -1;
  Value value;
};

class CollectingSink : public RdbSink {
 public:
  void OnValue(const KeyInfo& k, Value& part, bool last) override {
    AppendValuePart(&current_, std::move(part));
    if (!last) return;
    keys.push_back(FileKey{k.db, ToString(k.key), k.expire_ms, std::move(current_)});
    current_ = Value{};
  }
  std::vector<FileKey> keys;

 private:
  Value current_;
};

// The keys of a fixture in canonical order (db, key bytes), the order of its .jsonl.
std::vector<FileKey> ReadFixtureKeys(const std::string& stem) {
  CollectingSink sink;
  RdbReader reader(&sink);
  auto r = FeedWhole(reader, ReadFileBytes(FixturePath(stem, ".rdb")));
  EXPECT_TRUE(r.has_value()) << stem << ": " << (r ? "" : r.error().ToString());
  std::sort(sink.keys.begin(), sink.keys.end(), [](const FileKey& a, const FileKey& b) {
    return a.db != b.db ? a.db < b.db : a.key < b.key;
  });
  return std::move(sink.keys);
}

bool HasFieldTtl(const Value& v) {
  if (v.type != ValueType::kHash) return false;
  for (const HashField& f : v.hash) {
    if (f.expire_ms >= 0) return true;
  }
  return false;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class FixtureRestoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { server_ = ServerProcess::Start(ServerKind::kValkey).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    // The issue names Valkey 8.0 as the reference target.
    ASSERT_EQ(server_->InfoField("server", "valkey_version").rfind("8.0.", 0), 0u)
        << server_->InfoField("server", "valkey_version");
    server_->Call({"FLUSHALL"});
    auto uri = net::Uri::Parse(server_->uri());
    ASSERT_TRUE(uri.has_value());
    auto connected = client_.Connect(*uri);
    ASSERT_TRUE(connected.has_value()) << connected.error().ToString();
  }

  // SELECTs `db` when it is not the current one.
  void Select(uint64_t db) {
    if (db == selected_) return;
    auto r = client_.Call(std::vector<std::string>{"SELECT", std::to_string(db)});
    ASSERT_TRUE(r.has_value() && r->IsOk());
    selected_ = db;
  }

  // RESTOREs `payload` as `key` with the absolute expiry `expire_ms` (-1: none) and reads
  // it back: the replies of RESTORE, DUMP and PEXPIRETIME.
  std::vector<resp::Reply> RestoreAndRead(const std::string& key, int64_t expire_ms,
                                          const Bytes& payload) {
    std::vector<std::vector<std::string>> cmds = {
        {"RESTORE", key, std::to_string(expire_ms < 0 ? 0 : expire_ms),
         std::string(payload.begin(), payload.end()), "ABSTTL", "REPLACE"},
        {"DUMP", key},
        {"PEXPIRETIME", key}};
    auto replies = client_.CallPipelined(cmds);
    EXPECT_TRUE(replies.has_value()) << (replies ? "" : replies.error().ToString());
    if (!replies) return {};
    return std::move(*replies);
  }

  static ServerProcess* server_;
  net::Client client_;
  uint64_t selected_ = 0;
};

ServerProcess* FixtureRestoreTest::server_ = nullptr;

TEST_P(FixtureRestoreTest, EveryKeyRoundTripsThroughValkey80) {
  const std::string& stem = GetParam();
  const std::vector<FileKey> keys = ReadFixtureKeys(stem);
  const std::vector<std::string> lines = SplitLines(ReadFileBytes(FixturePath(stem, ".jsonl")));
  ASSERT_GT(keys.size(), 1000u);
  ASSERT_GE(lines.size(), keys.size());
  const int64_t now = NowMs();
  std::map<uint64_t, int64_t> restored_per_db;
  size_t restored = 0, field_ttl = 0, past = 0, derived_v2 = 0;

  for (size_t i = 0; i < keys.size(); ++i) {
    const FileKey& k = keys[i];
    const std::string& want = lines[i];
    SCOPED_TRACE(stem + " line " + std::to_string(i + 1) + " key " + Printable(k.key, 60));
    // The .jsonl line of this key (same order): a cheap guard against a misalignment.
    ASSERT_NE(want.find("\"key\":\"" + HexEncode(AsBytes(k.key)) + "\""), std::string::npos);
    if (HasFieldTtl(k.value)) {
      ++field_ttl;  // tested by FieldTtlHashes below
      continue;
    }
    auto payload = EncodeDumpPayload(k.value, 11);
    ASSERT_TRUE(payload.has_value()) << payload.error().ToString();
    Select(k.db);
    std::vector<resp::Reply> r = RestoreAndRead(k.key, k.expire_ms, *payload);
    ASSERT_EQ(r.size(), 3u);
    ASSERT_TRUE(r[0].IsOk()) << "RESTORE refused the RDB 11 payload: " << r[0].str();
    if (k.expire_ms >= 0 && k.expire_ms <= now) {
      // RESTORE ... ABSTTL with a time in the past answers OK and drops the key.
      ++past;
      EXPECT_TRUE(r[1].is_null()) << "a key restored with a past expiry must not exist";
      continue;
    }
    ++restored;
    ++restored_per_db[k.db];
    ASSERT_EQ(r[1].type(), resp::ReplyType::kBulkString) << "DUMP: " << r[1].str();
    ASSERT_EQ(r[2].type(), resp::ReplyType::kInteger);
    const int64_t expire_back = r[2].integer();
    EXPECT_EQ(expire_back, k.expire_ms) << "PEXPIRETIME after RESTORE ABSTTL";
    auto back = DecodeDumpPayload(r[1].bytes());
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    if (k.value.type == ValueType::kStream && !k.value.stream.has_v2_metadata) {
      // An RDB 9 stream: Valkey fills in what RDB 9 lacks as when it loads an RDB 9 file
      // (entries_added = length, no max deleted ID, first_id = the first entry, groups'
      // entries_read unknown); the fixture line has none of these fields.
      const StreamValue& s = back->stream;
      ASSERT_TRUE(s.has_v2_metadata);
      EXPECT_EQ(s.entries_added, k.value.stream.entries.size());
      EXPECT_EQ(s.max_deleted_id, StreamId{});
      EXPECT_EQ(s.first_id,
                k.value.stream.entries.empty() ? StreamId{} : k.value.stream.entries.front().id);
      for (const StreamGroup& g : s.groups) EXPECT_EQ(g.entries_read, -1);
      back->stream.has_v2_metadata = false;
      back->stream.first_id = k.value.stream.first_id;
      back->stream.max_deleted_id = k.value.stream.max_deleted_id;
      back->stream.entries_added = k.value.stream.entries_added;
      ++derived_v2;
    }
    // Canonical form: the fixture's line.
    const std::string line = CanonicalKeyLine(k.db, AsBytes(k.key), expire_back, *back);
    EXPECT_TRUE(line == want) << "\n  got:  " << line.substr(0, 300)
                              << "\n  want: " << want.substr(0, 300);
    // Full form: the file's own value, every PEL entry and stream time included.
    const CanonicalOptions full = CanonicalOptions::Full();
    EXPECT_EQ(CanonicalKeyLine(k.db, AsBytes(k.key), expire_back, *back, full),
              CanonicalKeyLine(k.db, AsBytes(k.key), k.expire_ms, k.value, full));
  }

  EXPECT_EQ(past, 0u) << "fixture expiries are in 2100; a past one means the clock is off";
  EXPECT_EQ(field_ttl, stem == "redis-7.4-hfe" ? 2u : 0u);
  EXPECT_EQ(restored + field_ttl + past, keys.size());
  if (stem == "redis-6.2-base") {
    EXPECT_GT(derived_v2, 0u);
  }
  // Nothing else arrived on the server: each db holds exactly the restored keys.
  for (const auto& [db, n] : restored_per_db) {
    Select(db);
    auto size = client_.Call(std::vector<std::string>{"DBSIZE"});
    ASSERT_TRUE(size.has_value());
    EXPECT_EQ(size->integer(), n) << "db " << db;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureRestoreTest, ::testing::ValuesIn(FixtureStems()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// The two field-TTL hashes of redis-7.4-hfe: refused by default, loadable without their
// field TTLs when the caller chose drop-field-ttl.
class FieldTtlRestoreTest : public FixtureRestoreTest {};

TEST_F(FieldTtlRestoreTest, RefusedUnlessFieldTtlsAreDropped) {
  const std::string stem = "redis-7.4-hfe";
  const std::vector<FileKey> keys = ReadFixtureKeys(stem);
  const std::vector<std::string> lines = SplitLines(ReadFileBytes(FixturePath(stem, ".jsonl")));
  ASSERT_GE(lines.size(), keys.size());
  size_t checked = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const FileKey& k = keys[i];
    if (!HasFieldTtl(k.value)) continue;
    SCOPED_TRACE("key " + Printable(k.key));
    ++checked;

    // Default: a clear "not representable in the target" error, naming the way out.
    auto refused = EncodeDumpPayload(k.value, 11);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, RdbErrc::kFieldTtlNotRepresentable);
    EXPECT_EQ(refused.error().code.category().name(), std::string("kf.rdb"));
    const std::string text = refused.error().ToString();
    EXPECT_NE(text.find("not representable in RDB 11 (Valkey 8)"), std::string::npos) << text;
    EXPECT_NE(text.find("drop-field-ttl"), std::string::npos) << text;
    EXPECT_NE(text.find("field(s) with their own TTL"), std::string::npos) << text;

    // drop_field_ttls: RESTORE accepts it and the hash reads back as the fixture line
    // without its "field_expire_ms" object.
    EncodeOptions drop;
    drop.drop_field_ttls = true;
    auto payload = EncodeDumpPayload(k.value, 11, drop);
    ASSERT_TRUE(payload.has_value()) << payload.error().ToString();
    Select(k.db);
    std::vector<resp::Reply> r = RestoreAndRead(k.key, k.expire_ms, *payload);
    ASSERT_EQ(r.size(), 3u);
    ASSERT_TRUE(r[0].IsOk()) << r[0].str();
    ASSERT_EQ(r[1].type(), resp::ReplyType::kBulkString) << r[1].str();
    auto back = DecodeDumpPayload(r[1].bytes());
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    std::string want = lines[i];
    const size_t from = want.find(",\"field_expire_ms\":{");
    ASSERT_NE(from, std::string::npos);
    want.erase(from, want.find('}', from) + 1 - from);
    EXPECT_EQ(CanonicalKeyLine(k.db, AsBytes(k.key), r[2].integer(), *back), want);
    EXPECT_FALSE(HasFieldTtl(*back));
    EXPECT_EQ(back->hash.size(), k.value.hash.size());
  }
  EXPECT_EQ(checked, 2u) << "the fixture README names two field-TTL hashes";
}

}  // namespace
}  // namespace kf::rdb
