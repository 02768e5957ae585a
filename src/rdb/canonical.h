// The canonical, engine-independent JSON-lines form of a dataset (the form of
// ../shared/fixtures/rdb/*.jsonl, used to compare a source with a target and by
// `keyferry rdb dump`), and a "full" variant of it that leaves nothing of a value out.
//
// Canonical form, one line a key: {"db":N,"expire_ms":MS,["field_expire_ms":{...},]
// "key":HEX,"type":T,"value":V} with sorted object keys and no spaces; strings are
// lowercase hex; sets and hashes sorted by bytes, zsets by (score, member) with scores as
// C's "%.17g" ("inf", "-inf"); streams as {"entries","entries_added"?,"groups","last_id",
// "max_deleted_id"?}, each group's "pel" holding at most the first 10 pending entries by ID
// (the fixtures' generator read them with `XPENDING key group - + 10`, and their README is
// the specification of this form). Function libraries: {"code": "...",
// "function_library": "name"} (this line is written with ", " / ": " separators, as the
// reference generator does).
//
// Full form (CanonicalOptions::Full()): the canonical line plus what it leaves out -
//   - every pending entry, each as [id, consumer_hex, delivery_count, delivery_time_ms];
//   - consumers as [name_hex, seen_time_ms, active_time_ms] (active -1 when the file has
//     none, i.e. before RDB 11);
//   - the stream's "first_id" where the file records it (RDB 10+);
//   - the key's "freq" (LFU counter) and "idle_s" (LRU idle seconds) where the file has
//     them (only lines built with KeyLineMeta, e.g. by CanonicalDumpSink).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "rdb/reader.h"
#include "rdb/value.h"

namespace kf::rdb {

// How many pending entries of a consumer group the canonical form lists.
inline constexpr size_t kCanonicalPelEntries = 10;

// Knobs of the line format. The defaults are the canonical form.
struct CanonicalOptions {
  // At most this many pending entries per group (the first ones by ID); SIZE_MAX = all.
  size_t max_pel_entries = kCanonicalPelEntries;
  // Add the full form's extra fields (times, first_id, idle/freq; see the top of the file).
  bool full = false;

  // The full form: every pending entry and every extra field.
  static CanonicalOptions Full() { return CanonicalOptions{SIZE_MAX, true}; }
};

// Per-key metadata an RDB file carries next to the value (printed in the full form only).
struct KeyLineMeta {
  int64_t idle_s = -1;  // -1 = none
  int freq = -1;        // -1 = none
};

// "%.17g" of a score ("inf", "-inf", "-0", "nan" as C prints them).
std::string FormatScore(double score);
// A JSON string literal the way Python's json.dumps (ensure_ascii) writes it.
std::string JsonQuote(std::string_view utf8);

// The line of one key (without a trailing newline).
std::string CanonicalKeyLine(uint64_t db, ByteView key, int64_t expire_ms, const Value& value,
                             const CanonicalOptions& options = {}, const KeyLineMeta& meta = {});
std::string CanonicalFunctionLine(const FunctionLibrary& library);

// Appends `part` (a later part of the same value) to `whole`.
void AppendValuePart(Value* whole, Value&& part);

// A sink that gathers lines (in the form `options` chooses; in the full form with each
// key's idle/freq) and returns them in canonical order: keys sorted by (db, key bytes),
// then function libraries sorted by name. Holds lines, not values.
class CanonicalDumpSink : public RdbSink {
 public:
  explicit CanonicalDumpSink(CanonicalOptions options = {}) : options_(options) {}
  AccessLevel OnKey(const KeyInfo& key) override;
  void OnValue(const KeyInfo& key, Value& part, bool last) override;
  void OnFunction(const FunctionLibrary& library) override;

  // Sorts (once) and returns the lines.
  const std::vector<std::string>& SortedLines();

 private:
  struct KeyLine {
    uint64_t db;
    std::string key;
    std::string line;
  };
  CanonicalOptions options_;
  std::vector<KeyLine> keys_;
  std::vector<std::pair<std::string, std::string>> functions_;  // name, line
  Value partial_;
  bool has_partial_ = false;
  std::vector<std::string> sorted_;
  bool sorted_done_ = false;
};

}  // namespace kf::rdb
