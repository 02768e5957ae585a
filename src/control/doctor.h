// Doctor: `keyferry doctor -f SPEC` — checks that explain why a migration cannot go on,
// each with what to do. Nothing here changes either server's data: permissions are probed
// with ACL DRYRUN, states are read from INFO, a write pause is found with a PUBLISH to a
// channel nobody subscribes to (held by CLIENT PAUSE, changes nothing), the journal is
// opened read-only, and the local valkey-server binary is only asked for its --version.
//
// Checks: connectivity and login of source and target (a refused password names the
// environment variable the spec takes it from); the ACL permissions each phase needs (named
// as ACL SETUSER spells them, e.g. +client|pause); source/target states that block a step
// (loading, BGSAVE or AOF rewrite in progress, not a primary, writes paused); a target that
// is not the engine and version the spec asks for (local: `valkey-server --version`;
// external: INFO server); an external target that is the source itself (same run_id) or
// holds keys keyferry did not write; a fixed target port that something else already uses;
// memory headroom on the target for the source's dataset; the cutover hook's program
// (relative to the spec's directory); data the target cannot hold (hash-field TTLs for a
// Valkey 8 target); drift between the journal and reality (a provisioned node that is gone,
// its port now used by something else).
//
// PREFLIGHT runs the same checks (RunChecks with for_preflight) and refuses on any FAIL,
// so apply and doctor never disagree about what blocks a migration.
#pragma once

#include <string>
#include <vector>

#include "control/spec.h"

namespace kf::control {

enum class CheckStatus { kOk, kWarn, kFail };

struct DoctorCheck {
  std::string name;  // "source.permissions"
  CheckStatus status = CheckStatus::kOk;
  std::string detail;  // what was found
  std::string action;  // what to do (empty when ok)
};

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  bool ok() const;  // no kFail
  std::string ToText() const;
  std::string ToJson() const;
};

class Journal;

// Every check. `journal` (may be null) tells what keyferry already did: a provisioned
// target (drift), an external target keyferry wrote to (not "someone else's keys").
// for_preflight leaves out what PROVISION handles itself (a provisioned target that is
// gone is replaced there).
DoctorReport RunChecks(const Spec& spec, Journal* journal, bool for_preflight);

// `keyferry doctor`: RunChecks with the state dir's journal opened read-only, when it exists.
DoctorReport RunDoctor(const Spec& spec);

// "cutover.hook": the program the hook starts exists (relative to the spec's directory,
// where the hook runs) and may be executed. Also shown by plan.
DoctorCheck CheckCutoverHook(const Spec& spec);

// The FAIL items of a report as lines for an error message: "<name>: <detail>; <action>".
std::string FailuresText(const DoctorReport& report);

}  // namespace kf::control
