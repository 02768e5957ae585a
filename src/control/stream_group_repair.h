// Stream consumer-group repair: makes each group's entries-read on the target equal to
// the source's, at a point where it cannot change (inside the write pause, after DRAIN).
//
// Why: Redis 7.0 to 7.4 propagate XREADGROUP (and XCLAIM, XAUTOCLAIM) to replicas as
// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`, which
// moves the group's last-delivered id on the target but not its entries-read (a native
// replica then shows entries-read as nil; keyferry's target showed a stale count). Only
// XREADGROUP ... NOACK is propagated as `XGROUP SETID ... ENTRIESREAD n`, which is exact.
// XINFO GROUPS `lag` is derived from entries-read and the stream's own counters (which
// the stream replicates exactly), so repairing entries-read repairs lag too.
//
// RepairStreamGroups reads XINFO GROUPS of each named stream on the source and, for every
// group the target also has, sends `XGROUP SETID key group <source last id> ENTRIESREAD
// <source entries-read or -1 when unknown>` to the target, pipelined per batch of keys. Keys
// that are not streams on the source, or not on the target, and groups the target lacks
// are left alone: the in-pause verify reports those. The source is only read; a cluster
// source's streams are each read from the primary serving their slot (RoutedTarget).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/uri.h"

namespace kf::control {

struct StreamGroupRepair {
  uint64_t streams_read = 0;    // stream keys read on the source
  uint64_t groups_set = 0;      // XGROUP SETID sent and answered OK
  uint64_t groups_changed = 0;  // of those, groups whose entries-read or last id differed
};

// `keys`: source db → stream keys (the target uses the same db numbers).
Result<StreamGroupRepair> RepairStreamGroups(const net::Uri& source, const net::Uri& target,
                                             const std::map<int, std::vector<std::string>>& keys);

// Every key of type stream on the source, by db (SCAN ... TYPE stream over the databases
// INFO keyspace lists; for a cluster source, on every primary serving slots). Used when a
// resumed sync could not track which groups the stream changed before the resume.
Result<std::map<int, std::vector<std::string>>> SourceStreamKeys(const net::Uri& source);

}  // namespace kf::control
