// Reading back what a source propagated since an offset, without applying it: a resumed
// cutover asks whether Redis took writes after its write pause ran out.
//
// The source's master_repl_offset also moves by itself: a primary sends PING to its
// replicas every repl-ping-replica-period (and REPLCONF GETACK for WAIT), so a moved
// offset alone does not prove a write. ReadBacklogSince opens a replica link with
// PSYNC <replid> <from+1>; the primary answers +CONTINUE and sends its backlog from there.
// The commands up to `to` are parsed (src/resp) and counted, PING, REPLCONF, SELECT,
// MULTI and EXEC left out. Nothing is written anywhere; the link is closed at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/uri.h"

namespace kf::control {

struct BacklogWrites {
  uint64_t writes = 0;                // commands that change data
  std::vector<std::string> examples;  // the first few, as "SET key ..." (arguments cut)
};

// The writes in the source's replication stream between offsets `from` (exclusive) and
// `to` (inclusive). Errors: the source cannot be reached, or no longer holds that part of
// its stream (+FULLRESYNC: the backlog moved on, or the replication id changed).
Result<BacklogWrites> ReadBacklogSince(const net::Uri& source, const std::string& replid,
                                       int64_t from, int64_t to);

}  // namespace kf::control
