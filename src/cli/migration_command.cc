// keyferry plan/apply/doctor/abort/rollback: the migration driven by a spec (status and
// events: status_command.cc).
#include "cli/cli_app.h"
#include "cli/not_built.h"

namespace kf::cli {

void RegisterMigrationCommands(CLI::App& app, CliState& state) {
  const char* issue = "issue #6";
  RegisterNotBuiltCommand(app, state, "plan", "show what a migration spec will change", issue);
  RegisterNotBuiltCommand(app, state, "apply", "run the migration a spec describes", issue);
  RegisterNotBuiltCommand(app, state, "doctor", "explain why a migration cannot go on", issue);
}

}  // namespace kf::cli
