// Verify: prove that a target holds what a source holds.
//
// Verify() is the whole comparison, usable as a library (the CLI's `keyferry verify` and
// the migration's VERIFY phase both call it):
//
//  Round 1 (the full pass), for every database pair (source db → target db):
//   1. SCAN the source in batches; for each batch, pipelined on both ends at once:
//      TYPE, PEXPIRETIME and (value modes) MEMORY USAGE. Missing keys, type and expiry
//      differences come out of this step.
//   2. Values: keys whose MEMORY USAGE is at most big_value_bytes on both ends are read
//      with DUMP (batches bounded by dump_batch_bytes), decoded with rdb::DecodeDumpPayload
//      and compared logically (value_compare.h) — payload bytes are never compared, since
//      engines encode differently. Bigger keys (or keys whose size is unknown, or whose
//      DUMP cannot be decoded) are compared in windows (windowed_compare.h).
//   3. SCAN the target; keys the source lacks (EXISTS, pipelined) are read again on both
//      ends as in step 1: extra keys.
//   4. Function libraries (FUNCTION LIST WITHCODE): by name, engine and code.
//  With VerifyOptions::only_keys, steps 1–3 are replaced by steps 1–2 over the named keys
//  only (no scans): apply checks the keys written last that way inside the write pause.
//  Rounds 2..1+rounds, `interval` apart: only the keys (and libraries) that differed are
//  read again, the same way; keys that now match are dropped. A live sync's keys in flight
//  converge; what remains after the last round is reported with the rounds it survived.
//
// Memory stays bounded: one batch of keys and one DUMP budget per end, one window for big
// values, and the set of differing keys (capped at max_tracked_keys; beyond it keys are
// counted, not kept, and the report says so).
//
// Keys that disappear from both ends between the scan and the read, or that are present
// on one end only with an expiry due within expiry_grace_ms, are not differences (they
// are counted as vanished). A key changing type or value between rounds is simply read
// again. I/O failures, a server restarting, or error replies the compare cannot go past
// (LOADING, NOPERM) end the verify with an error — never with "equal".
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/result.h"
#include "net/uri.h"
#include "verify/report.h"
#include "verify/verify_options.h"

namespace kf::verify {

struct VerifyProgress {
  int round = 1;
  int last_round = 1;         // 1 + options.rounds
  std::string_view phase;     // "source keys", "target keys", "functions", "re-check", "waiting"
  int db = -1;                // source db being read (-1 when none)
  uint64_t keys_checked = 0;  // in this round so far
  // Keys round 1 is expected to check: the named keys (only_keys), or the source's DBSIZE
  // of every db compared (times the sample rate) read as it began — an estimate while the
  // source takes writes. 0 in the re-check rounds, or when unknown.
  uint64_t keys_expected = 0;
  uint64_t differing_keys = 0;  // tracked + untracked, as of now
  int64_t elapsed_ms = 0;       // since the verify started
};

// Called on the verify's thread after each batch and at each phase change; keep it short.
using ProgressCallback = std::function<void(const VerifyProgress&)>;

// Compares `source` with `target`. Returns the report (equal or not), or an error when the
// comparison could not be completed (unreachable end, lost connection, server error,
// stopped through `stop`). Never returns a report that claims more than was read.
Result<VerifyReport> Verify(const net::Uri& source, const net::Uri& target,
                            const VerifyOptions& options, const ProgressCallback& progress = {},
                            const std::atomic<bool>* stop = nullptr);

}  // namespace kf::verify
