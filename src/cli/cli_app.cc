// Builds the CLI11 app, dispatches to the chosen subcommand and maps failures to exit codes.
#include "cli/cli_app.h"

#include <cstdio>
#include <exception>

#include "common/log.h"

namespace kf::cli {

int RunCli(int argc, char** argv) {
  CLI::App app{
      "keyferry moves a live Redis deployment to Valkey: it copies the data as a replica,\n"
      "keeps it in sync, pauses writes for a moment, proves equality and cuts over."};
  app.set_version_flag("--version", std::string("keyferry ") + KF_VERSION);
  app.require_subcommand(1);
  CliState state;
  app.add_option("--log-level", state.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();

  RegisterRdbCommand(app, state);
  RegisterSyncCommand(app, state);
  RegisterVerifyCommand(app, state);
  RegisterRestoreCommand(app, state);
  RegisterMigrationCommands(app, state);
  RegisterStatusCommands(app, state);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitError;
  }
  try {
    SetUpLogging(state.log_level);
    if (!state.run) {
      std::fprintf(stderr, "keyferry: no command chosen; see keyferry --help\n");
      return kExitError;
    }
    return state.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyferry: %s\n", e.what());
    return kExitError;
  }
}

}  // namespace kf::cli
