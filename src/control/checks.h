// Checks that need no server: the pieces of doctor, plan and PREFLIGHT that decide from a
// spec, a program on disk or a server's INFO text whether the migration can go on.
//
//  - FindProgram: where a program named in the spec is (a path relative to the spec's
//    directory, or a PATH lookup) and whether it can be executed;
//  - HookProgram: the program a cutover hook starts (its first word), so plan, doctor and
//    PREFLIGHT can say "./switch.sh does not exist" before the write pause, not inside it;
//  - ParseVersionOutput / VersionMatches / EngineMismatch: which engine and version a
//    `valkey-server --version` line or an INFO server text names, against the spec's
//    target.engine and target.version.
//
// Doctor (doctor.cc) turns these into its checks; PREFLIGHT runs doctor's checks and refuses
// on any FAIL; plan prints the hook check. Only FindProgram touches the file system.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "control/spec.h"
#include "net/server_info.h"

namespace kf::control {

struct ProgramLookup {
  bool found = false;       // exists as a regular file
  bool executable = false;  // and this user may execute it
  std::string path;         // what was found (absolute), or what was looked for
};

// `name` with a '/' is a path: made absolute against `base_dir` when relative. Without one,
// it is looked up in the directories of $PATH (as execvp does).
ProgramLookup FindProgram(const std::string& name, const std::string& base_dir);

// The first word of a shell command, after leading VAR=value assignments and with simple
// quotes removed: "./switch.sh {uri}" → "./switch.sh". nullopt when the command starts with
// shell syntax whose program keyferry cannot tell (a subshell, a variable, a keyword...).
std::optional<std::string> HookProgram(std::string_view hook);

// Whether the shell runs `word` itself (echo, test, true, ...): nothing to find on disk.
bool IsShellBuiltin(std::string_view word);

// What a server program printed for --version: "Valkey server v=8.0.1 sha=..." →
// {"valkey", "8.0.1"}. nullopt when the text is not a server's version line.
struct ProgramVersion {
  std::string engine;  // lower case: "valkey", "redis"
  std::string version;
};
std::optional<ProgramVersion> ParseVersionOutput(std::string_view output);

// Whether `actual` ("8.0.1") is the version the spec asks for (`wanted`, "8.0" or "8.0.1"):
// every component the spec gives must be equal. An empty `wanted` matches anything.
bool VersionMatches(std::string_view wanted, std::string_view actual);

// Why a server of this engine and version is not the target the spec describes, or ""
// when it is. `what` names it in the sentence ("target.local.valkey_server /usr/bin/x",
// "the external target 10.0.0.7:6379").
std::string EngineMismatch(const Spec& spec, const std::string& what, const std::string& engine,
                           const std::string& version);

}  // namespace kf::control
