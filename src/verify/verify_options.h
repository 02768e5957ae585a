// What a verify compares and how hard it may push the servers: mode, re-check rounds,
// TTL tolerance, key filters, databases, rate limit and the sizes that keep memory flat.
//
// The defaults are a full compare of every database with keys on either end, no re-check
// rounds, exact expiries, no rate limit. The parsers here turn CLI text into options and
// say precisely what is wrong with bad text.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kf::verify {

enum class VerifyMode : uint8_t {
  kFull,    // existence, type, expiry and value of every key
  kKeys,    // existence, type and expiry only (no value reads)
  kSample,  // a random fraction of the keys, each compared in full
};

struct VerifyOptions {
  VerifyMode mode = VerifyMode::kFull;
  double sample_rate = 1.0;  // kSample: fraction of keys in (0, 1]
  uint64_t sample_seed = 0;  // kSample: 0 = a random seed

  // Re-check rounds after the first full pass: only keys that differed are read again,
  // `interval` apart, until none differ or the rounds are used up.
  int rounds = 0;
  std::chrono::milliseconds interval{1000};

  // Absolute expiries (PEXPIRETIME) may differ by this much and still count as equal.
  int64_t ttl_tolerance_ms = 0;
  // A key present on one end only whose expiry on that end is at most this far in the
  // future is taken as expiring while it was read, not as a difference.
  int64_t expiry_grace_ms = 1000;

  // Key filters, as in sync (Redis glob syntax): a key is compared when it matches one of
  // `match` (or `match` is empty) and none of `exclude`.
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  // Source databases to compare; empty = every database holding keys on either end.
  std::vector<int> dbs;
  // When not empty, round 1 compares only these keys (source db → keys; filters still
  // apply) instead of scanning both ends. A key absent on both ends counts as equal.
  // `apply` uses it inside the write pause for the keys the stream wrote last.
  std::map<int, std::vector<std::string>> only_keys;
  // "SRC:DST" database mapping, as given to sync (--db-map).
  std::vector<std::string> db_map;
  bool compare_functions = true;

  // At most this many commands per second to each end (0 = no limit).
  uint64_t max_ops = 0;

  size_t scan_batch = 1000;  // SCAN COUNT and keys compared per pipelined batch
  // Values whose MEMORY USAGE on either end is above this are read in windows (ranges and
  // scans); smaller ones are read whole with DUMP and decoded.
  uint64_t big_value_bytes = uint64_t{1} << 20;
  size_t window_elements = 1000;                   // elements per windowed read
  size_t window_bytes = size_t{1} << 20;           // bytes per GETRANGE window
  uint64_t dump_batch_bytes = uint64_t{16} << 20;  // DUMP payload bytes in flight per end

  // Keys that differ are kept for the re-check rounds and the report, up to this many;
  // beyond it they are only counted (and not re-checked).
  size_t max_tracked_keys = 100000;
  // Also list every tracked difference (not only max_examples of them) in
  // VerifyReport::remaining: apply carries them into its in-pause check.
  bool list_remaining = false;
  size_t max_examples = 10;

  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{30000};
};

// "full", "keys" or "sample:RATE" (RATE a fraction in (0, 1], e.g. 0.01, or a percentage
// such as 5%).
Result<void> ParseMode(std::string_view text, VerifyOptions* options);
// The mode as text ("full", "keys", "sample:0.01").
std::string ModeName(const VerifyOptions& options);
// A duration: "250ms", "2s", "1.5s", "1m"; a bare number is seconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// Checks the options for values the engine cannot use.
Result<void> ValidateOptions(const VerifyOptions& options);

}  // namespace kf::verify
