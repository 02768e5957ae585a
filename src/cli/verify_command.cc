// keyferry verify: compare a source and a target key by key.
#include "cli/cli_app.h"
#include "cli/not_built.h"

namespace kf::cli {

void RegisterVerifyCommand(CLI::App& app, CliState& state) {
  RegisterNotBuiltCommand(app, state, "verify", "compare a source and a target key by key",
                          "issue #5");
}

}  // namespace kf::cli
