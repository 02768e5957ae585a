// Expiry reconciliation inside the write pause: makes the keys the target expired by
// itself (sync/target_expiries.h) equal to the source at a point where neither can change.
//
// For each key: the source's DUMP and PEXPIRETIME are read (a key the source holds but has
// logically expired reads as absent, even while a pause stops the source from deleting
// it); when the source has no value the target's key is deleted (it may have been
// recreated without its TTL by a write that reached the target after its own expiry),
// otherwise the source's value is written with `RESTORE key <expiry> payload ABSTTL
// REPLACE` (re-encoded for the target's RDB version when the source's encoding cannot be
// loaded as is). The source is only read; a cluster source's keys are each read from the
// primary serving their slot (RoutedTarget).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/uri.h"

namespace kf::control {

struct ExpiryReconcile {
  uint64_t keys = 0;      // keys looked at
  uint64_t deleted = 0;   // gone on the source: deleted on the target (if it had them)
  uint64_t restored = 0;  // present on the source: written to the target from it
};

// `keys`: db → keys (the same db numbers on both ends).
Result<ExpiryReconcile> ReconcileExpiredKeys(const net::Uri& source, const net::Uri& target,
                                             const std::map<int, std::vector<std::string>>& keys);

}  // namespace kf::control
