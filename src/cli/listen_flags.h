// The observe server's flags, shared by apply, status and sync: where to listen and which
// environment variable holds the access token (docs/observe.md).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "control/spec.h"
#include "observe/http_server.h"

namespace kf::cli {

struct ListenFlags {
  std::string listen;     // --listen (sync: --status-addr)
  std::string token_env;  // --listen-token-env
};

// Adds `flag_name` (e.g. "--listen") and --listen-token-env to a subcommand.
void AddListenFlags(CLI::App* sub, ListenFlags* flags, const std::string& flag_name,
                    const std::string& description);

// What to serve on: the flags, else the spec's observe block (may be null). nullopt when no
// address is given. Errors when the token's variable is named but unset or empty, and
// CheckListenOptions' refusals (a malformed address, a network address without a token).
Result<std::optional<observe::ListenOptions>> ResolveListen(const ListenFlags& flags,
                                                            const control::ObserveSpec* spec);

}  // namespace kf::cli
