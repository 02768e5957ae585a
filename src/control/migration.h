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
// has a timeout, so the source unpauses by itself) and pauses again.
//
// CUTOVER is the point of no return from the moment the hook starts: "cutover.started" is
// journaled before the hook runs. Before it, any failure rolls back (source unpaused, the
// sync stopped, what PROVISION made removed) and says why. From it on nothing is rolled
// back (abort and rollback refuse): a hook that fails stops the migration as FAILED, and an
// apply run again — after a failure, a crash or SIGKILL in the hook — reports what it knows
// (the source's offset since the cutover started, the target still there), pauses the
// source's writes again, asks (or with auto_approve does not ask) and runs the hook again
// (hooks must be idempotent), then goes on to DECOMMISSION. It never goes back to FULL_SYNC
// or CATCH_UP, never verifies a target the application may already write to, and never
// unpauses the source before the hook has run.
//
// Confirmation is asked once the target has caught up, before writes are paused (a
// question inside the pause would make the pause as long as the operator's answer); while
// it waits, the phase status is "awaiting-confirmation" and the live progress keeps being
// journaled.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "control/journal.h"
#include "control/phase.h"
#include "control/spec.h"
#include "sync/sync_engine.h"
#include "verify/verifier.h"

namespace kf::control {

// The operator's answer to a confirmation question.
enum class Confirmation {
  kYes,
  kNo,       // declined: journaled as declined
  kStopped,  // SIGINT/SIGTERM (keyferry abort) while waiting: journaled as an abort
};

// A live sync engine's stats and the source shard it copies ("" : a standalone source).
struct EngineStats {
  std::string shard;
  const sync::SyncStats* stats = nullptr;
};

struct ApplyOptions {
  bool auto_approve = false;
  // Asks the operator and waits for the answer; must return kStopped soon after *stop is
  // set. Required unless auto_approve.
  std::function<Confirmation(const std::string& question)> confirm;
  // Set by SIGINT/SIGTERM (or `keyferry abort`): stop and roll back if before CUTOVER.
  const std::atomic<bool>* stop = nullptr;
  // One line of progress for the terminal.
  std::function<void(const std::string& line)> print;
  // Live numbers for a progress display (docs/progress.md); both optional, both called on
  // apply's threads. sync_stats: the live sync's stats once its engine starts, nullptr
  // before they are replaced (a new engine) — the pointer stays valid until then, and the
  // callee must not read it after a nullptr call has returned. verify_progress: each
  // progress of a running verify (VERIFY and the live verify of CATCH_UP), nullptr when it
  // ends.
  std::function<void(const sync::SyncStats* stats)> sync_stats;
  std::function<void(const verify::VerifyProgress* progress)> verify_progress;
  // Like sync_stats, per engine: one entry per source shard (named as sync::ShardName) for a
  // cluster source, one with an empty name otherwise; called with none before they are
  // replaced, with the same lifetime rule. For /metrics (observe/migration_metrics.h).
  std::function<void(const std::vector<EngineStats>& engines)> engine_stats;
};

class Migration {
 public:
  Migration(Spec spec, Journal* journal, ApplyOptions options);
  ~Migration();

  // Runs from the journal's phase to DONE. Returns the final phase (DONE, ROLLED_BACK,
  // ABORTED or FAILED); an error only when even the rollback could not be done.
  Result<Phase> Apply();

  // Rolls back a migration whose cutover has not started (used by `keyferry abort` and
  // `rollback` when no apply runs, including one that was killed). Refuses
  // (ControlErrc::kRefused) once the cutover hook has started, with an explanation.
  Result<Phase> Rollback(const std::string& reason);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Journal state keys of the point of no return: "cutover.started" (Unix ms) is written
// before the hook runs, "cutover.done" once it succeeded.
inline constexpr std::string_view kKeyCutoverStarted = "cutover.started";
inline constexpr std::string_view kKeyCutoverDone = "cutover.done";

// Why a rollback is refused once the cutover has started (`finished`: the hook succeeded),
// in words for the operator.
std::string RollbackRefusal(const std::string& target_endpoint, bool finished);

}  // namespace kf::control
