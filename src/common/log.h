// Logging set-up. keyferry logs through spdlog; this sets the level and the format once
// at start-up (CLI) so that every layer can call spdlog::info/warn/error directly.
#pragma once

#include <string_view>

namespace kf {

// level: "trace", "debug", "info", "warn", "error", "off". Logs go to stderr.
void SetUpLogging(std::string_view level);

}  // namespace kf
