// FileSourceSteps: the steps of an offline migration whose source is an RDB backup
// (source.rdb_file; docs/restore.md "A file as the source of apply").
//
// apply keeps its phases: PREFLIGHT (doctor reads the file whole, control/doctor.cc),
// PROVISION, FULL_SYNC = Restore() below, CATCH_UP = the operator's confirmation only,
// PAUSE_WRITES and DRAIN = nothing to do (events say so), VERIFY = Verify() below,
// CUTOVER = the hook, DECOMMISSION = nothing (the file is left as it is).
//
// Contract:
//   - Restore() loads the file through sync::RestoreRdb (the snapshot path: transcoding,
//     big values, on_unsupported). Before its first write it journals the file's identity
//     (size and modification time) and that a restore started; a restore that finds that
//     mark (an apply killed part-way) empties the target first — it holds only keyferry's
//     partial copy, flagged by the marker. A failed restore leaves the target empty. The
//     stats get the restore's numbers (keys_written, snapshot bytes and total) while it runs;
//     `save_progress` is called about once a second.
//   - Verify() refuses when the file is no longer the one restored (size or modification
//     time changed), else compares the file with the target key by key
//     (verify::CompareRdbFileWithTarget): values, expiries, key count, function libraries.
//     Any difference is kVerifyMismatch with the first differences in the event and error.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "common/result.h"
#include "control/journal.h"
#include "control/provider.h"  // ProviderEvent
#include "control/spec.h"
#include "net/uri.h"
#include "sync/sync_engine.h"  // SyncStats

namespace kf::control {

// Journal key: the file's "<size> <mtime ns>" when the restore started.
inline constexpr std::string_view kKeySourceFileIdentity = "source.file_identity";

class FileSourceSteps {
 public:
  FileSourceSteps(const Spec& spec, Journal* journal) : spec_(spec), journal_(journal) {}

  Result<void> Restore(const net::Uri& target, const std::atomic<bool>* stop,
                       sync::SyncStats* stats, const std::function<void()>& save_progress,
                       const ProviderEvent& event);
  Result<void> Verify(const net::Uri& target, const ProviderEvent& event);

 private:
  // "<size> <mtime ns>" of the file now; empty with `error` set when it cannot be read.
  std::string Identity(std::string* error) const;

  const Spec& spec_;
  Journal* journal_;
};

}  // namespace kf::control
