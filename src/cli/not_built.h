// A subcommand whose implementation has not landed yet: it parses no options and exits 2
// with a message naming the issue that builds it, so nobody mistakes it for a result.
#pragma once

#include <cstdio>
#include <string>

#include "cli/cli_app.h"

namespace kf::cli {

inline void RegisterNotBuiltCommand(CLI::App& app, CliState& state, const std::string& verb,
                                    const std::string& description, const std::string& issue) {
  auto* sub = app.add_subcommand(verb, description + " (not built yet: " + issue + ")");
  sub->allow_extras();
  sub->callback([&state, verb, issue] {
    state.run = [verb, issue] {
      std::fprintf(stderr, "keyferry %s is not built yet (%s); nothing was done.\n", verb.c_str(),
                   issue.c_str());
      return kExitError;
    };
  });
}

}  // namespace kf::cli
