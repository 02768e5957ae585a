// Migration: `keyferry apply` — the persisted state machine that moves a Redis deployment to
// a newly provisioned Valkey (DESIGN.md §1; decisions in docs/apply.md).
//
//   PREFLIGHT → PROVISION → FULL_SYNC → CATCH_UP → PAUSE_WRITES → DRAIN → VERIFY → CUTOVER
//   → DECOMMISSION → DONE
//
// Every phase start, finish and failure is an event in the journal, and the current phase
// is journal state, so `apply` run again after a crash or SIGKILL resumes where it was:
// completed phases are not repeated, the live sync continues from its checkpoint
// (PSYNC CONTINUE), and a crash inside the write pause goes back to CATCH_UP (the pause
// has a timeout, so the source unpauses by itself) and pauses again. CUTOVER is the point
// of no return: before it any failure rolls back (source unpaused, the sync stopped,
// what PROVISION made removed) and says why; after it nothing is rolled back.
//
// Confirmation is asked once the target has caught up, before writes are paused (a
// question inside the pause would make the pause as long as the operator's answer).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "control/journal.h"
#include "control/phase.h"
#include "control/spec.h"

namespace kf::control {

struct ApplyOptions {
  bool auto_approve = false;
  // Asks the operator; returns true for yes. Required unless auto_approve.
  std::function<bool(const std::string& question)> confirm;
  // Set by SIGINT/SIGTERM (or `keyferry abort`): stop and roll back if before CUTOVER.
  const std::atomic<bool>* stop = nullptr;
  // One line of progress for the terminal.
  std::function<void(const std::string& line)> print;
};

class Migration {
 public:
  Migration(Spec spec, Journal* journal, ApplyOptions options);
  ~Migration();

  // Runs from the journal's phase to DONE. Returns the final phase (DONE, ROLLED_BACK,
  // ABORTED or FAILED); an error only when even the rollback could not be done.
  Result<Phase> Apply();

  // Rolls back a migration that has not cut over (used by `keyferry abort` when no apply
  // runs). Refuses after CUTOVER with an explanation.
  Result<Phase> Rollback(const std::string& reason);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Why a rollback after cutover is refused, in words for the operator.
std::string RollbackRefusal(const std::string& target_endpoint);

}  // namespace kf::control
