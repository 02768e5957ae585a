// Phase names and order: see phase.h.
#include "control/phase.h"

namespace kf::control {
namespace {

struct PhaseEntry {
  Phase phase;
  std::string_view name;
};

constexpr PhaseEntry kPhaseNames[] = {
    {Phase::kPreflight, "PREFLIGHT"},
    {Phase::kProvision, "PROVISION"},
    {Phase::kFullSync, "FULL_SYNC"},
    {Phase::kCatchUp, "CATCH_UP"},
    {Phase::kPauseWrites, "PAUSE_WRITES"},
    {Phase::kDrain, "DRAIN"},
    {Phase::kVerify, "VERIFY"},
    {Phase::kCutover, "CUTOVER"},
    {Phase::kDecommission, "DECOMMISSION"},
    {Phase::kDone, "DONE"},
    {Phase::kFailed, "FAILED"},
    {Phase::kRolledBack, "ROLLED_BACK"},
    {Phase::kAborted, "ABORTED"},
};

struct StatusEntry {
  PhaseStatus status;
  std::string_view name;
};

constexpr StatusEntry kStatusNames[] = {
    {PhaseStatus::kRunning, "running"},
    {PhaseStatus::kDone, "done"},
    {PhaseStatus::kFailed, "failed"},
    {PhaseStatus::kRollingBack, "rolling-back"},
    {PhaseStatus::kAwaitingConfirmation, "awaiting-confirmation"},
};

}  // namespace

std::string_view PhaseName(Phase phase) {
  for (const auto& e : kPhaseNames) {
    if (e.phase == phase) return e.name;
  }
  return "UNKNOWN";
}

std::optional<Phase> ParsePhase(std::string_view name) {
  for (const auto& e : kPhaseNames) {
    if (e.name == name) return e.phase;
  }
  return std::nullopt;
}

bool IsTerminal(Phase phase) {
  return phase == Phase::kDone || phase == Phase::kFailed || phase == Phase::kRolledBack ||
         phase == Phase::kAborted;
}

bool IsBeforeCutover(Phase phase) {
  switch (phase) {
    case Phase::kPreflight:
    case Phase::kProvision:
    case Phase::kFullSync:
    case Phase::kCatchUp:
    case Phase::kPauseWrites:
    case Phase::kDrain:
    case Phase::kVerify:
      return true;
    default:
      return false;
  }
}

std::optional<Phase> NextPhase(Phase phase) {
  for (size_t i = 0; i + 1 < kForwardPhases.size(); ++i) {
    if (kForwardPhases[i] == phase) return kForwardPhases[i + 1];
  }
  return std::nullopt;
}

std::string_view PhaseStatusName(PhaseStatus status) {
  for (const auto& e : kStatusNames) {
    if (e.status == status) return e.name;
  }
  return "unknown";
}

std::optional<PhaseStatus> ParsePhaseStatus(std::string_view name) {
  for (const auto& e : kStatusNames) {
    if (e.name == name) return e.status;
  }
  return std::nullopt;
}

}  // namespace kf::control
