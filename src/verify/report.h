// The result of a verify: what differs (per kind, with examples naming db and key), how
// each re-check round went, how much was read and how fast; and its two renderings, a
// human report and one JSON document.
//
// A Difference is one key (or one function library) that still differed after the last
// round that re-checked it; it carries every issue found on that key (a key can differ in
// value and expiry at once). Counts per kind count issues; differing_keys counts keys.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kf::verify {

enum class DiffKind : uint8_t {
  kMissing,   // the key is on the source but not on the target
  kExtra,     // the key is on the target but not on the source
  kType,      // both have it with different types
  kValue,     // same type, different content
  kTtl,       // different absolute expiry (beyond the tolerance), or one has none
  kFunction,  // a function library missing, extra or with different code
};
inline constexpr size_t kDiffKindCount = 6;

// "missing", "extra", "type", "value", "ttl", "function".
const char* DiffKindName(DiffKind kind);
// "missing on target", "extra on target", ... for the human report.
const char* DiffKindTitle(DiffKind kind);

struct KeyIssue {
  DiffKind kind = DiffKind::kValue;
  std::string detail;  // what differs, e.g. "element 12: \"a\" vs \"b\"" (printable)
  friend bool operator==(const KeyIssue&, const KeyIssue&) = default;
};

struct Difference {
  int source_db = -1;  // -1: no source database maps to target_db; also for libraries
  int target_db = -1;
  std::string key;  // raw key bytes; the library name for kFunction
  bool is_function = false;
  std::vector<KeyIssue> issues;
  int first_round = 1;  // round that first found it
  int last_round = 1;   // last round that found it (it survived every round up to here)
};

struct RoundSummary {
  int round = 1;
  uint64_t keys_checked = 0;    // keys (and libraries) read in this round
  uint64_t differing_keys = 0;  // still differing at the end of this round
  int64_t elapsed_ms = 0;
};

struct VerifyReport {
  bool equal = false;
  std::string mode;    // "full", "keys", "sample:0.01"
  std::string source;  // endpoints as printed (passwords masked)
  std::string target;
  std::vector<int> source_dbs;  // databases compared (source numbering)

  std::array<uint64_t, kDiffKindCount> counts{};  // issues per kind after the last round
  uint64_t differing_keys = 0;  // keys and libraries still differing (tracked + untracked)
  std::vector<Difference> examples;
  // With VerifyOptions::list_remaining: every tracked difference (functions first), so a
  // caller can compare exactly those keys again; empty otherwise. Untracked keys (beyond
  // max_tracked_keys) are never listed: check untracked_keys.
  std::vector<Difference> remaining;
  std::vector<RoundSummary> rounds;

  uint64_t source_keys_checked = 0;  // round 1: keys found on the source and compared
  uint64_t target_keys_scanned = 0;  // round 1: keys found on the target (extra-key pass)
  uint64_t keys_vanished = 0;        // gone from both ends, or expiring, while being read
  uint64_t big_keys_windowed = 0;    // values read in windows instead of whole
  // Keys found differing in round 1 beyond max_tracked_keys: counted, not re-checked.
  uint64_t untracked_keys = 0;
  std::vector<std::string> notes;  // warnings about what could not be compared as asked

  int64_t elapsed_ms = 0;
  double keys_per_second = 0;  // round 1: keys checked (both passes) per second
};

std::string ReportToText(const VerifyReport& report);
std::string ReportToJson(const VerifyReport& report);

}  // namespace kf::verify
