// keyferry sync: copy a live Redis into Valkey as a replica and keep it in sync.
#include "cli/cli_app.h"
#include "cli/not_built.h"

namespace kf::cli {

void RegisterSyncCommand(CLI::App& app, CliState& state) {
  RegisterNotBuiltCommand(app, state, "sync", "copy a live Redis into Valkey as a replica and keep it in sync", "issue #4");
}

}  // namespace kf::cli
