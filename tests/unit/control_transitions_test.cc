// The apply state machine's transitions (control/apply_transitions.h), without sockets: every
// phase × step outcome before and after the point of no return, every resume case, and the
// spec changes a resume accepts. Expected values are written out, not recomputed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/apply_transitions.h"
#include "control/control_errc.h"
#include "control/phase.h"
#include "net/errc.h"

namespace kf::control {
namespace {

// The phases that have a step, in order.
constexpr Phase kStepPhases[] = {Phase::kPreflight, Phase::kProvision,   Phase::kFullSync,
                                 Phase::kCatchUp,   Phase::kPauseWrites, Phase::kDrain,
                                 Phase::kVerify,    Phase::kCutover,     Phase::kDecommission};
constexpr Phase kTerminalPhases[] = {Phase::kDone, Phase::kFailed, Phase::kRolledBack,
                                     Phase::kAborted};
constexpr StepOutcome kAllOutcomes[] = {StepOutcome::kOk, StepOutcome::kFailed,
                                        StepOutcome::kAborted, StepOutcome::kDeclined,
                                        StepOutcome::kStopped};

const JournalFacts kBeforeCutover{};
const JournalFacts kCutoverStarted{.cutover_started = true, .cutover_done = false};
const JournalFacts kCutoverDone{.cutover_started = true, .cutover_done = true};
// "cutover.done" alone (its "cutover.started" lost) is past the point of no return too.
const JournalFacts kOnlyCutoverDone{.cutover_started = false, .cutover_done = true};

std::string Name(StepOutcome o) {
  switch (o) {
    case StepOutcome::kOk:
      return "ok";
    case StepOutcome::kFailed:
      return "failed";
    case StepOutcome::kAborted:
      return "aborted";
    case StepOutcome::kDeclined:
      return "declined";
    case StepOutcome::kStopped:
      return "stopped";
  }
  return "?";
}

std::string Name(NextKind k) {
  switch (k) {
    case NextKind::kRunPhase:
      return "run";
    case NextKind::kComplete:
      return "complete";
    case NextKind::kRollBack:
      return "roll back";
    case NextKind::kFailAfterCutover:
      return "fail after cutover";
    case NextKind::kNoStep:
      return "no step";
  }
  return "?";
}

std::string Show(const Next& n) { return Name(n.kind) + " " + std::string(PhaseName(n.phase)); }

std::string Case(Phase p, StepOutcome o, const char* facts) {
  return std::string(PhaseName(p)) + " × " + Name(o) + " (" + facts + ")";
}

TEST(ControlTransitions, OkGoesToTheNextPhaseInOrderWhateverTheJournalSays) {
  const std::vector<std::pair<Phase, Next>> expected = {
      {Phase::kPreflight, {NextKind::kRunPhase, Phase::kProvision}},
      {Phase::kProvision, {NextKind::kRunPhase, Phase::kFullSync}},
      {Phase::kFullSync, {NextKind::kRunPhase, Phase::kCatchUp}},
      {Phase::kCatchUp, {NextKind::kRunPhase, Phase::kPauseWrites}},
      {Phase::kPauseWrites, {NextKind::kRunPhase, Phase::kDrain}},
      {Phase::kDrain, {NextKind::kRunPhase, Phase::kVerify}},
      {Phase::kVerify, {NextKind::kRunPhase, Phase::kCutover}},
      {Phase::kCutover, {NextKind::kRunPhase, Phase::kDecommission}},
      {Phase::kDecommission, {NextKind::kComplete, Phase::kDone}},
  };
  ASSERT_EQ(expected.size(), std::size(kStepPhases));
  for (const auto& [phase, next] : expected) {
    for (const auto* facts : {&kBeforeCutover, &kCutoverStarted, &kCutoverDone}) {
      Next got = NextAfter(phase, StepOutcome::kOk, *facts);
      EXPECT_EQ(got, next) << PhaseName(phase) << ": " << Show(got);
    }
  }
}

TEST(ControlTransitions, BeforeTheHookStartedEveryFailureRollsBack) {
  for (Phase phase : kStepPhases) {
    Next failed = NextAfter(phase, StepOutcome::kFailed, kBeforeCutover);
    EXPECT_EQ(failed, (Next{NextKind::kRollBack, Phase::kRolledBack}))
        << Case(phase, StepOutcome::kFailed, "before cutover") << ": " << Show(failed);
    // The operator's abort, "no", or a stop between steps: rolled back, ending ABORTED.
    for (StepOutcome o : {StepOutcome::kAborted, StepOutcome::kDeclined, StepOutcome::kStopped}) {
      Next got = NextAfter(phase, o, kBeforeCutover);
      EXPECT_EQ(got, (Next{NextKind::kRollBack, Phase::kAborted}))
          << Case(phase, o, "before cutover") << ": " << Show(got);
    }
  }
}

TEST(ControlTransitions, AfterTheHookStartedNothingIsRolledBack) {
  for (const auto& [facts, label] :
       {std::pair{&kCutoverStarted, "cutover.started"}, std::pair{&kCutoverDone, "cutover.done"},
        std::pair{&kOnlyCutoverDone, "only cutover.done"}}) {
    for (Phase phase : kStepPhases) {
      for (StepOutcome o : {StepOutcome::kFailed, StepOutcome::kAborted, StepOutcome::kDeclined}) {
        Next got = NextAfter(phase, o, *facts);
        EXPECT_EQ(got, (Next{NextKind::kFailAfterCutover, Phase::kFailed}))
            << Case(phase, o, label) << ": " << Show(got);
      }
      // A stop request between steps no longer stops it: the phase runs.
      Next stopped = NextAfter(phase, StepOutcome::kStopped, *facts);
      EXPECT_EQ(stopped, (Next{NextKind::kRunPhase, phase}))
          << Case(phase, StepOutcome::kStopped, label) << ": " << Show(stopped);
    }
  }
}

TEST(ControlTransitions, TerminalStatesHaveNoStep) {
  for (Phase phase : kTerminalPhases) {
    for (StepOutcome o : kAllOutcomes) {
      for (const auto* facts : {&kBeforeCutover, &kCutoverStarted, &kCutoverDone}) {
        Next got = NextAfter(phase, o, *facts);
        EXPECT_EQ(got, (Next{NextKind::kNoStep, phase}))
            << Case(phase, o, "any") << ": " << Show(got);
      }
    }
  }
}

TEST(ControlTransitions, AWholeRunAndTheHooksAbortRace) {
  // Every step succeeds: the forward order, then DONE.
  std::vector<Phase> walked;
  Next next{NextKind::kRunPhase, Phase::kPreflight};
  for (int guard = 0; next.kind == NextKind::kRunPhase && guard < 20; ++guard) {
    walked.push_back(next.phase);
    next = NextAfter(next.phase, StepOutcome::kOk, kBeforeCutover);
  }
  EXPECT_EQ(walked, std::vector<Phase>(std::begin(kStepPhases), std::end(kStepPhases)));
  EXPECT_EQ(next, (Next{NextKind::kComplete, Phase::kDone}));

  // CUTOVER aborted before "cutover.started" was journaled (or with it erased again after
  // the race with an abort): rolled back. Aborted after it was journaled: FAILED.
  EXPECT_EQ(NextAfter(Phase::kCutover, StepOutcome::kAborted, kBeforeCutover),
            (Next{NextKind::kRollBack, Phase::kAborted}));
  EXPECT_EQ(NextAfter(Phase::kCutover, StepOutcome::kAborted, kCutoverStarted),
            (Next{NextKind::kFailAfterCutover, Phase::kFailed}));
  // The hook failed (it had started): FAILED, and DECOMMISSION failing after it too.
  EXPECT_EQ(NextAfter(Phase::kCutover, StepOutcome::kFailed, kCutoverStarted),
            (Next{NextKind::kFailAfterCutover, Phase::kFailed}));
  EXPECT_EQ(NextAfter(Phase::kDecommission, StepOutcome::kFailed, kCutoverDone),
            (Next{NextKind::kFailAfterCutover, Phase::kFailed}));
}

TEST(ControlTransitions, OutcomeOfAStepsResult) {
  EXPECT_EQ(OutcomeOf(Result<void>()), StepOutcome::kOk);
  EXPECT_EQ(OutcomeOf(MakeError(ControlErrc::kAborted, "aborted by the operator")),
            StepOutcome::kAborted);
  EXPECT_EQ(OutcomeOf(MakeError(ControlErrc::kDeclined, "the operator declined")),
            StepOutcome::kDeclined);
  for (ControlErrc e :
       {ControlErrc::kPhaseFailed, ControlErrc::kHookFailed, ControlErrc::kVerifyMismatch,
        ControlErrc::kProvisionFailed, ControlErrc::kPreflightFailed, ControlErrc::kJournalIo}) {
    EXPECT_EQ(OutcomeOf(MakeError(e, "x")), StepOutcome::kFailed) << static_cast<int>(e);
  }
  EXPECT_EQ(OutcomeOf(MakeError(net::NetErrc::kTimeout, "the source did not answer")),
            StepOutcome::kFailed);
}

// --- Resume ------------------------------------------------------------------------------

struct ResumeCase {
  const char* name;
  std::optional<Phase> journaled;
  JournalFacts facts;
  ResumePoint expected;
};

TEST(ControlTransitions, ResumeEntryForEveryJournaledPhase) {
  auto point = [](Phase at, Phase entry, bool locked) {
    ResumePoint p;
    p.resumed_at = at;
    p.entry = entry;
    p.spec_locked = locked;
    p.confirm_target = entry == Phase::kFullSync || entry == Phase::kCatchUp;
    return p;
  };
  auto back_to_sync = [&](Phase at) {
    ResumePoint p = point(at, Phase::kFullSync, true);
    p.back_to_live_sync = true;
    return p;
  };
  auto interrupted = [&](bool locked) {
    ResumePoint p = point(Phase::kCutover, Phase::kCutover, locked);
    p.cutover_interrupted = true;
    return p;
  };
  ResumePoint done;
  done.already_done = true;
  done.resumed_at = done.entry = Phase::kDone;
  const ResumePoint fresh = point(Phase::kPreflight, Phase::kPreflight, false);

  const std::vector<ResumeCase> cases = {
      {"no journal phase", std::nullopt, kBeforeCutover, fresh},
      {"DONE", Phase::kDone, kBeforeCutover, done},
      {"DONE after the cutover", Phase::kDone, kCutoverDone, done},
      // Completed phases are not repeated; the copy's phases confirm their target.
      {"PREFLIGHT", Phase::kPreflight, kBeforeCutover,
       point(Phase::kPreflight, Phase::kPreflight, true)},
      {"PROVISION", Phase::kProvision, kBeforeCutover,
       point(Phase::kProvision, Phase::kProvision, true)},
      {"FULL_SYNC", Phase::kFullSync, kBeforeCutover,
       point(Phase::kFullSync, Phase::kFullSync, true)},
      {"CATCH_UP", Phase::kCatchUp, kBeforeCutover, point(Phase::kCatchUp, Phase::kCatchUp, true)},
      // A crash inside the write pause, before the hook started: back to the live sync.
      {"PAUSE_WRITES", Phase::kPauseWrites, kBeforeCutover, back_to_sync(Phase::kPauseWrites)},
      {"DRAIN", Phase::kDrain, kBeforeCutover, back_to_sync(Phase::kDrain)},
      {"VERIFY", Phase::kVerify, kBeforeCutover, back_to_sync(Phase::kVerify)},
      {"CUTOVER before the hook", Phase::kCutover, kBeforeCutover, back_to_sync(Phase::kCutover)},
      // A started cutover resumes at CUTOVER (run the hook again), whatever the phase says.
      {"CUTOVER after the hook started", Phase::kCutover, kCutoverStarted, interrupted(true)},
      {"FAILED after the hook started", Phase::kFailed, kCutoverStarted, interrupted(true)},
      {"VERIFY with cutover.started", Phase::kVerify, kCutoverStarted, interrupted(true)},
      {"unknown phase name with cutover.started", std::nullopt, kCutoverStarted,
       interrupted(false)},
      // A done cutover leaves only DECOMMISSION, also when the journal says FAILED.
      {"CUTOVER done", Phase::kCutover, kCutoverDone,
       point(Phase::kDecommission, Phase::kDecommission, true)},
      {"FAILED in DECOMMISSION", Phase::kFailed, kCutoverDone,
       point(Phase::kDecommission, Phase::kDecommission, true)},
      {"DECOMMISSION", Phase::kDecommission, kCutoverDone,
       point(Phase::kDecommission, Phase::kDecommission, true)},
      {"only cutover.done", Phase::kCutover, kOnlyCutoverDone,
       point(Phase::kDecommission, Phase::kDecommission, true)},
      // Finished before the cutover: a new migration starts, and may have another spec.
      {"ROLLED_BACK", Phase::kRolledBack, kBeforeCutover, fresh},
      {"ABORTED", Phase::kAborted, kBeforeCutover, fresh},
      {"FAILED before the cutover", Phase::kFailed, kBeforeCutover, fresh},
  };
  for (const ResumeCase& c : cases) {
    ResumePoint got = ResumeAt(c.journaled, c.facts);
    EXPECT_EQ(got.already_done, c.expected.already_done) << c.name;
    EXPECT_EQ(got.spec_locked, c.expected.spec_locked) << c.name;
    EXPECT_EQ(got.resumed_at, c.expected.resumed_at) << c.name << ": " << PhaseName(got.resumed_at);
    EXPECT_EQ(got.entry, c.expected.entry) << c.name << ": " << PhaseName(got.entry);
    EXPECT_EQ(got.cutover_interrupted, c.expected.cutover_interrupted) << c.name;
    EXPECT_EQ(got.back_to_live_sync, c.expected.back_to_live_sync) << c.name;
    EXPECT_EQ(got.confirm_target, c.expected.confirm_target) << c.name;
  }
}

TEST(ControlTransitions, AReplacedTargetStartsTheCopyOver) {
  EXPECT_EQ(EntryAfterTargetCheck(Phase::kCatchUp, /*target_replaced=*/true), Phase::kFullSync);
  EXPECT_EQ(EntryAfterTargetCheck(Phase::kCatchUp, /*target_replaced=*/false), Phase::kCatchUp);
  EXPECT_EQ(EntryAfterTargetCheck(Phase::kFullSync, /*target_replaced=*/true), Phase::kFullSync);
  EXPECT_EQ(EntryAfterTargetCheck(Phase::kFullSync, /*target_replaced=*/false), Phase::kFullSync);
  // A crash in DRAIN with the target gone: back to the live sync, then a new target and the
  // copy from the start.
  ResumePoint p = ResumeAt(Phase::kDrain, kBeforeCutover);
  ASSERT_TRUE(p.confirm_target);
  EXPECT_EQ(EntryAfterTargetCheck(p.entry, true), Phase::kFullSync);
}

TEST(ControlTransitions, SpecChangesAResumeAccepts) {
  const std::vector<std::string> hook = {"cutover.hook"};
  const std::vector<std::string> hook_and_source = {"after_cutover.source", "cutover.hook"};
  const std::vector<std::string> hook_and_verify = {"cutover.hook", "migration.verify"};
  const std::vector<std::string> target = {"target.local.port"};
  // Before the point of no return no change is accepted, not even the hook's.
  EXPECT_FALSE(SpecChangeAllowed(hook, kBeforeCutover));
  EXPECT_FALSE(SpecChangeAllowed(target, kBeforeCutover));
  for (const auto* facts : {&kCutoverStarted, &kCutoverDone, &kOnlyCutoverDone}) {
    EXPECT_TRUE(SpecChangeAllowed(hook, *facts));
    EXPECT_TRUE(SpecChangeAllowed(hook_and_source, *facts));
    EXPECT_TRUE(SpecChangeAllowed({"cutover.hook_timeout_s"}, *facts));
    EXPECT_FALSE(SpecChangeAllowed(hook_and_verify, *facts));
    EXPECT_FALSE(SpecChangeAllowed(target, *facts));
    // A fingerprint that differs with no field named (an unreadable journaled spec): refused.
    EXPECT_FALSE(SpecChangeAllowed({}, *facts));
    // "cutover" is a prefix only with its dot.
    EXPECT_FALSE(SpecChangeAllowed({"cutover_extra"}, *facts));
  }
}

}  // namespace
}  // namespace kf::control
