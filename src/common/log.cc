// Logging set-up: stderr sink with a compact time-stamped pattern.
#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace kf {

void SetUpLogging(std::string_view level) {
  // Idempotent: a second call (tests run the CLI several times in one process) reuses it.
  auto logger = spdlog::get("keyferry");
  if (!logger) logger = spdlog::stderr_color_mt("keyferry");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace kf
