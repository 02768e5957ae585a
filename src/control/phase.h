// The phases of a migration (DESIGN.md §1), shared by the apply state machine, the journal,
// status/events and the dashboard. Names are the journal's spelling ("FULL_SYNC"), so they
// are part of the on-disk format: never rename one.
//
// Forward order: PREFLIGHT → PROVISION → FULL_SYNC → CATCH_UP → PAUSE_WRITES → DRAIN →
// VERIFY → CUTOVER → DECOMMISSION → DONE. FAILED, ROLLED_BACK and ABORTED are the other
// terminal states. CUTOVER is the point of no return: a phase before it can be undone.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace kf::control {

enum class Phase {
  kPreflight,
  kProvision,
  kFullSync,
  kCatchUp,
  kPauseWrites,
  kDrain,
  kVerify,
  kCutover,
  kDecommission,
  kDone,
  // Terminal states outside the forward order.
  kFailed,
  kRolledBack,
  kAborted,
};

// PREFLIGHT .. DONE in the order apply walks them.
inline constexpr std::array<Phase, 10> kForwardPhases = {
    Phase::kPreflight,    Phase::kProvision, Phase::kFullSync, Phase::kCatchUp,
    Phase::kPauseWrites,  Phase::kDrain,     Phase::kVerify,   Phase::kCutover,
    Phase::kDecommission, Phase::kDone};

// "FULL_SYNC" etc. Never empty.
std::string_view PhaseName(Phase phase);
// The inverse of PhaseName; exact (upper case) names only. nullopt for anything else.
std::optional<Phase> ParsePhase(std::string_view name);

// DONE, FAILED, ROLLED_BACK, ABORTED: nothing runs after them.
bool IsTerminal(Phase phase);
// PREFLIGHT .. VERIFY: a failure here can still be rolled back (the source is unchanged and
// what PROVISION made can be removed).
bool IsBeforeCutover(Phase phase);
// The next phase in kForwardPhases; nullopt for DONE and the other terminal states.
std::optional<Phase> NextPhase(Phase phase);

// The status of the current phase, as kept in the journal under kKeyPhaseStatus.
enum class PhaseStatus {
  kRunning,              // started, not finished (after a crash: to be resumed)
  kDone,                 // finished; the next phase has not started yet
  kFailed,               // failed; rollback decides what follows
  kRollingBack,          // undoing what earlier phases made
  kAwaitingConfirmation  // apply waits for the operator's answer (the live sync goes on)
};

std::string_view PhaseStatusName(PhaseStatus status);  // "running", "done", ...
std::optional<PhaseStatus> ParsePhaseStatus(std::string_view name);

}  // namespace kf::control
