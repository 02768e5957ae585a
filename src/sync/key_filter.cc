// Glob matching (Redis semantics), key filters and db maps.
#include "sync/key_filter.h"

#include <charconv>

#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

// Matches one bracket class starting after '['; advances p past ']' and reports a match.
bool MatchClass(std::string_view pattern, size_t& p, unsigned char c) {
  bool negate = false;
  bool matched = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      if (static_cast<unsigned char>(pattern[p]) == c) matched = true;
      ++p;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      unsigned char lo = static_cast<unsigned char>(pattern[p]);
      unsigned char hi = static_cast<unsigned char>(pattern[p + 2]);
      if (lo > hi) std::swap(lo, hi);
      if (c >= lo && c <= hi) matched = true;
      p += 3;
    } else {
      if (static_cast<unsigned char>(pattern[p]) == c) matched = true;
      ++p;
    }
  }
  if (p < pattern.size()) ++p;  // skip ']' (an unterminated class runs to the end)
  return negate ? !matched : matched;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with single-star backtracking: linear in practice, no recursion.
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t q = p + 1;
        if (MatchClass(pattern, q, static_cast<unsigned char>(text[t]))) {
          p = q;
          ++t;
          continue;
        }
      } else {
        size_t q = p;
        if (pc == '\\' && q + 1 < pattern.size()) ++q;
        if (pattern[q] == text[t]) {
          p = q + 1;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool KeyFilter::Accepts(std::string_view key) const {
  if (!match_.empty()) {
    bool any = false;
    for (const auto& pattern : match_) {
      if (GlobMatch(pattern, key)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  for (const auto& pattern : exclude_) {
    if (GlobMatch(pattern, key)) return false;
  }
  return true;
}

Result<DbMap> DbMap::Parse(const std::vector<std::string>& entries) {
  DbMap out;
  for (const auto& entry : entries) {
    size_t colon = entry.find(':');
    int src = -1, dst = -1;
    bool ok = colon != std::string::npos;
    if (ok) {
      auto r1 = std::from_chars(entry.data(), entry.data() + colon, src);
      auto r2 = std::from_chars(entry.data() + colon + 1, entry.data() + entry.size(), dst);
      ok = r1.ec == std::errc() && r1.ptr == entry.data() + colon && r2.ec == std::errc() &&
           r2.ptr == entry.data() + entry.size() && src >= 0 && dst >= 0;
    }
    if (!ok) {
      return MakeError(SyncErrc::kBadOption, "--db-map \"" + entry +
                                                 "\" is not SRC:DST with two db numbers, "
                                                 "e.g. --db-map 0:1");
    }
    if (out.map_.count(src)) {
      return MakeError(SyncErrc::kBadOption,
                       "--db-map maps source db " + std::to_string(src) + " twice");
    }
    out.map_[src] = dst;
  }
  // Two entries into one target db would merge two source dbs (a key in both keeps only
  // one value). Unmapped dbs keep their number; DbLanding catches those at run time.
  std::map<int, int> landed;  // target db → source db
  for (auto [src, dst] : out.map_) {
    if (auto it = landed.find(dst); it != landed.end()) {
      return MakeError(SyncErrc::kBadOption, "--db-map sends source dbs " +
                                                 std::to_string(it->second) + " and " +
                                                 std::to_string(src) + " both into db " +
                                                 std::to_string(dst) + "; give each its own db");
    }
    landed[dst] = src;
  }
  return out;
}

int DbMap::Map(int source_db) const {
  auto it = map_.find(source_db);
  return it == map_.end() ? source_db : it->second;
}

Result<int> DbLanding::Land(int source_db) {
  int target_db = map_->Map(source_db);
  if (!single_db_.empty() && target_db != 0) {
    return MakeError(
        SyncErrc::kBadOption,
        "source db " + std::to_string(source_db) + " holds data, and " + single_db_ +
            " has db 0 only. Choose the one source db that goes there with "
            "--db-map " +
            std::to_string(source_db) +
            ":0 (only one source db can land in db 0); a source with data in several dbs "
            "needs a standalone target");
  }
  auto [it, inserted] = source_of_.emplace(target_db, source_db);
  if (!inserted && it->second != source_db) {
    return MakeError(SyncErrc::kBadOption,
                     "source dbs " + std::to_string(it->second) + " and " +
                         std::to_string(source_db) + " would both land in target db " +
                         std::to_string(target_db) +
                         " (dbs that --db-map does not name keep their number), and a key "
                         "present in both would lose one value; map db " +
                         std::to_string(source_db == target_db ? it->second : source_db) +
                         " to a db of its own with --db-map SRC:DST");
  }
  return target_db;
}

}  // namespace kf::sync
