// Doctor: `keyferry doctor -f SPEC` — checks that explain why a migration cannot go on,
// each with what to do. Nothing here changes either server's data: permissions are probed
// with ACL DRYRUN, states are read from INFO, a write pause is found with a PUBLISH to a
// channel nobody subscribes to (held by CLIENT PAUSE, changes nothing), the journal is
// opened read-only.
//
// Checks: connectivity and auth of source and target; the ACL permissions each phase
// needs; source/target states that block a step (loading, BGSAVE or AOF rewrite in
// progress, not a primary, replica link down, writes paused); a fixed target port that
// something else already uses; memory headroom on the target for the
// source's dataset; engine/RDB compatibility and data the target cannot hold (hash-field
// TTLs for a Valkey 8 target); drift between the journal and reality (a provisioned
// node that is gone, its port now used by something else, a source that changed role).
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

DoctorReport RunDoctor(const Spec& spec);

}  // namespace kf::control
