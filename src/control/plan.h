// Plan: `keyferry plan -f SPEC` — the change set a migration will make, computed from the
// spec and read-only INFO calls on the source. It changes nothing.
//
// It says what will be provisioned, which migration path is used (the replica link;
// PSYNC), which data needs transcoding for the target's RDB version, what happens to the
// source after cutover, and warns that after CUTOVER the move cannot be undone.
#pragma once

#include <string>

#include "control/spec.h"
#include "nlohmann/json.hpp"

namespace kf::control {

struct Plan {
  nlohmann::json data;  // everything below, structured
  std::string text;     // the same for a person
};

Plan MakePlan(const Spec& spec);

}  // namespace kf::control
