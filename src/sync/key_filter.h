// Which keys and databases a sync copies: --match / --exclude glob patterns and --db-map.
//
// Patterns use Redis' glob syntax (as in KEYS / SCAN MATCH): `*`, `?`, `[abc]`, `[^abc]`,
// `[a-z]`, and `\` to escape the next character. Matching is binary-safe and
// case-sensitive. A key is copied when it matches at least one --match pattern (or none
// was given) and no --exclude pattern.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kf::sync {

// Redis-compatible glob match of `text` against `pattern`.
bool GlobMatch(std::string_view pattern, std::string_view text);

class KeyFilter {
 public:
  KeyFilter() = default;
  KeyFilter(std::vector<std::string> match, std::vector<std::string> exclude)
      : match_(std::move(match)), exclude_(std::move(exclude)) {}

  bool Accepts(std::string_view key) const;
  // True when every key is accepted (no patterns): callers may skip key extraction.
  bool AcceptsAll() const { return match_.empty() && exclude_.empty(); }

 private:
  std::vector<std::string> match_;
  std::vector<std::string> exclude_;
};

// Source db → target db. Unmapped dbs keep their number.
class DbMap {
 public:
  // Parses "SRC:DST" entries, e.g. {"0:1", "3:3"}; errors name the bad entry.
  static Result<DbMap> Parse(const std::vector<std::string>& entries);
  int Map(int source_db) const;
  bool empty() const { return map_.empty(); }

 private:
  std::map<int, int> map_;
};

// Remembers which source db fed each target db, so that a --db-map which would merge two
// source dbs into one target db (e.g. "0:1" while source db 1 also has keys) stops the
// sync the moment the second one shows up, before any of its keys are written.
class DbLanding {
 public:
  explicit DbLanding(const DbMap* map) : map_(map) {}
  // The target db of `source_db`; kBadOption when another source db already landed there,
  // or when the target has db 0 only (set_single_db) and `source_db` lands elsewhere.
  Result<int> Land(int source_db);
  // The target holds db 0 only (a cluster); `what` names it in messages.
  void set_single_db(std::string what) { single_db_ = std::move(what); }

 private:
  const DbMap* map_;
  std::map<int, int> source_of_;  // target db → the source db that landed there
  std::string single_db_;         // non-empty: only db 0 exists on the target
};

}  // namespace kf::sync
