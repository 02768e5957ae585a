// CompareRdbFileWithTarget: an RDB file against a live target (rdb_file_compare.h).
#include "verify/rdb_file_compare.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "net/server_info.h"
#include "rdb/canonical.h"
#include "rdb/reader.h"
#include "sync/key_filter.h"
#include "target/applied_marker.h"
#include "verify/endpoint.h"
#include "verify/value_compare.h"
#include "verify/verify_options.h"

namespace kf::verify {
namespace {

// One file key expected on the target.
struct FileKey {
  int db = 0;  // the target db
  std::string key;
  int64_t expire_ms = -1;
  rdb::ValueType type = rdb::ValueType::kString;
  bool type_only = false;  // too big to hold: type and expiry only
  rdb::Value value;
};

class Collector : public rdb::RdbSink {
 public:
  Collector(const sync::KeyFilter* filter, const sync::DbMap* db_map,
            const RdbFileCompareOptions* options, RdbFileCompareReport* report)
      : filter_(filter), db_map_(db_map), options_(options), report_(report) {}

  rdb::AccessLevel OnKey(const rdb::KeyInfo& k) override {
    if (!filter_->Accepts(AsStringView(k.key)) || target::IsAppliedMarkerKey(AsStringView(k.key))) {
      return rdb::AccessLevel::kSkip;
    }
    if (k.expire_ms >= 0 && k.expire_ms <= UnixMillis()) {
      ++report_->expired_in_file;
      return rdb::AccessLevel::kSkip;
    }
    current_ = FileKey{};
    current_.db = db_map_->Map(static_cast<int>(k.db));
    current_.key = std::string(AsStringView(k.key));
    current_.expire_ms = k.expire_ms;
    current_.type = k.type;
    bytes_ = 0;
    return rdb::AccessLevel::kData;
  }
  void OnValue(const rdb::KeyInfo&, rdb::Value& part, bool last) override {
    if (!current_.type_only) {
      bytes_ += ApproximateBytes(part);
      if (bytes_ > options_->big_value_bytes) {
        current_.type_only = true;
        current_.value = rdb::Value{};
      } else {
        rdb::AppendValuePart(&current_.value, std::move(part));
      }
    }
    if (!last) return;
    bool field_ttls = false;
    for (const auto& f : current_.value.hash) field_ttls = field_ttls || f.expire_ms >= 0;
    if (field_ttls && options_->skip_field_ttl_hashes) return;  // the restore skipped it
    if (field_ttls && options_->drop_field_ttls) {
      for (auto& f : current_.value.hash) f.expire_ms = -1;
    }
    pending.push_back(std::move(current_));
    current_ = FileKey{};
  }
  void OnFunction(const rdb::FunctionLibrary& library) override {
    libraries.emplace(library.name, library.code);
  }

  std::vector<FileKey> pending;
  std::set<std::pair<std::string, std::string>> libraries;  // name, code

 private:
  static uint64_t ApproximateBytes(const rdb::Value& v) {
    uint64_t n = v.str.size();
    for (const auto& e : v.elements) n += e.size() + 8;
    for (const auto& e : v.zset) n += e.member.size() + 16;
    for (const auto& e : v.hash) n += e.field.size() + e.value.size() + 16;
    for (const auto& e : v.stream.entries) {
      n += 32;
      for (const auto& f : e.fields) n += f.first.size() + f.second.size();
    }
    return n;
  }

  const sync::KeyFilter* filter_;
  const sync::DbMap* db_map_;
  const RdbFileCompareOptions* options_;
  RdbFileCompareReport* report_;
  FileKey current_;
  uint64_t bytes_ = 0;
};

void Note(RdbFileCompareReport* report, size_t max, std::string line) {
  ++report->differences;
  if (report->examples.size() < max) report->examples.push_back(std::move(line));
}

std::string Name(const FileKey& k) { return "db" + std::to_string(k.db) + " " + Shown(k.key); }

// Expiries of the keys compared present, by second, for the final count (at most a day
// ahead: a comparison does not run that long; later ones cannot pass before the count).
class ExpiryHistogram {
 public:
  void Add(int64_t expire_ms) {
    if (expire_ms < 0 || expire_ms > UnixMillis() + kHorizonMs) return;
    ++by_second_[expire_ms / 1000];
  }
  // How many expire at or before `now_ms` (the whole second of now_ms included).
  uint64_t PassedBy(int64_t now_ms) const {
    uint64_t n = 0;
    for (auto it = by_second_.begin(); it != by_second_.end() && it->first <= now_ms / 1000; ++it) {
      n += it->second;
    }
    return n;
  }

 private:
  static constexpr int64_t kHorizonMs = int64_t{24} * 3600 * 1000;
  std::map<int64_t, uint64_t> by_second_;
};

// A file key's expiry has passed: absent on the target is what the file says.
bool ExpiredNow(const FileKey& k) { return k.expire_ms >= 0 && k.expire_ms <= UnixMillis(); }

// Reads the batch's keys from the target and compares them.
Result<void> CompareBatch(Endpoint& target, std::vector<FileKey>& keys,
                          const RdbFileCompareOptions& options, RdbFileCompareReport* report,
                          ExpiryHistogram* expiring) {
  std::stable_sort(keys.begin(), keys.end(),
                   [](const FileKey& a, const FileKey& b) { return a.db < b.db; });
  size_t from = 0;
  while (from < keys.size()) {
    size_t to = from;
    while (to < keys.size() && keys[to].db == keys[from].db) ++to;
    KF_RETURN_IF_ERROR(target.Select(keys[from].db));
    std::vector<Command> commands;
    report->expected_keys += to - from;  // less those found expired below
    for (size_t i = from; i < to; ++i) {
      commands.push_back({keys[i].type_only ? "TYPE" : "DUMP", keys[i].key});
      commands.push_back({"PEXPIRETIME", keys[i].key});
    }
    auto replies = target.Run(commands, "DUMP of the restored keys");
    if (!replies) return MakeError(replies.error());
    for (size_t i = from; i < to; ++i) {
      FileKey& k = keys[i];
      const resp::Reply& value = (*replies)[2 * (i - from)];
      const resp::Reply& expiry = (*replies)[2 * (i - from) + 1];
      if (value.is_error()) return MakeError(target.ReplyError(value, "DUMP", k.key));
      if (expiry.is_error()) return MakeError(target.ReplyError(expiry, "PEXPIRETIME", k.key));
      const bool gone = value.is_null() || (k.type_only && value.str() == "none") ||
                        expiry.integer() == -2;  // gone between DUMP and PEXPIRETIME
      if (gone && ExpiredNow(k)) {               // it expired while being compared
        ++report->expired_in_file;
        --report->expected_keys;
        continue;
      }
      ++report->keys_compared;
      if (gone) {
        Note(report, options.max_reported, "missing on the target: " + Name(k));
        continue;
      }
      expiring->Add(k.expire_ms);
      bool same = true;
      if (k.type_only) {
        ++report->type_only;
      } else {
        auto decoded = rdb::DecodeDumpPayload(value.bytes());
        if (!decoded) {
          Note(report, options.max_reported,
               "the target's DUMP of " + Name(k) + " cannot be read: " + decoded.error().message);
          continue;
        }
        if (k.value.type == rdb::ValueType::kStream && !k.value.stream.has_v2_metadata) {
          // An RDB 9 file's stream has no entries-added or entries-read: the target derives
          // them when it loads the value (as when it loads an RDB 9 file). Not compared.
          rdb::StreamValue& s = decoded->stream;
          s.entries_added = k.value.stream.entries_added;
          s.max_deleted_id = k.value.stream.max_deleted_id;
          for (auto& g : s.groups) {
            for (const auto& f : k.value.stream.groups) {
              if (f.name == g.name) g.entries_read = f.entries_read;
            }
          }
        }
        if (auto diff = DescribeValueDifference(&k.value, &*decoded)) {
          Note(report, options.max_reported, "value differs: " + Name(k) + ": " + *diff);
          same = false;
        }
      }
      const int64_t target_expiry = expiry.integer() < 0 ? -1 : expiry.integer();
      if (target_expiry != k.expire_ms) {
        Note(report, options.max_reported,
             "expiry differs: " + Name(k) + ": the file says " + std::to_string(k.expire_ms) +
                 ", the target " + std::to_string(target_expiry));
        same = false;
      }
      if (same) ++report->keys_equal;
    }
    from = to;
  }
  keys.clear();
  return {};
}

// Walks every key of the target once with SCAN, which deletes the keys whose expiry has
// passed (a key expired after the restore lingers until something touches it, and INFO
// keyspace still counts it). The keys themselves are not needed.
Result<void> PurgeExpired(Endpoint& target) {
  auto keyspace = target.Call({"INFO", "keyspace"}, "INFO keyspace");
  if (!keyspace) return MakeError(keyspace.error());
  std::vector<int> dbs;
  std::istringstream lines(keyspace->str());
  for (std::string line; std::getline(lines, line);) {
    int db = -1;
    if (line.rfind("db", 0) != 0) continue;
    std::from_chars(line.data() + 2, line.data() + line.size(), db);
    if (db >= 0) dbs.push_back(db);
  }
  for (int db : dbs) {
    KF_RETURN_IF_ERROR(target.Select(db));
    std::string cursor = "0";
    do {
      auto page = target.Call({"SCAN", cursor, "COUNT", "1000"}, "SCAN");
      if (!page) return MakeError(page.error());
      if (page->size() != 2) break;
      cursor = (*page)[0].str();
    } while (cursor != "0");
  }
  return {};
}

}  // namespace

Result<RdbFileCompareReport> CompareRdbFileWithTarget(source::RdbFileInput& input,
                                                      const net::Uri& target_uri,
                                                      const RdbFileCompareOptions& options) {
  RdbFileCompareReport report;
  const sync::KeyFilter filter(options.match, options.exclude);
  auto db_map = sync::DbMap::Parse(options.db_map);
  if (!db_map) return MakeError(db_map.error());
  VerifyOptions vo;
  Endpoint target("target", target_uri, vo);
  KF_RETURN_IF_ERROR(target.Connect());

  Collector collector(&filter, &*db_map, &options, &report);
  ExpiryHistogram expiring;
  rdb::ReaderOptions ro;
  ro.big_value_bytes = options.big_value_bytes;
  rdb::RdbReader reader(&collector, ro);
  std::vector<uint8_t> buf(size_t{1} << 20);
  for (;;) {
    auto n = input.Read(buf);
    if (!n) return MakeError(n.error());
    if (*n == 0) break;
    auto fed = reader.Feed(ByteView(buf.data(), *n));
    if (!fed) return MakeError(fed.error().code, input.name() + ": " + fed.error().ToString());
    while (collector.pending.size() >= options.batch) {
      std::vector<FileKey> batch(std::make_move_iterator(collector.pending.begin()),
                                 std::make_move_iterator(collector.pending.begin() +
                                                         static_cast<ptrdiff_t>(options.batch)));
      collector.pending.erase(collector.pending.begin(),
                              collector.pending.begin() + static_cast<ptrdiff_t>(options.batch));
      KF_RETURN_IF_ERROR(CompareBatch(target, batch, options, &report, &expiring));
    }
  }
  auto finished = reader.Finish();
  if (!finished) {
    return MakeError(finished.error().code, input.name() + ": " + finished.error().ToString());
  }
  KF_RETURN_IF_ERROR(CompareBatch(target, collector.pending, options, &report, &expiring));

  // Every key the target holds is one the file put there.
  KF_RETURN_IF_ERROR(PurgeExpired(target));
  auto keyspace = target.Call({"INFO", "keyspace"}, "INFO keyspace");
  if (!keyspace) return MakeError(keyspace.error());
  report.target_keys = net::KeyspaceKeyCount(keyspace->str());
  report.expired_before_count = expiring.PassedBy(UnixMillis());
  if (!report.count_equal() && report.examples.size() < options.max_reported) {
    report.examples.push_back("the target holds " + std::to_string(report.target_keys) +
                              " keys, the file " + std::to_string(report.expected_keys));
  }

  // Function libraries, by name and code.
  auto listed = target.Call({"FUNCTION", "LIST", "WITHCODE"}, "FUNCTION LIST");
  if (!listed) return MakeError(listed.error());
  std::set<std::pair<std::string, std::string>> on_target;
  for (const auto& entry : listed->children()) {
    const resp::Reply* name = FieldOf(entry, "library_name");
    const resp::Reply* code = FieldOf(entry, "library_code");
    if (name != nullptr && code != nullptr) on_target.emplace(name->str(), code->str());
  }
  if (on_target != collector.libraries) {
    report.functions_equal = false;
    if (report.examples.size() < options.max_reported) {
      report.examples.push_back("function libraries differ: the file has " +
                                std::to_string(collector.libraries.size()) + ", the target " +
                                std::to_string(on_target.size()));
    }
  }
  return report;
}

}  // namespace kf::verify
