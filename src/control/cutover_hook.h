// Running the operator's programs: the cutover hook that points the application at the new
// endpoint (edit a config, flip a DNS record, reload a proxy...), and a program asked
// something before it is used (`valkey-server --version` at PREFLIGHT).
//
// Spec::HookCommand substitutes the {host} {port} {uri} placeholders; RunCutoverHook runs it
// with /bin/sh -c in the spec's directory (relative paths in a hook are relative to the
// spec, like every path in it), bounded by a timeout (the process group is killed on
// timeout), and returns its exit status and combined output (cut to 4 KiB) for the journal.
// The hook runs in a process group of its own, so a Ctrl-C at the terminal does not kill it
// half-way, and it outlives a keyferry that is killed while it runs (a resumed apply then
// runs it again: a hook must be idempotent). SIGPIPE is reset to its default in the child
// (apply ignores it for itself).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace kf::control {

struct ProgramResult {
  int exit_code = -1;  // 128 + signal when killed by one; -1 after a timeout
  bool timed_out = false;
  std::string output;   // stdout and stderr together, at most 4 KiB
  std::string command;  // what ran (the hook after substitution)
  int64_t duration_ms = 0;
};
using HookResult = ProgramResult;

// Runs argv[0] (looked up on PATH when it has no '/') with argv, in `working_dir` when it
// is not empty. An exec failure is exit code 127, a working dir that cannot be entered 126
// (with the reason in the output). Errors only when no process could be started.
Result<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout,
                                 const std::string& working_dir = "");

// The cutover hook: /bin/sh -c `command` in `working_dir` (the spec's directory).
Result<HookResult> RunCutoverHook(const std::string& command, std::chrono::seconds timeout,
                                  const std::string& working_dir);

}  // namespace kf::control
