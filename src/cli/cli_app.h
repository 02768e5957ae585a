// The keyferry command line: one CLI11 app with a subcommand per verb.
//
// Each subcommand lives in its own <verb>_command.cc and registers itself through
// Register<Verb>Command(app, state). RunCli parses argv, runs the chosen command and
// returns the process exit code: 0 success, 1 differences found / operation refused,
// 2 usage or runtime error (DESIGN.md §7). Exceptions are allowed here (config parsing)
// and are caught in RunCli.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace kf::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;  // differences found, or the operation was refused
inline constexpr int kExitError = 2;    // usage or runtime error

// Set by a subcommand's callback: the code to run once parsing has succeeded.
struct CliState {
  std::function<int()> run;
  std::string log_level = "warn";
};

// Registration hooks; each is defined in its <verb>_command.cc.
void RegisterRdbCommand(CLI::App& app, CliState& state);
void RegisterSyncCommand(CLI::App& app, CliState& state);
void RegisterVerifyCommand(CLI::App& app, CliState& state);
void RegisterRestoreCommand(CLI::App& app, CliState& state);
void RegisterMigrationCommands(CLI::App& app, CliState& state);  // plan/apply/doctor/...
void RegisterStatusCommands(CLI::App& app, CliState& state);     // status/events

int RunCli(int argc, char** argv);

}  // namespace kf::cli
