// The cutover hook: the operator's command that points the application at the new
// endpoint (edit a config, flip a DNS record, reload a proxy...).
//
// Spec::HookCommand substitutes the {host} {port} {uri} placeholders; RunCutoverHook runs it with
// /bin/sh -c, bounded by a timeout (the process group is killed on timeout), and returns its exit
// status and combined output (cut to 4 KiB) for the journal. A hook must be idempotent: a resumed
// apply may run it again.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace kf::control {

struct HookResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string output;
  std::string command;  // after substitution
  int64_t duration_ms = 0;
};

Result<HookResult> RunCutoverHook(const std::string& command, std::chrono::seconds timeout);

}  // namespace kf::control
