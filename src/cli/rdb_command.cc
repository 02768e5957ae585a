// keyferry rdb: read, dump and inspect RDB files.
#include "cli/cli_app.h"
#include "cli/not_built.h"

namespace kf::cli {

void RegisterRdbCommand(CLI::App& app, CliState& state) {
  RegisterNotBuiltCommand(app, state, "rdb", "read, dump and inspect RDB files", "issue #3");
}

}  // namespace kf::cli
