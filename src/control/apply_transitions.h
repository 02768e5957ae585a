// The apply state machine's decisions as pure functions (DESIGN.md §2, issue #11 §1): what
// runs after a phase's step ended, where a resumed apply enters, and which spec changes a
// resume accepts. They read nothing but their arguments — no server, no journal, no clock —
// so every phase × outcome and every resume case is tested without sockets
// (tests/unit/control_transitions_test.cc). Migration::Apply (migration.cc) does the IO: it
// runs a phase's step, reads the journal facts below after it (CUTOVER's step writes them),
// asks NextAfter what follows and carries it out.
//
// The rules (docs/apply.md, "Resume" and "CUTOVER is the point of no return"):
//  - a step that succeeded goes on to the next phase in order, DECOMMISSION to DONE;
//  - before the cutover hook started, a failure rolls back and ends ROLLED_BACK, an abort or
//    a "no" of the operator rolls back and ends ABORTED, and so does a stop request seen
//    between two steps;
//  - from the moment "cutover.started" is journaled nothing is rolled back: a failure, an
//    abort or a "no" stops the migration as FAILED (apply run again finishes it), and a stop
//    request between two steps no longer stops it;
//  - a resumed apply skips completed phases; a crash inside the write pause (PAUSE_WRITES,
//    DRAIN, VERIFY, or CUTOVER before the hook started) goes back to FULL_SYNC to re-establish
//    the live sync; a started cutover resumes at CUTOVER, a done one at DECOMMISSION (also
//    when the journal says FAILED); a copy that resumes in FULL_SYNC or CATCH_UP first has its
//    target confirmed by the provider, and a replaced target starts the copy over at
//    FULL_SYNC.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/phase.h"

namespace kf::control {

// How the step of a phase ended.
enum class StepOutcome {
  kOk,        // the step finished
  kFailed,    // it returned an error: a server, the live sync, a check, the journal, the hook
  kAborted,   // the step saw the operator's stop (SIGINT/SIGTERM, keyferry abort):
              // ControlErrc::kAborted
  kDeclined,  // the operator answered "no" to the confirmation: ControlErrc::kDeclined
  kStopped,   // a stop request seen between two steps, before the phase's step ran
};

// The outcome a step's result stands for (kOk, kFailed, kAborted or kDeclined; never kStopped,
// which Apply sees itself between steps).
StepOutcome OutcomeOf(const Result<void>& step);

// What the journal says that the decisions depend on, read after each step. Either field
// means the point of no return was passed (a done cutover has started).
struct JournalFacts {
  bool cutover_started = false;  // "cutover.started" is journaled: the hook started
  bool cutover_done = false;     // "cutover.done" is journaled: the hook succeeded
};

// What Apply does next.
enum class NextKind {
  kRunPhase,          // run `phase`'s step
  kComplete,          // journal DONE and the final report (`phase` is DONE)
  kRollBack,          // roll back; the migration ends at `phase` (ROLLED_BACK or ABORTED)
  kFailAfterCutover,  // journal FAILED (`phase`), roll nothing back: apply run again finishes
  kNoStep,            // `phase` is a terminal state: it has no step, nothing runs
};

struct Next {
  NextKind kind = NextKind::kNoStep;
  Phase phase = Phase::kPreflight;
  friend bool operator==(const Next&, const Next&) = default;
};

// What follows `phase` whose step ended with `outcome`. For kStopped, `phase` is the phase
// about to run: before the cutover started the migration rolls back to ABORTED, after it
// the phase runs anyway. For a terminal `phase` (DONE, FAILED, ROLLED_BACK, ABORTED),
// whatever the outcome: {kNoStep, phase} (ResumeAt never enters one).
Next NextAfter(Phase phase, StepOutcome outcome, const JournalFacts& facts);

// Where `apply` starts, given the phase the journal holds (nullopt: none, or a name this
// version does not know) and the journal facts.
struct ResumePoint {
  // The journal says DONE: nothing to do (apply says so and returns DONE).
  bool already_done = false;
  // The journal's migration is still under way (a phase before a terminal one, or any phase
  // once the cutover started): its spec must not change, but for SpecChangeAllowed.
  bool spec_locked = false;
  // Where the journal (or the cutover facts) put the migration; PREFLIGHT for a fresh one.
  // Named in the "resuming the migration at" event.
  Phase resumed_at = Phase::kPreflight;
  // The phase whose step runs first.
  Phase entry = Phase::kPreflight;
  // entry is CUTOVER because the hook had started: run it again, never back to the copy.
  bool cutover_interrupted = false;
  // A crash inside the write pause, before the hook started: resumed_at was PAUSE_WRITES,
  // DRAIN, VERIFY or CUTOVER and entry is FULL_SYNC (the live sync is re-established and
  // writes are paused again).
  bool back_to_live_sync = false;
  // entry is FULL_SYNC or CATCH_UP: the copy needs the target it wrote into, which the
  // provider confirms first (EntryAfterTargetCheck).
  bool confirm_target = false;
  friend bool operator==(const ResumePoint&, const ResumePoint&) = default;
};
ResumePoint ResumeAt(std::optional<Phase> journaled, const JournalFacts& facts);

// The entry once the provider confirmed the target (ResumePoint::confirm_target): a target
// that is not the one the copy wrote into (a new one replaced it) holds nothing, so the copy
// starts over at FULL_SYNC; the same target keeps `entry`.
Phase EntryAfterTargetCheck(Phase entry, bool target_replaced);

// Whether a resume accepts a spec whose fields `changed` (Spec dotted paths, "origin" left
// out) differ from the journaled one: only past the point of no return, and only changes to
// cutover.* and after_cutover.* (fixing a broken hook is how a failed cutover is finished).
bool SpecChangeAllowed(const std::vector<std::string>& changed, const JournalFacts& facts);

}  // namespace kf::control
