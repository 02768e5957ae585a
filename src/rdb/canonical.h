// The canonical, engine-independent JSON-lines form of a dataset (the form of
// ../shared/fixtures/rdb/*.jsonl, used to compare a source with a target and by
// `keyferry rdb dump`).
//
// One line a key: {"db":N,"expire_ms":MS,["field_expire_ms":{...},]"key":HEX,"type":T,
// "value":V} with sorted object keys and no spaces; strings are lowercase hex; sets and
// hashes sorted by bytes, zsets by (score, member) with scores as C's "%.17g" ("inf",
// "-inf"); streams as {"entries","entries_added"?,"groups","last_id","max_deleted_id"?}.
// Function libraries: {"code": "...", "function_library": "name"} (this line is written
// with ", " / ": " separators, as the reference generator does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "rdb/reader.h"
#include "rdb/value.h"

namespace kf::rdb {

// Knobs of the canonical form. The defaults are the full canonical form; max_pel_entries
// reproduces generators that list only the first N pending entries of a group (the
// fixture generator of ../shared/fixtures/rdb lists 10, as `XPENDING key group - + 10`).
struct CanonicalOptions {
  size_t max_pel_entries = SIZE_MAX;
};

// "%.17g" of a score ("inf", "-inf", "-0", "nan" as C prints them).
std::string FormatScore(double score);
// A JSON string literal the way Python's json.dumps (ensure_ascii) writes it.
std::string JsonQuote(std::string_view utf8);

// The canonical line of one key (without a trailing newline).
std::string CanonicalKeyLine(uint64_t db, ByteView key, int64_t expire_ms, const Value& value,
                             const CanonicalOptions& options = {});
std::string CanonicalFunctionLine(const FunctionLibrary& library);

// Appends `part` (a later part of the same value) to `whole`.
void AppendValuePart(Value* whole, Value&& part);

// A sink that gathers canonical lines and returns them in canonical order: keys sorted by
// (db, key bytes), then function libraries sorted by name. Holds lines, not values.
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
