// The apply state machine's transitions (see apply_transitions.h). Pure: no IO.
#include "control/apply_transitions.h"

#include <algorithm>

#include "control/control_errc.h"

namespace kf::control {
namespace {

// The point of no return: the hook started (a done cutover started too).
bool PastPointOfNoReturn(const JournalFacts& facts) {
  return facts.cutover_started || facts.cutover_done;
}

}  // namespace

StepOutcome OutcomeOf(const Result<void>& step) {
  if (step) return StepOutcome::kOk;
  if (step.error().code == make_error_code(ControlErrc::kAborted)) return StepOutcome::kAborted;
  if (step.error().code == make_error_code(ControlErrc::kDeclined)) return StepOutcome::kDeclined;
  return StepOutcome::kFailed;
}

Next NextAfter(Phase phase, StepOutcome outcome, const JournalFacts& facts) {
  if (IsTerminal(phase)) return {NextKind::kNoStep, phase};
  switch (outcome) {
    case StepOutcome::kOk: {
      Phase next = NextPhase(phase).value_or(Phase::kDone);
      if (next == Phase::kDone) return {NextKind::kComplete, Phase::kDone};
      return {NextKind::kRunPhase, next};
    }
    case StepOutcome::kStopped:
      // Past the point of no return a stop request stops nothing: the hook may already have
      // moved the application, and only finishing the migration is safe.
      if (PastPointOfNoReturn(facts)) return {NextKind::kRunPhase, phase};
      return {NextKind::kRollBack, Phase::kAborted};
    case StepOutcome::kFailed:
    case StepOutcome::kAborted:
    case StepOutcome::kDeclined:
      break;
  }
  if (PastPointOfNoReturn(facts)) return {NextKind::kFailAfterCutover, Phase::kFailed};
  // The operator's own stop or "no" is not a failure of the migration: ABORTED.
  return {NextKind::kRollBack,
          outcome == StepOutcome::kFailed ? Phase::kRolledBack : Phase::kAborted};
}

ResumePoint ResumeAt(std::optional<Phase> journaled, const JournalFacts& facts) {
  ResumePoint point;
  const bool cutover_started = PastPointOfNoReturn(facts);
  if (journaled == Phase::kDone) {
    point.already_done = true;
    point.resumed_at = point.entry = Phase::kDone;
    return point;
  }
  point.spec_locked = journaled && (!IsTerminal(*journaled) || cutover_started);
  // A terminal state (ROLLED_BACK, ABORTED, FAILED before the cutover) starts a new
  // migration; past the point of no return the cutover facts decide, whatever the phase
  // says (a failed hook leaves FAILED behind): never back to the copy.
  Phase at = journaled && !IsTerminal(*journaled) ? *journaled : Phase::kPreflight;
  if (facts.cutover_done) {
    at = Phase::kDecommission;
  } else if (cutover_started) {
    at = Phase::kCutover;
    point.cutover_interrupted = true;
  }
  point.resumed_at = at;
  point.entry = at;
  // Inside the write pause, before the hook started, the process that died held the live
  // sync: re-establish it (the source's pause times out by itself) and pause again.
  if (!cutover_started && (at == Phase::kPauseWrites || at == Phase::kDrain ||
                           at == Phase::kVerify || at == Phase::kCutover)) {
    point.back_to_live_sync = true;
    point.entry = Phase::kFullSync;
  }
  point.confirm_target = point.entry == Phase::kFullSync || point.entry == Phase::kCatchUp;
  return point;
}

Phase EntryAfterTargetCheck(Phase entry, bool target_replaced) {
  return target_replaced ? Phase::kFullSync : entry;
}

bool SpecChangeAllowed(const std::vector<std::string>& changed, const JournalFacts& facts) {
  if (!PastPointOfNoReturn(facts) || changed.empty()) return false;
  return std::all_of(changed.begin(), changed.end(), [](const std::string& field) {
    return field.starts_with("cutover.") || field.starts_with("after_cutover.");
  });
}

}  // namespace kf::control
