// Plan: `keyferry plan -f SPEC` — the change set a migration will make, computed from the
// spec, the journal (read-only) and read-only INFO calls on the source (and an external
// target). It changes nothing.
//
// It says what will be provisioned, which migration path is used (the replica link;
// PSYNC), which data needs transcoding for the target's RDB version, what the cutover hook
// runs (and whether its program exists), what happens to the source after cutover, and
// warns that after CUTOVER the move cannot be undone. When the journal says the migration
// is done, or already under way, it says that instead of planning it again.
#pragma once

#include <string>
#include <vector>

#include "control/spec.h"
#include "nlohmann/json.hpp"

namespace kf::control {

struct Plan {
  nlohmann::json data;  // everything below, structured
  std::string text;     // the same for a person
  // What keeps the plan from being made: the source cannot be read, or the source and an
  // external target are one server (`keyferry plan` exits 2).
  std::vector<std::string> errors;
  // What PREFLIGHT would refuse (the hook's program is missing...; exits 1).
  std::vector<std::string> blockers;
  bool done = false;  // the journal says DONE: nothing to plan
};

Plan MakePlan(const Spec& spec);

}  // namespace kf::control
